use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use pier_transform::{Limits, Sandbox, TransformError, TransformInput, TransformOutput};
use serde_json::{json, Map, Value};

/// Runs a test body on its own thread and fails the test if it takes longer than `secs`.
fn bounded<T: Send + 'static>(secs: u64, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("test did not finish within {secs} s"),
    }
}

fn input() -> TransformInput {
    let mut headers = Map::new();
    headers.insert("content-type".into(), json!("application/json"));
    headers.insert("x-original".into(), json!("yes"));
    TransformInput {
        headers,
        body: json!({"type": "order.created", "id": 42, "items": [{"sku": "a"}]}),
        query: "a=1&b=2".into(),
        parsed_query: json!({"a": "1", "b": "2"}),
        path: "/webhooks/shop".into(),
    }
}

fn no_env() -> Map<String, Value> {
    Map::new()
}

fn sandbox() -> Sandbox {
    Sandbox::new(1, Limits::default())
}

fn run(sb: &Sandbox, code: &str) -> Result<TransformOutput, TransformError> {
    sb.run(code, &no_env(), input())
}

const IDENTITY: &str = r#"addHandler("transform", (request, context) => request);"#;

#[test]
fn happy_path_changes_headers_body_and_path() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(
            &sb,
            r#"
            addHandler("transform", (request, context) => {
              request.headers["x-event-type"] = request.body.type;
              request.body = { kind: request.body.type, order: request.body.id, n: request.body.items.length };
              request.path = request.path + "/v2";
              request.query = "c=3";
              return request;
            });
            "#,
        )
        .unwrap();
        let req = out.request;
        assert_eq!(req.headers["x-event-type"], json!("order.created"));
        assert_eq!(req.headers["x-original"], json!("yes"));
        assert_eq!(req.body, json!({"kind": "order.created", "order": 42, "n": 1}));
        assert_eq!(req.path, "/webhooks/shop/v2");
        assert_eq!(req.query, "c=3");
        assert_eq!(req.parsed_query, json!({"a": "1", "b": "2"}));
        assert!(out.logs.is_empty());
    });
}

#[test]
fn identity_round_trips_the_request_and_sees_all_fields() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(&sb, IDENTITY).unwrap();
        assert_eq!(out.request, input());
        let out = run(
            &sb,
            r#"addHandler("transform", (r) => { console.log(r.query, r.parsed_query.b, r.path); return r; });"#,
        )
        .unwrap();
        assert_eq!(out.logs[0].message, "a=1&b=2 2 /webhooks/shop");
    });
}

#[test]
fn non_json_and_missing_bodies_pass_through() {
    bounded(10, || {
        let sb = sandbox();
        let mut text = input();
        text.body = json!("<xml>hi</xml>");
        let out = sb
            .run(r#"addHandler("transform", (r) => { r.body = r.body.toUpperCase(); return r; });"#, &no_env(), text)
            .unwrap();
        assert_eq!(out.request.body, json!("<XML>HI</XML>"));

        let mut empty = input();
        empty.body = Value::Null;
        let out = sb
            .run(
                r#"addHandler("transform", (r) => { r.headers["x-null"] = String(r.body === null); return r; });"#,
                &no_env(),
                empty,
            )
            .unwrap();
        assert_eq!(out.request.body, Value::Null);
        assert_eq!(out.request.headers["x-null"], json!("true"));
    });
}

#[test]
fn missing_fields_keep_path_and_query_and_drop_body() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(&sb, r#"addHandler("transform", (r) => ({ headers: { a: "b" } }));"#).unwrap();
        assert_eq!(out.request.headers.len(), 1);
        assert_eq!(out.request.body, Value::Null);
        assert_eq!(out.request.path, "/webhooks/shop");
        assert_eq!(out.request.query, "a=1&b=2");
    });
}

#[test]
fn env_via_process_env_and_context_env() {
    bounded(10, || {
        let sb = sandbox();
        let mut env = Map::new();
        env.insert("API_KEY".into(), json!("s3cret"));
        env.insert("REGION".into(), json!("eu"));
        let out = sb
            .run(
                r#"
                addHandler("transform", (request, context) => {
                  request.headers["x-api-key"] = process.env.API_KEY;
                  request.headers["x-region"] = context.env.REGION;
                  request.headers["x-missing"] = String(process.env.NOPE);
                  return request;
                });
                "#,
                &env,
                input(),
            )
            .unwrap();
        assert_eq!(out.request.headers["x-api-key"], json!("s3cret"));
        assert_eq!(out.request.headers["x-region"], json!("eu"));
        assert_eq!(out.request.headers["x-missing"], json!("undefined"));
    });
}

#[test]
fn console_levels_are_captured() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(
            &sb,
            r#"
            console.log("top level", 1);
            addHandler("transform", (request) => {
              console.log("a", 1, true, null, undefined);
              console.info({ x: [1, 2] });
              console.warn("w");
              console.error(new Error("bad"));
              console.debug("d", "e");
              return request;
            });
            "#,
        )
        .unwrap();
        let levels: Vec<&str> = out.logs.iter().map(|l| l.level.as_str()).collect();
        assert_eq!(levels, ["log", "log", "info", "warn", "error", "debug"]);
        assert_eq!(out.logs[0].message, "top level 1");
        assert_eq!(out.logs[1].message, "a 1 true null undefined");
        assert_eq!(out.logs[2].message, r#"{"x":[1,2]}"#);
        assert_eq!(out.logs[3].message, "w");
        assert!(out.logs[4].message.starts_with("Error: bad"), "{:?}", out.logs[4]);
        assert_eq!(out.logs[5].message, "d e");
    });
}

#[test]
fn console_output_is_bounded() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(
            &sb,
            r#"addHandler("transform", (r) => { for (let i = 0; i < 100000; i++) console.log("line " + i); return r; });"#,
        )
        .unwrap();
        assert!(out.logs.len() <= pier_transform::MAX_LOG_LINES + 1);
        assert!(out.logs.last().unwrap().message.contains("limit"));
    });
}

#[test]
fn throw_is_reported_with_message_and_logs() {
    bounded(10, || {
        let sb = sandbox();
        let err = run(
            &sb,
            r#"addHandler("transform", (r) => { console.log("before"); throw new TypeError("boom " + r.body.id); });"#,
        )
        .unwrap_err();
        match &err {
            TransformError::Threw { message, logs } => {
                assert!(message.starts_with("TypeError: boom 42"), "{message}");
                assert!(message.contains("transformation.js"), "stack: {message}");
                assert_eq!(logs.len(), 1);
            }
            other => panic!("expected Threw, got {other:?}"),
        }
        assert_eq!(err.logs()[0].message, "before");

        let err = run(&sb, r#"throw "plain string";"#).unwrap_err();
        assert_eq!(err, TransformError::Threw { message: "plain string".into(), logs: vec![] });
        let err = run(&sb, r#"addHandler("transform", () => { throw { code: 7 }; });"#).unwrap_err();
        assert!(matches!(err, TransformError::Threw { ref message, .. } if message == r#"{"code":7}"#), "{err:?}");
    });
}

#[test]
fn infinite_loop_times_out() {
    bounded(10, || {
        let sb = sandbox();
        let started = Instant::now();
        let err =
            run(&sb, r#"addHandler("transform", (r) => { console.log("spinning"); while (true) {} });"#).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, TransformError::Timeout { .. }), "{err:?}");
        assert_eq!(err.logs().len(), 1);
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        assert!(took >= Duration::from_millis(900), "took {took:?}");

        // try/catch cannot swallow the interruption, and top-level loops are covered too.
        let err = run(&sb, r#"try { for (;;) {} } catch (e) {} addHandler("transform", r => r);"#).unwrap_err();
        assert!(matches!(err, TransformError::Timeout { .. }), "{err:?}");

        // The same runtime works afterwards.
        run(&sb, IDENTITY).unwrap();
    });
}

#[test]
fn short_limit_is_honoured() {
    bounded(10, || {
        let sb = Sandbox::new(1, Limits { cpu_time: Duration::from_millis(100), ..Limits::default() });
        let started = Instant::now();
        let err = run(&sb, "while (true) {}").unwrap_err();
        assert!(matches!(err, TransformError::Timeout { .. }));
        assert!(started.elapsed() < Duration::from_millis(600));
    });
}

#[test]
fn unbounded_allocation_is_out_of_memory() {
    bounded(20, || {
        let sb = sandbox();
        let err = run(&sb, r#"let a = []; while (true) a.push(new Array(1e6).fill(1));"#).unwrap_err();
        assert!(matches!(err, TransformError::OutOfMemory { .. }), "{err:?}");

        // Many small objects (a smaller limit keeps this fast in debug builds).
        let sb = Sandbox::new(1, Limits { memory_bytes: 8 * 1024 * 1024, ..Limits::default() });
        let err = run(&sb, r#"let a = []; while (true) a.push(new Array(1e6).fill(1));"#).unwrap_err();
        assert!(matches!(err, TransformError::OutOfMemory { .. }), "{err:?}");

        let err = run(
            &sb,
            r#"addHandler("transform", (r) => { const m = new Map(); for (let i = 0; ; i++) m.set(i, { i, s: "v" + i }); });"#,
        )
        .unwrap_err();
        assert!(matches!(err, TransformError::OutOfMemory { .. }), "{err:?}");

        // Catching the error does not help: the next allocation fails too.
        let err = run(
            &sb,
            r#"addHandler("transform", (r) => { const keep = []; for (;;) { try { keep.push(new Array(1e6).fill(2)); } catch (e) { console.log("caught", String(e)); throw e; } } });"#,
        )
        .unwrap_err();
        assert!(matches!(err, TransformError::OutOfMemory { .. }), "{err:?}");

        run(&sb, IDENTITY).unwrap();
    });
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    bounded(10, || {
        let sb = sandbox();
        let err =
            run(&sb, r#"function f(n) { return f(n + 1) + 1; } addHandler("transform", (r) => { f(0); return r; });"#)
                .unwrap_err();
        match &err {
            TransformError::Threw { message, .. } => {
                assert!(message.contains("call stack"), "{message}")
            }
            other => panic!("expected Threw, got {other:?}"),
        }
        // Deeply nested data in JSON.stringify of the result is also bounded.
        let err = run(
            &sb,
            r#"addHandler("transform", (r) => { let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; r.body = o; return r; });"#,
        )
        .unwrap_err();
        assert!(matches!(err, TransformError::InvalidReturn { .. } | TransformError::Threw { .. }), "{err:?}");
        run(&sb, IDENTITY).unwrap();
    });
}

#[test]
fn invalid_returns_are_rejected_with_clear_messages() {
    bounded(10, || {
        let sb = sandbox();
        let cases = [
            (r#"addHandler("transform", () => 42);"#, "returned a number"),
            (r#"addHandler("transform", () => null);"#, "returned null"),
            (r#"addHandler("transform", () => {});"#, "returned undefined"),
            (r#"addHandler("transform", () => [1]);"#, "returned an array"),
            (r#"addHandler("transform", () => ({ body: {} }));"#, "no `headers`"),
            (r#"addHandler("transform", () => ({ headers: "x" }));"#, "`headers` must be an object"),
            (
                r#"addHandler("transform", (r) => { r.headers["x-n"] = 5; return r; });"#,
                "header \"x-n\" must be a string, got a number",
            ),
            (r#"addHandler("transform", (r) => { r.path = 3; return r; });"#, "`path` must be a string"),
            (r#"addHandler("transform", (r) => { r.query = {}; return r; });"#, "`query` must be a string"),
            (
                r#"addHandler("transform", (r) => { r.body = { me: r.body }; r.body.me.self = r.body; return r; });"#,
                "cannot be serialised",
            ),
            (r#"addHandler("transform", (r) => { r.body = 10n; return r; });"#, "cannot be serialised"),
        ];
        for (code, expected) in cases {
            match run(&sb, code) {
                Err(TransformError::InvalidReturn { message, .. }) => {
                    assert!(message.contains(expected), "{code}: {message}")
                }
                other => panic!("{code}: expected InvalidReturn, got {other:?}"),
            }
        }
    });
}

#[test]
fn missing_handler_is_no_handler() {
    bounded(10, || {
        let sb = sandbox();
        let err = run(&sb, r#"console.log("hi"); const x = 1;"#).unwrap_err();
        assert!(matches!(err, TransformError::NoHandler { .. }), "{err:?}");
        assert_eq!(err.logs()[0].message, "hi");
        let err = run(&sb, r#"addHandler("other", r => r);"#).unwrap_err();
        assert!(matches!(err, TransformError::NoHandler { .. }), "{err:?}");
        let err = run(&sb, r#"addHandler("transform", 5);"#).unwrap_err();
        assert!(matches!(err, TransformError::Threw { .. }), "{err:?}");
    });
}

#[test]
fn syntax_error_is_compile() {
    bounded(10, || {
        let sb = sandbox();
        let err = run(&sb, r#"addHandler("transform", (r) => { return r; "#).unwrap_err();
        match &err {
            TransformError::Compile { message } => {
                assert!(message.starts_with("SyntaxError"), "{message}")
            }
            other => panic!("expected Compile, got {other:?}"),
        }
        let err = run(&sb, "import fs from 'fs';").unwrap_err();
        assert!(matches!(err, TransformError::Compile { .. }), "{err:?}");
        // A SyntaxError thrown at run time is a throw, not a compile error.
        let err = run(&sb, "JSON.parse('{');").unwrap_err();
        assert!(matches!(err, TransformError::Threw { .. }), "{err:?}");
        let err = run(&sb, "a\0b").unwrap_err();
        assert!(matches!(err, TransformError::Compile { .. }), "{err:?}");
    });
}

#[test]
fn no_modules_no_io_no_timers() {
    bounded(10, || {
        let sb = sandbox();
        for code in [
            r#"const fs = require('fs'); addHandler("transform", r => r);"#,
            r#"addHandler("transform", (r) => { setTimeout(() => {}, 10); return r; });"#,
            r#"addHandler("transform", (r) => { setInterval(() => {}, 10); return r; });"#,
            r#"addHandler("transform", (r) => { fetch("http://127.0.0.1/"); return r; });"#,
            r#"addHandler("transform", async (r) => { await import('fs'); return r; });"#,
        ] {
            let err = run(&sb, code).unwrap_err();
            assert!(matches!(err, TransformError::Threw { .. }), "{code}: {err:?}");
        }
        let out = run(
            &sb,
            r#"addHandler("transform", (r) => {
                r.headers.x = [typeof require, typeof setTimeout, typeof fetch, typeof std, typeof os, typeof XMLHttpRequest].join(",");
                return r; });"#,
        )
        .unwrap();
        assert_eq!(out.request.headers["x"], json!("undefined,undefined,undefined,undefined,undefined,undefined"));
    });
}

#[test]
fn promises_are_resolved() {
    bounded(10, || {
        let sb = sandbox();
        let out =
            run(&sb, r#"addHandler("transform", async (r) => { await null; r.headers.async = "yes"; return r; });"#)
                .unwrap();
        assert_eq!(out.request.headers["async"], json!("yes"));
        let err = run(&sb, r#"addHandler("transform", async (r) => { await null; throw new Error("later"); });"#)
            .unwrap_err();
        assert!(
            matches!(err, TransformError::Threw { ref message, .. } if message.starts_with("Error: later")),
            "{err:?}"
        );
        let err = run(&sb, r#"addHandler("transform", () => new Promise(() => {}));"#).unwrap_err();
        assert!(matches!(err, TransformError::InvalidReturn { .. }), "{err:?}");
        // An endless chain of microtasks is stopped by the deadline.
        let err = run(&sb, r#"addHandler("transform", async (r) => { for (;;) await null; });"#).unwrap_err();
        assert!(matches!(err, TransformError::Timeout { .. }), "{err:?}");
        // Microtasks left behind by one run do not run in the next one.
        let out = run(
            &sb,
            r#"addHandler("transform", (r) => { Promise.resolve().then(() => console.log("tick")); return r; });"#,
        )
        .unwrap();
        assert_eq!(out.logs.len(), 1);
        let out = run(&sb, IDENTITY).unwrap();
        assert!(out.logs.is_empty());
    });
}

#[test]
fn no_state_leaks_between_runs() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(
            &sb,
            r#"
            globalThis.leaked = "secret"; var v = 1; let l = 2;
            Object.prototype.polluted = "yes";
            JSON.stringify = () => "hijacked";
            console.log = () => {};
            process.env.INJECTED = "x";
            addHandler("transform", r => r);
            "#,
        )
        .unwrap();
        assert_eq!(out.request, input());
        let out = run(
            &sb,
            r#"addHandler("transform", (r) => {
                r.headers.seen = [typeof leaked, typeof v, typeof l, String(({}).polluted), String(process.env.INJECTED)].join(",");
                console.log("still captured");
                return r; });"#,
        )
        .unwrap();
        assert_eq!(out.request.headers["seen"], json!("undefined,undefined,undefined,undefined,undefined"));
        assert_eq!(out.logs.len(), 1);
        // A handler registered in one run is not there in the next.
        let err = run(&sb, "1 + 1;").unwrap_err();
        assert!(matches!(err, TransformError::NoHandler { .. }), "{err:?}");
    });
}

#[test]
fn concurrent_runs_from_many_threads() {
    bounded(30, || {
        let sb = Arc::new(Sandbox::new(2, Limits::default()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let sb = Arc::clone(&sb);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let mut env = Map::new();
                        env.insert("T".into(), json!(t.to_string()));
                        let mut req = input();
                        req.body = json!({ "i": i });
                        let out = sb
                            .run(
                                r#"addHandler("transform", (r, c) => { r.body.t = c.env.T; r.body.i2 = r.body.i * 2; return r; });"#,
                                &env,
                                req,
                            )
                            .unwrap();
                        assert_eq!(out.request.body, json!({ "i": i, "t": t.to_string(), "i2": i * 2 }));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn pool_survives_failing_jobs() {
    bounded(30, || {
        let sb = Arc::new(Sandbox::new(2, Limits::default()));
        let bad = [
            "while (true) {}",
            "let a = []; while (true) a.push(new Array(1e6).fill(1));",
            "function f() { return f(); } f();",
            "throw new Error('x');",
            "syntax error here",
            r#"addHandler("transform", () => 1);"#,
        ];
        let threads: Vec<_> = bad
            .iter()
            .map(|code| {
                let sb = Arc::clone(&sb);
                let code = code.to_string();
                std::thread::spawn(move || {
                    assert!(sb.run(&code, &Map::new(), input()).is_err());
                    sb.run(IDENTITY, &Map::new(), input()).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for _ in 0..10 {
            assert_eq!(run(&sb, IDENTITY).unwrap().request, input());
        }
    });
}

#[test]
fn deeply_nested_source_and_data_do_not_crash() {
    bounded(20, || {
        let sb = sandbox();
        let code = format!("let x = {}1{};", "[".repeat(200_000), "]".repeat(200_000));
        let err = run(&sb, &code).unwrap_err();
        assert!(matches!(err, TransformError::Compile { .. } | TransformError::OutOfMemory { .. }), "{err:?}");
        let err =
            run(&sb, r#"addHandler("transform", (r) => { JSON.parse("[".repeat(1e6)); return r; });"#).unwrap_err();
        assert!(matches!(err, TransformError::Threw { .. }), "{err:?}");
        let err =
            run(&sb, r#"addHandler("transform", (r) => { /(a*)*b/.test("a".repeat(1e5)); return r; });"#).unwrap_err();
        assert!(matches!(err, TransformError::Threw { .. } | TransformError::Timeout { .. }), "{err:?}");
        run(&sb, IDENTITY).unwrap();
    });
}

#[test]
fn input_larger_than_the_memory_limit_is_out_of_memory() {
    bounded(20, || {
        let sb = Sandbox::new(1, Limits { memory_bytes: 4 * 1024 * 1024, ..Limits::default() });
        let mut big = input();
        big.body = json!({ "blob": "x".repeat(8 * 1024 * 1024) });
        let err = sb.run(IDENTITY, &no_env(), big).unwrap_err();
        assert!(matches!(err, TransformError::OutOfMemory { .. }), "{err:?}");
        assert_eq!(run(&sb, IDENTITY).unwrap().request, input());
    });
}

#[test]
fn last_registration_wins_and_other_events_are_ignored() {
    bounded(10, || {
        let sb = sandbox();
        let out = run(
            &sb,
            r#"
            addHandler("transform", (r) => { r.headers.v = "1"; return r; });
            addHandler("transform", (r) => { r.headers.v = "2"; return r; });
            addHandler("something-else", (r) => { throw new Error("not called"); });
            "#,
        )
        .unwrap();
        assert_eq!(out.request.headers["v"], json!("2"));
    });
}

#[test]
fn dropping_the_sandbox_stops_its_workers() {
    bounded(10, || {
        let sb = Sandbox::new(3, Limits::default());
        assert_eq!(sb.workers(), 3);
        run(&sb, IDENTITY).unwrap();
        drop(sb);
    });
}

#[test]
fn huge_messages_are_truncated() {
    bounded(10, || {
        let sb = sandbox();
        let err = run(&sb, r#"throw new Error("é".repeat(1e6));"#).unwrap_err();
        match err {
            TransformError::Threw { message, .. } => assert!(message.len() < 20_000),
            other => panic!("{other:?}"),
        }
        let out = run(&sb, r#"console.log("ü".repeat(1e6)); console.log("after"); addHandler("transform", r => r);"#)
            .unwrap();
        assert_eq!(out.logs.len(), 2);
        assert!(out.logs[0].message.len() <= pier_transform::MAX_LOG_BYTES);
        assert!(out.logs[1].message.contains("limit"));
    });
}

#[test]
fn uninterruptible_native_loop_is_written_off_and_replaced() {
    bounded(60, || {
        let limits = Limits { cpu_time: Duration::from_millis(200), ..Limits::default() };
        let sb = Arc::new(Sandbox::new(1, limits));
        // `join` over a huge sparse array loops in C without polling the interrupt handler.
        let started = Instant::now();
        let err = run(&sb, r#"Array(2 ** 27).join("");"#).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, TransformError::Timeout { .. }), "{err:?}");
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        // A replacement worker serves the next job while the stuck one still spins.
        let started = Instant::now();
        assert_eq!(run(&sb, IDENTITY).unwrap().request, input());
        assert!(started.elapsed() < Duration::from_millis(1000));
        for _ in 0..20 {
            run(&sb, IDENTITY).unwrap();
        }
    });
}

#[test]
fn object_key_order_is_kept() {
    bounded(10, || {
        let sb = sandbox();
        let out =
            run(&sb, r#"addHandler("transform", (r) => { r.body = { z: 1, a: 2, m: { y: 1, b: 2 } }; return r; });"#)
                .unwrap();
        assert_eq!(serde_json::to_string(&out.request.body).unwrap(), r#"{"z":1,"a":2,"m":{"y":1,"b":2}}"#);
    });
}
