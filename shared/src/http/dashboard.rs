//! The operator dashboard: plain HTML, CSS and JavaScript compiled into the
//! binary and served without a token (the page signs in with a bearer token it
//! keeps in session storage; every API call it makes is authorised as usual).
//!
//! The page's URLs for its script and style carry a digest of their content, so
//! those can be cached for good while the page itself is revalidated each time.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::ApiError;

/// The page may load its own script, style and icon and call its own origin;
/// nothing inline, nothing from another host, no plugins, no framing, and no
/// form submitted natively (every form is sent by the script as JSON).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

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

/// The page with its asset URLs pointing at the current digest.
static PAGE: LazyLock<String> =
    LazyLock::new(|| include_str!("dashboard/index.html").replace("{{version}}", &VERSION));

/// `/` and `/dashboard/{file}`, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(super::routes::DASHBOARD.path, get(page))
        .route(super::routes::DASHBOARD_FILE.path, get(asset))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, REVALIDATE),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        PAGE.as_str(),
    )
        .into_response()
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
        let response = routes::<()>()
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
    async fn the_page_has_its_own_policy_and_is_revalidated() {
        let reply = get("/").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(reply.header(header::CONTENT_SECURITY_POLICY), PAGE_CSP);
        assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache");
        let html = String::from_utf8(reply.body.to_vec()).expect("utf-8");
        assert!(
            !html.contains("{{version}}"),
            "placeholder left in the page"
        );
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
