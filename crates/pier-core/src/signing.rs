//! Signatures on deliveries: Hookdeck's `x-hookdeck-signature`, Standard Webhooks
//! (standardwebhooks.com) and custom HMAC signatures.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// `x-hookdeck-signature`: base64(HMAC-SHA256(secret, body)).
pub fn hookdeck_signature(secret: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// Standard Webhooks `webhook-signature` value: `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")),
/// where the key is the base64 part of `whsec_…` (or the raw secret when it is not base64).
pub fn standard_webhooks_signature(secret: &str, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_else(|_| raw.as_bytes().to_vec());
    let ts = timestamp_secs.to_string();
    let mac = hmac_sha256(&key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hookdeck_signature_is_base64_hmac_sha256() {
        // Independent vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let sig = hookdeck_signature("key", b"The quick brown fox jumps over the lazy dog");
        let hex = hex::encode(base64::engine::general_purpose::STANDARD.decode(sig).unwrap());
        assert_eq!(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    }

    #[test]
    fn standard_webhooks_published_example() {
        // The example from the Standard Webhooks specification.
        let sig = standard_webhooks_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
