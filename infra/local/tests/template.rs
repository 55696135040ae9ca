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
/// The alias every API function publishes and the API invokes.
const ALIAS: &str = "live";
/// The functions behind the HTTP API: each rolls out gradually.
const API_FUNCTIONS: [Function; 3] = [Function::Intake, Function::OpalWebhook, Function::StatusApi];

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
        let function = API_FUNCTIONS
            .into_iter()
            .find(|f| f.template_name() == d.function)
            .expect("an API function");
        // The `live` alias, which CodeDeploy shifts gradually; never the
        // unqualified function, which would bypass the rollout.
        assert_eq!(
            op.invokes.as_deref(),
            Some(format!("{}:{ALIAS}", short_name(function)).as_str()),
            "{} {} invokes its function's {ALIAS} alias",
            d.method,
            d.path
        );
    }

    for function in API_FUNCTIONS {
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

/// The top-level resources of `Type`, by name.
fn resources_of_type(kind: &str) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut current = None;
    for line in TEMPLATE.lines() {
        if indent(line) == 2 && line.trim_end().ends_with(':') && !line.trim().starts_with('#') {
            current = Some(line.trim().trim_end_matches(':'));
        }
        if indent(line) == 4 && value_of(line, "Type") == Some(kind) {
            names.extend(current);
        }
    }
    names
}

/// The template's `Globals: Function:` lines.
fn function_globals() -> Vec<&'static str> {
    let mut lines = TEMPLATE.lines().skip_while(|l| *l != "Globals:").skip(1);
    assert_eq!(
        lines.next(),
        Some("  Function:"),
        "Globals starts with Function"
    );
    lines
        .take_while(|l| l.trim().is_empty() || indent(l) > 2)
        .collect()
}

#[test]
fn every_api_function_rolls_out_gradually_behind_its_alarms_and_the_pre_traffic_hook() {
    let hook = resource("PreTrafficHookFunction").join("\n");
    for function in API_FUNCTIONS {
        let name = function.template_name();
        let lines = resource(name);
        let text = lines.join("\n");
        assert!(
            lines
                .iter()
                .any(|l| value_of(l, "AutoPublishAlias") == Some(ALIAS)),
            "{name} publishes the {ALIAS} alias"
        );
        let preference: Vec<&str> = lines
            .iter()
            .skip_while(|l| l.trim() != "DeploymentPreference:")
            .skip(1)
            .take_while(|l| indent(l) > 6)
            .map(|l| l.trim())
            .collect();
        assert!(
            preference.contains(&"Type: !Ref DeploymentType"),
            "{name}: {preference:?}"
        );
        let alarm = name.trim_end_matches("Function");
        for kind in ["Errors", "Latency"] {
            let id = format!("{alarm}{kind}Alarm");
            assert!(
                preference.contains(&format!("- !Ref {id}").as_str()),
                "{name} rolls back on {id}: {preference:?}"
            );
            let alarm_text = resource(&id).join("\n");
            assert!(
                alarm_text.contains(&format!("Value: !Ref {name}")),
                "{id} watches {name}"
            );
        }
        assert!(
            preference.contains(&"PreTraffic: !Ref PreTrafficHookFunction"),
            "{name}: the pre-traffic hook checks it first: {preference:?}"
        );
        assert!(
            hook.contains(&format!("!Ref {name}.Version")),
            "the hook checks and may invoke {name}'s new version"
        );
        assert!(!text.contains("Enabled: false"), "{name}'s rollout is on");
    }
    assert!(
        hook.contains("FunctionName: !Sub \"CodeDeployHook_"),
        "SAM's CodeDeploy role invokes only CodeDeployHook_* functions"
    );
    assert!(hook.contains("codedeploy:PutLifecycleEventHookExecutionStatus"));
    assert!(
        hook.contains("Enabled: false"),
        "the hook itself deploys at once"
    );
}

#[test]
fn every_function_is_traced_and_built_for_the_architecture_parameter_from_one_build() {
    let globals = function_globals();
    assert!(
        globals.iter().any(|l| l.trim() == "Tracing: Active"),
        "{globals:?}"
    );
    assert!(
        globals
            .iter()
            .any(|l| l.trim() == "Architectures: [!Ref Architecture]"),
        "{globals:?}"
    );
    let parameter = resource_in("Parameters", "Architecture").join("\n");
    assert!(
        parameter.contains("AllowedValues: [x86_64, arm64]")
            && parameter.contains("Default: x86_64"),
        "{parameter}"
    );

    let makefile = include_str!("../../lambda/Makefile");
    let functions = resources_of_type("AWS::Serverless::Function");
    assert_eq!(functions.len(), 9, "{functions:?}");
    let mut binaries = BTreeSet::new();
    for name in functions {
        let lines = resource(name);
        let overrides = lines
            .iter()
            .find(|l| l.contains("Tracing:") || l.contains("Architectures:"));
        assert!(
            overrides.is_none(),
            "{name} overrides the globals: {overrides:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| value_of(l, "BuildMethod") == Some("makefile")),
            "{name}"
        );
        assert!(
            lines
                .iter()
                .any(|l| value_of(l, "CodeUri") == Some("infra/lambda")),
            "{name}"
        );
        let binary = lines
            .iter()
            .find_map(|l| value_of(l, "Binary"))
            .unwrap_or_else(|| panic!("{name} names its binary"));
        assert!(
            binaries.insert(binary),
            "{binary} is built for two functions"
        );
        // The target SAM runs copies this function's own binary.
        let target =
            format!("build-{name}:\n\t./infra/lambda-build.sh {binary} \"$(ARTIFACTS_DIR)\"");
        assert!(
            makefile.contains(&target),
            "infra/lambda/Makefile lacks {target}"
        );
    }
}

/// The lines of `name` under the top-level section `section` (`Parameters:`).
fn resource_in(section: &str, name: &str) -> Vec<&'static str> {
    let header = format!("  {name}:");
    let mut lines = TEMPLATE
        .lines()
        .skip_while(|l| *l != format!("{section}:"))
        .skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "{section} has no {name}");
    lines.take_while(|l| indent(l) > 2).collect()
}
