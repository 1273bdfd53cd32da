//! The pages: plain HTML from templates compiled into the binary, with a little JavaScript
//! (`app.js`) that talks to the JSON API. Server-side values are HTML-escaped; the agent
//! pages are empty shells that fill themselves only with a valid agent token.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::api::{Path, Query};
use super::{ApiError, AppState};

const LAYOUT: &str = include_str!("pages/layout.html");

/// Fills `{{name}}` slots in one pass (so a value that happens to hold `{{…}}` stays as it
/// is); values are inserted as given: escape them first.
fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match slots.iter().find(|(name, _)| *name == &after[..end]) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + end + 4]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn page(title: &str, name: &str, content: &str) -> Html<String> {
    Html(fill(
        LAYOUT,
        &[
            ("title", &html_escape::encode_text(title)),
            ("page", name),
            ("content", content),
        ],
    ))
}

/// The public pages (rate-limited with the public API).
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/", get(file_page))
        .route("/articles/{id}", get(article_page))
}

/// The agent pages' shells and the assets.
pub fn agent() -> Router<AppState> {
    Router::new()
        .route("/problems", get(problems_page))
        .route("/review", get(review_page))
        .route("/assets/app.js", get(script))
        .route("/assets/style.css", get(style))
}

async fn file_page() -> Html<String> {
    page("Before you file", "file", include_str!("pages/file.html"))
}

#[derive(Deserialize)]
struct ArticleQuery {
    /// The token of the before-filing answer the reader came from, for the "did it help"
    /// buttons (the feedback endpoint checks it).
    answer: Option<String>,
}

async fn article_page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<ArticleQuery>,
) -> Result<Response, ApiError> {
    let Some(article) = state.store.public_article(id).await? else {
        let body = page(
            "Not found",
            "missing",
            "<h1>No such article</h1><p><a href=\"/\">Back to the search</a></p>",
        );
        return Ok((StatusCode::NOT_FOUND, body).into_response());
    };
    let answer = query.answer.unwrap_or_default();
    let content = fill(
        include_str!("pages/article.html"),
        &[
            ("article_title", &html_escape::encode_text(&article.title)),
            ("body", &paragraphs(&article.body)),
            (
                "answer",
                &html_escape::encode_double_quoted_attribute(&answer),
            ),
            (
                "feedback_hidden",
                if answer.is_empty() { "hidden" } else { "" },
            ),
        ],
    );
    Ok(page(&article.title, "article", &content).into_response())
}

/// An article's plain text as escaped paragraphs (split at blank lines); single line breaks
/// are kept.
fn paragraphs(text: &str) -> String {
    let mut html = String::new();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines().chain([""]) {
        if line.trim().is_empty() {
            if !lines.is_empty() {
                html.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
                lines.clear();
            }
        } else {
            lines.push(html_escape::encode_text(line).into_owned());
        }
    }
    html
}

fn agent_page(title: &str, name: &str, intro: &str) -> Html<String> {
    let content = fill(
        include_str!("pages/agent.html"),
        &[("heading", title), ("intro", intro)],
    );
    page(title, name, &content)
}

async fn problems_page() -> Html<String> {
    agent_page(
        "Candidate problems",
        "problems",
        "Recurring incidents of the last weeks, ranked by size and trend. Accept, reject or \
         merge: decisions stick across clustering runs.",
    )
}

async fn review_page() -> Html<String> {
    agent_page(
        "Review queue",
        "review",
        "Open tickets where triage was not sure enough to set a field, oldest first, with what \
         it would have chosen and why.",
    )
}

async fn script() -> Response {
    static_asset(
        "text/javascript; charset=utf-8",
        include_str!("pages/app.js"),
    )
}

async fn style() -> Response {
    static_asset("text/css; charset=utf-8", include_str!("pages/style.css"))
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_text_is_escaped_into_paragraphs() {
        let html = paragraphs("Step <1>\nthen & more\n\n\nLast");
        assert_eq!(
            html,
            "<p>Step &lt;1&gt;<br>\nthen &amp; more</p>\n<p>Last</p>\n"
        );
    }

    #[test]
    fn a_value_holding_a_slot_name_is_not_filled_again() {
        let filled = fill("{{a}}-{{b}}-{{c", &[("a", "{{b}}"), ("b", "B")]);
        assert_eq!(filled, "{{b}}-B-{{c");
    }

    #[test]
    fn slots_are_filled_and_titles_escaped() {
        let Html(html) = page("<script>", "file", "<b>x</b>");
        assert!(html.contains("<title>&lt;script&gt; · ticketlens</title>"));
        assert!(html.contains("data-page=\"file\""));
        assert!(html.contains("<b>x</b>"));
    }
}
