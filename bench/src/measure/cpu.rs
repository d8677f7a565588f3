//! Where the CPU went during a measurement: the CPU time of every process on
//! the machine, before and after, grouped by what the process is. On a small
//! machine the load tool, the functions, PostgreSQL and the broker share the
//! cores, so a ratio to pgbench only makes sense beside this.

use std::collections::BTreeMap;

/// CPU time of every process, by pid, and of this process's waited children
/// (the load tools it ran, which are gone before the second snapshot).
#[derive(Debug, Clone)]
pub struct CpuSnapshot {
    processes: BTreeMap<u32, (String, f64)>,
    children_seconds: f64,
}

/// The name the profile files a process under.
fn process_name(cmdline: &[String], comm: &str) -> String {
    let Some(program) = cmdline.first() else {
        return comm.to_string();
    };
    if comm.starts_with("postgres") || program.starts_with("postgres") {
        // A backend's title names its user and database: the Kafka broker's
        // storage is its own (user and database `kafka`), part of Kafka's cost.
        if program.starts_with("postgres: kafka kafka ") {
            return "nisshi storage".into();
        }
        return "postgres".into();
    }
    let base = program.rsplit('/').next().unwrap_or(program);
    if base == "broker" {
        // The local Knative broker runs as two processes: tell them apart.
        if let Some(role) = cmdline
            .iter()
            .find(|a| *a == "receiver" || *a == "dispatcher")
        {
            return format!("broker {role}");
        }
    }
    base.to_string()
}

/// (utime + stime) in seconds from a `/proc/<pid>/stat` line, and the comm.
fn parse_stat(stat: &str, ticks_per_second: f64) -> Option<(String, f64, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    // Fields after the comm, numbered from 3 (state) in proc(5).
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    let own = (field(14)? + field(15)?) / ticks_per_second;
    let children = (field(16)? + field(17)?) / ticks_per_second;
    Some((comm, own, children))
}

// Linux's USER_HZ, fixed at 100 on every architecture Debian builds for.
const TICKS_PER_SECOND: f64 = 100.0;

impl CpuSnapshot {
    pub fn take() -> std::io::Result<Self> {
        let mut processes = BTreeMap::new();
        for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let path = entry.path();
            let (Ok(stat), Ok(cmdline)) = (
                std::fs::read_to_string(path.join("stat")),
                std::fs::read(path.join("cmdline")),
            ) else {
                continue;
            };
            let Some((comm, seconds, _)) = parse_stat(&stat, TICKS_PER_SECOND) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            processes.insert(pid, (process_name(&args, &comm), seconds));
        }
        let own = std::fs::read_to_string("/proc/self/stat")?;
        let children_seconds = parse_stat(&own, TICKS_PER_SECOND)
            .map(|(_, _, children)| children)
            .unwrap_or(0.0);
        Ok(Self {
            processes,
            children_seconds,
        })
    }

    /// CPU seconds spent between `self` and `later`, by process name; the load
    /// tool this process ran counts as `load_tool`.
    pub fn spent_until(&self, later: &Self, load_tool: &str) -> BTreeMap<String, f64> {
        let mut spent = BTreeMap::new();
        for (pid, (name, seconds)) in &later.processes {
            let before = self.processes.get(pid).map_or(0.0, |(_, s)| *s);
            let delta = seconds - before;
            if delta > 0.0 {
                *spent.entry(name.clone()).or_insert(0.0) += delta;
            }
        }
        let tool = later.children_seconds - self.children_seconds;
        if tool > 0.0 {
            *spent.entry(load_tool.to_string()).or_insert(0.0) += tool;
        }
        spent
    }
}

/// Each process's share of the CPU time spent, the largest first, with
/// everything under 1% summed into `other`.
pub fn shares(spent: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let total: f64 = spent.values().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut shares: Vec<(String, f64)> = spent
        .iter()
        .map(|(name, s)| (name.clone(), s / total))
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    let other: f64 = shares
        .iter()
        .filter(|(_, s)| *s < 0.01)
        .map(|(_, s)| s)
        .sum();
    shares.retain(|(_, s)| *s >= 0.01);
    if other > 0.0 {
        shares.push(("other".into(), other));
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn names_say_what_the_process_is() {
        assert_eq!(
            process_name(&args("target/release/create-task"), "create-task"),
            "create-task"
        );
        assert_eq!(
            process_name(
                &args("postgres: postgres tasks 127.0.0.1(4) idle"),
                "postgres"
            ),
            "postgres"
        );
        assert_eq!(
            process_name(
                &args("target/release/broker --listen x dispatcher --service a=b"),
                "broker"
            ),
            "broker dispatcher"
        );
        assert_eq!(
            process_name(
                &args("/r/target/release/broker --listen x receiver"),
                "broker"
            ),
            "broker receiver"
        );
        // A backend's title is one string, spaces and all.
        assert_eq!(
            process_name(
                &["postgres: kafka kafka 127.0.0.1(5) idle".to_string()],
                "postgres"
            ),
            "nisshi storage"
        );
        assert_eq!(process_name(&[], "kworker/0:1"), "kworker/0:1");
    }

    #[test]
    fn stat_lines_with_spaces_in_the_name_parse() {
        let stat =
            "42 (tokio-runtime w) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 4 0 1 0 0";
        let (comm, own, children) = parse_stat(stat, 100.0).unwrap();
        assert_eq!(comm, "tokio-runtime w");
        assert!((own - 3.0).abs() < 1e-9);
        assert!((children - 0.1).abs() < 1e-9);
    }

    #[test]
    fn small_shares_are_summed_into_other() {
        let spent = BTreeMap::from([
            ("postgres".to_string(), 60.0),
            ("create-task".to_string(), 39.5),
            ("kworker".to_string(), 0.3),
            ("nginx".to_string(), 0.2),
        ]);
        let shares = shares(&spent);
        assert_eq!(shares[0], ("postgres".to_string(), 0.6));
        assert_eq!(shares[1].0, "create-task");
        assert_eq!(shares[2].0, "other");
        assert!((shares[2].1 - 0.005).abs() < 1e-9);
    }
}
