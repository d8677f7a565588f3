-- The outbox becomes the ledger the audit log converges on. Each row now
-- records how far its event got: handed to the broker (sent_at), seen in the
-- audit log (audited_at), or parked for an operator after too many attempts
-- (parked_at); when to try again (next_attempt_at); and which relay holds it
-- while sending (leased_until), so no lock is held across the network.
ALTER TABLE event_outbox
    -- The task the event is about (its partition key): one task's events
    -- leave in the order they were made.
    ADD COLUMN task_id         bigint,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN leased_until    timestamptz,
    ADD COLUMN audited_at      timestamptz,
    ADD COLUMN parked_at       timestamptz;

UPDATE event_outbox
SET task_id = CASE WHEN event ->> 'subject' ~ '^[0-9]{1,18}$'
                   THEN (event ->> 'subject')::bigint ELSE 0 END;
ALTER TABLE event_outbox ALTER COLUMN task_id SET NOT NULL;

UPDATE event_outbox o
SET audited_at = now()
WHERE EXISTS (SELECT 1 FROM task_audit_log a
              WHERE a.event_source = o.event ->> 'source' AND a.event_id = o.event_id::text);

-- Unsent rows, oldest first, and the earlier unsent rows of one task.
CREATE INDEX event_outbox_unsent_task_idx ON event_outbox (task_id, id) WHERE sent_at IS NULL;
-- What the reconciliation looks at: every row not yet seen in the audit log.
-- Small whatever the table's size: rows leave it once audited.
CREATE INDEX event_outbox_unaudited_idx ON event_outbox (id) WHERE audited_at IS NULL;
-- Retention: audited rows, oldest first.
CREATE INDEX event_outbox_audited_at_idx ON event_outbox (audited_at) WHERE audited_at IS NOT NULL;

-- A task's history lists its changes in the order they were made, whatever
-- order their events arrived in: task_sequence is the version a change
-- produced (a deletion: one past the task's last version).
-- deliveries counts how often the event reached the audit function: more
-- than one is a redelivery, absorbed.
ALTER TABLE task_audit_log
    ADD COLUMN task_sequence integer,
    ADD COLUMN deliveries    integer NOT NULL DEFAULT 1;
UPDATE task_audit_log
SET task_sequence = coalesce((event_data -> 'data' ->> 'version')::integer, 0)
                    + CASE WHEN event_type = 'task.deleted' THEN 1 ELSE 0 END;
ALTER TABLE task_audit_log ALTER COLUMN task_sequence SET NOT NULL;
DROP INDEX task_audit_log_task_id_idx;
CREATE INDEX task_audit_log_history_idx ON task_audit_log (task_id, task_sequence, id);
