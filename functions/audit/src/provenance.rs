//! Where a delivered event comes from, checked against the database: the
//! audit log never takes an actor from the wire for the app's own events.
//!
//! An event whose `source` is one of the functions' (`/functions/...`) must
//! match the outbox row its change wrote (same id, type, task and data, same
//! `authid`): it is then recorded as verified, with the actor and owner that
//! row fixed at commit. One that does not is suspect: kept in
//! `suspect_events` for an operator, never recorded as a change. An event
//! from any other source (a tester's, posted by hand) is recorded as
//! unverified, under the owner of the task it names (the database's, not
//! the event's), so only that owner (and an admin) sees it in the history.

use serde_json::Value;
use sqlx::PgPool;
use task_events::cloudevent::FUNCTIONS_SOURCE_PREFIX;

/// What to do with one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Record it, with this actor and owner.
    Record {
        actor: Option<String>,
        owner: Option<String>,
        verified: bool,
    },
    /// Park it as suspect, for this reason.
    Suspect(String),
}

/// A delivery, as far as the check needs it.
#[derive(Debug, Clone)]
pub struct Claimed<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub event_type: &'a str,
    pub task_id: i64,
    /// The event's data as it arrived.
    pub data: &'a Value,
    /// Its `authid` (the actor it claims), if any.
    pub authid: Option<&'a str>,
}

/// One verdict per delivery, in order, from one query.
pub async fn check(pool: &PgPool, claims: &[Claimed<'_>]) -> Result<Vec<Verdict>, sqlx::Error> {
    let sources: Vec<&str> = claims.iter().map(|c| c.source).collect();
    let ids: Vec<&str> = claims.iter().map(|c| c.id).collect();
    let types: Vec<&str> = claims.iter().map(|c| c.event_type).collect();
    let task_ids: Vec<i64> = claims.iter().map(|c| c.task_id).collect();
    let data: Vec<&Value> = claims.iter().map(|c| c.data).collect();
    // The id is compared as a UUID (the outbox's key) only where it is one.
    let rows = sqlx::query!(
        r#"
        SELECT r.position AS "position!",
               EXISTS (SELECT 1 FROM task_audit_log a
                       WHERE a.event_source = r.source AND a.event_id = r.id) AS "recorded!",
               o.event_id IS NOT NULL AS "in_outbox!",
               coalesce(o.event ->> 'type' = r.type
                        AND o.event ->> 'subject' = r.task_id::text
                        AND o.event -> 'data' = r.data, false) AS "same_event!",
               o.actor, o.owner, t.owner AS "task_owner?"
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::jsonb[])
             WITH ORDINALITY AS r (source, id, type, task_id, data, position)
        LEFT JOIN event_outbox o
               ON o.event_id = CASE WHEN r.id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                    THEN r.id::uuid END
        LEFT JOIN tasks t ON t.id = r.task_id
        ORDER BY r.position
        "#,
        &sources as &[&str],
        &ids as &[&str],
        &types as &[&str],
        &task_ids,
        &data as &[&Value],
    )
    .fetch_all(pool)
    .await?;
    Ok(claims
        .iter()
        .zip(rows)
        .map(|(claimed, row)| {
            verdict(
                claimed,
                &Found {
                    recorded: row.recorded,
                    in_outbox: row.in_outbox,
                    same_event: row.same_event,
                    actor: row.actor,
                    owner: row.owner,
                    task_owner: row.task_owner,
                },
            )
        })
        .collect())
}

/// What the database holds about one delivery.
#[derive(Debug, Clone, Default)]
struct Found {
    /// The audit log already holds it (a redelivery: only counted).
    recorded: bool,
    in_outbox: bool,
    /// Its outbox row holds the same type, task and data.
    same_event: bool,
    actor: Option<String>,
    owner: Option<String>,
    task_owner: Option<String>,
}

fn verdict(claimed: &Claimed<'_>, found: &Found) -> Verdict {
    if !claimed.source.starts_with(FUNCTIONS_SOURCE_PREFIX) {
        return Verdict::Record {
            actor: claimed.authid.map(str::to_string),
            owner: found.task_owner.clone(),
            verified: false,
        };
    }
    if found.recorded {
        // Recorded before (its outbox row may be gone by now): the record
        // stands as it is; this delivery is only counted.
        return Verdict::Record {
            actor: None,
            owner: None,
            verified: true,
        };
    }
    if !found.in_outbox {
        return Verdict::Suspect(format!(
            "it claims to come from {} but no change of the app wrote it (no outbox row)",
            claimed.source
        ));
    }
    if !found.same_event {
        return Verdict::Suspect(
            "its type, task or data differ from the event its change wrote".into(),
        );
    }
    if claimed.authid != found.actor.as_deref() {
        return Verdict::Suspect("it names another actor than the change's own".into());
    }
    Verdict::Record {
        actor: found.actor.clone(),
        owner: found.owner.clone(),
        verified: true,
    }
}

/// Keeps a suspect event for an operator (once; a redelivery counts).
pub async fn park(
    pool: &PgPool,
    source: &str,
    id: &str,
    reason: &str,
    event: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        INSERT INTO suspect_events (event_source, event_id, reason, event)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (event_source, event_id)
            DO UPDATE SET deliveries = suspect_events.deliveries + 1
        "#,
        source,
        id,
        reason,
        event,
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claimed<'a>(source: &'a str, authid: Option<&'a str>, data: &'a Value) -> Claimed<'a> {
        Claimed {
            source,
            id: "0190b5a0-0000-7000-8000-000000000001",
            event_type: "task.created",
            task_id: 7,
            data,
            authid,
        }
    }

    #[test]
    fn the_apps_own_events_must_match_their_outbox_row() {
        let data = json!({"id": 7});
        let own = claimed("/functions/create-task", Some("alice"), &data);
        let row = Found {
            in_outbox: true,
            same_event: true,
            actor: Some("alice".into()),
            owner: Some("alice".into()),
            ..Found::default()
        };
        assert_eq!(
            verdict(&own, &row),
            Verdict::Record {
                actor: Some("alice".into()),
                owner: Some("alice".into()),
                verified: true
            }
        );
        for found in [
            Found {
                in_outbox: false,
                ..row.clone()
            },
            Found {
                same_event: false,
                ..row.clone()
            },
            Found {
                actor: Some("bob".into()),
                ..row.clone()
            },
        ] {
            assert!(
                matches!(verdict(&own, &found), Verdict::Suspect(_)),
                "{found:?}"
            );
        }
        // A forged actor on a real event: suspect too.
        let forged = claimed("/functions/create-task", Some("mallory"), &data);
        assert!(matches!(verdict(&forged, &row), Verdict::Suspect(_)));
    }

    #[test]
    fn events_from_elsewhere_are_recorded_unverified_under_the_tasks_owner() {
        let data = json!({"id": 7, "owner": "mallory"});
        let by_hand = claimed("/tests/by-hand", Some("mallory"), &data);
        let found = Found {
            task_owner: Some("alice".into()),
            ..Found::default()
        };
        assert_eq!(
            verdict(&by_hand, &found),
            Verdict::Record {
                actor: Some("mallory".into()),
                owner: Some("alice".into()),
                verified: false
            }
        );
    }
}
