//! Provider verification presets: each checks a request exactly as the provider documents its
//! signature, with the provider's timestamp tolerance where it has one. Pure: the caller gives
//! the current time.

use crate::verification::{hmac_signature, secure_eq, HmacAlgorithm, HmacEncoding, VerifyError};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// A provider preset's configs: the signing secret the provider gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSecret {
    pub webhook_secret_key: String,
}

/// The providers Pier checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `Stripe-Signature: t=…,v1=…`: HMAC-SHA256 hex of `{t}.{body}`, 5 minutes of tolerance.
    Stripe,
    /// `X-Hub-Signature-256: sha256=…`: HMAC-SHA256 hex of the body.
    Github,
    /// `X-Shopify-Hmac-Sha256`: HMAC-SHA256 base64 of the body.
    Shopify,
    /// Svix / Standard Webhooks: `svix-id|webhook-id`, `…-timestamp`, `…-signature: v1,…`;
    /// HMAC-SHA256 base64 of `{id}.{timestamp}.{body}` with the base64 key after `whsec_`,
    /// 5 minutes of tolerance.
    Svix,
    /// `X-Gitlab-Token`: the secret token itself.
    Gitlab,
    /// `Typeform-Signature: sha256=…`: HMAC-SHA256 base64 of the body.
    Typeform,
    /// `X-WC-Webhook-Signature`: HMAC-SHA256 base64 of the body.
    Woocommerce,
    /// `x-zm-signature: v0=…` and `x-zm-request-timestamp`: HMAC-SHA256 hex of `v0:{ts}:{body}`.
    Zoom,
    /// `X-Slack-Signature: v0=…`, `X-Slack-Request-Timestamp`: HMAC-SHA256 hex of
    /// `v0:{ts}:{body}`, 5 minutes of tolerance.
    Slack,
    /// `Linear-Signature`: HMAC-SHA256 hex of the body.
    Linear,
    /// `Paddle-Signature: ts=…;h1=…`: HMAC-SHA256 hex of `{ts}:{body}`, 5 minutes of tolerance.
    Paddle,
    /// Mailgun: `signature: {timestamp, token, signature}` in the JSON body: HMAC-SHA256 hex of
    /// `{timestamp}{token}`, 5 minutes of tolerance.
    Mailgun,
}

/// Seconds a signed timestamp may differ from now.
const TOLERANCE_SECS: i64 = 300;

impl Provider {
    pub const ALL: [Provider; 12] = [
        Provider::Stripe,
        Provider::Github,
        Provider::Shopify,
        Provider::Svix,
        Provider::Gitlab,
        Provider::Typeform,
        Provider::Woocommerce,
        Provider::Zoom,
        Provider::Slack,
        Provider::Linear,
        Provider::Paddle,
        Provider::Mailgun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::Shopify => "shopify",
            Provider::Svix => "svix",
            Provider::Gitlab => "gitlab",
            Provider::Typeform => "typeform",
            Provider::Woocommerce => "woocommerce",
            Provider::Zoom => "zoom",
            Provider::Slack => "slack",
            Provider::Linear => "linear",
            Provider::Paddle => "paddle",
            Provider::Mailgun => "mailgun",
        }
    }

    /// By the API's type name (`standard_webhooks` is Svix's scheme).
    pub fn parse(s: &str) -> Option<Provider> {
        let s = s.to_ascii_lowercase();
        if s == "standard_webhooks" {
            return Some(Provider::Svix);
        }
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Check a request signed by this provider with `secret`, at `now_secs`.
    pub fn verify(
        self,
        secret: &str,
        headers: &[(String, String)],
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), VerifyError> {
        let hex_of = |msg: &[u8]| hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Hex, secret.as_bytes(), msg);
        let b64_of = |msg: &[u8]| hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Base64, secret.as_bytes(), msg);
        match self {
            Provider::Github => {
                let got = need(headers, "x-hub-signature-256")?;
                let sig = got.strip_prefix("sha256=").ok_or(VerifyError::Mismatch)?;
                ok_if(secure_eq(sig.as_bytes(), hex_of(body).as_bytes()))
            }
            Provider::Shopify => {
                ok_if(secure_eq(need(headers, "x-shopify-hmac-sha256")?.as_bytes(), b64_of(body).as_bytes()))
            }
            Provider::Woocommerce => {
                ok_if(secure_eq(need(headers, "x-wc-webhook-signature")?.as_bytes(), b64_of(body).as_bytes()))
            }
            Provider::Typeform => {
                let got = need(headers, "typeform-signature")?;
                let sig = got.strip_prefix("sha256=").ok_or(VerifyError::Mismatch)?;
                ok_if(secure_eq(sig.as_bytes(), b64_of(body).as_bytes()))
            }
            Provider::Linear => {
                ok_if(secure_eq(need(headers, "linear-signature")?.as_bytes(), hex_of(body).as_bytes()))
            }
            Provider::Gitlab => ok_if(secure_eq(need(headers, "x-gitlab-token")?.as_bytes(), secret.as_bytes())),
            Provider::Stripe => {
                let got = need(headers, "stripe-signature")?;
                let mut ts = None;
                let mut sigs = Vec::new();
                for part in got.split(',') {
                    match part.trim().split_once('=') {
                        Some(("t", v)) => ts = v.parse::<i64>().ok(),
                        Some(("v1", v)) => sigs.push(v),
                        _ => {}
                    }
                }
                let ts = ts.ok_or(VerifyError::Mismatch)?;
                fresh(ts, now_secs)?;
                let expected = hex_of(&signed(&[ts.to_string().as_bytes(), b".", body]));
                any_match(&sigs, &expected)
            }
            Provider::Slack => {
                let ts = need(headers, "x-slack-request-timestamp")?;
                fresh(ts.parse().map_err(|_| VerifyError::Mismatch)?, now_secs)?;
                let got = need(headers, "x-slack-signature")?;
                let expected = format!("v0={}", hex_of(&signed(&[b"v0:", ts.as_bytes(), b":", body])));
                ok_if(secure_eq(got.as_bytes(), expected.as_bytes()))
            }
            Provider::Zoom => {
                let ts = need(headers, "x-zm-request-timestamp")?;
                fresh(ts.parse().map_err(|_| VerifyError::Mismatch)?, now_secs)?;
                let got = need(headers, "x-zm-signature")?;
                let expected = format!("v0={}", hex_of(&signed(&[b"v0:", ts.as_bytes(), b":", body])));
                ok_if(secure_eq(got.as_bytes(), expected.as_bytes()))
            }
            Provider::Paddle => {
                let got = need(headers, "paddle-signature")?;
                let mut ts = None;
                let mut sigs = Vec::new();
                for part in got.split(';') {
                    match part.trim().split_once('=') {
                        Some(("ts", v)) => ts = Some(v),
                        Some(("h1", v)) => sigs.push(v),
                        _ => {}
                    }
                }
                let ts = ts.ok_or(VerifyError::Mismatch)?;
                fresh(ts.parse().map_err(|_| VerifyError::Mismatch)?, now_secs)?;
                any_match(&sigs, &hex_of(&signed(&[ts.as_bytes(), b":", body])))
            }
            Provider::Svix => {
                let (id, ts, sig) = match need(headers, "svix-id") {
                    Ok(id) => (id, need(headers, "svix-timestamp")?, need(headers, "svix-signature")?),
                    Err(_) => (
                        need(headers, "webhook-id")?,
                        need(headers, "webhook-timestamp")?,
                        need(headers, "webhook-signature")?,
                    ),
                };
                fresh(ts.parse().map_err(|_| VerifyError::Mismatch)?, now_secs)?;
                let key = secret.strip_prefix("whsec_").unwrap_or(secret);
                let key = base64::engine::general_purpose::STANDARD.decode(key).map_err(|_| VerifyError::Mismatch)?;
                let msg = signed(&[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
                let expected = hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Base64, &key, &msg);
                let sigs: Vec<&str> = sig.split(' ').filter_map(|s| s.strip_prefix("v1,")).collect();
                any_match(&sigs, &expected)
            }
            Provider::Mailgun => {
                let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| VerifyError::Mismatch)?;
                let s = &v["signature"];
                let ts = s["timestamp"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| s["timestamp"].as_i64().map(|n| n.to_string()));
                let (Some(ts), Some(token), Some(sig)) = (ts, s["token"].as_str(), s["signature"].as_str()) else {
                    return Err(VerifyError::Mismatch);
                };
                fresh(ts.parse().map_err(|_| VerifyError::Mismatch)?, now_secs)?;
                ok_if(secure_eq(sig.as_bytes(), hex_of(&signed(&[ts.as_bytes(), token.as_bytes()])).as_bytes()))
            }
        }
    }
}

fn signed(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn need<'a>(headers: &'a [(String, String)], name: &str) -> Result<&'a str, VerifyError> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .ok_or_else(|| VerifyError::MissingHeader(name.to_string()))
}

fn fresh(ts: i64, now_secs: i64) -> Result<(), VerifyError> {
    ok_if((now_secs - ts).abs() <= TOLERANCE_SECS)
}

fn any_match(sigs: &[&str], expected: &str) -> Result<(), VerifyError> {
    // Check every candidate, so timing does not tell which one matched.
    let mut ok = false;
    for s in sigs {
        ok |= secure_eq(s.as_bytes(), expected.as_bytes());
    }
    ok_if(ok)
}

fn ok_if(ok: bool) -> Result<(), VerifyError> {
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
    fn hex256(key: &[u8], msg: &[u8]) -> String {
        hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Hex, key, msg)
    }
    fn b64256(key: &[u8], msg: &[u8]) -> String {
        hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Base64, key, msg)
    }
    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn github_known_vector() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let headers = h(&[("X-Hub-Signature-256", sig)]);
        assert_eq!(Provider::Github.verify("It's a Secret to Everybody", &headers, b"Hello, World!", NOW), Ok(()));
        assert_eq!(Provider::Github.verify("wrong", &headers, b"Hello, World!", NOW), Err(VerifyError::Mismatch));
        assert!(matches!(Provider::Github.verify("s", &h(&[]), b"", NOW), Err(VerifyError::MissingHeader(_))));
    }

    #[test]
    fn stripe_signatures_and_tolerance() {
        let secret = "whsec_test";
        let sig = hex256(secret.as_bytes(), &[format!("{NOW}.").as_bytes(), BODY].concat());
        let header = format!("t={NOW},v1=deadbeef,v1={sig}");
        let headers = h(&[("stripe-signature", header.as_str())]);
        assert_eq!(Provider::Stripe.verify(secret, &headers, BODY, NOW + 10), Ok(()));
        assert_eq!(Provider::Stripe.verify(secret, &headers, BODY, NOW + 301), Err(VerifyError::Mismatch), "too old");
        assert_eq!(Provider::Stripe.verify(secret, &headers, b"{}", NOW), Err(VerifyError::Mismatch));
    }

    #[test]
    fn svix_and_standard_webhooks() {
        let key = b"0123456789abcdef0123456789abcdef";
        let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key));
        let sig = b64256(key, &[format!("msg_1.{NOW}.").as_bytes(), BODY].concat());
        let header = format!("v1,bogus v1,{sig}");
        let svix = h(&[("svix-id", "msg_1"), ("svix-timestamp", &NOW.to_string()), ("svix-signature", &header)]);
        assert_eq!(Provider::Svix.verify(&secret, &svix, BODY, NOW), Ok(()));
        let std =
            h(&[("webhook-id", "msg_1"), ("webhook-timestamp", &NOW.to_string()), ("webhook-signature", &header)]);
        assert_eq!(Provider::Svix.verify(&secret, &std, BODY, NOW), Ok(()));
        assert_eq!(Provider::Svix.verify(&secret, &std, BODY, NOW + 1000), Err(VerifyError::Mismatch));
        assert_eq!(Provider::parse("STANDARD_WEBHOOKS"), Some(Provider::Svix));
    }

    #[test]
    fn body_hmac_providers() {
        let s = "shh";
        let b64 = b64256(s.as_bytes(), BODY);
        let hex = hex256(s.as_bytes(), BODY);
        assert_eq!(Provider::Shopify.verify(s, &h(&[("x-shopify-hmac-sha256", &b64)]), BODY, NOW), Ok(()));
        assert_eq!(Provider::Woocommerce.verify(s, &h(&[("x-wc-webhook-signature", &b64)]), BODY, NOW), Ok(()));
        let tf = format!("sha256={b64}");
        assert_eq!(Provider::Typeform.verify(s, &h(&[("typeform-signature", &tf)]), BODY, NOW), Ok(()));
        assert_eq!(Provider::Linear.verify(s, &h(&[("linear-signature", &hex)]), BODY, NOW), Ok(()));
        assert_eq!(
            Provider::Linear.verify(s, &h(&[("linear-signature", &hex)]), b"x", NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(Provider::Gitlab.verify(s, &h(&[("x-gitlab-token", "shh")]), BODY, NOW), Ok(()));
        assert_eq!(Provider::Gitlab.verify(s, &h(&[("x-gitlab-token", "no")]), BODY, NOW), Err(VerifyError::Mismatch));
    }

    #[test]
    fn timestamped_providers() {
        let s = "shh";
        let ts = NOW.to_string();
        let v0 = format!("v0={}", hex256(s.as_bytes(), &[format!("v0:{ts}:").as_bytes(), BODY].concat()));
        let slack = h(&[("x-slack-request-timestamp", &ts), ("x-slack-signature", &v0)]);
        assert_eq!(Provider::Slack.verify(s, &slack, BODY, NOW), Ok(()));
        assert_eq!(Provider::Slack.verify(s, &slack, BODY, NOW + 600), Err(VerifyError::Mismatch));
        let zoom = h(&[("x-zm-request-timestamp", &ts), ("x-zm-signature", &v0)]);
        assert_eq!(Provider::Zoom.verify(s, &zoom, BODY, NOW), Ok(()));
        let h1 = hex256(s.as_bytes(), &[format!("{ts}:").as_bytes(), BODY].concat());
        let paddle = h(&[("paddle-signature", &format!("ts={ts};h1={h1}"))]);
        assert_eq!(Provider::Paddle.verify(s, &paddle, BODY, NOW), Ok(()));
        let sig = hex256(s.as_bytes(), format!("{ts}tok").as_bytes());
        let mailgun =
            format!(r#"{{"signature":{{"timestamp":"{ts}","token":"tok","signature":"{sig}"}},"event-data":{{}}}}"#);
        assert_eq!(Provider::Mailgun.verify(s, &[], mailgun.as_bytes(), NOW), Ok(()));
        assert_eq!(Provider::Mailgun.verify("other", &[], mailgun.as_bytes(), NOW), Err(VerifyError::Mismatch));
    }
}
