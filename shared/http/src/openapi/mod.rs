//! The API described as OpenAPI 3.1, built from the route table: every route's
//! method, path, access (security) and function come from `routes::ROUTES`, what
//! it takes and answers from `operations`, the schemas from the Rust types the
//! handlers read and write (`schemas`).
//! Served at `GET /api/openapi.json`; `osa openapi` writes `docs/openapi.json`,
//! which a test holds to this.

mod operations;
mod schemas;

use serde_json::{Map, Value, json};

use crate::api::ErrorBody;
use crate::routes::{Access, ROUTES, Route};
use operations::{Operation, describe, error};
use osa_domain::access::scopes;
use schemas::Schemas;

/// The examples the document shows: the samples every test and `events/` use.
pub(crate) struct Examples {
    intake: Value,
    agent_event: Value,
}

const INTAKE_SAMPLE: &str = include_str!("../../../../events/samples/intake.json");
const AGENT_OUTPUT_SAMPLE: &str = include_str!("../../../../events/samples/agent-output.json");

impl Examples {
    fn samples() -> Examples {
        let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
        Examples {
            intake: parse(INTAKE_SAMPLE),
            agent_event: json!({
                "workflow_id": "3f8a1c52-9d4e-4b7a-8c61-2e5f0a9b7d13",
                "agent_id": "content_review",
                "execution_id": "exec-content-review-1",
                "execution_status": "completed",
                "agent_data": parse(AGENT_OUTPUT_SAMPLE),
                "metadata": {"confidence_score": 0.82, "data_sources": ["cms", "analytics"]},
            }),
        }
    }
}

/// The document, as `GET /api/openapi.json` serves it.
pub fn document() -> Value {
    let examples = Examples::samples();
    let mut schemas = Schemas::new();
    let error = schemas.answer::<ErrorBody>();
    let operations: Vec<(&Route, Operation)> = ROUTES
        .iter()
        .filter_map(|route| Some((route, describe(route, &examples, &mut schemas)?)))
        .collect();
    let (schemas, bodies) = schemas.finish();
    let mut paths = Map::new();
    for (route, operation) in operations {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] =
            operation_object(route, operation, &bodies);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "OSA",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Strategy workflows: submit an intake, OPAL's nine agents report by signed webhooks, OSA answers a ranked strategy and roadmap. Every error is `application/json` in the `Error` shape; `429` and `503` carry `Retry-After`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "workflows"}, {"name": "webhooks"}, {"name": "streams"}, {"name": "admin"},
            {"name": "deliveries"}, {"name": "health"}, {"name": "alerts"}, {"name": "monitoring"},
            {"name": "dashboard"}, {"name": "meta"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": format!("A JWT from the identity provider whose `scope` holds the route's scope: `{}`, `{}` or `{}` (which holds every scope).", scopes::INTAKE, scopes::READ, scopes::ADMIN),
                },
                "signature": {
                    "type": "apiKey", "in": "header", "name": "X-OSA-Signature",
                    "description": "`t=<unix ms>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" under the webhook secret>`; several `v1` during a rotation.",
                },
                "standardWebhooks": {
                    "type": "apiKey", "in": "header", "name": "webhook-signature",
                    "description": "Standard Webhooks, where `OSA_WEBHOOK_SIGNATURE_SCHEMES` accepts it: `v1,<base64 HMAC-SHA256 of \"<webhook-id>.<webhook-timestamp>.<raw body>\">` (several, space-separated, during a rotation), with the `webhook-id` (the de-duplication key) and `webhook-timestamp` (unix seconds) headers.",
                },
            },
            "schemas": schemas,
            "responses": error_responses(&error),
        },
    })
}

/// The route's operation with what its access adds: security, and the errors
/// every route of that access can answer.
fn operation_object(route: &Route, operation: Operation, bodies: &[Value]) -> Value {
    let mut responses = Map::new();
    let common: &[u16] = match route.access {
        Access::Public => &[429, 503],
        Access::Signature => &[429, 503],
        Access::Scope(_) => &[401, 403, 429, 503],
    };
    for (status, response) in operation
        .responses
        .into_iter()
        .chain(common.iter().map(|s| (*s, error(*s))))
    {
        responses.entry(status.to_string()).or_insert(response);
    }
    let security = match route.access {
        Access::Public => json!([]),
        Access::Signature => json!([{"signature": []}, {"standardWebhooks": []}]),
        // `osa:admin` holds every scope.
        Access::Scope(scope) if scope == scopes::ADMIN => json!([{"bearer": [scope]}]),
        Access::Scope(scope) => json!([{"bearer": [scope]}, {"bearer": [scopes::ADMIN]}]),
    };
    let mut object = json!({
        "operationId": operation.id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "security": security,
        "responses": responses,
        "x-osa-function": route.function.template_name(),
    });
    if !operation.parameters.is_empty() {
        object["parameters"] = Value::Array(operation.parameters);
    }
    if let Some((body, example)) = operation.body {
        object["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {
                "schema": bodies.get(body).cloned().unwrap_or(Value::Null),
                "example": example,
            }},
        });
    }
    object
}

/// `components.responses`: one per error status, all in the `Error` shape.
fn error_responses(error: &Value) -> Value {
    let retry_after = json!({"Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }});
    let mut responses = Map::new();
    for (status, description) in [
        (
            400,
            "The request is malformed: not JSON, or a bad query parameter, cursor or header.",
        ),
        (401, "No valid bearer token, or no valid signature."),
        (403, "The token lacks the route's scope."),
        (404, "No such resource."),
        (409, "The resource's state does not allow this."),
        (413, "The body is larger than the limit."),
        (415, "The body is not `application/json`."),
        (
            422,
            "The body breaks the schema; `details` names each field.",
        ),
        (429, "Too many requests from this client."),
        (
            503,
            "A dependency is unavailable; nothing was stored. Retry after `Retry-After`.",
        ),
    ] {
        let mut response = json!({
            "description": description,
            "content": {"application/json": {"schema": error}},
        });
        if status == 429 || status == 503 {
            response["headers"] = retry_after.clone();
        }
        responses.insert(format!("E{status}"), response);
    }
    Value::Object(responses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_described_once() {
        let examples = Examples::samples();
        let mut schemas = Schemas::new();
        for route in ROUTES {
            assert!(
                describe(route, &examples, &mut schemas).is_some(),
                "{} {} has no description in http::openapi::operations",
                route.method,
                route.path
            );
        }
        let doc = document();
        let operations: usize = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .values()
                    .filter_map(Value::as_object)
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(operations, ROUTES.len());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = &piece[..piece.find('"').unwrap_or(piece.len())];
            let (kind, name) = target.split_once('/').unwrap_or((target, ""));
            assert!(
                doc["components"][kind].get(name).is_some(),
                "#/components/{target} is referenced but not defined"
            );
        }
    }

    /// Two types of one name would be told apart by a number (`Report2`);
    /// descriptions come from doc comments, which must read without rustdoc.
    #[test]
    fn every_schema_has_its_own_name_and_plain_descriptions() {
        let doc = document();
        for (name, schema) in doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert!(
                !name.ends_with(|c: char| c.is_ascii_digit()),
                "two types are named {name}: rename one (`#[schemars(rename)]`)"
            );
            assert!(
                !schema.to_string().contains("[`"),
                "{name}'s description has a rustdoc link: {schema}"
            );
        }
    }

    /// A success answer is its body's schema with `success` added, so a body
    /// must allow properties it does not name.
    #[test]
    fn success_answers_allow_their_success() {
        let doc = document();
        let text = doc["paths"].to_string();
        for piece in text
            .split("\"allOf\":[{\"$ref\":\"#/components/schemas/")
            .skip(1)
        {
            let name = &piece[..piece.find('"').unwrap_or(piece.len())];
            let schema = &doc["components"]["schemas"][name];
            assert_ne!(schema["additionalProperties"], false, "{name}");
        }
    }

    #[test]
    fn the_examples_are_the_samples_and_are_valid_bodies() {
        let examples = Examples::samples();
        osa_domain::intake::parse_intake(examples.intake.to_string().as_bytes())
            .expect("the intake example is a valid intake");
        osa_domain::event::parse_agent_event(examples.agent_event.to_string().as_bytes())
            .expect("the webhook example is a valid event");
    }
}
