//! The route table: which function serves which method and path.
//!
//! The single source of truth for the edge router (local nginx and the Knative
//! edge router) and for the contract tests. Paths use axum's `{param}` syntax.

/// One public route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The function (binary, Knative Service and `.local/stack.json` key) serving it.
    pub function: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: no token is read.
    Public,
    /// A signed-in user (an access token); it sees its own tasks, an admin every user's.
    User,
    /// A signed-in user with the admin role.
    Admin,
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: &'static str,
    access: Access,
) -> Route {
    Route {
        method,
        path,
        function,
        access,
    }
}

use Access::{Admin, Public, User};

/// Every route the public gateway serves.
pub const ROUTES: &[Route] = &[
    route("GET", "/api/tasks", "list-tasks", User),
    route("GET", "/api/task-counts", "count-tasks", User),
    route("GET", "/api/task-owners", "count-tasks", Admin),
    route("POST", "/api/tasks", "create-task", User),
    route("GET", "/api/tasks/{id}", "get-task", User),
    route("PUT", "/api/tasks/{id}", "update-task", User),
    route("DELETE", "/api/tasks/{id}", "delete-task", User),
    route("GET", "/api/tasks/{id}/history", "task-history", User),
    route("GET", "/api/task-events", "task-stream", User),
    route("GET", "/health", "health", Public),
    route("GET", "/api/openapi.json", "health", Public),
];

/// Whether `function` serves a route that needs a signed-in caller (and so
/// needs the token checks' settings).
pub fn needs_sign_in(function: &str) -> bool {
    ROUTES
        .iter()
        .any(|route| route.function == function && route.access != Access::Public)
}

/// Every function, routed or not, in start-up order. `audit` (reached by the
/// broker's Trigger) and `outbox-relay` (reached by a timer) are not public.
pub const FUNCTIONS: &[&str] = &[
    "health",
    "list-tasks",
    "create-task",
    "get-task",
    "update-task",
    "delete-task",
    "task-history",
    "audit",
    "outbox-relay",
    "count-tasks",
    "task-stream",
];

/// The functions that send task events to `K_SINK` (the broker), which a
/// SinkBinding gives them on Knative.
pub const EVENT_SENDERS: &[&str] = &["create-task", "update-task", "delete-task", "outbox-relay"];

/// The function the broker's first Trigger delivers task events to: it
/// records each once in the audit log.
pub const EVENT_SUBSCRIBER: &str = "audit";

/// The second subscriber (its own Trigger): it streams each user's task
/// changes to their open pages, at a route of its own.
pub const EVENT_STREAMER: &str = "task-stream";

/// The function a timer (a PingSource on Knative) invokes to send what the
/// outbox still holds.
pub const OUTBOX_RELAY: &str = "outbox-relay";

/// What a function may do in the database: the role (created by the
/// migrations) its login user is a member of, and nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Duty {
    /// Reads tasks, counts and the audit log.
    Read,
    /// Changes tasks and writes their events to the outbox.
    Write,
    /// Records events in the audit log.
    Audit,
    /// Sends and reconciles the outbox.
    Relay,
}

impl Duty {
    pub const ALL: [Duty; 4] = [Self::Read, Self::Write, Self::Audit, Self::Relay];

    /// The function's duty.
    pub fn of(function: &str) -> Self {
        match function {
            "create-task" | "update-task" | "delete-task" => Self::Write,
            EVENT_SUBSCRIBER => Self::Audit,
            OUTBOX_RELAY => Self::Relay,
            _ => Self::Read,
        }
    }

    /// The database role of the duty (see the migrations).
    pub fn role(self) -> &'static str {
        match self {
            Self::Read => "task_reader",
            Self::Write => "task_writer",
            Self::Audit => "task_auditor",
            Self::Relay => "task_relay",
        }
    }

    /// A short name, for login users and Secrets (`reader`, `writer`, ...).
    pub fn name(self) -> &'static str {
        self.role().trim_start_matches("task_")
    }
}

/// The distinct paths of the table, in table order, each with the methods allowed on it.
pub fn paths() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut paths: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for route in ROUTES {
        match paths.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, methods)) => methods.push(route.method),
            None => paths.push((route.path, vec![route.method])),
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_function_is_a_known_function() {
        for route in ROUTES {
            assert!(
                FUNCTIONS.contains(&route.function),
                "{} is routed but not in FUNCTIONS",
                route.function
            );
        }
    }

    #[test]
    fn event_functions_are_known_functions() {
        for name in EVENT_SENDERS
            .iter()
            .chain([&EVENT_SUBSCRIBER, &OUTBOX_RELAY])
        {
            assert!(FUNCTIONS.contains(name), "{name} is not in FUNCTIONS");
        }
    }

    #[test]
    fn only_the_writers_write_and_only_audit_records() {
        let writers: Vec<&str> = FUNCTIONS
            .iter()
            .copied()
            .filter(|f| Duty::of(f) == Duty::Write)
            .collect();
        let mut senders: Vec<&str> = EVENT_SENDERS
            .iter()
            .copied()
            .filter(|f| *f != OUTBOX_RELAY)
            .collect();
        senders.sort_unstable();
        let mut sorted = writers.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted, senders,
            "the writers are the functions that emit events"
        );
        assert_eq!(Duty::of(EVENT_SUBSCRIBER), Duty::Audit);
        assert_eq!(Duty::of("list-tasks").name(), "reader");
    }

    #[test]
    fn no_method_and_path_is_routed_twice() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} is routed twice",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn only_health_and_the_api_description_are_public() {
        for route in ROUTES {
            let public = route.path == "/health" || route.path == "/api/openapi.json";
            assert_eq!(route.access == Access::Public, public, "{route:?}");
        }
        assert!(needs_sign_in("list-tasks"));
        assert!(!needs_sign_in("health"));
        assert!(!needs_sign_in("audit"));
    }

    #[test]
    fn paths_group_methods_by_path() {
        let paths = paths();
        let item = paths.iter().find(|(p, _)| *p == "/api/tasks/{id}").unwrap();
        assert_eq!(item.1, vec!["GET", "PUT", "DELETE"]);
    }
}
