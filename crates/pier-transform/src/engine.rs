//! The worker side: one QuickJS runtime per thread, a fresh context per execution.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::function::Rest;
use rquickjs::promise::PromiseState;
use rquickjs::{qjs, Coerced, Context, Ctx, FromJs, Function, Object, Persistent, Runtime, Type, Value};

use crate::alloc::{Budget, LimitedAllocator};
use crate::{ConsoleLine, Limits, TransformError, MAX_LOG_BYTES, MAX_LOG_LINES};

/// Native stack of a worker thread. QuickJS recursion (user code, JSON, the parser) runs on it.
pub(crate) const THREAD_STACK_SIZE: usize = 8 * 1024 * 1024;
/// How much of that stack JS may use before "Maximum call stack size exceeded".
const JS_STACK_SIZE: usize = 2 * 1024 * 1024;

const FILENAME: &std::ffi::CStr = c"transformation.js";
/// Bytes kept of an error message.
const MAX_ERROR_MESSAGE: usize = 16 * 1024;
/// Stack frames kept in an error message.
const MAX_STACK_FRAMES: usize = 10;

/// One execution request sent to the pool.
pub(crate) struct Job {
    pub code: String,
    pub env_json: String,
    pub request_json: String,
    pub reply: SyncSender<JobResult>,
    pub control: Arc<Control>,
}

/// The JSON text of the object the handler returned, and the console output.
pub(crate) type JobResult = Result<(String, Vec<ConsoleLine>), TransformError>;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const ABANDONED: u8 = 3;

/// Who owns a job's outcome: the worker (which finishes it) or its caller (which abandons it).
#[derive(Default)]
pub(crate) struct Control {
    state: AtomicU8,
    started: Mutex<Option<Instant>>,
}

impl Control {
    /// Worker side: claims a queued job. False if its caller already gave up on it.
    fn begin(&self) -> bool {
        let claimed = self.state.compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if claimed {
            *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        claimed
    }

    /// Worker side: true if the caller still waits for the result.
    fn finish(&self) -> bool {
        self.state.compare_exchange(RUNNING, DONE, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Caller side: when the job started running, if it has.
    pub(crate) fn started(&self) -> Option<Instant> {
        *self.started.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Caller side: gives up on a job nobody has started. False if a worker took it meanwhile.
    pub(crate) fn abandon_queued(&self) -> bool {
        self.state.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Caller side: gives up on a running job. False if it finished meanwhile (the reply is on
    /// its way). On success the caller must call [`Pool::write_off_worker`].
    pub(crate) fn abandon_running(&self) -> bool {
        self.state.compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// The worker threads' shared state.
pub(crate) struct Pool {
    /// Workers the pool keeps taking jobs.
    pub(crate) size: usize,
    pub(crate) limits: Limits,
    queue: Mutex<Receiver<Job>>,
    /// Threads currently taking jobs.
    live: AtomicUsize,
    /// Threads stuck in a job their caller gave up on.
    written_off: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(queue: Receiver<Job>, size: usize, limits: Limits) -> Arc<Pool> {
        Arc::new(Pool {
            size,
            limits,
            queue: Mutex::new(queue),
            live: AtomicUsize::new(size),
            written_off: AtomicUsize::new(0),
        })
    }

    /// Starts one worker thread (the caller has counted it in `live`).
    pub(crate) fn spawn_worker(pool: &Arc<Pool>) -> std::io::Result<()> {
        let shared = Arc::clone(pool);
        std::thread::Builder::new()
            .name("pier-transform".into())
            .stack_size(THREAD_STACK_SIZE)
            .spawn(move || worker_main(shared))
            .map(drop)
    }

    /// A worker is stuck in a job its caller abandoned: start a replacement, unless too many
    /// threads are stuck already (each may be spinning a core).
    pub(crate) fn write_off_worker(pool: &Arc<Pool>) {
        pool.live.fetch_sub(1, Ordering::AcqRel);
        let stuck = pool.written_off.fetch_add(1, Ordering::AcqRel) + 1;
        if stuck <= pool.size.max(2) && pool.try_add_live() && Pool::spawn_worker(pool).is_err() {
            pool.live.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Counts one more live worker if the pool is short of its size.
    fn try_add_live(&self) -> bool {
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| (live < self.size).then_some(live + 1))
            .is_ok()
    }
}

/// Thread body: take jobs until the queue closes. A runtime is created lazily and replaced
/// whenever an execution may have left it unhealthy. Clean-up and preparing the next context
/// happen after the reply is sent, off the caller's critical path.
fn worker_main(pool: Arc<Pool>) {
    let mut slot: Option<Engine> = None;
    loop {
        let job = {
            let queue = pool.queue.lock().unwrap_or_else(|p| p.into_inner());
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if !job.control.begin() {
            continue;
        }
        let result = match slot {
            Some(ref mut engine) => run_job(engine, &job),
            None => match Engine::new(pool.limits) {
                Ok(engine) => run_job(slot.insert(engine), &job),
                Err(message) => Err(TransformError::Internal(message)),
            },
        };
        let failed_internally = matches!(result, Err(TransformError::Internal(_)));
        if !job.control.finish() {
            // The caller gave up and a replacement took this thread's place: start afresh,
            // and stay only if the pool is short of workers.
            discard(slot.take());
            pool.written_off.fetch_sub(1, Ordering::AcqRel);
            if pool.try_add_live() {
                continue;
            }
            return;
        }
        let _ = job.reply.send(result);
        let healthy = !failed_internally
            && slot.as_mut().is_some_and(|engine| catch_unwind(AssertUnwindSafe(|| engine.recycle())).unwrap_or(false));
        if !healthy {
            discard(slot.take());
        }
    }
}

fn run_job(engine: &mut Engine, job: &Job) -> JobResult {
    catch_unwind(AssertUnwindSafe(|| engine.execute(job)))
        .unwrap_or_else(|_| Err(TransformError::Internal("the transformation runtime panicked".into())))
}

/// Drops a runtime; never lets tearing one down take the worker with it.
fn discard(engine: Option<Engine>) {
    if let Some(engine) = engine {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(engine)));
    }
}

/// Shared between the interrupt handler and the execution.
struct RunState {
    deadline: Cell<Option<Instant>>,
    interrupted: Cell<bool>,
    budget: Rc<Budget>,
}

impl RunState {
    fn out_of_time(&self) -> bool {
        self.interrupted.get() || self.deadline.get().is_some_and(|d| Instant::now() >= d)
    }
}

struct Engine {
    /// A fresh, never-used context for the next execution.
    spare: Option<Context>,
    rt: Runtime,
    state: Rc<RunState>,
    limits: Limits,
}

/// Why an execution failed, before the logs are attached.
enum Fail {
    Threw(String),
    Timeout,
    OutOfMemory,
    Invalid(String),
    NoHandler,
    Compile(String),
    Internal(String),
}

/// Which step failed, to classify an ordinary exception.
#[derive(Clone, Copy)]
enum Phase {
    Setup,
    Compile,
    Run,
    Serialize,
}

impl Engine {
    fn new(limits: Limits) -> Result<Engine, String> {
        let budget = Budget::new(limits.memory_bytes);
        let allocator = LimitedAllocator { budget: Rc::clone(&budget) };
        let rt = Runtime::new_with_alloc(allocator).map_err(|e| format!("cannot create a JS runtime: {e}"))?;
        rt.set_max_stack_size(JS_STACK_SIZE);
        let state = Rc::new(RunState { deadline: Cell::new(None), interrupted: Cell::new(false), budget });
        let watcher = Rc::clone(&state);
        rt.set_interrupt_handler(Some(Box::new(move || {
            let expired = watcher.deadline.get().is_some_and(|d| Instant::now() >= d);
            if expired {
                watcher.interrupted.set(true);
            }
            expired
        })));
        Ok(Engine { spare: None, rt, state, limits })
    }

    /// Runs one job in a fresh context.
    fn execute(&mut self, job: &Job) -> JobResult {
        let logs = Rc::new(RefCell::new(LogSink::default()));
        self.state.interrupted.set(false);
        self.state.budget.reset_refused();
        self.state.deadline.set(Some(Instant::now() + self.limits.cpu_time));
        let context = match self.spare.take() {
            Some(context) => Ok(context),
            None => new_context(&self.rt),
        };
        let outcome = match context {
            Ok(context) => context.with(|ctx| run_in_context(&ctx, job, &logs, &self.state)),
            Err(message) => Err(Fail::Internal(message)),
        };
        self.state.deadline.set(None);
        let logs = std::mem::take(&mut logs.borrow_mut().lines);
        match outcome {
            Ok(json) => Ok((json, logs)),
            Err(fail) => Err(match fail {
                Fail::Threw(message) => TransformError::Threw { message, logs },
                Fail::Timeout => TransformError::Timeout { logs },
                Fail::OutOfMemory => TransformError::OutOfMemory { logs },
                Fail::Invalid(message) => TransformError::InvalidReturn { message, logs },
                Fail::NoHandler => TransformError::NoHandler { logs },
                Fail::Compile(message) => TransformError::Compile { message },
                Fail::Internal(message) => TransformError::Internal(message),
            }),
        }
    }

    /// Collects what the last execution left and prepares the next context. Returns false when
    /// the runtime should be replaced rather than reused.
    fn recycle(&mut self) -> bool {
        self.rt.run_gc();
        // Jobs still queued (or queued by the collection, e.g. FinalizationRegistry callbacks)
        // would run during the next execution: start over instead.
        if self.rt.is_job_pending() {
            return false;
        }
        // Nothing of the finished context should survive it; a runtime that is still heavy
        // (something leaked on an error path) is replaced rather than trusted.
        if self.state.budget.used() >= self.limits.memory_bytes / 2 {
            return false;
        }
        match new_context(&self.rt) {
            Ok(context) => {
                self.spare = Some(context);
                true
            }
            Err(_) => false,
        }
    }
}

/// Console output of one execution, bounded.
#[derive(Default)]
struct LogSink {
    lines: Vec<ConsoleLine>,
    bytes: usize,
    full: bool,
}

impl LogSink {
    fn push(&mut self, level: String, mut message: String) {
        if self.full {
            return;
        }
        let remaining = MAX_LOG_BYTES.saturating_sub(self.bytes);
        if self.lines.len() >= MAX_LOG_LINES || message.len() > remaining {
            if self.lines.len() < MAX_LOG_LINES && remaining > 0 {
                truncate_at_char(&mut message, remaining);
                self.lines.push(ConsoleLine { level, message });
            }
            self.full = true;
            self.lines.push(ConsoleLine {
                level: "warn".into(),
                message: "[pier] console output limit reached; further output was dropped".into(),
            });
            return;
        }
        self.bytes += message.len();
        self.lines.push(ConsoleLine { level, message });
    }
}

/// Shortens `s` to at most `max` bytes without splitting a character.
fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The intrinsics of an execution context: the ES built-ins scripts commonly use. Left out:
/// `performance` and `DOMException`.
type Intrinsics = (
    intrinsic::Eval,
    intrinsic::Json,
    intrinsic::Date,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::MapSet,
    intrinsic::Promise,
    intrinsic::Proxy,
    intrinsic::TypedArrays,
    intrinsic::WeakRef,
);

fn new_context(rt: &Runtime) -> Result<Context, String> {
    Context::custom::<Intrinsics>(rt).map_err(|e| format!("cannot create a JS context: {e}"))
}

/// The handler registered with `addHandler("transform", ...)`. Cleared when the execution ends
/// (a `Persistent` is a root the JS garbage collector cannot see through).
type HandlerSlot = Rc<RefCell<Option<Persistent<Function<'static>>>>>;

struct ClearOnDrop(HandlerSlot);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.borrow_mut().take();
    }
}

/// Installs `console`, `addHandler` and `process.env` on the fresh context's global object.
fn install_globals<'js>(
    ctx: &Ctx<'js>,
    env: &Value<'js>,
    logs: &Rc<RefCell<LogSink>>,
    slot: &HandlerSlot,
) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    let console = Object::new(ctx.clone())?;
    for level in ["log", "info", "warn", "error", "debug"] {
        let sink = Rc::clone(logs);
        let write = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
            let mut message = String::new();
            for (i, arg) in args.0.into_iter().enumerate() {
                if i > 0 {
                    message.push(' ');
                }
                message.push_str(&format_arg(&ctx, arg));
            }
            sink.borrow_mut().push(level.to_owned(), message);
        })?
        .with_name(level)?;
        console.set(level, write)?;
    }
    globals.set("console", console)?;

    let slot = Rc::clone(slot);
    let add_handler = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, name: Value<'js>, handler: Value<'js>| -> rquickjs::Result<()> {
            let Some(name) = name.as_string().and_then(|s| s.to_string().ok()) else {
                return Err(throw_type_error(&ctx, "addHandler: the event name must be a string"));
            };
            let Some(handler) = handler.into_function() else {
                return Err(throw_type_error(&ctx, "addHandler: the handler must be a function"));
            };
            if name == "transform" {
                *slot.borrow_mut() = Some(Persistent::save(&ctx, handler));
            }
            Ok(())
        },
    )?
    .with_name("addHandler")?;
    globals.set("addHandler", add_handler)?;

    let process = Object::new(ctx.clone())?;
    process.set("env", env.clone())?;
    globals.set("process", process)?;
    Ok(())
}

fn throw_type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    match rquickjs::Exception::from_message(ctx.clone(), message) {
        Ok(exception) => ctx.throw(exception.into_value()),
        Err(e) => e,
    }
}

/// How `console.*` shows one argument: strings as they are, errors with their stack, other
/// values as JSON (or `String(value)` when JSON has nothing to say).
fn format_arg<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    if let Some(s) = value.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if value.is_error() {
        return describe(ctx, value);
    }
    if let Some(symbol) = value.as_symbol() {
        let description =
            symbol.description().ok().and_then(|d| d.as_string().and_then(|s| s.to_string().ok())).unwrap_or_default();
        return format!("Symbol({description})");
    }
    if !value.is_function() && !value.is_symbol() {
        match ctx.json_stringify(value.clone()) {
            Ok(Some(json)) => {
                if let Ok(json) = json.to_string() {
                    return json;
                }
            }
            Ok(None) => {}
            Err(_) => {
                ctx.catch();
            }
        }
    }
    coerce_string(ctx, value)
}

fn run_in_context<'js>(
    ctx: &Ctx<'js>,
    job: &Job,
    logs: &Rc<RefCell<LogSink>>,
    state: &RunState,
) -> Result<String, Fail> {
    let setup = |e| classify(ctx, e, Phase::Setup, state);

    let slot: HandlerSlot = Rc::default();
    let _clear = ClearOnDrop(Rc::clone(&slot));
    let env: Value = ctx.json_parse(job.env_json.as_str()).map_err(setup)?;
    install_globals(ctx, &env, logs, &slot).map_err(setup)?;

    compile_and_run(ctx, &job.code, state)?;

    let handler = slot.borrow_mut().take();
    let Some(handler) = handler else {
        return Err(Fail::NoHandler);
    };
    let handler = handler.restore(ctx).map_err(setup)?;
    let request: Value = ctx.json_parse(job.request_json.as_str()).map_err(setup)?;
    let context = Object::new(ctx.clone()).map_err(setup)?;
    context.set("env", env).map_err(setup)?;

    let run = |e| classify(ctx, e, Phase::Run, state);
    let mut result: Value = handler.call((request, context)).map_err(run)?;

    // A promise (async handler) is settled by running the job queue, within the deadline.
    while let Some(promise) = result.as_promise().cloned() {
        match promise.state() {
            PromiseState::Pending => {
                if !ctx.execute_pending_job() {
                    return Err(Fail::Invalid("the handler returned a promise that never settles".into()));
                }
                if state.out_of_time() {
                    return Err(Fail::Timeout);
                }
            }
            PromiseState::Resolved | PromiseState::Rejected => {
                result = match promise.result::<Value>() {
                    Some(settled) => settled.map_err(run)?,
                    None => return Err(Fail::Internal("promise state changed".into())),
                };
            }
        }
    }
    // Let queued microtasks finish, as a JS host would before using the result.
    while ctx.execute_pending_job() {
        if state.out_of_time() {
            return Err(Fail::Timeout);
        }
    }
    if state.out_of_time() {
        return Err(Fail::Timeout);
    }

    check_returned_type(&result)?;
    let serialize = |e| classify(ctx, e, Phase::Serialize, state);
    match ctx.json_stringify(result).map_err(serialize)? {
        Some(json) => json.to_string().map_err(serialize),
        None => Err(Fail::Invalid("the returned request cannot be serialised to JSON".into())),
    }
}

/// Compiles first (so a syntax error is a `Compile` failure, not a throw), then runs the script.
fn compile_and_run(ctx: &Ctx<'_>, code: &str, state: &RunState) -> Result<(), Fail> {
    let source = CString::new(code).map_err(|_| Fail::Compile("the code contains a NUL character".into()))?;
    let raw = ctx.as_raw().as_ptr();
    let flags = (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as c_int;
    // SAFETY: `raw` is the live context `ctx` wraps; `source` is NUL-terminated and `code.len()`
    // is its length without the terminator, as JS_Eval requires.
    let func = unsafe { qjs::JS_Eval(raw, source.as_ptr(), code.len() as _, FILENAME.as_ptr(), flags) };
    // SAFETY: inspecting the tag of a value we own.
    if unsafe { qjs::JS_IsException(func) } {
        return Err(classify(ctx, rquickjs::Error::Exception, Phase::Compile, state));
    }
    // SAFETY: JS_EvalFunction takes ownership of `func`, a compiled script of this context; the
    // returned value is owned and handed to `Value`, which frees it.
    let completion = unsafe { Value::from_raw(ctx.clone(), qjs::JS_EvalFunction(raw, func)) };
    if completion.is_exception() {
        return Err(classify(ctx, rquickjs::Error::Exception, Phase::Run, state));
    }
    Ok(())
}

fn check_returned_type(value: &Value<'_>) -> Result<(), Fail> {
    let what = match value.type_of() {
        Type::Object | Type::Exception | Type::Proxy | Type::Promise => return Ok(()),
        Type::Undefined | Type::Uninitialized => "undefined",
        Type::Null => "null",
        Type::Bool => "a boolean",
        Type::Int | Type::Float => "a number",
        Type::String => "a string",
        Type::Symbol => "a symbol",
        Type::BigInt => "a bigint",
        Type::Array => "an array",
        Type::Function | Type::Constructor => "a function",
        Type::Module | Type::Unknown => "an unsupported value",
    };
    Err(Fail::Invalid(format!(
        "the handler returned {what}; it must return the request object (e.g. `return request;`)"
    )))
}

/// Turns an rquickjs error into a failure, consuming the pending JS exception if any.
fn classify(ctx: &Ctx<'_>, error: rquickjs::Error, phase: Phase, state: &RunState) -> Fail {
    let exception = match error {
        rquickjs::Error::Exception => Some(ctx.catch()),
        _ => None,
    };
    if state.interrupted.get() {
        return Fail::Timeout;
    }
    if state.budget.refused() || matches!(error, rquickjs::Error::Allocation) {
        return Fail::OutOfMemory;
    }
    let message = match exception {
        Some(exception) => {
            if is_out_of_memory(&exception) {
                return Fail::OutOfMemory;
            }
            let message = describe(ctx, exception);
            // Describing runs user code (getters, toString), which may itself run out of time.
            if state.interrupted.get() {
                return Fail::Timeout;
            }
            message
        }
        None => error.to_string(),
    };
    let mut message = message;
    if message.len() > MAX_ERROR_MESSAGE {
        truncate_at_char(&mut message, MAX_ERROR_MESSAGE);
        message.push_str("...");
    }
    match phase {
        Phase::Setup => Fail::Internal(message),
        Phase::Compile => Fail::Compile(message),
        Phase::Run => Fail::Threw(message),
        Phase::Serialize => Fail::Invalid(format!("the returned request cannot be serialised to JSON: {message}")),
    }
}

fn is_out_of_memory(exception: &Value<'_>) -> bool {
    let Some(object) = exception.as_object() else {
        return false;
    };
    if !exception.is_error() {
        return false;
    }
    let message: Option<String> = object.get("message").ok();
    let name: Option<String> = object.get("name").ok();
    if message.is_none() || name.is_none() {
        exception.ctx().catch();
    }
    message.as_deref() == Some("out of memory") && name.as_deref() == Some("InternalError")
}

/// A readable message for a thrown value: `Name: message` and the stack for errors, the string
/// itself for strings, JSON for other objects.
fn describe<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    if let Some(s) = value.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if value.is_error() {
        let head = coerce_string(ctx, value.clone());
        let stack =
            value.as_object().and_then(|o| o.get::<_, Option<String>>("stack").ok().flatten()).unwrap_or_default();
        let mut message = head;
        for (i, frame) in stack.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            if i == MAX_STACK_FRAMES {
                message.push_str("\n    ...");
                break;
            }
            message.push('\n');
            message.push_str(frame);
        }
        return message;
    }
    if value.is_object() && !value.is_function() {
        if let Ok(Some(json)) = ctx.json_stringify(value.clone()) {
            if let Ok(json) = json.to_string() {
                return json;
            }
        }
        ctx.catch();
    }
    coerce_string(ctx, value)
}

fn coerce_string<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    match Coerced::<String>::from_js(ctx, value) {
        Ok(Coerced(s)) => s,
        Err(_) => {
            ctx.catch();
            "<a value that cannot be converted to a string>".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn job(code: &str) -> (Job, Receiver<JobResult>) {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            code: code.into(),
            env_json: "{}".into(),
            request_json: r#"{"headers":{},"body":null,"query":"","parsed_query":{},"path":"/"}"#.into(),
            reply,
            control: Arc::default(),
        };
        job.control.begin();
        (job, answer)
    }

    fn execute(engine: &mut Engine, code: &str) -> JobResult {
        engine.execute(&job(code).0)
    }

    /// Engines need the worker's stack (the default test thread's 2 MiB is too small).
    fn on_worker_stack(body: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new().stack_size(THREAD_STACK_SIZE).spawn(body).unwrap().join().unwrap();
    }

    #[test]
    fn memory_is_returned_after_out_of_memory_and_the_runtime_is_kept() {
        on_worker_stack(|| {
            let mut engine = Engine::new(Limits::default()).unwrap();
            assert!(execute(&mut engine, "addHandler('transform', r => r)").is_ok());
            assert!(engine.recycle());
            let baseline = engine.state.budget.used();
            let result = execute(&mut engine, "let a = []; while (true) a.push(new Array(1e6).fill(1));");
            assert!(matches!(result, Err(TransformError::OutOfMemory { .. })));
            assert!(engine.recycle(), "runtime should be reusable after OOM");
            let after = engine.state.budget.used();
            assert!(after < baseline + 1024 * 1024, "baseline {baseline}, after {after}");
            assert!(execute(&mut engine, "addHandler('transform', r => r)").is_ok());
        });
    }

    #[test]
    fn pending_jobs_make_the_runtime_be_replaced_and_dropping_it_is_safe() {
        on_worker_stack(|| {
            let mut engine =
                Engine::new(Limits { cpu_time: std::time::Duration::from_millis(50), ..Limits::default() }).unwrap();
            let result = execute(
                &mut engine,
                "addHandler('transform', (r) => { (function loop() { Promise.resolve().then(loop); })(); return r; });",
            );
            assert!(matches!(result, Err(TransformError::Timeout { .. })), "{result:?}");
            assert!(!engine.recycle());
            drop(engine);
        });
    }

    #[test]
    fn runtimes_can_be_dropped_after_every_kind_of_failure() {
        on_worker_stack(|| {
            for code in [
                "while (true) {}",
                "let a = []; while (true) a.push(new Array(1e6).fill(1));",
                "const m = new Map(); for (let i = 0; ; i++) m.set(i, { i });",
                "function f() { return f(); } f();",
                "addHandler('transform', () => new Promise(() => {}));",
                "addHandler('transform', (r) => { r.body = { r }; r.body.r.x = r.body; return r; });",
                "syntax error (",
            ] {
                let mut engine =
                    Engine::new(Limits { cpu_time: std::time::Duration::from_millis(200), ..Limits::default() })
                        .unwrap();
                assert!(execute(&mut engine, code).is_err(), "{code}");
                engine.recycle();
                drop(engine);
            }
        });
    }

    #[test]
    fn finalization_callbacks_do_not_outlive_their_execution() {
        on_worker_stack(|| {
            let mut engine = Engine::new(Limits::default()).unwrap();
            let result = execute(
                &mut engine,
                "globalThis.reg = new FinalizationRegistry(() => { for (;;) {} }); \
                 globalThis.keep = {}; reg.register(keep, 1); addHandler('transform', r => r);",
            );
            assert!(result.is_ok(), "{result:?}");
            let healthy = engine.recycle();
            // Either nothing was queued, or the runtime is replaced: never run later.
            assert!(!healthy || !engine.rt.is_job_pending());
            if healthy {
                assert!(execute(&mut engine, "addHandler('transform', r => r)").is_ok());
            }
        });
    }
}
