//! Task events as CloudEvents 1.0, and back.

use chrono::Utc;
use cloudevents::event::{Data, ExtensionValue};
use cloudevents::{AttributesReader, AttributesWriter, Event, EventBuilder, EventBuilderV10};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use uuid::Uuid;

use crate::catalogue::{TaskEventType, UnknownEventType};
use crate::payloads::{EventDataError, TaskEvent};

/// The extension the Knative Kafka broker keys records by: one task's events
/// land in one partition, in order.
pub const PARTITION_KEY: &str = "partitionkey";
/// The W3C trace context of the request that made the change (CloudEvents
/// distributed tracing extension).
pub const TRACEPARENT: &str = "traceparent";
pub const JSON: &str = "application/json";
/// Who made the change (CloudEvents authcontext extension): the kind of
/// principal, and its id (the access token's opaque `sub`, never a name or
/// an e-mail address).
pub const AUTHTYPE: &str = "authtype";
pub const AUTHID: &str = "authid";
/// The `authtype` of a signed-in user of the app.
pub const APP_USER: &str = "app_user";

/// What every function's event `source` starts with.
pub const FUNCTIONS_SOURCE_PREFIX: &str = "/functions/";

/// `/functions/<function>`: the `source` of the events a function emits.
pub fn source(function: &str) -> String {
    format!("{FUNCTIONS_SOURCE_PREFIX}{function}")
}

/// Builds the CloudEvent of `event`, a change `actor` made through
/// `function`, with a new UUIDv7 id.
pub fn to_cloudevent(
    event: &TaskEvent,
    function: &str,
    actor: &str,
    traceparent: Option<&str>,
) -> Event {
    let task_id = event.task().id.to_string();
    new_event(event.event_type(), function, actor, traceparent)
        .subject(task_id.clone())
        .extension(PARTITION_KEY, task_id)
        .data(JSON, event.data())
        .build()
        .expect("a task event sets every required attribute")
}

/// The `task.created` of a task the database has yet to number: every
/// attribute but `subject` and `partitionkey`, and `data` null. The
/// statement that inserts the task sets those three from its row
/// (`Outbox::create_tasks`), so the event is complete once stored.
pub fn unnumbered_created(function: &str, actor: &str, traceparent: Option<&str>) -> Event {
    new_event(TaskEventType::Created, function, actor, traceparent)
        .data(JSON, Value::Null)
        .build()
        .expect("a task event sets every required attribute")
}

fn new_event(
    ty: TaskEventType,
    function: &str,
    actor: &str,
    traceparent: Option<&str>,
) -> EventBuilderV10 {
    let builder = EventBuilderV10::new()
        .id(Uuid::now_v7().to_string())
        .ty(ty.as_str())
        .source(source(function))
        .time(Utc::now())
        .extension(AUTHTYPE, APP_USER)
        .extension(AUTHID, actor);
    match traceparent {
        Some(traceparent) => builder.extension(TRACEPARENT, traceparent),
        None => builder,
    }
}

/// Why a CloudEvent is not a task event we accept.
#[derive(Debug, thiserror::Error)]
pub enum InvalidTaskEvent {
    #[error(transparent)]
    UnknownType(#[from] UnknownEventType),
    #[error("header value {0:?} is not valid percent-encoded UTF-8")]
    BadEncoding(String),
    #[error("subject must be the task id (a positive integer), got {0:?}")]
    BadSubject(Option<String>),
    #[error("datacontenttype must be application/json, got {0:?}")]
    NotJson(String),
    #[error("a task event must carry data")]
    NoData,
    #[error("data is not valid JSON: {0}")]
    MalformedData(String),
    #[error(transparent)]
    BadData(#[from] EventDataError),
    #[error("data is about task {data} but the subject says {subject}")]
    SubjectMismatch { subject: i64, data: i64 },
}

/// Checks that `event` is a task event: a known type, the task id as subject,
/// JSON data of that type's shape about that task.
pub fn parse_task_event(event: &Event) -> Result<(TaskEvent, i64), InvalidTaskEvent> {
    let event_type: TaskEventType = event.ty().parse()?;
    let subject = event.subject();
    let task_id = subject
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| InvalidTaskEvent::BadSubject(subject.map(String::from)))?;
    if let Some(content_type) = event.datacontenttype()
        && !(content_type == JSON || content_type.starts_with("application/json;"))
    {
        return Err(InvalidTaskEvent::NotJson(content_type.to_string()));
    }
    let task_event = TaskEvent::from_data(event_type, data_json(event)?)?;
    let data_id = task_event.task().id;
    if data_id != task_id {
        return Err(InvalidTaskEvent::SubjectMismatch {
            subject: task_id,
            data: data_id,
        });
    }
    Ok((task_event, task_id))
}

/// The event's data as JSON, as it arrived (whichever way it is held).
pub fn data_json(event: &Event) -> Result<Value, InvalidTaskEvent> {
    match event.data().ok_or(InvalidTaskEvent::NoData)? {
        Data::Json(value) => Ok(value.clone()),
        Data::String(text) => parse_json(text.as_bytes()),
        Data::Binary(bytes) => parse_json(bytes),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, InvalidTaskEvent> {
    serde_json::from_slice(bytes).map_err(|err| InvalidTaskEvent::MalformedData(err.to_string()))
}

/// Decodes the percent-encoding the HTTP binding prescribes for `ce-` header
/// values (CloudEvents HTTP binding, 3.1.3.2), which the SDK leaves as sent.
/// Only for events received in binary mode.
pub fn decode_header_values(event: &mut Event) -> Result<(), InvalidTaskEvent> {
    fn decode(value: &str) -> Result<String, InvalidTaskEvent> {
        percent_decode_str(value)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| InvalidTaskEvent::BadEncoding(value.to_string()))
    }
    let id = decode(event.id())?;
    let source = decode(event.source())?;
    let ty = decode(event.ty())?;
    let subject = event.subject().map(decode).transpose()?;
    event.set_id(id);
    event.set_source(source);
    event.set_type(ty);
    event.set_subject(subject);
    let extensions: Vec<(String, String)> = event
        .iter_extensions()
        .filter_map(|(name, value)| match value {
            ExtensionValue::String(value) => Some((name.to_string(), value.clone())),
            _ => None,
        })
        .collect();
    for (name, value) in extensions {
        event.set_extension(&name, decode(&value)?);
    }
    Ok(())
}

/// The value of a string extension, if the event has it.
pub fn string_extension<'a>(event: &'a Event, name: &str) -> Option<&'a str> {
    match event.extension(name)? {
        ExtensionValue::String(value) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::EventBuilderV10;
    use serde_json::json;
    use task_core::task::{Task, TaskStatus};

    fn task(id: i64) -> Task {
        let now = Utc::now();
        Task {
            id,
            title: "Renew passport".into(),
            description: None,
            status: TaskStatus::Pending,
            created_at: now,
            updated_at: now,
            version: 1,
            owner: "u1".into(),
        }
    }

    #[test]
    fn builds_every_attribute_the_catalogue_promises() {
        let created = TaskEvent::Created(task(42));
        let event = to_cloudevent(
            &created,
            "create-task",
            "u1",
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        assert_eq!(event.ty(), "task.created");
        assert_eq!(event.source().as_str(), "/functions/create-task");
        assert_eq!(event.subject(), Some("42"));
        assert_eq!(event.datacontenttype(), Some(JSON));
        assert!(event.time().is_some());
        assert_eq!(Uuid::parse_str(event.id()).unwrap().get_version_num(), 7);
        assert_eq!(string_extension(&event, PARTITION_KEY), Some("42"));
        assert!(string_extension(&event, TRACEPARENT).is_some());
        assert_eq!(string_extension(&event, AUTHTYPE), Some(APP_USER));
        assert_eq!(string_extension(&event, AUTHID), Some("u1"));
        assert_eq!(event.data(), Some(&Data::Json(created.data())));
        assert_eq!(created.data()["owner"], "u1", "the data names the owner");
        assert_eq!(parse_task_event(&event).unwrap().1, 42);
    }

    /// The largest change a valid request can make: a 255-character title
    /// and a 10,000-character description replaced by others as long, every
    /// character one that JSON escapes to six bytes (`\u0001`: larger than
    /// any 4-byte character, which JSON carries as is).
    pub fn largest_update() -> TaskEvent {
        use task_core::task::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS};
        let text = |c: char, n: usize| c.to_string().repeat(n);
        let before = Task {
            title: text('\u{1}', TITLE_MAX_CHARS),
            description: Some(text('\u{1}', DESCRIPTION_MAX_CHARS)),
            ..task(7)
        };
        let after = Task {
            title: text('\u{2}', TITLE_MAX_CHARS),
            description: Some(text('\u{2}', DESCRIPTION_MAX_CHARS)),
            status: TaskStatus::Complete,
            version: i32::MAX,
            ..before.clone()
        };
        TaskEvent::Updated(crate::TaskUpdated::between(&before, &after))
    }

    #[test]
    fn the_largest_valid_change_fits_the_broker_with_room_to_spare() {
        let event = to_cloudevent(
            &largest_update(),
            "update-task",
            &"u".repeat(255),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        // Structured mode is the larger form (binary mode carries only the data).
        let structured = serde_json::to_vec(&event).unwrap().len();
        assert!(
            structured > 180_000,
            "the worst case is not exercised: {structured} bytes"
        );
        assert!(
            structured * 4 < crate::MAX_EVENT_BYTES,
            "{structured} bytes leave too little room under {}",
            crate::MAX_EVENT_BYTES
        );
    }

    #[test]
    fn refuses_foreign_and_malformed_events() {
        let base = || {
            EventBuilderV10::new()
                .id("1")
                .source("/test")
                .ty("task.created")
                .subject("5")
        };
        let good = serde_json::to_value(task(5)).unwrap();
        let cases = [
            base()
                .ty("com.example.other")
                .data(JSON, good.clone())
                .build(),
            base().subject("five").data(JSON, good.clone()).build(),
            base().subject("0").data(JSON, good.clone()).build(),
            base().subject("6").data(JSON, good.clone()).build(),
            base().build(),
            base().data(JSON, json!({"title": "no id"})).build(),
            base().data("text/plain", "hello".to_string()).build(),
            base().data(JSON, b"{not json".to_vec()).build(),
        ];
        for event in cases {
            let event = event.unwrap();
            assert!(parse_task_event(&event).is_err(), "accepted {event}");
        }
        assert!(parse_task_event(&base().data(JSON, good).build().unwrap()).is_ok());
    }
}
