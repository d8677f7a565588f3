//! Search (`q`): a case-insensitive substring of the title or the
//! description, newest first, at a cost that does not grow with the table.
//!
//! Two ways to find a page of matches, each cheap for a different word:
//! - **walk the newest tasks** (the id index, backwards) until the page is
//!   full: cheap for a common word, which fills a page within a few rows;
//! - **ask the trigram index** for every match, then keep the newest: cheap
//!   for a rare word, which has few matches to fetch.
//!
//! Both compare the lowered pattern with a task's `search_text`: its title
//! and description, lowered once when the task is written (a comparison of
//! bytes, several times cheaper than ILIKE lowering both sides on every row).
//!
//! Every search first walks the newest [`FIRST_WINDOW`] candidates. What it
//! finds there tells how common the word is, and so which way finishes the
//! page for less (a small cost model, in rows read): walking on from where
//! the window ended, or the index. The counts of a search stop at a hundred
//! and are found the same two ways (`counts.rs`): a common word reaches the
//! cap within the newest tasks, a rare one is counted from the index.

mod counts;

use sqlx::{PgConnection, Postgres, Transaction};

use crate::db::{PLANNED_FOR_ITS_VALUES, planned_for_its_values};
use crate::list::TaskFilter;
use crate::repository::{TaskRepository, like_pattern};
use crate::task::{Task, TaskStatus};

/// How many of the newest candidates every search, and every count of one,
/// reads first. Small, because a walk goes on from where it ended: a common
/// word's page costs no more for it, and a rare word (for the index anyway)
/// reads 500 rows before the index rather than 2,000: for a user whose
/// tasks are spread over a table of 1,000,000, that is ~1.5 ms of random
/// heap reads.
const FIRST_WINDOW: i64 = 500;
/// The most rows a walk reads before the index is the better way.
const WALK_LIMIT: i64 = 100_000;
/// Relative cost of a row fetched through the trigram index (a random heap
/// access and a recheck) to a row read while walking the id index (measured
/// at 1,000,000 tasks: about 6 µs against 0.5 µs).
const INDEX_ROW_COST: f64 = 12.0;
/// Relative cost of one task of the whole table listed under the word's
/// trigrams, which the index reads whoever's tasks it narrows to: narrowed
/// to one user's 1,000 tasks, a word in one task of ten cost 1.9–3.9 ms at
/// 1,000,000 tasks (two measurements; 20–40 ns for each of its 100,000
/// tasks, 0.04–0.09 of a walked row: this is the dearer end), a rare word
/// 0.06 ms.
const INDEX_ENTRY_COST: f64 = 0.1;

impl TaskRepository {
    pub(crate) async fn search(
        &self,
        filter: &TaskFilter,
        search: &str,
    ) -> Result<Vec<Task>, sqlx::Error> {
        let pattern = like_pattern(search);
        let mut conn = self.pool().acquire().await?;
        let first = walk(&mut conn, filter, &pattern, FIRST_WINDOW).await?;
        if first.tasks.len() as i64 >= filter.limit || first.read < FIRST_WINDOW {
            return Ok(first.tasks);
        }
        let scope = index_scope(&mut conn, filter.owner.as_deref()).await?;
        let density = density(first.tasks.len() as i64, first.read);
        let wanted = filter.limit - first.tasks.len() as i64;
        let plan = plan(wanted, density, scope.rows(density, INDEX_ROW_COST));
        if let (Plan::Walk(rows), Some(oldest)) = (plan, first.oldest) {
            let rest = TaskFilter {
                before_id: Some(oldest),
                limit: wanted,
                ..filter.clone()
            };
            let more = walk(&mut conn, &rest, &pattern, rows).await?;
            if more.tasks.len() as i64 >= wanted || more.read < rows {
                let mut tasks = first.tasks;
                tasks.extend(more.tasks);
                return Ok(tasks);
            }
        }
        from_index(&mut conn, filter, &pattern, scope.by_owner).await
    }
}

/// What the trigram index would read for `owner`'s search (every user's
/// when `None`), from the counters, in one statement. It narrows by owner
/// too, but not for an owner of most of the table's tasks: its entry in the
/// index then lists most of the table, and intersecting that list cost more
/// (7 ms for a rare word, owner of all of 1,000,000 tasks, against 0.6 ms
/// unnarrowed) than checking the owner of each match, as the matches of
/// anyone else are then at most as many as the owner's.
async fn index_scope(
    conn: &mut PgConnection,
    owner: Option<&str>,
) -> Result<IndexScope, sqlx::Error> {
    let totals = sqlx::query!(
        r#"
        SELECT (SELECT coalesce(sum(count), 0) FROM task_owner_status_counts
                WHERE owner = $1)::bigint AS "owners!",
               (SELECT coalesce(sum(count), 0) FROM task_status_counts)::bigint AS "everyone!"
        "#,
        owner,
    )
    .fetch_one(conn)
    .await?;
    let by_owner = owner.is_some() && totals.owners * 2 < totals.everyone;
    Ok(IndexScope {
        everyone: totals.everyone,
        fetched: if by_owner {
            totals.owners
        } else {
            totals.everyone
        },
        by_owner,
    })
}

/// What the trigram index reads to find a word's matches.
struct IndexScope {
    /// The tasks of the table, every user's: the index lists the word's
    /// among them whoever's it narrows to.
    everyone: i64,
    /// The tasks whose matches are fetched from the heap (of every status:
    /// a status is checked on each match).
    fetched: i64,
    by_owner: bool,
}

impl IndexScope {
    /// The index's cost, in walked rows, for a word in `density` of the
    /// tasks (as found in the first window), each fetched match costing
    /// `per_match`.
    fn rows(&self, density: f64, per_match: f64) -> f64 {
        density * (self.fetched as f64 * per_match + self.everyone as f64 * INDEX_ENTRY_COST)
    }
}

/// The share of the candidates the word is in, as the first window
/// suggests, counting one match fewer than it found: the newest tasks are
/// where a word just written is (a search for the task one just created),
/// so one match there says little of the rest of the table. Counted whole,
/// at 1,000,000 tasks a page of 10 for a word in 259 tasks, the newest one
/// of them, walked 7,500 more rows (10 ms) before the index found the
/// rest: 18 ms in all.
fn density(found: i64, read: i64) -> f64 {
    (found - 1).max(0) as f64 / read.max(1) as f64
}

/// How to finish a page after the first window.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    /// Walk this many of the newest candidates.
    Walk(i64),
    Index,
}

/// A walk to `wanted` matches reads about `wanted / density` rows; the
/// index costs `index_rows` walked rows ([`IndexScope::rows`]). A density
/// of 0 (at most one match in the window, see [`density`]): the word is
/// rare, the index wins.
fn plan(wanted: i64, density: f64, index_rows: f64) -> Plan {
    if density <= 0.0 {
        return Plan::Index;
    }
    // Half again the rows the density suggests, so one walk usually gets them.
    let walk = ((wanted as f64 / density) * 1.5).ceil() as i64;
    if walk <= WALK_LIMIT && (walk as f64) < index_rows {
        Plan::Walk(walk)
    } else {
        Plan::Index
    }
}

/// What a walk found.
struct Walked {
    /// The matches, at most a page.
    tasks: Vec<Task>,
    /// How many candidates were read.
    read: i64,
    /// The oldest candidate read, where a walk goes on from (known when
    /// the page did not fill).
    oldest: Option<i64>,
}

/// The matches among the newest `rows` candidates (status and cursor
/// applied), at most a page. The walk stops at a full page: a common word
/// is found within the first few hundred rows, and reading the whole
/// window first (as a materialized list) cost a user with 1,000 tasks
/// 1.3 ms against 0.4 (measured at 1,000,000 tasks). Only a page that did
/// not fill asks how many candidates the window held, and where it ended.
async fn walk(
    conn: &mut PgConnection,
    filter: &TaskFilter,
    pattern: &str,
    rows: i64,
) -> Result<Walked, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    planned_for_its_values(&mut tx).await?;
    let status = filter.status.map(TaskStatus::as_str);
    let owner = filter.owner.as_deref();
    // The LIMIT keeps the match out of the subquery: the newest `rows`
    // candidates are walked by id, never looked up by the text.
    let tasks = sqlx::query_as!(
        Task,
        r#"
        SELECT id, title, description, status AS "status: TaskStatus",
               created_at, updated_at, version, owner
        FROM (
            SELECT * FROM tasks
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::bigint IS NULL OR id < $2)
              AND ($6::text IS NULL OR owner = $6)
            ORDER BY id DESC
            LIMIT $5
        ) AS newest
        WHERE search_text LIKE lower($3) ESCAPE '\'
          AND (strpos($3, E'\n') = 0
               OR lower(title) LIKE lower($3) ESCAPE '\'
               OR lower(description) LIKE lower($3) ESCAPE '\')
        ORDER BY id DESC
        LIMIT $4
        "#,
        status,
        filter.before_id,
        pattern,
        filter.limit,
        rows,
        owner,
    )
    .fetch_all(&mut *tx)
    .await?;
    let (read, oldest) = if tasks.len() as i64 >= filter.limit {
        // The callers stop at a full page and read neither.
        (rows, None)
    } else {
        // The same candidates as the page's subquery (a `query!` takes one
        // literal, so the filter is written twice), by id only.
        window_end(&mut tx, status, filter.before_id, owner, rows).await?
    };
    tx.commit().await?;
    Ok(Walked {
        tasks,
        read,
        oldest,
    })
}

/// How many of the newest `rows` candidates there are (status, cursor and
/// owner applied) and the oldest of them, where a walk that did not find
/// all it wanted goes on from.
async fn window_end(
    conn: &mut PgConnection,
    status: Option<&str>,
    before: Option<i64>,
    owner: Option<&str>,
    rows: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    let window = sqlx::query!(
        r#"
        SELECT count(*) AS "read!", min(id) AS oldest FROM (
            SELECT id FROM tasks
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::bigint IS NULL OR id < $2)
              AND ($4::text IS NULL OR owner = $4)
            ORDER BY id DESC
            LIMIT $3
        ) AS candidates
        "#,
        status,
        before,
        rows,
        owner,
    )
    .fetch_one(conn)
    .await?;
    Ok((window.read, window.oldest))
}

/// Every match from the trigram index, then the newest page of them; the
/// owner's among them found by the index when `by_owner` (compared under
/// collation "C", as only the trigram index can: a btree index on owner
/// would read every task of the owner's), else checked on each match
/// (`IS TRUE` keeps a condition out of an index scan).
async fn from_index(
    conn: &mut PgConnection,
    filter: &TaskFilter,
    pattern: &str,
    by_owner: bool,
) -> Result<Vec<Task>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    indexes_only(&mut tx).await?;
    let tasks = sqlx::query_as!(
        Task,
        r#"
        SELECT id, title, description, status AS "status: TaskStatus",
               created_at, updated_at, version, owner
        FROM tasks
        WHERE search_text LIKE lower($3) ESCAPE '\'
          AND (strpos($3, E'\n') = 0
               OR lower(title) LIKE lower($3) ESCAPE '\'
               OR lower(description) LIKE lower($3) ESCAPE '\')
          AND ($1::text IS NULL OR status = $1)
          AND ($2::bigint IS NULL OR id < $2)
          AND ($5::text IS NULL
               OR CASE WHEN $6 THEN owner = $5 COLLATE "C" ELSE (owner = $5) IS TRUE END)
        ORDER BY id DESC
        LIMIT $4
        "#,
        filter.status.map(TaskStatus::as_str),
        filter.before_id,
        pattern,
        filter.limit,
        filter.owner.as_deref(),
        by_owner,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(tasks)
}

/// In this transaction the planner may only use bitmap scans (and plans
/// each statement for its values, as [`planned_for_its_values`]), which for a
/// search means the trigram index: it underestimates what LIKE costs per
/// row, and would otherwise read the whole table (or walk the id index
/// through it) for a rare word.
async fn indexes_only(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; \
         SET LOCAL enable_indexonlyscan = off; {PLANNED_FOR_ITS_VALUES}"
    )))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One user's tasks, `of` the table's.
    fn scope(mine: i64, of: i64) -> IndexScope {
        IndexScope {
            everyone: of,
            fetched: mine,
            by_owner: mine < of,
        }
    }

    #[test]
    fn a_common_word_is_walked_to_and_a_rare_one_fetched() {
        let all = scope(1_000_000, 1_000_000);
        let index = |density| all.rows(density, INDEX_ROW_COST);
        // No match among the newest: rare.
        assert_eq!(plan(100, 0.0, index(0.0)), Plan::Index);
        // One task in ten: a page is within about 1,000 rows.
        assert_eq!(plan(100, 0.1, index(0.1)), Plan::Walk(1500));
        // One in 2,000 among a million: 500 rows to fetch beat 300,000 to walk.
        assert_eq!(plan(100, 0.0005, index(0.0005)), Plan::Index);
        // In a small table the few matches are cheaper to fetch.
        let small = scope(20_000, 20_000);
        assert_eq!(
            plan(100, 0.01, small.rows(0.01, INDEX_ROW_COST)),
            Plan::Index
        );
        assert_eq!(plan(100, 0.02, index(0.02)), Plan::Walk(7500));
    }

    #[test]
    fn one_match_among_the_newest_is_not_taken_for_a_common_word() {
        let all = scope(1_000_000, 1_000_000);
        let plan_for = |found| {
            let density = density(found, FIRST_WINDOW);
            plan(10, density, all.rows(density, INDEX_ROW_COST))
        };
        // The task just written: the index.
        assert_eq!(plan_for(1), Plan::Index);
        // Several: common enough to walk to a page of 10.
        assert_eq!(plan_for(11), Plan::Walk(750));
    }
}
