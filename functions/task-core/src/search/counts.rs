//! The counts of a search (`GET /api/task-counts?q=`), stopping at
//! [`SEARCH_COUNT_CAP`]: found the two ways a search's page is, chosen by
//! the same cost model ([`plan`]), each statement planned for its own
//! values ([`planned_for_its_values`]).

use sqlx::PgConnection;

use super::{FIRST_WINDOW, Plan, density, index_scope, indexes_only, plan, window_end};
use crate::db::planned_for_its_values;
use crate::list::{SEARCH_COUNT_CAP, TaskCounts};
use crate::repository::{TaskRepository, like_pattern};
use crate::task::TaskStatus;

/// Relative cost of a match counted through the trigram index (its place
/// in the bitmap; only the first [`SEARCH_COUNT_CAP`] are read) to a row
/// read and compared while walking (measured at 1,000,000 tasks: about
/// 0.23 µs against 0.46 µs).
const COUNT_INDEX_COST: f64 = 0.5;

impl TaskRepository {
    /// The counts of the tasks matching `search`, counted up to
    /// [`SEARCH_COUNT_CAP`] (then `exact` is false): from the newest tasks
    /// when the word is common enough to reach the cap among them, else from
    /// the trigram index (whose cost grows with the matches, not the cap).
    pub(crate) async fn count_matching(
        &self,
        owner: Option<&str>,
        search: &str,
    ) -> Result<TaskCounts, sqlx::Error> {
        let pattern = like_pattern(search);
        let wanted = SEARCH_COUNT_CAP + 1;
        let mut conn = self.pool().acquire().await?;
        let first = count_newest(&mut conn, owner, &pattern, None, FIRST_WINDOW, wanted).await?;
        if first.found() >= wanted || first.read < FIRST_WINDOW {
            return Ok(capped(first.statuses));
        }
        let scope = index_scope(&mut conn, owner).await?;
        let density = density(first.found(), first.read);
        let still = wanted - first.found();
        let plan = plan(still, density, scope.rows(density, COUNT_INDEX_COST));
        if let (Plan::Walk(rows), Some(oldest)) = (plan, first.oldest) {
            let more = count_newest(&mut conn, owner, &pattern, Some(oldest), rows, still).await?;
            if more.found() >= still || more.read < rows {
                let mut statuses = first.statuses;
                statuses.extend(more.statuses);
                return Ok(capped(statuses));
            }
        }
        count_from_index(&mut conn, owner, &pattern, wanted, scope.by_owner)
            .await
            .map(capped)
    }
}

/// Counts from the statuses of the matches; past the cap they are lower
/// bounds.
fn capped(statuses: Vec<TaskStatus>) -> TaskCounts {
    let mut counts: TaskCounts = statuses.into_iter().map(|status| (status, 1)).collect();
    counts.exact = counts.total <= SEARCH_COUNT_CAP;
    counts
}

/// What a walk of the newest tasks counted.
struct Counted {
    /// The status of each match, at most the number wanted.
    statuses: Vec<TaskStatus>,
    /// How many tasks were read.
    read: i64,
    /// The oldest task read, where a walk goes on from (known when it did
    /// not find all it wanted).
    oldest: Option<i64>,
}

impl Counted {
    fn found(&self) -> i64 {
        self.statuses.len() as i64
    }
}

/// The statuses of the first `wanted` matches among the newest `rows` tasks
/// older than `before` (if given): the walk stops as soon as it has them.
/// Only a walk that did not find them all asks how many tasks it read, and
/// where it ended.
async fn count_newest(
    conn: &mut PgConnection,
    owner: Option<&str>,
    pattern: &str,
    before: Option<i64>,
    rows: i64,
    wanted: i64,
) -> Result<Counted, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    planned_for_its_values(&mut tx).await?;
    let statuses = sqlx::query_scalar!(
        r#"
        SELECT status AS "status!: TaskStatus"
        FROM (SELECT status, title, description, search_text FROM tasks
              WHERE ($4::text IS NULL OR owner = $4)
                AND ($5::bigint IS NULL OR id < $5)
              ORDER BY id DESC LIMIT $2) AS newest
        WHERE search_text LIKE lower($1) ESCAPE '\'
          AND (strpos($1, E'\n') = 0
               OR lower(title) LIKE lower($1) ESCAPE '\'
               OR lower(description) LIKE lower($1) ESCAPE '\')
        LIMIT $3
        "#,
        pattern,
        rows,
        wanted,
        owner,
        before,
    )
    .fetch_all(&mut *tx)
    .await?;
    let (read, oldest) = if statuses.len() as i64 >= wanted {
        (rows, None)
    } else {
        // The same tasks as the walk's subquery, by id only.
        window_end(&mut tx, None, before, owner, rows).await?
    };
    tx.commit().await?;
    Ok(Counted {
        statuses,
        read,
        oldest,
    })
}

/// The statuses of the first `wanted` matches the trigram index finds (the
/// owner's as [`super::from_index`] finds them).
async fn count_from_index(
    conn: &mut PgConnection,
    owner: Option<&str>,
    pattern: &str,
    wanted: i64,
    by_owner: bool,
) -> Result<Vec<TaskStatus>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    indexes_only(&mut tx).await?;
    let statuses = sqlx::query_scalar!(
        r#"
        SELECT status AS "status!: TaskStatus"
        FROM tasks
        WHERE search_text LIKE lower($1) ESCAPE '\'
          AND (strpos($1, E'\n') = 0
               OR lower(title) LIKE lower($1) ESCAPE '\'
               OR lower(description) LIKE lower($1) ESCAPE '\')
          AND ($3::text IS NULL
               OR CASE WHEN $4 THEN owner = $3 COLLATE "C" ELSE (owner = $3) IS TRUE END)
        LIMIT $2
        "#,
        pattern,
        wanted,
        owner,
        by_owner,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::super::IndexScope;
    use super::*;

    #[test]
    fn a_count_walks_only_while_that_reads_less_than_the_index_would() {
        let all = IndexScope {
            everyone: 1_000_000,
            fetched: 1_000_000,
            by_owner: false,
        };
        let index = |density| all.rows(density, COUNT_INDEX_COST);
        // One in twenty among a million: the cap is within about 3,000 rows,
        // the index would find 50,000.
        assert_eq!(plan(101, 0.05, index(0.05)), Plan::Walk(3030));
        // One in a hundred: 15,000 rows to walk, 10,000 matches in the index.
        assert_eq!(plan(101, 0.01, index(0.01)), Plan::Index);
    }

    #[test]
    fn a_common_word_is_walked_to_even_for_a_user_of_few_tasks() {
        // A user of 2,000 tasks among 1,000,000, 50 matches in its newest
        // 500: its 150 matches would be few to count from the index, but
        // the index reads the word's entries for the whole table (100,000
        // tasks; 1.9–3.9 ms measured), and the cap is within 800 more rows.
        let spread = IndexScope {
            everyone: 1_000_000,
            fetched: 2_000,
            by_owner: true,
        };
        assert_eq!(
            plan(51, 0.1, spread.rows(0.1, COUNT_INDEX_COST)),
            Plan::Walk(765)
        );
        // Of a rare word, the few the window found: the index.
        assert_eq!(
            plan(99, 0.004, spread.rows(0.004, COUNT_INDEX_COST)),
            Plan::Index
        );
    }
}
