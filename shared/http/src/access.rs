//! Who may call a route, enforced in one place: after routing, the access layer
//! ([`guarded`], which every function's router wears)
//! looks the matched route up in [`super::routes::ROUTES`] and, for a route
//! behind a scope, verifies the bearer token and the scope before the handler
//! runs. The verified [`Caller`] rides in the request's extensions for handlers
//! that record who acted.
//!
//! Behind API Gateway's JWT authorizer (`OSA_TRUST_GATEWAY_CLAIMS=true`) the
//! claims the gateway already verified are read instead of verifying twice; a
//! request without them (invoked some other way) is verified as usual.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;

use super::ApiError;
use super::routes::{self, Access};
use osa_app::Services;
use osa_domain::access::{AccessError, Caller};

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AccessError> {
    let header = header.ok_or(AccessError::Missing)?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or(AccessError::Missing)?
        .trim();
    if token.is_empty() {
        return Err(AccessError::Missing);
    }
    Ok(token)
}

/// The caller a request's bearer token names, verified (or vouched for by the
/// gateway when so configured).
pub async fn caller_of(
    services: &Services,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Caller, AccessError> {
    if services.config.trust_gateway_claims
        && let Some(caller) = gateway_caller(extensions)
    {
        return Ok(caller);
    }
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    services.tokens.verify(bearer(header)?).await
}

/// The claims API Gateway's JWT authorizer verified, if it did.
fn gateway_caller(extensions: &Extensions) -> Option<Caller> {
    let Some(RequestContext::ApiGatewayV2(context)) = extensions.get() else {
        return None;
    };
    let jwt = context.authorizer.as_ref()?.jwt.as_ref()?;
    let subject = jwt.claims.get("sub")?;
    let scope = jwt.claims.get("scope").map(String::as_str).unwrap_or("");
    Some(Caller::new(subject.as_str(), scope))
}

/// `router` with its routes' access enforced: each function guards its own
/// routes, so a router merged beside them (the local simulator's) is not held
/// to the API's table.
pub fn guarded(router: Router, services: &Services) -> Router {
    router.route_layer(axum::middleware::from_fn_with_state(
        Arc::new(services.clone()),
        enforce,
    ))
}

/// The access layer (a route layer: it runs once the route is known).
async fn enforce(
    State(services): State<Arc<Services>>,
    mut request: Request,
    next: Next,
) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let route = template
        .as_deref()
        .and_then(|path| routes::find(request.method(), path));
    let Some(route) = route else {
        // Served but not in the table: a programming error, refused safely.
        tracing::error!(
            path = template.as_deref(),
            "route missing from the route table"
        );
        return ApiError::internal().into_response();
    };
    if let Access::Scope(scope) = route.access {
        let caller = match request.extensions().get::<Caller>() {
            Some(known) => Ok(known.clone()),
            None => caller_of(&services, request.headers(), request.extensions()).await,
        };
        match caller.and_then(|c| c.require(scope).map(|()| c)) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
            }
            Err(e) => {
                if let AccessError::Unavailable(reason) = &e {
                    tracing::error!(
                        reason,
                        "bearer token not verified: the identity provider is unavailable"
                    );
                }
                return ApiError::from(e).into_response();
            }
        }
    }
    next.run(request).await
}

/// The verified caller of a route behind a scope, as an extractor.
pub struct Verified(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Verified {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Verified)
            .ok_or_else(|| {
                tracing::error!("a handler asked for the caller of a route without a scope");
                ApiError::internal()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_empty_bearer_token_is_a_token() {
        assert_eq!(bearer(None), Err(AccessError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AccessError::Missing));
        assert_eq!(bearer(Some("Bearer ")), Err(AccessError::Missing));
        assert_eq!(bearer(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer(Some("bearer  t ")), Ok("t"));
    }
}
