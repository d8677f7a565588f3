//! What a person sees: every acknowledged change in its task's history
//! (`GET /api/tasks/{id}/history`, every page), newest first, one entry per
//! change. Read as the admin, who reads every user's tasks.

use std::collections::BTreeMap;

use futures::StreamExt;
use local_stack::tokens::Tokens;
use serde_json::Value;
use task_events::TaskEventType;

use super::load::Change;

/// Tasks whose histories are read side by side.
const READERS: usize = 8;

/// How the histories read compare with the acknowledged changes.
#[derive(Debug, Default, Clone, Copy)]
pub struct HistoryCheck {
    pub tasks: usize,
    /// Acknowledged changes not in their task's history.
    pub missing: usize,
    /// Histories not strictly newest first (a change listed twice, or out
    /// of order).
    pub out_of_order: usize,
    /// Histories that could not be read.
    pub unreadable: usize,
}

impl HistoryCheck {
    pub fn holds(&self) -> bool {
        self.tasks > 0 && self.missing == 0 && self.out_of_order == 0 && self.unreadable == 0
    }
}

/// Reads the histories of the tasks `changes` touched (of `sample` of them
/// at random, when given).
pub async fn check(
    client: &reqwest::Client,
    tokens: &Tokens,
    gateway: &str,
    changes: &[Change],
    sample: Option<usize>,
) -> HistoryCheck {
    let mut by_task: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    for change in changes {
        by_task.entry(change.task).or_default().push(*change);
    }
    let mut tasks: Vec<_> = by_task.into_iter().collect();
    if let Some(sample) = sample {
        fastrand::shuffle(&mut tasks);
        tasks.truncate(sample);
    }
    let mut result = HistoryCheck {
        tasks: tasks.len(),
        ..HistoryCheck::default()
    };
    let mut reads = futures::stream::iter(tasks)
        .map(|(task, changes)| async move { (read(client, tokens, gateway, task).await, changes) })
        .buffer_unordered(READERS);
    while let Some((entries, changes)) = reads.next().await {
        let Some(entries) = entries else {
            result.unreadable += 1;
            continue;
        };
        if entries.windows(2).any(|pair| pair[0].1 <= pair[1].1) {
            result.out_of_order += 1;
        }
        result.missing += changes
            .iter()
            .filter(|change| !entries.iter().any(|entry| shows(entry, change)))
            .count();
    }
    result
}

/// Whether a history entry (event type, sequence) is this change.
fn shows(entry: &(String, i32), change: &Change) -> bool {
    let deleted = TaskEventType::Deleted.as_str();
    match change.kind {
        // A deletion's answer carries no version; its type says it all.
        TaskEventType::Deleted => entry.0 == deleted,
        // An update that changed nothing keeps the version and makes no
        // event: the entry at its version is the change that made it.
        _ => entry.0 != deleted && entry.1 == change.version,
    }
}

/// Every entry of a task's history, as (event type, sequence), following
/// `Link: rel="next"`; None when a page does not answer 200.
async fn read(
    client: &reqwest::Client,
    tokens: &Tokens,
    gateway: &str,
    task: i64,
) -> Option<Vec<(String, i32)>> {
    let mut entries = Vec::new();
    let mut next = Some(format!("/api/tasks/{task}/history?limit=50"));
    while let Some(path) = next {
        let token = tokens.of("carol").await.ok()?;
        let response = client
            .get(format!("{gateway}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        next = response
            .headers()
            .get("link")
            .and_then(|link| link.to_str().ok())
            .and_then(|link| link.strip_prefix('<'))
            .and_then(|link| link.split_once('>'))
            .map(|(path, _)| path.to_string());
        let page: Vec<Value> = response.json().await.ok()?;
        entries.extend(page.iter().map(|entry| {
            (
                entry["event_type"].as_str().unwrap_or_default().to_string(),
                entry["sequence"].as_i64().unwrap_or(-1) as i32,
            )
        }));
    }
    Some(entries)
}
