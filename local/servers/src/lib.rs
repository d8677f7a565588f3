//! The real servers behind the local stack, the tests and the benchmarks.
//!
//! Nothing here knows about tasks or functions: it starts PostgreSQL, the
//! Kafka-protocol broker (nisshi) and the OpenID Provider, finds free ports
//! and ties child processes to their parent. `local/stack`
//! (the supervisor), `functions/test-support` (each test process's servers),
//! the broker's tests and the bench all use it, so none of them depends on
//! another to start a server.

pub mod kafka;
pub mod oidc;
pub mod ports;
pub mod postgres;
pub mod process;
