-- What list-tasks runs for GET /api/tasks?limit=50 (one row more tells
-- whether another page follows).
SELECT id, title, description, status, created_at, updated_at, version
FROM tasks
WHERE (NULL::text IS NULL OR status = NULL::text)
  AND (NULL::text IS NULL OR title ILIKE NULL::text ESCAPE '\' OR description ILIKE NULL::text ESCAPE '\')
  AND (NULL::bigint IS NULL OR id < NULL::bigint)
ORDER BY id DESC
LIMIT 51;
