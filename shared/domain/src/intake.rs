//! The strategy intake: its request schema and complete validation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::canonical::canonical_hash;
use super::schema::NOT_BLANK;
use super::secret::Secret;
use super::validation::{FieldError, InvalidBody, Violations, from_value, objects_at};

/// Industries an intake may name (docs/api.md, The intake); `other` is the escape hatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Industry {
    Automotive,
    B2bServices,
    Consumer,
    Ecommerce,
    Education,
    Energy,
    FinancialServices,
    Government,
    Healthcare,
    Hospitality,
    Insurance,
    Manufacturing,
    Media,
    Nonprofit,
    RealEstate,
    Retail,
    Technology,
    Telecommunications,
    Travel,
    Other,
}

crate::schema_from_list!(Industry, "Industry");

impl Industry {
    pub const ALL: [Industry; 20] = [
        Industry::Automotive,
        Industry::B2bServices,
        Industry::Consumer,
        Industry::Ecommerce,
        Industry::Education,
        Industry::Energy,
        Industry::FinancialServices,
        Industry::Government,
        Industry::Healthcare,
        Industry::Hospitality,
        Industry::Insurance,
        Industry::Manufacturing,
        Industry::Media,
        Industry::Nonprofit,
        Industry::RealEstate,
        Industry::Retail,
        Industry::Technology,
        Industry::Telecommunications,
        Industry::Travel,
        Industry::Other,
    ];

    /// The wire name (as in the intake).
    pub const fn as_str(self) -> &'static str {
        match self {
            Industry::Automotive => "automotive",
            Industry::B2bServices => "b2b_services",
            Industry::Consumer => "consumer",
            Industry::Ecommerce => "ecommerce",
            Industry::Education => "education",
            Industry::Energy => "energy",
            Industry::FinancialServices => "financial_services",
            Industry::Government => "government",
            Industry::Healthcare => "healthcare",
            Industry::Hospitality => "hospitality",
            Industry::Insurance => "insurance",
            Industry::Manufacturing => "manufacturing",
            Industry::Media => "media",
            Industry::Nonprofit => "nonprofit",
            Industry::RealEstate => "real_estate",
            Industry::Retail => "retail",
            Industry::Technology => "technology",
            Industry::Telecommunications => "telecommunications",
            Industry::Travel => "travel",
            Industry::Other => "other",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisDepth {
    Basic,
    Standard,
    Comprehensive,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FocusArea {
    Content,
    Audiences,
    Experimentation,
    Personalization,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Timeline {
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "60d")]
    Days60,
    #[serde(rename = "90d")]
    Days90,
}

impl Timeline {
    pub const fn days(self) -> u32 {
        match self {
            Timeline::Days30 => 30,
            Timeline::Days60 => 60,
            Timeline::Days90 => 90,
        }
    }
}

// ---- wire shape -------------------------------------------------------------

/// The intake body (`POST /api/strategy/intake`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Intake")]
pub struct IntakeWire {
    /// Optional: the client's id, which makes a retry idempotent.
    #[schemars(with = "Option<uuid::Uuid>")]
    workflow_id: Option<String>,
    business_context: BusinessContext,
    optimizely_config: OptimizelyConfigWire,
    analysis_preferences: AnalysisPreferences,
    /// `https` to a public host: where the result-ready notification goes.
    #[schemars(url)]
    notify_url: Option<String>,
}

/// What the business told us. Stored with the workflow (credentials never are).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessContext {
    #[schemars(length(min = 1, max = 100), pattern(NOT_BLANK))]
    pub company_name: String,
    pub industry: Industry,
    #[schemars(
        length(min = 1, max = 10),
        inner(length(min = 1, max = 200), pattern(NOT_BLANK))
    )]
    pub goals: Vec<String>,
    #[schemars(length(min = 10, max = 500), pattern(NOT_BLANK))]
    pub target_audience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 20),
        inner(length(min = 1, max = 500), pattern(NOT_BLANK))
    )]
    pub current_challenges: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OptimizelyConfig")]
struct OptimizelyConfigWire {
    #[schemars(pattern("^[0-9]{1,20}$"))]
    project_id: String,
    #[schemars(with = "uuid::Uuid")]
    workspace_id: String,
    /// Absent or null: no keys given.
    #[serde(default, deserialize_with = "null_as_none")]
    #[schemars(with = "Option<Credentials>")]
    api_credentials: Credentials,
}

fn null_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Credentials, D::Error> {
    Ok(Option::<Credentials>::deserialize(d)?.unwrap_or_default())
}

/// The four optional Optimizely keys. Never serialised, never logged.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(description = "Optimizely API keys, kept by reference and never echoed.")]
pub struct Credentials {
    pub odp_key: Option<Secret>,
    pub experimentation_key: Option<Secret>,
    pub content_recs_key: Option<Secret>,
    pub cmp_key: Option<Secret>,
}

impl Credentials {
    /// Which keys were supplied, safe to store and show.
    pub fn provided(&self) -> CredentialsProvided {
        let has = |k: &Option<Secret>| k.as_ref().is_some_and(|s| !s.is_empty());
        CredentialsProvided {
            odp: has(&self.odp_key),
            experimentation: has(&self.experimentation_key),
            content_recs: has(&self.content_recs_key),
            cmp: has(&self.cmp_key),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialsProvided {
    pub odp: bool,
    pub experimentation: bool,
    pub content_recs: bool,
    pub cmp: bool,
}

/// The Optimizely project as stored: ids, and which keys were given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OptimizelyProject {
    pub project_id: String,
    pub workspace_id: String,
    pub credentials_provided: CredentialsProvided,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisPreferences {
    pub analysis_depth: AnalysisDepth,
    #[schemars(length(min = 1, max = 4), extend("uniqueItems" = true))]
    pub focus_areas: Vec<FocusArea>,
    pub timeline: Timeline,
}

/// A validated intake, ready to become a workflow.
#[derive(Clone, Debug)]
pub struct Intake {
    /// The client's idempotency key, when it sent one.
    pub workflow_id: Option<String>,
    pub business_context: BusinessContext,
    pub optimizely: OptimizelyProject,
    pub credentials: Credentials,
    pub analysis_preferences: AnalysisPreferences,
    /// Where to POST the signed result-ready notification (`domain::notification`).
    pub notify_url: Option<String>,
    /// SHA-256 over the canonical request, so a retried submission can be told
    /// apart from a different one under the same `workflow_id`.
    pub fingerprint: String,
}

impl Intake {
    /// Minutes the client should expect to wait, 1..=30, by depth and breadth.
    pub fn estimated_completion_minutes(&self) -> u32 {
        let base = match self.analysis_preferences.analysis_depth {
            AnalysisDepth::Basic => 5,
            AnalysisDepth::Standard => 10,
            AnalysisDepth::Comprehensive => 18,
        };
        let breadth = self.analysis_preferences.focus_areas.len() as u32 * 2;
        (base + breadth).clamp(1, 30)
    }
}

/// The body as a JSON object, or why it is not one.
fn json_object(body: &[u8]) -> Result<serde_json::Value, InvalidBody> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| InvalidBody::Syntax(e.to_string()))?;
    if !value.is_object() {
        return Err(InvalidBody::Schema(vec![FieldError::new(
            "",
            "request body must be a JSON object",
        )]));
    }
    Ok(value)
}

/// Parses and fully validates an intake body. Every violation is reported with its path.
pub fn parse_intake(body: &[u8]) -> Result<Intake, InvalidBody> {
    // Parse once into a canonical value (object keys sorted) for the fingerprint.
    let value = json_object(body)?;
    let fingerprint = canonical_hash(&value);
    let not_objects = objects_at(
        &value,
        "",
        &[
            "business_context",
            "optimizely_config",
            "optimizely_config.api_credentials",
            "analysis_preferences",
        ],
    );
    if !not_objects.is_empty() {
        return Err(InvalidBody::Schema(not_objects));
    }
    let wire: IntakeWire = from_value(&value, "").map_err(InvalidBody::Schema)?;
    validate(wire, fingerprint).map_err(InvalidBody::Schema)
}

fn validate(wire: IntakeWire, fingerprint: String) -> Result<Intake, Vec<FieldError>> {
    let mut v = Violations::at("");

    if let Some(id) = &wire.workflow_id
        && !is_uuid(id)
    {
        v.push("workflow_id", "must be a UUID");
    }

    let bc = &wire.business_context;
    v.text("business_context.company_name", &bc.company_name, 1, 100);
    v.count("business_context.goals", bc.goals.len(), 1, 10);
    for (i, goal) in bc.goals.iter().enumerate() {
        v.text(&format!("business_context.goals[{i}]"), goal, 1, 200);
    }
    v.text(
        "business_context.target_audience",
        &bc.target_audience,
        10,
        500,
    );
    if let Some(challenges) = &bc.current_challenges {
        v.count(
            "business_context.current_challenges",
            challenges.len(),
            0,
            20,
        );
        for (i, c) in challenges.iter().enumerate() {
            v.text(
                &format!("business_context.current_challenges[{i}]"),
                c,
                1,
                500,
            );
        }
    }

    let oc = &wire.optimizely_config;
    if oc.project_id.is_empty()
        || oc.project_id.len() > 20
        || !oc.project_id.bytes().all(|b| b.is_ascii_digit())
    {
        v.push(
            "optimizely_config.project_id",
            "must be a numeric string of 1 to 20 digits",
        );
    }
    if !is_uuid(&oc.workspace_id) {
        v.push("optimizely_config.workspace_id", "must be a UUID");
    }
    check_keys(
        &oc.api_credentials,
        "optimizely_config.api_credentials",
        &mut v,
    );

    let ap = &wire.analysis_preferences;
    v.count(
        "analysis_preferences.focus_areas",
        ap.focus_areas.len(),
        1,
        4,
    );
    let mut seen = ap.focus_areas.clone();
    seen.sort();
    seen.dedup();
    if seen.len() != ap.focus_areas.len() {
        v.push(
            "analysis_preferences.focus_areas",
            "must not repeat an area",
        );
    }

    if let Some(url) = &wire.notify_url {
        // The form every deployment needs; which targets are allowed is its
        // own setting, checked at intake (`TargetPolicy`).
        if let Err(why) =
            super::notification::check_url(url, super::notification::TargetPolicy::Local)
        {
            v.push("notify_url", why);
        }
    }

    let provided = oc.api_credentials.provided();
    v.into_result(Intake {
        workflow_id: wire.workflow_id.map(|s| s.to_ascii_lowercase()),
        optimizely: OptimizelyProject {
            project_id: wire.optimizely_config.project_id,
            workspace_id: wire.optimizely_config.workspace_id.to_ascii_lowercase(),
            credentials_provided: provided,
        },
        credentials: wire.optimizely_config.api_credentials,
        business_context: wire.business_context,
        analysis_preferences: wire.analysis_preferences,
        notify_url: wire.notify_url,
        fingerprint,
    })
}

/// Every given key must be a non-empty string of at most 512 characters.
fn check_keys(creds: &Credentials, at: &str, v: &mut Violations) {
    for (name, key) in [
        ("odp_key", &creds.odp_key),
        ("experimentation_key", &creds.experimentation_key),
        ("content_recs_key", &creds.content_recs_key),
        ("cmp_key", &creds.cmp_key),
    ] {
        if let Some(k) = key
            && (k.expose().trim().is_empty() || k.expose().len() > 512)
        {
            // The message never echoes the value.
            v.push(
                format!("{at}.{name}"),
                "must be a non-empty string of at most 512 characters",
            );
        }
    }
}

/// The body that refreshes a paused workflow's keys.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CredentialsUpdate")]
pub struct CredentialsUpdateWire {
    /// At least one key, none null.
    #[schemars(extend("minProperties" = 1, "additionalProperties" = {"type": "string"}))]
    api_credentials: Credentials,
}

/// Parses `{"api_credentials": {...}}`, the body that refreshes a paused
/// workflow's credentials: the intake's schema, with at least one key.
pub fn parse_credentials_update(body: &[u8]) -> Result<Credentials, InvalidBody> {
    let value = json_object(body)?;
    let not_objects = objects_at(&value, "", &["api_credentials"]);
    if !not_objects.is_empty() {
        return Err(InvalidBody::Schema(not_objects));
    }
    let wire: CredentialsUpdateWire = from_value(&value, "").map_err(InvalidBody::Schema)?;
    let mut v = Violations::at("");
    check_keys(&wire.api_credentials, "api_credentials", &mut v);
    if v.is_empty() && wire.api_credentials.provided() == CredentialsProvided::default() {
        v.push("api_credentials", "must give at least one key");
    }
    v.into_result(wire.api_credentials)
        .map_err(InvalidBody::Schema)
}

/// A hyphenated 8-4-4-4-12 hex UUID, the form the spec's clients send.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    pub(crate) fn valid() -> Value {
        json!({
            "workflow_id": "2f1d8f5e-1c2b-4c3d-9e8f-0a1b2c3d4e5f",
            "business_context": {
                "company_name": "Acme Outdoor",
                "industry": "retail",
                "goals": ["Grow repeat purchases", "Lift conversion on mobile"],
                "target_audience": "Outdoor enthusiasts aged 25-45 in North America",
                "current_challenges": ["Low email engagement"]
            },
            "optimizely_config": {
                "project_id": "123456789",
                "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                "api_credentials": {"odp_key": "odp-secret-value", "cmp_key": "cmp-secret"}
            },
            "analysis_preferences": {
                "analysis_depth": "standard",
                "focus_areas": ["content", "experimentation"],
                "timeline": "90d"
            }
        })
    }

    fn parse(v: &Value) -> Result<Intake, InvalidBody> {
        parse_intake(v.to_string().as_bytes())
    }

    fn paths(v: &Value) -> Vec<String> {
        match parse(v) {
            Err(InvalidBody::Schema(errors)) => errors.into_iter().map(|e| e.path).collect(),
            other => panic!("expected schema errors, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_intake_is_accepted() {
        let intake = parse(&valid()).unwrap();
        assert_eq!(intake.business_context.industry, Industry::Retail);
        assert_eq!(intake.analysis_preferences.timeline, Timeline::Days90);
        assert!(intake.optimizely.credentials_provided.odp);
        assert!(!intake.optimizely.credentials_provided.experimentation);
        assert_eq!(
            intake.credentials.odp_key.as_ref().unwrap().expose(),
            "odp-secret-value"
        );
        let minutes = intake.estimated_completion_minutes();
        assert!((1..=30).contains(&minutes));
    }

    #[test]
    fn fingerprint_ignores_key_order_but_not_content() {
        let a = parse(&valid()).unwrap().fingerprint;
        let reordered = r#"{"analysis_preferences":{"timeline":"90d","focus_areas":["content","experimentation"],"analysis_depth":"standard"},"optimizely_config":{"workspace_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","project_id":"123456789","api_credentials":{"cmp_key":"cmp-secret","odp_key":"odp-secret-value"}},"business_context":{"current_challenges":["Low email engagement"],"target_audience":"Outdoor enthusiasts aged 25-45 in North America","goals":["Grow repeat purchases","Lift conversion on mobile"],"industry":"retail","company_name":"Acme Outdoor"},"workflow_id":"2f1d8f5e-1c2b-4c3d-9e8f-0a1b2c3d4e5f"}"#;
        assert_eq!(parse_intake(reordered.as_bytes()).unwrap().fingerprint, a);
        let mut changed = valid();
        changed["business_context"]["company_name"] = json!("Acme Indoor");
        assert_ne!(parse(&changed).unwrap().fingerprint, a);
    }

    #[test]
    fn every_field_rule_reports_its_path() {
        let mut v = valid();
        v["workflow_id"] = json!("not-a-uuid");
        v["business_context"]["company_name"] = json!("");
        v["business_context"]["goals"] = json!(["ok", "  "]);
        v["business_context"]["target_audience"] = json!("too short");
        v["optimizely_config"]["project_id"] = json!("12ab");
        v["optimizely_config"]["workspace_id"] = json!("nope");
        v["analysis_preferences"]["focus_areas"] = json!(["content", "content"]);
        assert_eq!(
            paths(&v),
            vec![
                "workflow_id",
                "business_context.company_name",
                "business_context.goals[1]",
                "business_context.target_audience",
                "optimizely_config.project_id",
                "optimizely_config.workspace_id",
                "analysis_preferences.focus_areas",
            ]
        );
    }

    #[test]
    fn length_limits_are_inclusive() {
        let mut v = valid();
        v["business_context"]["company_name"] = json!("x".repeat(100));
        v["business_context"]["target_audience"] = json!("y".repeat(10));
        assert!(parse(&v).is_ok());
        v["business_context"]["company_name"] = json!("x".repeat(101));
        assert_eq!(paths(&v), vec!["business_context.company_name"]);
        v["business_context"]["company_name"] = json!("ok");
        v["business_context"]["target_audience"] = json!("y".repeat(501));
        assert_eq!(paths(&v), vec!["business_context.target_audience"]);
    }

    #[test]
    fn goal_count_is_bounded() {
        let mut v = valid();
        v["business_context"]["goals"] = json!([]);
        assert_eq!(paths(&v), vec!["business_context.goals"]);
        v["business_context"]["goals"] = json!(vec!["g"; 11]);
        assert_eq!(paths(&v), vec!["business_context.goals"]);
        v["business_context"]["goals"] = json!(vec!["g"; 10]);
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn enums_are_checked_with_their_paths() {
        for (pointer, path) in [
            ("/business_context/industry", "business_context.industry"),
            (
                "/analysis_preferences/analysis_depth",
                "analysis_preferences.analysis_depth",
            ),
            (
                "/analysis_preferences/timeline",
                "analysis_preferences.timeline",
            ),
            (
                "/analysis_preferences/focus_areas/0",
                "analysis_preferences.focus_areas[0]",
            ),
        ] {
            let mut v = valid();
            *v.pointer_mut(pointer).unwrap() = json!("bogus");
            assert_eq!(paths(&v), vec![path], "for {pointer}");
        }
    }

    #[test]
    fn missing_and_unknown_fields_are_rejected() {
        let mut v = valid();
        v["business_context"]
            .as_object_mut()
            .unwrap()
            .remove("goals");
        assert_eq!(paths(&v), vec!["business_context"]);
        let mut v = valid();
        v["optimizely_config"]["api_credentials"]["extra_key"] = json!("x");
        assert_eq!(
            paths(&v),
            vec!["optimizely_config.api_credentials.extra_key"]
        );
    }

    /// Found by the API fuzzer: `api_credentials: null` was refused while every
    /// other optional field may be null; objects sent as arrays were read as
    /// structs.
    #[test]
    fn null_credentials_are_none_and_objects_must_be_objects() {
        let mut v = valid();
        v["optimizely_config"]["api_credentials"] = Value::Null;
        let intake = parse(&v).expect("null credentials are none given");
        assert_eq!(
            intake.credentials.provided(),
            CredentialsProvided::default()
        );

        let mut v = valid();
        v["business_context"] = json!(["Acme", "retail", ["Grow"], "Outdoor people"]);
        assert_eq!(paths(&v), vec!["business_context"]);
        let mut v = valid();
        v["optimizely_config"]["api_credentials"] = json!(["a-key"]);
        assert_eq!(paths(&v), vec!["optimizely_config.api_credentials"]);
        let refresh = json!({"api_credentials": ["a-key"]});
        match parse_credentials_update(refresh.to_string().as_bytes()) {
            Err(InvalidBody::Schema(errors)) => assert_eq!(errors[0].path, "api_credentials"),
            other => panic!("an array is not credentials: {other:?}"),
        }
    }

    #[test]
    fn workflow_id_is_optional() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("workflow_id");
        assert!(parse(&v).unwrap().workflow_id.is_none());
    }

    #[test]
    fn errors_never_echo_credentials() {
        let mut v = valid();
        v["optimizely_config"]["api_credentials"]["odp_key"] = json!(" ");
        v["optimizely_config"]["api_credentials"]["cmp_key"] = json!(42);
        let err = format!("{:?}", parse(&v).unwrap_err());
        assert!(!err.contains("odp-secret-value"));
        let ok = parse(&valid()).unwrap();
        assert!(!format!("{ok:?}").contains("odp-secret-value"));
    }

    #[test]
    fn non_objects_are_rejected() {
        assert!(matches!(parse_intake(b"[]"), Err(InvalidBody::Schema(_))));
        assert!(matches!(parse_intake(b"nope"), Err(InvalidBody::Syntax(_))));
    }

    #[test]
    fn industry_names_are_the_wire_names() {
        for industry in Industry::ALL {
            assert_eq!(
                serde_json::to_value(industry).expect("json"),
                serde_json::Value::String(industry.as_str().to_owned())
            );
        }
    }
}
