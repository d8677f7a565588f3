//! `GET /api/tasks` over HTTP against a real PostgreSQL.

use serde_json::Value;
use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem, error_fields};

async fn app() -> TestApp {
    TestApp::spawn(list_tasks::FUNCTION, list_tasks::router()).await
}

async fn list(app: &TestApp, query: &str) -> (Vec<Value>, Option<String>) {
    let response = app.get(&format!("/api/tasks{query}")).await;
    assert_eq!(response.status(), 200, "GET /api/tasks{query}");
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_string());
    (response.json().await.unwrap(), link)
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["title"].as_str().unwrap()).collect()
}

/// The path of a `Link: <path>; rel="next"` header.
fn next_path(link: &str) -> &str {
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    link.trim_start_matches('<').split('>').next().unwrap()
}

#[tokio::test]
async fn an_empty_table_is_an_empty_array_without_link() {
    let app = app().await;
    let (tasks, link) = list(&app, "").await;
    assert!(tasks.is_empty());
    assert_eq!(link, None);
}

#[tokio::test]
async fn lists_newest_first() {
    let app = app().await;
    for title in ["first", "second", "third"] {
        app.db.insert_task(title, TaskStatus::Pending).await;
    }
    let (tasks, link) = list(&app, "").await;
    assert_eq!(titles(&tasks), ["third", "second", "first"]);
    assert_eq!(link, None);
}

#[tokio::test]
async fn filters_by_status() {
    let app = app().await;
    app.db.insert_task("a", TaskStatus::Pending).await;
    app.db.insert_task("b", TaskStatus::Complete).await;
    app.db.insert_task("c", TaskStatus::InProgress).await;
    app.db.insert_task("d", TaskStatus::Complete).await;
    assert_eq!(titles(&list(&app, "?status=complete").await.0), ["d", "b"]);
    assert_eq!(titles(&list(&app, "?status=in_progress").await.0), ["c"]);
    let problem = assert_problem(app.get("/api/tasks?status=").await, 422).await;
    assert_eq!(error_fields(&problem), ["status"]);
}

#[tokio::test]
async fn searches_title_and_description_case_insensitively_and_literally() {
    let app = app().await;
    app.db.insert_task("Buy MILK", TaskStatus::Pending).await;
    app.db.insert_task("Call mum", TaskStatus::Pending).await;
    app.db
        .insert_task("50% discount", TaskStatus::Pending)
        .await;
    sqlx::query("UPDATE tasks SET description = 'oat milk, not cow' WHERE title = 'Call mum'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        titles(&list(&app, "?q=milk").await.0),
        ["Call mum", "Buy MILK"]
    );
    assert_eq!(
        titles(&list(&app, "?q=Milk&status=pending").await.0),
        ["Call mum", "Buy MILK"]
    );
    assert_eq!(titles(&list(&app, "?q=50%25").await.0), ["50% discount"]);
    assert!(list(&app, "?q=%25%25%25").await.0.is_empty());
    assert!(list(&app, "?q=___").await.0.is_empty());
    assert!(list(&app, "?q=milk&status=complete").await.0.is_empty());
}

#[tokio::test]
async fn a_search_never_matches_across_the_title_and_the_description() {
    let app = app().await;
    app.db
        .insert_tasks_around_the_search_separator(TaskStatus::Pending)
        .await;
    assert_eq!(titles(&list(&app, "?q=OAT%0AMeal").await.0), ["Porridge"]);
    assert_eq!(titles(&list(&app, "?q=oat").await.0).len(), 2);
}

#[tokio::test]
async fn pages_with_a_default_limit_of_100_and_a_next_link() {
    let app = app().await;
    for i in 0..105 {
        app.db
            .insert_task(&format!("task {i}"), TaskStatus::Pending)
            .await;
    }
    let (page, link) = list(&app, "").await;
    assert_eq!(page.len(), 100);
    assert_eq!(page[0]["title"], "task 104");
    let next = next_path(link.as_deref().expect("a next link")).to_string();
    let (rest, link) = list(&app, next.trim_start_matches("/api/tasks")).await;
    assert_eq!(
        titles(&rest),
        ["task 4", "task 3", "task 2", "task 1", "task 0"]
    );
    assert_eq!(link, None);
}

#[tokio::test]
async fn following_next_links_visits_every_matching_task_once() {
    let app = app().await;
    for i in 0..23 {
        let status = if i % 3 == 0 {
            TaskStatus::Complete
        } else {
            TaskStatus::Pending
        };
        app.db.insert_task(&format!("Item {i}"), status).await;
    }
    let mut seen = Vec::new();
    let mut query = "?status=pending&q=item&limit=4".to_string();
    loop {
        let (page, link) = list(&app, &query).await;
        assert!(page.len() <= 4);
        seen.extend(page.iter().map(|t| t["id"].as_i64().unwrap()));
        match link {
            Some(link) => {
                let path = next_path(&link);
                assert!(
                    path.contains("status=pending") && path.contains("q=item"),
                    "{path}"
                );
                query = path.trim_start_matches("/api/tasks").to_string();
            }
            None => break,
        }
    }
    let mut expected: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM tasks WHERE status = 'pending' ORDER BY id DESC")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(seen, expected);
    expected.dedup();
    assert_eq!(expected.len(), 15);
}

#[tokio::test]
async fn the_limit_is_at_most_200() {
    let app = app().await;
    for i in 0..3 {
        app.db
            .insert_task(&format!("t{i}"), TaskStatus::Pending)
            .await;
    }
    assert_eq!(list(&app, "?limit=200").await.0.len(), 3);
    let (page, link) = list(&app, "?limit=2").await;
    assert_eq!(page.len(), 2);
    assert!(link.is_some());
    for bad in ["0", "201", "-1", "ten", "1.5", ""] {
        let problem = assert_problem(app.get(&format!("/api/tasks?limit={bad}")).await, 422).await;
        assert_eq!(error_fields(&problem), ["limit"]);
    }
}

#[tokio::test]
async fn bad_parameters_are_422_naming_each_one() {
    let app = app().await;
    let problem = assert_problem(
        app.get("/api/tasks?status=done&limit=0&cursor=abc").await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["status", "limit", "cursor"]);
    let long = "x".repeat(256);
    let problem = assert_problem(app.get(&format!("/api/tasks?q={long}")).await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    let problem = assert_problem(app.get("/api/tasks?q=a%00b").await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    // Fewer than 3 characters cannot use the index: refused, not slow.
    let problem = assert_problem(app.get("/api/tasks?q=ab").await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at least 3")
    );
}

#[tokio::test]
async fn a_query_string_no_valid_request_has_is_414() {
    let app = app().await;
    let longest_valid = format!(
        "?status=in_progress&q={}&limit=200&cursor=9223372036854775807",
        "%F0%9F%98%80".repeat(255)
    );
    assert_eq!(
        app.get(&format!("/api/tasks{longest_valid}"))
            .await
            .status(),
        200
    );
    let problem = assert_problem(
        app.get(&format!("/api/tasks?q=abc&pad={}", "x".repeat(5000)))
            .await,
        414,
    )
    .await;
    assert_eq!(problem["type"], "urn:task-app:problem:uri-too-long");
}

/// Seeds `count` tasks of `username`'s in one statement (titles
/// `filler <n>`), oldest first: none matches a search but for "filler".
async fn seed(app: &TestApp, username: &str, count: i64) {
    app.db.owner_by_default(username).await;
    sqlx::query(
        "INSERT INTO tasks (title, description) \
         SELECT 'filler ' || n, 'nothing to see' FROM generate_series(1, $1) AS n",
    )
    .bind(count)
    .execute(&app.db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_search_finds_old_rare_matches_and_pages_common_ones_the_same_way() {
    let app = app().await;
    app.db
        .insert_task("The oldest aardvark", TaskStatus::Pending)
        .await;
    seed(&app, "alice", 5000).await;
    app.db
        .insert_task("A newer aardvark", TaskStatus::Complete)
        .await;
    app.db
        .insert_task_of("bob", "Bob's aardvark", TaskStatus::Pending)
        .await;
    // Rare: beyond the newest candidates, found through the trigram index
    // (alice has most of the tasks: her own among the matches are found by
    // checking each match's owner).
    let (found, link) = list(&app, "?q=AARDVARK").await;
    assert_eq!(titles(&found), ["A newer aardvark", "The oldest aardvark"]);
    assert_eq!(link, None);
    assert_eq!(
        titles(&list(&app, "?q=aardvark&status=pending").await.0),
        ["The oldest aardvark"]
    );
    // Common: the newest candidates fill the page; following the links
    // visits every match once, across both ways of searching.
    let mut seen = 0;
    let mut query = "?q=filler&limit=200".to_string();
    loop {
        let (page, link) = list(&app, &query).await;
        seen += page.len();
        match link {
            Some(link) => {
                query = next_path(&link)
                    .trim_start_matches("/api/tasks")
                    .to_string()
            }
            None => break,
        }
    }
    assert_eq!(seen, 5000);
}

#[tokio::test]
async fn a_page_that_the_first_window_does_not_fill_is_walked_on_from_where_it_ended() {
    // One task in twenty has the word: the first window holds a quarter of
    // the page, and the walk goes on past it (not from the newest again).
    let app = app().await;
    app.db.owner_by_default("alice").await;
    sqlx::query(
        "INSERT INTO tasks (title) \
         SELECT 'task ' || n || CASE WHEN n % 20 = 0 THEN ' kettle' ELSE '' END \
         FROM generate_series(1, 20000) AS n",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (found, link) = list(&app, "?q=kettle&limit=100").await;
    let newest: Vec<String> = (0..100)
        .map(|k| format!("task {} kettle", 20000 - 20 * k))
        .collect();
    assert_eq!(titles(&found), newest);
    assert!(link.is_some());
}

#[tokio::test]
async fn a_rare_match_of_an_owner_of_few_tasks_is_found_through_the_index_too() {
    // alice has fewer than half of the tasks: the index scan narrows by
    // owner itself.
    let app = app().await;
    app.db
        .insert_task("The oldest aardvark", TaskStatus::Pending)
        .await;
    seed(&app, "alice", 2500).await;
    seed(&app, "bob", 3000).await;
    app.db
        .insert_task_of("bob", "Bob's aardvark", TaskStatus::Pending)
        .await;
    let (found, link) = list(&app, "?q=aardvark").await;
    assert_eq!(titles(&found), ["The oldest aardvark"]);
    assert_eq!(link, None);
}

#[tokio::test]
async fn a_query_past_the_statement_timeout_is_503_not_500() {
    let db = test_support::TestDatabase::new().await;
    db.owner_by_default("alice").await;
    sqlx::query(
        "INSERT INTO tasks (title, description) \
         SELECT 'filler ' || n, repeat('padding ', 50) FROM generate_series(1, 200000) AS n",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let config = task_core::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(db.url.clone()),
        "DATABASE_STATEMENT_TIMEOUT_MS" => Some("1".into()),
        _ => None,
    })
    .unwrap();
    let pool = task_core::db::lazy_pool(&config).unwrap();
    let app = TestApp::spawn_with_pool(list_tasks::FUNCTION, list_tasks::router(), pool, db).await;
    let response = app.get("/api/tasks?q=zzzzzz").await;
    assert_eq!(response.headers()["retry-after"], "1");
    let problem = assert_problem(response, 503).await;
    assert_eq!(problem["type"], "urn:task-app:problem:unavailable");
}

#[tokio::test]
async fn a_malformed_query_string_is_400() {
    let app = app().await;
    assert_problem(
        app.get("/api/tasks?status=pending&status=complete").await,
        400,
    )
    .await;
    // Bytes that are not UTF-8 once decoded are not text to search for.
    for query in ["q=%FF%FF%FF", "q=abc%C3", "status=%80"] {
        assert_problem(app.get(&format!("/api/tasks?{query}")).await, 400).await;
    }
}
