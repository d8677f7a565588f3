//! Tasks belong to their users, across every function: bob reaching for
//! alice's task gets the very answer a missing task gets (and changes
//! nothing); bob's lists, searches, counts and pages never show her rows;
//! carol, the admin, reads and changes anyone's, and her change is recorded
//! as hers while the task stays alice's. The write functions send their
//! events to a real audit function, so the audit records are checked too.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use task_core::FunctionRoutes;
use test_support::identity::sub;
use test_support::{TestApp, TestDatabase, client_as, publisher};

struct Api {
    apps: BTreeMap<&'static str, TestApp>,
    db: TestDatabase,
}

impl Api {
    /// Every routed function on one database, the writers sending to `audit`.
    async fn start() -> Self {
        let db = TestDatabase::new().await;
        let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
        let sink = format!("{}/", audit.address);
        let events = |function| publisher(function, Some(&sink), 5000);
        let functions: Vec<(&'static str, FunctionRoutes)> = vec![
            ("list-tasks", list_tasks::router().into()),
            ("count-tasks", count_tasks::router().into()),
            ("create-task", create_task::router(events("create-task"))),
            ("get-task", get_task::router().into()),
            ("update-task", update_task::router(events("update-task"))),
            ("delete-task", delete_task::router(events("delete-task"))),
            ("task-history", task_history::router().into()),
        ];
        let mut apps = BTreeMap::new();
        for (function, routes) in functions {
            apps.insert(function, TestApp::spawn_on(&db, function, routes).await);
        }
        apps.insert("audit", audit);
        Self { apps, db }
    }

    fn url(&self, function: &str, path: &str) -> String {
        self.apps[function].url(path)
    }

    /// Waits until task `id` has `count` audit records.
    async fn audited(&self, id: i64, count: i64) -> Vec<(String, Option<String>, Option<String>)> {
        let start = Instant::now();
        loop {
            let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT event_type, actor, owner FROM task_audit_log WHERE task_id = $1 ORDER BY task_sequence",
            )
            .bind(id)
            .fetch_all(&self.db.pool)
            .await
            .unwrap();
            if rows.len() as i64 >= count || start.elapsed() > Duration::from_secs(10) {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The JSON a request is answered with.
async fn json_of<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// Status, content type and body: what a client can tell apart.
async fn answer(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn another_users_task_is_a_missing_task_and_the_admin_sees_all() {
    let api = Api::start().await;
    let (alice, bob, carol) = (
        client_as("alice").await,
        client_as("bob").await,
        client_as("carol").await,
    );
    let created: Value = json_of(
        alice
            .post(api.url("create-task", "/api/tasks"))
            .json(&json!({"title": "Alice's secret plan", "description": "aardvark"})),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["owner"], sub("alice"));
    let bobs: Value = json_of(
        bob.post(api.url("create-task", "/api/tasks"))
            .json(&json!({"title": "Bob's own"})),
    )
    .await;

    // Bob on alice's task: the answers a missing task gets, byte for byte.
    let attempts = |task: i64| {
        let bob = bob.clone();
        let urls = [
            ("get", api.url("get-task", &format!("/api/tasks/{task}"))),
            ("put", api.url("update-task", &format!("/api/tasks/{task}"))),
            (
                "delete",
                api.url("delete-task", &format!("/api/tasks/{task}")),
            ),
            (
                "history",
                api.url("task-history", &format!("/api/tasks/{task}/history")),
            ),
        ];
        async move {
            let mut answers = Vec::new();
            for (what, url) in urls {
                let request = match what {
                    "put" => bob.put(url).json(&json!({"title": "Bob was here"})),
                    "delete" => bob.delete(url),
                    _ => bob.get(url),
                };
                answers.push((what, answer(request.send().await.unwrap()).await));
            }
            answers
        }
    };
    let on_alices = attempts(id).await;
    for (what, (status, content_type, _)) in &on_alices {
        assert_eq!(
            (*status, content_type.as_str()),
            (404, "application/problem+json"),
            "{what}"
        );
    }
    // Alice's task is as it was.
    let after: Value = json_of(alice.get(api.url("get-task", &format!("/api/tasks/{id}")))).await;
    assert_eq!(after, created, "bob's failed update or delete changed it");
    // The same requests once the task is gone answer exactly the same.
    sqlx::query("DELETE FROM tasks WHERE id = $1")
        .bind(id)
        .execute(&api.db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM task_audit_log WHERE task_id = $1")
        .bind(id)
        .execute(&api.db.pool)
        .await
        .unwrap();
    let on_missing = attempts(id).await;
    assert_eq!(
        on_missing, on_alices,
        "another user's task differs from a missing one"
    );
    // Printed for the record (`-- --nocapture`).
    for ((what, alices), (_, missing)) in on_alices.iter().zip(&on_missing) {
        eprintln!(
            "bob {what:<7} alice's task: {} {} | a missing id: {} {} | bodies identical: {}",
            alices.0,
            alices.1,
            missing.0,
            missing.1,
            alices.2 == missing.2
        );
    }
    sqlx::query("INSERT INTO tasks (id, title, description, owner) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind("Alice's secret plan")
        .bind("aardvark")
        .bind(sub("alice"))
        .execute(&api.db.pool)
        .await
        .unwrap();

    // Bob's lists, searches, pages and counts hold only his own task.
    for path in [
        "/api/tasks",
        "/api/tasks?q=aardvark",
        "/api/tasks?q=secret",
        "/api/tasks?limit=1",
        "/api/tasks?status=pending",
        "/api/tasks?cursor=9999",
    ] {
        let page: Vec<Value> = json_of(bob.get(api.url("list-tasks", path))).await;
        assert!(
            page.iter().all(|task| task["owner"] == sub("bob")),
            "{path}: {page:?}"
        );
    }
    for (path, total) in [("/api/task-counts", 1), ("/api/task-counts?q=secret", 0)] {
        let counts: Value = json_of(bob.get(api.url("count-tasks", path))).await;
        assert_eq!(counts["total"], total, "{path}: {counts}");
    }
    // Naming alice as the owner is for admins only.
    let alices = sub("alice");
    for (function, path) in [
        ("list-tasks", format!("/api/tasks?owner={alices}")),
        ("count-tasks", format!("/api/task-counts?owner={alices}")),
    ] {
        let response = bob.get(api.url(function, &path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }

    // The admin reads every task, one user's on request, and the owners.
    let all: Vec<Value> = json_of(carol.get(api.url("list-tasks", "/api/tasks"))).await;
    assert_eq!(all.len(), 2);
    let hers: Vec<Value> =
        json_of(carol.get(api.url("list-tasks", &format!("/api/tasks?owner={alices}")))).await;
    assert_eq!(hers.len(), 1);
    let owners: Vec<Value> = json_of(carol.get(api.url("count-tasks", "/api/task-owners"))).await;
    let mut listed: Vec<(String, i64)> = owners
        .iter()
        .map(|o| {
            (
                o["owner"].as_str().unwrap().to_string(),
                o["total"].as_i64().unwrap(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![(sub("alice"), 1), (sub("bob"), 1)];
    expected.sort();
    assert_eq!(listed, expected);

    // The admin changes bob's task: the change is carol's, the task bob's.
    let changed: Value = json_of(
        carol
            .put(api.url("update-task", &format!("/api/tasks/{}", bobs["id"])))
            .json(&json!({"status": "complete"})),
    )
    .await;
    assert_eq!(changed["owner"], sub("bob"));
    let records = api.audited(bobs["id"].as_i64().unwrap(), 2).await;
    assert_eq!(
        records,
        [
            ("task.created".into(), Some(sub("bob")), Some(sub("bob"))),
            ("task.updated".into(), Some(sub("carol")), Some(sub("bob"))),
        ]
    );
    // Bob sees the admin's change in his history, as not his own.
    let history: Vec<Value> = bob
        .get(api.url(
            "task-history",
            &format!("/api/tasks/{}/history", bobs["id"]),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actors: Vec<&str> = history
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, [sub("carol"), sub("bob")]);
}
