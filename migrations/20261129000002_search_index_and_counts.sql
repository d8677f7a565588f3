-- Search answered from an index: `q` (3 characters or more) is a
-- case-insensitive substring of the title or the description, and trigram
-- indexes answer ILIKE '%...%' without reading the table. pg_trgm is a
-- trusted extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tasks_title_trgm_idx ON tasks USING gin (title gin_trgm_ops);
CREATE INDEX tasks_description_trgm_idx ON tasks USING gin (description gin_trgm_ops);

-- The counts of the unfiltered view, in constant time: per-status counters
-- kept in the same transaction as each change by the triggers below. Each
-- writer adds to one of 16 slots (by its backend), so concurrent writers
-- rarely wait for each other's row lock; a read sums at most 48 rows.
CREATE TABLE task_status_counts (
    status text     NOT NULL,
    slot   smallint NOT NULL,
    count  bigint   NOT NULL,
    PRIMARY KEY (status, slot)
);

CREATE FUNCTION task_status_counts_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    my_slot smallint := (pg_backend_pid() % 16)::smallint;
BEGIN
    -- Statement-level with transition tables: one upsert per status per
    -- statement, however many rows it touched. Statuses in a fixed order,
    -- so that two writers never lock the same slots in opposite orders.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_status_counts AS c (status, slot, count)
        SELECT status, my_slot, count(*) FROM new_rows GROUP BY status ORDER BY status
        ON CONFLICT (status, slot) DO UPDATE SET count = c.count + excluded.count;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO task_status_counts AS c (status, slot, count)
        SELECT status, my_slot, -count(*) FROM old_rows GROUP BY status ORDER BY status
        ON CONFLICT (status, slot) DO UPDATE SET count = c.count + excluded.count;
    ELSE
        INSERT INTO task_status_counts AS c (status, slot, count)
        SELECT status, my_slot, sum(delta) FROM (
            SELECT status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, -1 FROM old_rows
        ) AS changed
        GROUP BY status HAVING sum(delta) <> 0 ORDER BY status
        ON CONFLICT (status, slot) DO UPDATE SET count = c.count + excluded.count;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_status_counts_apply();
CREATE TRIGGER tasks_counted_on_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_status_counts_apply();
CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_status_counts_apply();

CREATE FUNCTION task_status_counts_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_status_counts;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_counted_on_truncate AFTER TRUNCATE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_status_counts_reset();

-- The tasks already there.
LOCK TABLE tasks IN SHARE MODE;
INSERT INTO task_status_counts (status, slot, count)
SELECT status, 0, count(*) FROM tasks GROUP BY status;
