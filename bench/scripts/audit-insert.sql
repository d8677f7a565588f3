-- What the audit function runs for a new event: one row, deduplicated (a
-- second delivery only counts itself); each event for its own task, as real
-- traffic is (a task has a few events).
\set task random(1000000, 2000000)
INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source, event_time)
VALUES ('task.created', :task, 1, '{"specversion":"1.0"}'::jsonb, gen_random_uuid()::text, '/bench', now())
ON CONFLICT (event_source, event_id) DO UPDATE SET deliveries = task_audit_log.deliveries + 1
RETURNING deliveries = 1;
