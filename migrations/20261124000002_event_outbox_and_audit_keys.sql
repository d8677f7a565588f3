-- The transactional outbox: every task change writes its CloudEvent here in
-- the same transaction, so an event exists exactly when its change committed.
-- A row stays unsent until its sink acknowledged it (2xx).
CREATE TABLE event_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid NOT NULL UNIQUE,
    -- The whole CloudEvent in its structured JSON form.
    event      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text
);

-- The relay reads unsent rows, oldest first.
CREATE INDEX event_outbox_unsent_idx ON event_outbox (id) WHERE sent_at IS NULL;

-- Redelivered events must not be written twice: a CloudEvent is identified by
-- its source and id. Nothing wrote to the audit log before this migration, so
-- the new columns can be required.
ALTER TABLE task_audit_log
    ADD COLUMN event_id     text NOT NULL,
    ADD COLUMN event_source text NOT NULL,
    ADD COLUMN event_time   timestamptz,
    ADD CONSTRAINT task_audit_log_event_key UNIQUE (event_source, event_id);
