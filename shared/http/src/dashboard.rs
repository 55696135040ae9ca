//! The operator dashboard: plain HTML, CSS and JavaScript compiled into the
//! binary and served without a token (the page signs in with a bearer token it
//! keeps in session storage; every API call it makes is authorised as usual).
//!
//! The page's URLs for its script and style carry a digest of their content, so
//! those can be cached for good while the page itself is revalidated each time.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::ApiError;

/// The page may load its own script, style and icon and call its own origin
/// (and the stream function's, on AWS); nothing inline, nothing from another
/// host, no plugins, no framing, and no form submitted natively (every form is
/// sent by the script as JSON).
pub fn page_csp(stream_url: Option<&str>) -> String {
    let stream = stream_url.map(|url| format!(" {url}")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'{stream}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// Revalidate before each use: a new release is picked up at once.
const REVALIDATE: &str = "no-cache";
/// For an asset requested under its current digest.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("dashboard/app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("dashboard/style.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("dashboard/icon.svg"),
    },
];

/// The first 16 hex digits of the SHA-256 of every asset, in order.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for asset in &ASSETS {
        digest.update(asset.name.as_bytes());
        digest.update([0]);
        digest.update(asset.body.as_bytes());
    }
    hex::encode(&digest.finalize()[..8])
});

/// The page: asset URLs at the current digest, and where it opens live streams
/// (`stream_url`, checked by the configuration to be a plain origin; empty for
/// its own).
fn page_html(stream_url: Option<&str>) -> String {
    include_str!("dashboard/index.html")
        .replace("{{version}}", &VERSION)
        .replace("{{stream_base}}", stream_url.unwrap_or_default())
}

/// `/` and `/dashboard/{file}`, for any router state. `stream_url`: where the
/// page opens live streams when it is not its own origin.
pub fn routes<S: Clone + Send + Sync + 'static>(stream_url: Option<&str>) -> Router<S> {
    let page = Arc::new((page_html(stream_url), page_csp(stream_url)));
    let serve_page = move || {
        let page = Arc::clone(&page);
        async move {
            let (html, csp) = &*page;
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, REVALIDATE),
                    (header::CONTENT_SECURITY_POLICY, csp.as_str()),
                ],
                html.clone(),
            )
                .into_response()
        }
    };
    Router::new()
        .route(super::routes::DASHBOARD.path, get(serve_page))
        .route(super::routes::DASHBOARD_FILE.path, get(asset))
}

async fn asset(Path(file): Path<String>, RawQuery(query): RawQuery) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return ApiError::not_found("no such dashboard file").into_response();
    };
    let current = query.as_deref() == Some(&format!("v={}", *VERSION));
    let cache = if current { IMMUTABLE } else { REVALIDATE };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};
    use axum::http::{HeaderMap, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Reply {
        fn header(&self, name: header::HeaderName) -> &str {
            self.headers
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("no {name} header"))
        }
    }

    async fn get(path: &str) -> Reply {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = routes::<()>(None)
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    #[tokio::test]
    async fn on_aws_the_page_streams_from_the_stream_functions_url_and_may_connect_to_it() {
        let url = "https://abc.lambda-url.eu-west-1.on.aws";
        let request = Request::get("/").body(Body::empty()).expect("request");
        let response = routes::<()>(Some(url))
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(csp.contains(&format!("connect-src 'self' {url};")), "{csp}");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let html = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(html.contains(&format!(r#"<meta name="osa-stream-base" content="{url}">"#)));
    }

    #[tokio::test]
    async fn the_page_has_its_own_policy_and_is_revalidated() {
        let reply = get("/").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            reply.header(header::CONTENT_SECURITY_POLICY),
            page_csp(None)
        );
        assert!(page_csp(None).contains("connect-src 'self';"));
        assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache");
        let html = String::from_utf8(reply.body.to_vec()).expect("utf-8");
        assert!(!html.contains("{{"), "placeholder left in the page");
        assert!(html.contains(r#"<meta name="osa-stream-base" content="">"#));
        for asset in ["app.js", "style.css", "icon.svg"] {
            let url = format!("/dashboard/{asset}?v={}", *VERSION);
            assert!(html.contains(&url), "the page does not load {url}");
        }
    }

    #[tokio::test]
    async fn assets_under_the_current_digest_are_cached_for_good() {
        for (name, content_type) in [
            ("app.js", "text/javascript; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("icon.svg", "image/svg+xml"),
        ] {
            let current = get(&format!("/dashboard/{name}?v={}", *VERSION)).await;
            assert_eq!(current.status, StatusCode::OK, "{name}");
            assert_eq!(current.header(header::CONTENT_TYPE), content_type);
            assert_eq!(current.header(header::CACHE_CONTROL), IMMUTABLE);
            assert!(!current.body.is_empty());
            // Under another digest (an older page), it must be revalidated.
            let stale = get(&format!("/dashboard/{name}?v=0000")).await;
            assert_eq!(stale.header(header::CACHE_CONTROL), "no-cache");
            let bare = get(&format!("/dashboard/{name}")).await;
            assert_eq!(bare.header(header::CACHE_CONTROL), "no-cache");
        }
    }

    #[tokio::test]
    async fn an_unknown_file_is_a_json_404() {
        for path in ["/dashboard/secret.txt", "/dashboard/..%2Fosa.db"] {
            let reply = get(path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
            assert_eq!(body["error"]["code"], "not_found");
        }
    }
}
