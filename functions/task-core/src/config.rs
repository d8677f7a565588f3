//! Configuration, read from the environment once at start-up.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

/// What a function needs from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen (Knative's contract). Default 8080.
    pub port: u16,
    /// `BIND_ADDRESS`: the interface to listen on. Default 0.0.0.0 (what a
    /// container needs); the local stack sets 127.0.0.1.
    pub bind_address: IpAddr,
    /// `DATABASE_URL`: the PostgreSQL connection string. Required. It may
    /// carry a password, so it is kept out of `Debug` and logs.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS`: pool size. Default 10.
    pub database_max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS`: how long a request waits for a connection
    /// before it is answered 503. Default 3000.
    pub database_acquire_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS`: the longest any one query may run
    /// (PostgreSQL's `statement_timeout`); past it the request is answered
    /// 503. Default 5000.
    pub database_statement_timeout: Duration,
    /// `SHUTDOWN_DRAIN_MS`: on SIGTERM, after the last response, how long the
    /// work started after responses (event sends) may take to finish. Default 5000.
    pub shutdown_drain: Duration,
}

/// A setting that is missing or cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set; it must hold {1}")]
    Missing(&'static str, &'static str),
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database_url = required(
            &lookup,
            "DATABASE_URL",
            "a PostgreSQL URL such as postgres://user:password@host:5432/tasks",
        )?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                value: "<hidden>".into(),
                reason: "must start with postgres:// or postgresql://".into(),
            });
        }
        Ok(Self {
            port: setting(&lookup, "PORT", 8080)?,
            bind_address: setting(&lookup, "BIND_ADDRESS", IpAddr::from([0, 0, 0, 0]))?,
            database_url: database_url.into(),
            database_max_connections: setting(&lookup, "DATABASE_MAX_CONNECTIONS", 10)?,
            database_acquire_timeout: millis(&lookup, "DATABASE_ACQUIRE_TIMEOUT_MS", 3000)?,
            database_statement_timeout: millis(&lookup, "DATABASE_STATEMENT_TIMEOUT_MS", 5000)?,
            shutdown_drain: millis(&lookup, "SHUTDOWN_DRAIN_MS", 5000)?,
        })
    }
}

/// A setting that must be set and not blank; `what` says what it must hold.
pub fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    what: &'static str,
) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|value| !value.trim().is_empty())
        .ok_or(ConfigError::Missing(name, what))
}

/// A duration in milliseconds (see [`setting`]).
pub fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    setting(lookup, name, default).map(Duration::from_millis)
}

/// Reads one setting through `lookup`: `default` when unset, an error naming
/// it when it does not parse.
pub fn setting<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|err: T::Err| ConfigError::Invalid {
                name,
                reason: err.to_string(),
                value,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_database_is_set() {
        let config = config(&[("DATABASE_URL", "postgres://localhost/tasks")]).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.bind_address.to_string(), "0.0.0.0");
        assert_eq!(config.database_max_connections, 10);
        assert_eq!(config.database_acquire_timeout, Duration::from_secs(3));
        assert_eq!(config.database_statement_timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let err = config(&[("PORT", "9000")]).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL is not set"));
    }

    #[test]
    fn a_bad_port_is_named_with_its_value() {
        let err = config(&[("DATABASE_URL", "postgres://x/y"), ("PORT", "eighty")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "PORT", .. }));
        assert!(err.to_string().contains("\"eighty\""));
    }

    #[test]
    fn a_database_url_of_another_kind_is_refused_without_echoing_it() {
        let err = config(&[("DATABASE_URL", "mysql://root:secret@db/tasks")]).unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn debug_output_hides_the_database_url() {
        let config = config(&[("DATABASE_URL", "postgres://u:secret@h/d")]).unwrap();
        assert!(!format!("{config:?}").contains("secret"));
    }
}
