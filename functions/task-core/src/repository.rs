//! All SQL on the `tasks` table, checked against the schema at compile time.

use sqlx::{PgConnection, PgPool};

use crate::list::{TaskCounts, TaskFilter};
use crate::task::{NewTask, Task, TaskStatus};

/// Reads and writes tasks. Writes take a connection so that a handler can run
/// them inside its own transaction together with what else must commit with them.
#[derive(Debug, Clone)]
pub struct TaskRepository {
    pool: PgPool,
}

impl TaskRepository {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// One page of tasks, newest first (a search: see [`crate::search`]).
    pub async fn list(&self, filter: &TaskFilter) -> Result<Vec<Task>, sqlx::Error> {
        if let Some(search) = filter.search.as_deref() {
            return self.search(filter, search).await;
        }
        sqlx::query_as!(
            Task,
            r#"
            SELECT id, title, description, status AS "status: TaskStatus",
                   created_at, updated_at, version
            FROM tasks
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::bigint IS NULL OR id < $2)
            ORDER BY id DESC
            LIMIT $3
            "#,
            filter.status.map(TaskStatus::as_str),
            filter.before_id,
            filter.limit,
        )
        .fetch_all(&self.pool)
        .await
    }

    /// How many tasks of each status match `search` (all when `None`). All:
    /// from the counters the triggers keep, in constant time. A search: see
    /// [`crate::search`].
    pub async fn count_by_status(&self, search: Option<&str>) -> Result<TaskCounts, sqlx::Error> {
        match search {
            Some(search) => self.count_matching(search).await,
            None => self.count_all().await,
        }
    }

    /// How many tasks of each status there are, from the counters.
    pub(crate) async fn count_all(&self) -> Result<TaskCounts, sqlx::Error> {
        let rows = sqlx::query!(
            r#"
            SELECT status AS "status!: TaskStatus", sum(count)::bigint AS "count!"
            FROM task_status_counts
            GROUP BY status
            "#
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.status, row.count))
            .collect())
    }

    pub async fn find(&self, id: i64) -> Result<Option<Task>, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            SELECT id, title, description, status AS "status: TaskStatus",
                   created_at, updated_at, version
            FROM tasks WHERE id = $1
            "#,
            id,
        )
        .fetch_optional(&self.pool)
        .await
    }

    /// Reads a task and locks it until the transaction ends.
    pub async fn find_for_update(
        conn: &mut PgConnection,
        id: i64,
    ) -> Result<Option<Task>, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            SELECT id, title, description, status AS "status: TaskStatus",
                   created_at, updated_at, version
            FROM tasks WHERE id = $1
            FOR UPDATE
            "#,
            id,
        )
        .fetch_optional(conn)
        .await
    }

    pub async fn insert(conn: &mut PgConnection, task: &NewTask) -> Result<Task, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            INSERT INTO tasks (title, description, status)
            VALUES ($1, $2, $3)
            RETURNING id, title, description, status AS "status: TaskStatus",
                      created_at, updated_at, version
            "#,
            &*task.title,
            task.description.as_deref(),
            task.status.as_str(),
        )
        .fetch_one(conn)
        .await
    }

    /// Stores the fields of `task` and bumps its version.
    pub async fn update(conn: &mut PgConnection, task: &Task) -> Result<Task, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            UPDATE tasks
            SET title = $2, description = $3, status = $4,
                updated_at = now(), version = version + 1
            WHERE id = $1
            RETURNING id, title, description, status AS "status: TaskStatus",
                      created_at, updated_at, version
            "#,
            task.id,
            task.title,
            task.description,
            task.status.as_str(),
        )
        .fetch_one(conn)
        .await
    }

    /// Deletes a task, returning it as it was.
    pub async fn delete(conn: &mut PgConnection, id: i64) -> Result<Option<Task>, sqlx::Error> {
        sqlx::query_as!(
            Task,
            r#"
            DELETE FROM tasks WHERE id = $1
            RETURNING id, title, description, status AS "status: TaskStatus",
                      created_at, updated_at, version
            "#,
            id,
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
