#!/usr/bin/env bash
# safe_column demo: sets everything up (Debian packages, build, install), starts a throw-away cluster
# with shared_preload_libraries = 'safe_column', fills a table of a million rows and shows
# safe_add_column at work. The cluster is left running, with the command to connect printed.
#
#   ./demo.sh              run the demo, leave the cluster running
#   ./demo.sh --teardown   run the demo, then stop and remove the cluster
#   ./demo.sh --stop       stop and remove a demo cluster left running
#
# Environment: DEMO_PORT (default 5433), DEMO_DIR (default /tmp/safe_column_demo), DEMO_ROWS (1000000),
# SC_PG (default 15, the machine's own): 17, 18 or 19 run the demo on that version, in its Debian root
# (test/lib/pg_roots.sh), whose directory the cluster's socket is then under.
set -euo pipefail
source "$(dirname "$0")/test/lib/common.sh"
source "$(dirname "$0")/test/lib/pg_roots.sh"

if [ -z "${SC_IN_ROOT:-}" ] && suite=$(sc_root_suite "${SC_PG:-15}"); then
    [ "$(id -u)" -eq 0 ] || { echo "run as root: the demo installs packages and the extension" >&2; exit 1; }
    sc_ensure_root "$suite"
    SC_ROOT_DAEMONS=1 sc_in_root "$suite" env SC_IN_ROOT=1 SC_PG_MAJOR="$SC_PG" SC_HOST_ROOT="$SC_ROOTS/$suite" \
        DEMO_PORT="${DEMO_PORT:-}" DEMO_DIR="${DEMO_DIR:-}" DEMO_ROWS="${DEMO_ROWS:-}" bash /src/demo.sh "$@"
    exit
fi

PORT=${DEMO_PORT:-5433}
DIR=${DEMO_DIR:-/tmp/safe_column_demo}
ROWS=${DEMO_ROWS:-1000000}
mode=${1:-run}

stop_cluster() {
    if [ -f "$DIR/data/postmaster.pid" ]; then
        sc_as_postgres pg_ctl -D "$DIR/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$DIR"
}

case "$mode" in
--stop) stop_cluster; echo "demo cluster removed"; exit 0 ;;
run|--teardown) ;;
*) echo "usage: $0 [--teardown | --stop]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "run as root: the demo installs packages and the extension" >&2; exit 1; }

sc_ensure_packages
sc_build_install

sc_log "starting a throw-away cluster in $DIR on port $PORT"
stop_cluster
mkdir -p "$DIR" && chown postgres: "$DIR"
sc_as_postgres initdb -D "$DIR/data" -U postgres --no-locale -E UTF8 >/dev/null
cat >>"$DIR/data/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$DIR'
listen_addresses = ''
shared_preload_libraries = 'safe_column'
# Everything else at PostgreSQL's defaults (max_wal_size 1GB, checkpoint_timeout 5min): the backfill
# keeps to the checkpoint pace (safe_column.checkpoint_min_interval), a steady rate.
CONF
sc_as_postgres pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
[ "$mode" = "--teardown" ] && trap stop_cluster EXIT

psql_demo() { psql -X -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

sc_log "a table of $ROWS users"
psql_demo -q <<SQL
CREATE EXTENSION safe_column;
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE users;
SQL
psql_demo -c "SELECT current_setting('server_version') AS postgresql, pg_size_pretty(pg_total_relation_size('users')) AS users_size, count(*) AS rows FROM users"

psql_demo -qAt -c "SELECT pg_relation_filenode('users')" > "$DIR/filenode"
sc_log "1. catalog-only additions: no default, a constant default, NOT NULL with a default"
psql_demo <<'SQL'
\timing on
SELECT pg_relation_filenode('users') AS filenode_before \gset
SELECT safe_add_column('users', 'nickname', 'text');
SELECT safe_add_column('users', 'status', 'text', default_expr => $$'active'$$, not_null => true);
SELECT safe_add_column('users', 'score', 'integer', default_expr => '0');
\timing off
SELECT pg_relation_filenode('users') = :filenode_before AS no_table_rewrite,
       count(*) FILTER (WHERE status = 'active') AS rows_reading_active FROM users;
SQL

sc_log "2. the lock queue: a transaction holds the table for 4 s; safe_add_column waits without blocking anyone"
psql_demo -q -c "BEGIN; SELECT count(*) FROM users WHERE id = 1; SELECT pg_sleep(4); COMMIT;" >/dev/null &
blocker=$!
sleep 0.5  # let the blocker take its lock (the demo's own choreography, not a test)
psql_demo -q <<'SQL' &
-- foreground traffic while safe_add_column waits: 40 point queries, each timed
CREATE TEMP TABLE lat (ms float8);
DO $$
DECLARE t0 timestamptz; i int;
BEGIN
    FOR i IN 1..40 LOOP
        t0 := clock_timestamp();
        PERFORM email FROM users WHERE id = 1 + (random() * 999)::int;
        INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT count(*) AS foreground_queries, round(max(ms)::numeric, 1) AS max_latency_ms FROM lat;
SQL
traffic=$!
psql_demo <<'SQL'
\timing on
SELECT safe_add_column('users', 'referrer', 'text');
\timing off
SELECT column_name, lock_attempts, round(lock_wait_ms) AS lock_wait_ms FROM safe_column_jobs
 WHERE column_name = 'referrer';
SQL
wait "$traffic" "$blocker"

sc_log "3. when the blocker stays too long, a clear error names it (budget 1 s here)"
psql_demo -q -c "BEGIN; SELECT count(*) FROM users WHERE id = 1; SELECT pg_sleep(3); COMMIT;" >/dev/null &
blocker=$!
sleep 0.5
psql_demo -v ON_ERROR_STOP=0 <<'SQL' || true
SET safe_column.lock_wait_budget = '1s';
SELECT safe_add_column('users', 'blocked', 'text');
SQL
wait "$blocker"

sc_log "4. a volatile default, NOT NULL: staged, and backfilled by the background worker"
psql_demo -v filenode_before="$(cat "$DIR/filenode")" <<'SQL'
\timing on
SELECT safe_add_column('users', 'token', 'uuid', 'gen_random_uuid()', not_null => true) AS job \gset
\timing off
SELECT pg_sleep(1);  -- a moment of progress to look at (the demo's choreography, not a test)
SELECT job_id, state, phase, percent, rows_done, rows_total, rows_per_sec, eta, batch_rows, last_batch_ms, worker_pid
  FROM safe_column_progress WHERE job_id = :job;
SELECT safe_column_wait(:job);
SELECT pg_relation_filenode('users') = :filenode_before AS still_no_rewrite,
       count(*) AS rows, count(DISTINCT token) AS distinct_tokens FROM users;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'token';
SQL

sc_log "5. a migration tool's plain ALTER TABLE: explained, refused with the safe way (guard), staged (stage)"
psql_demo -v ON_ERROR_STOP=0 <<'SQL' || true
SELECT step, approach, lock_mode, rewrites, estimated_duration, left(coalesce(sql, note), 90) AS what
  FROM safe_column_plan('ALTER TABLE users ADD COLUMN seen_at timestamptz NOT NULL DEFAULT clock_timestamp()');
ALTER TABLE users ADD COLUMN seen_at timestamptz NOT NULL DEFAULT clock_timestamp();
SET safe_column.mode = stage;
ALTER TABLE users ADD COLUMN seen_at timestamptz NOT NULL DEFAULT clock_timestamp();
SELECT job_id AS seen_job FROM safe_column_jobs WHERE column_name = 'seen_at' \gset
CALL safe_column_watch(:seen_job);
SELECT count(seen_at) AS rows_with_seen_at, count(*) AS rows FROM users;
SQL

sc_log "6. every call is a job"
psql_demo -c "SELECT job_id, table_name, column_name, column_type, default_expr, not_null, state, lock_attempts,
                     round(lock_wait_ms) AS lock_wait_ms FROM safe_column_jobs ORDER BY job_id"

if [ "$mode" = "--teardown" ]; then
    sc_log "done; removing the cluster"
else
    sc_log "done. The demo cluster is still running. Connect with:"
    echo "    psql -h ${SC_HOST_ROOT:-}$DIR -p $PORT -U postgres postgres"
    echo "Remove it with: $0 --stop"
fi
