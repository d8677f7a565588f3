//! The relay's settings, read from the environment once at start-up.

use std::time::Duration;

use task_core::config::{ConfigError, millis, required, setting};
use task_events::outbox::RetryPolicy;
use task_events::sink::EventSink;

/// Where and how the relay sends, and how it reconciles the outbox with the audit log.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub sink: EventSink,
    /// Rows leased per claim.
    pub batch_size: i64,
    /// Rows younger than this are left to the function that wrote them, which
    /// is still trying to send them itself.
    pub min_age: Duration,
    /// Stop starting new batches after this long.
    pub budget: Duration,
    /// How long a claimed row stays the claiming relay's: a relay that dies
    /// mid-send leaves its rows to the next run after this.
    pub lease: Duration,
    /// Backoff and parking of rows that fail to send or never reach the audit log.
    pub retry: RetryPolicy,
    /// How long after the broker took an event its audit row may take before
    /// the event is sent again (doubling with each attempt). Longer than the
    /// Trigger's retry budget, so that the broker's own retries come first.
    pub audit_grace: Duration,
    /// How long a row is kept once its event is in the audit log.
    pub retention: Duration,
}

/// Defaults suit Knative, where a PingSource runs the relay every minute.
impl RelaySettings {
    /// `K_SINK` (required); `RELAY_SEND_TIMEOUT_MS` (5000),
    /// `OUTBOX_RELAY_BATCH_SIZE` (100), `OUTBOX_RELAY_MIN_AGE_MS` (10000:
    /// twice the write functions' own send bound, so that the relay does not
    /// send again what a writer is still sending),
    /// `OUTBOX_RELAY_BUDGET_MS` (20000), `OUTBOX_LEASE_MS` (60000),
    /// `OUTBOX_RETRY_FIRST_MS` (1000), `OUTBOX_RETRY_MAX_MS` (3600000),
    /// `OUTBOX_MAX_ATTEMPTS` (20), `OUTBOX_AUDIT_GRACE_MS` (600000: 10 min),
    /// `OUTBOX_RETENTION_MS` (604800000: 7 days).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let url = required(
            &lookup,
            "K_SINK",
            "the URL events are sent to (the broker, or the audit function)",
        )?;
        let millis = |name, default| millis(&lookup, name, default);
        let timeout = millis("RELAY_SEND_TIMEOUT_MS", 5000)?;
        let max_attempts: i32 = setting(&lookup, "OUTBOX_MAX_ATTEMPTS", 20)?;
        if max_attempts < 1 {
            return Err(ConfigError::Invalid {
                name: "OUTBOX_MAX_ATTEMPTS",
                value: max_attempts.to_string(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            sink: EventSink::from_setting("K_SINK", url, timeout)?,
            batch_size: setting(&lookup, "OUTBOX_RELAY_BATCH_SIZE", 100)?,
            min_age: millis("OUTBOX_RELAY_MIN_AGE_MS", 10_000)?,
            budget: millis("OUTBOX_RELAY_BUDGET_MS", 20_000)?,
            lease: millis("OUTBOX_LEASE_MS", 60_000)?,
            retry: RetryPolicy {
                first_backoff: millis("OUTBOX_RETRY_FIRST_MS", 1000)?,
                max_backoff: millis("OUTBOX_RETRY_MAX_MS", 3_600_000)?,
                max_attempts,
            },
            audit_grace: millis("OUTBOX_AUDIT_GRACE_MS", 600_000)?,
            retention: millis("OUTBOX_RETENTION_MS", 7 * 24 * 3_600_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_sink_is_required() {
        let err = RelaySettings::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().starts_with("K_SINK is not set"));
    }

    #[test]
    fn defaults_suit_a_relay_run_every_minute() {
        let settings = RelaySettings::from_lookup(|name| {
            (name == "K_SINK").then(|| "http://broker/".to_string())
        })
        .unwrap();
        assert_eq!(settings.audit_grace, Duration::from_secs(600));
        assert_eq!(settings.retention, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(settings.retry.max_attempts, 20);
        assert!(settings.lease > settings.budget);
    }

    #[test]
    fn a_row_needs_at_least_one_attempt() {
        let err = RelaySettings::from_lookup(|name| match name {
            "K_SINK" => Some("http://broker/".into()),
            "OUTBOX_MAX_ATTEMPTS" => Some("0".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "OUTBOX_MAX_ATTEMPTS",
                ..
            }
        ));
    }
}
