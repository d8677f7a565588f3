//! The Knative eventing objects, read from the very YAML files deployed to
//! the cluster: Brokers, their `kafka-broker-config`, Triggers and
//! KafkaSinks. The local broker acts on them; the tests here check them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::filter::Filter;

/// Why the manifests cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_norway::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
struct Object {
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: serde_norway::Value,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

// The specs below refuse fields Knative does not define (a typo such as
// `retries` would otherwise be silently ignored, here and on the cluster's
// side until the webhook refuses it). Fields the local broker does not use
// are still named, so valid manifests load.

/// A reference to an addressable object, or a URI (a Knative Destination).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    #[serde(rename = "ref")]
    pub reference: Option<KReference>,
    pub uri: Option<String>,
    #[serde(rename = "CACerts", default)]
    _ca_certs: Option<IgnoredAny>,
    #[serde(rename = "audience", default)]
    _audience: Option<IgnoredAny>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Knative's `delivery` spec.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliverySpec {
    pub retry: Option<u32>,
    pub backoff_policy: Option<String>,
    pub backoff_delay: Option<String>,
    pub dead_letter_sink: Option<Destination>,
    #[serde(rename = "timeout", default)]
    _timeout: Option<IgnoredAny>,
    #[serde(rename = "retryAfterMax", default)]
    _retry_after_max: Option<IgnoredAny>,
    #[serde(rename = "format", default)]
    _format: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TriggerSpec {
    broker: String,
    #[serde(default)]
    filter: Option<LegacyFilter>,
    #[serde(default)]
    filters: Vec<Filter>,
    subscriber: Destination,
    #[serde(default)]
    delivery: Option<DeliverySpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyFilter {
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrokerSpec {
    #[serde(default)]
    delivery: Option<DeliverySpec>,
    #[serde(rename = "config", default)]
    _config: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KafkaSinkSpec {
    topic: String,
    #[serde(rename = "bootstrapServers", default)]
    _bootstrap_servers: Option<IgnoredAny>,
    #[serde(rename = "contentMode", default)]
    _content_mode: Option<IgnoredAny>,
    #[serde(rename = "numPartitions", default)]
    _num_partitions: Option<IgnoredAny>,
    #[serde(rename = "replicationFactor", default)]
    _replication_factor: Option<IgnoredAny>,
    #[serde(rename = "auth", default)]
    _auth: Option<IgnoredAny>,
}

/// How a Trigger retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffPolicy {
    Exponential,
    Linear,
}

/// A Trigger, with its delivery settings resolved to values.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub name: String,
    pub broker: String,
    pub filters: Vec<Filter>,
    pub subscriber: Destination,
    /// Retries after the first attempt.
    pub retry: u32,
    pub backoff_policy: BackoffPolicy,
    pub backoff_delay: Duration,
    pub dead_letter_sink: Option<Destination>,
    /// `kafka.eventing.knative.dev/delivery.order: ordered`
    pub ordered: bool,
}

impl Trigger {
    /// The wait before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        match self.backoff_policy {
            BackoffPolicy::Exponential => self.backoff_delay * 2u32.saturating_pow(retry - 1),
            BackoffPolicy::Linear => self.backoff_delay * retry,
        }
    }
}

/// Everything read from a manifests directory.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    pub brokers: Vec<String>,
    pub triggers: Vec<Trigger>,
    /// KafkaSink name -> topic.
    pub kafka_sinks: BTreeMap<String, String>,
    /// `default.topic.partitions` of the brokers' config.
    pub partitions: Option<i32>,
}

pub const ORDER_ANNOTATION: &str = "kafka.eventing.knative.dev/delivery.order";

impl Manifests {
    /// Reads every `.yaml`/`.yml` file under `dir` (documents of other kinds
    /// are ignored).
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        let mut files = Vec::new();
        collect_yaml(dir, &mut files)?;
        files.sort();
        let mut objects = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
                path: path.clone(),
                source,
            })?;
            for document in serde_norway::Deserializer::from_str(&text) {
                let value = serde_norway::Value::deserialize(document).map_err(|source| {
                    ManifestError::Parse {
                        path: path.clone(),
                        source,
                    }
                })?;
                if value.is_null() || value.get("kind").is_none() {
                    continue;
                }
                let object: Object =
                    serde_norway::from_value(value).map_err(|source| ManifestError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                objects.push((path.clone(), object));
            }
        }
        Self::from_objects(objects)
    }

    fn from_objects(objects: Vec<(PathBuf, Object)>) -> Result<Self, ManifestError> {
        let mut manifests = Self::default();
        let mut broker_delivery = BTreeMap::new();
        for (path, object) in &objects {
            let parse = |source| ManifestError::Parse {
                path: path.clone(),
                source,
            };
            match object.kind.as_str() {
                "Broker" => {
                    let spec: BrokerSpec =
                        serde_norway::from_value(object.spec.clone()).map_err(parse)?;
                    manifests.brokers.push(object.metadata.name.clone());
                    broker_delivery.insert(object.metadata.name.clone(), spec.delivery);
                }
                "KafkaSink" => {
                    let spec: KafkaSinkSpec =
                        serde_norway::from_value(object.spec.clone()).map_err(parse)?;
                    manifests
                        .kafka_sinks
                        .insert(object.metadata.name.clone(), spec.topic);
                }
                "ConfigMap" if object.metadata.name == "kafka-broker-config" => {
                    manifests.partitions = object
                        .data
                        .get("default.topic.partitions")
                        .and_then(|p| p.parse().ok());
                }
                _ => {}
            }
        }
        for (path, object) in objects {
            if object.kind != "Trigger" {
                continue;
            }
            let spec: TriggerSpec =
                serde_norway::from_value(object.spec).map_err(|source| ManifestError::Parse {
                    path: path.clone(),
                    source,
                })?;
            let delivery = spec
                .delivery
                .or_else(|| broker_delivery.get(&spec.broker).cloned().flatten())
                .unwrap_or_default();
            let name = object.metadata.name;
            let mut filters = spec.filters;
            if let Some(legacy) = spec.filter {
                filters.push(Filter::legacy(legacy.attributes));
            }
            let invalid = |what: String| ManifestError::Invalid(format!("Trigger {name}: {what}"));
            if filters.iter().any(Filter::uses_cesql) {
                return Err(invalid(
                    "CESQL filters are not supported by the local broker".into(),
                ));
            }
            let backoff_policy = match delivery.backoff_policy.as_deref() {
                None | Some("exponential") => BackoffPolicy::Exponential,
                Some("linear") => BackoffPolicy::Linear,
                Some(other) => return Err(invalid(format!("unknown backoffPolicy {other:?}"))),
            };
            let backoff_delay = match delivery.backoff_delay.as_deref() {
                None => Duration::from_millis(200),
                Some(text) => parse_duration(text).ok_or_else(|| {
                    invalid(format!("backoffDelay {text:?} is not an ISO 8601 duration"))
                })?,
            };
            manifests.triggers.push(Trigger {
                ordered: object
                    .metadata
                    .annotations
                    .get(ORDER_ANNOTATION)
                    .map(String::as_str)
                    == Some("ordered"),
                name,
                broker: spec.broker,
                filters,
                subscriber: spec.subscriber,
                retry: delivery.retry.unwrap_or(0),
                backoff_policy,
                backoff_delay,
                dead_letter_sink: delivery.dead_letter_sink,
            });
        }
        Ok(manifests)
    }
}

/// An ISO 8601 duration such as `PT0.2S` or `PT1M`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let duration: iso8601::Duration = text.parse().ok()?;
    Some(duration.into())
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ManifestError> {
    let read = |source| ManifestError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_dir() {
            collect_yaml(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Manifests {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("manifests-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("all.yaml"), yaml).unwrap();
        let manifests = Manifests::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        manifests
    }

    #[test]
    fn reads_the_projects_own_eventing_manifests() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knative/base");
        let manifests = Manifests::load(&dir).unwrap();
        assert_eq!(manifests.brokers, ["task-events"]);
        let named = |name: &str| {
            manifests
                .triggers
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("no Trigger {name}"))
        };
        // The live updates' Trigger: unordered, short retries, no dead letters.
        let stream = named("task-events-to-stream");
        assert!(!stream.ordered);
        assert!(stream.dead_letter_sink.is_none());
        let trigger = named("task-events-to-audit");
        assert_eq!(trigger.broker, "task-events");
        assert!(trigger.ordered);
        assert!(trigger.retry > 0);
        assert_eq!(trigger.backoff_policy, BackoffPolicy::Exponential);
        let sink = trigger
            .dead_letter_sink
            .as_ref()
            .unwrap()
            .reference
            .as_ref()
            .unwrap();
        assert!(manifests.kafka_sinks.contains_key(&sink.name));
        assert!(manifests.partitions.is_some());
    }

    #[test]
    fn delivery_defaults_and_backoff() {
        let manifests = load(
            "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspec:\n  delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT0.5S}\n---\n\
             apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: b\n  filter: {attributes: {type: a.b}}\n  subscriber: {uri: 'http://x/'}\n",
        );
        let trigger = &manifests.triggers[0];
        assert_eq!(trigger.retry, 2);
        assert_eq!(trigger.backoff_policy, BackoffPolicy::Linear);
        assert_eq!(trigger.backoff(1), Duration::from_millis(500));
        assert_eq!(trigger.backoff(2), Duration::from_millis(1000));
        assert!(!trigger.ordered);
        assert_eq!(trigger.subscriber.uri.as_deref(), Some("http://x/"));
    }

    #[test]
    fn exponential_backoff_doubles() {
        let manifests = load(
            "kind: Trigger\nmetadata: {name: t}\nspec:\n  broker: b\n  subscriber: {uri: 'http://x/'}\n  delivery: {retry: 3, backoffDelay: PT0.2S}\n",
        );
        let trigger = &manifests.triggers[0];
        let delays: Vec<_> = (1..=3).map(|r| trigger.backoff(r)).collect();
        assert_eq!(
            delays,
            [
                Duration::from_millis(200),
                Duration::from_millis(400),
                Duration::from_millis(800)
            ]
        );
    }

    #[test]
    fn fields_knative_does_not_define_are_refused() {
        let dir = std::env::temp_dir().join(format!("manifests-typo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("t.yaml"),
            "kind: Trigger\nmetadata: {name: t}\nspec:\n  broker: b\n  subscriber: {uri: 'http://x/'}\n  delivery: {retries: 3}\n",
        )
        .unwrap();
        let result = Manifests::load(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(result.unwrap_err().to_string().contains("retries"));
    }

    #[test]
    fn durations_parse_as_iso_8601() {
        assert_eq!(parse_duration("PT0.2S"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("PT2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("200ms"), None);
    }
}
