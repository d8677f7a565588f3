//! The faults of a chaos run, and how each is injected through the local
//! stack's control API (or straight into the database, for poison rows).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use local_stack::admin::{Action, AdminClient};
use serde_json::Value;
use sqlx::PgPool;

use super::load::Load;
use super::say;

/// One fault.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `down` each service, wait `outage`, then `up` each; with `largest`,
    /// the changes of the outage's first this-long are of the largest size.
    Outage {
        services: &'static [&'static str],
        down: Action,
        up: Action,
        outage: Duration,
        largest: Option<Duration>,
    },
    /// Restart a service (SIGTERM, then started again).
    Restart(&'static str),
    /// Every create and update carries the largest valid title and
    /// description, for `during`.
    LargestChanges { during: Duration },
    /// Rows written straight into the outbox that no sink will ever take.
    PoisonRows,
    /// Already-recorded events posted to the audit function again.
    Replay { events: i64 },
}

/// A fault with the name it is reported under.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub fault: Fault,
}

/// What an injection left behind that the verdict needs.
#[derive(Debug, Clone, Default)]
pub struct Injected {
    /// Outbox rows of poison written (they must end up parked).
    pub poison: Vec<i64>,
    /// Replayed events answered 204, and sent.
    pub replayed: Option<(usize, usize)>,
}

/// Injects faults into one running stack.
pub struct Injector {
    pub admin: AdminClient,
    pub pool: PgPool,
    pub load: Arc<Load>,
    pub audit_url: String,
    pub relay_url: String,
    pub client: reqwest::Client,
}

impl Injector {
    /// Runs the outbox relay once, as its timer does, once the run under
    /// way (if any) has ended: a 202 means one was, a 200 that this one ran
    /// to its end. Gives up after 30 s.
    pub async fn relay_run(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let ran = self
                .client
                .post(format!("{}/", self.relay_url.trim_end_matches('/')))
                .send()
                .await
                .is_ok_and(|response| response.status() == reqwest::StatusCode::OK);
            if ran {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn inject(&self, fault: &Fault) -> anyhow::Result<Injected> {
        let mut injected = Injected::default();
        match fault {
            Fault::Outage {
                services,
                down,
                up,
                outage,
                largest,
            } => {
                for service in *services {
                    self.admin
                        .act(service, *down)
                        .await
                        .map_err(anyhow::Error::msg)?;
                }
                let largest = largest.unwrap_or_default().min(*outage);
                self.largest_changes(largest).await;
                tokio::time::sleep(*outage - largest).await;
                for service in *services {
                    self.admin
                        .act(service, *up)
                        .await
                        .map_err(anyhow::Error::msg)?;
                }
            }
            Fault::Restart(service) => {
                self.admin
                    .act(service, Action::Restart)
                    .await
                    .map_err(anyhow::Error::msg)?;
            }
            Fault::LargestChanges { during } => self.largest_changes(*during).await,
            Fault::PoisonRows => injected.poison = self.poison().await?,
            Fault::Replay { events } => injected.replayed = Some(self.replay(*events).await?),
        }
        Ok(injected)
    }

    /// Every create and update carries the largest valid title and
    /// description, for `during`.
    async fn largest_changes(&self, during: Duration) {
        if during.is_zero() {
            return;
        }
        self.load.largest.store(true, Ordering::SeqCst);
        tokio::time::sleep(during).await;
        self.load.largest.store(false, Ordering::SeqCst);
    }

    /// Three rows no sink takes: one that is not a CloudEvent (the relay
    /// cannot decode it), one too large for the broker (its ingress answers
    /// 413), and a task event whose data is not a task (the broker takes
    /// it, the audit function answers 400, the Trigger dead-letters it).
    /// Each is about a task that does not exist, so no real task waits.
    async fn poison(&self) -> anyhow::Result<Vec<i64>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            r#"
            INSERT INTO event_outbox (event_id, event, task_id)
            SELECT gen_random_uuid(), event, task_id FROM (VALUES
                ('{"not": "an event"}'::jsonb, -1::bigint),
                (jsonb_build_object('specversion', '1.0', 'id', gen_random_uuid()::text,
                    'source', '/chaos/poison', 'type', 'task.created', 'subject', '-2',
                    'partitionkey', '-2', 'datacontenttype', 'application/json',
                    'data', jsonb_build_object('padding', repeat('x', 1100000))), -2),
                (jsonb_build_object('specversion', '1.0', 'id', gen_random_uuid()::text,
                    'source', '/chaos/poison', 'type', 'task.created', 'subject', '-3',
                    'partitionkey', '-3', 'datacontenttype', 'application/json',
                    'data', jsonb_build_object('not', 'a task')), -3)
            ) AS poison(event, task_id)
            RETURNING id
            "#,
        )
        .fetch_all(&self.pool)
        .await
        .context("writing poison rows")?;
        say(&format!(
            "  wrote {} poison rows into the outbox",
            ids.len()
        ));
        Ok(ids)
    }

    /// Posts up to `count` recorded events to the audit function again;
    /// returns (answered 204, sent).
    async fn replay(&self, count: i64) -> anyhow::Result<(usize, usize)> {
        let events: Vec<(Value,)> =
            sqlx::query_as("SELECT event_data FROM task_audit_log ORDER BY id LIMIT $1")
                .bind(count)
                .fetch_all(&self.pool)
                .await
                .context("reading delivered events")?;
        let mut accepted = 0;
        for (event,) in &events {
            let response = self
                .client
                .post(format!("{}/", self.audit_url))
                .header("content-type", "application/cloudevents+json")
                .body(event.to_string())
                .send()
                .await;
            if response.is_ok_and(|r| r.status().as_u16() == 204) {
                accepted += 1;
            }
        }
        say(&format!(
            "  {accepted} of {} replayed events answered 204",
            events.len()
        ));
        Ok((accepted, events.len()))
    }
}
