//! Source verification: does an inbound request carry the credentials its source asks for?
//!
//! Every comparison of a secret is made in constant time (on SHA-256 digests, so neither the
//! content nor the length of the secret leaks through timing).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use crate::providers::{Provider, ProviderSecret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacEncoding {
    Base64,
    Base64url,
    Hex,
}

/// A source's verification, with its secrets. The API never shows the configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "configs", rename_all = "snake_case")]
pub enum Verification {
    ApiKey {
        header_key: String,
        api_key: String,
    },
    BasicAuth {
        #[serde(alias = "name")]
        username: String,
        password: String,
    },
    Hmac {
        webhook_secret_key: String,
        #[serde(default = "default_algorithm")]
        algorithm: HmacAlgorithm,
        header_key: String,
        #[serde(default = "default_encoding")]
        encoding: HmacEncoding,
    },
    Stripe(ProviderSecret),
    Github(ProviderSecret),
    Shopify(ProviderSecret),
    Svix(ProviderSecret),
    Gitlab(ProviderSecret),
    Typeform(ProviderSecret),
    Woocommerce(ProviderSecret),
    Zoom(ProviderSecret),
    Slack(ProviderSecret),
    Linear(ProviderSecret),
    Paddle(ProviderSecret),
    Mailgun(ProviderSecret),
}

fn default_algorithm() -> HmacAlgorithm {
    HmacAlgorithm::Sha256
}
fn default_encoding() -> HmacEncoding {
    HmacEncoding::Base64
}

impl Verification {
    /// The type name as the API shows it (`api_key`, `basic_auth`, `hmac`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Verification::ApiKey { .. } => "api_key",
            Verification::BasicAuth { .. } => "basic_auth",
            Verification::Hmac { .. } => "hmac",
            other => other.preset().map_or("hmac", |(p, _)| p.as_str()),
        }
    }

    /// A provider preset and its secret.
    fn preset(&self) -> Option<(Provider, &str)> {
        let (p, s) = match self {
            Verification::Stripe(s) => (Provider::Stripe, s),
            Verification::Github(s) => (Provider::Github, s),
            Verification::Shopify(s) => (Provider::Shopify, s),
            Verification::Svix(s) => (Provider::Svix, s),
            Verification::Gitlab(s) => (Provider::Gitlab, s),
            Verification::Typeform(s) => (Provider::Typeform, s),
            Verification::Woocommerce(s) => (Provider::Woocommerce, s),
            Verification::Zoom(s) => (Provider::Zoom, s),
            Verification::Slack(s) => (Provider::Slack, s),
            Verification::Linear(s) => (Provider::Linear, s),
            Verification::Paddle(s) => (Provider::Paddle, s),
            Verification::Mailgun(s) => (Provider::Mailgun, s),
            _ => return None,
        };
        Some((p, s.webhook_secret_key.as_str()))
    }
}

/// Why a request failed verification (logged; never tells the sender more than "failed").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing")]
    MissingHeader(String),
    #[error("the credentials do not match")]
    Mismatch,
    #[error("the authorization header is not valid basic auth")]
    MalformedBasicAuth,
}

/// Compare two secrets in constant time (independent of content and length).
pub fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    da.ct_eq(&db).into()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Check `headers` (name, value pairs) and the raw `body` against `v`; `now_secs` is the
/// current Unix time (for providers that sign a timestamp).
pub fn verify(v: &Verification, headers: &[(String, String)], body: &[u8], now_secs: i64) -> Result<(), VerifyError> {
    if let Some((provider, secret)) = v.preset() {
        return provider.verify(secret, headers, body, now_secs);
    }
    match v {
        Verification::ApiKey { header_key, api_key } => {
            let got = header(headers, header_key).ok_or_else(|| VerifyError::MissingHeader(header_key.clone()))?;
            ok_if(secure_eq(got.trim().as_bytes(), api_key.as_bytes()))
        }
        Verification::BasicAuth { username, password } => {
            let got =
                header(headers, "authorization").ok_or_else(|| VerifyError::MissingHeader("authorization".into()))?;
            let (scheme, rest) = got.trim().split_once(' ').ok_or(VerifyError::MalformedBasicAuth)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(VerifyError::MalformedBasicAuth);
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| VerifyError::MalformedBasicAuth)?;
            let split = decoded.iter().position(|b| *b == b':').ok_or(VerifyError::MalformedBasicAuth)?;
            let (u, p) = (&decoded[..split], &decoded[split + 1..]);
            // Evaluate both comparisons so timing does not reveal which part was wrong.
            let user_ok = secure_eq(u, username.as_bytes());
            let pass_ok = secure_eq(p, password.as_bytes());
            ok_if(user_ok & pass_ok)
        }
        Verification::Hmac { webhook_secret_key, algorithm, header_key, encoding } => {
            let got = header(headers, header_key).ok_or_else(|| VerifyError::MissingHeader(header_key.clone()))?;
            let expected = hmac_signature(*algorithm, *encoding, webhook_secret_key.as_bytes(), body);
            ok_if(secure_eq(got.trim().as_bytes(), expected.as_bytes()))
        }
        _ => Err(VerifyError::Mismatch),
    }
}

fn ok_if(ok: bool) -> Result<(), VerifyError> {
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The HMAC of `body` with `secret`, encoded as asked.
pub fn hmac_signature(alg: HmacAlgorithm, enc: HmacEncoding, secret: &[u8], body: &[u8]) -> String {
    let raw = match alg {
        HmacAlgorithm::Md5 => mac::<Hmac<md5::Md5>>(secret, body),
        HmacAlgorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(secret, body),
        HmacAlgorithm::Sha256 => mac::<Hmac<Sha256>>(secret, body),
        HmacAlgorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(secret, body),
    };
    match enc {
        HmacEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(raw),
        HmacEncoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        HmacEncoding::Hex => hex::encode(raw),
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    match <M as Mac>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn api_key_matches_case_insensitive_header() {
        let v: Verification =
            serde_json::from_value(json!({"type": "api_key", "configs": {"header_key": "X-API-KEY", "api_key": "k1"}}))
                .unwrap();
        assert_eq!(verify(&v, &h(&[("x-api-key", "k1")]), b"", 0), Ok(()));
        assert_eq!(verify(&v, &h(&[("x-api-key", "k2")]), b"", 0), Err(VerifyError::Mismatch));
        assert_eq!(verify(&v, &h(&[("x-api-key", "k")]), b"", 0), Err(VerifyError::Mismatch));
        assert_eq!(verify(&v, &h(&[]), b"", 0), Err(VerifyError::MissingHeader("X-API-KEY".into())));
    }

    #[test]
    fn basic_auth_accepts_name_alias_and_checks_both_parts() {
        let v: Verification =
            serde_json::from_value(json!({"type": "basic_auth", "configs": {"name": "u", "password": "p:w"}})).unwrap();
        let enc = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert_eq!(verify(&v, &h(&[("authorization", &enc("u:p:w"))]), b"", 0), Ok(()));
        assert_eq!(verify(&v, &h(&[("authorization", &enc("u:p"))]), b"", 0), Err(VerifyError::Mismatch));
        assert_eq!(verify(&v, &h(&[("authorization", &enc("x:p:w"))]), b"", 0), Err(VerifyError::Mismatch));
        assert_eq!(verify(&v, &h(&[("authorization", "Bearer x")]), b"", 0), Err(VerifyError::MalformedBasicAuth));
        assert_eq!(verify(&v, &h(&[("authorization", "Basic !!!")]), b"", 0), Err(VerifyError::MalformedBasicAuth));
    }

    #[test]
    fn hmac_known_vectors() {
        // RFC 4231 test case 2 (key "Jefe").
        let body = b"what do ya want for nothing?";
        assert_eq!(
            hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Hex, b"Jefe", body),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_signature(HmacAlgorithm::Md5, HmacEncoding::Hex, b"Jefe", body),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hmac_signature(HmacAlgorithm::Sha1, HmacEncoding::Hex, b"Jefe", body),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert!(hmac_signature(HmacAlgorithm::Sha512, HmacEncoding::Hex, b"Jefe", body).starts_with("164b7a7bfcf819e2"));
    }

    #[test]
    fn hmac_verification_per_encoding() {
        for enc in [HmacEncoding::Base64, HmacEncoding::Base64url, HmacEncoding::Hex] {
            let v = Verification::Hmac {
                webhook_secret_key: "s3cret".into(),
                algorithm: HmacAlgorithm::Sha256,
                header_key: "x-sig".into(),
                encoding: enc,
            };
            let sig = hmac_signature(HmacAlgorithm::Sha256, enc, b"s3cret", b"{\"a\":1}");
            assert_eq!(verify(&v, &h(&[("X-Sig", &sig)]), b"{\"a\":1}", 0), Ok(()));
            assert_eq!(verify(&v, &h(&[("X-Sig", &sig)]), b"{\"a\":2}", 0), Err(VerifyError::Mismatch));
        }
    }

    #[test]
    fn secure_eq_is_plain_equality() {
        assert!(secure_eq(b"abc", b"abc"));
        assert!(!secure_eq(b"abc", b"abd"));
        assert!(!secure_eq(b"abc", b"abcd"));
        assert!(secure_eq(b"", b""));
    }
}
