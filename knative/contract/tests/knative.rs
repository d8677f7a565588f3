//! The Knative manifests, checked here although no cluster runs here: every
//! overlay renders with kustomize, and what it renders keeps the project's
//! promises (every function deployed and routed, every event type
//! triggered, only the edge router public, only images the build produces,
//! an nginx config that loads).

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use cloudevents::{EventBuilder, EventBuilderV10};
use common::{NAMESPACE, OVERLAYS, knative_dir, render, str_at};
use knative_contract::edge_router::GatewayConfig;
use knative_contract::images::built_images;
use local_broker::filter::matches_all;
use local_broker::manifests::Manifests;
use serde_norway::Value;
use task_core::routes::{Duty, EVENT_SENDERS, EVENT_SUBSCRIBER, FUNCTIONS, OUTBOX_RELAY, ROUTES};
use task_events::TaskEventType;

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| str_at(d, &["kind"]) == Some(kind))
        .collect()
}

fn knative_services(documents: &[Value]) -> Vec<&Value> {
    of_kind(documents, "Service")
        .into_iter()
        .filter(|d| str_at(d, &["apiVersion"]) == Some("serving.knative.dev/v1"))
        .collect()
}

fn name(document: &Value) -> &str {
    str_at(document, &["metadata", "name"]).unwrap_or_default()
}

fn label<'a>(document: &'a Value, key: &str) -> Option<&'a str> {
    document.get("metadata")?.get("labels")?.get(key)?.as_str()
}

fn container(service: &Value) -> &Value {
    &service["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn every_overlay_renders_and_keeps_the_promises() {
    for overlay in OVERLAYS {
        let (_, documents) = render(&knative_dir().join("overlays").join(overlay));
        let context = format!("overlay {overlay}");
        let services = knative_services(&documents);
        let names: BTreeSet<&str> = services.iter().map(|s| name(s)).collect();

        // Every function has a Knative Service, and so does the edge router.
        for function in FUNCTIONS.iter().chain(&["edge-router"]) {
            assert!(
                names.contains(function),
                "{context}: no Knative Service {function}"
            );
        }
        for route in ROUTES {
            assert!(
                names.contains(route.function),
                "{context}: {} is routed but not deployed",
                route.function
            );
        }

        for service in &services {
            let service_name = name(service);
            let annotations = &service["spec"]["template"]["metadata"]["annotations"];
            assert_eq!(
                annotations["autoscaling.knative.dev/min-scale"].as_str(),
                Some("0"),
                "{context}: {service_name} must scale to zero"
            );
            assert!(
                annotations["autoscaling.knative.dev/max-scale"].is_string(),
                "{context}: {service_name} max-scale"
            );
            assert!(
                annotations["autoscaling.knative.dev/target"].is_string(),
                "{context}: {service_name} target"
            );
            let container = container(service);
            for probe in ["readinessProbe", "livenessProbe"] {
                assert!(
                    container[probe]["httpGet"]["path"].is_string(),
                    "{context}: {service_name} {probe}"
                );
            }
            for limit in ["cpu", "memory"] {
                assert!(
                    container["resources"]["requests"][limit].is_string(),
                    "{context}: {service_name} request {limit}"
                );
                assert!(
                    container["resources"]["limits"][limit].is_string(),
                    "{context}: {service_name} limit {limit}"
                );
            }
            let security = &container["securityContext"];
            assert_eq!(
                security["runAsNonRoot"].as_bool(),
                Some(true),
                "{context}: {service_name} non-root"
            );
            assert_eq!(
                security["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{context}: {service_name} read-only root"
            );

            // Only the edge router is public.
            let visibility = label(service, "networking.knative.dev/visibility");
            if service_name == "edge-router" {
                assert_eq!(
                    visibility, None,
                    "{context}: the edge router must be public"
                );
            } else {
                assert_eq!(
                    visibility,
                    Some("cluster-local"),
                    "{context}: {service_name} must be cluster-local"
                );
                assert_eq!(
                    container["readinessProbe"]["httpGet"]["path"].as_str(),
                    Some("/health")
                );
                let database = container["env"]
                    .as_sequence()
                    .and_then(|env| {
                        env.iter()
                            .find(|e| e["name"].as_str() == Some("DATABASE_URL"))
                    })
                    .unwrap_or_else(|| panic!("{context}: {service_name} has no DATABASE_URL"));
                // (A generated Secret's name ends in a hash of its content.)
                let secret = database["valueFrom"]["secretKeyRef"]["name"]
                    .as_str()
                    .unwrap_or_default();
                let expected = format!("task-app-database-{}", Duty::of(service_name).name());
                assert!(
                    secret == expected
                        || secret
                            .strip_prefix(&format!("{expected}-"))
                            .is_some_and(|hash| hash.len() == 10),
                    "{context}: {service_name} must connect as its duty's login user, not {secret}"
                );
            }
            // The SinkBinding gives K_SINK to exactly the event senders.
            assert_eq!(
                label(service, "task-app/emits-events") == Some("true"),
                EVENT_SENDERS.contains(&service_name),
                "{context}: {service_name} and the SinkBinding"
            );
        }

        // Every image is one the build produces.
        let built: Vec<&str> = built_images();
        let mut images: Vec<&str> = services
            .iter()
            .filter_map(|s| container(s)["image"].as_str())
            .collect();
        for job in of_kind(&documents, "Job") {
            images.extend(
                job["spec"]["template"]["spec"]["containers"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["image"].as_str()),
            );
        }
        for image in &images {
            let short = image
                .split(['@', ':'])
                .next()
                .and_then(|path| path.rsplit('/').next())
                .unwrap_or_default();
            assert!(
                image.contains("task-app/"),
                "{context}: {image} is not a task-app image"
            );
            assert!(
                built.contains(&short),
                "{context}: {image} is not an image the build produces"
            );
        }

        // Eventing: every event type reaches the audit function, in order.
        let sink_binding = &of_kind(&documents, "SinkBinding")[0];
        assert_eq!(
            str_at(sink_binding, &["spec", "sink", "ref", "kind"]),
            Some("Broker")
        );
        let ping = &of_kind(&documents, "PingSource")[0];
        assert_eq!(
            str_at(ping, &["spec", "sink", "ref", "name"]),
            Some(OUTBOX_RELAY)
        );
        let broker = &of_kind(&documents, "Broker")[0];
        assert_eq!(
            str_at(
                broker,
                &[
                    "metadata",
                    "annotations",
                    "eventing.knative.dev/broker.class"
                ]
            ),
            Some("Kafka")
        );
        let retry_budget = check_triggers(&documents, &context);
        // The relay sends an event again only once the broker has given up on it.
        let relay = services
            .iter()
            .find(|s| str_at(s, &["metadata", "name"]) == Some(OUTBOX_RELAY))
            .unwrap_or_else(|| panic!("{context}: no {OUTBOX_RELAY} Service"));
        let grace_ms: u64 = container(relay)["env"]
            .as_sequence()
            .and_then(|env| {
                env.iter()
                    .find(|e| e["name"].as_str() == Some("OUTBOX_AUDIT_GRACE_MS"))
            })
            .and_then(|e| e["value"].as_str()?.parse().ok())
            .unwrap_or_else(|| panic!("{context}: {OUTBOX_RELAY} sets no OUTBOX_AUDIT_GRACE_MS"));
        assert!(
            Duration::from_millis(grace_ms) > retry_budget,
            "{context}: the audit grace ({grace_ms} ms) must outlast the Trigger's retry budget ({retry_budget:?})"
        );
    }
}

/// Every event type has an ordered Trigger with retries and a dead-letter sink
/// that delivers it to the audit function. Returns the longest retry budget.
fn check_triggers(documents: &[Value], context: &str) -> Duration {
    let dir = std::env::temp_dir().join(format!(
        "rendered-{}-{}",
        std::process::id(),
        context.replace(' ', "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = documents
        .iter()
        .map(|d| serde_norway::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n");
    std::fs::write(dir.join("rendered.yaml"), text).unwrap();
    let manifests = Manifests::load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut budget = Duration::ZERO;
    for event_type in TaskEventType::ALL {
        let event = EventBuilderV10::new()
            .id("1")
            .source("/functions/test")
            .ty(event_type.as_str())
            .subject("1")
            .build()
            .unwrap();
        let trigger = manifests
            .triggers
            .iter()
            .find(|t| {
                matches_all(&t.filters, &event)
                    && t.subscriber.reference.as_ref().map(|r| r.name.as_str())
                        == Some(EVENT_SUBSCRIBER)
            })
            .unwrap_or_else(|| {
                panic!("{context}: no Trigger delivers {event_type} to {EVENT_SUBSCRIBER}")
            });
        assert!(
            trigger.ordered,
            "{context}: {} must keep per-task order",
            trigger.name
        );
        assert!(trigger.retry > 0, "{context}: {} must retry", trigger.name);
        assert!(
            trigger.dead_letter_sink.is_some(),
            "{context}: {} needs a dead-letter sink",
            trigger.name
        );
        budget = budget.max(
            (1..=trigger.retry)
                .map(|retry| trigger.backoff(retry))
                .sum(),
        );
    }
    budget
}

/// The committed edge router config is what the route table generates.
#[test]
fn the_edge_router_config_is_generated_from_the_route_table() {
    let committed =
        std::fs::read_to_string(knative_dir().join("base/edge-router/nginx.conf")).unwrap();
    assert!(
        committed == GatewayConfig::knative(NAMESPACE).render(),
        "knative/base/edge-router/nginx.conf is stale: run `task knative:generate`"
    );
}

/// The nginx config the cluster gets loads in nginx (`nginx -t`). The
/// cluster-local host names cannot be resolved here, so the test points the
/// upstreams at 127.0.0.1; everything else is tested as deployed.
#[test]
fn the_edge_router_config_the_cluster_gets_loads_in_nginx() {
    let (_, documents) = render(&knative_dir().join("overlays/kind"));
    let config_map = of_kind(&documents, "ConfigMap")
        .into_iter()
        .find(|c| name(c).starts_with("edge-router-nginx"))
        .expect("the edge router's ConfigMap");
    let conf = config_map["data"]["nginx.conf"].as_str().unwrap();
    let dir = std::env::temp_dir().join(format!("edge-router-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let testable: String = conf
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("server ") && line.contains(".svc.cluster.local") {
                "        server 127.0.0.1:80;".to_string()
            } else {
                line.replace("/tmp", dir.to_str().unwrap())
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("nginx.conf"), testable).unwrap();
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|n| Command::new(n).arg("-v").output().is_ok())
        .expect("nginx is installed by task setup");
    let output = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        output.status.success(),
        "nginx -t failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
