//! The runbooks (`docs/runbooks/`), as readable HTML at `/docs/runbooks/{page}`,
//! where alert notices link them by default. Rendered from Markdown at build
//! time (`build.rs`), so the binary carries only the pages.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiError;

mod pages {
    include!(concat!(env!("OUT_DIR"), "/runbooks.rs"));
}

/// The names of the runbooks served (the index aside).
pub fn names() -> impl Iterator<Item = &'static str> {
    pages::PAGES
        .iter()
        .map(|(name, _, _)| *name)
        .filter(|n| !n.is_empty())
}

/// One page as a whole HTML document, if there is one by that name (`""`:
/// the index).
pub fn page(name: &str) -> Option<String> {
    let (_, title, body) = pages::PAGES.iter().find(|(n, _, _)| *n == name)?;
    Some(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · OSA runbook</title></head>\n<body><main>\n{body}</main></body></html>\n",
        escape(title)
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `/docs/runbooks/` and `/docs/runbooks/{page}`, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(super::routes::RUNBOOKS.path, get(|| serve(String::new())))
        .route(
            super::routes::RUNBOOK.path,
            get(|Path(name): Path<String>| serve(name)),
        )
}

async fn serve(name: String) -> Response {
    match page(&name) {
        Some(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response(),
        None => ApiError::not_found("no such runbook").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osa_domain::alerts::ALERT_RULES;

    #[test]
    fn every_rule_and_playbook_has_a_page() {
        for rule in &ALERT_RULES {
            let url = rule.runbook_url("https://osa.test/docs");
            let name = url.rsplit('/').next().unwrap_or_default();
            let html = page(name).unwrap_or_else(|| panic!("no runbook {name}"));
            assert!(html.contains(rule.rule_id), "{name} names its rule");
            for section in ["What it means", "Confirm", "Fix", "Check"] {
                assert!(html.contains(section), "{name}: no {section}");
            }
        }
        for playbook in [
            "opal-agent-failures",
            "webhook-delivery-issues",
            "database-performance",
        ] {
            assert!(page(playbook).is_some(), "no playbook {playbook}");
        }
        assert_eq!(names().count(), ALERT_RULES.len() + 3);
        let index = page("").expect("index");
        assert!(
            index.contains(r#"href="webhook-delivery-failures""#),
            "{index}"
        );
        assert!(page("../Cargo").is_none());
    }
}
