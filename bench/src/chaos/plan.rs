//! The plan of a chaos run: which faults, in which order, for how long.

use std::time::Duration;

use local_stack::admin::Action;

use super::faults::{Fault, Step};

/// Which run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Every fault, briefly: the run of `task test`.
    Short,
    /// Every fault, for longer: `task chaos`.
    Full,
    /// Only the audit function down this long (the largest valid changes
    /// among the changes made meanwhile), on the stack exactly as `task up`
    /// runs it: its Trigger retries and relay settings.
    AuditOutage(Duration),
}

/// Durations of one kind of run.
pub(super) struct Timing {
    kind: RunKind,
    pub(super) outage: Duration,
    /// Longer than the Trigger's retry budget.
    pub(super) audit_outage: Duration,
    pub(super) converge_limit: Duration,
    /// The poison rows' limit: one the broker takes but the audit function
    /// refuses is parked only after every wait for its audit row (doubling
    /// from the grace up to eight times it) has run out.
    pub(super) poison_limit: Duration,
    pub(super) relay_interval: Duration,
    /// The relay's settings: what a missing audit row waits for, how sends
    /// back off, and after how many attempts a row is parked. The attempts
    /// outlast the audit outage; poison rows use them up within the run. A
    /// short run budget: missing audit rows are looked for at the start of
    /// each run, and under this load a run lasts its whole budget. Empty:
    /// `task up`'s.
    pub(super) relay: &'static [(&'static str, &'static str)],
    /// The Trigger's retries (None: the manifest's).
    pub(super) trigger_retry: Option<u32>,
}

/// The local Trigger's retries in a chaos run, with the manifest's 1 s
/// exponential backoff: 1 + 2 = 3 s, so the audit outage outlasts it.
const TRIGGER_RETRY: u32 = 2;

/// How long Kafka stays dead after its SIGKILL: none, it is started again
/// at once, as a supervisor would. What it had acknowledged must still be
/// there (nisshi keeps it in PostgreSQL) and reach the audit log within the
/// relay's grace, so the relay has nothing to send again (the `re-sent`
/// column). Held dead past that grace (it was 2 s, the short run's grace),
/// the relay sent again events that were late, not lost. The faults that
/// outlast the functions' sends are Kafka paused and the broker stopped.
const KAFKA_KILLED: Duration = Duration::ZERO;

impl Timing {
    pub(super) fn of(kind: RunKind) -> Self {
        match kind {
            RunKind::Short => Self {
                kind,
                outage: Duration::from_secs(5),
                audit_outage: Duration::from_secs(10),
                // A slow 2-core machine needs over a minute to send again
                // what a Kafka restart lost.
                converge_limit: Duration::from_secs(180),
                // 12 attempts: 2 + 4 + 8 + 8 x 16 = 142 s of waits, and a
                // run's length (up to 5 s) on top of each.
                poison_limit: Duration::from_secs(480),
                relay_interval: Duration::from_secs(1),
                relay: &[
                    ("OUTBOX_AUDIT_GRACE_MS", "2000"),
                    ("OUTBOX_RETRY_FIRST_MS", "250"),
                    ("OUTBOX_RETRY_MAX_MS", "2000"),
                    ("OUTBOX_MAX_ATTEMPTS", "12"),
                    ("OUTBOX_RELAY_BUDGET_MS", "5000"),
                ],
                trigger_retry: Some(TRIGGER_RETRY),
            },
            RunKind::Full => Self {
                kind,
                outage: Duration::from_secs(15),
                audit_outage: Duration::from_secs(45),
                converge_limit: Duration::from_secs(150),
                // 14 attempts: 3 + 6 + 12 + 10 x 24 = 261 s of waits, and
                // a run's length on top of each.
                poison_limit: Duration::from_secs(450),
                relay_interval: Duration::from_secs(1),
                relay: &[
                    ("OUTBOX_AUDIT_GRACE_MS", "3000"),
                    ("OUTBOX_RETRY_FIRST_MS", "500"),
                    ("OUTBOX_RETRY_MAX_MS", "5000"),
                    ("OUTBOX_MAX_ATTEMPTS", "14"),
                    ("OUTBOX_RELAY_BUDGET_MS", "5000"),
                ],
                trigger_retry: Some(TRIGGER_RETRY),
            },
            RunKind::AuditOutage(outage) => Self {
                kind,
                outage: Duration::from_secs(5),
                audit_outage: outage,
                // The Trigger's next retry may come up to 256 s after the
                // audit function is back (9 retries, exponential from 1 s).
                converge_limit: Duration::from_secs(420),
                poison_limit: Duration::from_secs(420),
                relay_interval: Duration::from_secs(2),
                relay: &[],
                trigger_retry: None,
            },
        }
    }

    pub(super) fn plan(&self) -> Vec<Step> {
        let outage = |services, down, up, outage| Fault::Outage {
            services,
            down,
            up,
            outage,
            largest: None,
        };
        let secs = |d: Duration| d.as_secs();
        if let RunKind::AuditOutage(down) = self.kind {
            return vec![Step {
                name: format!(
                    "audit killed, down {} s (the largest changes for its first {} s)",
                    secs(down),
                    secs(self.outage)
                ),
                fault: Fault::Outage {
                    services: &["audit"],
                    down: Action::Kill,
                    up: Action::Start,
                    outage: down,
                    largest: Some(self.outage),
                },
            }];
        }
        vec![
            Step {
                name: format!("Kafka paused {} s", secs(self.outage)),
                fault: outage(&["kafka"], Action::Pause, Action::Resume, self.outage),
            },
            Step {
                name: format!(
                    "broker ingress and dispatcher stopped {} s",
                    secs(self.outage)
                ),
                fault: outage(
                    &["broker-ingress", "broker-dispatch"],
                    Action::Stop,
                    Action::Start,
                    self.outage,
                ),
            },
            Step {
                name: format!(
                    "audit killed, down {} s (past the Trigger's retries)",
                    secs(self.audit_outage)
                ),
                fault: outage(&["audit"], Action::Kill, Action::Start, self.audit_outage),
            },
            Step {
                name: "Kafka killed (SIGKILL), started again at once".into(),
                fault: outage(&["kafka"], Action::Kill, Action::Start, KAFKA_KILLED),
            },
            Step {
                name: "PostgreSQL restarted".into(),
                fault: Fault::Restart("postgres"),
            },
            Step {
                name: format!("largest valid changes for {} s", secs(self.outage)),
                fault: Fault::LargestChanges {
                    during: self.outage,
                },
            },
            Step {
                name: "poison outbox rows".into(),
                fault: Fault::PoisonRows,
            },
            Step {
                name: "200 delivered events replayed".into(),
                fault: Fault::Replay { events: 200 },
            },
        ]
    }
}
