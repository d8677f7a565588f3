//! `GET /api/task-counts` against a real PostgreSQL.

use serde_json::{Value, json};
use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem, error_fields};

async fn app() -> TestApp {
    TestApp::spawn(count_tasks::FUNCTION, count_tasks::router()).await
}

#[tokio::test]
async fn counts_every_status_and_the_total() {
    let app = app().await;
    let empty: Value = app.get("/api/task-counts").await.json().await.unwrap();
    assert_eq!(
        empty,
        json!({"total": 0, "pending": 0, "in_progress": 0, "complete": 0, "exact": true})
    );

    for (title, status) in [
        ("Buy milk", TaskStatus::Pending),
        ("Buy bread", TaskStatus::Complete),
        ("Call mum", TaskStatus::Pending),
        ("Fix bike", TaskStatus::InProgress),
    ] {
        app.db.insert_task(title, status).await;
    }
    let counts: Value = app.get("/api/task-counts").await.json().await.unwrap();
    assert_eq!(
        counts,
        json!({"total": 4, "pending": 2, "in_progress": 1, "complete": 1, "exact": true})
    );
    let counts: Value = app
        .get("/api/task-counts?q=BUY")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts,
        json!({"total": 2, "pending": 1, "in_progress": 0, "complete": 1, "exact": true})
    );
}

async fn counts(app: &TestApp, query: &str) -> Value {
    app.get(&format!("/api/task-counts{query}"))
        .await
        .json()
        .await
        .unwrap()
}

/// The unfiltered counts come from counters the database keeps with every
/// change; they must agree with the table whatever the changes were.
#[tokio::test]
async fn the_kept_counts_agree_with_the_table_after_any_changes() {
    let app = app().await;
    app.db.owner_by_default("alice").await;
    let pool = &app.db.pool;
    let run = |sql: &'static str| async move { sqlx::query(sql).execute(pool).await.unwrap() };
    run("INSERT INTO tasks (title, status) SELECT 't' || n, \
         (ARRAY['pending','in_progress','complete'])[1 + n % 3] FROM generate_series(1, 3000) n")
    .await;
    run("UPDATE tasks SET status = 'complete' WHERE id % 7 = 0").await;
    run("UPDATE tasks SET title = title || '!' WHERE id % 5 = 0").await;
    run("DELETE FROM tasks WHERE id % 11 = 0").await;
    // Writers on many connections at once (each adds to its own slot).
    let writers = (0..8).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for n in 0..50 {
                let status = ["pending", "in_progress", "complete"][(i + n) % 3];
                sqlx::query("INSERT INTO tasks (title, status) VALUES ('w', $1)")
                    .bind(status)
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query("UPDATE tasks SET status = 'pending' WHERE id = (SELECT max(id) FROM tasks) AND $1")
                    .bind(n % 4 == 0)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        })
    });
    for writer in writers {
        writer.await.unwrap();
    }
    let actual: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM tasks GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await
            .unwrap();
    let kept = counts(&app, "").await;
    for (status, count) in &actual {
        assert_eq!(kept[status.as_str()], *count, "{status}: {kept}");
    }
    assert_eq!(kept["total"], actual.iter().map(|(_, n)| n).sum::<i64>());
    run("TRUNCATE tasks").await;
    assert_eq!(counts(&app, "").await["total"], 0);
}

#[tokio::test]
async fn the_counts_of_a_search_stop_at_a_hundred() {
    let app = app().await;
    // 3,000 tasks, newest last: "common" in one of ten of them (the cap is
    // reached among the newest), "oldword" in the 150 oldest only and
    // "fewword" in 50 of the oldest (both found through the indexes).
    app.db.owner_by_default("alice").await;
    sqlx::query(
        "INSERT INTO tasks (title, description, status) \
         SELECT 'task ' || n, \
                CASE WHEN n % 10 = 0 THEN 'a common one' \
                     WHEN n <= 150 THEN 'an oldword' ELSE 'plain' END \
                || CASE WHEN n <= 50 THEN ' fewword' ELSE '' END, \
                (ARRAY['pending','in_progress','complete'])[1 + n % 3] \
         FROM generate_series(1, 3000) AS n",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    for word in ["common", "oldword"] {
        let capped = counts(&app, &format!("?q={word}")).await;
        assert_eq!(capped["exact"], false, "{word}: {capped}");
        assert_eq!(capped["total"], 101, "{word}: {capped}");
        let parts: i64 = ["pending", "in_progress", "complete"]
            .iter()
            .map(|s| capped[*s].as_i64().unwrap())
            .sum();
        assert_eq!(parts, 101, "{word}: {capped}");
    }
    let exact = counts(&app, "?q=fewword").await;
    assert_eq!(exact["exact"], true, "{exact}");
    assert_eq!(exact["total"], 50, "{exact}");
    assert_eq!(exact["pending"], 16, "{exact}"); // n % 3 == 0 among 1..=50
    let exact = counts(&app, "?q=task 2999").await;
    assert_eq!(exact["total"], 1, "{exact}");
    assert_eq!(exact["exact"], true, "{exact}");
}

#[tokio::test]
async fn a_count_its_first_window_does_not_finish_is_walked_on_from_where_it_ended() {
    // alice's 900 tasks (after 100,000 of bob's) have the word in one of
    // ten: her newest 500 hold 50 of its 90, and as bob's tasks make the
    // index dear, the count walks on past them. Walked from the newest
    // again, it would count those 50 twice and stop at the cap.
    let app = app().await;
    app.db.owner_by_default("bob").await;
    sqlx::query(
        "INSERT INTO tasks (title) SELECT 'kettle ' || n FROM generate_series(1, 100000) AS n",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    app.db.owner_by_default("alice").await;
    sqlx::query(
        "INSERT INTO tasks (title, status) \
         SELECT 'task ' || n || CASE WHEN n % 10 = 0 THEN ' kettle' ELSE '' END, \
                (ARRAY['pending','in_progress','complete'])[1 + n % 3] \
         FROM generate_series(1, 900) AS n",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE tasks")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let counted = counts(&app, "?q=kettle").await;
    assert_eq!(
        counted,
        json!({"total": 90, "pending": 30, "in_progress": 30, "complete": 30, "exact": true})
    );
}

#[tokio::test]
async fn a_search_is_counted_within_the_title_or_the_description() {
    let app = app().await;
    app.db
        .insert_tasks_around_the_search_separator(TaskStatus::Complete)
        .await;
    assert_eq!(
        counts(&app, "?q=OAT%0Ameal").await,
        json!({"total": 1, "pending": 0, "in_progress": 0, "complete": 1, "exact": true})
    );
}

#[tokio::test]
async fn a_bad_search_is_422() {
    let app = app().await;
    let long = "x".repeat(256);
    let problem = assert_problem(app.get(&format!("/api/task-counts?q={long}")).await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    assert_problem(app.get("/api/task-counts?q=a&q=b").await, 400).await;
    let problem = assert_problem(app.get("/api/task-counts?q=ab").await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
}

/// Each user's counts are their own; the admin's are everyone's, and she
/// pages through every owner.
#[tokio::test]
async fn counts_per_user_and_every_owner_for_the_admin() {
    let app = app().await;
    for (user, tasks) in [("alice", 3), ("bob", 2), ("carol", 1)] {
        for n in 0..tasks {
            app.db
                .insert_task_of(user, &format!("{user} {n}"), TaskStatus::Pending)
                .await;
        }
    }
    let bob = app.client_as("bob").await;
    let carol = app.client_as("carol").await;
    let total = |client: reqwest::Client, path: String| async move {
        let counts: Value = client.get(path).send().await.unwrap().json().await.unwrap();
        counts["total"].as_i64().unwrap()
    };
    assert_eq!(
        total(app.client.clone(), app.url("/api/task-counts")).await,
        3
    );
    assert_eq!(total(bob.clone(), app.url("/api/task-counts")).await, 2);
    assert_eq!(total(carol.clone(), app.url("/api/task-counts")).await, 6);
    let bobs = test_support::identity::sub("bob");
    assert_eq!(
        total(
            carol.clone(),
            app.url(&format!("/api/task-counts?owner={bobs}"))
        )
        .await,
        2
    );

    let mut seen = Vec::new();
    let mut next = Some("/api/task-owners?limit=1".to_string());
    while let Some(path) = next {
        let response = carol.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        next = response.headers().get("link").map(|link| {
            link.to_str()
                .unwrap()
                .split(['<', '>'])
                .nth(1)
                .unwrap()
                .to_string()
        });
        let page: Vec<Value> = response.json().await.unwrap();
        assert_eq!(page.len(), 1);
        seen.push((
            page[0]["owner"].as_str().unwrap().to_string(),
            page[0]["total"].as_i64().unwrap(),
        ));
    }
    let mut expected: Vec<(String, i64)> = [("alice", 3), ("bob", 2), ("carol", 1)]
        .map(|(user, n)| (test_support::identity::sub(user), n))
        .to_vec();
    expected.sort();
    assert_eq!(seen, expected, "every owner once, in order");
    assert_problem(
        bob.get(app.url("/api/task-owners")).send().await.unwrap(),
        403,
    )
    .await;
}
