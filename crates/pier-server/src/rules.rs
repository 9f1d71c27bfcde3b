//! Connection rules at work: validation when a connection is saved (filters compiled, field
//! paths checked, inline transformations created), and the per-connection pipeline that routing
//! runs on each request — filter, transform, deduplicate, delay, in array order.

use crate::clock::{new_id, now_ms};
use crate::state::AppState;
use bytes::Bytes;
use pier_api_types::error::FieldError;
use pier_core::filter::{compile_rule, RuleFilter};
use pier_core::routing::{deliver, Outcome};
use pier_core::rules::Rule;
use pier_core::{
    dedup, Connection, ConsoleLine, IdKind, IgnoredCause, Request, Transformation, TransformationExecution,
    TransformedRequest,
};
use pier_store::StoreError;
use pier_transform::{TransformError, TransformInput};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Check rules before a connection is saved: filters compile (422 names the offending part),
/// deduplicate field paths are well formed, transform rules name an existing transformation or
/// carry an inline one, which is created (or updated, by name) now and then referenced by id.
pub async fn prepare(
    st: &AppState,
    project_id: &str,
    mut rules: Vec<Rule>,
) -> Result<Vec<Rule>, crate::error::ApiError> {
    for (i, rule) in rules.iter_mut().enumerate() {
        match rule {
            Rule::Filter { headers, body, query, path } => {
                compile_rule(headers.as_ref(), body.as_ref(), query.as_ref(), path.as_ref())
                    .map_err(|e| FieldError::new(format!("rules[{i}].{}", e.path), e.message))?;
            }
            Rule::Deduplicate { include_fields, exclude_fields, .. } => {
                for (name, fields) in [("include_fields", include_fields), ("exclude_fields", exclude_fields)] {
                    for (j, f) in fields.iter().flatten().enumerate() {
                        if !dedup::path_is_valid(f) {
                            return Err(FieldError::new(
                                format!("rules[{i}].{name}[{j}]"),
                                "use a path under headers, body, query or path, e.g. body.id or body.items[*].sku",
                            )
                            .into());
                        }
                    }
                }
            }
            Rule::Transform { transformation_id, transformation } => {
                if let Some(inline) = transformation.take() {
                    pier_api_types::input::check_name(&format!("rules[{i}].transformation.name"), &inline.name)?;
                    let now = now_ms();
                    let t = match st.store.transformation_by_name(project_id, &inline.name).await? {
                        Some(mut t) => {
                            t.code = inline.code;
                            t.env = inline.env.unwrap_or_default();
                            t.updated_at = now;
                            t
                        }
                        None => Transformation {
                            id: new_id(IdKind::Transformation, now),
                            project_id: project_id.to_string(),
                            name: inline.name,
                            code: inline.code,
                            env: inline.env.unwrap_or_default(),
                            created_at: now,
                            updated_at: now,
                        },
                    };
                    st.store.put_transformation(&t).await?;
                    *transformation_id = Some(t.id);
                } else if let Some(id) = transformation_id {
                    if st.store.transformation(project_id, id).await?.is_none() {
                        return Err(FieldError::new(
                            format!("rules[{i}].transformation_id"),
                            "no transformation with this id",
                        )
                        .into());
                    }
                }
            }
            Rule::Retry { .. } | Rule::Delay { .. } => {}
        }
    }
    Ok(rules)
}

/// A rule ready to run.
enum Step {
    /// Each present part compiled on its own, so a miss can name the part.
    /// (`None`: a stored filter that no longer compiles, which matches nothing.)
    Filter(Vec<(&'static str, Option<RuleFilter>)>),
    Transform(String),
    Dedup {
        window: i64,
        include: Option<Vec<String>>,
        exclude: Option<Vec<String>>,
    },
    Delay(i64),
}

/// A connection's rules, compiled once per routing batch.
pub struct Compiled {
    steps: Vec<Step>,
    /// The destination is a CLI (`pier listen`): deliverable only while a session is connected.
    cli: bool,
}

impl Compiled {
    /// Quick and store-free: only filters and delays, not to a CLI destination.
    pub fn inline_safe(&self) -> bool {
        !self.cli && self.steps.iter().all(|s| matches!(s, Step::Filter(_) | Step::Delay(_)))
    }
}

pub fn compile(c: &Connection, cli: bool) -> Compiled {
    let mut steps = Vec::new();
    for rule in &c.rules {
        match rule {
            Rule::Filter { headers, body, query, path } => {
                let mut parts = Vec::new();
                for (name, v) in [("headers", headers), ("body", body), ("query", query), ("path", path)] {
                    let Some(v) = v else { continue };
                    let (h, b, q, p) = match name {
                        "headers" => (Some(v), None, None, None),
                        "body" => (None, Some(v), None, None),
                        "query" => (None, None, Some(v), None),
                        _ => (None, None, None, Some(v)),
                    };
                    match compile_rule(h, b, q, p) {
                        Ok(f) => parts.push((name, Some(f))),
                        // Validated when saved; a filter that no longer compiles matches nothing.
                        Err(e) => {
                            tracing::warn!(connection_id = %c.id, error = %e, "a stored filter does not compile");
                            parts.push((name, None));
                        }
                    }
                }
                steps.push(Step::Filter(parts));
            }
            Rule::Transform { transformation_id: Some(id), .. } => steps.push(Step::Transform(id.clone())),
            Rule::Transform { .. } | Rule::Retry { .. } => {}
            Rule::Deduplicate { window, include_fields, exclude_fields } => steps.push(Step::Dedup {
                window: *window,
                include: include_fields.clone(),
                exclude: exclude_fields.clone(),
            }),
            Rule::Delay { delay } => steps.push(Step::Delay(*delay)),
        }
    }
    Compiled { steps, cli }
}

/// The request as the rules see it, changed by transformations along the way.
#[derive(Clone)]
struct View {
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
    json: Option<Value>,
    path: String,
    query: String,
}

impl View {
    fn of(r: &Request) -> View {
        let json = r.body.as_ref().and_then(|b| serde_json::from_slice(b).ok());
        View { headers: r.headers.clone(), body: r.body.clone(), json, path: r.path.clone(), query: r.query.clone() }
    }

    fn headers_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.headers {
            match m.get_mut(k) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(v);
                }
                _ => {
                    m.insert(k.to_ascii_lowercase(), Value::String(v.clone()));
                }
            }
        }
        Value::Object(m)
    }

    fn body_value(&self) -> Value {
        match (&self.json, &self.body) {
            (Some(v), _) => v.clone(),
            (None, Some(b)) if !b.is_empty() => Value::String(String::from_utf8_lossy(b).into_owned()),
            _ => Value::Null,
        }
    }

    fn whole(&self) -> Value {
        json!({
            "headers": self.headers_json(),
            "body": self.body_value(),
            "query": pier_api_types::output::parse_query(&self.query),
            "path": self.path,
        })
    }
}

/// What one connection made of a request.
pub struct ConnectionResult {
    pub outcome: Outcome,
    pub meta: Option<Value>,
    pub data: Option<TransformedRequest>,
    /// Transformation runs, written with the routing.
    pub executions: Vec<TransformationExecution>,
}

/// Run a connection's rules on a request.
pub async fn run(
    st: &AppState,
    request: &Request,
    c: &Connection,
    compiled: &Compiled,
    transformations: &mut HashMap<String, Option<Transformation>>,
    now: i64,
) -> Result<ConnectionResult, StoreError> {
    if c.disabled_at.is_some() {
        return Ok(ignore(c, IgnoredCause::Disabled, None));
    }
    // Built when a rule first looks at the request (a connection without rules never does).
    let mut view: Option<View> = None;
    let mut transformed = false;
    let mut executions = Vec::new();
    let mut due = now;
    for step in &compiled.steps {
        match step {
            Step::Filter(parts) => {
                let view = view.get_or_insert_with(|| View::of(request));
                let headers = view.headers_json();
                let query = pier_api_types::output::parse_query(&view.query);
                for (name, f) in parts {
                    let ok = f.as_ref().is_some_and(|f| f.matches(&headers, view.json.as_ref(), &query, &view.path));
                    if !ok {
                        let mut r = ignore(c, IgnoredCause::Filtered, Some(json!(name)));
                        r.executions = executions;
                        return Ok(r);
                    }
                }
            }
            Step::Transform(id) => {
                if !transformations.contains_key(id) {
                    let t = st.store.transformation(&c.project_id, id).await?;
                    transformations.insert(id.clone(), t);
                }
                let Some(Some(t)) = transformations.get(id).cloned() else {
                    let mut r = ignore(c, IgnoredCause::TransformationFailed, Some(json!({"transformation_id": id})));
                    r.executions = executions;
                    return Ok(r);
                };
                let current = view.get_or_insert_with(|| View::of(request));
                let (result, exec) = transform(st, &t, current, Some(&c.id), Some(&request.id)).await;
                executions.push(exec);
                match result {
                    Ok(next) => {
                        view = Some(next);
                        transformed = true;
                    }
                    Err(_) => {
                        let mut r =
                            ignore(c, IgnoredCause::TransformationFailed, Some(json!({"transformation_id": id})));
                        r.executions = executions;
                        return Ok(r);
                    }
                }
            }
            Step::Dedup { window, include, exclude } => {
                let whole = view.get_or_insert_with(|| View::of(request)).whole();
                let key = dedup::key(&whole, include.as_deref(), exclude.as_deref());
                if st.store.dedup_seen(&c.id, &key, &request.id, now, *window).await? {
                    let mut r = ignore(c, IgnoredCause::Duplicate, Some(json!({"window": window})));
                    r.executions = executions;
                    return Ok(r);
                }
            }
            Step::Delay(ms) => due = now.saturating_add(*ms),
        }
    }
    if compiled.cli && !st.config.cli_hold_when_disconnected {
        let since = now - crate::tunnel::SEEN_WITHIN_MS;
        if !st.store.cli_connected(&c.id, since).await? {
            let mut r = ignore(c, IgnoredCause::CliDisconnected, None);
            r.executions = executions;
            return Ok(r);
        }
    }
    let data = view.filter(|_| transformed).map(|view| TransformedRequest {
        headers: view.headers,
        body: view.body,
        path: view.path,
        query: view.query,
    });
    Ok(ConnectionResult { outcome: deliver(c, due, now), meta: None, data, executions })
}

fn ignore(c: &Connection, cause: IgnoredCause, meta: Option<Value>) -> ConnectionResult {
    ConnectionResult {
        outcome: Outcome::Ignore { connection_id: c.id.clone(), cause },
        meta,
        data: None,
        executions: Vec::new(),
    }
}

/// Run a transformation on a view in the sandbox (off the async threads); returns the new view
/// (or the failure) and the execution to record.
async fn transform(
    st: &AppState,
    t: &Transformation,
    view: &View,
    connection_id: Option<&str>,
    request_id: Option<&str>,
) -> (Result<View, TransformError>, TransformationExecution) {
    let input = TransformInput {
        headers: match view.headers_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        body: view.body_value(),
        query: view.query.clone(),
        parsed_query: pier_api_types::output::parse_query(&view.query),
        path: view.path.clone(),
    };
    let result = run_sandbox(st, &t.code, &t.env, input).await;
    let now = now_ms();
    let (logs, error) = match &result {
        Ok(out) => (out.logs.clone(), None),
        Err(e) => (e.logs().to_vec(), Some(e.to_string())),
    };
    let exec = TransformationExecution {
        id: new_id(IdKind::Execution, now),
        project_id: t.project_id.clone(),
        transformation_id: t.id.clone(),
        connection_id: connection_id.map(String::from),
        request_id: request_id.map(String::from),
        log_level: if error.is_some() { "error".into() } else { "info".into() },
        logs: logs.into_iter().map(|l| ConsoleLine { level: l.level, message: l.message }).collect(),
        error,
        created_at: now,
        updated_at: now,
    };
    (result.map(|out| apply_output(view, out.request)), exec)
}

/// Run code in the sandbox on a blocking thread.
pub async fn run_sandbox(
    st: &AppState,
    code: &str,
    env: &Map<String, Value>,
    input: TransformInput,
) -> Result<pier_transform::TransformOutput, TransformError> {
    let sandbox = st.sandbox.clone();
    let (code, env) = (code.to_string(), env.clone());
    tokio::task::spawn_blocking(move || sandbox.run(&code, &env, input))
        .await
        .unwrap_or_else(|e| Err(TransformError::Internal(format!("the transformation task failed: {e}"))))
}

/// The view a transformation returned. A body it did not change keeps its original bytes.
fn apply_output(before: &View, out: TransformInput) -> View {
    let headers = out
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
        .collect();
    let same_body = out.body == before.body_value();
    let (body, json) = if same_body {
        (before.body.clone(), before.json.clone())
    } else {
        match &out.body {
            Value::Null => (None, None),
            Value::String(s) => (Some(Bytes::from(s.clone().into_bytes())), None),
            other => (Some(Bytes::from(serde_json::to_vec(other).unwrap_or_default())), Some(other.clone())),
        }
    };
    View { headers, body, json, path: out.path, query: out.query }
}

/// `PUT /transformations/run`: run code on a sample request and report the result and logs.
pub async fn test_run(
    st: &AppState,
    code: &str,
    env: &Map<String, Value>,
    input: TransformInput,
) -> Result<pier_transform::TransformOutput, TransformError> {
    run_sandbox(st, code, env, input).await
}
