//! The gates in front of the handlers: the whole body read first, a bearer token for the agent
//! side, a per-client rate limit for the public side.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

/// Reads a request's whole body (within the body limit) before anything answers it. hyper
/// cannot reuse a connection whose request body was left unread, so a refusal sent while the
/// body was still on its way (429 here, 401, 404) closed the connection under a client that
/// meant to send its next request on it.
pub async fn read_body_first(request: Request, next: Next) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await?;
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

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

/// The token of an `Authorization` value. The scheme's name is case-insensitive (RFC 9110,
/// 11.1): `bearer` and `BEARER` are `Bearer`; the token is compared exactly.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
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
        .and_then(bearer_token);
    match presented {
        Some(token) if state.token.admits(token) => Ok(next.run(request).await),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The public rate limit, one budget per client address. Generic over the clock so that tests
/// can move time.
pub struct PublicLimiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    quota: Quota,
}

impl PublicLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self::with_clock(per_minute, burst, DefaultClock::default())
    }
}

impl<C: Clock> PublicLimiter<C> {
    /// `per_minute` and `burst` are validated with the configuration; a zero from a
    /// configuration built in code counts as one.
    pub fn with_clock(per_minute: u32, burst: u32, clock: C) -> Self {
        let at_least_one = |n: u32| NonZeroU32::new(n.max(1)).expect("at least 1");
        let quota = Quota::per_minute(at_least_one(per_minute)).allow_burst(at_least_one(burst));
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock),
            quota,
        }
    }

    /// Takes one request from `client`'s budget, or says how long it has to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&client)
            .map_err(|refused| refused.wait_time_from(self.limiter.clock().now()))
    }

    /// Drops the clients whose budget has filled up again: they are indistinguishable from a
    /// client never seen. Memory then holds only the clients of the last [`Self::refill`].
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Clients with a budget in memory.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.limiter.len()
    }

    /// How long an emptied budget takes to fill up again.
    pub fn refill(&self) -> Duration {
        self.quota.replenish_interval() * self.quota.burst_size().get()
    }
}

/// Forgets idle clients once per refill (within a second and a minute), so that the limiter's
/// memory follows the clients of the last moments, not every address ever seen.
pub async fn forget_idle_clients(limiter: std::sync::Arc<PublicLimiter>) {
    let every = limiter
        .refill()
        .clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        limiter.forget_idle();
    }
}

pub async fn limit_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = state.clients.of(peer, request.headers());
    state
        .limiter
        .check(client)
        .map_err(ApiError::too_many_requests)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::ServeConfig;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn only_the_exact_token_is_admitted() {
        let token = AgentToken::new(Some("s3cret-token"));
        assert!(token.admits("s3cret-token"));
        assert!(!token.admits("s3cret-toke"));
        assert!(!token.admits("s3cret-token2"));
        assert!(!token.admits("S3CRET-TOKEN"));
        assert!(!token.admits(""));
    }

    #[test]
    fn without_a_token_nobody_is_admitted() {
        for token in [AgentToken::new(None), AgentToken::new(Some(""))] {
            assert!(!token.is_set());
            assert!(!token.admits(""));
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_token_is_not() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "BeArEr  abc "] {
            assert_eq!(bearer_token(value), Some("abc"), "{value:?}");
        }
        assert_eq!(bearer_token("Bearer ABC"), Some("ABC"));
        for value in ["Basic abc", "Bearerabc", "abc", ""] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }

    fn limiter(config: &ServeConfig) -> (PublicLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limiter =
            PublicLimiter::with_clock(config.public_per_minute, config.public_burst, clock.clone());
        (limiter, clock)
    }

    #[test]
    fn a_person_typing_four_requests_a_second_is_never_refused_by_default() {
        let (limiter, clock) = limiter(&ServeConfig::default());
        let person: IpAddr = "192.0.2.1".parse().unwrap();
        for request in 0..30 {
            assert_eq!(limiter.check(person), Ok(()), "request {request}");
            clock.advance(Duration::from_millis(250));
        }
        // And for a whole minute of it, a question after another.
        for request in 30..240 {
            assert_eq!(limiter.check(person), Ok(()), "request {request}");
            clock.advance(Duration::from_millis(250));
        }
    }

    #[test]
    fn a_refusal_says_exactly_how_long_to_wait() {
        let config = ServeConfig {
            public_per_minute: 6,
            public_burst: 2,
            ..ServeConfig::default()
        };
        let (limiter, clock) = limiter(&config);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limiter.check(client).is_ok() && limiter.check(client).is_ok());
        let wait = limiter.check(client).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        clock.advance(wait - Duration::from_millis(1));
        assert!(limiter.check(client).is_err());
        clock.advance(Duration::from_millis(1));
        assert_eq!(limiter.check(client), Ok(()));
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let (limiter, clock) = limiter(&ServeConfig::default());
        for i in 0..10_000u32 {
            let address = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            limiter.check(address).unwrap();
        }
        assert_eq!(limiter.tracked(), 10_000);
        limiter.forget_idle();
        assert_eq!(limiter.tracked(), 10_000, "all of them are recent");

        clock.advance(limiter.refill());
        let busy: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..50 {
            limiter.check(busy).unwrap();
        }
        clock.advance(limiter.refill() / 2);
        limiter.forget_idle();
        assert_eq!(limiter.tracked(), 1, "only the one still using its budget");
        // Forgetting changes no one's budget: the busy client is still counted.
        let used = (0..).take_while(|_| limiter.check(busy).is_ok()).count();
        assert!(used < 60, "{used}");
    }
}
