//! Connection rules as Pier stores them. Their evaluation lives beside them as it is built
//! (filters, transforms, deduplication arrive with the rules engine).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryStrategy {
    Linear,
    Exponential,
}

/// An inline transformation in a transform rule (creates a `trs_` object when saved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineTransformation {
    pub name: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<serde_json::Map<String, Value>>,
}

/// One rule of a connection, in its array order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Rule {
    Retry {
        strategy: RetryStrategy,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_status_codes: Option<Vec<String>>,
    },
    Filter {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        headers: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<Value>,
    },
    Transform {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transformation_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transformation: Option<InlineTransformation>,
    },
    Delay {
        delay: i64,
    },
    Deduplicate {
        window: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        include_fields: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exclude_fields: Option<Vec<String>>,
    },
}

/// A rule that cannot be saved, with the JSON pointer-ish path of the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

fn err(index: usize, field: &str, message: impl Into<String>) -> RuleError {
    RuleError { path: format!("rules[{index}].{field}"), message: message.into() }
}

/// Check the values of parsed rules (ranges, at most one rule of each kind but filters).
pub fn validate(rules: &[Rule]) -> Result<(), RuleError> {
    let mut seen_retry = false;
    let mut seen_delay = false;
    for (i, rule) in rules.iter().enumerate() {
        match rule {
            Rule::Retry { count, interval, response_status_codes, .. } => {
                if std::mem::replace(&mut seen_retry, true) {
                    return Err(err(i, "type", "only one retry rule is allowed"));
                }
                if let Some(c) = count {
                    if !(0..=50).contains(c) {
                        return Err(err(i, "count", "must be between 0 and 50"));
                    }
                }
                if let Some(iv) = interval {
                    if *iv < 1 {
                        return Err(err(i, "interval", "must be a positive number of milliseconds"));
                    }
                }
                for (j, code) in response_status_codes.iter().flatten().enumerate() {
                    if !status_code_pattern_is_valid(code) {
                        return Err(err(
                            i,
                            &format!("response_status_codes[{j}]"),
                            format!(
                                "'{code}' is not a status code, range (500-599), comparison (>400) or negation (!401)"
                            ),
                        ));
                    }
                }
            }
            Rule::Delay { delay } => {
                if std::mem::replace(&mut seen_delay, true) {
                    return Err(err(i, "type", "only one delay rule is allowed"));
                }
                if !(1..=86_400_000).contains(delay) {
                    return Err(err(i, "delay", "must be between 1 and 86400000 milliseconds"));
                }
            }
            Rule::Deduplicate { window, .. } => {
                if !(1_000..=3_600_000).contains(window) {
                    return Err(err(i, "window", "must be between 1000 and 3600000 milliseconds"));
                }
            }
            Rule::Transform { transformation_id, transformation } => {
                if transformation_id.is_none() && transformation.is_none() {
                    return Err(err(
                        i,
                        "transformation_id",
                        "a transform rule needs transformation_id or transformation",
                    ));
                }
            }
            Rule::Filter { headers, body, query, path } => {
                if headers.is_none() && body.is_none() && query.is_none() && path.is_none() {
                    return Err(err(i, "body", "a filter rule needs at least one of headers, body, query, path"));
                }
            }
        }
    }
    Ok(())
}

/// `"500"`, `"500-599"`, `">400"`, `">=400"`, `"<300"`, `"!401"`.
pub fn status_code_pattern_is_valid(p: &str) -> bool {
    let code = |s: &str| s.len() == 3 && s.parse::<u16>().is_ok_and(|c| (100..=599).contains(&c));
    let p = p.trim();
    if let Some((a, b)) = p.split_once('-') {
        return code(a) && code(b) && a <= b;
    }
    for prefix in [">=", "<=", ">", "<", "!"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            return code(rest);
        }
    }
    code(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_parse_from_hookdeck_shapes() {
        let rules: Vec<Rule> = serde_json::from_value(json!([
            {"type": "retry", "strategy": "linear", "count": 5, "interval": 60000, "response_status_codes": ["500-599", "!401"]},
            {"type": "filter", "body": {"event_type": {"$in": ["a", "b"]}}},
            {"type": "delay", "delay": 1000},
            {"type": "deduplicate", "window": 5000, "include_fields": ["body.id"]},
            {"type": "transform", "transformation_id": "trs_x"}
        ]))
        .unwrap();
        assert_eq!(rules.len(), 5);
        validate(&rules).unwrap();
        let back = serde_json::to_value(&rules[0]).unwrap();
        assert_eq!(back["type"], "retry");
        assert_eq!(back["count"], 5);
    }

    #[test]
    fn invalid_rules_name_the_field() {
        let cases = [
            (json!([{"type": "retry", "strategy": "linear", "count": 51}]), "rules[0].count"),
            (json!([{"type": "delay", "delay": 0}]), "rules[0].delay"),
            (json!([{"type": "deduplicate", "window": 10}]), "rules[0].window"),
            (json!([{"type": "filter"}]), "rules[0].body"),
            (json!([{"type": "transform"}]), "rules[0].transformation_id"),
            (
                json!([{"type": "retry", "strategy": "linear", "response_status_codes": ["5xx"]}]),
                "rules[0].response_status_codes[0]",
            ),
            (json!([{"type": "delay", "delay": 5}, {"type": "delay", "delay": 6}]), "rules[1].type"),
        ];
        for (input, path) in cases {
            let rules: Vec<Rule> = serde_json::from_value(input.clone()).unwrap();
            let e = validate(&rules).unwrap_err();
            assert_eq!(e.path, path, "{input}");
        }
    }

    #[test]
    fn unknown_rule_types_do_not_parse() {
        assert!(serde_json::from_value::<Rule>(json!({"type": "teleport"})).is_err());
        assert!(serde_json::from_value::<Rule>(json!({"type": "delay", "delay": 1, "x": 1})).is_err());
    }

    #[test]
    fn status_code_patterns() {
        for ok in ["500", "500-599", ">400", ">=400", "<300", "!401", " 404 "] {
            assert!(status_code_pattern_is_valid(ok), "{ok}");
        }
        for bad in ["", "5xx", "600", "599-500", "!!401", "40", "abc"] {
            assert!(!status_code_pattern_is_valid(bad), "{bad}");
        }
    }
}
