//! `template.yaml` against the route table, as OSA's OpenAPI document describes it:
//! API Gateway routes exactly the document's HTTP API operations, each to the
//! function and behind the scopes the document names (none for a public or signed
//! route); CORS allows every method the
//! table uses; the stream routes come from the stream function's streaming URL,
//! not from the API. The template is read as the indented text it is; the checks
//! fail loudly if its shape changes.

use std::collections::BTreeSet;

use osa_http::routes::{Function, ROUTES, methods};

const TEMPLATE: &str = include_str!("../../../template.yaml");

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines of the top-level resource `name` (indented under `Resources:`).
fn resource(name: &str) -> Vec<&'static str> {
    let header = format!("  {name}:");
    let mut lines = TEMPLATE.lines().skip_while(|l| *l != header);
    assert!(
        lines.next().is_some(),
        "template.yaml has no resource {name}"
    );
    lines
        .take_while(|l| l.trim().is_empty() || indent(l) > 2)
        .collect()
}

/// A quoted or plain YAML scalar after `key:` on `line`.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.trim()
        .strip_prefix(key)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(|v| v.trim().trim_matches('"'))
}

/// The function's name suffix in the stack (`FunctionName: !Sub "${AWS::StackName}-x"`).
fn short_name(function: Function) -> String {
    resource(function.template_name())
        .iter()
        .find_map(|l| value_of(l, "FunctionName"))
        .and_then(|v| v.split("${AWS::StackName}-").nth(1))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{} has no FunctionName", function.template_name()))
}

/// `(method, path)` of a function's `Type: HttpApi` events.
fn http_events(function: Function) -> BTreeSet<(String, String)> {
    let lines = resource(function.template_name());
    let mut events = BTreeSet::new();
    let mut path = None;
    for line in lines {
        if let Some(p) = value_of(line, "Path") {
            path = Some(p.to_owned());
        }
        if let Some(m) = value_of(line, "Method") {
            let p = path.take().expect("Path comes before Method");
            events.insert((m.to_uppercase(), p));
        }
    }
    events
}

/// One operation of the API's OpenAPI body.
#[derive(Debug)]
struct Operation {
    method: String,
    path: String,
    scopes: Vec<String>,
    invokes: Option<String>,
}

/// The operations under `DefinitionBody.paths` of the HTTP API.
fn operations() -> Vec<Operation> {
    let lines = resource("HttpApi");
    let start = lines
        .iter()
        .position(|l| l.trim() == "paths:")
        .expect("the API body has paths");
    let base = indent(lines[start]);
    let mut operations: Vec<Operation> = Vec::new();
    let mut path = String::new();
    for line in &lines[start + 1..] {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let depth = indent(line);
        if depth <= base {
            break;
        }
        let text = line.trim();
        if depth == base + 2 {
            path = text.trim_end_matches(':').to_owned();
        } else if depth == base + 4 {
            operations.push(Operation {
                method: text.trim_end_matches(':').to_uppercase(),
                path: path.clone(),
                scopes: Vec::new(),
                invokes: None,
            });
        } else if let Some(op) = operations.last_mut() {
            if let Some(scopes) = text.strip_prefix("- jwt:") {
                op.scopes = scopes
                    .trim()
                    .trim_matches(['[', ']'])
                    .split(',')
                    .map(|s| s.trim().trim_matches('"').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            if let Some(uri) = value_of(line, "uri") {
                op.invokes = uri
                    .split("function:${AWS::StackName}-")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .map(str::to_owned);
            }
        }
    }
    operations
}

/// One operation of OSA's own OpenAPI document (`http::openapi`, built from the
/// route table): what the template is held to.
struct Documented {
    method: String,
    path: String,
    function: String,
    /// The bearer scopes that let a caller in (none for a public or signed route).
    scopes: Vec<String>,
}

fn documented() -> Vec<Documented> {
    let doc = osa_http::openapi::document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let scopes = op["security"]
                .as_array()
                .expect("security")
                .iter()
                .filter_map(|requirement| requirement.get("bearer"))
                .flat_map(|s| s.as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            out.push(Documented {
                method: method.to_uppercase(),
                path: path.clone(),
                function: op["x-osa-function"].as_str().expect("function").to_owned(),
                scopes,
            });
        }
    }
    out
}

fn is_api(function: &str) -> bool {
    function != Function::Stream.template_name()
}

#[test]
fn the_api_routes_exactly_the_documented_operations_to_their_functions_behind_their_scopes() {
    let operations = operations();
    let documented = documented();
    assert_eq!(
        documented.len(),
        ROUTES.len(),
        "the document has every route"
    );
    let table: BTreeSet<(String, String)> = documented
        .iter()
        .filter(|d| is_api(&d.function))
        .map(|d| (d.method.clone(), d.path.clone()))
        .collect();
    let body: BTreeSet<(String, String)> = operations
        .iter()
        .map(|o| (o.method.clone(), o.path.clone()))
        .collect();
    assert_eq!(
        body, table,
        "the API body's operations are the document's API operations"
    );

    for d in documented.iter().filter(|d| is_api(&d.function)) {
        let op = operations
            .iter()
            .find(|o| o.method == d.method && o.path == d.path)
            .expect("listed above");
        // `osa:admin` holds every scope, so the authorizer lets it through too.
        assert_eq!(
            op.scopes, d.scopes,
            "{} {}: the authorizer's scopes",
            d.method, d.path
        );
        let function = [Function::Intake, Function::OpalWebhook, Function::StatusApi]
            .into_iter()
            .find(|f| f.template_name() == d.function)
            .expect("an API function");
        assert_eq!(
            op.invokes.as_deref(),
            Some(short_name(function).as_str()),
            "{} {} invokes its function",
            d.method,
            d.path
        );
    }

    for function in [Function::Intake, Function::OpalWebhook, Function::StatusApi] {
        let want: BTreeSet<(String, String)> = documented
            .iter()
            .filter(|d| d.function == function.template_name())
            .map(|d| (d.method.clone(), d.path.clone()))
            .collect();
        assert_eq!(
            http_events(function),
            want,
            "{}'s HttpApi events",
            function.template_name()
        );
    }
}

#[test]
fn cors_allows_every_method_the_table_uses() {
    let api = resource("HttpApi");
    let allowed = api
        .iter()
        .find_map(|l| value_of(l, "allowMethods"))
        .expect("the API has a CORS method list");
    for method in methods() {
        assert!(
            allowed.contains(method.as_str()),
            "CORS allows {method}: {allowed}"
        );
    }
}

#[test]
fn the_streams_come_from_the_stream_functions_streaming_url() {
    let stream = resource(Function::Stream.template_name());
    let text = stream.join("\n");
    assert!(text.contains("InvokeMode: RESPONSE_STREAM"), "{text}");
    assert!(
        text.contains("AuthType: NONE") && text.contains("OSA_TRUST_GATEWAY_CLAIMS: \"false\""),
        "outside the authorizer, the function verifies tokens itself"
    );
    assert!(text.contains("AllowMethods: [GET]"));
    assert!(
        http_events(Function::Stream).is_empty(),
        "no API route to it"
    );
    assert!(ROUTES.iter().any(|r| r.function == Function::Stream));
    let budget: u64 = stream
        .iter()
        .find_map(|l| value_of(l, "OSA_STREAM_BUDGET_MS"))
        .and_then(|v| v.parse().ok())
        .expect("a stream budget");
    let timeout: u64 = stream
        .iter()
        .find_map(|l| value_of(l, "Timeout"))
        .and_then(|v| v.parse().ok())
        .expect("a timeout");
    assert!(
        budget < timeout * 1000,
        "a stream ends ({budget} ms) before the function's timeout ({timeout} s)"
    );
}
