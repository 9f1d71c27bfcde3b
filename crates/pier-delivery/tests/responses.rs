//! What the delivery client makes of a destination's answer, against a raw TCP server that
//! writes exactly the bytes given: a body past the cap is cut at the cap, `Retry-After` is
//! read, a response cut off mid-body or not HTTP at all has Hookdeck's error code, and a
//! response that never ends is a timeout within the deadline.

use bytes::Bytes;
use pier_core::retry::AttemptResult;
use pier_delivery::client::{ClientOptions, HttpClient};
use pier_delivery::send::{perform, Performed, Prepared, UrlCache};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(20);

/// A server that reads one request head and answers every connection with `answer`, then
/// keeps the connection open (`hold`) or closes it. Returns its URL.
async fn scripted(answer: &'static [u8], hold: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tcp.write_all(answer).await;
                if hold {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    url
}

async fn deliver(url: String, timeout: Duration, cap: usize) -> Performed {
    let client = HttpClient::new(ClientOptions {
        allow_private: true,
        connect_timeout: Duration::from_secs(5),
        max_idle_per_host: 4,
        extra_roots: Vec::new(),
    })
    .unwrap();
    let p = Prepared { method: "POST".into(), url, headers: Vec::new(), body: Bytes::from_static(b"{}") };
    let urls = UrlCache::default();
    let sent = perform(&client, &urls, &p, timeout, cap, true, || 1_000_000);
    tokio::time::timeout(LIMIT, sent).await.expect("the delivery did not finish")
}

fn code(p: &Performed) -> &'static str {
    match p.result {
        AttemptResult::NoResponse { error_code } => error_code,
        AttemptResult::Response { .. } => panic!("a response where a failure was expected: {p:?}"),
    }
}

#[tokio::test]
async fn a_body_past_the_cap_is_cut_at_the_cap() {
    let url = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz", false).await;
    let done = deliver(url, Duration::from_secs(10), 10).await;
    assert!(matches!(done.result, AttemptResult::Response { status: 200, .. }), "{done:?}");
    assert_eq!(done.body.as_deref(), Some("abcdefghij"));
}

#[tokio::test]
async fn retry_after_is_read() {
    let url = scripted(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\ncontent-length: 0\r\n\r\n", false).await;
    let done = deliver(url, Duration::from_secs(10), 1024).await;
    match done.result {
        AttemptResult::Response { status, retry_after } => {
            assert_eq!(status, 503);
            assert_eq!(retry_after, Some(7_000), "the delay, in ms");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_response_cut_off_mid_body_is_a_closed_socket() {
    let url = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b", false).await;
    let done = deliver(url, Duration::from_secs(10), 1024).await;
    assert_eq!(code(&done), "SOCKET_CLOSED", "{:?}", done.body);
    assert!(done.body.as_deref().unwrap_or_default().contains("after status 200"), "{:?}", done.body);
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_a_protocol_error() {
    let url = scripted(b"HELLO THERE\r\n\r\n", false).await;
    let done = deliver(url, Duration::from_secs(10), 1024).await;
    assert_eq!(code(&done), "PROTOCOL_ERROR", "{:?}", done.body);
}

#[tokio::test]
async fn a_body_that_never_ends_times_out_within_the_deadline() {
    let url = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nstarted", true).await;
    let started = Instant::now();
    let done = deliver(url, Duration::from_secs(1), 1024).await;
    assert_eq!(code(&done), "TIMEOUT", "{:?}", done.body);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}
