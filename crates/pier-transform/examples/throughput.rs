//! Transforms per second on one worker: `cargo run --release --example throughput [seconds]`.
//!
//! Adds a header and a body field to a ~300-byte JSON body, calling `Sandbox::run` in a loop
//! from one thread (latency-bound: the worker prepares the next context while the caller
//! validates the result) and then from four threads (the worker saturated).

use std::time::{Duration, Instant};

use pier_transform::{Limits, Sandbox, TransformInput};
use serde_json::{json, Map};

const CODE: &str = r#"
addHandler("transform", (request, context) => {
  request.headers["x-event-type"] = request.body.type;
  request.body.processed = true;
  request.body.region = context.env.REGION;
  return request;
});
"#;

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let sandbox = Sandbox::new(1, Limits::default());
    let mut env = Map::new();
    env.insert("REGION".into(), json!("eu-west-1"));
    let mut headers = Map::new();
    headers.insert("content-type".into(), json!("application/json"));
    headers.insert("user-agent".into(), json!("Shopify-Captain-Hook"));
    let body = json!({
        "id": 820982911946154508u64,
        "type": "orders/create",
        "email": "jon@example.com",
        "created_at": "2024-01-02T10:00:00-05:00",
        "total_price": "199.00",
        "currency": "USD",
        "customer": {"id": 115310627314723954u64, "first_name": "John", "last_name": "Smith"},
        "line_items": [{"sku": "IPOD2008PINK", "quantity": 1, "price": "199.00"}],
        "tags": "imported, vip"
    });
    let input = TransformInput {
        headers,
        body,
        query: "shop=example".into(),
        parsed_query: json!({"shop": "example"}),
        path: "/webhooks/shopify".into(),
    };
    println!("body: {} bytes", serde_json::to_string(&input.body).unwrap().len());
    // Warm up (first execution creates the runtime).
    for _ in 0..100 {
        sandbox.run(CODE, &env, input.clone()).unwrap();
    }
    let sandbox = std::sync::Arc::new(sandbox);
    for callers in [1usize, 4] {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let threads: Vec<_> = (0..callers)
            .map(|_| {
                let (sandbox, env, input) = (sandbox.clone(), env.clone(), input.clone());
                std::thread::spawn(move || {
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        let out = sandbox.run(CODE, &env, input.clone()).unwrap();
                        assert_eq!(out.request.body["processed"], json!(true));
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let count: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "1 worker, {callers} calling thread(s): {count} transforms in {elapsed:.2} s = {:.0} transforms/s ({:.1} µs each)",
            count as f64 / elapsed,
            elapsed * 1e6 / count as f64
        );
    }
}
