//! bench/results.md, from the figures in bench/results.json.

use std::fmt::Write;

use crate::measure::scale::{SAMPLES, SPREAD_USER_TASKS, ScaleRow};
use crate::results::{EventPath, Results};

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

pub fn markdown(results: &Results) -> String {
    let mut md = String::new();
    let machine = &results.machine;
    let _ = writeln!(md, "# Benchmark results\n");
    let _ = writeln!(
        md,
        "Measured by `task bench` on {} cores ({}), commit `{}`, {}. Every figure is the median of repeated runs, with the lowest and highest run in brackets. Everything runs on the same machine: the load tool, PostgreSQL, the Kafka broker and the functions share its cores.\n",
        machine.cores, machine.cpu, machine.commit, machine.date
    );

    // Targets.
    let cold = &results.cold_start_ms;
    let worst_cold = cold.values().map(|s| s.median).fold(0.0, f64::max);
    let memory = &results.memory;
    let worst_idle = memory
        .values()
        .map(|m| m.idle_mib.median)
        .fold(0.0, f64::max);
    let worst_loaded = memory
        .values()
        .map(|m| m.after_load_mib.median)
        .fold(0.0, f64::max);
    let pipeline_p99 = results.event_pipeline.p99_ms.median;
    let wasm_gzip_kib = results.web.wasm_gzip_bytes as f64 / 1024.0;
    let _ = writeln!(md, "## Targets\n\n| target | figure | |\n|---|---|---|");
    let mut target = |what: &str, figure: String, met: bool| {
        let _ = writeln!(md, "| {what} | {figure} | {} |", verdict(met));
    };
    target(
        "cold start < 20 ms (median, slowest function)",
        format!("{worst_cold:.1} ms"),
        worst_cold < 20.0,
    );
    target(
        "idle memory < 10 MiB (largest function)",
        format!("{worst_idle:.1} MiB"),
        worst_idle < 10.0,
    );
    target(
        "memory after 10,000 requests < 20 MiB (largest)",
        format!("{worst_loaded:.1} MiB"),
        worst_loaded < 20.0,
    );
    for row in results
        .throughput
        .iter()
        .filter(|row| row.connections == 32)
    {
        target(
            &format!(
                "{} via {} at 32 connections ≥ 0.5 of pgbench",
                row.route, row.target
            ),
            format!("{:.2}", row.ratio),
            row.ratio >= 0.5,
        );
    }
    target(
        "event pipeline p99 < 100 ms at 200 writes/s",
        format!("{pipeline_p99:.1} ms"),
        pipeline_p99 < 100.0,
    );
    target(
        "web app wasm < 400 KiB gzip",
        format!("{wasm_gzip_kib:.1} KiB"),
        wasm_gzip_kib < 400.0,
    );
    let _ = writeln!(md);

    let _ = writeln!(
        md,
        "## Cold start\n\nProcess start to the first 200 on `/health` (the database pool connected), {} starts per function.\n\n| function | ms |\n|---|---|",
        // `null` as the untyped report wrote it for no functions at all.
        cold.values()
            .next()
            .map_or_else(|| "null".to_string(), |s| s.runs.to_string())
    );
    for (function, summary) in cold {
        let _ = writeln!(md, "| {function} | {} |", summary.show(1));
    }

    let _ = writeln!(
        md,
        "\n## Memory and size\n\nResident set size idle and after 10,000 requests of the function's own kind (8 at a time), in a new process each run; the stripped release binary; the image `task images` built (if it ran).\n\n| function | idle MiB | after load MiB | binary MiB | image |\n|---|---|---|---|---|"
    );
    for (function, m) in memory {
        let _ = writeln!(
            md,
            "| {function} | {} | {} | {:.1} | {} |",
            m.idle_mib.show(1),
            m.after_load_mib.show(1),
            results
                .binary_bytes
                .get(function)
                .map_or(f64::NAN, |&bytes| bytes as f64)
                / 1_048_576.0,
            results
                .image_sizes
                .get(&format!("{function}:dev"))
                .map_or("–", String::as_str)
        );
    }

    // CPU per request: present from the run that first measured it on.
    let with_cpu = results
        .throughput
        .iter()
        .any(|row| row.cpu_ms_per_request.is_some());
    let _ = writeln!(
        md,
        "\n## Throughput and latency\n\n`wrk` against the function's own port and through the nginx gateway; the limit is `pgbench` running the function's SQL statements (bench/scripts/*.sql) against the same database at the same concurrency.{}\n\n| route | via | connections | requests/s | p50 ms | p99 ms | pgbench tps | ratio |{}\n|---|---|---|---|---|---|---|---|{}",
        if with_cpu {
            " CPU per request: the CPU time every process of the stack spent (functions, gateway, PostgreSQL, the broker's halves, the Kafka broker; not the load tool), divided by the requests served; for a write it runs until every event of the load is in the audit log, so it is the cost of one acknowledged and audited write."
        } else {
            ""
        },
        if with_cpu {
            " CPU ms per request |"
        } else {
            ""
        },
        if with_cpu { "---|" } else { "" }
    );
    for row in &results.throughput {
        let cpu = row
            .cpu_ms_per_request
            .map_or(String::new(), |ms| format!(" {ms:.3} |"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} |{cpu}",
            row.route,
            row.target,
            row.connections,
            row.requests_per_second.show(0),
            row.p50_ms.show(2),
            row.p99_ms.show(2),
            row.limit_tps.show(0),
            row.ratio
        );
    }

    let _ = writeln!(
        md,
        "\n### Where the CPU went at 32 connections\n\nEach process's share of all the CPU time spent during the runs above (from `/proc/<pid>/stat`); `wrk` is the load tool. The pgbench limit had the cores to itself and PostgreSQL alone.\n\n| route | via | CPU share |\n|---|---|---|"
    );
    for row in results
        .throughput
        .iter()
        .filter(|row| row.connections == 32)
    {
        let cpu: Vec<String> = row
            .cpu_share
            .iter()
            .map(|p| format!("{} {:.0}%", p.process, p.share * 100.0))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            row.route,
            row.target,
            cpu.join(", ")
        );
    }

    let pipeline = &results.event_pipeline;
    let _ = writeln!(
        md,
        "\n## Event pipeline\n\nFrom a `POST /api/tasks` response (through the gateway) to its `task.created` row in `task_audit_log`, through the broker ingress, the Kafka topic, the dispatcher and the audit function, at a steady {} writes/s for 10 s.\n\n| p50 ms | p99 ms |\n|---|---|\n| {} | {} |\n",
        pipeline.writes_per_second,
        pipeline.p50_ms.show(1),
        pipeline.p99_ms.show(1)
    );
    let _ = writeln!(
        md,
        "Audit ingest (new CloudEvents posted straight to the audit function, 8 connections): {} events/s; pgbench's single-row insert into `task_audit_log`: {} tps; ratio {:.2}.\n",
        pipeline.audit_ingest_per_second.show(0),
        pipeline.pgbench_insert_tps.show(0),
        pipeline.audit_ingest_ratio
    );

    // Present from the run that first measured it on.
    if let Some(outbox) = &results.outbox_under_load {
        let samples: Vec<String> = outbox
            .samples
            .iter()
            .map(|(second, rows)| format!("{second} s: {rows}"))
            .collect();
        let _ = writeln!(
            md,
            "## Outbox size under steady load

{} creates/s for {} s, the relay pruning rows audited more than {} s ago (the bench stack's `OUTBOX_RETENTION_MS`; 7 days by default). Rows in `event_outbox` over time: {}; rows written meanwhile: {}.
",
            outbox.writes_per_second,
            outbox.seconds,
            outbox.retention_seconds,
            samples.join(", "),
            outbox.written
        );
    }

    if let Some(path) = &results.event_path {
        event_path_section(&mut md, path);
    }

    if let Some(live) = &results.live_streams {
        let _ = writeln!(
            md,
            "## Live updates\n\n{} streams (`GET /api/task-events`) held open through the gateway: task-stream's resident memory {:.1} MiB ({:.1} MiB with none open; goal under 32 MiB), nginx's {:.1} MiB. {} creates, each delivered to every stream: from the create's answer to a stream reading it, p50 {:.0} ms, p99 {:.0} ms; {} deliveries missed.\n",
            live.streams,
            live.task_stream_rss_mib,
            live.task_stream_idle_rss_mib,
            live.nginx_rss_mib,
            live.changes,
            live.delivery_p50_ms,
            live.delivery_p99_ms,
            live.missed
        );
    }

    if let Some(rows) = &results.scale {
        scale_section(&mut md, rows);
    }

    let web = &results.web;
    let _ = writeln!(
        md,
        "## Web app\n\n| wasm | wasm gzip | JS | JS gzip | first task list (headless Chromium) |\n|---|---|---|---|---|\n| {:.1} KiB | {:.1} KiB | {:.1} KiB | {:.1} KiB | {} ms |",
        web.wasm_bytes as f64 / 1024.0,
        web.wasm_gzip_bytes as f64 / 1024.0,
        web.js_bytes as f64 / 1024.0,
        web.js_gzip_bytes as f64 / 1024.0,
        web.first_task_list_ms.show(0)
    );
    md
}

/// The event path as the topic grows, the burst, and the broker killed.
fn event_path_section(md: &mut String, path: &EventPath) {
    let _ = writeln!(
        md,
        "## The event path as the topic grows\n\nThe broker: {}. With this many events already in the topic (events no Trigger takes, added before the runs): creates per second by the function, and the event pipeline at 200 creates/s{}. Goal: the rows within 20% of each other.\n\n| events in the topic | creates/s, 1 connection | creates/s, 32 connections | pipeline p50 ms | pipeline p99 ms |\n|---|---|---|---|---|",
        path.broker,
        match path.by_topic_size.first().and_then(|row| row.pipeline_runs) {
            Some(runs) => format!(" (the median of {runs} runs of 10 s)"),
            None => String::new(),
        }
    );
    for row in &path.by_topic_size {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1} | {:.1} |",
            row.events_in_topic,
            row.create_c1.show(0),
            row.create_c32.show(0),
            row.pipeline_p50_ms,
            row.pipeline_p99_ms
        );
    }
    let burst = &path.burst;
    let _ = writeln!(
        md,
        "\nAt the largest topic the broker (nisshi and its storage's database backends) took {:.0}% of the CPU of the creates at 32 connections until their events were audited, and nisshi's resident memory was {:.0} MiB. A burst of creates at {} connections for {} s ({} creates): the audit log held them all {:.1} s after the last; the write function left {} of them to the relay. The broker killed with SIGKILL and started again at once: the first event reached the audit log {:.0} ms after the kill.\n",
        path.kafka_cpu_share * 100.0,
        path.kafka_rss_mib,
        burst.connections,
        burst.seconds,
        burst.creates,
        burst.caught_up_s,
        burst.left_to_relay,
        path.kill_to_first_delivery_ms
    );
    if let Some(killed) = &path.killed_under_load {
        let _ = writeln!(
            md,
            "The broker killed the same way {} s into {} s of creates at 100 a second: {} creates acknowledged, {} with exactly one audit row, {} duplicated, {} lost. The relay sent {} events the functions could not hand to the broker while it was down, and sent again {} the broker had taken.\n",
            killed.seconds / 3,
            killed.seconds,
            killed.acknowledged,
            killed.audited_once,
            killed.duplicated,
            killed.lost,
            killed.left_to_relay,
            killed.resent_by_relay
        );
    }
}

/// The scale section: each route at the small and the large table side by
/// side, one table for each way the tasks were owned.
fn scale_section(md: &mut String, rows: &[ScaleRow]) {
    let Some((small, large)) = sizes(rows) else {
        return;
    };
    let owned = rows.iter().any(|r| r.owners.is_some());
    let _ = write!(
        md,
        "## Cost as the data grows\n\nEach route through the gateway, {} requests at each size, with the table at {small} and at {large} tasks (random words from a 50,000-word vocabulary; the rare word in 10 tasks, the common one in 1 of 10), and a task whose history holds 20,000 entries of 10,000-character descriptions. The sizes are measured side by side: a second stack holds the small table, and each route's requests alternate between the two stacks, so that a drift of this machine's speed falls on both sizes alike (measured minutes apart, the same search on the same table took 2.7 ms, then 4.2 ms).{} Targets: at the large size every route within 2x of its small-size median and under 20 ms.\n\n",
        SAMPLES,
        if owned {
            let spread = thousands(SPREAD_USER_TASKS);
            format!(
                " Every request is made as one user, who sees only its own tasks (the rare word is in 10 of them, and the long history is of one of them): first with every task that user's, then with the tasks spread over many users in runs of ten, the user's runs far apart: {spread} of the small table's tasks, and {spread} more of the large one's, so that both sizes search the same number of the user's newest tasks."
            )
        } else {
            String::new()
        }
    );
    let mut layouts: Vec<Option<i64>> = Vec::new();
    for row in rows {
        if !layouts.contains(&row.owners) {
            layouts.push(row.owners);
        }
    }
    for owners in layouts {
        let rows: Vec<&ScaleRow> = rows.iter().filter(|r| r.owners == owners).collect();
        let Some((small, large)) = sizes(rows.iter().copied()) else {
            continue;
        };
        if let Some(owners) = owners {
            let user_tasks = |tasks: i64| {
                rows.iter()
                    .find(|r| r.tasks == tasks)
                    .and_then(|r| r.user_tasks)
                    .map_or_else(|| "–".to_string(), |n| n.to_string())
            };
            let _ = writeln!(
                md,
                "### {}: the user's {} of {small} and {} of {large}\n",
                if owners == 1 {
                    "Every task one user's".to_string()
                } else {
                    format!("Spread over {owners} users")
                },
                user_tasks(small),
                user_tasks(large)
            );
        }
        scale_table(md, &rows, small, large);
        let _ = writeln!(md);
    }
}

/// `n` with its thousands grouped, as the report's prose writes numbers.
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// The smallest and the largest table of `rows`.
fn sizes<'a>(rows: impl IntoIterator<Item = &'a ScaleRow>) -> Option<(i64, i64)> {
    let sizes: Vec<i64> = rows.into_iter().map(|r| r.tasks).collect();
    Some((*sizes.iter().min()?, *sizes.iter().max()?))
}

/// One scale table: each route of `rows` at the `small` and the `large` table.
fn scale_table(md: &mut String, rows: &[&ScaleRow], small: i64, large: i64) {
    let _ = writeln!(
        md,
        "| route | median ms at {small} | p99 ms | median ms at {large} | p99 ms | ratio | largest response | |\n|---|---|---|---|---|---|---|---|"
    );
    for row in rows.iter().filter(|r| r.tasks == small) {
        let route = &row.route;
        let Some(big) = rows.iter().find(|r| r.tasks == large && r.route == *route) else {
            continue;
        };
        let (a, b) = (row.median_ms, big.median_ms);
        let ratio = b / a;
        let met = b < 20.0 && ratio <= 2.0;
        let _ = writeln!(
            md,
            "| `{route}` | {a:.2} | {:.2} | {b:.2} | {:.2} | {ratio:.2} | {} KB | {} |",
            row.p99_ms,
            big.p99_ms,
            (big.response_bytes as f64 / 1000.0).round(),
            verdict(met)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_report_is_rendered_from_the_committed_figures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read_to_string(dir.join("results.json")).unwrap();
        let md = std::fs::read_to_string(dir.join("results.md")).unwrap();
        assert_eq!(markdown(&serde_json::from_str(&json).unwrap()), md);
    }
}
