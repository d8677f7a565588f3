-- What create-task runs for POST /api/tasks: the task and its event in one
-- transaction, then the event marked sent.
BEGIN;
INSERT INTO tasks (title, description, status) VALUES ('bench', NULL, 'pending')
RETURNING id, title, description, status, created_at, updated_at, version;
INSERT INTO event_outbox (event_id, event) VALUES (gen_random_uuid(), '{"specversion":"1.0","type":"task.created"}') RETURNING id AS outbox_id \gset
COMMIT;
UPDATE event_outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY(ARRAY[:outbox_id]::bigint[]) AND sent_at IS NULL;
