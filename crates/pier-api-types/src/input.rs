//! Request bodies the API accepts, and how they become (or change) domain objects.
//!
//! Parsing is strict (unknown fields are refused, like Hookdeck's `additionalProperties:
//! false`); every refusal names the field. Fields that are absent leave a value unchanged;
//! `null` clears it.

use crate::error::FieldError;
use crate::version::ApiVersion;
use pier_core::rules::{self, Rule};
use pier_core::verification::Verification;
use pier_core::{AuthMethod, CustomResponse, Destination, RateLimitPeriod, Source, KNOWN_METHODS};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Absent → `None`; `null` → `Some(None)`; a value → `Some(Some(v))`.
fn some<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "some")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub allowed_http_methods: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "some")]
    pub custom_response: Option<Option<CustomResponse>>,
    #[serde(default, deserialize_with = "some")]
    pub verification: Option<Option<Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "some")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub url: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub cli_path: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub rate_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "some")]
    pub rate_limit_period: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub http_method: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub auth_method: Option<Option<Value>>,
    #[serde(default, deserialize_with = "some")]
    pub path_forwarding_disabled: Option<Option<bool>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    #[serde(default, deserialize_with = "some")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub source_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub destination_id: Option<Option<String>>,
    #[serde(default)]
    pub source: Option<SourceInput>,
    #[serde(default)]
    pub destination: Option<DestinationInput>,
    #[serde(default, deserialize_with = "some")]
    pub rules: Option<Option<Vec<Value>>>,
}

/// `PUT /connections/{id}`: source and destination cannot change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    #[serde(default, deserialize_with = "some")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub rules: Option<Option<Vec<Value>>>,
}

/// `POST /requests/{id}/retry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRetry {
    pub webhook_ids: Vec<String>,
}

/// `POST`/`PUT /transformations`, `PUT /transformations/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformationInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "some")]
    pub env: Option<Option<Map<String, Value>>>,
}

impl TransformationInput {
    /// Apply to `t`; env values must be strings.
    pub fn apply(&self, t: &mut pier_core::Transformation) -> Result<(), FieldError> {
        if let Some(n) = &self.name {
            check_name("name", n)?;
            t.name = n.clone();
        }
        if let Some(c) = &self.code {
            if c.len() > 5 * 1024 * 1024 {
                return Err(FieldError::new("code", "must be at most 5 MB"));
            }
            t.code = c.clone();
        }
        if let Some(env) = &self.env {
            let env = env.clone().unwrap_or_default();
            if let Some((k, _)) = env.iter().find(|(_, v)| !v.is_string()) {
                return Err(FieldError::new(format!("env.{k}"), "must be a string"));
            }
            t.env = env;
        }
        Ok(())
    }
}

/// The sample request of `PUT /transformations/run`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunRequest {
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub parsed_query: Option<Value>,
}

/// `PUT /transformations/run`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformationRun {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub transformation_id: Option<String>,
    #[serde(default)]
    pub env: Option<Map<String, Value>>,
    #[serde(default)]
    pub webhook_id: Option<String>,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub request: Option<RunRequest>,
}

/// Names: letters, digits, `-` and `_`, at most 155 characters.
pub fn check_name(field: &str, name: &str) -> Result<(), FieldError> {
    if name.is_empty() || name.len() > 155 {
        return Err(FieldError::new(field, "must be 1 to 155 characters"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(FieldError::new(field, "may contain only letters, digits, '-' and '_'"));
    }
    Ok(())
}

fn check_description(field: &str, d: &Option<String>) -> Result<(), FieldError> {
    match d {
        Some(d) if d.chars().count() > 500 => Err(FieldError::new(field, "must be at most 500 characters")),
        _ => Ok(()),
    }
}

/// Verification types Hookdeck defines that Pier does not check yet: refused rather than
/// silently accepted unchecked.
const UNSUPPORTED_VERIFICATION_MESSAGE: &str = "this verification type is not supported by Pier yet; use api_key, \
     basic_auth, hmac, stripe, github, shopify, svix (standard_webhooks), gitlab, typeform, woocommerce, zoom, slack, \
     linear, paddle or mailgun";

/// Parse a source's `verification`: `null` or `{}` for none, else `{type, configs}`.
pub fn parse_verification(field: &str, v: &Value) -> Result<Option<Verification>, FieldError> {
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(o) if o.is_empty() => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(FieldError::new(field, "must be an object {type, configs}")),
    };
    for k in obj.keys() {
        if k != "type" && k != "configs" {
            return Err(FieldError::new(format!("{field}.{k}"), "unknown field"));
        }
    }
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new(format!("{field}.type"), "is required"))?
        .to_ascii_lowercase();
    let kind = match kind.as_str() {
        "api_key" | "basic_auth" | "hmac" => kind,
        other => match pier_core::verification::Provider::parse(other) {
            Some(p) => p.as_str().to_string(),
            None => {
                return Err(FieldError::new(
                    format!("{field}.type"),
                    format!("'{kind}': {UNSUPPORTED_VERIFICATION_MESSAGE}"),
                ))
            }
        },
    };
    let configs = obj.get("configs").cloned().unwrap_or(Value::Object(Map::new()));
    let tagged = serde_json::json!({"type": kind, "configs": configs});
    serde_json::from_value::<Verification>(tagged)
        .map(Some)
        .map_err(|e| FieldError::new(format!("{field}.configs"), e.to_string()))
}

fn check_methods(field: &str, methods: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for (i, m) in methods.iter().enumerate() {
        let up = m.to_ascii_uppercase();
        if !KNOWN_METHODS.contains(&up.as_str()) {
            return Err(FieldError::new(format!("{field}[{i}]"), "must be one of GET, POST, PUT, PATCH, DELETE"));
        }
        if !out.contains(&up) {
            out.push(up);
        }
    }
    Ok(out)
}

impl SourceInput {
    /// Apply the given fields to `s` (`prefix` names the object in errors, e.g. `source.`).
    pub fn apply(&self, prefix: &str, s: &mut Source) -> Result<(), FieldError> {
        if let Some(name) = &self.name {
            check_name(&format!("{prefix}name"), name)?;
            s.name = name.clone();
        }
        if let Some(d) = &self.description {
            check_description(&format!("{prefix}description"), d)?;
            s.description = d.clone();
        }
        if let Some(m) = &self.allowed_http_methods {
            s.allowed_http_methods = match m {
                Some(m) => check_methods(&format!("{prefix}allowed_http_methods"), m)?,
                None => pier_core::DEFAULT_ALLOWED_METHODS.iter().map(|m| m.to_string()).collect(),
            };
        }
        if let Some(c) = &self.custom_response {
            if let Some(c) = c {
                if c.body.len() > 1000 {
                    return Err(FieldError::new(
                        format!("{prefix}custom_response.body"),
                        "must be at most 1000 characters",
                    ));
                }
            }
            s.custom_response = c.clone();
        }
        if let Some(v) = &self.verification {
            s.verification = match v {
                Some(v) => parse_verification(&format!("{prefix}verification"), v)?,
                None => None,
            };
        }
        Ok(())
    }

    /// True when the input only names the object (as the seed's `PUT /connections` does).
    pub fn is_name_only(&self) -> bool {
        self.description.is_none()
            && self.allowed_http_methods.is_none()
            && self.custom_response.is_none()
            && self.verification.is_none()
    }
}

/// Destination auth methods Pier knows, with the config fields each requires.
fn auth_required_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "HOOKDECK_SIGNATURE" => &[],
        "BASIC_AUTH" => &["username", "password"],
        "API_KEY" => &["key", "api_key"],
        "BEARER_TOKEN" => &["token"],
        "CUSTOM_SIGNATURE" => &["key"],
        "OAUTH2_CLIENT_CREDENTIALS" => &["client_id", "client_secret", "auth_server"],
        "STANDARD_WEBHOOKS" => &["secret"],
        _ => return None,
    })
}

/// Parse a destination's `auth_method` `{type, config}`.
pub fn parse_auth_method(field: &str, v: &Value) -> Result<AuthMethod, FieldError> {
    let obj = v.as_object().ok_or_else(|| FieldError::new(field, "must be an object {type, config}"))?;
    for k in obj.keys() {
        if k != "type" && k != "config" {
            return Err(FieldError::new(format!("{field}.{k}"), "unknown field"));
        }
    }
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new(format!("{field}.type"), "is required"))?
        .to_ascii_uppercase();
    let required = auth_required_fields(&kind).ok_or_else(|| {
        FieldError::new(
            format!("{field}.type"),
            "must be one of HOOKDECK_SIGNATURE, BASIC_AUTH, API_KEY, BEARER_TOKEN, CUSTOM_SIGNATURE, \
             OAUTH2_CLIENT_CREDENTIALS, STANDARD_WEBHOOKS",
        )
    })?;
    let config = match obj.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(_) => return Err(FieldError::new(format!("{field}.config"), "must be an object")),
    };
    for r in required {
        match config.get(*r) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(FieldError::new(format!("{field}.config.{r}"), "is required and must be a string")),
        }
    }
    if kind == "API_KEY" {
        if let Some(to) = config.get("to") {
            if to != "header" && to != "query" {
                return Err(FieldError::new(format!("{field}.config.to"), "must be header or query"));
            }
        }
    }
    Ok(AuthMethod { kind, config })
}

fn check_url(field: &str, url: &str) -> Result<(), FieldError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(FieldError::new(field, "must be an http:// or https:// URL")),
    }
}

impl DestinationInput {
    pub fn apply(&self, v: ApiVersion, prefix: &str, d: &mut Destination) -> Result<(), FieldError> {
        let f = |name: &str| format!("{prefix}{name}");
        if let Some(name) = &self.name {
            check_name(&f("name"), name)?;
            d.name = name.clone();
        }
        if let Some(x) = &self.description {
            check_description(&f("description"), x)?;
            d.description = x.clone();
        }
        if let Some(url) = &self.url {
            if let Some(u) = url {
                check_url(&f("url"), u)?;
            }
            d.url = url.clone();
        }
        if let Some(p) = &self.cli_path {
            if let Some(p) = p {
                if !p.starts_with('/') || p.len() > 2000 {
                    return Err(FieldError::new(f("cli_path"), "must be a path starting with '/'"));
                }
            }
            d.cli_path = p.clone();
        }
        if let Some(p) = &self.rate_limit_period {
            d.rate_limit_period = match p {
                Some(p) => match RateLimitPeriod::parse(p) {
                    Some(RateLimitPeriod::Concurrent) if v.archived_names() => {
                        return Err(FieldError::new(f("rate_limit_period"), "must be second, minute or hour"))
                    }
                    Some(p) => p,
                    None => {
                        return Err(FieldError::new(
                            f("rate_limit_period"),
                            "must be second, minute, hour or concurrent",
                        ))
                    }
                },
                None => RateLimitPeriod::Second,
            };
        }
        if let Some(r) = &self.rate_limit {
            if let Some(r) = r {
                if *r < 1 {
                    return Err(FieldError::new(f("rate_limit"), "must be a positive integer"));
                }
            }
            d.rate_limit = *r;
        }
        if let Some(m) = &self.http_method {
            d.http_method = match m {
                Some(m) => {
                    let up = m.to_ascii_uppercase();
                    if !KNOWN_METHODS.contains(&up.as_str()) {
                        return Err(FieldError::new(f("http_method"), "must be one of GET, POST, PUT, PATCH, DELETE"));
                    }
                    Some(up)
                }
                None => None,
            };
        }
        if let Some(a) = &self.auth_method {
            d.auth_method = match a {
                Some(a) => parse_auth_method(&f("auth_method"), a)?,
                None => AuthMethod::default(),
            };
        }
        if let Some(p) = &self.path_forwarding_disabled {
            d.path_forwarding_disabled = p.unwrap_or(false);
        }
        Ok(())
    }

    /// A complete destination needs somewhere to deliver.
    pub fn check_complete(prefix: &str, d: &Destination) -> Result<(), FieldError> {
        if d.url.is_none() && d.cli_path.is_none() {
            return Err(FieldError::new(format!("{prefix}url"), "a destination needs a url or a cli_path"));
        }
        Ok(())
    }

    pub fn is_name_only(&self) -> bool {
        self.description.is_none()
            && self.url.is_none()
            && self.cli_path.is_none()
            && self.rate_limit.is_none()
            && self.rate_limit_period.is_none()
            && self.http_method.is_none()
            && self.auth_method.is_none()
            && self.path_forwarding_disabled.is_none()
    }
}

/// Parse and validate a connection's `rules`.
pub fn parse_rules(values: &[Value]) -> Result<Vec<Rule>, FieldError> {
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let rule: Rule =
            serde_json::from_value(v.clone()).map_err(|e| FieldError::new(format!("rules[{i}]"), e.to_string()))?;
        out.push(rule);
    }
    rules::validate(&out).map_err(|e| FieldError::new(e.path, e.message))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blank_source() -> Source {
        Source {
            id: "src_1".into(),
            project_id: "tm_1".into(),
            name: String::new(),
            key: "k".into(),
            description: None,
            allowed_http_methods: vec![],
            custom_response: None,
            verification: None,
            disabled_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn seed_source_parses() {
        let input: SourceInput = serde_json::from_value(json!({
            "name": "inbound-api",
            "verification": {"type": "api_key", "configs": {"header_key": "X-API-KEY", "api_key": "k"}}
        }))
        .unwrap();
        let mut s = blank_source();
        input.apply("source.", &mut s).unwrap();
        assert_eq!(s.name, "inbound-api");
        assert_eq!(s.verification.unwrap().type_name(), "api_key");
    }

    #[test]
    fn verification_types_in_upper_case_and_errors_name_fields() {
        assert!(parse_verification("v", &json!({"type": "BASIC_AUTH", "configs": {"username": "u", "password": "p"}}))
            .is_ok());
        assert_eq!(parse_verification("v", &json!({})).unwrap(), None);
        assert_eq!(parse_verification("v", &json!({"type": "twilio"})).unwrap_err().field, "v.type");
        assert_eq!(parse_verification("v", &json!({"type": "stripe"})).unwrap_err().field, "v.configs");
        let stripe = json!({"type": "STRIPE", "configs": {"webhook_secret_key": "whsec_1"}});
        assert_eq!(parse_verification("v", &stripe).unwrap().unwrap().type_name(), "stripe");
        let std = json!({"type": "standard_webhooks", "configs": {"webhook_secret_key": "whsec_MTIz"}});
        assert_eq!(parse_verification("v", &std).unwrap().unwrap().type_name(), "svix");
        assert_eq!(parse_verification("v", &json!({"type": "api_key", "configs": {}})).unwrap_err().field, "v.configs");
        assert_eq!(parse_verification("v", &json!({"type": "hmac", "x": 1})).unwrap_err().field, "v.x");
        assert_eq!(parse_verification("v", &json!(3)).unwrap_err().field, "v");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(serde_json::from_value::<SourceInput>(json!({"name": "a", "colour": "red"})).is_err());
        let mut s = blank_source();
        let bad = SourceInput { name: Some("has space".into()), ..Default::default() };
        assert_eq!(bad.apply("", &mut s).unwrap_err().field, "name");
        let bad = SourceInput { allowed_http_methods: Some(Some(vec!["TRACE".into()])), ..Default::default() };
        assert_eq!(bad.apply("", &mut s).unwrap_err().field, "allowed_http_methods[0]");
    }

    #[test]
    fn auth_methods_validate_required_config() {
        assert_eq!(parse_auth_method("a", &json!({"type": "hookdeck_signature"})).unwrap().kind, "HOOKDECK_SIGNATURE");
        assert_eq!(
            parse_auth_method("a", &json!({"type": "BASIC_AUTH", "config": {"username": "u"}})).unwrap_err().field,
            "a.config.password"
        );
        assert_eq!(parse_auth_method("a", &json!({"type": "MAGIC"})).unwrap_err().field, "a.type");
        assert_eq!(
            parse_auth_method("a", &json!({"type": "API_KEY", "config": {"key": "k", "api_key": "v", "to": "body"}}))
                .unwrap_err()
                .field,
            "a.config.to"
        );
    }

    #[test]
    fn urls_must_be_http() {
        assert!(check_url("u", "https://mock.hookdeck.com").is_ok());
        assert!(check_url("u", "http://127.0.0.1:3030/x").is_ok());
        for bad in ["ftp://x", "http://", "mock.hookdeck.com", "http:// x", "https:///path"] {
            assert!(check_url("u", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_parse_with_paths() {
        assert_eq!(parse_rules(&[json!({"type": "delay", "delay": 10})]).unwrap().len(), 1);
        assert_eq!(parse_rules(&[json!({"type": "bogus"})]).unwrap_err().field, "rules[0]");
        assert_eq!(parse_rules(&[json!({"type": "delay", "delay": -1})]).unwrap_err().field, "rules[0].delay");
    }
}

/// `POST /bookmarks` (all of `event_data_id`, `webhook_id`, `label` required) and
/// `PUT /bookmarks/{id}` (any of them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookmarkInput {
    #[serde(default)]
    pub event_data_id: Option<String>,
    #[serde(default)]
    pub webhook_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "some")]
    pub name: Option<Option<String>>,
}

impl BookmarkInput {
    /// Check the fields given; on create, the three required ones must all be there.
    pub fn check(&self, create: bool) -> Result<(), FieldError> {
        if create {
            for (field, v) in
                [("event_data_id", &self.event_data_id), ("webhook_id", &self.webhook_id), ("label", &self.label)]
            {
                if v.is_none() {
                    return Err(FieldError::new(field, "is required"));
                }
            }
        }
        for (field, v) in
            [("event_data_id", &self.event_data_id), ("webhook_id", &self.webhook_id), ("label", &self.label)]
        {
            if let Some(v) = v {
                if v.trim().is_empty() || v.len() > 255 {
                    return Err(FieldError::new(field, "must be 1 to 255 characters"));
                }
            }
        }
        if let Some(Some(n)) = &self.name {
            check_name("name", n)?;
        }
        Ok(())
    }
}

/// `POST /bookmarks/{id}/trigger`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookmarkTrigger {
    #[serde(default)]
    pub target: Option<String>,
}

/// `POST /bulk/events/retry`: the events to retry, in the filters of `GET /events`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRetry {
    #[serde(default)]
    pub query: Option<Map<String, Value>>,
}
