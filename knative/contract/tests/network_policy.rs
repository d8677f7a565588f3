//! Least privilege on the cluster, checked on what each overlay renders
//! (`kubectl kustomize`), as `knative.rs` renders it:
//!
//! - the NetworkPolicies, evaluated here for every pair of pods and every
//!   port that matters: the pods the manifests create (labelled as Knative,
//!   Kubernetes and Strimzi label them), the platform's pods (Knative 1.16,
//!   Strimzi 0.45: `local/kind/versions.env`) and strangers. Each connection
//!   the project needs is allowed, and nothing else is (the OpenID Provider
//!   included: the edge router and the functions that check tokens reach
//!   it, nobody else);
//! - the worst case of database connections (every function at max-scale,
//!   each pod with its whole pool, and the migrations Job) fits the budget
//!   the manifests state;
//! - liveness does not depend on the database, readiness does.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::{NAMESPACE, OVERLAYS, knative_dir, str_at};
use serde_norway::Value;
use task_core::routes::{EVENT_STREAMER, EVENT_SUBSCRIBER, FUNCTIONS, OUTBOX_RELAY, needs_sign_in};

/// Knative's queue-proxy: HTTP/1, h2c and HTTPS (system-internal TLS).
const REQUEST_PORTS: &[u16] = &[8012, 8013, 8112];
/// The queue-proxy's metrics, read by Knative's autoscaler.
const AUTOSCALER_METRICS: u16 = 9090;
/// The OpenID Provider's HTTP port (Keycloak's; the Service `oidc` maps 80
/// to it).
const PROVIDER_PORT: u16 = 8080;
/// Every port a connection is tried on: the queue-proxy's (requests, admin,
/// metrics), the user container's (and the provider's), PostgreSQL's,
/// Kafka's (KRaft, replication, clients, Strimzi's agent), Keycloak's
/// management port and a few common ones.
const PORTS: &[u16] = &[
    80, 443, 5432, 8012, 8013, 8022, 8080, 8112, 8443, 9000, 9090, 9091, 9092,
];

/// An overlay's YAML documents.
fn render(overlay: &str) -> Vec<Value> {
    common::render(&knative_dir().join("overlays").join(overlay)).1
}

fn of_kind<'a>(documents: &'a [Value], api_version: &str, kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| {
            str_at(d, &["kind"]) == Some(kind) && str_at(d, &["apiVersion"]) == Some(api_version)
        })
        .collect()
}

fn name(document: &Value) -> &str {
    str_at(document, &["metadata", "name"]).unwrap_or_default()
}

type Labels = BTreeMap<String, String>;

fn labels_of(value: &Value) -> Labels {
    value
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| panic!("label {k:?} is not a string: {v:?}"));
            (k.as_str().unwrap().to_string(), value)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What a pod is, for the rules the project wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    // The pods the manifests create, in task-app.
    ApiFunction,
    Audit,
    /// task-stream: an API function that is also a Trigger's subscriber.
    Streamer,
    OutboxRelay,
    EdgeRouter,
    Migrations,
    Postgres,
    Kafka,
    EntityOperator,
    /// The OpenID Provider behind the Service `oidc`.
    Oidc,
    // The platform's pods.
    Activator,
    Autoscaler,
    KourierGateway,
    BrokerReceiver,
    BrokerDispatcher,
    SinkReceiver,
    KafkaController,
    PingAdapter,
    EventingController,
    StrimziOperator,
    // Pods that are owed nothing.
    Stranger,
}

#[derive(Clone, Debug)]
struct Pod {
    name: String,
    namespace: String,
    labels: Labels,
    role: Role,
}

impl Pod {
    fn new(namespace: &str, name: &str, labels: Labels, role: Role) -> Self {
        Self {
            name: format!("{namespace}/{name}"),
            namespace: namespace.to_string(),
            labels,
            role,
        }
    }

    /// A pod of a function that checks access tokens (and so fetches the
    /// provider's key set again when a token names an unknown key).
    fn checks_tokens(&self) -> bool {
        matches!(self.role, Role::ApiFunction | Role::Streamer)
            && self
                .name
                .strip_prefix(&format!("{NAMESPACE}/"))
                .is_some_and(needs_sign_in)
    }
}

/// The pods the rendered manifests create, labelled as their controllers
/// label them: Knative (a Service's template labels, plus its own), the Job
/// and StatefulSet controllers, and Strimzi (from the Kafka resource).
fn manifest_pods(documents: &[Value]) -> Vec<Pod> {
    let mut pods = Vec::new();
    for service in of_kind(documents, "serving.knative.dev/v1", "Service") {
        let service_name = name(service);
        let revision = format!("{service_name}-00001");
        let mut pod_labels = labels_of(&service["spec"]["template"]["metadata"]["labels"]);
        pod_labels.extend(labels(&[
            ("serving.knative.dev/service", service_name),
            ("serving.knative.dev/configuration", service_name),
            ("serving.knative.dev/revision", revision.as_str()),
            ("app", revision.as_str()),
        ]));
        let role = match service_name {
            "edge-router" => Role::EdgeRouter,
            n if n == EVENT_SUBSCRIBER => Role::Audit,
            n if n == EVENT_STREAMER => Role::Streamer,
            n if n == OUTBOX_RELAY => Role::OutboxRelay,
            n if FUNCTIONS.contains(&n) => Role::ApiFunction,
            n => panic!("Knative Service {n} is neither a function nor the edge router"),
        };
        pods.push(Pod::new(NAMESPACE, service_name, pod_labels, role));
    }
    for job in of_kind(documents, "batch/v1", "Job") {
        let job_name = name(job);
        let mut pod_labels = labels_of(&job["spec"]["template"]["metadata"]["labels"]);
        pod_labels.extend(labels(&[
            ("batch.kubernetes.io/job-name", job_name),
            ("job-name", job_name),
            ("batch.kubernetes.io/controller-uid", "0000"),
            ("controller-uid", "0000"),
        ]));
        assert_eq!(job_name, "migrate-schema", "a Job this test does not know");
        pods.push(Pod::new(NAMESPACE, job_name, pod_labels, Role::Migrations));
    }
    for deployment in of_kind(documents, "apps/v1", "Deployment") {
        let deployment_name = name(deployment);
        let mut pod_labels = labels_of(&deployment["spec"]["template"]["metadata"]["labels"]);
        pod_labels.insert("pod-template-hash".into(), "0000000000".into());
        assert_eq!(
            deployment_name, "oidc",
            "a Deployment this test does not know"
        );
        pods.push(Pod::new(
            NAMESPACE,
            &format!("{deployment_name}-0000000000-00000"),
            pod_labels,
            Role::Oidc,
        ));
    }
    for set in of_kind(documents, "apps/v1", "StatefulSet") {
        let set_name = name(set);
        let pod = format!("{set_name}-0");
        let mut pod_labels = labels_of(&set["spec"]["template"]["metadata"]["labels"]);
        pod_labels.extend(labels(&[
            ("statefulset.kubernetes.io/pod-name", pod.as_str()),
            ("apps.kubernetes.io/pod-index", "0"),
        ]));
        assert_eq!(
            set_name, "postgres",
            "a StatefulSet this test does not know"
        );
        pods.push(Pod::new(NAMESPACE, &pod, pod_labels, Role::Postgres));
    }
    for kafka in of_kind(documents, "kafka.strimzi.io/v1beta2", "Kafka") {
        let cluster = name(kafka);
        for pool in of_kind(documents, "kafka.strimzi.io/v1beta2", "KafkaNodePool")
            .into_iter()
            .filter(|p| str_at(p, &["metadata", "labels", "strimzi.io/cluster"]) == Some(cluster))
        {
            let pool_name = name(pool);
            let pod = format!("{cluster}-{pool_name}-0");
            let pod_labels = labels(&[
                ("strimzi.io/cluster", cluster),
                ("strimzi.io/kind", "Kafka"),
                ("strimzi.io/name", format!("{cluster}-kafka").as_str()),
                ("strimzi.io/component-type", "kafka"),
                ("strimzi.io/pool-name", pool_name),
                ("strimzi.io/broker-role", "true"),
                ("strimzi.io/controller-role", "true"),
                ("strimzi.io/pod-name", pod.as_str()),
            ]);
            pods.push(Pod::new(NAMESPACE, &pod, pod_labels, Role::Kafka));
        }
        if kafka["spec"].get("entityOperator").is_some() {
            let deployment = format!("{cluster}-entity-operator");
            let pod_labels = labels(&[
                ("strimzi.io/cluster", cluster),
                ("strimzi.io/kind", "Kafka"),
                ("strimzi.io/name", deployment.as_str()),
                ("strimzi.io/component-type", "entity-operator"),
            ]);
            pods.push(Pod::new(
                NAMESPACE,
                &deployment,
                pod_labels,
                Role::EntityOperator,
            ));
        }
    }
    pods
}

/// The platform's pods, as their release manifests label them, and pods
/// that are owed nothing: an unlabelled pod in another namespace and in
/// task-app, and an impostor in another namespace that carries every label
/// the policies trust.
fn other_pods(app_pods: &[Pod]) -> Vec<Pod> {
    let mut impostor = Labels::new();
    for pod in app_pods {
        impostor.extend(pod.labels.clone());
    }
    impostor.extend(labels(&[
        ("app.kubernetes.io/component", "function"),
        ("serving.knative.dev/service", "edge-router"),
        ("app", "kafka-broker-dispatcher"),
        ("eventing.knative.dev/source", "ping-source-controller"),
        ("sources.knative.dev/role", "adapter"),
        ("strimzi.io/kind", "cluster-operator"),
        ("batch.kubernetes.io/job-name", "migrate-schema"),
    ]));
    vec![
        Pod::new(
            "knative-serving",
            "activator",
            labels(&[("app", "activator"), ("role", "activator")]),
            Role::Activator,
        ),
        Pod::new(
            "knative-serving",
            "autoscaler",
            labels(&[("app", "autoscaler")]),
            Role::Autoscaler,
        ),
        Pod::new(
            "kourier-system",
            "3scale-kourier-gateway",
            labels(&[("app", "3scale-kourier-gateway")]),
            Role::KourierGateway,
        ),
        Pod::new(
            "knative-eventing",
            "kafka-broker-receiver",
            labels(&[
                ("app", "kafka-broker-receiver"),
                ("app.kubernetes.io/component", "kafka-broker-receiver"),
            ]),
            Role::BrokerReceiver,
        ),
        Pod::new(
            "knative-eventing",
            "kafka-broker-dispatcher-0",
            labels(&[
                ("app", "kafka-broker-dispatcher"),
                ("app.kubernetes.io/component", "kafka-dispatcher"),
            ]),
            Role::BrokerDispatcher,
        ),
        Pod::new(
            "knative-eventing",
            "kafka-sink-receiver",
            labels(&[("app", "kafka-sink-receiver")]),
            Role::SinkReceiver,
        ),
        Pod::new(
            "knative-eventing",
            "kafka-controller",
            labels(&[
                ("app", "kafka-controller"),
                ("app.kubernetes.io/component", "kafka-controller"),
            ]),
            Role::KafkaController,
        ),
        Pod::new(
            "knative-eventing",
            "pingsource-mt-adapter",
            labels(&[
                ("eventing.knative.dev/source", "ping-source-controller"),
                ("sources.knative.dev/role", "adapter"),
            ]),
            Role::PingAdapter,
        ),
        Pod::new(
            "knative-eventing",
            "eventing-controller",
            labels(&[("app", "eventing-controller")]),
            Role::EventingController,
        ),
        Pod::new(
            "kafka",
            "strimzi-cluster-operator",
            labels(&[
                ("name", "strimzi-cluster-operator"),
                ("strimzi.io/kind", "cluster-operator"),
            ]),
            Role::StrimziOperator,
        ),
        Pod::new("default", "curious", Labels::new(), Role::Stranger),
        Pod::new("default", "impostor", impostor, Role::Stranger),
        Pod::new(NAMESPACE, "debug", Labels::new(), Role::Stranger),
        Pod::new(
            "kafka",
            "kafka-ui",
            labels(&[("app", "kafka-ui")]),
            Role::Stranger,
        ),
    ]
}

/// The project's rules: may `from` open a connection to `to` on `port`?
fn wanted(from: &Pod, to: &Pod, port: u16) -> bool {
    use Role::*;
    let request = REQUEST_PORTS.contains(&port);
    let serving = from.namespace == "knative-serving";
    let kourier = from.namespace == "kourier-system";
    // Every Knative Service's pods: the ingress and the activator forward
    // requests, the autoscaler reads the metrics.
    let knative = (request && (serving || kourier)) || (serving && port == AUTOSCALER_METRICS);
    match to.role {
        ApiFunction => knative || (request && from.role == EdgeRouter),
        Audit => knative || (request && from.role == BrokerDispatcher),
        Streamer => knative || (request && matches!(from.role, EdgeRouter | BrokerDispatcher)),
        OutboxRelay => knative || (request && from.role == PingAdapter),
        EdgeRouter => knative,
        // Sign-in pages and tokens through the edge router's /oidc/, and
        // the key set for the functions that check tokens; no Knative path.
        Oidc => port == PROVIDER_PORT && (from.role == EdgeRouter || from.checks_tokens()),
        Postgres => {
            port == 5432
                && matches!(
                    from.role,
                    ApiFunction | Streamer | Audit | OutboxRelay | Migrations
                )
        }
        Kafka => match port {
            9092 => matches!(
                from.role,
                BrokerReceiver | BrokerDispatcher | SinkReceiver | KafkaController
            ),
            9090 => matches!(from.role, Kafka | StrimziOperator),
            9091 => matches!(from.role, Kafka | StrimziOperator | EntityOperator),
            8443 => from.role == StrimziOperator,
            _ => false,
        },
        _ => false,
    }
}

/// A NetworkPolicy: its namespace and spec.
struct Policy {
    name: String,
    namespace: String,
    spec: Value,
}

/// The rendered NetworkPolicies, and the one Strimzi writes for each Kafka
/// resource: its rules for the client listeners, open to every pod unless
/// the listener names `networkPolicyPeers`. (Strimzi's rules for its own
/// ports admit its operator's label from any namespace unless the operator
/// is told its namespace's labels; this test holds the cluster to the
/// rendered policy on those ports.)
fn policies(documents: &[Value]) -> Vec<Policy> {
    let mut policies: Vec<Policy> = of_kind(documents, "networking.k8s.io/v1", "NetworkPolicy")
        .into_iter()
        .map(|p| Policy {
            name: name(p).to_string(),
            namespace: str_at(p, &["metadata", "namespace"]).unwrap().to_string(),
            spec: p["spec"].clone(),
        })
        .collect();
    for kafka in of_kind(documents, "kafka.strimzi.io/v1beta2", "Kafka") {
        let cluster = name(kafka);
        let rules: Vec<Value> = kafka["spec"]["kafka"]["listeners"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|listener| {
                let mut rule = serde_norway::Mapping::new();
                rule.insert(
                    "ports".into(),
                    serde_norway::to_value(vec![BTreeMap::from([(
                        "port",
                        listener["port"].clone(),
                    )])])
                    .unwrap(),
                );
                if let Some(peers) = listener.get("networkPolicyPeers") {
                    rule.insert("from".into(), peers.clone());
                }
                Value::Mapping(rule)
            })
            .collect();
        let spec = serde_norway::to_value(BTreeMap::from([
            (
                "podSelector",
                serde_norway::to_value(BTreeMap::from([(
                    "matchLabels",
                    labels(&[
                        ("strimzi.io/cluster", cluster),
                        ("strimzi.io/kind", "Kafka"),
                        ("strimzi.io/name", format!("{cluster}-kafka").as_str()),
                    ]),
                )]))
                .unwrap(),
            ),
            ("ingress", Value::Sequence(rules)),
        ]))
        .unwrap();
        policies.push(Policy {
            name: format!("{cluster}-network-policy-kafka (Strimzi's)"),
            namespace: str_at(kafka, &["metadata", "namespace"])
                .unwrap()
                .to_string(),
            spec,
        });
    }
    policies
}

/// A label selector (matchLabels and matchExpressions) against labels. An
/// empty selector selects everything.
fn selects(selector: &Value, labels: &Labels) -> bool {
    let Some(selector) = selector.as_mapping() else {
        panic!("a selector must be a mapping: {selector:?}");
    };
    for key in selector.keys() {
        let key = key.as_str().unwrap();
        assert!(
            ["matchLabels", "matchExpressions"].contains(&key),
            "unknown selector field {key}"
        );
    }
    let match_labels = selector
        .get("matchLabels")
        .map(labels_of)
        .unwrap_or_default();
    if match_labels
        .iter()
        .any(|(key, value)| labels.get(key) != Some(value))
    {
        return false;
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap();
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap())
            .collect();
        let value = labels.get(key).map(String::as_str);
        let matches = match expression["operator"].as_str().unwrap() {
            "In" => value.is_some_and(|v| values.contains(&v)),
            "NotIn" => !value.is_some_and(|v| values.contains(&v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => panic!("unknown selector operator {other}"),
        };
        if !matches {
            return false;
        }
    }
    true
}

/// Every namespace carries its name as a label.
fn namespace_labels(namespace: &str) -> Labels {
    labels(&[("kubernetes.io/metadata.name", namespace)])
}

/// Does a rule's peer admit a pod? A pod selector alone means the policy's
/// own namespace; a namespace selector alone, every pod there; both, the
/// pods of those namespaces that match.
fn peer_admits(peer: &Value, policy: &Policy, from: &Pod) -> bool {
    assert!(
        peer.get("ipBlock").is_none(),
        "{}: ipBlock peers cannot be checked pod by pod; use selectors",
        policy.name
    );
    let namespaces = peer.get("namespaceSelector");
    let pods = peer.get("podSelector");
    assert!(
        namespaces.is_some() || pods.is_some(),
        "{}: an empty peer",
        policy.name
    );
    let namespace_ok = match namespaces {
        None => from.namespace == policy.namespace,
        Some(selector) => selects(selector, &namespace_labels(&from.namespace)),
    };
    namespace_ok && pods.is_none_or(|selector| selects(selector, &from.labels))
}

/// Does a rule's port list admit a TCP port? No list admits every port.
fn ports_admit(ports: Option<&Value>, policy: &Policy, port: u16) -> bool {
    let Some(ports) = ports.and_then(Value::as_sequence).filter(|p| !p.is_empty()) else {
        return true;
    };
    ports.iter().any(|entry| {
        if entry
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            != "TCP"
        {
            return false;
        }
        let Some(number) = entry.get("port") else {
            return true;
        };
        let start = number.as_u64().unwrap_or_else(|| {
            panic!(
                "{}: port {number:?}: use numbers (named ports are not checked)",
                policy.name
            )
        });
        let end = entry
            .get("endPort")
            .and_then(Value::as_u64)
            .unwrap_or(start);
        (start..=end).contains(&u64::from(port))
    })
}

/// NetworkPolicy semantics for ingress: a pod that no policy of its
/// namespace selects (for Ingress) accepts everything; one that some do
/// accepts what any of their rules admits.
fn allowed(policies: &[Policy], from: &Pod, to: &Pod, port: u16) -> bool {
    let selecting: Vec<&Policy> = policies
        .iter()
        .filter(|p| p.namespace == to.namespace && governs_ingress(p))
        .filter(|p| selects(&p.spec["podSelector"], &to.labels))
        .collect();
    if selecting.is_empty() {
        return true;
    }
    selecting.iter().any(|policy| {
        policy
            .spec
            .get("ingress")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .any(|rule| {
                let from_ok = match rule.get("from").and_then(Value::as_sequence) {
                    None => true,
                    Some(peers) if peers.is_empty() => true,
                    Some(peers) => peers.iter().any(|peer| peer_admits(peer, policy, from)),
                };
                from_ok && ports_admit(rule.get("ports"), policy, port)
            })
    })
}

fn governs_ingress(policy: &Policy) -> bool {
    assert!(
        policy.spec.get("podSelector").is_some(),
        "{}: spec.podSelector is required",
        policy.name
    );
    match policy.spec.get("policyTypes").and_then(Value::as_sequence) {
        Some(types) => types.iter().any(|t| t.as_str() == Some("Ingress")),
        None => true,
    }
}

#[test]
fn only_the_connections_the_app_needs_are_allowed() {
    for overlay in OVERLAYS {
        let documents = render(overlay);
        let policies = policies(&documents);
        let mut app = manifest_pods(&documents);
        // An overlay that runs no provider in task-app (production: the
        // Service `oidc` names one elsewhere) is held to the base's rule
        // for one the operator runs there, labelled as it asks.
        if !app.iter().any(|p| p.role == Role::Oidc) {
            app.push(Pod::new(
                NAMESPACE,
                "oidc-provider",
                labels(&[("app.kubernetes.io/component", "oidc-provider")]),
                Role::Oidc,
            ));
        }
        let others = other_pods(&app);
        let sources: Vec<&Pod> = app.iter().chain(&others).collect();

        // A namespace-wide default deny, so a pod nobody thought of is
        // closed too.
        assert!(
            policies.iter().any(|p| {
                p.namespace == NAMESPACE
                    && governs_ingress(p)
                    && p.spec["podSelector"]
                        .as_mapping()
                        .is_some_and(|m| m.is_empty())
                    && p.spec.get("ingress").is_none()
            }),
            "overlay {overlay}: no default-deny ingress policy for {NAMESPACE}"
        );
        for kafka in of_kind(&documents, "kafka.strimzi.io/v1beta2", "Kafka") {
            for listener in kafka["spec"]["kafka"]["listeners"].as_sequence().unwrap() {
                assert!(
                    listener["networkPolicyPeers"]
                        .as_sequence()
                        .is_some_and(|peers| !peers.is_empty()),
                    "overlay {overlay}: Kafka {} listener {} names no networkPolicyPeers: \
                     Strimzi would open it to every pod",
                    name(kafka),
                    str_at(listener, &["name"]).unwrap_or_default()
                );
            }
        }

        // Every pair, every port: the policies allow exactly what the
        // project wants.
        let mut wrong = Vec::new();
        let mut summary = String::new();
        for to in &app {
            let mut admitted: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
            for from in sources.iter().filter(|from| from.name != to.name) {
                for &port in PORTS {
                    let is = allowed(&policies, from, to, port);
                    if is != wanted(from, to, port) {
                        wrong.push(format!(
                            "{} -> {} :{port} is {} but must be {}",
                            from.name,
                            to.name,
                            if is { "allowed" } else { "denied" },
                            if is { "denied" } else { "allowed" },
                        ));
                    }
                    if is {
                        admitted.entry(from.name.as_str()).or_default().push(port);
                    }
                }
            }
            let _ = writeln!(summary, "  {} accepts:", to.name);
            if admitted.is_empty() {
                let _ = writeln!(summary, "    nobody");
            }
            for (from, ports) in admitted {
                let _ = writeln!(summary, "    {from} on {ports:?}");
            }
        }
        println!("overlay {overlay}:\n{summary}");
        assert!(
            wrong.is_empty(),
            "overlay {overlay}: {} connection(s) wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );

        // The cases that matter most, spelled out.
        let pod = |wanted_name: &str| find_pod(&sources, wanted_name);
        let app_pod = |short: &str| find_pod(&sources, &format!("{NAMESPACE}/{short}"));
        let check = |from: &Pod, to: &Pod, port: u16, expected: bool| {
            assert_eq!(
                allowed(&policies, from, to, port),
                expected,
                "overlay {overlay}: {} -> {} :{port} must be {}",
                from.name,
                to.name,
                if expected { "allowed" } else { "denied" }
            );
        };
        let edge = app_pod("edge-router");
        let kourier = pod("kourier-system/3scale-kourier-gateway");
        let activator = pod("knative-serving/activator");
        let dispatcher = pod("knative-eventing/kafka-broker-dispatcher-0");
        let ping = pod("knative-eventing/pingsource-mt-adapter");
        let (list, get, audit, relay) = (
            app_pod("list-tasks"),
            app_pod("get-task"),
            app_pod("audit"),
            app_pod("outbox-relay"),
        );
        check(edge, list, 8012, true);
        check(kourier, list, 8012, true);
        check(activator, list, 8012, true);
        check(kourier, edge, 8012, true);
        check(dispatcher, audit, 8012, true);
        check(ping, relay, 8012, true);
        check(pod("default/curious"), list, 8012, false);
        check(pod("default/impostor"), list, 8012, false);
        check(pod("default/impostor"), audit, 8012, false);
        check(pod("task-app/debug"), list, 8012, false);
        check(list, get, 8012, false);
        check(get, audit, 8012, false);
        check(edge, audit, 8012, false);
        check(edge, relay, 8012, false);
        check(audit, relay, 8012, false);
        check(dispatcher, list, 8012, false);
        check(dispatcher, relay, 8012, false);
        check(ping, audit, 8012, false);
        check(edge, list, 8080, false);
        // The OpenID Provider.
        let oidc = app
            .iter()
            .find(|p| p.role == Role::Oidc)
            .expect("a provider pod");
        check(edge, oidc, PROVIDER_PORT, true);
        check(list, oidc, PROVIDER_PORT, true);
        check(get, oidc, PROVIDER_PORT, true);
        check(app_pod("create-task"), oidc, PROVIDER_PORT, true);
        check(app_pod("count-tasks"), oidc, PROVIDER_PORT, true);
        check(app_pod("health"), oidc, PROVIDER_PORT, false);
        check(audit, oidc, PROVIDER_PORT, false);
        check(relay, oidc, PROVIDER_PORT, false);
        check(app_pod("migrate-schema"), oidc, PROVIDER_PORT, false);
        check(kourier, oidc, PROVIDER_PORT, false);
        check(activator, oidc, PROVIDER_PORT, false);
        check(pod("default/impostor"), oidc, PROVIDER_PORT, false);
        check(pod("task-app/debug"), oidc, PROVIDER_PORT, false);
        check(edge, oidc, 9000, false);
        check(list, oidc, 9000, false);
        check(oidc, list, 8012, false);
        check(oidc, audit, 8012, false);
        if *overlay == "kind" {
            let postgres = app_pod("postgres-0");
            let kafka = app_pod("task-kafka-single-0");
            check(list, postgres, 5432, true);
            check(audit, postgres, 5432, true);
            check(relay, postgres, 5432, true);
            check(app_pod("migrate-schema"), postgres, 5432, true);
            check(edge, postgres, 5432, false);
            check(pod("default/impostor"), postgres, 5432, false);
            check(
                pod("knative-eventing/kafka-broker-receiver"),
                kafka,
                9092,
                true,
            );
            check(dispatcher, kafka, 9092, true);
            check(list, kafka, 9092, false);
            check(app_pod("create-task"), kafka, 9092, false);
            check(edge, kafka, 9092, false);
            check(ping, kafka, 9092, false);
            check(pod("default/impostor"), kafka, 9092, false);
            check(pod("kafka/strimzi-cluster-operator"), kafka, 9091, true);
        }
    }
}

fn find_pod<'a>(pods: &[&'a Pod], wanted_name: &str) -> &'a Pod {
    pods.iter()
        .find(|p| p.name == wanted_name)
        .copied()
        .unwrap_or_else(|| panic!("no pod {wanted_name}"))
}

fn env_value<'a>(container: &'a Value, key: &str) -> Option<&'a Value> {
    container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"].as_str() == Some(key))
}

#[test]
fn the_worst_case_of_database_connections_fits_the_budget() {
    for overlay in OVERLAYS {
        let documents = render(overlay);
        let budget = of_kind(&documents, "v1", "ConfigMap")
            .into_iter()
            .find(|c| name(c) == "database-connection-budget")
            .unwrap_or_else(|| panic!("overlay {overlay}: no database-connection-budget"));
        let number = |key: &str| -> u32 {
            str_at(budget, &["data", key])
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("overlay {overlay}: {key} in database-connection-budget"))
        };
        let (max_connections, reserved) =
            (number("max-connections"), number("reserved-connections"));
        assert!(
            reserved >= 3,
            "superuser_reserved_connections is 3 by default"
        );

        let mut lines = Vec::new();
        let mut worst = 0;
        for service in of_kind(&documents, "serving.knative.dev/v1", "Service") {
            let container = &service["spec"]["template"]["spec"]["containers"][0];
            if env_value(container, "DATABASE_URL").is_none() {
                continue;
            }
            let service_name = name(service);
            let max_scale: u32 = str_at(
                service,
                &[
                    "spec",
                    "template",
                    "metadata",
                    "annotations",
                    "autoscaling.knative.dev/max-scale",
                ],
            )
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("overlay {overlay}: {service_name} has no max-scale"));
            // 0 would mean no limit.
            assert!(
                max_scale > 0,
                "overlay {overlay}: {service_name} needs a max-scale"
            );
            let pool: u32 = env_value(container, "DATABASE_MAX_CONNECTIONS")
                .and_then(|e| e["value"].as_str()?.parse().ok())
                .unwrap_or_else(|| {
                    panic!("overlay {overlay}: {service_name} must set DATABASE_MAX_CONNECTIONS")
                });
            assert!(pool > 0, "overlay {overlay}: {service_name} pool");
            worst += max_scale * pool;
            lines.push(format!(
                "{service_name}: {max_scale} x {pool} = {}",
                max_scale * pool
            ));
        }
        for job in of_kind(&documents, "batch/v1", "Job") {
            let spec = &job["spec"]["template"]["spec"];
            for container in spec["containers"].as_sequence().into_iter().flatten() {
                if env_value(container, "DATABASE_URL").is_none() {
                    continue;
                }
                // `migrate` holds one connection; Jobs run one pod unless
                // told otherwise.
                let parallelism = job["spec"]["parallelism"].as_u64().unwrap_or(1) as u32;
                worst += parallelism;
                lines.push(format!("Job {}: {parallelism} x 1", name(job)));
            }
        }
        let available = max_connections - reserved;
        println!(
            "overlay {overlay}: {}; worst case {worst} of {available} \
             (max_connections {max_connections}, {reserved} kept back)",
            lines.join(", ")
        );
        assert!(
            worst <= available,
            "overlay {overlay}: the worst case, {worst} connections, exceeds the {available} \
             the database leaves the app ({})",
            lines.join(", ")
        );

        // The kind overlay's PostgreSQL is started with the budget's value.
        for set in of_kind(&documents, "apps/v1", "StatefulSet") {
            let args: Vec<&str> = set["spec"]["template"]["spec"]["containers"][0]["args"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                args.contains(&format!("max_connections={max_connections}").as_str()),
                "overlay {overlay}: {} must run with max_connections={max_connections} \
                 (args {args:?})",
                name(set)
            );
        }
    }
}

#[test]
fn functions_live_without_the_database_and_are_ready_with_it() {
    for overlay in OVERLAYS {
        let documents = render(overlay);
        for service in of_kind(&documents, "serving.knative.dev/v1", "Service") {
            let service_name = name(service);
            if !FUNCTIONS.contains(&service_name) {
                continue;
            }
            let container = &service["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(
                str_at(container, &["livenessProbe", "httpGet", "path"]),
                Some("/live"),
                "overlay {overlay}: {service_name}'s liveness must not depend on the database"
            );
            assert_eq!(
                str_at(container, &["readinessProbe", "httpGet", "path"]),
                Some("/health"),
                "overlay {overlay}: {service_name}'s readiness checks the database"
            );
        }
    }
}
