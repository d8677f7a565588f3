-- What list-tasks runs for GET /api/tasks?limit=50 as a user (`:owner`, the
-- sub of the user whose token the bench sends: pgbench -D owner=...); one
-- row more tells whether another page follows.
SELECT id, title, description, status, created_at, updated_at, version, owner
FROM tasks
WHERE (NULL::text IS NULL OR status = NULL::text)
  AND (NULL::bigint IS NULL OR id < NULL::bigint)
  AND (:owner::text IS NULL OR owner = :owner)
ORDER BY id DESC
LIMIT 51;
