//! What a chaos run prints at its end, and whether it passed: per fault, and
//! for the whole run.

use std::collections::BTreeMap;

use super::load::Tally;
use super::verdict::AuditView;
use super::{End, Phase, say};
use task_events::outbox::ledger::OutboxStatus;

/// Each demo account's `sub`, by username.
pub(super) type Subs = BTreeMap<String, String>;

fn sub_of(subs: &Subs) -> impl Fn(&str) -> Option<String> + '_ {
    |username| subs.get(username).cloned()
}

/// The table of faults: what was acknowledged under each, lost, duplicated,
/// recorded under another actor, and how long it took to converge. True
/// when every fault passed.
pub(super) fn per_fault(phases: &[Phase], tally: &Tally, audit: &AuditView, subs: &Subs) -> bool {
    println!();
    say("results per fault (changes acknowledged while it was under way)");
    println!(
        "  {:<58} {:>7} {:>5} {:>10} {:>11} {:>8} {:>10}",
        "fault", "changes", "lost", "duplicated", "wrong actor", "re-sent", "converged"
    );
    let mut passed = true;
    for (index, phase) in phases.iter().enumerate() {
        let changes: Vec<_> = tally
            .acknowledged
            .iter()
            .filter(|c| c.phase == index)
            .collect();
        let (lost, duplicated, misattributed) = (
            audit.lost(changes.iter().copied()),
            audit.duplicated(changes.iter().copied()),
            audit.misattributed(changes.iter().copied(), sub_of(subs)),
        );
        let converged = phase
            .converged
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .unwrap_or_else(|| "NO".into());
        println!(
            "  {:<58} {:>7} {lost:>5} {duplicated:>10} {misattributed:>11} {:>8} {converged:>10}",
            phase.name,
            changes.len(),
            phase.requeued
        );
        passed &= lost == 0 && duplicated == 0 && misattributed == 0 && phase.converged.is_some();
        if let Some((answered, sent)) = phase.injected.replayed {
            passed &= answered == sent && sent > 0;
        }
    }
    passed
}

/// The figures of the whole run. True when they all hold.
pub(super) fn whole_run(
    phases: &[Phase],
    tally: &Tally,
    audit: &AuditView,
    poison: Vec<i64>,
    end: &End,
    subs: &Subs,
) -> bool {
    let End {
        settled,
        outbox,
        parked,
        restarted,
        unhealthy,
        history,
    } = end;
    let unexpected: u64 = tally
        .statuses
        .iter()
        .filter(|(status, _)| !(**status < 300 || (400..500).contains(*status) || **status == 503))
        .map(|(_, n)| n)
        .sum();
    let mut poison_sorted = poison;
    poison_sorted.sort_unstable();
    let replayed: usize = phases
        .iter()
        .filter_map(|p| p.injected.replayed)
        .map(|r| r.1)
        .sum();
    println!();
    say("results of the whole run");
    println!(
        "  changes acknowledged to clients   {}",
        tally.acknowledged.len()
    );
    println!("  of them, of the largest size      {}", tally.largest);
    println!("  audit rows                        {}", audit.total);
    println!(
        "  lost (acknowledged, no row)       {}",
        audit.lost(&tally.acknowledged)
    );
    println!(
        "  duplicated (one change, two rows) {}",
        audit.duplicated_rows()
    );
    println!("  gaps in a task's recorded life    {}", audit.gaps());
    let misattributed = audit.misattributed(&tally.acknowledged, sub_of(subs));
    let by_user: Vec<String> = super::load::USERS
        .iter()
        .map(|user| {
            let made = tally
                .acknowledged
                .iter()
                .filter(|c| c.actor == *user)
                .count();
            format!("{user} {made}")
        })
        .collect();
    println!("  changes by user                   {}", by_user.join(", "));
    println!("  recorded under another actor      {misattributed}");
    println!(
        "  events delivered more than once   {} ({} extra deliveries, absorbed)",
        audit.redelivered_events, audit.extra_deliveries
    );
    println!("  responses by status               {:?}", tally.statuses);
    println!("  requests without a response       {}", tally.no_response);
    println!("  changes not tried (no token)      {}", tally.no_token);
    println!("  unexpected statuses               {unexpected}");
    println!("  outbox at the end                 {}", describe(outbox));
    println!("  parked rows / poison rows         {parked:?} / {poison_sorted:?}");
    println!(
        "  settled after the load            {}",
        settled
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .unwrap_or_else(|| "NO".into())
    );
    println!("  restarted after a crash           {restarted:?}");
    println!("  unhealthy at the end              {unhealthy:?}");
    println!(
        "  histories read / changes missing  {} / {} ({} out of order, {} unreadable)",
        history.tasks, history.missing, history.out_of_order, history.unreadable
    );
    audit.lost(&tally.acknowledged) == 0
        && misattributed == 0
        && tally.no_token == 0
        && audit.duplicated_rows() == 0
        && audit.gaps() == 0
        // The replays reached the audit function again: the counter can count.
        && audit.redelivered_events as usize >= replayed
        && unexpected == 0
        && settled.is_some()
        && outbox.unsent == 0
        && outbox.unaudited == 0
        && *parked == poison_sorted
        && restarted.is_empty()
        && unhealthy.is_empty()
        && history.holds()
        && tally.largest > 0
        && !tally.acknowledged.is_empty()
}

fn describe(outbox: &OutboxStatus) -> String {
    format!(
        "{} unsent, {} unaudited, {} parked",
        outbox.unsent, outbox.unaudited, outbox.parked
    )
}
