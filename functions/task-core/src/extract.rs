//! Request extractors that turn every malformed request into an [`ApiError`].

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use std::fmt;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::task::Task;

/// A JSON object body: 415 without a JSON content type, 413 over the body
/// limit, 400 when it is not a JSON object of the expected shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Parsing into a map first refuses arrays, which serde would otherwise
        // accept for a struct whose fields all have defaults.
        let Json(UniqueObject(object)) = Json::<UniqueObject>::from_request(request, state).await?;
        T::deserialize(Value::Object(object))
            .map(JsonBody)
            .map_err(|err| ApiError::BadRequest(format!("invalid request body: {err}")))
    }
}

/// A JSON object that names each member once. JSON leaves duplicate names
/// to the parser (most keep the last); a request that names a field twice is
/// ambiguous, so it is refused.
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = UniqueObject;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
                let mut object = Map::new();
                while let Some(name) = map.next_key::<String>()? {
                    if object.contains_key(&name) {
                        return Err(de::Error::custom(format!("duplicate field `{name}`")));
                    }
                    let value = map.next_value()?;
                    object.insert(name, value);
                }
                Ok(UniqueObject(object))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// A query string read into `T`: 400 when it is malformed, repeats a
/// parameter, or percent-encodes bytes that are not UTF-8 (a lenient decoder
/// would silently turn them into U+FFFD and search for that).
#[derive(Debug)]
pub struct QueryString<T>(pub T);

impl<T: DeserializeOwned> QueryString<T> {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let malformed =
            |detail: String| ApiError::BadRequest(format!("invalid query string: {detail}"));
        for part in raw.split('&') {
            let bytes = part.replace('+', " ");
            if percent_encoding::percent_decode_str(&bytes)
                .decode_utf8()
                .is_err()
            {
                return Err(malformed(format!("{part:?} is not percent-encoded UTF-8")));
            }
        }
        serde_urlencoded::from_str(raw)
            .map(QueryString)
            .map_err(|err| malformed(err.to_string()))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryString<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::parse(parts.uri.query().unwrap_or_default())
    }
}

/// The `{id}` of a task path: a positive 64-bit integer, else 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskId(pub i64);

impl TaskId {
    /// Only the canonical form: digits, no sign, no leading zero (so one
    /// task has one URL).
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let canonical =
            !raw.starts_with('0') && !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        match raw.parse::<i64>() {
            Ok(id) if canonical && id > 0 => Ok(Self(id)),
            _ => Err(ApiError::BadRequest(format!(
                "task id {raw:?} is not a positive 64-bit integer in its canonical form"
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TaskId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        Self::parse(&raw)
    }
}

/// The `If-Match` precondition of a request; absent means "any version".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IfMatch {
    #[default]
    Any,
    /// The strong entity tags the client accepts, as sent (quotes included).
    Tags(Vec<String>),
}

impl IfMatch {
    pub fn parse(value: &str) -> Self {
        if value.trim() == "*" {
            return Self::Any;
        }
        Self::Tags(
            value
                .split(',')
                .map(|tag| tag.trim().to_string())
                .filter(|tag| !tag.is_empty())
                .collect(),
        )
    }

    /// Ok when `task` is a version the client accepts; 412 with the current task
    /// otherwise. Weak tags never match (RFC 9110 uses strong comparison here).
    pub fn check(&self, task: &Task) -> Result<(), ApiError> {
        match self {
            Self::Any => Ok(()),
            Self::Tags(tags) if tags.iter().any(|tag| *tag == task.etag()) => Ok(()),
            Self::Tags(_) => Err(ApiError::PreconditionFailed(Box::new(task.clone()))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<&str> = parts
            .headers
            .get_all(header::IF_MATCH)
            .iter()
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| ApiError::BadRequest("If-Match is not valid ASCII".into()))
            })
            .collect::<Result<_, _>>()?;
        if values.is_empty() {
            return Ok(Self::Any);
        }
        Ok(Self::parse(&values.join(",")))
    }
}

/// The W3C `traceparent` of the request, passed on to the events it causes.
/// A malformed one is ignored (tracing must never fail a request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceParent(pub Option<String>);

impl TraceParent {
    /// `version-traceid-parentid-flags`, lowercase hex: 2-32-16-2.
    pub fn parse(value: &str) -> Option<String> {
        let parts: Vec<&str> = value.trim().split('-').collect();
        let well_formed = parts.len() == 4
            && [2, 32, 16, 2].iter().zip(&parts).all(|(len, part)| {
                part.len() == *len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            });
        well_formed.then(|| value.trim().to_string())
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TraceParent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .and_then(Self::parse),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskStatus;
    use chrono::Utc;

    fn task(version: i32) -> Task {
        Task {
            id: 7,
            title: "t".into(),
            description: None,
            status: TaskStatus::Pending,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version,
            owner: "u1".into(),
        }
    }

    #[test]
    fn task_ids_must_be_positive_64_bit_integers() {
        assert_eq!(TaskId::parse("42").unwrap(), TaskId(42));
        assert_eq!(
            TaskId::parse("9223372036854775807").unwrap(),
            TaskId(i64::MAX)
        );
        for bad in [
            "0",
            "-1",
            "abc",
            "1.5",
            "9223372036854775808",
            "",
            " 1",
            "+1",
            "0001",
            "01",
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn if_match_compares_strong_tags() {
        assert!(IfMatch::parse("\"3\"").check(&task(3)).is_ok());
        assert!(IfMatch::parse("\"1\", \"3\"").check(&task(3)).is_ok());
        assert!(IfMatch::parse("*").check(&task(3)).is_ok());
        assert!(IfMatch::parse("\"2\"").check(&task(3)).is_err());
        assert!(IfMatch::parse("W/\"3\"").check(&task(3)).is_err());
        assert!(IfMatch::parse("3").check(&task(3)).is_err());
    }

    #[test]
    fn traceparents_must_be_well_formed() {
        let good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(TraceParent::parse(good).as_deref(), Some(good));
        assert_eq!(TraceParent::parse("00-xyz-b7ad6b7169203331-01"), None);
        assert_eq!(TraceParent::parse("garbage"), None);
    }

    #[test]
    fn a_stale_if_match_carries_the_current_task() {
        match IfMatch::parse("\"1\"").check(&task(2)) {
            Err(ApiError::PreconditionFailed(current)) => assert_eq!(current.version, 2),
            other => panic!("expected 412, got {other:?}"),
        }
    }

    #[test]
    fn query_strings_must_be_utf8_once_decoded() {
        use crate::list::ListQuery;
        assert!(QueryString::<ListQuery>::parse("q=caf%C3%A9&limit=5").is_ok());
        assert!(QueryString::<ListQuery>::parse("q=milk+and+honey").is_ok());
        for bad in [
            "q=%FF",
            "q=abc%C3",
            "status=pending&status=complete",
            "limit=1&q=%80%80%80",
        ] {
            assert!(
                QueryString::<ListQuery>::parse(bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }
}
