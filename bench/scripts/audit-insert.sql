-- What the audit function runs for a new event from outside the app, as
-- post-event.lua posts them (source /bench, no actor; each for its own task,
-- as real traffic is: a task has a few events): the check of the delivery
-- against the outbox and the task it names (provenance::check; not one of
-- the functions' own events, so it is recorded unverified, under the
-- task's owner), then its row, deduplicated (a second delivery only counts
-- itself; AuditLog::record_all). The function checks and records the
-- deliveries that arrive together in one statement each; this limit gives
-- each event its own. (No colon directly before a quote or digit in the
-- JSON: pgbench would read it as a variable.)
\set task random(1000000, 2000000)
\set event random(1, 1000000000000000)
SELECT r.position,
       EXISTS (SELECT 1 FROM task_audit_log a
               WHERE a.event_source = r.source AND a.event_id = r.id) AS recorded,
       o.event_id IS NOT NULL AS in_outbox,
       coalesce(o.event ->> 'type' = r.type
                AND o.event ->> 'subject' = r.task_id::text
                AND o.event -> 'data' = r.data, false) AS same_event,
       o.actor, o.owner, t.owner AS task_owner
FROM unnest(ARRAY['/bench'], ARRAY['bench-' || :client_id::text || '-' || :event::text],
            ARRAY['task.created'], ARRAY[:task::int8],
            ARRAY['{"id": 1000001, "title": "bench", "description": null, "status": "pending", "version": 1}'::jsonb])
     WITH ORDINALITY AS r (source, id, type, task_id, data, position)
LEFT JOIN event_outbox o
       ON o.event_id = CASE WHEN r.id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                            THEN r.id::uuid END
LEFT JOIN tasks t ON t.id = r.task_id
ORDER BY r.position;
INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source, event_time,
                            actor, owner, verified)
VALUES ('task.created', :task, 1, '{"specversion": "1.0"}'::jsonb, 'bench-' || :client_id::text || '-' || :event::text,
        '/bench', now(), NULL, NULL, false)
ON CONFLICT (event_source, event_id) DO UPDATE SET deliveries = task_audit_log.deliveries + 1
RETURNING deliveries = 1;
