-- A search of one user's tasks that asks the trigram index ("owner = $1 AND
-- search_text LIKE ...") was not narrowed by it: PostgreSQL counts every
-- owner as distinct (see owner_statistics), sizes an owner at one task, and
-- so read all of the user's tasks through a btree (owner, ...) index and
-- compared each with the pattern: ~1 ms for a thousand tasks, growing with
-- the user (measured at 1,000,000 tasks), where the trigram index narrowed
-- by owner finds a rare word in 0.06 ms.
--
-- The owner column of the trigram index is compared under collation "C",
-- which no btree index (the database's default collation) can serve: a
-- search that writes "owner = $1 COLLATE "C"" is narrowed by the trigram
-- index only. Owners are only ever compared for equality, and equality is
-- the same bytes under every deterministic collation: no answer changes.
CREATE INDEX tasks_owner_c_search_text_trgm_idx
    ON tasks USING gin (owner COLLATE "C", search_text gin_trgm_ops);
DROP INDEX tasks_owner_search_text_trgm_idx;
