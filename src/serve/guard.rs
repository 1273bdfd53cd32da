//! The two gates in front of the handlers: a bearer token for the agent side, a per-address
//! rate limit for the public side.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

/// The agent token, kept only as its digest: comparing digests in constant time reveals
/// neither the token's bytes nor its length through timing.
#[derive(Clone)]
pub struct AgentToken(Option<[u8; 32]>);

impl AgentToken {
    /// `None` or an empty token: the agent side refuses everyone.
    pub fn new(token: Option<&str>) -> Self {
        Self(token.filter(|t| !t.is_empty()).map(digest))
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    fn admits(&self, presented: &str) -> bool {
        self.0
            .is_some_and(|expected| bool::from(expected.ct_eq(&digest(presented))))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub async fn require_agent(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if state.token.admits(token.trim()) => Ok(next.run(request).await),
        _ => Err(ApiError::Unauthorized),
    }
}

pub type PublicLimiter = DefaultKeyedRateLimiter<IpAddr>;

pub fn public_limiter(per_minute: u32, burst: u32) -> PublicLimiter {
    let quota = Quota::per_minute(NonZeroU32::new(per_minute.max(1)).expect("at least 1"))
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"));
    RateLimiter::keyed(quota)
}

pub async fn limit_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Behind a reverse proxy every request comes from the proxy's address: the limit is then
    // shared, which errs on the side of protecting the model.
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    state
        .limiter
        .check_key(&address)
        .map_err(|_| ApiError::TooManyRequests)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_admitted() {
        let token = AgentToken::new(Some("s3cret-token"));
        assert!(token.admits("s3cret-token"));
        assert!(!token.admits("s3cret-toke"));
        assert!(!token.admits("s3cret-token2"));
        assert!(!token.admits(""));
    }

    #[test]
    fn without_a_token_nobody_is_admitted() {
        for token in [AgentToken::new(None), AgentToken::new(Some(""))] {
            assert!(!token.is_set());
            assert!(!token.admits(""));
        }
    }
}
