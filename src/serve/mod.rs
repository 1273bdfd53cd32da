//! `ticketlens serve`: the HTTP API and the pages people use, over the same pipeline and store
//! as the command line. Three kinds of route:
//! - public (`/v1/suggest…` and the before-filing pages): published public articles only,
//!   rate-limited per client (its address, or behind a trusted proxy the one it names);
//! - agent (`/v1/triage`, tickets, problems, the review queue): a bearer token;
//! - operations (`/healthz`, `/metrics`, `/openapi.json`): open, for probes and scrapers.
//!
//! `serve` triages nothing itself: `run` (another process, or another machine on the same
//! store) does. It reloads articles, history and the classifier every `refresh_secs`.

mod api;
mod error;
mod forwarded;
mod guard;
mod pages;
mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{middleware, Router};
use tokio::net::TcpListener;

pub use crate::config::{AddressRange, ForwardedHeader, NotARange, ServeConfig};
pub use error::ApiError;

use crate::pipeline::Pipeline;
use crate::store::Store;
use forwarded::ClientAddress;
use guard::{AgentToken, PublicLimiter};
use telemetry::Telemetry;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The pipeline answering now; a refresh swaps in a new one.
    pipeline: Current,
    store: Store,
    token: AgentToken,
    limiter: Arc<PublicLimiter>,
    /// Who a public request counts against.
    clients: Arc<ClientAddress>,
    telemetry: Arc<Telemetry>,
    /// The pipeline's name: its cursor gives the queue depth.
    name: Arc<str>,
}

impl AppState {
    /// `agent_token`: the token agents present; `None` shuts the agent side.
    pub fn new(pipeline: Pipeline, config: &ServeConfig, agent_token: Option<&str>) -> Self {
        Self {
            store: pipeline.store().clone(),
            telemetry: Arc::new(Telemetry::new(pipeline.embedder())),
            name: pipeline.name().into(),
            pipeline: Current(Arc::new(RwLock::new(Arc::new(pipeline)))),
            token: AgentToken::new(agent_token),
            limiter: Arc::new(PublicLimiter::new(
                config.public_per_minute,
                config.public_burst,
            )),
            clients: Arc::new(ClientAddress::new(
                &config.trusted_proxies,
                config.forwarded_header,
            )),
        }
    }

    pub fn agent_token_set(&self) -> bool {
        self.token.is_set()
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Agent,
    Operations,
}

/// One API endpoint. The OpenAPI file documents exactly these (a test holds them together).
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
    Route {
        method,
        path,
        access,
        handler: on(filter, handler),
    }
}

/// Every API endpoint.
pub fn api_routes() -> Vec<Route> {
    use Access::*;
    vec![
        route(Method::POST, "/v1/suggest", Public, api::suggest),
        route(Method::POST, "/v1/suggest/feedback", Public, api::feedback),
        route(Method::POST, "/v1/triage", Agent, api::triage),
        route(Method::POST, "/v1/tickets", Agent, api::post_ticket),
        route(
            Method::GET,
            "/v1/tickets/{id}/triage",
            Agent,
            api::ticket_triage,
        ),
        route(
            Method::POST,
            "/v1/tickets/{id}/fields",
            Agent,
            api::set_fields,
        ),
        route(Method::GET, "/v1/problems", Agent, api::problems),
        route(Method::GET, "/v1/problems/{id}", Agent, api::problem),
        route(Method::POST, "/v1/problems/{id}/accept", Agent, api::accept),
        route(Method::POST, "/v1/problems/{id}/reject", Agent, api::reject),
        route(Method::POST, "/v1/problems/{id}/merge", Agent, api::merge),
        route(
            Method::POST,
            "/v1/problems/{id}/announce",
            Agent,
            api::announce,
        ),
        route(
            Method::POST,
            "/v1/problems/{id}/withdraw",
            Agent,
            api::withdraw,
        ),
        route(Method::GET, "/v1/review", Agent, api::review),
        route(Method::POST, "/v1/hooks/{system}", Public, api::hook),
        route(Method::GET, "/healthz", Operations, api::healthz),
        route(Method::GET, "/metrics", Operations, api::metrics),
        route(Method::GET, "/openapi.json", Operations, api::openapi),
    ]
}

/// The whole application: API, pages, limits and error answers for what matches nothing.
pub fn router(state: AppState, config: &ServeConfig) -> Router {
    let (mut public, mut agent, mut operations) = (Router::new(), Router::new(), Router::new());
    for r in api_routes() {
        let group = match r.access {
            Access::Public => &mut public,
            Access::Agent => &mut agent,
            Access::Operations => &mut operations,
        };
        *group = std::mem::take(group).route(r.path, r.handler);
    }
    let public = public
        .merge(pages::public())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::limit_public,
        ));
    let agent = agent.route_layer(middleware::from_fn_with_state(
        state.clone(),
        guard::require_agent,
    ));
    Router::new()
        .merge(public)
        .merge(agent)
        .merge(operations)
        .merge(pages::agent())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(guard::read_body_first))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::map_response(secure_headers))
        .with_state(state)
}

/// Pages load only their own script and style, and nothing is sniffed or framed: the agent
/// token sits in the browser's storage, so a page must not run anything else.
async fn secure_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Serves the application on `listener` until `shutdown` completes, reloading the pipeline's
/// knowledge every `config.refresh_secs` and forgetting idle clients of the rate limit
/// meanwhile.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let refresher = tokio::spawn(refresh(
        state.pipeline.clone(),
        Duration::from_secs(config.refresh_secs.max(1)),
    ));
    let forgetter = tokio::spawn(guard::forget_idle_clients(state.limiter.clone()));
    let app = router(state, &config).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    refresher.abort();
    forgetter.abort();
    served
}

/// The pipeline in use, swapped whole by [`refresh`]. A request takes the `Arc` (the lock is
/// held only to copy a pointer) and keeps answering from it while a new one is built.
#[derive(Clone)]
pub(crate) struct Current(Arc<RwLock<Arc<Pipeline>>>);

impl Current {
    pub(crate) fn get(&self) -> Arc<Pipeline> {
        self.0.read().expect("no panic while swapping").clone()
    }

    fn swap(&self, next: Pipeline) {
        *self.0.write().expect("no panic while swapping") = Arc::new(next);
    }
}

/// Reloads articles and history (retraining if due) now and then, into a new pipeline built
/// beside the one answering: no request waits on a reload.
async fn refresh(current: Current, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await; // the first tick is immediate: the pipeline was just loaded
    loop {
        ticks.tick().await;
        match current.get().refreshed().await {
            Ok(next) => current.swap(next),
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh articles and history; serving the previous ones")
            }
        }
    }
}
