-- What create-task runs for one POST /api/tasks alone: the task and its
-- event in one transaction; then, after the answer, the event marked sent
-- (the function marks in batches, without waiting for the commit to be
-- flushed). Creates that arrive together share one transaction in the
-- function (its group commit); this limit gives each its own. These
-- events are never sent, so they are marked audited too: the relay must not
-- send them, and the bench waits for every real event to be audited.
BEGIN;
INSERT INTO tasks (title, description, status) VALUES ('bench', NULL, 'pending')
RETURNING id AS task_id, title, description, status, created_at, updated_at, version \gset
INSERT INTO event_outbox (event_id, event, task_id) VALUES (gen_random_uuid(), '{"specversion":"1.0","type":"task.created"}', :task_id) RETURNING id AS outbox_id \gset
COMMIT;
SET synchronous_commit = off;
UPDATE event_outbox SET sent_at = now(), audited_at = now(), attempts = attempts + 1 WHERE id = ANY(ARRAY[:outbox_id]::bigint[]) AND sent_at IS NULL;
SET synchronous_commit = on;
