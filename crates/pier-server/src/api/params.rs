//! Query-string filters in Hookdeck's notation: `status=FAILED`, repeated keys or `id[]=` for
//! lists, `created_at[gte]=…` operators (`gt gte lt le lte any contains`), cursors and order.
//! Unknown parameters are refused so a typo never silently widens a query.

use crate::error::ApiError;
use pier_api_types::time;
use pier_core::cursor::{Cursor, Direction};
use pier_core::filter::{compile_rule, RuleFilter};
use pier_store::{Cmp, Col, Cond, ListQuery, Val};

struct Entry {
    base: String,
    op: Option<String>,
    value: String,
    used: bool,
}

pub struct Params {
    entries: Vec<Entry>,
}

fn decode(s: &str) -> Result<String, ApiError> {
    let plus = s.replace('+', " ");
    urlencoding::decode(&plus)
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::bad_request("the query string is not valid UTF-8"))
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        let mut entries = Vec::new();
        for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(k)?;
            let value = decode(v)?;
            let (base, op) = match key.split_once('[') {
                Some((b, rest)) => {
                    let op = rest
                        .strip_suffix(']')
                        .ok_or_else(|| ApiError::bad_request(format!("malformed query parameter '{key}'")))?;
                    // `id[]` and `id[0]` are list elements, not operators.
                    let op = (!op.is_empty() && !op.bytes().all(|b| b.is_ascii_digit())).then(|| op.to_string());
                    (b.to_string(), op)
                }
                None => (key, None),
            };
            entries.push(Entry { base, op, value, used: false });
        }
        Ok(Params { entries })
    }

    fn take(&mut self, name: &str) -> Vec<(Option<String>, String)> {
        let mut out = Vec::new();
        for e in self.entries.iter_mut().filter(|e| e.base == name) {
            e.used = true;
            out.push((e.op.clone(), e.value.clone()));
        }
        out
    }

    /// Refuse parameters no handler asked about.
    pub fn finish(self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.entries.iter().filter(|e| !e.used).map(|e| e.base.clone()).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!("unsupported query parameter(s): {}", unknown.join(", "))))
        }
    }

    fn no_ops(name: &str, entries: &[(Option<String>, String)]) -> Result<(), ApiError> {
        match entries.iter().find_map(|(op, _)| op.as_ref()) {
            Some(op) => Err(ApiError::bad_request(format!("'{name}' does not take the [{op}] operator"))),
            None => Ok(()),
        }
    }

    /// Exact match on one value or any of several (`id=a&id=b`).
    pub fn one_of(&mut self, name: &str, col: Col, conds: &mut Vec<Cond>) -> Result<(), ApiError> {
        self.one_of_checked(name, col, conds, |v| Ok(v.to_string()))
    }

    /// Like [`one_of`], each value checked (and mapped) by `check`.
    pub fn one_of_checked(
        &mut self,
        name: &str,
        col: Col,
        conds: &mut Vec<Cond>,
        check: impl Fn(&str) -> Result<String, String>,
    ) -> Result<(), ApiError> {
        let entries = self.take(name);
        if entries.is_empty() {
            return Ok(());
        }
        Self::no_ops(name, &entries)?;
        let mut vals = Vec::new();
        for (_, v) in entries {
            let v = check(&v).map_err(|m| ApiError::unprocessable(format!("{name}: {m}")))?;
            vals.push(Val::Text(v));
        }
        conds.push(if vals.len() == 1 { Cond::Eq(col, vals.remove(0)) } else { Cond::In(col, vals) });
        Ok(())
    }

    /// Text: exact (`name=x`), `[contains]`, `[any]=true|false`.
    pub fn text(&mut self, name: &str, col: Col, conds: &mut Vec<Cond>) -> Result<(), ApiError> {
        let entries = self.take(name);
        let mut exact = Vec::new();
        for (op, v) in entries {
            match op.as_deref() {
                None => exact.push(Val::Text(v)),
                Some("contains") => conds.push(Cond::Contains(col, v)),
                Some("any") => conds.push(Cond::IsNull(col, !parse_bool(name, &v)?)),
                Some(other) => {
                    return Err(ApiError::bad_request(format!("'{name}' does not take the [{other}] operator")))
                }
            }
        }
        match exact.len() {
            0 => {}
            1 => conds.push(Cond::Eq(col, exact.remove(0))),
            _ => conds.push(Cond::In(col, exact)),
        }
        Ok(())
    }

    /// Dates: exact, `[gt] [gte] [lt] [le] [lte]` and `[any]`.
    pub fn date(&mut self, name: &str, col: Col, conds: &mut Vec<Cond>) -> Result<(), ApiError> {
        for (op, v) in self.take(name) {
            if op.as_deref() == Some("any") {
                conds.push(Cond::IsNull(col, !parse_bool(name, &v)?));
                continue;
            }
            compare(name, col, op.as_deref(), Val::Int(0))?;
            let ms = time::parse(&v).ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "{name}: '{v}' is not a date-time (use ISO 8601, e.g. 2024-01-15T16:35:30Z)"
                ))
            })?;
            conds.push(compare(name, col, op.as_deref(), Val::Int(ms))?);
        }
        Ok(())
    }

    /// Integers: exact or several, comparisons, `[any]`.
    pub fn int(&mut self, name: &str, col: Col, conds: &mut Vec<Cond>) -> Result<(), ApiError> {
        let mut exact = Vec::new();
        for (op, v) in self.take(name) {
            if op.as_deref() == Some("any") {
                conds.push(Cond::IsNull(col, !parse_bool(name, &v)?));
                continue;
            }
            compare(name, col, op.as_deref(), Val::Int(0))?;
            let n: i64 =
                v.trim().parse().map_err(|_| ApiError::unprocessable(format!("{name}: '{v}' is not an integer")))?;
            match op {
                None => exact.push(Val::Int(n)),
                Some(op) => conds.push(compare(name, col, Some(&op), Val::Int(n))?),
            }
        }
        match exact.len() {
            0 => {}
            1 => conds.push(Cond::Eq(col, exact.remove(0))),
            _ => conds.push(Cond::In(col, exact)),
        }
        Ok(())
    }

    /// One value out of a fixed set (`status=accepted`).
    pub fn choice(&mut self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        let entries = self.take(name);
        Self::no_ops(name, &entries)?;
        match entries.last() {
            None => Ok(None),
            Some((_, v)) if allowed.contains(&v.as_str()) => Ok(Some(v.clone())),
            Some(_) => Err(ApiError::unprocessable(format!("{name}: must be one of {}", allowed.join(", ")))),
        }
    }

    /// The last value of a parameter, as text.
    pub fn choice_any(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let entries = self.take(name);
        Self::no_ops(name, &entries)?;
        Ok(entries.last().map(|(_, v)| v.clone()))
    }

    /// `search_term`: at least 3 characters, matched in the request's body, headers and path.
    pub fn search(&mut self, conds: &mut Vec<Cond>) -> Result<(), ApiError> {
        if let Some(t) = self.choice_any("search_term")? {
            if t.chars().count() < 3 {
                return Err(ApiError::field("search_term", "give at least 3 characters"));
            }
            conds.push(Cond::Contains(Col::Search, t));
        }
        Ok(())
    }

    /// JSON search on request data: `body`, `headers`, `parsed_query` and `path`, each a filter
    /// in the syntax of filter rules (`body={"type":"order","amount":{"$gte":10}}`); a value that
    /// is not JSON matches as a plain string. `None` when none is given.
    pub fn json_search(&mut self) -> Result<Option<RuleFilter>, ApiError> {
        let mut parts: [Option<serde_json::Value>; 4] = Default::default();
        for (i, name) in ["headers", "body", "parsed_query", "path"].into_iter().enumerate() {
            if let Some(v) = self.choice_any(name)? {
                if v.len() > 10_000 {
                    return Err(ApiError::field(name, "must be at most 10,000 characters"));
                }
                parts[i] = Some(serde_json::from_str(&v).unwrap_or_else(|_| serde_json::Value::String(v.to_string())));
            }
        }
        if parts.iter().all(Option::is_none) {
            return Ok(None);
        }
        let [h, b, q, p] = &parts;
        compile_rule(h.as_ref(), b.as_ref(), q.as_ref(), p.as_ref()).map(Some).map_err(|e| {
            let path = match e.path.strip_prefix("query") {
                Some(rest) => format!("parsed_query{rest}"),
                None => e.path,
            };
            ApiError::field(path, e.message)
        })
    }

    /// Parameters from a JSON object (the `query` of a bulk operation): arrays are repeated
    /// keys, objects are operators (`{"gte": 500}`), except for the JSON-search fields, whose
    /// objects are filters.
    pub fn from_json(query: &serde_json::Map<String, serde_json::Value>) -> Result<Params, ApiError> {
        use serde_json::Value;
        fn scalar(name: &str, v: &Value) -> Result<String, ApiError> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(ApiError::field(format!("query.{name}"), "must be a string, a number or a boolean")),
            }
        }
        let mut entries = Vec::new();
        for (name, v) in query {
            let mut push =
                |op: Option<String>, value: String| entries.push(Entry { base: name.clone(), op, value, used: false });
            match v {
                Value::Null => {}
                Value::Object(_) if ["headers", "body", "parsed_query", "path"].contains(&name.as_str()) => {
                    push(None, v.to_string())
                }
                Value::Object(ops) => {
                    for (op, x) in ops {
                        push(Some(op.clone()), scalar(name, x)?);
                    }
                }
                Value::Array(items) => {
                    for x in items {
                        push(None, scalar(name, x)?);
                    }
                }
                other => push(None, scalar(name, other)?),
            }
        }
        Ok(Params { entries })
    }

    /// A boolean flag (`disabled=true`).
    pub fn flag(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        let entries = self.take(name);
        Self::no_ops(name, &entries)?;
        entries.last().map(|(_, v)| parse_bool(name, v)).transpose()
    }

    /// `limit`, `order_by`, `dir`, `next`, `prev` (with the columns a list may be ordered by).
    pub fn page(&mut self, orders: &[(&str, Col)], conds: Vec<Cond>) -> Result<ListQuery, ApiError> {
        let mut q = ListQuery { conds, ..ListQuery::default() };
        if let Some((_, v)) = self.take("limit").pop() {
            let n: u32 =
                v.trim().parse().map_err(|_| ApiError::unprocessable("limit: must be an integer from 0 to 255"))?;
            if n > 255 {
                return Err(ApiError::unprocessable("limit: must be an integer from 0 to 255"));
            }
            q.limit = n;
        }
        if let Some((_, v)) = self.take("order_by").pop() {
            q.order_by = orders.iter().find(|(n, _)| *n == v).map(|(_, c)| *c).ok_or_else(|| {
                let names: Vec<&str> = orders.iter().map(|(n, _)| *n).collect();
                ApiError::unprocessable(format!("order_by: must be one of {}", names.join(", ")))
            })?;
        }
        if let Some((_, v)) = self.take("dir").pop() {
            q.desc = match v.to_ascii_lowercase().as_str() {
                "desc" => true,
                "asc" => false,
                _ => return Err(ApiError::unprocessable("dir: must be asc or desc")),
            };
        }
        for (name, direction) in [("next", Direction::Next), ("prev", Direction::Prev)] {
            if let Some((_, v)) = self.take(name).pop() {
                if v.is_empty() {
                    continue;
                }
                let c = Cursor::decode(&v).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))?;
                if c.direction != direction {
                    return Err(ApiError::bad_request(format!("{name}: this cursor belongs to the other direction")));
                }
                q.cursor = Some(c);
            }
        }
        Ok(q)
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim() {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::unprocessable(format!("{name}: must be true or false"))),
    }
}

fn compare(name: &str, col: Col, op: Option<&str>, v: Val) -> Result<Cond, ApiError> {
    Ok(match op {
        None => Cond::Eq(col, v),
        Some("gt") => Cond::Cmp(col, Cmp::Gt, v),
        Some("gte") => Cond::Cmp(col, Cmp::Gte, v),
        Some("lt") | Some("le") => Cond::Cmp(col, Cmp::Lt, v),
        Some("lte") => Cond::Cmp(col, Cmp::Lte, v),
        Some(other) => return Err(ApiError::bad_request(format!("'{name}' does not take the [{other}] operator"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators_lists_and_pages() {
        let mut p =
            Params::parse(Some("status=FAILED&status=QUEUED&created_at%5Bgte%5D=2024-01-01&id[]=a&limit=5&dir=asc"))
                .unwrap();
        let mut conds = Vec::new();
        p.one_of("status", Col::Status, &mut conds).unwrap();
        p.date("created_at", Col::CreatedAt, &mut conds).unwrap();
        p.one_of("id", Col::Id, &mut conds).unwrap();
        let q = p.page(&[("created_at", Col::CreatedAt)], conds).unwrap();
        p.finish().unwrap();
        assert_eq!(q.limit, 5);
        assert!(!q.desc);
        assert_eq!(q.conds[0], Cond::In(Col::Status, vec![Val::Text("FAILED".into()), Val::Text("QUEUED".into())]));
        assert_eq!(q.conds[1], Cond::Cmp(Col::CreatedAt, Cmp::Gte, Val::Int(1_704_067_200_000)));
        assert_eq!(q.conds[2], Cond::Eq(Col::Id, Val::Text("a".into())));
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        let p = Params::parse(Some("colour=red")).unwrap();
        assert_eq!(p.finish().unwrap_err().status, 400);
        let mut p = Params::parse(Some("limit=900")).unwrap();
        assert_eq!(p.page(&[], vec![]).unwrap_err().status, 422);
        let mut p = Params::parse(Some("next=garbage")).unwrap();
        assert_eq!(p.page(&[], vec![]).unwrap_err().status, 400);
        let mut p = Params::parse(Some("created_at[gte]=yesterday")).unwrap();
        assert_eq!(p.date("created_at", Col::CreatedAt, &mut vec![]).unwrap_err().status, 422);
        let mut p = Params::parse(Some("created_at[between]=1")).unwrap();
        assert_eq!(p.date("created_at", Col::CreatedAt, &mut vec![]).unwrap_err().status, 400);
        assert!(Params::parse(Some("a[b=1")).is_err());
        assert!(Params::parse(Some("a=%ff")).is_err());
    }
}
