//! The edge router's nginx configuration, generated from the route table.
//!
//! The same generator serves the local stack (functions on loopback ports) and
//! the Knative edge router (functions by cluster-local host name), so both
//! route exactly what `task_core::routes::ROUTES` says.

use std::collections::BTreeMap;
use std::fmt::Write;
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
}

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
        Self {
            listen: format!("0.0.0.0:{KNATIVE_PORT}"),
            upstreams,
            web_root: "/usr/share/task-app/web".into(),
            runtime_dir: "/tmp".into(),
            foreground: true,
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
fn security_headers(indent: &str) -> String {
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
    .map(|(name, value)| format!("{indent}add_header {name} \"{value}\" always;\n"))
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

impl GatewayConfig {
    /// Renders `nginx.conf`.
    pub fn render(&self) -> String {
        let mut conf = String::new();
        let runtime = self.runtime_dir.display();
        let _ = writeln!(
            conf,
            "# Generated from the route table (functions/task-core/src/routes.rs) by\n\
             # local/stack/src/gateway.rs. Do not edit: change the route table instead.\n"
        );
        if self.foreground {
            conf.push_str("daemon off;\n");
        }
        let _ = write!(
            conf,
            "worker_processes 1;\n\
             pid {runtime}/nginx.pid;\n\
             error_log stderr warn;\n\n\
             events {{\n    worker_connections 1024;\n}}\n\n\
             http {{\n\
             \x20   access_log /dev/stdout;\n\
             \x20   client_body_temp_path {runtime}/client_body;\n\
             \x20   proxy_temp_path {runtime}/proxy;\n\
             \x20   fastcgi_temp_path {runtime}/fastcgi;\n\
             \x20   uwsgi_temp_path {runtime}/uwsgi;\n\
             \x20   scgi_temp_path {runtime}/scgi;\n\
             \x20   server_tokens off;\n\
             \x20   # The functions refuse bodies over 128 KiB with a problem; nginx only\n\
             \x20   # stops what is far beyond that.\n\
             \x20   client_max_body_size 1m;\n\
             \x20   client_body_buffer_size 1m;\n\
             \x20   types {{\n\
             \x20       text/html html;\n\
             \x20       text/css css;\n\
             \x20       application/javascript js mjs;\n\
             \x20       application/wasm wasm;\n\
             \x20       application/json json;\n\
             \x20       image/svg+xml svg;\n\
             \x20       image/png png;\n\
             \x20       image/x-icon ico;\n\
             \x20   }}\n\
             \x20   default_type application/octet-stream;\n\n"
        );

        for (function, upstream) in &self.upstreams {
            let _ = writeln!(
                conf,
                "    upstream {function} {{\n        server {};\n        keepalive 16;\n    }}",
                upstream.address
            );
        }

        conf.push_str("\n    # Method and path -> the function that serves them.\n");
        conf.push_str("    map \"$request_method $uri\" $function {\n        default \"\";\n");
        for route in ROUTES {
            let regex = path_regex(route.path);
            let path = regex.trim_start_matches('^');
            let _ = writeln!(
                conf,
                "        \"~^{} {path}\" {};",
                route.method, route.function
            );
            if route.method == "GET" {
                let _ = writeln!(conf, "        \"~^HEAD {path}\" {};", route.function);
            }
        }
        conf.push_str("    }\n\n");

        conf.push_str("    # Path -> the methods allowed on it (empty: no such route).\n");
        conf.push_str("    map $uri $allowed_methods {\n        default \"\";\n");
        for (path, methods) in routes::paths() {
            let _ = writeln!(
                conf,
                "        \"~{}\" \"{}\";",
                path_regex(path),
                methods.join(", ")
            );
        }
        conf.push_str("    }\n\n");

        conf.push_str(
            "    # The Allow header of a 405: the route's methods, or GET and HEAD for files.\n    \
             map $allowed_methods $allow {\n        \"\" \"GET, HEAD\";\n        default $allowed_methods;\n    }\n\n",
        );
        conf.push_str("    # The Host header each function expects.\n");
        conf.push_str("    map $function $function_host {\n        default $host;\n");
        for (function, upstream) in &self.upstreams {
            if let Some(host) = &upstream.host_header {
                let _ = writeln!(conf, "        {function} {host};");
            }
        }
        conf.push_str("    }\n\n");

        let _ = write!(
            conf,
            "    server {{\n\
             \x20       listen {listen};\n\
             \x20       root {root};\n\
             {headers}\n\
             \x20       location = {READY_PATH} {{\n\
             \x20           access_log off;\n\
             \x20           return 204;\n\
             \x20       }}\n\n\
             \x20       location / {{\n\
             \x20           try_files $uri $uri/ /index.html;\n\
             \x20       }}\n\n",
            listen = self.listen,
            root = self.web_root.display(),
            headers = security_headers("        "),
        );

        let mut api_locations = vec!["/api/".to_string()];
        for (path, _) in routes::paths() {
            if !path.starts_with("/api/") {
                api_locations.push(format!("= {path}"));
            }
        }
        for location in api_locations {
            let _ = write!(
                conf,
                "        location {location} {{\n\
                 \x20           default_type application/problem+json;\n\
                 \x20           if ($allowed_methods = \"\") {{\n\
                 \x20               return 404 {not_found};\n\
                 \x20           }}\n\
                 \x20           if ($function = \"\") {{\n\
                 \x20               add_header Allow $allowed_methods always;\n\
                 {headers}\
                 \x20               return 405 {not_allowed};\n\
                 \x20           }}\n\
                 \x20           proxy_pass http://$function;\n\
                 \x20           proxy_http_version 1.1;\n\
                 \x20           proxy_set_header Connection \"\";\n\
                 \x20           proxy_set_header Host $function_host;\n\
                 \x20           proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 \x20           proxy_set_header X-Forwarded-Proto $scheme;\n\
                 \x20       }}\n\n",
                headers = security_headers("                "),
                not_found = problem(
                    ProblemType::RouteNotFound,
                    "no API route matches this path"
                ),
                not_allowed = problem(
                    ProblemType::MethodNotAllowed,
                    "this method is not allowed on this path; see the Allow header"
                ),
            );
        }

        let _ = write!(
            conf,
            "        # A function that cannot be reached is a temporary condition: 503.\n\
             \x20       error_page 502 504 = @unavailable;\n\
             \x20       error_page 413 = @too_large;\n\
             \x20       # Methods nginx refuses by itself (TRACE, or POST to a file).\n\
             \x20       error_page 405 = @not_allowed;\n\
             \x20       # Requests nginx refuses before routing (494: headers or a cookie\n\
             \x20       # too large) answer as the API does.\n\
             \x20       error_page 400 494 = @bad_request;\n\
             \x20       # (A named location needs a parsed URI: a 414 has none.)\n\
             \x20       error_page 414 /_edge/uri-too-long;\n\
             \x20       error_page 500 = @internal;\n\
             \x20       location @not_allowed {{\n\
             \x20           default_type application/problem+json;\n\
             \x20           add_header Allow $allow always;\n\
             {headers}\
             \x20           return 405 {not_allowed};\n\
             \x20       }}\n\
             \x20       location @unavailable {{\n\
             \x20           default_type application/problem+json;\n\
             \x20           add_header Retry-After 1 always;\n\
             {headers}\
             \x20           return 503 {unavailable};\n\
             \x20       }}\n\
             \x20       location @too_large {{\n\
             \x20           default_type application/problem+json;\n\
             \x20           return 413 {too_large};\n\
             \x20       }}\n\
             \x20       location @bad_request {{\n\
             \x20           default_type application/problem+json;\n\
             \x20           return 400 {bad_request};\n\
             \x20       }}\n\
             \x20       location = /_edge/uri-too-long {{\n\
             \x20           internal;\n\
             \x20           default_type application/problem+json;\n\
             \x20           return 414 {uri_too_long};\n\
             \x20       }}\n\
             \x20       location @internal {{\n\
             \x20           default_type application/problem+json;\n\
             \x20           return 500 {internal};\n\
             \x20       }}\n\
             \x20   }}\n\
             }}\n",
            headers = security_headers("            "),
            bad_request = problem(
                    ProblemType::BadRequest,
                    "the request is malformed, or its headers or cookies are too large"
            ),
            uri_too_long = problem(
                    ProblemType::UriTooLong,
                    &format!(
                    "the request line is too long; a query string must be at most {} bytes",
                    task_core::QUERY_LIMIT_BYTES
                )
            ),
            internal = problem(
                    ProblemType::Internal,
                    "the edge router failed; retry shortly"
            ),
            unavailable = problem(
                    ProblemType::Unavailable,
                    "the function serving this route is unavailable; retry shortly"
            ),
            too_large = problem(
                    ProblemType::PayloadTooLarge,
                    &format!(
                    "the request body must be at most {} KiB",
                    task_core::BODY_LIMIT_BYTES / 1024
                )
            ),
            not_allowed = problem(
                    ProblemType::MethodNotAllowed,
                    "this method is not allowed on this path; see the Allow header"
            ),
        );
        conf
    }
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
