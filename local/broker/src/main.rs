//! `broker receiver` and `broker dispatcher`: the two halves of the local
//! Knative Kafka broker, run as separate processes as on a cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::{Args, Parser, Subcommand};
use knative_contract::manifests::Manifests;
use local_broker::dispatcher::{DispatchStatus, Resolver, Target, TriggerDispatch};
use local_broker::error::BrokerError;
use local_broker::idle::{RemoteWake, Wake};
use local_broker::kafka::{broker_topic, dead_letter_topic, ensure_topic, producer_config};
use local_broker::receiver::{Receiver, router};
use rdkafka::producer::FutureProducer;
use task_events::sink::EventSink;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Common {
    /// The Kafka bootstrap address (any Kafka-protocol broker).
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP",
        default_value = "127.0.0.1:19092",
        global = true
    )]
    bootstrap: String,
    /// Where the Broker, Trigger and KafkaSink manifests are.
    #[arg(
        long,
        env = "BROKER_MANIFESTS",
        default_value = "knative/base",
        global = true
    )]
    manifests: PathBuf,
    /// The namespace the manifests are deployed to (names the topic and groups).
    #[arg(
        long,
        env = "BROKER_NAMESPACE",
        default_value = "task-app",
        global = true
    )]
    namespace: String,
    /// The Broker to play (default: the only one in the manifests).
    #[arg(long, env = "BROKER_NAME", global = true)]
    broker: Option<String>,
    /// The partitions of the topic, when this creates it: overrides the
    /// Broker config's `default.topic.partitions` (a topic that exists keeps
    /// its own).
    #[arg(long, env = "BROKER_TOPIC_PARTITIONS", global = true)]
    partitions: Option<i32>,
    /// Where to listen: the ingress (receiver) or the health check (dispatcher).
    #[arg(long, default_value = "127.0.0.1:8070", global = true)]
    listen: SocketAddr,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The ingress: CloudEvents over HTTP in, Kafka records out.
    Receiver {
        /// How long to wait for Kafka to acknowledge an event before answering 503.
        #[arg(long, default_value_t = 5000)]
        delivery_timeout_ms: u64,
        /// The dispatcher's `/wake` URL, told of each stored event: an idle
        /// Trigger then resumes fetching at once, not within a second.
        #[arg(long, env = "BROKER_WAKE_URL")]
        wake_dispatcher: Option<String>,
    },
    /// The Triggers: Kafka records in, CloudEvents over HTTP out.
    Dispatcher {
        /// A Knative Service's local URL, as NAME=URL (repeatable).
        #[arg(long = "service", value_parser = parse_service)]
        services: Vec<(String, String)>,
        /// Overrides every Trigger's `delivery.retry`: a short retry budget,
        /// for runs that outlast it on purpose.
        #[arg(long)]
        retry: Option<u32>,
    },
}

fn parse_service(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, url)| (name.to_string(), url.to_string()))
        .ok_or_else(|| format!("{text:?} is not NAME=URL"))
}

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "broker stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BrokerError> {
    let common = cli.common;
    let manifests = Manifests::load(&common.manifests)?;
    let broker = match (&common.broker, manifests.brokers.as_slice()) {
        (Some(broker), _) => broker.clone(),
        (None, [only]) => only.clone(),
        (None, found) => {
            return Err(BrokerError::WhichBroker {
                count: found.len(),
                manifests: common.manifests.display().to_string(),
            });
        }
    };
    let topic = broker_topic(&common.namespace, &broker);
    let partitions = common.partitions.or(manifests.partitions).unwrap_or(1);
    wait_for_topic(&common.bootstrap, &topic, partitions).await?;
    let producer: FutureProducer = producer_config(&common.bootstrap, Duration::from_secs(10))
        .create()
        .map_err(BrokerError::kafka("cannot create the producer"))?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        task_core::serve::terminated().await;
        let _ = stop.send(true);
    });

    match cli.command {
        Command::Receiver {
            delivery_timeout_ms,
            wake_dispatcher,
        } => {
            let timeout = Duration::from_millis(delivery_timeout_ms);
            let receiver = Receiver::new(
                producer_config(&common.bootstrap, timeout),
                topic.clone(),
                timeout,
            )
            .map_err(BrokerError::kafka("cannot create the receiver's producer"))?;
            let receiver = match wake_dispatcher {
                Some(url) => receiver.waking(RemoteWake::new(url)),
                None => receiver,
            };
            let app = router(receiver);
            let listener = listen(common.listen).await?;
            tracing::info!(address = %common.listen, topic, "receiver listening");
            let mut stopped = stopped;
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.changed().await;
                })
                .await
                .map_err(BrokerError::Serve)
        }
        Command::Dispatcher { services, retry } => {
            let resolver = Resolver {
                services: services.into_iter().collect::<BTreeMap<_, _>>(),
                kafka_sinks: manifests.kafka_sinks.clone(),
            };
            let default_dead_letter = dead_letter_topic(&common.namespace, &broker);
            let mut dispatches = Vec::new();
            let wake = Wake::default();
            for mut trigger in manifests
                .triggers
                .into_iter()
                .filter(|t| t.broker == broker)
            {
                if let Some(retry) = retry {
                    tracing::info!(trigger = trigger.name, retry, "retry count overridden");
                    trigger.retry = retry;
                }
                let subscriber = match resolver.resolve(&trigger.subscriber)? {
                    Target::Http(url) => EventSink::new(url, Duration::from_secs(30)),
                    Target::Topic(topic) => {
                        return Err(BrokerError::SubscriberTopic {
                            trigger: trigger.name,
                            topic,
                        });
                    }
                };
                let dead_letter = match &trigger.dead_letter_sink {
                    Some(destination) => resolver.resolve(destination)?,
                    None => Target::Topic(default_dead_letter.clone()),
                };
                if let Target::Topic(dead_letter_topic) = &dead_letter {
                    wait_for_topic(&common.bootstrap, dead_letter_topic, 1).await?;
                }
                dispatches.push(Arc::new(TriggerDispatch {
                    trigger,
                    topic: topic.clone(),
                    bootstrap: common.bootstrap.clone(),
                    namespace: common.namespace.clone(),
                    subscriber,
                    dead_letter,
                    producer: producer.clone(),
                    wake: wake.clone(),
                }));
            }
            if dispatches.is_empty() {
                return Err(BrokerError::NoTriggers {
                    broker,
                    manifests: common.manifests.display().to_string(),
                });
            }
            // Ready once every Trigger consumes; `paused`: how many are idle.
            let status = Arc::new(DispatchStatus::default());
            let triggers = dispatches.len();
            let health_status = status.clone();
            let health = Router::new()
                .route(
                    "/health",
                    get(move || async move {
                        let running = health_status.consuming.load(Ordering::SeqCst);
                        let paused = health_status.paused.load(Ordering::SeqCst);
                        let body = Json(serde_json::json!({
                            "triggers": triggers, "consuming": running, "paused": paused,
                        }));
                        let status = if running == triggers {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        (status, body)
                    }),
                )
                // The receiver's news of stored events (see `local_broker::idle`).
                .route(
                    "/wake",
                    post(move || async move {
                        wake.stored();
                        StatusCode::NO_CONTENT
                    }),
                );
            let listener = listen(common.listen).await?;
            tokio::spawn(async move { axum::serve(listener, health).await });
            let tasks: Vec<_> = dispatches
                .into_iter()
                .map(|dispatch| tokio::spawn(dispatch.run(status.clone(), stopped.clone())))
                .collect();
            for task in tasks {
                task.await??;
            }
            Ok(())
        }
    }
}

/// Creates the topic, waiting (up to a minute) for Kafka to answer.
async fn wait_for_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), BrokerError> {
    let start = Instant::now();
    loop {
        match ensure_topic(bootstrap, topic, partitions).await {
            Ok(()) => return Ok(()),
            Err(err) if start.elapsed() > Duration::from_secs(60) => {
                return Err(BrokerError::KafkaUnusable {
                    bootstrap: bootstrap.to_string(),
                    source: Box::new(err),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A listener on `address`, or an error naming it.
async fn listen(address: SocketAddr) -> Result<tokio::net::TcpListener, BrokerError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| BrokerError::Listen { address, source })
}
