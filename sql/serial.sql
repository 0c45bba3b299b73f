-- A serial column without a rewrite, through safe_add_column and through stage mode (hook.sql has the
-- stage mode's comparison with the plain statement): the sequence PostgreSQL's serial makes, the column
-- numbered from it by the worker, NOT NULL, the sequence owned by the column.
SELECT sc_job_ids_from(900);
CREATE TABLE serial_t (id int PRIMARY KEY, v text);
INSERT INTO serial_t SELECT g, 'v' || g FROM generate_series(1, 3000) g;
SELECT pg_relation_filenode('serial_t') AS fn \gset

-- safe_add_column with a serial type (any case); a re-run is the same job.
SET client_min_messages = warning;
SELECT safe_add_column('serial_t', 'seq_no', 'BigSerial') AS j_seq \gset
SELECT safe_column_wait(:j_seq, '120s');
SELECT safe_add_column('serial_t', 'seq_no', 'bigserial') = :j_seq AS same_job;
SET client_min_messages = notice;
SELECT format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       pg_get_serial_sequence('serial_t', 'seq_no') AS seq,
       (SELECT format_type(seqtypid, NULL) FROM pg_sequence WHERE seqrelid = 'serial_t_seq_no_seq'::regclass) AS seq_type
  FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = 'serial_t'::regclass AND a.attname = 'seq_no';
SELECT count(*) AS rows, count(DISTINCT seq_no) = count(*) AS numbered,
       max(seq_no) <= (SELECT last_value FROM serial_t_seq_no_seq) AS sequence_past_the_values,
       pg_relation_filenode('serial_t') = :fn AS no_rewrite
  FROM serial_t;
-- New rows are numbered by the same sequence.
INSERT INTO serial_t (id, v) VALUES (0, 'new') RETURNING seq_no > 3000 AS numbered_after;

-- In a transaction that rolls back: no column, no sequence, no job.
SELECT count(*) AS jobs_before FROM safe_column_jobs \gset
BEGIN;
SELECT safe_add_column('serial_t', 'rolled', 'serial') > 0 AS ok;
ROLLBACK;
SELECT count(*) = :jobs_before AS no_job, to_regclass('serial_t_rolled_seq') IS NULL AS no_sequence,
       NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'serial_t'::regclass AND attname = 'rolled') AS no_column
  FROM safe_column_jobs;

-- A table owned by another role: the sequence belongs to the table's owner, as PostgreSQL's serial.
CREATE ROLE regress_sc_serial_owner;
ALTER TABLE serial_t OWNER TO regress_sc_serial_owner;
SET client_min_messages = warning;
SELECT safe_add_column('serial_t', 'small_no', 'smallserial') AS j_small \gset
SELECT safe_column_wait(:j_small, '120s');
SET client_min_messages = notice;
SELECT pg_get_userbyid(relowner) AS sequence_owner,
       (SELECT format_type(seqtypid, NULL) FROM pg_sequence WHERE seqrelid = c.oid) AS seq_type
  FROM pg_class c WHERE oid = 'serial_t_small_no_seq'::regclass;

DROP TABLE serial_t;
SELECT to_regclass('serial_t_seq_no_seq') IS NULL AS sequences_dropped_with_the_table;
DROP ROLE regress_sc_serial_owner;
