//! What the functions' integration tests share: a real PostgreSQL server and
//! a real OpenID Provider for the whole test process, a fresh migrated
//! database for every test, and the function under test served over real
//! HTTP on a free port, called with tokens signed in for through the provider.

pub mod identity;
mod kafka;
mod postgres;
mod proxy;
mod sink;

use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use task_core::background::Background;
use task_core::db::MIGRATOR;
use task_core::routes::{Duty, needs_sign_in};
use task_core::task::{CreateTaskRequest, Patch, Task, TaskStatus};
use task_core::{AppState, FunctionRoutes, TaskRepository, build_app};
use task_events::publisher::EventPublisher;
use tokio::net::TcpListener;

pub use kafka::{KafkaServer, kafka};
pub use postgres::server;
pub use proxy::ToggleProxy;
pub use sink::{ReceivedEvent, SinkMock};

/// The statements prepared on `pool`'s connection whose SQL is `LIKE`
/// `pattern`: how many times each ran on a plan kept for any values, and
/// its SQL.
pub async fn prepared_statements(pool: &PgPool, pattern: &str) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT generic_plans, statement FROM pg_prepared_statements
         WHERE statement LIKE $1 AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .bind(pattern)
    .fetch_all(pool)
    .await
    .expect("read the prepared statements")
}

/// The statements prepared on `pool`'s connection whose SQL is `LIKE`
/// `pattern` and that ran at least once on a plan kept for any values.
pub async fn kept_for_any_values(pool: &PgPool, pattern: &str) -> Vec<(i64, String)> {
    prepared_statements(pool, pattern)
        .await
        .into_iter()
        .filter(|(generic, _)| *generic > 0)
        .collect()
}

/// A database of its own for one test, migrated to the current schema.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    pub async fn new() -> Self {
        let db = Self::empty().await;
        MIGRATOR.run(&db.pool).await.expect("apply the migrations");
        login_users(&db.pool).await;
        db
    }

    /// A database of its own with no schema yet (for tests of the migrations).
    pub async fn empty() -> Self {
        let server = server();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&server.url("postgres"))
            .await
            .expect("connect to the test server");
        // The name is ours (a UUID), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create a test database");
        admin.close().await;

        let url = server.url(&name);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await
            .expect("connect to the test database");
        Self { url, pool }
    }

    /// A pool connecting as the login user of `duty`: what a function of
    /// that duty may do, and no more (as on the local stack and Knative).
    pub async fn pool_as(&self, duty: Duty) -> PgPool {
        let url = server().url_as(&test_user(duty), TEST_USER_PASSWORD, self.name());
        PgPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await
            .expect("connect as a duty's login user")
    }

    /// A pool of at most `max` connections to this database (of one: a
    /// connection whose prepared statements a test reads back).
    pub async fn pool_of(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or_default()
    }

    /// Makes the tasks that SQL inserts without an owner the demo account
    /// `username`'s (for tests that seed many rows in one statement).
    pub async fn owner_by_default(&self, username: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            // A sub is a UUID: nothing to escape.
            "ALTER TABLE tasks ALTER COLUMN owner SET DEFAULT '{}'",
            identity::sub(username)
        )))
        .execute(&self.pool)
        .await
        .expect("set the owner's default");
    }

    /// Two tasks of alice's on either side of the separator in a task's
    /// stored search text (title, newline, description): "Soak the oat"
    /// with "meal for two" (its search text holds "oat\nmeal" across the
    /// separator) and "Porridge" (`status`) with "oat\nmeal, stirred".
    pub async fn insert_tasks_around_the_search_separator(&self, status: TaskStatus) {
        self.insert_task("Soak the oat", TaskStatus::Pending).await;
        self.insert_task("Porridge", status).await;
        sqlx::query(
            "UPDATE tasks SET description = CASE title WHEN 'Soak the oat' THEN 'meal for two' \
             ELSE E'oat\nmeal, stirred' END",
        )
        .execute(&self.pool)
        .await
        .expect("set the descriptions");
    }

    /// Inserts a task of alice's directly, bypassing the API.
    pub async fn insert_task(&self, title: &str, status: TaskStatus) -> Task {
        self.insert_task_of(DEFAULT_USER, title, status).await
    }

    /// Inserts a task of the demo account `username` directly, bypassing the API.
    pub async fn insert_task_of(&self, username: &str, title: &str, status: TaskStatus) -> Task {
        let mut conn = self.pool.acquire().await.expect("a connection");
        let task = CreateTaskRequest {
            title: Patch::Value(title.into()),
            description: Patch::Missing,
            status: Patch::Value(status.to_string()),
        }
        .validate()
        .expect("a valid task");
        TaskRepository::insert(&mut conn, &task, &identity::sub(username))
            .await
            .expect("insert a task")
    }

    /// A pool to this database through a [`ToggleProxy`], to take the database
    /// away from a function under test and give it back.
    pub async fn behind_proxy(&self) -> (PgPool, ToggleProxy) {
        let proxy = ToggleProxy::start(([127, 0, 0, 1], server().port()).into()).await;
        let url = self.url.replace(
            &format!(":{}/", server().port()),
            &format!(":{}/", proxy.port()),
        );
        let config = task_core::config::Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "DATABASE_ACQUIRE_TIMEOUT_MS" => Some("500".into()),
            _ => None,
        })
        .expect("a valid test configuration");
        let pool = task_core::db::lazy_pool(&config).expect("a pool");
        (pool, proxy)
    }

    pub async fn count_unsent_events(&self) -> i64 {
        task_events::outbox::Outbox::count_unsent(&self.pool)
            .await
            .expect("count unsent events")
    }

    pub async fn count_events(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM event_outbox")
            .fetch_one(&self.pool)
            .await
            .expect("count outbox rows")
    }

    pub async fn count_audit_rows(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM task_audit_log")
            .fetch_one(&self.pool)
            .await
            .expect("count audit rows")
    }

    pub async fn count_tasks(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tasks")
            .fetch_one(&self.pool)
            .await
            .expect("count tasks")
    }
}

/// Whose token a [`TestApp`]'s client sends: a user without the admin role.
pub const DEFAULT_USER: &str = "alice";

/// One function served on 127.0.0.1, with its own database.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub address: String,
    /// Sends alice's access token, where the function needs one.
    pub client: reqwest::Client,
    pub db: TestDatabase,
    /// What the function does after its responses (event sends).
    pub background: Background,
}

impl TestApp {
    /// Serves `routes` the way the function binary does, on a free port,
    /// connected as its duty's login user.
    pub async fn spawn(function: &'static str, routes: impl Into<FunctionRoutes>) -> Self {
        let db = TestDatabase::new().await;
        Self::spawn_on(&db, function, routes).await
    }

    /// Serves `routes` on an existing database (several functions, one database).
    pub async fn spawn_on(
        db: &TestDatabase,
        function: &'static str,
        routes: impl Into<FunctionRoutes>,
    ) -> Self {
        let pool = db.pool_as(Duty::of(function)).await;
        Self::spawn_with_pool(function, routes, pool, db.clone()).await
    }

    /// Serves `routes` with `pool` (e.g. one pointing at a stopped server).
    pub async fn spawn_with_pool(
        function: &'static str,
        routes: impl Into<FunctionRoutes>,
        pool: PgPool,
        db: TestDatabase,
    ) -> Self {
        Self::spawn_with(function, routes, pool, db, identity::authenticator()).await
    }

    /// Serves `routes` on `db`, checking tokens with `auth` (settings of its own).
    pub async fn spawn_on_with_auth(
        db: &TestDatabase,
        function: &'static str,
        routes: impl Into<FunctionRoutes>,
        auth: task_core::auth::Authenticator,
    ) -> Self {
        let pool = db.pool_as(Duty::of(function)).await;
        Self::spawn_with(function, routes, pool, db.clone(), auth).await
    }

    async fn spawn_with(
        function: &'static str,
        routes: impl Into<FunctionRoutes>,
        pool: PgPool,
        db: TestDatabase,
        auth: task_core::auth::Authenticator,
    ) -> Self {
        let mut state = AppState::new(function, pool);
        let client = if needs_sign_in(function) {
            state = state.with_auth(auth);
            client_as(DEFAULT_USER).await
        } else {
            reqwest::Client::new()
        };
        let background = state.background.clone();
        let app = build_app(routes, state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            client,
            db,
            background,
        }
    }

    /// A client that sends the access token of the demo account `username`.
    pub async fn client_as(&self, username: &str) -> reqwest::Client {
        client_as(username).await
    }

    /// Waits (up to 10 s) until the work started after the responses so
    /// far (event sends, marking them sent) is done.
    pub async fn settle(&self) {
        let start = std::time::Instant::now();
        while self.background.pending() > 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "background work did not finish"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Sends `body` as `application/json`.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &str,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }
}

/// A client sending `username`'s access token (signed in through the
/// test process's provider) with every request.
pub async fn client_as(username: &str) -> reqwest::Client {
    let token = identity::token(username).await;
    let mut headers = reqwest::header::HeaderMap::new();
    let mut bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("a token is ASCII");
    bearer.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// The password of the tests' login users (the test server is throw-away).
const TEST_USER_PASSWORD: &str = "test";

/// The login user of `duty` in the test server.
fn test_user(duty: Duty) -> String {
    format!("task_test_{}", duty.name())
}

/// Makes each duty's login user (roles are shared by the whole server: once
/// is enough, and a second time changes nothing).
async fn login_users(pool: &PgPool) {
    static MADE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    MADE.get_or_init(|| async {
        for duty in Duty::ALL {
            let user = test_user(duty);
            let statement = format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') \
                 THEN CREATE ROLE {user} LOGIN PASSWORD '{TEST_USER_PASSWORD}'; END IF; END $$; \
                 GRANT {} TO {user};",
                duty.role()
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(pool)
                .await
                .expect("create a duty's login user");
        }
    })
    .await;
}

/// The event publisher of `function`, sending to `sink` (none: events only go
/// to the outbox), with a send bound of `bound_ms`.
pub fn publisher(function: &'static str, sink: Option<&str>, bound_ms: u64) -> EventPublisher {
    EventPublisher::from_lookup(function, |name| match name {
        "K_SINK" => sink.map(String::from),
        "EVENT_SEND_TIMEOUT_MS" => Some(bound_ms.to_string()),
        _ => None,
    })
    .expect("a valid publisher configuration")
}

/// A URL where nothing listens: a sink that is down.
pub fn dead_url() -> String {
    let port = servers::ports::free_port().expect("a free port");
    format!("http://127.0.0.1:{port}/")
}

/// Asserts an `application/problem+json` response with `status`, returning its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert_eq!(content_type, "application/problem+json", "body: {text}");
    let body: Value = serde_json::from_str(&text).expect("a JSON problem");
    assert_eq!(body["status"], status);
    for member in ["type", "title", "detail"] {
        assert!(body[member].is_string(), "problem without {member}: {body}");
    }
    body
}

/// The `field` of every entry of a 422 problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
