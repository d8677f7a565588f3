-- Lists are planned once per connection, not once per request: after five
-- runs PostgreSQL keeps a statement's generic plan when it costs no more than
-- the plans made for each run's values. A generic plan cannot see whose tasks
-- it reads, so it sizes an owner by the number of distinct owners: on a
-- database with one user (every local stack) that is every task, and it would
-- read the whole table by id and filter it, for a user with three tasks as
-- for one with a million. Counting every owner as distinct makes the generic
-- plan read one owner's tasks by the (owner, ...) indexes, which is right for
-- any owner, whatever the size of the table. A plan made for a given owner
-- still uses the true statistics (the most common owners and their shares).
ALTER TABLE tasks ALTER COLUMN owner SET (n_distinct = -1);
-- The setting takes effect at the next ANALYZE.
ANALYZE tasks;
