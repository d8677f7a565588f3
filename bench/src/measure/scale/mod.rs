//! Cost as the data grows: every read route and a create, through the
//! gateway as one user, at 10,000 and at 1,000,000 tasks (side by side, on
//! two stacks: `side_by_side.rs`), and a task history of 20,000 large
//! entries. The tasks are all that user's, or spread over many users (the
//! user owning about the same number of tasks at both sizes, far apart):
//! counts and searches must stay fast either way. The text is made of
//! random words, so that the search indexes see a realistic spread of
//! trigrams.

mod side_by_side;

use std::time::Instant;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::stats::percentile;

pub use side_by_side::{Side, Timed, measure_side_by_side};

/// A word in a handful of tasks.
pub const RARE_WORD: &str = "zanzibarite";
/// A word in one task of ten.
pub const COMMON_WORD: &str = "meeting";
/// A word in no task.
pub const NO_MATCH: &str = "qxzqxzq";
/// Random words the text is drawn from: each is in about 1 task of 4,000.
const VOCABULARY: usize = 50_000;
/// Requests timed per route and size (after a few that warm up).
pub const SAMPLES: usize = 100;
const WARM_UP: usize = 5;
/// Tasks inserted per statement.
const BATCH: i64 = 100_000;
/// Entries in the long history.
pub const HISTORY_ENTRIES: i32 = 20_000;
/// How many users the tasks are spread over when they are not all one user's.
pub const SPREAD_OWNERS: i64 = 1_000;
/// How many of the tasks each growth of a spread table gives the user: the
/// same page of its newest at both sizes, so that the large size measures
/// the other users' tasks around them, not a fuller page. (With the user
/// owning its thousandth, it had 11 tasks at 10,000: a search for the
/// common word there found 1 where the large table found 100, and cost
/// 0.8 ms against 1.9, what a full page costs at any size.)
pub const SPREAD_USER_TASKS: i64 = 1_000;

/// One route at one table size. Fields in alphabetical order, the order
/// results.json has always had.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleRow {
    #[serde(deserialize_with = "crate::stats::nan_from_null")]
    pub median_ms: f64,
    /// How many users the tasks belong to; absent from results written
    /// before tasks had owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<i64>,
    #[serde(deserialize_with = "crate::stats::nan_from_null")]
    pub p99_ms: f64,
    pub response_bytes: usize,
    pub route: String,
    /// The tasks in the table, every user's.
    pub tasks: i64,
    /// The tasks of the user the requests were made as; absent from results
    /// written before tasks had owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_tasks: Option<i64>,
}

/// The table, the words the measured routes use, and whose tasks they are.
pub struct ScaleData {
    /// A word of the text in a few of the user's tasks at the small size
    /// (so that both sizes find it: at the large one, a page of its newest).
    word: String,
    /// The task with the long history.
    pub history_task: i64,
    /// Where a page in the middle of the long history starts.
    history_middle: String,
    /// The demo account every request is made as, and its `sub`.
    user: String,
    sub: String,
    /// How many users the tasks belong to (1: all `user`'s).
    owners: i64,
}

fn say(message: &str) {
    println!("bench | scale: {message}");
}

/// Random lowercase words, 4 to 10 letters, the same on every run.
fn vocabulary() -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(42);
    (0..VOCABULARY)
        .map(|_| {
            (0..rng.usize(4..=10))
                .map(|_| rng.alphabetic().to_ascii_lowercase())
                .collect()
        })
        .collect()
}

/// The vocabulary as a table the generator joins (an array parameter would
/// be walked from its start for every word drawn).
async fn store_vocabulary(pool: &PgPool, words: &[String]) -> anyhow::Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_words (n int PRIMARY KEY, word text NOT NULL)")
        .execute(pool)
        .await?;
    sqlx::query("TRUNCATE bench_words").execute(pool).await?;
    sqlx::query(
        "INSERT INTO bench_words SELECT n, word FROM unnest($1::text[]) WITH ORDINALITY AS w(word, n)",
    )
    .bind(words)
    .execute(pool)
    .await?;
    Ok(())
}

impl ScaleData {
    /// Empties the tasks, grows the table to `tasks` spread over `owners`
    /// users (`user`, whose `sub` is `sub`, among them), then writes the long
    /// history of a task of `user`'s.
    pub async fn start(
        pool: &PgPool,
        tasks: i64,
        user: &str,
        sub: &str,
        owners: i64,
    ) -> anyhow::Result<Self> {
        sqlx::query("TRUNCATE tasks").execute(pool).await?;
        // The long history of an earlier start: its task went with the table.
        sqlx::query(
            "DELETE FROM task_audit_log WHERE event_source = '/bench' AND event_id LIKE 'bench-history-%'",
        )
        .execute(pool)
        .await?;
        let mut data = Self {
            word: String::new(),
            history_task: 0,
            history_middle: String::new(),
            user: user.to_string(),
            sub: sub.to_string(),
            owners,
        };
        store_vocabulary(pool, &vocabulary()).await?;
        data.grow(pool, 0, tasks).await?;
        // The first word of the vocabulary in 2 to 5 of them (each word is
        // in about 3 of 10,000 tasks: a word drawn by number alone may be
        // in none, and its search at the small size found nothing).
        data.word = sqlx::query_scalar(
            "SELECT w.word FROM bench_words w \
             WHERE (SELECT count(*) FROM tasks \
                    WHERE owner = $1 AND search_text LIKE '%' || w.word || '%') BETWEEN 2 AND 5 \
             ORDER BY w.n LIMIT 1",
        )
        .bind(sub)
        .fetch_one(pool)
        .await?;
        data.history_task = sqlx::query_scalar(
            "INSERT INTO tasks (title, description, owner) VALUES ('A task changed 20,000 times', 'see its history', $1) RETURNING id",
        )
        .bind(sub)
        .fetch_one(pool)
        .await?;
        // Each entry as large as a valid change makes it: a 10,000-character
        // description, before and after; recorded as the user's own changes
        // are (its actor and owner, verified).
        sqlx::query(
            r#"
            INSERT INTO task_audit_log
                (event_type, task_id, task_sequence, event_data, event_id, event_source, event_time,
                 actor, owner, verified)
            SELECT 'task.updated', $1, n,
                   jsonb_build_object('data', jsonb_build_object(
                       'id', $1, 'version', n, 'title', 'A task changed 20,000 times',
                       'description', repeat(chr(65 + n % 26), 10000), 'status', 'pending',
                       'created_at', now(), 'updated_at', now(),
                       'changes', jsonb_build_object('description', jsonb_build_object(
                           'old', repeat(chr(66 + n % 25), 10000),
                           'new', repeat(chr(65 + n % 26), 10000))))),
                   'bench-history-' || n, '/bench', now(), $3, $3, true
            FROM generate_series(1, $2) AS n
            "#,
        )
        .bind(data.history_task)
        .bind(HISTORY_ENTRIES)
        .bind(sub)
        .execute(pool)
        .await?;
        // The statistics autovacuum has by the time a history is this long:
        // without them the planner takes the owner filter for a selective
        // one and sorts every entry of the task (~150 ms a page, not ~5).
        sqlx::query("ANALYZE task_audit_log").execute(pool).await?;
        let middle: (i32, i64) = sqlx::query_as(
            "SELECT task_sequence, id FROM task_audit_log WHERE task_id = $1 AND task_sequence = $2",
        )
        .bind(data.history_task)
        .bind(HISTORY_ENTRIES / 2)
        .fetch_one(pool)
        .await?;
        data.history_middle = format!("{}.{}", middle.0, middle.1);
        Ok(data)
    }

    /// Adds tasks `from + 1` to `to` (the long history's own task aside), then
    /// puts the rare word in ten of the user's, spread from its oldest to its
    /// newest (a task created without a description may be one of them).
    /// The tasks come in runs of ten, each run one user's: when spread, the
    /// user takes evenly spaced runs, [`SPREAD_USER_TASKS`] of the added
    /// tasks, and the other users the runs between, in turn. Either way one
    /// in ten of the user's tasks has the common word, as one in ten of the
    /// table's has.
    pub async fn grow(&self, pool: &PgPool, from: i64, to: i64) -> anyhow::Result<()> {
        let started = Instant::now();
        // Every run the user's, or one run in this many.
        let user_every = if self.owners == 1 {
            1
        } else {
            ((to - from) / SPREAD_USER_TASKS).max(1)
        };
        let mut have = from;
        while have < to {
            let next = (have + BATCH).min(to);
            // The same words every run, from a seed of the batch's place:
            // drawn afresh, the word of the text was another each run (9
            // letters in one, 5 in the next), and the index's cost with it.
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT setseed($1)")
                .bind((next % 1_000_000) as f64 / 1_000_000.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                r#"
                INSERT INTO tasks (title, description, status, owner)
                SELECT 'Task ' || g.n || ' ' || (
                           SELECT string_agg(w.word, ' ')
                           FROM (SELECT 1 + (random() * ($3 - 1) + g.n * 0)::int AS r
                                 FROM generate_series(1, 2)) AS pick
                           JOIN bench_words w ON w.n = pick.r),
                       (SELECT string_agg(w.word, ' ')
                        FROM (SELECT 1 + (random() * ($3 - 1) + g.n * 0)::int AS r
                              FROM generate_series(1, 12)) AS pick
                        JOIN bench_words w ON w.n = pick.r)
                           || CASE WHEN g.n % 10 = 0 THEN ' meeting' ELSE '' END,
                       (ARRAY['pending', 'in_progress', 'complete'])[1 + g.n % 3],
                       CASE WHEN (g.n / 10) % $4 = 0 THEN $5
                            ELSE 'bench-user-' || (g.n / 10) % greatest($6 - 1, 1) END
                FROM generate_series($1::bigint + 1, $2::bigint) AS g(n)
                "#,
            )
            .bind(have)
            .bind(next)
            .bind(VOCABULARY as i32)
            .bind(user_every)
            .bind(&self.sub)
            .bind(self.owners)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            have = next;
            say(&format!(
                "{have} tasks ({:.0} s)",
                started.elapsed().as_secs_f64()
            ));
        }
        self.place_rare_word(pool).await?;
        sqlx::query("VACUUM ANALYZE tasks").execute(pool).await?;
        Ok(())
    }

    async fn tasks(&self, pool: &PgPool) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM tasks")
            .fetch_one(pool)
            .await?)
    }

    /// The rare word in ten of the user's tasks, spread from its oldest to
    /// its newest (a task created without a description may be one of them).
    async fn place_rare_word(&self, pool: &PgPool) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE tasks SET description = replace(description, ' zanzibarite', '') \
             WHERE description LIKE '%zanzibarite%'",
        )
        .execute(pool)
        .await?;
        let mine = self.user_tasks(pool).await?;
        for k in 0..10 {
            sqlx::query(
                "UPDATE tasks SET description = coalesce(description, '') || ' zanzibarite' \
                 WHERE id = (SELECT id FROM tasks WHERE owner = $2 ORDER BY id OFFSET $1 LIMIT 1)",
            )
            .bind(k * (mine - 1) / 9)
            .bind(&self.sub)
            .execute(pool)
            .await?;
        }
        Ok(())
    }

    /// How many of the table's tasks are the user's.
    async fn user_tasks(&self, pool: &PgPool) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM tasks WHERE owner = $1")
                .bind(&self.sub)
                .fetch_one(pool)
                .await?,
        )
    }

    /// The figures of each route's requests.
    pub fn rows(&self, timed: &[Timed]) -> Vec<ScaleRow> {
        timed.iter().map(|t| self.row(t)).collect()
    }

    fn row(&self, timed: &Timed) -> ScaleRow {
        let times = &timed.times;
        let row = ScaleRow {
            route: timed.route.clone(),
            tasks: timed.tasks,
            owners: Some(self.owners),
            user_tasks: Some(timed.user_tasks),
            median_ms: percentile(times, 50.0),
            p99_ms: percentile(times, 99.0),
            response_bytes: timed.response_bytes,
        };
        let user_tasks = timed.user_tasks;
        let tasks = timed.tasks;
        say(&format!(
            "{:<70} {:>9} tasks ({user_tasks} {}'s, {} owners)  median {:>7.2} ms  p99 {:>7.2} ms  {} bytes",
            row.route, tasks, self.user, self.owners, row.median_ms, row.p99_ms, row.response_bytes
        ));
        row
    }
}
