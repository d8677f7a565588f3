//! The Knative manifests, checked here although no cluster runs here: every
//! overlay renders with kustomize, and what it renders keeps the project's
//! promises (every function deployed and routed, every event type
//! triggered, only the edge router public, only images the build produces,
//! an nginx config that loads, every ConfigMap and Secret a workload names
//! rendered, the token checks' settings for exactly the functions that need
//! sign-in, and a kind realm whose tokens keep the claim contract).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use cloudevents::{EventBuilder, EventBuilderV10};
use common::{NAMESPACE, OVERLAYS, knative_dir, render, str_at};
use knative_contract::edge_router::{GatewayConfig, SIGN_IN_PATH};
use knative_contract::filter::matches_all;
use knative_contract::images::built_images;
use knative_contract::manifests::Manifests;
use serde_norway::Value;
use task_core::auth::AuthConfig;
use task_core::routes::{
    Duty, EVENT_SENDERS, EVENT_SUBSCRIBER, FUNCTIONS, OUTBOX_RELAY, ROUTES, needs_sign_in,
};
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

/// The pod specs of every workload an overlay renders (Knative Services,
/// Deployments, StatefulSets, Jobs), by kind and name.
fn pod_specs(documents: &[Value]) -> Vec<(String, &Value)> {
    documents
        .iter()
        .filter(|d| {
            matches!(
                str_at(d, &["kind"]),
                Some("Service" | "Deployment" | "StatefulSet" | "Job")
            )
        })
        .filter_map(|d| {
            let spec = d.get("spec")?.get("template")?.get("spec")?;
            Some((
                format!("{} {}", str_at(d, &["kind"]).unwrap_or_default(), name(d)),
                spec,
            ))
        })
        .collect()
}

/// The rendered objects of `kind` (ConfigMap, Secret) by name.
fn by_name<'a>(documents: &'a [Value], kind: &str) -> BTreeMap<&'a str, &'a Value> {
    of_kind(documents, kind)
        .into_iter()
        .filter(|d| str_at(d, &["apiVersion"]) == Some("v1"))
        .map(|d| (name(d), d))
        .collect()
}

/// A reference from a pod spec to a ConfigMap or Secret: its kind, name,
/// the key it reads (if one) and whether it may be missing.
struct Reference<'a> {
    kind: &'static str,
    name: &'a str,
    key: Option<&'a str>,
    optional: bool,
}

fn references(spec: &Value) -> Vec<Reference<'_>> {
    let mut found = Vec::new();
    let optional = |v: &Value| v["optional"].as_bool().unwrap_or(false);
    let containers = ["initContainers", "containers"]
        .iter()
        .flat_map(|field| spec[*field].as_sequence().into_iter().flatten());
    for container in containers {
        for entry in container["env"].as_sequence().into_iter().flatten() {
            for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
                if let Some(reference) = entry.get("valueFrom").and_then(|v| v.get(field)) {
                    found.push(Reference {
                        kind,
                        name: reference["name"].as_str().unwrap_or_default(),
                        key: reference["key"].as_str(),
                        optional: optional(reference),
                    });
                }
            }
        }
        for entry in container["envFrom"].as_sequence().into_iter().flatten() {
            for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                if let Some(reference) = entry.get(field) {
                    found.push(Reference {
                        kind,
                        name: reference["name"].as_str().unwrap_or_default(),
                        key: None,
                        optional: optional(reference),
                    });
                }
            }
        }
    }
    for volume in spec["volumes"].as_sequence().into_iter().flatten() {
        if let Some(map) = volume.get("configMap") {
            found.push(Reference {
                kind: "ConfigMap",
                name: map["name"].as_str().unwrap_or_default(),
                key: None,
                optional: optional(map),
            });
        }
        if let Some(secret) = volume.get("secret") {
            found.push(Reference {
                kind: "Secret",
                name: secret["secretName"].as_str().unwrap_or_default(),
                key: None,
                optional: optional(secret),
            });
        }
    }
    found
}

/// Kustomize renames what it generates (a hash of the content appended) and
/// fixes the references it knows of; a reference it does not know keeps the
/// old name, which no cluster has. So every ConfigMap a workload names is
/// rendered, with the key it reads; so is every Secret, in an overlay that
/// renders Secrets (production's are the operator's, never in git).
#[test]
fn every_config_map_and_secret_a_workload_names_is_rendered() {
    for overlay in OVERLAYS {
        let (_, documents) = render(&knative_dir().join("overlays").join(overlay));
        let config_maps = by_name(&documents, "ConfigMap");
        let secrets = by_name(&documents, "Secret");
        let mut wrong = Vec::new();
        for (workload, spec) in pod_specs(&documents) {
            for reference in references(spec) {
                let rendered = match reference.kind {
                    "ConfigMap" => &config_maps,
                    _ if secrets.is_empty() => continue,
                    _ => &secrets,
                };
                let Some(object) = rendered.get(reference.name) else {
                    wrong.push(format!(
                        "{workload} names {} {}, which the overlay does not render",
                        reference.kind, reference.name
                    ));
                    continue;
                };
                if let Some(key) = reference.key
                    && !reference.optional
                    && object["data"].get(key).is_none()
                    && object["stringData"].get(key).is_none()
                {
                    wrong.push(format!(
                        "{workload} reads {key} of {} {}, which has no such key",
                        reference.kind, reference.name
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "overlay {overlay}:\n{}", wrong.join("\n"));
    }
}

/// The value of environment variable `key` of a container as the rendered
/// manifests give it: a literal, or a key of a rendered ConfigMap (None if
/// unset, or from an optional key that is missing). Secrets are not
/// resolved.
fn env_value(container: &Value, key: &str, config_maps: &BTreeMap<&str, &Value>) -> Option<String> {
    let entry = container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"].as_str() == Some(key))?;
    if let Some(value) = entry.get("value") {
        return value.as_str().map(str::to_string);
    }
    let reference = entry.get("valueFrom")?.get("configMapKeyRef")?;
    let map = config_maps.get(reference["name"].as_str()?)?;
    map["data"][reference["key"].as_str()?]
        .as_str()
        .map(str::to_string)
}

/// Where a setting of a pod's first container comes from, as
/// `ConfigMap/key`, and its rendered value: an environment variable from a
/// ConfigMap's key, or (a `_FILE` setting) a literal path into a volume
/// mounted from a ConfigMap. None for anything else (a literal value, a
/// Secret).
fn auth_setting(
    spec: &Value,
    key: &str,
    config_maps: &BTreeMap<&str, &Value>,
) -> Option<(String, Option<String>)> {
    let container = &spec["containers"][0];
    let entry = container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"].as_str() == Some(key))?;
    let (map, file) = if let Some(reference) = entry
        .get("valueFrom")
        .and_then(|v| v.get("configMapKeyRef"))
    {
        (reference["name"].as_str()?, reference["key"].as_str()?)
    } else {
        let path = entry
            .get("value")?
            .as_str()
            .filter(|_| key.ends_with("_FILE"))?;
        let mount = container["volumeMounts"].as_sequence()?.iter().find(|m| {
            m["mountPath"]
                .as_str()
                .is_some_and(|dir| path.starts_with(&format!("{}/", dir.trim_end_matches('/'))))
        })?;
        let dir = mount["mountPath"].as_str()?.trim_end_matches('/');
        let volume = spec["volumes"]
            .as_sequence()?
            .iter()
            .find(|v| v["name"] == mount["name"])?;
        (
            volume.get("configMap")?["name"].as_str()?,
            &path[dir.len() + 1..],
        )
    };
    let value = config_maps
        .get(map)
        .and_then(|m| m["data"][file].as_str())
        .map(str::to_string);
    Some((format!("{map}/{file}"), value))
}

/// The URL of the edge router on kind as a browser reaches it: Knative's
/// domain (`local/kind/up.sh` sets config-domain) and the host port the
/// cluster maps Kourier to (`local/kind/cluster.yaml`).
fn kind_gateway_origin() -> String {
    let kind = knative_dir().join("../local/kind");
    let cluster: Value =
        serde_norway::from_str(&std::fs::read_to_string(kind.join("cluster.yaml")).unwrap())
            .unwrap();
    let port = cluster["nodes"][0]["extraPortMappings"][0]["hostPort"]
        .as_u64()
        .expect("local/kind/cluster.yaml maps a host port");
    let up = std::fs::read_to_string(kind.join("up.sh")).unwrap();
    let patch = up
        .lines()
        .skip_while(|line| !line.contains("configmap/config-domain"))
        .find_map(|line| line.split_once("-p '").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once('\''))
        .map(|(json, _)| json)
        .expect("local/kind/up.sh patches config-domain");
    let patch: serde_json::Value = serde_json::from_str(patch).unwrap();
    let domain = patch["data"]
        .as_object()
        .and_then(|data| data.keys().next())
        .expect("config-domain names a domain");
    format!("http://edge-router.{NAMESPACE}.{domain}:{port}")
}

/// Every function that serves a signed-in route (`needs_sign_in`) gets the
/// token checks' settings from the overlay's configuration, the same for
/// all of them, and they are settings the functions accept (kind) or refuse
/// loudly until the operator fills them in (production's placeholders);
/// every other Service (health, audit, outbox-relay, the edge router) gets
/// none. The migrations Job may get the tasks' first owner.
#[test]
fn every_function_that_needs_sign_in_gets_the_token_settings() {
    let gateway = GatewayConfig::knative(NAMESPACE);
    let issuer_path = gateway.sign_in.issuer_path.as_str();
    assert!(!needs_sign_in(EVENT_SUBSCRIBER) && !needs_sign_in(OUTBOX_RELAY));
    for overlay in OVERLAYS {
        let (_, documents) = render(&knative_dir().join("overlays").join(overlay));
        let context = format!("overlay {overlay}");
        let config_maps = by_name(&documents, "ConfigMap");
        let mut settings = BTreeSet::new();
        let mut signed_in = BTreeSet::new();
        for service in knative_services(&documents) {
            let service_name = name(service);
            let container = container(service);
            let auth: Vec<&str> = container["env"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|e| e["name"].as_str())
                .filter(|n| n.starts_with("AUTH_"))
                .collect();
            let labelled = str_at(
                service,
                &[
                    "spec",
                    "template",
                    "metadata",
                    "labels",
                    "task-app/checks-tokens",
                ],
            ) == Some("true");
            if !(FUNCTIONS.contains(&service_name) && needs_sign_in(service_name)) {
                assert!(
                    auth.is_empty() && !labelled,
                    "{context}: {service_name} checks no token, so gets no token settings (has {auth:?})"
                );
                continue;
            }
            signed_in.insert(service_name);
            assert!(
                labelled,
                "{context}: {service_name} needs the label the provider's NetworkPolicy admits"
            );
            let has = |key: &str| auth.contains(&key);
            assert!(
                has("AUTH_ISSUER"),
                "{context}: {service_name} gets no AUTH_ISSUER"
            );
            assert!(
                has("AUTH_JWKS") || has("AUTH_JWKS_FILE"),
                "{context}: {service_name} gets no key set (AUTH_JWKS or AUTH_JWKS_FILE)"
            );
            // From the overlay's configuration, not written into the function.
            let pod_spec = &service["spec"]["template"]["spec"];
            let sources: Vec<String> = auth
                .iter()
                .map(|key| {
                    let (source, _) =
                        auth_setting(pod_spec, key, &config_maps).unwrap_or_else(|| {
                            panic!(
                                "{context}: {service_name}'s {key} must come from a ConfigMap \
                                 (a key, or a file mounted from one)"
                            )
                        });
                    format!("{key}={source}")
                })
                .collect();
            settings.insert(sources.join(" "));

            let lookup = |key: &str| match key {
                // A key set in a mounted file is read from its ConfigMap.
                "AUTH_JWKS_FILE" => None,
                "AUTH_JWKS" if !has("AUTH_JWKS") => {
                    auth_setting(pod_spec, "AUTH_JWKS_FILE", &config_maps).and_then(|(_, v)| v)
                }
                _ => env_value(container, key, &config_maps),
            };
            let issuer = lookup("AUTH_ISSUER").unwrap_or_default();
            let parsed = AuthConfig::from_lookup(lookup);
            match *overlay {
                "kind" => {
                    let config = parsed.unwrap_or_else(|error| {
                        panic!("{context}: {service_name} would refuse to start: {error}")
                    });
                    assert_eq!(
                        config.issuer,
                        format!("{}{issuer_path}", kind_gateway_origin()),
                        "{context}: the issuer is the edge router's URL on kind and the web app's issuer path"
                    );
                    let provider_host = gateway.sign_in.provider.address.trim_end_matches(":80");
                    assert_eq!(
                        config.jwks_url.as_deref(),
                        Some(
                            format!(
                                "http://{provider_host}{issuer_path}/protocol/openid-connect/certs"
                            )
                            .as_str()
                        ),
                        "{context}: the key set is fetched again from the provider in the cluster"
                    );
                    assert_eq!(config.audience, "task-api");
                }
                _ if issuer.is_empty() => assert!(
                    parsed.is_err(),
                    "{context}: unset, the settings must stop {service_name} from starting"
                ),
                _ => {
                    let config = parsed.unwrap_or_else(|error| {
                        panic!("{context}: {service_name} would refuse to start: {error}")
                    });
                    assert!(
                        config.issuer.starts_with("https://")
                            && config.issuer.ends_with(issuer_path),
                        "{context}: the issuer must be https://<gateway host>{issuer_path}, \
                         where the web app discovers it, not {}",
                        config.issuer
                    );
                }
            }
        }
        let expected: BTreeSet<&str> = FUNCTIONS
            .iter()
            .copied()
            .filter(|f| needs_sign_in(f))
            .collect();
        assert_eq!(
            signed_in, expected,
            "{context}: the functions that check tokens"
        );
        assert_eq!(
            settings.len(),
            1,
            "{context}: every function must trust the same provider: {settings:?}"
        );

        let job = of_kind(&documents, "Job")
            .into_iter()
            .find(|j| name(j) == "migrate-schema")
            .expect("the migrations Job");
        let migrate = &job["spec"]["template"]["spec"]["containers"][0];
        let owner = migrate["env"]
            .as_sequence()
            .and_then(|env| {
                env.iter()
                    .find(|e| e["name"].as_str() == Some("EXISTING_TASKS_OWNER"))
            })
            .unwrap_or_else(|| panic!("{context}: the migrations get no EXISTING_TASKS_OWNER"));
        assert_eq!(
            owner["valueFrom"]["configMapKeyRef"]["optional"].as_bool(),
            Some(true),
            "{context}: EXISTING_TASKS_OWNER is optional (default `unowned`)"
        );
    }
}

/// The kind overlay's Keycloak: served where the edge router proxies
/// /oidc/, its issuer following the forwarded host, and a realm import
/// whose tokens keep the claim contract the functions check: the web app's
/// public client with PKCE, access tokens typed at+jwt for the audience
/// task-api with the realm roles in a top-level `roles`, at most 5 minutes,
/// signed ES256 or RS256; alice, bob and carol (admin) with passwords from
/// the Secret.
#[test]
fn the_kind_realm_keeps_the_claim_contract() {
    let gateway = GatewayConfig::knative(NAMESPACE);
    let issuer_path = gateway.sign_in.issuer_path.as_str();
    let origin = kind_gateway_origin();
    let (_, documents) = render(&knative_dir().join("overlays/kind"));
    let config_maps = by_name(&documents, "ConfigMap");
    let secrets = by_name(&documents, "Secret");

    // The Service the edge router proxies to, and the pods behind it.
    let (provider_host, provider_port) = gateway.sign_in.provider.address.rsplit_once(':').unwrap();
    let service_name = provider_host
        .strip_suffix(&format!(".{NAMESPACE}.svc.cluster.local"))
        .expect("the provider is a Service of the namespace");
    let service = of_kind(&documents, "Service")
        .into_iter()
        .find(|s| str_at(s, &["apiVersion"]) == Some("v1") && name(s) == service_name)
        .unwrap_or_else(|| panic!("no Service {service_name}: the edge router would not start"));
    let port = &service["spec"]["ports"][0];
    assert_eq!(
        port["port"].as_u64().map(|p| p.to_string()).as_deref(),
        Some(provider_port)
    );
    let deployment = of_kind(&documents, "Deployment")
        .into_iter()
        .find(|d| name(d) == service_name)
        .expect("the provider's Deployment");
    let pod = &deployment["spec"]["template"];
    for (key, value) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][key.as_str().unwrap()], value);
    }
    assert_eq!(
        str_at(pod, &["metadata", "labels", "app.kubernetes.io/component"]),
        Some("oidc-provider"),
        "the label the base's NetworkPolicy `oidc` selects"
    );
    let keycloak = &pod["spec"]["containers"][0];
    assert!(
        keycloak["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("quay.io/keycloak/keycloak:26.")),
        "Keycloak 26, pinned: {:?}",
        keycloak["image"]
    );
    let container_port = keycloak["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == port["targetPort"])
        .expect("the Service's target port");
    assert_eq!(container_port["containerPort"].as_u64(), Some(8080));
    let args: Vec<&str> = keycloak["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"--import-realm"), "args {args:?}");
    let env = |key: &str| env_value(keycloak, key, &config_maps);
    assert_eq!(
        env("KC_HTTP_RELATIVE_PATH").as_deref(),
        Some(SIGN_IN_PATH.trim_end_matches('/')),
        "Keycloak serves where the edge router proxies"
    );
    assert_eq!(env("KC_PROXY_HEADERS").as_deref(), Some("xforwarded"));
    assert!(
        env("KC_HOSTNAME").is_none(),
        "no fixed hostname: the issuer follows the forwarded host"
    );

    // The realm, as mounted where --import-realm reads it.
    let mount = keycloak["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str() == Some("/opt/keycloak/data/import"))
        .expect("the realm import is mounted at /opt/keycloak/data/import");
    let volume = pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let realm_map = config_maps[volume["configMap"]["name"].as_str().unwrap()];
    let realm_name = issuer_path.rsplit('/').next().unwrap();
    let realm: serde_json::Value = realm_map["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(file, _)| file.as_str().unwrap().ends_with(".json"))
        .map(|(_, text)| serde_json::from_str(text.as_str().unwrap()).unwrap())
        .find(|realm: &serde_json::Value| realm["realm"] == realm_name)
        .unwrap_or_else(|| panic!("no realm {realm_name} in the import"));
    assert_eq!(
        issuer_path,
        format!("{}/realms/{realm_name}", SIGN_IN_PATH.trim_end_matches('/'))
    );
    assert!(
        realm["accessTokenLifespan"]
            .as_u64()
            .is_some_and(|s| s <= 300),
        "access tokens live at most 5 minutes"
    );
    let algorithm = realm["defaultSignatureAlgorithm"]
        .as_str()
        .unwrap_or("RS256");
    assert!(
        ["ES256", "RS256"].contains(&algorithm),
        "the functions accept ES256 and RS256, not {algorithm}"
    );
    if algorithm == "ES256" {
        assert!(
            realm["components"]["org.keycloak.keys.KeyProvider"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["providerId"] == "ecdsa-generated"
                    && k["config"]["ecdsaEllipticCurveKey"][0] == "P-256"),
            "ES256 needs an ecdsa-generated P-256 key"
        );
    }

    // The web app's client.
    let client = realm["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == gateway.sign_in.client_id.as_str())
        .unwrap_or_else(|| panic!("no client {}", gateway.sign_in.client_id));
    for (field, value) in [
        ("enabled", true),
        ("publicClient", true),
        ("standardFlowEnabled", true),
        ("implicitFlowEnabled", false),
        ("directAccessGrantsEnabled", false),
        ("serviceAccountsEnabled", false),
    ] {
        assert_eq!(client[field].as_bool(), Some(value), "client {field}");
    }
    let attributes = &client["attributes"];
    assert_eq!(attributes["pkce.code.challenge.method"], "S256");
    assert_eq!(
        attributes["access.token.header.type.rfc9068"], "true",
        "access tokens typed at+jwt"
    );
    if let Some(lifespan) = attributes["access.token.lifespan"].as_str() {
        assert!(lifespan.parse::<u64>().unwrap() <= 300);
    }
    assert_eq!(
        client["redirectUris"],
        serde_json::json!([format!("{origin}/")])
    );
    assert_eq!(client["webOrigins"], serde_json::json!([origin]));
    assert_eq!(
        attributes["post.logout.redirect.uris"],
        format!("{origin}/")
    );
    let mappers = client["protocolMappers"].as_array().unwrap();
    let mapper = |kind: &str| {
        mappers
            .iter()
            .find(|m| m["protocolMapper"] == kind)
            .unwrap_or_else(|| panic!("no {kind} on {}", gateway.sign_in.client_id))
    };
    let audience = &mapper("oidc-audience-mapper")["config"];
    assert_eq!(audience["included.custom.audience"], "task-api");
    assert_eq!(audience["access.token.claim"], "true");
    let roles = &mapper("oidc-usermodel-realm-role-mapper")["config"];
    assert_eq!(roles["claim.name"], "roles", "a top-level roles claim");
    assert_eq!(roles["multivalued"], "true");
    assert_eq!(roles["access.token.claim"], "true");

    // The users, the admin role, and the passwords from the Secret.
    assert!(
        realm["roles"]["realm"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "admin")
    );
    let users = realm["users"].as_array().unwrap();
    for (username, admin) in [("alice", false), ("bob", false), ("carol", true)] {
        let user = users
            .iter()
            .find(|u| u["username"] == username)
            .unwrap_or_else(|| panic!("no user {username}"));
        assert_eq!(user["enabled"], true);
        // The user profile asks nothing at the first sign-in.
        for field in ["firstName", "lastName", "email"] {
            assert!(user[field].is_string(), "{username} has no {field}");
        }
        let is_admin = user["realmRoles"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r == "admin");
        assert_eq!(is_admin, admin, "{username}'s admin role");
        let password = user["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "password")
            .and_then(|c| c["value"].as_str())
            .unwrap();
        let variable = password
            .strip_prefix("${")
            .and_then(|p| p.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{username}'s password must come from the environment"));
        let from = keycloak["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some(variable))
            .and_then(|e| e["valueFrom"].get("secretKeyRef"))
            .unwrap_or_else(|| panic!("Keycloak gets no {variable} from a Secret"));
        let secret = secrets[from["name"].as_str().unwrap()];
        assert!(
            secret["data"]
                .get(from["key"].as_str().unwrap())
                .or_else(|| secret["stringData"].get(from["key"].as_str().unwrap()))
                .is_some()
        );
    }

    // The tasks that predate owners go to alice, as on the local stack.
    let functions_auth = knative_services(&documents)
        .into_iter()
        .find(|s| name(s) == "list-tasks")
        .map(|s| {
            container(s)["env"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|e| e["name"].as_str() == Some("AUTH_ISSUER"))
                .unwrap()["valueFrom"]["configMapKeyRef"]["name"]
                .as_str()
                .unwrap()
        })
        .unwrap();
    let alice = users.iter().find(|u| u["username"] == "alice").unwrap();
    assert_eq!(
        config_maps[functions_auth]["data"]["existing-tasks-owner"].as_str(),
        alice["id"].as_str(),
        "existing tasks go to alice's sub (her fixed id)"
    );
}
