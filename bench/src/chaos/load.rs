//! The load of a chaos run: clients making random creates, updates and
//! deletes through the gateway, each acknowledged change recorded with the
//! fault it happened under and who made it. The clients are signed in as the
//! demo accounts in turn: alice and bob change their own tasks, carol (an
//! admin) anyone's.

use std::collections::BTreeMap;

use local_stack::tokens::Tokens;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use task_core::task::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS};
use task_events::TaskEventType;

/// Who the clients are signed in as, in turn.
pub const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// The one of them that may change anyone's tasks.
const ADMIN: &str = "carol";

/// A change a client was told succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Who made it (a demo account's username).
    pub actor: &'static str,
    pub task: i64,
    pub kind: TaskEventType,
    /// The version it left the task at (0 for a deletion, whose answer has no body).
    pub version: i32,
    /// The fault under way when it was acknowledged (an index into the run's faults).
    pub phase: usize,
}

/// What every client saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub acknowledged: Vec<Change>,
    pub statuses: BTreeMap<u16, u64>,
    pub no_response: u64,
    /// Changes not tried: no token could be had.
    pub no_token: u64,
    /// Acknowledged changes of the largest valid size.
    pub largest: u64,
}

/// What the clients share with the run that steers them.
#[derive(Debug, Default)]
pub struct Load {
    pub tally: Mutex<Tally>,
    /// Each user's tasks that exist.
    live: Mutex<BTreeMap<&'static str, Vec<i64>>>,
    /// The fault under way.
    pub phase: AtomicUsize,
    /// While set, every create and update carries the largest valid title and description.
    pub largest: AtomicBool,
    pub stop: AtomicBool,
}

impl Load {
    /// Runs `clients` clients until [`Load::stop`] is set, each signed in
    /// as one of [`USERS`] in turn.
    pub fn start(
        self: &Arc<Self>,
        clients: usize,
        gateway: &str,
        think: Duration,
        tokens: &Tokens,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        (0..clients)
            .map(|n| {
                let (load, client, gateway, tokens) = (
                    self.clone(),
                    client.clone(),
                    gateway.to_string(),
                    tokens.clone(),
                );
                let user = USERS[n % USERS.len()];
                tokio::spawn(async move {
                    while !load.stop.load(Ordering::SeqCst) {
                        match tokens.of(user).await {
                            Ok(token) => load.one_change(&client, &gateway, user, &token).await,
                            Err(_) => load.tally.lock().expect("the tally lock").no_token += 1,
                        }
                        tokio::time::sleep(think).await;
                    }
                })
            })
            .collect()
    }

    pub fn tally(&self) -> Tally {
        self.tally.lock().expect("the tally lock").clone()
    }

    /// One random change through the gateway as `user`, recorded in the tally.
    async fn one_change(
        &self,
        client: &reqwest::Client,
        gateway: &str,
        user: &'static str,
        token: &str,
    ) {
        let pick = fastrand::u8(0..100);
        let target = {
            let mut by_owner = self.live.lock().expect("the live lock");
            // Its own tasks; an admin's, anyone's.
            let owners: Vec<&'static str> = by_owner
                .iter()
                .filter(|(owner, tasks)| (user == ADMIN || **owner == user) && !tasks.is_empty())
                .map(|(owner, _)| *owner)
                .collect();
            if owners.is_empty() || pick < 45 {
                None
            } else {
                let live = by_owner
                    .get_mut(owners[fastrand::usize(0..owners.len())])
                    .expect("a listed owner");
                if pick < 80 {
                    Some((live[fastrand::usize(0..live.len())], TaskEventType::Updated))
                } else {
                    let index = fastrand::usize(0..live.len());
                    Some((live.swap_remove(index), TaskEventType::Deleted))
                }
            }
        };
        let largest = self.largest.load(Ordering::SeqCst);
        let (title, description) = if largest {
            largest_text()
        } else {
            (format!("chaos {}", fastrand::u64(..)), None)
        };
        let request = match target {
            None => client
                .post(format!("{gateway}/api/tasks"))
                .json(&json!({"title": title, "description": description})),
            Some((id, TaskEventType::Updated)) => {
                let status = ["pending", "in_progress", "complete"][fastrand::usize(0..3)];
                client
                    .put(format!("{gateway}/api/tasks/{id}"))
                    .json(&json!({"title": title, "description": description, "status": status}))
            }
            Some((id, _)) => client.delete(format!("{gateway}/api/tasks/{id}")),
        }
        .bearer_auth(token);
        let phase = self.phase.load(Ordering::SeqCst);
        let Ok(response) = request.send().await else {
            self.tally.lock().expect("the tally lock").no_response += 1;
            return;
        };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let mut tally = self.tally.lock().expect("the tally lock");
        *tally.statuses.entry(status).or_default() += 1;
        if !(200..300).contains(&status) {
            return;
        }
        let version = body["version"].as_i64().unwrap_or(0) as i32;
        let change = match target {
            None => {
                let Some(id) = body["id"].as_i64() else {
                    return;
                };
                self.live
                    .lock()
                    .expect("the live lock")
                    .entry(user)
                    .or_default()
                    .push(id);
                Change {
                    actor: user,
                    task: id,
                    kind: TaskEventType::Created,
                    version,
                    phase,
                }
            }
            Some((id, kind @ TaskEventType::Updated)) => Change {
                actor: user,
                task: id,
                kind,
                version,
                phase,
            },
            Some((id, kind)) => Change {
                actor: user,
                task: id,
                kind,
                version: 0,
                phase,
            },
        };
        if largest && change.kind != TaskEventType::Deleted {
            tally.largest += 1;
        }
        tally.acknowledged.push(change);
    }
}

/// The largest title and description the API takes, of characters JSON
/// escapes to six bytes (U+0001 to U+0008: not whitespace, so not trimmed)
/// or carries as four (an emoji), at random. The title starts with three
/// characters no other call gives: an update that changed nothing would
/// keep the task's version and emit nothing, and so be counted against the
/// audit row of whoever made that version.
fn largest_text() -> (String, Option<String>) {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let alphabet = |d: usize| {
        match d {
            0..8 => char::from_u32(1 + d as u32),
            _ => char::from_u32(0x1F600 + (d as u32 - 8)),
        }
        .unwrap_or('\u{1}')
    };
    let c = alphabet(fastrand::usize(0..ALPHABET));
    let mut n = CALLS.fetch_add(1, Ordering::Relaxed);
    let mut title: String = (0..3)
        .map(|_| {
            let digit = n % ALPHABET;
            n /= ALPHABET;
            alphabet(digit)
        })
        .collect();
    title.extend(std::iter::repeat_n(c, TITLE_MAX_CHARS - 3));
    (title, Some(c.to_string().repeat(DESCRIPTION_MAX_CHARS)))
}

/// U+0001 to U+0008, and the emoji U+1F600 to U+1F64E.
const ALPHABET: usize = 8 + 79;
