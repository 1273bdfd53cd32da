//! The JSON endpoints. Each handler is a thin translation: validate, call the pipeline or the
//! store, answer. Nothing here decides anything the CLI does not decide the same way.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, AppState};
use crate::pipeline::{Assessment, PublicAnswer};
use crate::store::{
    Announcement, ExternalTicket, ExternalTicketInput, ProblemDetail, ProblemRow, SuggestionView,
    TriageView, MAX_LABEL_CHARS, MAX_TEXT_CHARS,
};
use crate::systems::hook::{Delivery, Receipt};

/// `axum::Json` whose rejections are [`ApiError`]s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextRequest {
    /// The problem in the person's words (subject and description).
    text: String,
}

/// The text if it is not too long. Whether it holds anything to read (not empty, blank or
/// markup only) the pipeline decides, as for a ticket in the stream: one rule for every way in.
fn checked(text: &str) -> Result<&str, ApiError> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::BadRequest(format!(
            "`text` is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(text)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    /// The question in the person's words.
    text: String,
    /// The token of the answer this question rewords (the same person still typing).
    refines: Option<String>,
}

pub async fn suggest(
    State(state): State<AppState>,
    Json(request): Json<SuggestRequest>,
) -> Result<Json<PublicAnswer>, ApiError> {
    let text = checked(&request.text)?;
    let pipeline = state.pipeline.get();
    Ok(Json(
        pipeline
            .before_filing_refined(text, request.refines.as_deref())
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The token the answer came with.
    answer: String,
    helped: bool,
}

pub async fn feedback(
    State(state): State<AppState>,
    Json(request): Json<FeedbackRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pipeline = state.pipeline.get();
    if !pipeline.feedback(&request.answer, request.helped).await? {
        return Err(ApiError::NotFound(
            "no answer has this token; send the `answer` that `/v1/suggest` gave".into(),
        ));
    }
    Ok(Json(
        json!({ "answer": request.answer, "helped": request.helped }),
    ))
}

pub async fn triage(
    State(state): State<AppState>,
    Json(request): Json<TextRequest>,
) -> Result<Json<Assessment>, ApiError> {
    let text = checked(&request.text)?;
    let pipeline = state.pipeline.get();
    Ok(Json(pipeline.assess(text).await?))
}

#[derive(Serialize)]
pub struct TicketTriage {
    #[serde(flatten)]
    triage: TriageView,
    suggestions: Vec<SuggestionView>,
}

pub async fn ticket_triage(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<TicketTriage>, ApiError> {
    let (triage, suggestions) = state.store.ticket_triage(id).await?;
    Ok(Json(TicketTriage {
        triage,
        suggestions,
    }))
}

/// An agent's value for a field triage left to a person.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsRequest {
    category: Option<String>,
    urgency: Option<String>,
}

pub async fn set_fields(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<FieldsRequest>,
) -> Result<Json<TicketTriage>, ApiError> {
    if !state.pipeline.get().tickets_are_here() {
        return Err(ApiError::Conflict(
            "this pipeline's tickets live in another ticket system: set the field there".into(),
        ));
    }
    let label = |value: &Option<String>| -> Result<Option<String>, ApiError> {
        match value.as_deref().map(str::trim) {
            Some("") => Err(ApiError::BadRequest("a field's value is empty".into())),
            Some(v) if v.chars().count() > MAX_LABEL_CHARS => Err(ApiError::BadRequest(format!(
                "a field's value is longer than {MAX_LABEL_CHARS} characters"
            ))),
            other => Ok(other.map(str::to_owned)),
        }
    };
    let (category, urgency) = (label(&request.category)?, label(&request.urgency)?);
    if category.is_none() && urgency.is_none() {
        return Err(ApiError::BadRequest(
            "set `category`, `urgency` or both".into(),
        ));
    }
    state
        .store
        .set_fields(id, category.as_deref(), urgency.as_deref())
        .await?;
    ticket_triage(State(state), Path(id)).await
}

/// What `POST /v1/tickets` answers: the ticket's id in the store and what the call did.
#[derive(Serialize)]
pub struct TicketPosted {
    id: i64,
    external_id: String,
    created: bool,
    changed: bool,
    /// `duplicate_of` named no other ticket the store has: no link was kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unknown_duplicate: bool,
}

/// Creates or updates a ticket of another help desk by its id there; a running `run` triages
/// it (and triages it again when what a person wrote changed).
pub async fn post_ticket(
    State(state): State<AppState>,
    Json(request): Json<ExternalTicketInput>,
) -> Result<(StatusCode, Json<TicketPosted>), ApiError> {
    if !state.pipeline.get().tickets_are_here() {
        return Err(ApiError::Conflict(
            "this pipeline's tickets live in another ticket system: file the ticket there".into(),
        ));
    }
    let ticket =
        ExternalTicket::try_from(request).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let done = state.store.upsert_external(&ticket).await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(TicketPosted {
            id: done.id,
            external_id: ticket.external_id,
            created: done.created,
            changed: done.changed,
            unknown_duplicate: done.unknown_duplicate,
        }),
    ))
}

/// What became of a ticket system's webhook call.
#[derive(Serialize)]
pub struct HookAnswer {
    /// `read`: the ticket was read now (and queued for triage if what a person wrote
    /// changed); `replayed`: this delivery was acted on before.
    status: &'static str,
    ticket: Option<i64>,
}

/// `POST /v1/hooks/{system}`: authenticated by the system's signature over the body (no
/// agent token: the system cannot send one), rate-limited like the public side.
pub async fn hook(
    State(state): State<AppState>,
    Path(system): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<HookAnswer>, ApiError> {
    let delivery = Delivery {
        headers: &headers,
        body: &body,
    };
    let pipeline = state.pipeline.get();
    let answer = match pipeline
        .system()
        .receive(&system, &state.store, delivery)
        .await?
    {
        Receipt::Read { ticket, .. } => HookAnswer {
            status: "read",
            ticket: Some(ticket),
        },
        Receipt::Replayed => HookAnswer {
            status: "replayed",
            ticket: None,
        },
    };
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemsQuery {
    /// Include rejected candidates.
    #[serde(default)]
    all: bool,
}

pub async fn problems(
    State(state): State<AppState>,
    Query(query): Query<ProblemsQuery>,
) -> Result<Json<Vec<ProblemRow>>, ApiError> {
    let join_similarity = state.pipeline.get().join_similarity();
    Ok(Json(
        state
            .store
            .listed_problems_with_overlaps(query.all, join_similarity)
            .await?,
    ))
}

pub async fn problem(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ProblemDetail>, ApiError> {
    Ok(Json(state.store.problem(id).await?))
}

pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ProblemDetail>, ApiError> {
    state.store.accept_problem(id).await?;
    Ok(Json(state.store.problem(id).await?))
}

pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ProblemDetail>, ApiError> {
    state.store.reject_problem(id).await?;
    Ok(Json(state.store.problem(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The problem that takes this one's incidents.
    into: i64,
}

pub async fn merge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<MergeRequest>,
) -> Result<Json<ProblemDetail>, ApiError> {
    state.store.merge_problems(id, request.into).await?;
    Ok(Json(state.store.problem(request.into).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnounceRequest {
    /// What end users are told the problem is, in their words.
    title: String,
    /// What they can do meanwhile.
    workaround: Option<String>,
}

pub async fn announce(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<AnnounceRequest>,
) -> Result<Json<ProblemDetail>, ApiError> {
    let announcement = Announcement::new(&request.title, request.workaround.as_deref())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.store.announce_problem(id, &announcement).await?;
    Ok(Json(state.store.problem(id).await?))
}

pub async fn withdraw(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ProblemDetail>, ApiError> {
    state.store.withdraw_problem(id).await?;
    Ok(Json(state.store.problem(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// At most this many tickets (default 100, at most 1000).
    limit: Option<usize>,
}

pub async fn review(
    State(state): State<AppState>,
    Query(query): Query<ReviewQuery>,
) -> Result<Json<Vec<TriageView>>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.review_queue(limit).await?))
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "pipeline": &*state.name })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the store does not answer");
            let body = json!({ "status": "store unreachable", "pipeline": &*state.name });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Always answers: while the store does not, `ticketlens_store_up` is 0 and the store's
/// counts keep their last values, so that monitoring sees the outage rather than a failed
/// scrape.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let counts = match state.store.service_counts(&state.name).await {
        Ok(counts) => Some(counts),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the store does not answer");
            None
        }
    };
    let classes = state.pipeline.get().class_records();
    let text = state.telemetry.render(counts.as_ref(), &classes);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

pub async fn openapi() -> Response {
    let spec = include_str!("openapi.json");
    ([(header::CONTENT_TYPE, "application/json")], spec).into_response()
}
