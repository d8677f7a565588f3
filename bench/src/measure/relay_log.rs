//! What the outbox relay says it did, read from the stack's log: each run
//! logs one line (`relay run ... requeued=N sent=N ...`).

use std::path::PathBuf;

/// The stack's log file.
pub struct RelayLog(pub Option<PathBuf>);

impl RelayLog {
    /// The sum of `field` over every relay run logged so far.
    pub fn total(&self, field: &str) -> u64 {
        let Some(text) = self
            .0
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return 0;
        };
        total(&text, field)
    }
}

fn total(log: &str, field: &str) -> u64 {
    let marker = format!(" {field}=");
    log.lines()
        .filter(|line| line.contains("outbox-relay") && line.contains("relay run"))
        .filter_map(|line| line.split(marker.as_str()).nth(1))
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_field_over_the_relay_runs() {
        let log = "   outbox-relay | 21:23:53.5 INFO  relay run confirmed=0 requeued=3 sent=0 unsent=268\n\
                   broker-dispatch | 21:23:53.6 INFO  event delivered sent=9\n\
                   outbox-relay | 21:24:09.3 INFO  relay run confirmed=123 requeued=0 sent=30 unsent=660\n";
        assert_eq!(total(log, "requeued"), 3);
        assert_eq!(total(log, "sent"), 30);
        assert_eq!(total(log, "unsent"), 928);
    }
}
