//! The plan of a chaos run: which faults, in which order, for how long.

use std::time::Duration;

use local_stack::admin::Action;

use super::faults::{Fault, Step};

/// Durations of one kind of run.
pub(super) struct Timing {
    pub(super) outage: Duration,
    /// Longer than the Trigger's retry budget.
    pub(super) audit_outage: Duration,
    pub(super) converge_limit: Duration,
    pub(super) relay_interval: Duration,
    /// The relay's settings: what a missing audit row waits for, how sends
    /// back off, and after how many attempts a row is parked. The attempts
    /// outlast the audit outage; poison rows use them up within the run.
    pub(super) relay: [(&'static str, &'static str); 4],
}

impl Timing {
    pub(super) fn of(short: bool) -> Self {
        if short {
            Self {
                outage: Duration::from_secs(5),
                audit_outage: Duration::from_secs(10),
                // A slow 2-core machine needs over a minute to send again
                // what a Kafka restart lost.
                converge_limit: Duration::from_secs(180),
                relay_interval: Duration::from_secs(1),
                relay: [
                    ("OUTBOX_AUDIT_GRACE_MS", "2000"),
                    ("OUTBOX_RETRY_FIRST_MS", "250"),
                    ("OUTBOX_RETRY_MAX_MS", "2000"),
                    ("OUTBOX_MAX_ATTEMPTS", "20"),
                ],
            }
        } else {
            Self {
                outage: Duration::from_secs(15),
                audit_outage: Duration::from_secs(45),
                converge_limit: Duration::from_secs(150),
                relay_interval: Duration::from_secs(1),
                relay: [
                    ("OUTBOX_AUDIT_GRACE_MS", "3000"),
                    ("OUTBOX_RETRY_FIRST_MS", "500"),
                    ("OUTBOX_RETRY_MAX_MS", "5000"),
                    ("OUTBOX_MAX_ATTEMPTS", "14"),
                ],
            }
        }
    }

    pub(super) fn plan(&self) -> Vec<Step> {
        let outage = |services, down, up, outage| Fault::Outage {
            services,
            down,
            up,
            outage,
        };
        let secs = |d: Duration| d.as_secs();
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
                name: "Kafka restarted (its in-memory events lost)".into(),
                fault: Fault::Restart("kafka"),
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
