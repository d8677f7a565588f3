//! Load with `wrk` against the functions and the gateway, and the limit:
//! the same SQL statements run by `pgbench` against the same database.

use std::path::Path;
use std::process::Command;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct WrkRun {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
}

/// `wrk --latency` for `seconds` with `connections`, optionally with a Lua
/// script, sending `headers` (name, value) with every request (a script's
/// own requests too, when it builds them from `wrk.headers`).
pub fn wrk(
    url: &str,
    connections: u32,
    seconds: u32,
    script: Option<&Path>,
    headers: &[(&str, &str)],
) -> anyhow::Result<WrkRun> {
    let threads = connections.clamp(1, 2);
    let mut command = Command::new("wrk");
    command
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
        ])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s"]);
    for (name, value) in headers {
        // wrk takes a header only as `Name: value`, with the space.
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_wrk(&text).ok_or_else(|| anyhow::anyhow!("cannot read wrk's output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<WrkRun> {
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .map(str::trim)
    };
    let requests_per_second = field("Requests/sec:")?.parse().ok()?;
    let non_2xx = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(WrkRun {
        requests_per_second,
        p50_ms: duration_ms(field("50%")?)?,
        p99_ms: duration_ms(field("99%")?)?,
        non_2xx,
    })
}

/// `1.23ms`, `456.00us`, `1.02s` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("m") {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// What one pgbench run measured.
#[derive(Debug, Clone, Copy)]
pub struct PgbenchRun {
    pub transactions_per_second: f64,
    pub latency_ms: f64,
}

/// `pgbench` with `script` (prepared statements) for `seconds` with
/// `clients`, the script's `variables` (name, value) set (`-D`).
pub fn pgbench(
    pg_bin: &Path,
    url: &str,
    script: &Path,
    clients: u32,
    seconds: u32,
    variables: &[(&str, &str)],
) -> anyhow::Result<PgbenchRun> {
    let mut command = Command::new(pg_bin.join("pgbench"));
    for (name, value) in variables {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    let output = command
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.clamp(1, 2).to_string(),
        ])
        .args(["-T", &seconds.to_string(), "-f"])
        .arg(script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Ok(PgbenchRun {
        transactions_per_second: field("tps = ")
            .ok_or_else(|| anyhow::anyhow!("no tps in: {text}"))?,
        latency_ms: field("latency average = ").unwrap_or(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 8 connections\n  Latency Distribution\n     50%  612.00us\n     75%    1.02ms\n     90%    2.00ms\n     99%    5.31ms\n  12000 requests in 5.00s, 3.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:   2400.50\nTransfer/sec:    614.40KB\n";
        let run = parse_wrk(text).unwrap();
        assert_eq!(run.requests_per_second, 2400.5);
        assert_eq!(run.p50_ms, 0.612);
        assert_eq!(run.p99_ms, 5.31);
        assert_eq!(run.non_2xx, 3);
        assert_eq!(duration_ms("1.50s"), Some(1500.0));
    }
}
