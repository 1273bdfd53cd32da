//! The `[serve]` section of a pipeline file.

use serde::Deserialize;

/// How `ticketlens serve` listens and protects itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address to listen on. Loopback by default: put a TLS-terminating proxy in front before
    /// opening it to the network.
    pub listen: String,
    /// Bearer token for the agent endpoints and pages. The environment variable
    /// `TICKETLENS_AGENT_TOKEN` takes precedence, so the token need not sit in a file. With
    /// neither, the agent endpoints refuse every call.
    pub agent_token: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests per minute one client address may make to the public endpoints.
    pub public_per_minute: u32,
    /// Requests a client may make at once before the per-minute rate applies.
    pub public_burst: u32,
    /// Seconds between reloads of articles, history and the classifier, which `run` (another
    /// process) keeps changing.
    pub refresh_secs: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            agent_token: None,
            max_body_bytes: 16 * 1024,
            public_per_minute: 60,
            public_burst: 20,
            refresh_secs: 600,
        }
    }
}
