//! The web app: its size, and how soon a browser shows the first task list.

use bench::measure::web;
use bench::results::WebApp;
use bench::stats::Summary;

use crate::{Bench, say};

pub fn measure(bench: &Bench) -> anyhow::Result<WebApp> {
    let dist = bench.root.join("web/dist");
    let (wasm_raw, wasm_gzip) = web::sizes(&dist, ".wasm")?;
    let (js_raw, js_gzip) = web::sizes(&dist, ".js")?;
    let user = bench
        .stack
        .auth
        .users
        .iter()
        .find(|user| user.username == crate::USER)
        .ok_or_else(|| anyhow::anyhow!("the stack has no account {}", crate::USER))?;
    let render = Summary::of(&web::first_render(
        &bench.root.join("web"),
        &format!("{}/", bench.stack.gateway_url),
        5,
        (&user.username, &user.password),
    )?);
    say(&format!(
        "web: wasm {wasm_raw} B ({wasm_gzip} gzip), js {js_raw} B ({js_gzip} gzip), first task list {} ms",
        render.show(0)
    ));
    Ok(WebApp {
        first_task_list_ms: render,
        js_bytes: js_raw,
        js_gzip_bytes: js_gzip,
        wasm_bytes: wasm_raw,
        wasm_gzip_bytes: wasm_gzip,
    })
}
