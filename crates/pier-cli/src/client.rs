//! A small client of the management API (version 2024-03-01): JSON in, JSON out, and errors
//! turned into sentences that say what to do next.

use anyhow::anyhow;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

pub const API_VERSION: &str = "2024-03-01";
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8484";

pub struct Client {
    http: reqwest::Client,
    server: String,
    api_key: String,
}

impl Client {
    /// The server and key this client uses (for `pier listen`'s tunnel).
    pub fn credentials(&self) -> (String, String) {
        (self.server.clone(), self.api_key.clone())
    }
}

/// Query-string pairs.
pub type Query = Vec<(&'static str, String)>;

impl Client {
    pub fn new(server: &str, api_key: &str) -> anyhow::Result<Client> {
        let server = server.trim_end_matches('/').to_string();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            anyhow::bail!("invalid server '{server}': give an http:// or https:// URL, e.g. {DEFAULT_SERVER}");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("pier-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Client { http, server, api_key: api_key.to_string() })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub async fn get(&self, path: &str, query: &Query) -> anyhow::Result<Value> {
        self.send(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        self.send(Method::POST, path, &Vec::new(), body).await
    }

    pub async fn put(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        self.send(Method::PUT, path, &Vec::new(), body).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, &Vec::new(), None).await
    }

    /// `path` starts with `/` and is relative to the API version, e.g. `/sources`.
    pub async fn send(&self, method: Method, path: &str, query: &Query, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}/{API_VERSION}{path}", self.server);
        let mut req = self.http.request(method, &url).bearer_auth(&self.api_key).header("accept", "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| {
                anyhow!("{} answered {status} with a body that is not JSON; is --server a pier server?", self.server)
            });
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_string());
        Err(api_error(status.as_u16(), &message, path))
    }

    fn transport_error(&self, e: &reqwest::Error) -> anyhow::Error {
        if e.is_timeout() {
            anyhow!("{} did not answer in time; is the server overloaded? try again", self.server)
        } else {
            anyhow!("cannot reach {}: is pier serve running? set --server or PIER_SERVER", self.server)
        }
    }
}

/// The resource a path names (`/sources/src_1/disable` → `sources`).
fn resource(path: &str) -> &str {
    path.trim_start_matches('/').split(['/', '?']).next().unwrap_or("")
}

/// One sentence per kind of refusal, with the API's own message and a next step.
pub fn api_error(status: u16, message: &str, path: &str) -> anyhow::Error {
    let message = message.trim_end_matches('.');
    match status {
        401 | 403 => {
            anyhow!("the api key was refused ({status}: {message}); run pier login --api-key KEY or set PIER_API_KEY")
        }
        404 => {
            let list = match resource(path) {
                r @ ("sources" | "destinations" | "connections" | "requests" | "events" | "attempts"
                | "transformations") => {
                    format!("; see pier {r} list")
                }
                _ => String::new(),
            };
            anyhow!("{message} (404){list}")
        }
        429 => anyhow!("the server is rate limiting this project (429: {message}); try again in a moment"),
        400..=499 => anyhow!("the server refused the request ({status}): {message}"),
        _ => anyhow!("the server failed ({status}): {message}; see its log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        let e = api_error(401, "invalid API key", "/sources").to_string();
        assert!(e.contains("pier login") && e.contains("invalid API key"), "{e}");
        let e = api_error(404, "source not found", "/sources/src_x").to_string();
        assert_eq!(e, "source not found (404); see pier sources list");
        let e = api_error(422, "name: is required", "/connections").to_string();
        assert_eq!(e, "the server refused the request (422): name: is required");
        assert!(api_error(503, "storage is unavailable", "/events").to_string().contains("see its log"));
        assert_eq!(resource("/events/evt_1/retry"), "events");
    }
}
