//! The CLI's output layer: human tables and messages on stderr, the API's JSON on stdout
//! (`--output json`), so scripts can pipe data while people read the rest.

use crate::Output;
use serde_json::Value;

/// A table whose columns are as wide as their widest cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count())));
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        let mut out = line(&mut self.headers.iter().copied());
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }
}

/// `label  value` lines, labels aligned.
pub fn details(fields: &[(&str, String)]) -> String {
    let width = fields.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    fields.iter().map(|(l, v)| format!("{l:<width$}  {v}\n")).collect()
}

/// A value at a JSON pointer as table text: strings bare, null and absent as `-`.
pub fn text(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) if s.is_empty() => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// An API timestamp shortened for people: `2024-01-15T16:35:30.123Z` → `2024-01-15 16:35:30`.
pub fn time(v: &Value, pointer: &str) -> String {
    let t = text(v, pointer);
    match (t.get(..10), t.get(11..19)) {
        (Some(date), Some(clock)) if t.as_bytes().get(10) == Some(&b'T') => format!("{date} {clock}"),
        _ => t,
    }
}

/// Compact JSON cut to `max` characters.
pub fn short_json(v: Option<&Value>, max: usize) -> String {
    let s = match v {
        None | Some(Value::Null) => return "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Print the API's answer: pretty JSON on stdout, or `human` on stderr.
pub fn emit(out: Output, value: &Value, human: impl FnOnce() -> String) {
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())),
        Output::Human => eprint!("{}", human()),
    }
}

/// A page of models: a table, `no NOUN` when empty, and the commands for the next and previous pages.
pub fn emit_page(out: Output, page: &Value, noun: &str, table: impl Fn(&[Value]) -> Table) {
    emit(out, page, || {
        let models = page.get("models").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let mut s = if models.is_empty() { format!("no {noun}\n") } else { table(models).render() };
        for (flag, pointer) in [("--next", "/pagination/next"), ("--prev", "/pagination/prev")] {
            if let Some(cursor) = page.pointer(pointer).and_then(Value::as_str).filter(|c| !c.is_empty()) {
                let what = if flag == "--next" { "next page" } else { "previous page" };
                s.push_str(&format!("{what}: {} {flag} {cursor}\n", this_command_without_cursor()));
            }
        }
        s
    });
}

/// The command line that was run, without any `--next`/`--prev` cursor, to print a page hint.
fn this_command_without_cursor() -> String {
    let mut parts = vec!["pier".to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--next" || a == "--prev" {
            args.next();
        } else if !(a.starts_with("--next=") || a.starts_with("--prev=")) {
            parts.push(if a.is_empty() || a.contains(char::is_whitespace) { format!("'{a}'") } else { a });
        }
    }
    parts.join(" ")
}

/// A one-line message for people (stderr, in human output only).
pub fn say(out: Output, message: impl std::fmt::Display) {
    if out == Output::Human {
        eprintln!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_fit_their_widest_cell() {
        let mut t = Table::new(&["ID", "NAME", "URL"]);
        t.row(vec!["src_1".into(), "a-long-name".into(), "-".into()]);
        t.row(vec!["src_22".into(), "b".into(), "http://x".into()]);
        assert_eq!(t.render(), "ID      NAME         URL\nsrc_1   a-long-name  -\nsrc_22  b            http://x\n");
    }

    #[test]
    fn values_become_text() {
        let v = json!({"a": null, "b": "x", "n": 3, "t": "2024-01-15T16:35:30.123Z", "e": ""});
        assert_eq!(text(&v, "/a"), "-");
        assert_eq!(text(&v, "/missing"), "-");
        assert_eq!(text(&v, "/e"), "-");
        assert_eq!(text(&v, "/n"), "3");
        assert_eq!(time(&v, "/t"), "2024-01-15 16:35:30");
        assert_eq!(time(&v, "/b"), "x");
        assert_eq!(short_json(Some(&json!({"k": "vvvvvv"})), 5), "{\"k\":…");
        assert_eq!(details(&[("id", "1".into()), ("name", "n".into())]), "id    1\nname  n\n");
    }
}
