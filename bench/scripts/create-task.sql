-- What create-task runs for one POST /api/tasks alone, as a user (`:owner`,
-- the sub of the user whose token the bench sends: pgbench -D owner=...):
-- one statement that inserts the user's task and its event, which names its
-- actor (`authid`), with the outbox row fixing actor and owner (the database
-- fills the event's subject, partitionkey and data from the row; see
-- Outbox::create_tasks); then, after the answer, the event marked sent (the
-- function marks in batches, without waiting for the commit to be flushed).
-- Creates that arrive together share one statement in the function (its
-- group commit); this limit gives each its own. These events are never
-- sent, so they are marked audited too: the relay must not send them, and
-- the bench waits for every real event to be audited. (No colon directly
-- before a quote or digit in the JSON: pgbench would read it as a variable.)
WITH created AS (
    INSERT INTO tasks (title, description, status, owner) VALUES ('bench', NULL, 'pending', :owner)
    RETURNING id, title, description, status, created_at, updated_at, version, owner
), stored AS (
    INSERT INTO event_outbox (event_id, event, task_id, actor, owner)
    SELECT gen_random_uuid(),
           '{"specversion": "1.0", "type": "task.created", "source": "/functions/create-task", "datacontenttype": "application/json", "authtype": "app_user"}'::jsonb
           || jsonb_build_object('authid', :owner::text, 'subject', id::text, 'partitionkey', id::text,
                                 'data', jsonb_build_object('id', id, 'title', title, 'description', description,
                                                            'status', status, 'created_at', rfc3339(created_at),
                                                            'updated_at', rfc3339(updated_at), 'version', version,
                                                            'owner', owner)),
           id, :owner, owner
    FROM created
    RETURNING id
)
SELECT created.id AS task_id, stored.id AS outbox_id FROM created, stored \gset
SET synchronous_commit = off;
UPDATE event_outbox SET sent_at = now(), audited_at = now(), attempts = attempts + 1 WHERE id = ANY(ARRAY[:outbox_id]::bigint[]) AND sent_at IS NULL;
SET synchronous_commit = on;
