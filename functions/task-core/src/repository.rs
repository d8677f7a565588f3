//! The SQL on the `tasks` table, checked against the schema at compile time:
//! every read, and the writes of updates and deletes (run in the caller's
//! transaction with the outbox row of their event). The one exception is
//! the create: it inserts the tasks and their events in a single statement,
//! which lives with the outbox it writes (`Outbox::create_tasks`,
//! `events/src/outbox/created.rs`).
//!
//! Every read is scoped by owner, explicitly: `owner` is the user whose
//! tasks the caller may see, or `None` for an admin, who sees every user's
//! (`Caller::visible_owner`). Another user's task is the same as a missing one.

use sqlx::{PgConnection, PgPool};

use crate::list::{TaskCounts, TaskFilter};
use crate::read_connections::ReadConnections;
use crate::task::{NewTask, Task, TaskStatus};

/// Reads and writes tasks. Writes take a connection so that a handler can run
/// them inside its own transaction together with what else must commit with them.
#[derive(Debug, Clone)]
pub struct TaskRepository {
    pool: PgPool,
    /// For the single-statement reads a busy function serves most.
    reads: ReadConnections,
}

impl TaskRepository {
    pub fn new(pool: PgPool) -> Self {
        Self {
            reads: ReadConnections::new(pool.clone()),
            pool,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// One page of tasks, newest first (a search: see [`crate::search`]).
    ///
    /// One statement per shape of filter, each with only the conditions it
    /// needs: PostgreSQL then plans each once per connection (a generic plan
    /// on the owner's index) instead of planning every list again, which cost
    /// more than running it. A missing cursor is the largest id. (The
    /// column list repeats: `query_as!` checks only a literal.)
    pub async fn list(&self, filter: &TaskFilter) -> Result<Vec<Task>, sqlx::Error> {
        if let Some(search) = filter.search.as_deref() {
            return self.search(filter, search).await;
        }
        let before = filter.before_id.unwrap_or(i64::MAX);
        let status = filter.status.map(TaskStatus::as_str);
        let mut conn = self.reads.acquire().await?;
        let tasks = match (filter.owner.as_deref(), status) {
            (Some(owner), None) => {
                sqlx::query_as!(
                    Task,
                    r#"
                SELECT id, title, description, status AS "status: TaskStatus",
                       created_at, updated_at, version, owner
                FROM tasks
                WHERE owner = $1 AND id < $2
                ORDER BY id DESC
                LIMIT $3
                "#,
                    owner,
                    before,
                    filter.limit,
                )
                .fetch_all(&mut *conn)
                .await
            }
            (Some(owner), Some(status)) => {
                sqlx::query_as!(
                    Task,
                    r#"
                SELECT id, title, description, status AS "status: TaskStatus",
                       created_at, updated_at, version, owner
                FROM tasks
                WHERE owner = $1 AND status = $2 AND id < $3
                ORDER BY id DESC
                LIMIT $4
                "#,
                    owner,
                    status,
                    before,
                    filter.limit,
                )
                .fetch_all(&mut *conn)
                .await
            }
            (None, None) => {
                sqlx::query_as!(
                    Task,
                    r#"
                SELECT id, title, description, status AS "status: TaskStatus",
                       created_at, updated_at, version, owner
                FROM tasks
                WHERE id < $1
                ORDER BY id DESC
                LIMIT $2
                "#,
                    before,
                    filter.limit,
                )
                .fetch_all(&mut *conn)
                .await
            }
            (None, Some(status)) => {
                sqlx::query_as!(
                    Task,
                    r#"
                SELECT id, title, description, status AS "status: TaskStatus",
                       created_at, updated_at, version, owner
                FROM tasks
                WHERE status = $1 AND id < $2
                ORDER BY id DESC
                LIMIT $3
                "#,
                    status,
                    before,
                    filter.limit,
                )
                .fetch_all(&mut *conn)
                .await
            }
        }?;
        conn.finished();
        Ok(tasks)
    }

    /// How many of `owner`'s tasks (every user's when `None`) of each status
    /// match `search` (all when `None`). All: from the counters the triggers
    /// keep, in constant time. A search: see [`crate::search`].
    pub async fn count_by_status(
        &self,
        owner: Option<&str>,
        search: Option<&str>,
    ) -> Result<TaskCounts, sqlx::Error> {
        match search {
            Some(search) => self.count_matching(owner, search).await,
            None => self.count_all(owner).await,
        }
    }

    /// How many of `owner`'s tasks (every user's when `None`) there are of
    /// each status, from the counters: at most 48 rows either way.
    pub(crate) async fn count_all(&self, owner: Option<&str>) -> Result<TaskCounts, sqlx::Error> {
        let mut conn = self.reads.acquire().await?;
        let rows = match owner {
            Some(owner) => sqlx::query!(
                r#"
                    SELECT status AS "status!: TaskStatus", sum(count)::bigint AS "count!"
                    FROM task_owner_status_counts
                    WHERE owner = $1
                    GROUP BY status
                    "#,
                owner,
            )
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|row| (row.status, row.count))
            .collect(),
            None => sqlx::query!(
                r#"
                SELECT status AS "status!: TaskStatus", sum(count)::bigint AS "count!"
                FROM task_status_counts
                GROUP BY status
                "#
            )
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|row| (row.status, row.count))
            .collect(),
        };
        conn.finished();
        Ok(rows)
    }

    /// Every user who has tasks, with their counts, in `owner` order: at
    /// most `limit`, after `after` (a keyset page).
    pub async fn owners(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, TaskCounts)>, sqlx::Error> {
        let rows = sqlx::query!(
            r#"
            SELECT owner, status AS "status!: TaskStatus", sum(count)::bigint AS "count!"
            FROM task_owner_status_counts
            WHERE owner IN (SELECT owner FROM task_owner_status_counts
                            WHERE ($1::text IS NULL OR owner > $1)
                            GROUP BY owner HAVING sum(count) > 0
                            ORDER BY owner LIMIT $2)
            GROUP BY owner, status
            ORDER BY owner, status
            "#,
            after,
            limit,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut owners: Vec<(String, Vec<(TaskStatus, i64)>)> = Vec::new();
        for row in rows {
            match owners.last_mut() {
                Some((owner, counts)) if *owner == row.owner => {
                    counts.push((row.status, row.count))
                }
                _ => owners.push((row.owner, vec![(row.status, row.count)])),
            }
        }
        Ok(owners
            .into_iter()
            .map(|(owner, counts)| (owner, counts.into_iter().collect()))
            .collect())
    }

    /// The task `id`, if `owner` (any user's when `None`) may see it.
    pub async fn find(&self, id: i64, owner: Option<&str>) -> Result<Option<Task>, sqlx::Error> {
        let mut conn = self.reads.acquire().await?;
        let task = sqlx::query_as!(
            Task,
            r#"
            SELECT id, title, description, status AS "status: TaskStatus",
                   created_at, updated_at, version, owner
            FROM tasks WHERE id = $1 AND ($2::text IS NULL OR owner = $2)
            "#,
            id,
            owner,
        )
        .fetch_optional(&mut *conn)
        .await?;
        conn.finished();
        Ok(task)
    }

    /// [`TaskRepository::find`], locking the task until the transaction ends.
    pub async fn find_for_update(
        conn: &mut PgConnection,
        id: i64,
        owner: Option<&str>,
    ) -> Result<Option<Task>, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            SELECT id, title, description, status AS "status: TaskStatus",
                   created_at, updated_at, version, owner
            FROM tasks WHERE id = $1 AND ($2::text IS NULL OR owner = $2)
            FOR UPDATE
            "#,
            id,
            owner,
        )
        .fetch_optional(conn)
        .await
    }

    /// Inserts a task of `owner`'s without its event (tests and fixtures:
    /// the API creates tasks with `Outbox::create_tasks`).
    pub async fn insert(
        conn: &mut PgConnection,
        task: &NewTask,
        owner: &str,
    ) -> Result<Task, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            INSERT INTO tasks (title, description, status, owner)
            VALUES ($1, $2, $3, $4)
            RETURNING id, title, description, status AS "status: TaskStatus",
                      created_at, updated_at, version, owner
            "#,
            &*task.title,
            task.description.as_deref(),
            task.status.as_str(),
            owner,
        )
        .fetch_one(conn)
        .await
    }

    /// Stores the fields of `task` and bumps its version (its owner stays).
    pub async fn update(conn: &mut PgConnection, task: &Task) -> Result<Task, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            UPDATE tasks
            SET title = $2, description = $3, status = $4,
                updated_at = now(), version = version + 1
            WHERE id = $1
            RETURNING id, title, description, status AS "status: TaskStatus",
                      created_at, updated_at, version, owner
            "#,
            task.id,
            task.title,
            task.description,
            task.status.as_str(),
        )
        .fetch_one(conn)
        .await
    }

    /// Deletes the task `id` if `owner` (any user's when `None`) may see
    /// it, returning it as it was.
    pub async fn delete(
        conn: &mut PgConnection,
        id: i64,
        owner: Option<&str>,
    ) -> Result<Option<Task>, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            DELETE FROM tasks WHERE id = $1 AND ($2::text IS NULL OR owner = $2)
            RETURNING id, title, description, status AS "status: TaskStatus",
                      created_at, updated_at, version, owner
            "#,
            id,
            owner,
        )
        .fetch_optional(conn)
        .await
    }

    /// The newest migration applied to the database; 0 when none ever was.
    pub async fn schema_version(&self) -> Result<i64, sqlx::Error> {
        let version =
            sqlx::query_scalar!("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await;
        match version {
            Ok(version) => Ok(version.unwrap_or(0)),
            // 42P01 undefined_table: the migrations table does not exist yet.
            Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => Ok(0),
            Err(err) => Err(err),
        }
    }
}

/// An ILIKE pattern matching `text` anywhere, with its wildcards taken literally.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("milk"), "%milk%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
