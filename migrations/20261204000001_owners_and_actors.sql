-- Who did it. Tasks belong to their users (the access token's `sub`); every
-- event in the outbox names who made the change (its actor) and whose task it
-- is (its owner), fixed when the change commits; the audit log records both,
-- taken from the outbox row of the event, and whether the event was
-- verified against it (events posted by hand from another source are not).
--
-- The tasks already there get the owner the migration is given
-- (`SET task_app.existing_owner`: the migrate tool sets it from
-- EXISTING_TASKS_OWNER, the local stack to its first demo user), or
-- 'unowned': no task is lost, and an admin sees them all. A non-volatile
-- default is computed once and stored, not written into every row.
ALTER TABLE tasks
    ADD COLUMN owner text NOT NULL
        DEFAULT coalesce(nullif(current_setting('task_app.existing_owner', true), ''), 'unowned')
        CHECK (owner <> '');
ALTER TABLE tasks ALTER COLUMN owner DROP DEFAULT;

-- A user's list, newest first, with or without a status; an admin's keeps
-- the indexes it had (the primary key, and status with id).
CREATE INDEX tasks_owner_id_idx ON tasks (owner, id DESC);
CREATE INDEX tasks_owner_status_id_idx ON tasks (owner, status, id DESC);

-- Search within one user's tasks from the index alone: the owner beside the
-- trigrams in one GIN index (btree_gin, a trusted extension, indexes the
-- plain column). An admin's search, with no owner, uses the same indexes.
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX tasks_title_trgm_idx;
DROP INDEX tasks_description_trgm_idx;
CREATE INDEX tasks_owner_title_trgm_idx ON tasks USING gin (owner, title gin_trgm_ops);
CREATE INDEX tasks_owner_description_trgm_idx ON tasks USING gin (owner, description gin_trgm_ops);

-- Each user's counts in constant time, like everyone's: per owner, status
-- and slot, kept by the same statement-level triggers.
CREATE TABLE task_owner_status_counts (
    owner  text     NOT NULL,
    status text     NOT NULL,
    slot   smallint NOT NULL,
    count  bigint   NOT NULL,
    PRIMARY KEY (owner, status, slot)
);

CREATE OR REPLACE FUNCTION task_status_counts_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    my_slot smallint := (pg_backend_pid() % 16)::smallint;
BEGIN
    -- One upsert per status (and per owner and status) per statement, in a
    -- fixed order, so that two writers never lock slots in opposite orders.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_status_counts AS c (status, slot, count)
        SELECT status, my_slot, count(*) FROM new_rows GROUP BY status ORDER BY status
        ON CONFLICT (status, slot) DO UPDATE SET count = c.count + excluded.count;
        INSERT INTO task_owner_status_counts AS c (owner, status, slot, count)
        SELECT owner, status, my_slot, count(*) FROM new_rows
        GROUP BY owner, status ORDER BY owner, status
        ON CONFLICT (owner, status, slot) DO UPDATE SET count = c.count + excluded.count;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO task_status_counts AS c (status, slot, count)
        SELECT status, my_slot, -count(*) FROM old_rows GROUP BY status ORDER BY status
        ON CONFLICT (status, slot) DO UPDATE SET count = c.count + excluded.count;
        INSERT INTO task_owner_status_counts AS c (owner, status, slot, count)
        SELECT owner, status, my_slot, -count(*) FROM old_rows
        GROUP BY owner, status ORDER BY owner, status
        ON CONFLICT (owner, status, slot) DO UPDATE SET count = c.count + excluded.count;
    ELSE
        INSERT INTO task_status_counts AS c (status, slot, count)
        SELECT status, my_slot, sum(delta) FROM (
            SELECT status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, -1 FROM old_rows
        ) AS changed
        GROUP BY status HAVING sum(delta) <> 0 ORDER BY status
        ON CONFLICT (status, slot) DO UPDATE SET count = c.count + excluded.count;
        INSERT INTO task_owner_status_counts AS c (owner, status, slot, count)
        SELECT owner, status, my_slot, sum(delta) FROM (
            SELECT owner, status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT owner, status, -1 FROM old_rows
        ) AS changed
        GROUP BY owner, status HAVING sum(delta) <> 0 ORDER BY owner, status
        ON CONFLICT (owner, status, slot) DO UPDATE SET count = c.count + excluded.count;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION task_status_counts_reset() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM task_status_counts;
    DELETE FROM task_owner_status_counts;
    RETURN NULL;
END;
$$;

LOCK TABLE tasks IN SHARE MODE;
INSERT INTO task_owner_status_counts (owner, status, slot, count)
SELECT owner, status, 0, count(*) FROM tasks GROUP BY owner, status;

-- The outbox row of each event fixes who made the change and whose task it
-- is. Rows written before this migration have neither.
ALTER TABLE event_outbox
    ADD COLUMN actor text,
    ADD COLUMN owner text;

-- The audit log's actor and owner come from the outbox row of the event
-- (never from the wire); `verified` says the event was checked against it.
-- Records made before this migration name no actor; their owner is the one
-- their tasks were given, and they were recorded as real changes when they
-- came from the functions.
ALTER TABLE task_audit_log
    ADD COLUMN actor    text,
    ADD COLUMN owner    text
        DEFAULT coalesce(nullif(current_setting('task_app.existing_owner', true), ''), 'unowned'),
    ADD COLUMN verified boolean NOT NULL DEFAULT true;
ALTER TABLE task_audit_log ALTER COLUMN owner DROP DEFAULT, ALTER COLUMN verified DROP DEFAULT;
UPDATE task_audit_log SET verified = false WHERE event_source NOT LIKE '/functions/%';

-- A user reads a task's history by task and owner, newest change first:
-- one index walk whatever the statistics say (the owner as a mere filter
-- could make the planner sort every entry of a long history). An admin's,
-- by task alone, sorts that task's entries.
DROP INDEX task_audit_log_history_idx;
CREATE INDEX task_audit_log_history_idx ON task_audit_log (task_id, owner, task_sequence, id);

-- Events that claim to come from the functions but do not match their
-- outbox row (none exists, or it names another actor, type, task or data):
-- kept here for an operator, never recorded as changes.
CREATE TABLE suspect_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_source text NOT NULL,
    event_id     text NOT NULL,
    reason       text NOT NULL,
    event        jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    deliveries   integer NOT NULL DEFAULT 1,
    CONSTRAINT suspect_events_event_key UNIQUE (event_source, event_id)
);

-- Readers count one user's tasks; the audit function checks deliveries
-- against the outbox, parks suspects, and gives an unverified event the
-- owner of the task it names; the relay reports the suspects.
GRANT SELECT ON task_owner_status_counts TO task_reader;
GRANT SELECT (event_id, actor, owner, event) ON event_outbox TO task_auditor;
GRANT SELECT (id, owner) ON tasks TO task_auditor;
GRANT SELECT, INSERT ON suspect_events TO task_auditor;
GRANT UPDATE (deliveries) ON suspect_events TO task_auditor;
GRANT USAGE ON SEQUENCE suspect_events_id_seq TO task_auditor;
GRANT SELECT ON suspect_events TO task_relay;
