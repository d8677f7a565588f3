//! The counts of a search (`GET /api/task-counts?q=`), stopping at
//! [`SEARCH_COUNT_CAP`]: found the two ways a search's page is, chosen by
//! the same cost model ([`plan`]), each statement planned for its own
//! values ([`planned_for_its_values`]).

use sqlx::PgConnection;

use super::{COUNT_WINDOW, Plan, indexes_only, plan};
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
        let candidates = self.count_all(owner).await?.total;
        let mut conn = self.pool().acquire().await?;
        let found = count_newest(&mut conn, owner, &pattern, COUNT_WINDOW, wanted).await?;
        let read = COUNT_WINDOW.min(candidates);
        if found.total >= wanted || read >= candidates {
            return Ok(capped(found));
        }
        let density = found.total as f64 / read as f64;
        if let Plan::Walk(rows) = plan(wanted, density, candidates, COUNT_INDEX_COST) {
            let found = count_newest(&mut conn, owner, &pattern, rows, wanted).await?;
            if found.total >= wanted || rows >= candidates {
                return Ok(capped(found));
            }
        }
        let by_owner = self.index_narrows_by_owner(owner, candidates).await?;
        count_from_index(&mut conn, owner, &pattern, wanted, by_owner)
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
    owner: Option<&str>,
    pattern: &str,
    rows: i64,
    wanted: i64,
) -> Result<TaskCounts, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    planned_for_its_values(&mut tx).await?;
    let statuses = sqlx::query_scalar!(
        r#"
        SELECT status AS "status!: TaskStatus"
        FROM (SELECT status, title, description, search_text FROM tasks
              WHERE ($4::text IS NULL OR owner = $4)
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
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(statuses.into_iter().map(|status| (status, 1)).collect())
}

/// The statuses of the first `wanted` matches the trigram index finds (the
/// owner's as [`super::from_index`] finds them).
async fn count_from_index(
    conn: &mut PgConnection,
    owner: Option<&str>,
    pattern: &str,
    wanted: i64,
    by_owner: bool,
) -> Result<TaskCounts, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    indexes_only(&mut tx).await?;
    let rows = sqlx::query!(
        r#"
        SELECT status AS "status!: TaskStatus", count(*) AS "count!"
        FROM (SELECT status FROM tasks
              WHERE search_text LIKE lower($1) ESCAPE '\'
                AND (strpos($1, E'\n') = 0
                     OR lower(title) LIKE lower($1) ESCAPE '\'
                     OR lower(description) LIKE lower($1) ESCAPE '\')
                AND ($3::text IS NULL
                     OR CASE WHEN $4 THEN owner = $3 ELSE (owner = $3) IS TRUE END)
              LIMIT $2) AS matching
        GROUP BY status
        "#,
        pattern,
        wanted,
        owner,
        by_owner,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.status, row.count))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_walks_only_while_that_reads_less_than_the_index_would() {
        // One in twenty among a million: the cap is within about 3,000 rows,
        // the index would find 50,000.
        assert_eq!(
            plan(101, 0.05, 1_000_000, COUNT_INDEX_COST),
            Plan::Walk(3030)
        );
        // One in a hundred: 15,000 rows to walk, 10,000 matches in the index.
        assert_eq!(plan(101, 0.01, 1_000_000, COUNT_INDEX_COST), Plan::Index);
    }
}
