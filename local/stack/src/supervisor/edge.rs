//! The edge router: nginx with the generated configuration, serving the web app.

use super::*;

pub(super) async fn start_gateway(
    options: &StackOptions,
    state_dir: &Path,
    functions: &[(&'static str, u16)],
    services: &mut Vec<Service>,
) -> anyhow::Result<String> {
    let runtime_dir = state_dir.join("nginx");
    std::fs::create_dir_all(&runtime_dir)?;
    let config = GatewayConfig {
        listen: format!("127.0.0.1:{}", options.gateway_port),
        upstreams: functions
            .iter()
            .map(|(name, port)| {
                let upstream = Upstream {
                    address: format!("127.0.0.1:{port}"),
                    host_header: None,
                };
                (name.to_string(), upstream)
            })
            .collect(),
        web_root: web_root(options, state_dir)?,
        runtime_dir: runtime_dir.clone(),
        foreground: true,
        sign_in: SignIn {
            provider: Upstream {
                address: format!("127.0.0.1:{}", options.oidc_port),
                host_header: None,
            },
            issuer_path: "/oidc".into(),
            client_id: WEB_CLIENT.into(),
            page_policy: Some(SIGN_IN_PAGE_POLICY.into()),
        },
    };
    let conf_path = runtime_dir.join("nginx.conf");
    std::fs::write(&conf_path, config.render())?;

    let nginx = find_nginx()?;
    let test = std::process::Command::new(&nginx)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(&runtime_dir)
        .arg("-c")
        .arg(&conf_path)
        .output()?;
    if !test.status.success() {
        bail!(
            "the generated nginx configuration {} does not load: {}",
            conf_path.display(),
            String::from_utf8_lossy(&test.stderr).trim()
        );
    }
    log(
        "stack",
        &format!(
            "starting the edge router on 127.0.0.1:{}",
            options.gateway_port
        ),
    );
    let mut service = Service::new("gateway", Signal::SIGQUIT, move || {
        let mut command = std::process::Command::new(&nginx);
        command
            .arg("-p")
            .arg(&runtime_dir)
            .arg("-c")
            .arg(&conf_path);
        command
    });
    service.start()?;
    services.push(service);
    let url = format!("http://127.0.0.1:{}", options.gateway_port);
    let client = reqwest::Client::new();
    wait_http_ok(&client, "gateway", &format!("{url}/health"), services).await?;
    Ok(url)
}

/// `web/dist` once the SPA is built; until then a page that says so.
pub(super) fn web_root(options: &StackOptions, state_dir: &Path) -> anyhow::Result<PathBuf> {
    if options.web_dir.join("index.html").exists() {
        return Ok(options.web_dir.canonicalize()?);
    }
    let placeholder = state_dir.join("www");
    std::fs::create_dir_all(&placeholder)?;
    std::fs::write(placeholder.join("index.html"), PLACEHOLDER_PAGE)?;
    log(
        "stack",
        &format!(
            "{} has no index.html yet; serving a placeholder page",
            options.web_dir.display()
        ),
    );
    Ok(placeholder)
}

pub(super) const PLACEHOLDER_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Tasks</title></head><body>\n<h1>Tasks</h1>\n<p>The web app has not been built yet. \
The API is up: try <a href=\"/api/tasks\">/api/tasks</a>, \
<a href=\"/health\">/health</a> or <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>\n\
</body></html>\n";

pub(super) fn find_nginx() -> anyhow::Result<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")]);
    for dir in candidates {
        let nginx = dir.join("nginx");
        if nginx.exists() {
            return Ok(nginx);
        }
    }
    bail!("nginx not found; install it with `task setup` (Debian: apt-get install nginx-light)")
}
