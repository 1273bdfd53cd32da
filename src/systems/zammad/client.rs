//! Zammad's REST API, with the retries a network and a busy server need: a request that was
//! not taken (no connection, rate-limited with 429) is retried after a pause; a read or an
//! update (which repeat harmlessly) is also retried after a timeout or a 5xx. A create that
//! timed out is not: Zammad may have taken it, so the batch fails, is replayed, and the
//! replay looks before writing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::ZammadError;

/// Tries per request before the error goes up (to the pipeline's outage backoff, which
/// waits however long it takes).
const TRIES: u32 = 4;
/// The longest pause ticketlens honours from a `Retry-After` within one request.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

pub(super) struct Client {
    http: reqwest::Client,
    /// `https://host/api/v1`.
    api: String,
    authorization: String,
}

impl Client {
    pub fn new(url: &str, token: &str, timeout: Duration) -> Result<Self, ZammadError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("ticketlens/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ZammadError::Unreachable {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            api: format!("{}/api/v1", url.trim_end_matches('/')),
            authorization: format!("Token token={token}"),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ZammadError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value, ZammadError> {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// A create: retried only when Zammad cannot have taken it.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, ZammadError> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ZammadError> {
        let repeatable = method != Method::POST;
        let mut pause = Duration::from_millis(500);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.api))
                .header("Authorization", &self.authorization);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        let text = response.text().await.map_err(|e| self.lost(path, e))?;
                        if text.trim().is_empty() {
                            return Ok(Value::Null);
                        }
                        return serde_json::from_str(&text).map_err(|e| ZammadError::Shape {
                            path: path.to_owned(),
                            message: e.to_string(),
                        });
                    }
                    let wait = retry_after(&response);
                    let text = response.text().await.unwrap_or_default();
                    let error = ZammadError::Status {
                        method: method.to_string(),
                        path: path.to_owned(),
                        status: status.as_u16(),
                        body: text.chars().take(200).collect(),
                    };
                    let again = status == StatusCode::TOO_MANY_REQUESTS
                        || (repeatable && status.is_server_error());
                    if !again {
                        return Err(error);
                    }
                    if let Some(wait) = wait {
                        pause = wait.min(LONGEST_PAUSE);
                    }
                    error
                }
                Err(e) => {
                    let again = e.is_connect() || (repeatable && e.is_timeout());
                    let error = self.lost(path, e);
                    if !again {
                        return Err(error);
                    }
                    error
                }
            };
            if tries >= TRIES {
                return Err(failure);
            }
            tracing::debug!(error = %failure, "Zammad: trying again in {pause:?}");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    fn lost(&self, path: &str, e: reqwest::Error) -> ZammadError {
        ZammadError::Unreachable {
            url: format!("{}{path}", self.api),
            message: e.to_string(),
        }
    }
}

/// `Retry-After` in seconds, as Zammad's rate limiter (and proxies) send it.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
