//! How PostgreSQL plans a page of a history: for the values of each request.
//! A plan kept for any owner and any cursor cannot read the history index in
//! order (the owner sits between the task and the sequence), so it sorted
//! every entry of the task for each page: 170 ms for 20,000 entries of 10 KB.

use serde_json::json;
use task_core::AuditLog;
use task_core::audit_log::AuditRecord;
use task_core::history::{HistoryPage, HistoryPosition};
use test_support::{TestDatabase, identity, kept_for_any_values};

#[tokio::test]
async fn history_pages_are_planned_for_their_own_values() {
    let db = TestDatabase::new().await;
    let alice = identity::sub("alice");
    for sequence in 1..=5 {
        let id = format!("e{sequence}");
        let event = json!({"specversion": "1.0", "id": id, "type": "task.updated", "data": {}});
        AuditLog::new(db.pool.clone())
            .record(&AuditRecord {
                actor: Some(&alice),
                owner: Some(&alice),
                verified: true,
                event_type: "task.updated",
                task_id: 1,
                task_sequence: sequence,
                event: &event,
                event_id: &id,
                event_source: "/functions/test",
                event_time: None,
            })
            .await
            .unwrap();
    }
    // One connection, whose prepared statements have run only these pages:
    // the owner's and the admin's, first pages and pages after a cursor.
    let pool = db.pool_of(1).await;
    let audit = AuditLog::new(pool.clone());
    let after = Some(HistoryPosition {
        sequence: 4,
        row: i64::MAX,
    });
    for _ in 0..8 {
        for owner in [Some(alice.as_str()), None] {
            for before in [None, after] {
                let page = HistoryPage { before, limit: 2 };
                let entries = audit.history(1, owner, &page).await.unwrap();
                assert_eq!(entries.len(), 2);
            }
        }
    }
    let kept = kept_for_any_values(&pool, "%FROM task_audit_log%").await;
    assert!(kept.is_empty(), "kept for any values: {kept:#?}");
}
