//! Search (`q`): a case-insensitive substring of the title or the
//! description, newest first, at a cost that does not grow with the table.
//!
//! Two ways to find a page of matches, each cheap for a different word:
//! - **walk the newest tasks** (the id index, backwards) until the page is
//!   full: cheap for a common word, which fills a page within a few rows;
//! - **ask the trigram indexes** for every match, then keep the newest: cheap
//!   for a rare word, which has few matches to fetch.
//!
//! Every search first walks the newest [`SEARCH_WINDOW`] candidates. What it
//! finds there tells how common the word is, and so which way finishes the
//! page for less (a small cost model, in rows read). The counts of a search
//! stop at [`SEARCH_COUNT_CAP`] and are found the same two ways: a common
//! word reaches the cap within the newest tasks, a rare one is counted from
//! the indexes.

use sqlx::{PgConnection, Postgres, Transaction};

use crate::list::{SEARCH_COUNT_CAP, TaskCounts, TaskFilter};
use crate::repository::{TaskRepository, like_pattern};
use crate::task::{Task, TaskStatus};

/// How many of the newest candidates every search reads first.
const SEARCH_WINDOW: i64 = 2000;
/// The most rows a walk reads before the indexes are the better way.
const WALK_LIMIT: i64 = 100_000;
/// Relative cost of a row fetched through the trigram indexes (a random
/// heap access and a recheck) to a row read while walking the id index
/// (measured: about 7 µs against 1.7 µs).
const INDEX_ROW_COST: f64 = 4.0;
/// Relative cost of a match counted through the trigram indexes (its place
/// in the bitmap; only the first [`SEARCH_COUNT_CAP`] are read) to a row
/// read and compared while walking (measured at 1,000,000 tasks: about
/// 0.5 µs against 3.9 µs).
const COUNT_INDEX_COST: f64 = 0.15;

impl TaskRepository {
    pub(crate) async fn search(
        &self,
        filter: &TaskFilter,
        search: &str,
    ) -> Result<Vec<Task>, sqlx::Error> {
        let pattern = like_pattern(search);
        let mut conn = self.pool().acquire().await?;
        let (found, read) = walk(&mut conn, filter, &pattern, SEARCH_WINDOW).await?;
        if found.len() as i64 >= filter.limit || read < SEARCH_WINDOW {
            return Ok(found);
        }
        let candidates = self.count_all().await?.of(filter.status);
        let density = found.len() as f64 / read as f64;
        match plan(filter.limit, density, candidates, INDEX_ROW_COST) {
            Plan::Walk(rows) => {
                let (found, read) = walk(&mut conn, filter, &pattern, rows).await?;
                if found.len() as i64 >= filter.limit || read < rows {
                    return Ok(found);
                }
                from_indexes(&mut conn, filter, &pattern).await
            }
            Plan::Indexes => from_indexes(&mut conn, filter, &pattern).await,
        }
    }

    /// The counts of the tasks matching `search`, counted up to
    /// [`SEARCH_COUNT_CAP`] (then `exact` is false): from the newest tasks
    /// when the word is common enough to reach the cap among them, else from
    /// the trigram indexes (whose cost grows with the matches, not the cap).
    pub(crate) async fn count_matching(&self, search: &str) -> Result<TaskCounts, sqlx::Error> {
        let pattern = like_pattern(search);
        let wanted = SEARCH_COUNT_CAP + 1;
        let candidates = self.count_all().await?.total;
        let mut conn = self.pool().acquire().await?;
        let found = count_newest(&mut conn, &pattern, SEARCH_WINDOW, wanted).await?;
        let read = SEARCH_WINDOW.min(candidates);
        if found.total >= wanted || read >= candidates {
            return Ok(capped(found));
        }
        let density = found.total as f64 / read as f64;
        if let Plan::Walk(rows) = plan(wanted, density, candidates, COUNT_INDEX_COST) {
            let found = count_newest(&mut conn, &pattern, rows, wanted).await?;
            if found.total >= wanted || rows >= candidates {
                return Ok(capped(found));
            }
        }
        count_from_indexes(&mut conn, &pattern, wanted)
            .await
            .map(capped)
    }
}

/// Counts past the cap are lower bounds.
fn capped(mut counts: TaskCounts) -> TaskCounts {
    counts.exact = counts.total <= SEARCH_COUNT_CAP;
    counts
}

/// The statuses of the first `wanted` matches among the newest `rows` tasks:
/// the walk stops as soon as it has them.
async fn count_newest(
    conn: &mut PgConnection,
    pattern: &str,
    rows: i64,
    wanted: i64,
) -> Result<TaskCounts, sqlx::Error> {
    let statuses = sqlx::query_scalar!(
        r#"
        SELECT status AS "status!: TaskStatus"
        FROM (SELECT status, title, description FROM tasks ORDER BY id DESC LIMIT $2) AS newest
        WHERE title ILIKE $1 ESCAPE '\' OR description ILIKE $1 ESCAPE '\'
        LIMIT $3
        "#,
        pattern,
        rows,
        wanted,
    )
    .fetch_all(conn)
    .await?;
    let mut counts = TaskCounts::default();
    for status in statuses {
        counts.add(status, 1);
    }
    Ok(counts)
}

/// The statuses of the first `wanted` matches the trigram indexes find.
async fn count_from_indexes(
    conn: &mut PgConnection,
    pattern: &str,
    wanted: i64,
) -> Result<TaskCounts, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    indexes_only(&mut tx).await?;
    let rows = sqlx::query!(
        r#"
        SELECT status AS "status!: TaskStatus", count(*) AS "count!"
        FROM (SELECT status FROM tasks
              WHERE title ILIKE $1 ESCAPE '\' OR description ILIKE $1 ESCAPE '\'
              LIMIT $2) AS matching
        GROUP BY status
        "#,
        pattern,
        wanted,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut counts = TaskCounts::default();
    for row in rows {
        counts.add(row.status, row.count);
    }
    Ok(counts)
}

/// How to finish a page after the first window.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    /// Walk this many of the newest candidates.
    Walk(i64),
    Indexes,
}

/// A walk to `wanted` matches reads about `wanted / density` rows; the
/// indexes find about `density * candidates`, each costing `index_cost`
/// walked rows. No match in the window: the word is rare, the indexes win.
fn plan(wanted: i64, density: f64, candidates: i64, index_cost: f64) -> Plan {
    if density <= 0.0 {
        return Plan::Indexes;
    }
    // Half again the rows the density suggests, so one walk usually gets them.
    let walk = ((wanted as f64 / density) * 1.5).ceil() as i64;
    let fetch = density * candidates as f64 * index_cost;
    if walk <= WALK_LIMIT && (walk as f64) < fetch {
        Plan::Walk(walk)
    } else {
        Plan::Indexes
    }
}

/// The matches among the newest `rows` candidates (status and cursor
/// applied), at most a page; and how many candidates were read.
async fn walk(
    conn: &mut PgConnection,
    filter: &TaskFilter,
    pattern: &str,
    rows: i64,
) -> Result<(Vec<Task>, i64), sqlx::Error> {
    let result = sqlx::query!(
        r#"
        WITH newest AS MATERIALIZED (
            SELECT * FROM tasks
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::bigint IS NULL OR id < $2)
            ORDER BY id DESC
            LIMIT $5
        )
        SELECT (SELECT count(*) FROM newest) AS "read!",
               m.id AS "id?", m.title AS "title?", m.description,
               m.status AS "status?: TaskStatus", m.created_at AS "created_at?",
               m.updated_at AS "updated_at?", m.version AS "version?"
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT * FROM newest
            WHERE title ILIKE $3 ESCAPE '\' OR description ILIKE $3 ESCAPE '\'
            ORDER BY id DESC
            LIMIT $4
        ) AS m ON true
        "#,
        filter.status.map(TaskStatus::as_str),
        filter.before_id,
        pattern,
        filter.limit,
        rows,
    )
    .fetch_all(conn)
    .await?;
    let read = result.first().map_or(0, |row| row.read);
    let tasks = result
        .into_iter()
        .filter_map(|row| {
            Some(Task {
                id: row.id?,
                title: row.title?,
                description: row.description,
                status: row.status?,
                created_at: row.created_at?,
                updated_at: row.updated_at?,
                version: row.version?,
            })
        })
        .collect();
    Ok((tasks, read))
}

/// Every match from the trigram indexes, then the newest page of them.
async fn from_indexes(
    conn: &mut PgConnection,
    filter: &TaskFilter,
    pattern: &str,
) -> Result<Vec<Task>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    indexes_only(&mut tx).await?;
    let tasks = sqlx::query_as!(
        Task,
        r#"
        SELECT id, title, description, status AS "status: TaskStatus",
               created_at, updated_at, version
        FROM tasks
        WHERE (title ILIKE $3 ESCAPE '\' OR description ILIKE $3 ESCAPE '\')
          AND ($1::text IS NULL OR status = $1)
          AND ($2::bigint IS NULL OR id < $2)
        ORDER BY id DESC
        LIMIT $4
        "#,
        filter.status.map(TaskStatus::as_str),
        filter.before_id,
        pattern,
        filter.limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(tasks)
}

/// In this transaction the planner may only use bitmap scans, which for a
/// search means the trigram indexes: it underestimates what ILIKE costs per
/// row, and would otherwise read the whole table (or walk the id index
/// through it) for a rare word.
async fn indexes_only(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; \
         SET LOCAL enable_indexonlyscan = off",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_common_word_is_walked_to_and_a_rare_one_fetched() {
        // No match among the newest: rare.
        assert_eq!(plan(100, 0.0, 1_000_000, INDEX_ROW_COST), Plan::Indexes);
        // One task in ten: a page is within about 1,000 rows.
        assert_eq!(plan(100, 0.1, 1_000_000, INDEX_ROW_COST), Plan::Walk(1500));
        // One in 2,000 among a million: 500 rows to fetch beat 300,000 to walk.
        assert_eq!(plan(100, 0.0005, 1_000_000, INDEX_ROW_COST), Plan::Indexes);
        // In a small table the few matches are cheaper to fetch.
        assert_eq!(plan(100, 0.01, 20_000, INDEX_ROW_COST), Plan::Indexes);
        assert_eq!(plan(100, 0.02, 1_000_000, INDEX_ROW_COST), Plan::Walk(7500));
    }

    #[test]
    fn a_count_walks_only_while_that_reads_less_than_the_indexes_would() {
        // One in twenty among a million: the cap is within about 3,000 rows,
        // the indexes would find 50,000.
        assert_eq!(
            plan(101, 0.05, 1_000_000, COUNT_INDEX_COST),
            Plan::Walk(3030)
        );
        // One in a hundred: 15,000 rows to walk, 10,000 matches in the index.
        assert_eq!(plan(101, 0.01, 1_000_000, COUNT_INDEX_COST), Plan::Indexes);
    }
}
