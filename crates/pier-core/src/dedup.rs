//! Deduplication keys: which part of a request makes two requests "the same" for a
//! deduplicate rule. Field paths are `headers`, `body.id`, `headers.x-request-id`,
//! `body.items[*].sku` (every element) and `body.items[0].name` (one element).
//!
//! With `include_fields`, the key is made of those fields only; otherwise of the whole request
//! (`headers`, `body`, `query`, `path`) minus `exclude_fields`. Missing fields count as null.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
    All,
}

/// Parse `a.b[*].c[0]`; `None` for a malformed path.
fn parse(path: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.contains(']') {
            return None;
        }
        if !name.is_empty() {
            segs.push(Seg::Key(name.to_string()));
        } else if segs.is_empty() || rest.is_empty() {
            // An empty segment: `.x`, `a..b`, `a.`.
            return None;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            segs.push(if inner == "*" { Seg::All } else { Seg::Index(inner.parse().ok()?) });
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!segs.is_empty()).then_some(segs)
}

/// Whether a field path is well formed (checked when a rule is saved).
pub fn path_is_valid(path: &str) -> bool {
    parse(path).is_some_and(
        |s| matches!(s.first(), Some(Seg::Key(k)) if ["headers", "body", "query", "path"].contains(&k.as_str())),
    )
}

fn select<'a>(v: &'a Value, segs: &[Seg], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = segs.split_first() else {
        out.push(v);
        return;
    };
    match (first, v) {
        (Seg::Key(k), Value::Object(o)) => {
            // Header names are case-insensitive.
            let found = o.get(k).or_else(|| o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v));
            match found {
                Some(x) => select(x, rest, out),
                None => out.push(&Value::Null),
            }
        }
        (Seg::Index(i), Value::Array(a)) => match a.get(*i) {
            Some(x) => select(x, rest, out),
            None => out.push(&Value::Null),
        },
        (Seg::All, Value::Array(a)) => a.iter().for_each(|x| select(x, rest, out)),
        _ => out.push(&Value::Null),
    }
}

fn remove(v: &mut Value, segs: &[Seg]) {
    let Some((first, rest)) = segs.split_first() else { return };
    match (first, v) {
        (Seg::Key(k), Value::Object(o)) => {
            let key = o.keys().find(|n| n.eq_ignore_ascii_case(k)).cloned();
            if let Some(key) = key {
                if rest.is_empty() {
                    o.remove(&key);
                } else if let Some(x) = o.get_mut(&key) {
                    remove(x, rest);
                }
            }
        }
        (Seg::Index(i), Value::Array(a)) => {
            if rest.is_empty() {
                if *i < a.len() {
                    a[*i] = Value::Null;
                }
            } else if let Some(x) = a.get_mut(*i) {
                remove(x, rest);
            }
        }
        (Seg::All, Value::Array(a)) => {
            for x in a.iter_mut() {
                if rest.is_empty() {
                    *x = Value::Null;
                } else {
                    remove(x, rest);
                }
            }
        }
        _ => {}
    }
}

/// The deduplication key (hex SHA-256) of `request` (`{headers, body, query, path}`).
pub fn key(request: &Value, include: Option<&[String]>, exclude: Option<&[String]>) -> String {
    let material = match include.filter(|i| !i.is_empty()) {
        Some(fields) => {
            let mut parts = Map::new();
            for f in fields {
                let mut found = Vec::new();
                if let Some(segs) = parse(f) {
                    select(request, &segs, &mut found);
                }
                parts.insert(f.clone(), Value::Array(found.into_iter().cloned().collect()));
            }
            Value::Object(parts)
        }
        None => {
            let mut whole = request.clone();
            for f in exclude.unwrap_or_default() {
                if let Some(segs) = parse(f) {
                    remove(&mut whole, &segs);
                }
            }
            whole
        }
    };
    let canonical = serde_json::to_vec(&sort_keys(&material)).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

/// Object keys in a stable order, so equal JSON gives equal keys.
fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sort_keys(&o[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(body: Value, headers: Value) -> Value {
        json!({"headers": headers, "body": body, "query": {}, "path": "/x"})
    }

    #[test]
    fn include_fields_pick_the_key() {
        let inc = vec!["body.id".to_string()];
        let a = req(json!({"id": 1, "ts": 5}), json!({"x-request-id": "a"}));
        let b = req(json!({"ts": 6, "id": 1}), json!({"x-request-id": "b"}));
        let c = req(json!({"id": 2, "ts": 5}), json!({"x-request-id": "a"}));
        assert_eq!(key(&a, Some(&inc), None), key(&b, Some(&inc), None));
        assert_ne!(key(&a, Some(&inc), None), key(&c, Some(&inc), None));
        let hdr = vec!["headers.X-Request-Id".to_string()];
        assert_eq!(key(&a, Some(&hdr), None), key(&c, Some(&hdr), None), "header names are case-insensitive");
    }

    #[test]
    fn wildcards_and_indices() {
        let a = req(json!({"items": [{"sku": "a", "q": 1}, {"sku": "b", "q": 2}]}), json!({}));
        let b = req(json!({"items": [{"sku": "a", "q": 9}, {"sku": "b", "q": 8}]}), json!({}));
        let c = req(json!({"items": [{"sku": "a"}, {"sku": "c"}]}), json!({}));
        let all = vec!["body.items[*].sku".to_string()];
        assert_eq!(key(&a, Some(&all), None), key(&b, Some(&all), None));
        assert_ne!(key(&a, Some(&all), None), key(&c, Some(&all), None));
        let first = vec!["body.items[0].sku".to_string()];
        assert_eq!(key(&a, Some(&first), None), key(&c, Some(&first), None));
    }

    #[test]
    fn exclude_fields_remove_noise_from_the_whole_request() {
        let a = req(json!({"id": 1, "sent_at": "t1"}), json!({"x-trace": "1"}));
        let b = req(json!({"id": 1, "sent_at": "t2"}), json!({"x-trace": "2"}));
        assert_ne!(key(&a, None, None), key(&b, None, None));
        let ex = vec!["body.sent_at".to_string(), "headers.x-trace".to_string()];
        assert_eq!(key(&a, None, Some(&ex)), key(&b, None, Some(&ex)));
    }

    #[test]
    fn paths_are_validated() {
        for ok in ["body", "body.id", "headers.x-id", "body.items[*].sku", "body.items[0].name", "query.a"] {
            assert!(path_is_valid(ok), "{ok}");
        }
        for bad in ["", "id", "body.", "body.items[", "body.items[x]", "body.a]b", "cookies.x"] {
            assert!(!path_is_valid(bad), "{bad}");
        }
    }
}
