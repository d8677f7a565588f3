-- Tasks, as the API serves them. `version` is bumped on every change and is the
-- task's ETag, so concurrent edits can be detected with If-Match.
CREATE TABLE tasks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       varchar(255) NOT NULL CHECK (btrim(title) <> ''),
    description text,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'in_progress', 'complete')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1 CHECK (version > 0)
);

-- The list is served newest first (id descending), optionally filtered by status.
CREATE INDEX tasks_status_id_idx ON tasks (status, id DESC);

-- One row per task event that reached the audit function.
CREATE TABLE task_audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_type   text NOT NULL,
    task_id      bigint NOT NULL,
    event_data   jsonb NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX task_audit_log_task_id_idx ON task_audit_log (task_id, id);
