//! The live stream as a client sees it: the view first, then every change in
//! order, a resume that misses nothing and repeats nothing, heartbeats, JSON
//! errors before the stream starts, and an `error` event when it cannot go on.
//! Run both ways a store may work: told of changes (embedded) and re-reading on
//! a timer (what DynamoDB needs).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use osa_app::Services;
use osa_domain::AgentId;
use osa_domain::access::scopes;
use osa_testkit::TestApp;
use serde_json::Value;
use tower::ServiceExt;

/// One event as the stream wrote it.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    id: u64,
    name: String,
    data: Value,
}

/// Reads a streamed body event by event, as it arrives.
struct Reader {
    body: Body,
    buffer: String,
}

impl Reader {
    /// The next event; `None` when the stream ended. Fails the test after 10 s.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), self.body.frame())
                .await
                .expect("an event within 10 s");
            match frame {
                None => {
                    assert!(
                        self.buffer.is_empty(),
                        "a half event at the end: {:?}",
                        self.buffer
                    );
                    return None;
                }
                Some(frame) => {
                    let frame = frame.expect("body frame");
                    if let Some(data) = frame.data_ref() {
                        self.buffer
                            .push_str(std::str::from_utf8(data).expect("utf-8"));
                    }
                }
            }
        }
    }

    /// Every event up to the end of the stream.
    async fn rest(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

fn parse(block: &str) -> Event {
    let (mut id, mut name, mut data) = (None, None, None);
    for line in block.lines().filter(|l| !l.is_empty()) {
        let (field, value) = line.split_once(": ").expect("field: value");
        match field {
            "id" => id = Some(value.parse().expect("numeric id")),
            "event" => name = Some(value.to_owned()),
            "data" => {
                assert!(data.is_none(), "one data line per event");
                data = Some(serde_json::from_str(value).expect("JSON data"));
            }
            other => panic!("unexpected field {other}"),
        }
    }
    Event {
        id: id.expect("every event has an id"),
        name: name.expect("every event is named"),
        data: data.expect("every event has data"),
    }
}

async fn open(
    services: &Services,
    path: &str,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> (StatusCode, String, Body) {
    let mut request = osa_testkit::request("GET", path).bearer(token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = stream::app(services.clone())
        .oneshot(request.empty())
        .await
        .expect("infallible");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status(), content_type, response.into_body())
}

async fn follow(services: &Services, workflow_id: &str, token: &str, last: Option<u64>) -> Reader {
    let path = format!("/api/strategy/workflows/{workflow_id}/stream");
    let last = last.map(|id| id.to_string());
    let (status, content_type, body) = open(services, &path, Some(token), last.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/event-stream; charset=utf-8");
    Reader {
        body,
        buffer: String::new(),
    }
}

/// A workflow whose trigger OPAL accepted: running, nothing reported yet.
async fn running(app: &TestApp) -> String {
    let id = app.start_workflow().await;
    app.run_due_jobs().await;
    id
}

/// The services as a store that cannot tell of changes has them (DynamoDB):
/// the stream re-reads on a short timer.
fn polling(app: &TestApp) -> Services {
    let mut services = app.services.clone();
    services.changes = None;
    let mut config = (*services.config).clone();
    config.stream.poll = Duration::from_millis(20);
    services.config = Arc::new(config);
    services
}

/// Each agent starts and completes, in catalogue order.
async fn run_every_agent(app: &TestApp, workflow_id: &str) {
    for agent in AgentId::ALL {
        app.send_agent_event(workflow_id, agent, "started").await;
        app.send_agent_event(workflow_id, agent, "completed").await;
    }
}

/// What a stream after the connection must hold for [`run_every_agent`].
fn expected_changes() -> Vec<(String, String)> {
    let mut expected = Vec::new();
    for agent in AgentId::ALL {
        for status in ["running", "completed"] {
            expected.push((format!("webhook_event {agent}"), status.to_owned()));
        }
    }
    expected.push(("workflow_status".into(), "completed".into()));
    expected.push(("report_ready".into(), String::new()));
    expected
}

fn described(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| match e.name.as_str() {
            "webhook_event" => (
                format!("webhook_event {}", e.data["agent"].as_str().unwrap_or("?")),
                e.data["agent_status"].as_str().unwrap_or("?").to_owned(),
            ),
            "workflow_status" => (
                e.name.clone(),
                e.data["status"].as_str().unwrap_or("?").to_owned(),
            ),
            _ => (e.name.clone(), String::new()),
        })
        .collect()
}

fn assert_consecutive(events: &[Event], after: u64) {
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    let want: Vec<u64> = (after + 1..=after + events.len() as u64).collect();
    assert_eq!(
        ids, want,
        "ids follow on from {after}, none skipped or repeated"
    );
}

async fn a_live_stream_shows_every_change_in_order_then_ends(services: Services, app: &TestApp) {
    let id = running(app).await;
    let token = app.token(&[scopes::READ]);
    let mut stream = follow(&services, &id, &token, None).await;

    let connection = stream.next().await.expect("the connection event");
    assert_eq!(connection.name, "connection");
    assert_eq!(connection.data["workflow_id"], id.as_str());
    assert_eq!(connection.data["status"], "running");
    assert_eq!(connection.data["agents"].as_array().map(Vec::len), Some(9));

    // The agents report while the stream is open.
    let reporting = run_every_agent(app, &id);
    let (events, ()) = tokio::join!(stream.rest(), reporting);
    let changes: Vec<Event> = events
        .into_iter()
        .filter(|e| e.name != "heartbeat")
        .collect();
    assert_eq!(described(&changes), expected_changes());
    assert_consecutive(&changes, connection.id);
    let last = &changes[changes.len() - 2];
    assert_eq!(last.data["workflow_id"], id.as_str());
    assert!(last.data["at"].as_str().is_some_and(|at| at.ends_with('Z')));
}

#[tokio::test]
async fn a_live_stream_shows_every_change_in_order_then_ends_when_told_of_changes() {
    let app = TestApp::new();
    a_live_stream_shows_every_change_in_order_then_ends(app.services.clone(), &app).await;
}

#[tokio::test]
async fn a_live_stream_shows_every_change_in_order_then_ends_when_it_rereads() {
    let app = TestApp::new();
    a_live_stream_shows_every_change_in_order_then_ends(polling(&app), &app).await;
}

#[tokio::test]
async fn a_client_that_reconnects_gets_exactly_what_it_missed() {
    let app = TestApp::new();
    let id = running(&app).await;
    let token = app.token(&[scopes::READ]);

    let mut first = follow(&app.services, &id, &token, None).await;
    let connection = first.next().await.expect("connection");
    app.send_agent_event(&id, AgentId::GeoAudit, "started")
        .await;
    let seen = first.next().await.expect("one change");
    assert_eq!(seen.id, connection.id + 1);
    drop(first); // the connection drops

    // Meanwhile the rest happens.
    run_every_agent(&app, &id).await;

    let mut resumed = follow(&app.services, &id, &token, Some(seen.id)).await;
    let rest = resumed.rest().await;
    assert_ne!(
        rest.first().map(|e| e.name.as_str()),
        Some("connection"),
        "a resume sends only what was missed"
    );
    assert_consecutive(&rest, seen.id);
    let mut whole = vec![seen];
    whole.extend(rest);
    // The geo audit's "started" came once: before the drop, not again after.
    let mut expected = expected_changes();
    let geo_started = expected
        .iter()
        .position(|c| c.0 == "webhook_event geo_audit" && c.1 == "running")
        .expect("geo audit starts");
    let again = expected.remove(geo_started);
    expected.insert(0, again);
    assert_eq!(described(&whole), expected);

    // A finished workflow replays from any of its ids, and ends.
    let mut replay = follow(&app.services, &id, &token, Some(connection.id)).await;
    let replayed = replay.rest().await;
    assert_eq!(described(&replayed), described(&whole));
}

#[tokio::test]
async fn a_quiet_stream_beats_and_an_erased_workflow_ends_it_with_an_error() {
    let app = TestApp::new();
    let id = running(&app).await;
    let mut services = app.services.clone();
    let mut config = (*services.config).clone();
    config.stream.heartbeat = Duration::from_millis(30);
    services.config = Arc::new(config);
    let token = app.token(&[scopes::READ]);

    let mut stream = follow(&services, &id, &token, None).await;
    let connection = stream.next().await.expect("connection");
    let beat = stream.next().await.expect("a heartbeat");
    assert_eq!(beat.name, "heartbeat");
    assert_eq!(beat.id, connection.id, "a heartbeat moves no cursor");
    assert!(beat.data["at"].is_string());

    services.store.erase_workflow(&id).await.expect("erase");
    let mut last = stream.next().await.expect("an error event");
    while last.name == "heartbeat" {
        last = stream.next().await.expect("an error event");
    }
    assert_eq!(last.name, "error");
    assert_eq!(last.data["code"], "not_found");
    assert_eq!(stream.next().await, None, "the stream ends after its error");
}

#[tokio::test]
async fn a_finished_workflow_streams_its_view_and_ends() {
    let app = TestApp::new();
    let id = running(&app).await;
    run_every_agent(&app, &id).await;
    let token = app.token(&[scopes::READ]);
    let mut stream = follow(&app.services, &id, &token, None).await;
    let events = stream.rest().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].name, "connection");
    assert_eq!(events[0].data["status"], "completed");
}

/// Path, token, Last-Event-ID, and the status and error code expected.
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn requests_it_cannot_serve_get_json_errors_before_any_stream() {
    let app = TestApp::new();
    let id = running(&app).await;
    let read = app.token(&[scopes::READ]);
    let intake_only = app.token(&[scopes::INTAKE]);
    let path = format!("/api/strategy/workflows/{id}/stream");
    let cases: [Case; 8] = [
        (&path, None, None, StatusCode::UNAUTHORIZED, "unauthorized"),
        (
            &path,
            Some("not-a-jwt"),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            &path,
            Some(&intake_only),
            None,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
        (
            "/api/strategy/workflows/no-such-workflow/stream",
            Some(&read),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &path,
            Some(&read),
            Some("abc"),
            StatusCode::BAD_REQUEST,
            "invalid_last_event_id",
        ),
        (
            &path,
            Some(&read),
            Some("-1"),
            StatusCode::BAD_REQUEST,
            "invalid_last_event_id",
        ),
        (
            &path,
            Some(&read),
            Some("999"),
            StatusCode::BAD_REQUEST,
            "invalid_last_event_id",
        ),
        (
            "/api/webhook-events/stream",
            Some(&read),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ];
    for (path, token, last, status, code) in cases {
        let (got, content_type, body) = open(&app.services, path, token, last).await;
        assert_eq!(got, status, "{path} {token:?} {last:?}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let bytes = body.collect().await.expect("body").to_bytes();
        let error: Value = serde_json::from_slice(&bytes).expect("JSON error");
        assert_eq!(error["error"]["code"], code, "{path} {last:?}");
    }

    // The original path with the workflow in the query is the same stream.
    let alias = format!("/api/webhook-events/stream?workflow_id={id}");
    let (status, content_type, body) = open(&app.services, &alias, Some(&read), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/event-stream"));
    let mut reader = Reader {
        body,
        buffer: String::new(),
    };
    let connection = reader.next().await.expect("connection");
    assert_eq!(connection.name, "connection");
    assert_eq!(connection.data["workflow_id"], id.as_str());
}

/// The services with streams that end after `budget` (the operators' stream
/// otherwise never ends).
fn with_budget(services: &Services, budget: Duration) -> Services {
    let mut services = services.clone();
    let mut config = (*services.config).clone();
    config.stream.budget = Some(budget);
    services.config = Arc::new(config);
    services
}

async fn follow_activity(services: &Services, token: &str, last: Option<u64>) -> Reader {
    let last = last.map(|id| id.to_string());
    let (status, content_type, body) =
        open(services, "/api/admin/stream", Some(token), last.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/event-stream"));
    Reader {
        body,
        buffer: String::new(),
    }
}

/// A workflow created, a forged webhook refused, the workflow finished.
async fn some_activity(app: &TestApp) -> String {
    let id = running(app).await;
    let body =
        format!(r#"{{"workflow_id":"{id}","agent_id":"geo_audit","execution_status":"started"}}"#);
    let forged = osa_app::webhook::ingest(
        &app.services,
        osa_app::webhook::WebhookRequest {
            signatures: osa_domain::webhook_signature::Signatures::osa(Some("t=1,v1=00")),
            correlation_id: None,
            body: body.as_bytes(),
        },
    )
    .await;
    assert!(forged.is_err(), "a forged webhook is refused");
    run_every_agent(app, &id).await;
    id
}

async fn the_operators_stream_tells_the_systems_activity_in_order(
    services: Services,
    app: &TestApp,
) {
    let admin = app.admin_token();
    let mut stream = follow_activity(&services, &admin, None).await;
    let connection = stream.next().await.expect("connection");
    assert_eq!(connection.name, "connection");
    assert_eq!(connection.data["last_event_id"], connection.id);

    let three = async {
        let mut events = Vec::new();
        while events.len() < 3 {
            let event = stream.next().await.expect("the stream goes on");
            if event.name != "heartbeat" {
                events.push(event);
            }
        }
        events
    };
    let (events, id) = tokio::join!(three, some_activity(app));
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["workflow_created", "webhook_rejected", "workflow_finished"]
    );
    assert_consecutive(&events, connection.id);
    assert_eq!(events[0].data["workflow_id"], id.as_str());
    assert_eq!(events[1].data["reason"], "signature_malformed");
    assert_eq!(events[1].data["status"], 401);
    assert_eq!(events[2].data["status"], "completed");

    // A resume after the first gets the other two, and no connection event
    // (all three are stored before it opens; it ends at its budget).
    let mut resumed = follow_activity(
        &with_budget(&services, Duration::from_millis(300)),
        &admin,
        Some(events[0].id),
    )
    .await;
    let rest: Vec<Event> = resumed
        .rest()
        .await
        .into_iter()
        .filter(|e| e.name != "heartbeat")
        .collect();
    assert_eq!(rest, events[1..].to_vec());
}

#[tokio::test]
async fn the_operators_stream_tells_the_systems_activity_in_order_when_told_of_changes() {
    let app = TestApp::new();
    the_operators_stream_tells_the_systems_activity_in_order(app.services.clone(), &app).await;
}

#[tokio::test]
async fn the_operators_stream_tells_the_systems_activity_in_order_when_it_rereads() {
    let app = TestApp::new();
    the_operators_stream_tells_the_systems_activity_in_order(polling(&app), &app).await;
}

#[tokio::test]
async fn the_operators_stream_is_for_operators() {
    let app = TestApp::new();
    let read = app.token(&[scopes::READ]);
    let (status, _, _) = open(&app.services, "/api/admin/stream", Some(&read), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = app.admin_token();
    let (status, _, _) = open(&app.services, "/api/admin/stream", Some(&admin), Some("5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no activity 5 yet");
}
