-- What the audit function runs for a new event: one row, deduplicated; each
-- event for its own task, as real traffic is (a task has a few events).
\set task random(1000000, 2000000)
INSERT INTO task_audit_log (event_type, task_id, event_data, event_id, event_source, event_time)
VALUES ('task.created', :task, '{"specversion":"1.0"}'::jsonb, gen_random_uuid()::text, '/bench', now())
ON CONFLICT (event_source, event_id) DO NOTHING;
