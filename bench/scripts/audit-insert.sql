-- What the audit function runs for a new event: one row, deduplicated.
INSERT INTO task_audit_log (event_type, task_id, event_data, event_id, event_source, event_time)
VALUES ('task.created', 1, '{"specversion":"1.0"}'::jsonb, gen_random_uuid()::text, '/bench', now())
ON CONFLICT (event_source, event_id) DO NOTHING;
