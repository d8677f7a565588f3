-- Least privilege in the database: one role per duty, and every function
-- logs in as a member of exactly one (functions/task-core/src/routes.rs says
-- which). Only the role that runs the migrations owns, and may change, the
-- schema. These roles cannot log in: the login users, and their passwords,
-- belong to the deployment (the local stack creates them; on a cluster the
-- operator does, see the README). Roles are shared by the whole server, so
-- they are created only where missing (an operator may create them first,
-- and a migrating user without CREATEROLE then needs none).
DO $$
DECLARE
    duty text;
BEGIN
    FOREACH duty IN ARRAY ARRAY['task_reader', 'task_writer', 'task_auditor', 'task_relay'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = duty) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', duty);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- made meanwhile by a migration of another database
            END;
        END IF;
    END LOOP;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO task_reader, task_writer, task_auditor, task_relay;

-- Every function's /health compares the schema version with its own.
GRANT SELECT ON _sqlx_migrations TO task_reader, task_writer, task_auditor, task_relay;

-- list-tasks, count-tasks, get-task, task-history, health: read only.
GRANT SELECT ON tasks, task_status_counts, task_audit_log TO task_reader;

-- create-task, update-task, delete-task: the tasks, and their events into
-- the outbox (and marking them sent). Nothing of the audit log.
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO task_writer;
GRANT SELECT, INSERT, UPDATE ON event_outbox TO task_writer;
GRANT USAGE ON SEQUENCE tasks_id_seq, event_outbox_id_seq TO task_writer;

-- audit: records events and counts their redeliveries; it can never change
-- what a record says, nor delete one.
GRANT SELECT, INSERT ON task_audit_log TO task_auditor;
GRANT UPDATE (deliveries) ON task_audit_log TO task_auditor;
GRANT USAGE ON SEQUENCE task_audit_log_id_seq TO task_auditor;

-- outbox-relay: the outbox, and reading the audit log to reconcile with it.
GRANT SELECT, UPDATE, DELETE ON event_outbox TO task_relay;
GRANT SELECT ON task_audit_log TO task_relay;

-- The counters are kept by triggers that run with their owner's rights, so
-- that writers need none on the counter table.
ALTER FUNCTION task_status_counts_apply() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION task_status_counts_reset() SECURITY DEFINER SET search_path = public, pg_temp;
