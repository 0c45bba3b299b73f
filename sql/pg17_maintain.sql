-- PostgreSQL 17 and later: a role granted MAINTAIN on a table may REINDEX it without owning it; the
-- hook guards its REINDEX as the owner's.
SELECT sc_job_ids_from(1300);
CREATE TABLE mt_items (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
INSERT INTO mt_items SELECT g, 'v' || g FROM generate_series(1, 1000) g;
CREATE ROLE regress_sc_maintainer;
GRANT MAINTAIN ON mt_items TO regress_sc_maintainer;
SET safe_column.guard_min_size = 0;
SET ROLE regress_sc_maintainer;
SELECT code, message, hint FROM sc_catch('REINDEX TABLE mt_items');
SET safe_column.mode = off;
REINDEX TABLE mt_items;
RESET safe_column.mode;
RESET ROLE;
RESET safe_column.guard_min_size;
DROP TABLE mt_items;
DROP ROLE regress_sc_maintainer;
