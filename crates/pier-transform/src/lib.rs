//! `pier-transform` is Pier's JavaScript sandbox for Hookdeck-compatible transformations.
//!
//! A transformation is a script that calls
//! `addHandler("transform", (request, context) => { ...; return request; })`. The request is
//! `{headers, body, query, parsed_query, path}`; environment variables are readable as
//! `process.env.X` and `context.env.X`; `console.log/info/warn/error/debug` output is captured.
//! Scripts run in embedded QuickJS (the `rquickjs` crate) with no I/O, no timers, no network and
//! no module loading, under a CPU-time limit (interrupt handler) and a memory limit per runtime.
//!
//! [`Sandbox`] is a pool of reusable QuickJS runtimes, each on its own OS thread. [`Sandbox::run`]
//! is blocking and may be called from many threads at once (from async code, wrap it in
//! `spawn_blocking`); jobs queue until a worker is free. Every execution gets a fresh JS context,
//! so no global state leaks from one run to the next. A throw, a timeout, running out of memory,
//! a stack overflow or an invalid return value is reported as a [`TransformError`] and leaves the
//! pool usable; a runtime that might be unhealthy afterwards is replaced transparently, and a
//! worker stuck in a built-in that ignores the time limit is written off and replaced.
//!
//! This crate must not depend on other Pier crates: it is a leaf that only knows JSON values.

mod alloc;
mod engine;

use std::fmt;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The request a transformation sees, and (validated) the request it returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformInput {
    /// Header names to values (strings on output).
    pub headers: Map<String, Value>,
    /// The parsed JSON body, or a string when the body is not JSON, or `Null` when there is none.
    pub body: Value,
    /// The raw query string, without the leading `?`.
    pub query: String,
    /// The query string parsed into an object.
    pub parsed_query: Value,
    /// The request path, e.g. `/webhooks/stripe`.
    pub path: String,
}

/// One line written with `console.*` by a transformation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleLine {
    /// `"log"`, `"info"`, `"warn"`, `"error"` or `"debug"`.
    pub level: String,
    /// The arguments joined by spaces; non-strings are JSON-stringified.
    pub message: String,
}

/// A successful execution.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformOutput {
    /// The request returned by the handler. A missing (or null) `path`, `query` or
    /// `parsed_query` keeps the input's value; a missing `body` is `Null` (no body).
    pub request: TransformInput,
    /// Console output, in order.
    pub logs: Vec<ConsoleLine>,
}

/// Why an execution failed. Every variant but `Compile` and `Internal` keeps the console output
/// captured before the failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// The script threw (at top level, in the handler, or as a rejected promise), including
    /// `RangeError: Maximum call stack size exceeded`. The message is `Name: message` followed
    /// by up to 10 stack frames (at most 16 KiB); a thrown non-error is shown as a string/JSON.
    #[error("transformation threw: {message}")]
    Threw { message: String, logs: Vec<ConsoleLine> },
    /// The execution used more than [`Limits::cpu_time`]. When the pool's watchdog had to give
    /// up on a worker stuck in a built-in (see [`Sandbox`]), `logs` is empty.
    #[error("transformation exceeded its time limit")]
    Timeout { logs: Vec<ConsoleLine> },
    /// The execution used more than [`Limits::memory_bytes`].
    #[error("transformation exceeded its memory limit")]
    OutOfMemory { logs: Vec<ConsoleLine> },
    /// The handler returned something that is not a valid request.
    #[error("transformation returned an invalid request: {message}")]
    InvalidReturn { message: String, logs: Vec<ConsoleLine> },
    /// The script never called `addHandler("transform", fn)`.
    #[error(
        "transformation did not register a handler: call addHandler(\"transform\", (request, context) => request)"
    )]
    NoHandler { logs: Vec<ConsoleLine> },
    /// The script does not parse.
    #[error("transformation does not compile: {message}")]
    Compile { message: String },
    /// A failure of the sandbox itself (not of the script).
    #[error("transformation sandbox failure: {0}")]
    Internal(String),
}

impl TransformError {
    /// The console output captured before the failure (empty for `Compile` and `Internal`).
    pub fn logs(&self) -> &[ConsoleLine] {
        match self {
            TransformError::Threw { logs, .. }
            | TransformError::Timeout { logs }
            | TransformError::OutOfMemory { logs }
            | TransformError::InvalidReturn { logs, .. }
            | TransformError::NoHandler { logs } => logs,
            TransformError::Compile { .. } | TransformError::Internal(_) => &[],
        }
    }
}

/// Resource limits applied to each execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of one execution on its worker thread (queueing not included), covering
    /// compilation, the handler, promise jobs and serialising the result. Default 1 s.
    pub cpu_time: Duration,
    /// Heap limit of each runtime. Default 64 MiB.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { cpu_time: Duration::from_secs(1), memory_bytes: 64 * 1024 * 1024 }
    }
}

/// Console output kept per execution; further output is dropped (with one notice line).
pub const MAX_LOG_BYTES: usize = 256 * 1024;
/// Console lines kept per execution; further lines are dropped (with one notice line).
pub const MAX_LOG_LINES: usize = 1000;

/// How long [`Sandbox::run`] waits for a queued job to start before giving up with
/// [`TransformError::Internal`] (only reached when every worker is stuck or the pool is badly
/// overloaded).
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// A pool of QuickJS runtimes on dedicated threads. `&Sandbox` is `Sync`: put it in an `Arc` to
/// share it. Dropping it closes the queue; workers exit after their current job.
///
/// Watchdog: a few built-ins (e.g. `Array.prototype.join` over a huge sparse array) loop in C
/// without polling QuickJS's interrupt handler, so the time limit cannot stop them. When a job
/// runs past `cpu_time + max(cpu_time / 2, 500 ms)`, its caller gets `Timeout`, the worker is
/// written off (it exits, or rejoins the pool, when the loop ends) and a replacement thread is
/// started, up to `max(workers, 2)` written-off threads at a time.
pub struct Sandbox {
    sender: Option<mpsc::Sender<engine::Job>>,
    pool: Arc<engine::Pool>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox").field("workers", &self.pool.size).field("limits", &self.pool.limits).finish()
    }
}

impl Sandbox {
    /// Starts `workers` threads (at least one), each owning one reusable runtime.
    ///
    /// # Panics
    /// If the operating system refuses to start a thread.
    pub fn new(workers: usize, limits: Limits) -> Sandbox {
        let (sender, receiver) = mpsc::channel::<engine::Job>();
        let pool = engine::Pool::new(receiver, workers.max(1), limits);
        for _ in 0..pool.size {
            engine::Pool::spawn_worker(&pool).expect("failed to start a transformation worker thread");
        }
        Sandbox { sender: Some(sender), pool }
    }

    /// The limits every execution runs under.
    pub fn limits(&self) -> Limits {
        self.pool.limits
    }

    /// The number of worker threads (runtimes) the pool keeps.
    pub fn workers(&self) -> usize {
        self.pool.size
    }

    /// Runs `code` against `input` with `env` and returns the validated request it produced.
    /// Blocks while the job is queued and while it runs (at most about [`Limits::cpu_time`]).
    pub fn run(
        &self,
        code: &str,
        env: &Map<String, Value>,
        input: TransformInput,
    ) -> Result<TransformOutput, TransformError> {
        let env_json =
            serde_json::to_string(env).map_err(|e| TransformError::Internal(format!("cannot serialise env: {e}")))?;
        let request_json = serde_json::to_string(&input)
            .map_err(|e| TransformError::Internal(format!("cannot serialise request: {e}")))?;
        let (reply, answer) = mpsc::sync_channel(1);
        let control = Arc::new(engine::Control::default());
        let job = engine::Job { code: code.to_owned(), env_json, request_json, reply, control: Arc::clone(&control) };
        self.sender
            .as_ref()
            .ok_or_else(|| TransformError::Internal("sandbox is shut down".into()))?
            .send(job)
            .map_err(|_| TransformError::Internal("all transformation workers stopped".into()))?;
        let (returned_json, logs) = self.wait(&answer, &control)??;
        match validate_returned(&returned_json, input) {
            Ok(request) => Ok(TransformOutput { request, logs }),
            Err(message) => Err(TransformError::InvalidReturn { message, logs }),
        }
    }

    /// Waits for the reply, writing the worker off if the job overruns its time limit.
    fn wait(
        &self,
        answer: &mpsc::Receiver<engine::JobResult>,
        control: &engine::Control,
    ) -> Result<engine::JobResult, TransformError> {
        let limit = self.pool.limits.cpu_time;
        let give_up_after = limit + (limit / 2).max(Duration::from_millis(500));
        let queued_at = Instant::now();
        loop {
            let wait = match control.started() {
                None => Duration::from_millis(100),
                Some(started) => {
                    (started + give_up_after).saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
                }
            };
            match answer.recv_timeout(wait) {
                Ok(result) => return Ok(result),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(TransformError::Internal("transformation worker stopped".into()))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => match control.started() {
                    None => {
                        if queued_at.elapsed() >= MAX_QUEUE_WAIT && control.abandon_queued() {
                            return Err(TransformError::Internal(format!(
                                "no transformation worker became free within {} s",
                                MAX_QUEUE_WAIT.as_secs()
                            )));
                        }
                    }
                    Some(started) => {
                        if started.elapsed() >= give_up_after && control.abandon_running() {
                            engine::Pool::write_off_worker(&self.pool);
                            return Err(TransformError::Timeout { logs: Vec::new() });
                        }
                    }
                },
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Closing the queue makes every worker leave its loop after its current job.
        self.sender.take();
    }
}

/// Checks the JSON text of the object the handler returned and turns it into a request.
fn validate_returned(json: &str, input: TransformInput) -> Result<TransformInput, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("the returned request cannot be read as JSON: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err("the handler must return the request object".into());
    };
    let headers = match obj.remove("headers") {
        Some(Value::Object(headers)) => headers,
        None | Some(Value::Null) => return Err(
            "the returned request has no `headers` object (return the request you were given, e.g. `return request;`)"
                .into(),
        ),
        Some(other) => return Err(format!("`headers` must be an object of strings, got {}", json_type(&other))),
    };
    for (name, value) in &headers {
        if !value.is_string() {
            return Err(format!(
                "header {name:?} must be a string, got {} (convert it with String(...))",
                json_type(value)
            ));
        }
    }
    let body = obj.remove("body").unwrap_or(Value::Null);
    let query = match obj.remove("query") {
        None | Some(Value::Null) => input.query,
        Some(Value::String(q)) => q,
        Some(other) => return Err(format!("`query` must be a string, got {}", json_type(&other))),
    };
    let path = match obj.remove("path") {
        None | Some(Value::Null) => input.path,
        Some(Value::String(p)) => p,
        Some(other) => return Err(format!("`path` must be a string, got {}", json_type(&other))),
    };
    let parsed_query = match obj.remove("parsed_query") {
        None | Some(Value::Null) => input.parsed_query,
        Some(v) => v,
    };
    Ok(TransformInput { headers, body, query, parsed_query, path })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
