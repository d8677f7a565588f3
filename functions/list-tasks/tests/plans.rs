//! How PostgreSQL plans the lists (`TaskRepository::list`): once per
//! connection, not once per request, and by an owner's index for any owner.
//! The database is the one-user case where a careless plan goes wrong: 2,000
//! tasks of alice's, analysed, then three of bob's that the statistics have
//! not seen. Lists of both run alternately: alice's must not make the
//! statement planned anew each time (a plan by id looks cheap for her).

use sqlx::Executor;
use task_core::TaskRepository;
use task_core::list::TaskFilter;
use task_core::task::TaskStatus;
use test_support::{TestDatabase, identity, kept_for_any_values, prepared_statements};

fn filter(owner: Option<&str>, status: Option<TaskStatus>) -> TaskFilter {
    TaskFilter {
        owner: owner.map(str::to_string),
        status,
        search: None,
        before_id: None,
        limit: 51,
    }
}

#[tokio::test]
async fn lists_are_planned_once_per_connection_and_read_an_owners_index() {
    let db = TestDatabase::new().await;
    let (alice, bob) = (identity::sub("alice"), identity::sub("bob"));
    sqlx::query(
        "INSERT INTO tasks (title, status, owner)
         SELECT 'task ' || n, 'pending', $1 FROM generate_series(1, 2000) n",
    )
    .bind(&alice)
    .execute(&db.pool)
    .await
    .unwrap();
    db.pool.execute("ANALYZE tasks").await.unwrap();
    for title in ["one", "two", "three"] {
        sqlx::query("INSERT INTO tasks (title, status, owner) VALUES ($1, 'complete', $2)")
            .bind(title)
            .bind(&bob)
            .execute(&db.pool)
            .await
            .unwrap();
    }

    // Each check on a connection of its own, whose prepared statements have
    // only ever run the lists it makes.
    let connection = || async {
        let pool = db.pool_of(1).await;
        (TaskRepository::new(pool.clone()), pool)
    };
    let lists = |owner: &str| {
        [
            filter(Some(owner), None),
            filter(Some(owner), Some(TaskStatus::Pending)),
        ]
    };
    let mut owner_statements = Vec::new();
    for (who, shapes) in [
        ("alice", lists(&alice).to_vec()),
        ("bob", lists(&bob).to_vec()),
        (
            "the admin",
            vec![filter(None, None), filter(None, Some(TaskStatus::Complete))],
        ),
    ] {
        let (tasks, pool) = connection().await;
        for _ in 0..8 {
            for shape in &shapes {
                tasks.list(shape).await.unwrap();
            }
        }
        let statements = prepared_statements(&pool, "%FROM tasks%ORDER BY id DESC%").await;
        assert_eq!(statements.len(), shapes.len(), "one statement per shape");
        for (generic, sql) in statements {
            assert!(generic > 0, "{who}'s list planned for every run: {sql}");
            if who == "bob" {
                owner_statements.push(sql);
            }
        }
    }
    let (tasks, pool) = connection().await;
    assert_eq!(
        tasks.list(&filter(Some(&bob), None)).await.unwrap().len(),
        3
    );
    let mut conn = pool.acquire().await.unwrap();

    // The plan kept for any owner: by the owner's index, never the whole
    // table by id with the owner as a filter (bob's list would then read
    // alice's 2,000 tasks to find his three).
    conn.execute("SET plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    for sql in &owner_statements {
        conn.execute(sqlx::AssertSqlSafe(format!("PREPARE shape AS {sql}")))
            .await
            .unwrap();
        let arguments = if sql.contains("status = $2") {
            "$1, 'pending', 9223372036854775807, 51"
        } else {
            "$1, 9223372036854775807, 51"
        };
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN EXECUTE shape({})",
            arguments.replace("$1", &format!("'{bob}'"))
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("Index Cond: ((owner = $1)"), "{sql}\n{plan}");
        conn.execute("DEALLOCATE shape").await.unwrap();
    }
}

#[tokio::test]
async fn searches_are_planned_for_their_own_values() {
    // A plan kept for any owner cannot narrow the indexes by owner: each
    // search statement must be planned for the values of each run.
    let db = TestDatabase::new().await;
    let bob = identity::sub("bob");
    sqlx::query(
        "INSERT INTO tasks (title, status, owner) VALUES ('plan the meeting', 'pending', $1)",
    )
    .bind(&bob)
    .execute(&db.pool)
    .await
    .unwrap();
    let pool = db.pool_of(1).await;
    let tasks = TaskRepository::new(pool.clone());
    let search = TaskFilter {
        search: Some("meeting".into()),
        ..filter(Some(&bob), None)
    };
    for _ in 0..8 {
        assert_eq!(tasks.list(&search).await.unwrap().len(), 1);
        let counts = tasks
            .count_by_status(Some(&bob), Some("meeting"))
            .await
            .unwrap();
        assert_eq!(counts.total, 1);
    }
    let searches = prepared_statements(&pool, "%search_text LIKE%").await;
    assert!(!searches.is_empty(), "no search statement ran");
    let kept = kept_for_any_values(&pool, "%search_text LIKE%").await;
    assert!(kept.is_empty(), "kept for any values: {kept:#?}");
}
