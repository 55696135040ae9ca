//! Server-sent events: a live stream's `text/event-stream` answer. The body is
//! written as the stream's events arrive, on `osa serve` and on a Lambda
//! function with response streaming alike.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body::Frame;
use tokio::sync::mpsc;

use osa_domain::history::StreamEvent;

/// Events a stream may have written ahead of a slow client.
const BUFFERED_EVENTS: usize = 64;

/// One event in the wire format: `id`, `event`, one `data` line, a blank line.
pub fn encode(event: &StreamEvent) -> Bytes {
    // JSON written by serde_json holds no raw newline, so one `data` line is enough.
    let data = serde_json::to_string(&event.data).unwrap_or_else(|_| "null".into());
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        event.id, event.name
    ))
}

/// Starts `run` (a stream's loop) and answers with its events as they come.
pub fn respond<F, Fut>(run: F) -> Response
where
    F: FnOnce(mpsc::Sender<StreamEvent>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(BUFFERED_EVENTS);
    tokio::spawn(run(tx));
    let mut response = Response::new(Body::new(EventBody { events: rx }));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies such as nginx would otherwise hold the events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The body: each event as it is sent, the end when the stream's task ends.
struct EventBody {
    events: mpsc::Receiver<StreamEvent>,
}

impl http_body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events
            .poll_recv(cx)
            .map(|event| event.map(|e| Ok(Frame::data(encode(&e)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_is_id_name_and_one_data_line() {
        let event = StreamEvent {
            id: 7,
            name: "webhook_event",
            data: json!({"agent": "geo_audit", "note": "two\nlines"}),
        };
        let text = String::from_utf8(encode(&event).to_vec()).expect("utf-8");
        assert_eq!(
            text,
            "id: 7\nevent: webhook_event\ndata: {\"agent\":\"geo_audit\",\"note\":\"two\\nlines\"}\n\n"
        );
    }
}
