//! The edge router's nginx configuration, generated from the route table and
//! the templates in `edge_router/`.
//!
//! The same generator serves the local stack (functions on loopback ports) and
//! the Knative edge router (functions by cluster-local host name), so both
//! route exactly what `task_core::routes::ROUTES` says.

use std::collections::BTreeMap;
use std::path::PathBuf;

use task_core::problem::ProblemType;
use task_core::routes::{self, ROUTES};

/// Where the gateway sends each function's requests.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port` nginx connects to.
    pub address: String,
    /// The `Host` header the function expects (Knative routes by it).
    pub host_header: Option<String>,
}

/// Everything the generated configuration depends on.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `address:port` to listen on.
    pub listen: String,
    /// Function name -> upstream.
    pub upstreams: BTreeMap<String, Upstream>,
    /// The SPA's static files.
    pub web_root: PathBuf,
    /// Where nginx keeps its pid and temporary files.
    pub runtime_dir: PathBuf,
    /// Run in the foreground (the supervisor owns the process).
    pub foreground: bool,
    /// Where people sign in.
    pub sign_in: SignIn,
}

/// The OpenID Provider, served under [`SIGN_IN_PATH`] on the gateway's own
/// origin (so the web app's requests to it stay same-origin, its cookies
/// first-party), and what the web app is told of it (`/config.json`).
#[derive(Debug, Clone)]
pub struct SignIn {
    pub provider: Upstream,
    /// The issuer as the web app finds it: a path on this origin.
    pub issuer_path: String,
    /// The web app's client id.
    pub client_id: String,
    /// The Content-Security-Policy of the provider's pages, when they are
    /// ours (`local/oidc`: no script, one form); `None` leaves the policy to
    /// the provider (Keycloak sets its own). The other security headers
    /// apply either way; the app's own policy never does (it allows no form).
    pub page_policy: Option<String>,
}

/// Where the OpenID Provider is served on the gateway.
pub const SIGN_IN_PATH: &str = "/oidc/";

/// The policy of `local/oidc`'s sign-in page: its stylesheet, and a form
/// that posts to this origin; nothing else.
pub const SIGN_IN_PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Where the edge router listens in its container (Knative's default `$PORT`).
pub const KNATIVE_PORT: u16 = 8080;
/// The edge router's own readiness path (answered by nginx, never routed).
pub const READY_PATH: &str = "/_edge/ready";

impl GatewayConfig {
    /// The edge router on Knative: every function by its cluster-local name
    /// in `namespace` (the Host header Knative routes by), the SPA baked into
    /// the image, and temporary files in /tmp (the root filesystem is read-only).
    pub fn knative(namespace: &str) -> Self {
        let upstreams = task_core::routes::FUNCTIONS
            .iter()
            .filter(|function| ROUTES.iter().any(|route| route.function == **function))
            .map(|function| {
                let host = format!("{function}.{namespace}.svc.cluster.local");
                (
                    function.to_string(),
                    Upstream {
                        address: format!("{host}:80"),
                        host_header: Some(host),
                    },
                )
            })
            .collect();
        // The provider is the cluster's Keycloak (Service `oidc`, serving
        // under /oidc: KC_HTTP_RELATIVE_PATH), realm `task-app`.
        let provider_host = format!("oidc.{namespace}.svc.cluster.local");
        Self {
            listen: format!("0.0.0.0:{KNATIVE_PORT}"),
            upstreams,
            web_root: "/usr/share/task-app/web".into(),
            runtime_dir: "/tmp".into(),
            foreground: true,
            sign_in: SignIn {
                provider: Upstream {
                    address: format!("{provider_host}:80"),
                    host_header: None,
                },
                issuer_path: "/oidc/realms/task-app".into(),
                client_id: "task-web".into(),
                page_policy: None,
            },
        }
    }
}

/// What the browser may do with the page: scripts and styles from this
/// origin only (the web app's loader is a file, not an inline script; wasm
/// needs `wasm-unsafe-eval` to compile), requests to this origin only, never
/// framed, no forms, plugins or `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers on every response of the edge router, page and API alike.
/// nginx drops inherited `add_header`s in a block that adds its own, so
/// every such block repeats these.
fn security_headers() -> String {
    [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        (
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ]
    .iter()
    .map(|(name, value)| format!("add_header {name} \"{value}\" always;\n"))
    .collect()
}

/// A problem+json body nginx answers itself (no user input inside).
fn problem(kind: ProblemType, detail: &str) -> String {
    let (uri, title, status) = (kind.uri(), kind.title(), kind.status());
    format!(r#"'{{"type":"{uri}","title":"{title}","status":{status},"detail":"{detail}"}}'"#)
}

/// `{param}` segments become `[^/]+`; everything else is matched literally.
pub fn path_regex(path: &str) -> String {
    let mut regex = String::from("^");
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            regex.push('/');
        }
        if segment.starts_with('{') && segment.ends_with('}') {
            regex.push_str("[^/]+");
        } else {
            for c in segment.chars() {
                if !c.is_ascii_alphanumeric() && !matches!(c, '-' | '_') {
                    regex.push('\\');
                }
                regex.push(c);
            }
        }
    }
    regex.push('$');
    regex
}

/// The whole configuration; `{{name}}` marks what the generator fills in.
const NGINX_CONF: &str = include_str!("edge_router/nginx.conf.template");
/// One location that routes API requests to the functions.
const API_LOCATION: &str = include_str!("edge_router/api-location.conf.template");
/// The location of the OpenID Provider.
const SIGN_IN_LOCATION: &str = include_str!("edge_router/sign-in-location.conf.template");
/// The upstream name of the OpenID Provider (no function has it).
const SIGN_IN_UPSTREAM: &str = "oidc";

impl GatewayConfig {
    /// Renders `nginx.conf`.
    pub fn render(&self) -> String {
        let mut slots = problem_slots();
        slots.extend([
            (
                "daemon",
                if self.foreground { "daemon off;" } else { "" }.to_string(),
            ),
            ("runtime", self.runtime_dir.display().to_string()),
            ("listen", self.listen.clone()),
            ("root", self.web_root.display().to_string()),
            ("ready_path", READY_PATH.to_string()),
            ("security_headers", security_headers()),
            ("upstreams", self.upstreams()),
            ("function_by_route", function_by_route()),
            ("methods_by_path", methods_by_path()),
            ("host_by_function", self.host_by_function()),
            ("api_locations", api_locations()),
            ("sign_in_location", self.sign_in_location()),
            ("web_config", self.web_config()),
        ]);
        fill(NGINX_CONF, &slots)
    }

    fn upstreams(&self) -> String {
        self.upstreams
            .iter()
            .chain([(&SIGN_IN_UPSTREAM.to_string(), &self.sign_in.provider)])
            .map(|(name, upstream)| {
                format!(
                    "upstream {name} {{\n    server {};\n    keepalive 16;\n}}\n",
                    upstream.address
                )
            })
            .collect()
    }

    /// `/oidc/` to the provider, with the public host it builds its URLs from.
    fn sign_in_location(&self) -> String {
        // A location with add_header lines of its own inherits none of the
        // server's: so the app's policy never reaches the provider's pages.
        let policy = match self.sign_in.page_policy.as_deref() {
            Some(policy) => security_headers().replace(CONTENT_SECURITY_POLICY, policy),
            None => security_headers()
                .lines()
                .filter(|line| !line.contains("Content-Security-Policy"))
                .map(|line| format!("{line}\n"))
                .collect(),
        };
        fill(
            SIGN_IN_LOCATION,
            &[
                ("location", SIGN_IN_PATH.to_string()),
                ("upstream", SIGN_IN_UPSTREAM.to_string()),
                ("page_headers", policy),
            ],
        )
    }

    /// What the web app reads at `/config.json`: where to sign in.
    fn web_config(&self) -> String {
        let config = serde_json::json!({
            "issuer": self.sign_in.issuer_path,
            "client_id": self.sign_in.client_id,
        });
        // Inside a single-quoted nginx string: no quote or backslash can occur.
        config.to_string().replace(['\'', '\\'], "")
    }

    fn host_by_function(&self) -> String {
        self.upstreams
            .iter()
            .filter_map(|(function, upstream)| {
                let host = upstream.host_header.as_ref()?;
                Some(format!("{function} {host};\n"))
            })
            .collect()
    }
}

/// `"~^METHOD path" function;` for every route (and HEAD for every GET).
fn function_by_route() -> String {
    let mut map = String::new();
    for route in ROUTES {
        let regex = path_regex(route.path);
        let path = regex.trim_start_matches('^');
        map.push_str(&format!(
            "\"~^{} {path}\" {};\n",
            route.method, route.function
        ));
        if route.method == "GET" {
            map.push_str(&format!("\"~^HEAD {path}\" {};\n", route.function));
        }
    }
    map
}

/// `"~path" "METHODS";` for every path of the route table.
fn methods_by_path() -> String {
    routes::paths()
        .into_iter()
        .map(|(path, methods)| format!("\"~{}\" \"{}\";\n", path_regex(path), methods.join(", ")))
        .collect()
}

/// `/api/`, and every routed path outside it, each routed to its function.
fn api_locations() -> String {
    let outside_api = routes::paths()
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| !path.starts_with("/api/"))
        .map(|path| format!("= {path}"));
    let mut slots = problem_slots();
    slots.push(("security_headers", security_headers()));
    std::iter::once("/api/".to_string())
        .chain(outside_api)
        .map(|location| {
            let mut slots = slots.clone();
            slots.push(("location", location));
            fill(API_LOCATION, &slots)
        })
        .collect()
}

/// The problems nginx answers itself, by slot name.
fn problem_slots() -> Vec<(&'static str, String)> {
    vec![
        (
            "route_not_found",
            problem(ProblemType::RouteNotFound, "no API route matches this path"),
        ),
        (
            "method_not_allowed",
            problem(
                ProblemType::MethodNotAllowed,
                "this method is not allowed on this path; see the Allow header",
            ),
        ),
        (
            "bad_request",
            problem(
                ProblemType::BadRequest,
                "the request is malformed, or its headers or cookies are too large",
            ),
        ),
        (
            "uri_too_long",
            problem(
                ProblemType::UriTooLong,
                &format!(
                    "the request line is too long; a query string must be at most {} bytes",
                    task_core::QUERY_LIMIT_BYTES
                ),
            ),
        ),
        (
            "internal",
            problem(
                ProblemType::Internal,
                "the edge router failed; retry shortly",
            ),
        ),
        (
            "unavailable",
            problem(
                ProblemType::Unavailable,
                "the function serving this route is unavailable; retry shortly",
            ),
        ),
        (
            "too_large",
            problem(
                ProblemType::PayloadTooLarge,
                &format!(
                    "the request body must be at most {} KiB",
                    task_core::BODY_LIMIT_BYTES / 1024
                ),
            ),
        ),
    ]
}

/// Fills the `{{name}}` slots of `template`. A slot alone on its line is
/// replaced by its value's lines, each indented as the slot was (an empty
/// value leaves no line); any other slot is replaced within its line.
fn fill(template: &str, slots: &[(&str, String)]) -> String {
    let mut out = String::new();
    for line in template.lines() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let whole = body
            .strip_prefix("{{")
            .and_then(|rest| rest.strip_suffix("}}"))
            .and_then(|name| slots.iter().find(|(slot, _)| *slot == name));
        if let Some((_, value)) = whole {
            for value_line in value.lines() {
                if !value_line.is_empty() {
                    out.push_str(indent);
                }
                out.push_str(value_line);
                out.push('\n');
            }
            continue;
        }
        let mut line = line.to_string();
        for (name, value) in slots {
            line = line.replace(&format!("{{{{{name}}}}}"), value);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_become_anchored_regexes() {
        assert_eq!(path_regex("/api/tasks"), "^/api/tasks$");
        assert_eq!(path_regex("/api/tasks/{id}"), "^/api/tasks/[^/]+$");
        assert_eq!(path_regex("/api/openapi.json"), "^/api/openapi\\.json$");
    }

    #[test]
    fn every_slot_of_the_templates_is_filled() {
        for foreground in [true, false] {
            let mut config = GatewayConfig::knative("ns");
            config.foreground = foreground;
            let conf = config.render();
            assert!(!conf.contains("{{"), "an unfilled slot in:\n{conf}");
            assert_eq!(conf.contains("daemon off;"), foreground);
        }
    }

    #[test]
    fn every_route_appears_in_the_function_map() {
        let upstreams = task_core::routes::FUNCTIONS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.to_string(),
                    Upstream {
                        address: format!("127.0.0.1:{}", 9000 + i),
                        host_header: None,
                    },
                )
            })
            .collect();
        let conf = GatewayConfig {
            listen: "127.0.0.1:8080".into(),
            upstreams,
            web_root: "/srv/web".into(),
            runtime_dir: "/tmp/nginx".into(),
            foreground: true,
            sign_in: GatewayConfig::knative("ns").sign_in,
        }
        .render();
        for route in ROUTES {
            let entry = format!(
                "\"~^{} {}\" {};",
                route.method,
                path_regex(route.path).trim_start_matches('^'),
                route.function
            );
            assert!(conf.contains(&entry), "missing {entry}");
        }
        assert!(conf.contains("\"~^/api/tasks/[^/]+$\" \"GET, PUT, DELETE\";"));
    }
}
