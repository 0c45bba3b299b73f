#!/usr/bin/env bash
# Backfill benchmark: five ways to give a big, busy table a NOT NULL uuid column filled with
# gen_random_uuid(), and two references, side by side in one run, each on an identical fresh table:
#   (1) ALTER TABLE users ADD COLUMN tok uuid NOT NULL DEFAULT gen_random_uuid()   -- table rewrite
#   (2) ADD COLUMN tok uuid + SET DEFAULT (catalog), one UPDATE users SET tok = gen_random_uuid(),
#       ALTER COLUMN tok SET NOT NULL
#   (3) like (2), but the UPDATE is a PL/pgSQL procedure committing every 10k ids (CALL, COMMIT in
#       the loop), then SET NOT NULL
#   (4) safe_add_column('users', 'tok', 'uuid', 'gen_random_uuid()', not_null => true) with
#       safe_column.throttle = off (ALTER SYSTEM + pg_reload_conf())
#   (5) the same at the default settings
#   (6) a reference, not a contender: (5)'s batches imitated in plain SQL from a client. A PL/pgSQL
#       procedure fills tok by TID ranges of the median batch size (5) used, one transaction each with
#       synchronous_commit off, pausing batch_sleep_ratio times each batch's duration after it, then
#       fills what the foreground moved, then CHECK NOT VALID, VALIDATE, SET NOT NULL + DROP CONSTRAINT.
#       Side by side with (5), it tells what the worker adds to the foreground's latency beyond the
#       work itself (the same rows updated, the same WAL written, in the same rhythm).
#   (7) a reference, not a contender: a loop in the style of pgroll's backfill, keyset batches of
#       1000 rows by primary key, one transaction each, no throttling, slowed to (5)'s rate (rows/s)
#       by a pause after each batch; then CHECK NOT VALID, VALIDATE, SET NOT NULL + DROP CONSTRAINT.
#       The foreground latency of the same work at the same pace done the way other tools do it.
#
# A throw-away PostgreSQL cluster (15, the machine's own, or SC_PG's in its Debian root) (temp dir under /tmp, unix socket only; shared_buffers 512MB,
# max_wal_size 1GB, log_checkpoints on). Before each variant, users (id bigint primary key, email text,
# created_at timestamptz, padding text) is dropped and copied again from users_template (BENCH_ROWS
# rows, built once), then VACUUM ANALYZE and CHECKPOINT. During each variant, foreground pgbench traffic
# (point select + single-row update of email by random id, 4 clients, -j 2, -R 300, per-transaction
# log) runs from 2 s before it starts until 2 s after it ends; a 10 s unloaded baseline runs first.
# Per variant: wall time (until tok is filled and NOT NULL), rows/s, the longest ACCESS EXCLUSIVE hold
# on users (pg_locks sampled every ~10 ms by a separate psql \watch), how long rows stay locked, WAL
# bytes, requested checkpoints, table size after, and the foreground p50/p99/max latency and failures
# of every transaction whose lifetime overlaps the variant, with what the foreground backends waited
# on (their wait events, sampled with pg_locks). During (4) and (5) the worker's RSS
# (/proc/<pid>/status) and its batches (safe_column_live()) are sampled too.
#
# Usage (as root; the extension must already be built and installed: make && make install):
#   bash test/bench/backfill.sh
# Environment:
#   BENCH_ROWS   rows in users            (default 2000000, at most 20000000)
#   BENCH_PORT   port of the temp cluster (default 5498; unix socket in the temp dir, no TCP)
#   BENCH_RATE   pgbench total tps (-R)   (default 300)
#   BENCH_CONF   extra postgresql.conf lines, e.g. "safe_column.batch_sleep_ratio = 1.5"
#   BENCH_KEEP=1 keep the temp dir (logs) after the run; the server is stopped regardless
#   BENCH_PROFILE   variants recorded with perf on every CPU, e.g. "2 4": CPU seconds by process (the
#                variant's session, the worker, the foreground, checkpointer, WAL writer, ...) and the
#                top functions of the session or worker, in test/bench/out/backfill_profile.txt. The
#                sampling costs the recorded variants a few per cent of their speed
#   BENCH_VARIANTS  the variants to run, e.g. "2 4" (default all; (6) and (7) need (5)). With a subset, only
#                the table of those variants is printed (no plot, no verdicts but (4) vs (2)), to
#                compare two builds' pace quickly: run it once per build, same settings
# Output: the table on stdout and in test/bench/out/backfill.txt, details in
# test/bench/out/backfill_details.txt, the latency plot of (2) vs (5) in
# test/bench/out/backfill_latency.png, the worker's memory in test/bench/out/backfill_worker_rss_<rows>.txt
# (compare a BENCH_ROWS=2000000 run with a BENCH_ROWS=20000000 run: the script prints every size it
# finds there). Exit status: 0 when the benchmark ran (whatever the verdicts), 1 when it could not run.
# shellcheck disable=SC2317  # functions called indirectly (body_$key, traps, background)
set -Eeuo pipefail

# SC_PG=17|18|19: the same benchmark on that version, in its Debian root (test/lib/pg_roots.sh), with
# safe_column built and installed there; its output lands in test/bench/out/pgNN/ here.
if [[ -z ${SC_IN_ROOT:-} && -n ${SC_PG:-} && ${SC_PG} != 15 ]]; then
    source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
    source "$(dirname "${BASH_SOURCE[0]}")/../lib/pg_roots.sh"
    suite=$(sc_root_suite "$SC_PG") || { echo "SC_PG=$SC_PG: 15, 17, 18 or 19" >&2; exit 1; }
    sc_ensure_root "$suite" || exit 1
    out=$SC_ROOT/test/bench/out/pg$SC_PG
    mkdir -p "$out" "$SC_ROOTS/$suite/var/tmp/bench-out"
    sc_in_root "$suite" env SC_IN_ROOT=1 SC_PG_MAJOR="$SC_PG" BENCH_OUT=/var/tmp/bench-out \
        BENCH_ROWS="${BENCH_ROWS:-}" BENCH_PORT="${BENCH_PORT:-}" BENCH_RATE="${BENCH_RATE:-}" \
        BENCH_CONF="${BENCH_CONF:-}" BENCH_VARIANTS="${BENCH_VARIANTS:-}" BENCH_PROFILE="${BENCH_PROFILE:-}" BENCH_KEEP="${BENCH_KEEP:-}" \
        bash -c 'source /src/test/lib/common.sh && sc_ensure_packages >/dev/null && sc_build_install >/dev/null &&
                 bash /src/test/bench/backfill.sh'
    rc=$?
    cp -r "$SC_ROOTS/$suite/var/tmp/bench-out/." "$out/" && echo "output in $out"
    exit $rc
fi

ROWS=${BENCH_ROWS:-2000000}
ALL_VARIANTS="1 2 3 4 5 6 7"
VARIANTS=${BENCH_VARIANTS:-$ALL_VARIANTS}
has_variant() { [[ " $VARIANTS " == *" $1 "* ]]; }
PORT=${BENCH_PORT:-5498}
RATE=${BENCH_RATE:-300}
CLIENTS=4
THREADS=2
BASELINE_S=10      # s of the unloaded baseline pgbench run
WARMUP_S=2         # pgbench runs this long before each variant starts
TAIL_S=2           # ... and this long after it ends
LOCK_SAMPLE_S=0.01 # pg_locks sampling interval (psql \watch)
LIVE_SAMPLE_S=0.1  # safe_column_live() sampling interval during (4) and (5)
PROC_BATCH=10000   # ids per COMMIT in variant (3)
GOAL_AE_MS=50
GOAL_MAX_MS=250
GOAL_P99_FACTOR=1.5     # the first backfill goal
GOAL_P99_FACTOR_DEFAULTS=2  # the goal at PostgreSQL's defaults (the checkpoint pace)
GOAL_RATE_FACTOR=0.9
GOAL_PACE_FACTOR=4      # (5) wall time <= 4x (2)
GOAL_WAL_FACTOR=1.3     # (5) WAL <= 1.3x (2)
GOAL_FORECAST_ERR=0.3   # the forecast of (5) within 30 % of its wall time
GOAL_SIZE_FACTOR=1.3

PGV=${SC_PG_MAJOR:-15}
PGBIN=${SC_PGROOT:-}/usr/lib/postgresql/$PGV/bin  # SC_PGROOT: see test/lib/common.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${BENCH_OUT:-$SCRIPT_DIR/out}
OUT_FILE=$OUT_DIR/backfill.txt
DETAILS_FILE=$OUT_DIR/backfill_details.txt
PLOT_FILE=$OUT_DIR/backfill_latency.png
RSS_FILE=$OUT_DIR/backfill_worker_rss_$ROWS.txt

T0=$(date +%s.%N)
log() { printf '[%6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 1000 && $ROWS -le 20000000 ]] ||
    die "BENCH_ROWS must be an integer 1000..20000000 (got '$ROWS')"
[[ $PORT =~ ^[0-9]+$ && $PORT -ge 1024 && $PORT -le 65535 ]] || die "BENCH_PORT must be 1024..65535 (got '$PORT')"
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 1 ]] || die "BENCH_RATE must be a positive integer (got '$RATE')"
[[ $(id -u) -eq 0 ]] || die "run as root (the cluster is created as the postgres user via runuser)"

# ---------------------------------------------------------------------------------------------
# Prerequisites: the PostgreSQL server binaries with pgbench (postgresql-NN provides them), gnuplot (gnuplot-nox). If this script installs PostgreSQL, it stops any
# cluster the install started.
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y "$@" >>/tmp/backfill_bench_apt.log 2>&1; then
        apt-get update >>/tmp/backfill_bench_apt.log 2>&1 || true
        apt-get install -y "$@" >>/tmp/backfill_bench_apt.log 2>&1 ||
            die "apt-get install $* failed, see /tmp/backfill_bench_apt.log"
    fi
}
need_install=0
for b in initdb pg_ctl postgres psql pgbench; do
    [[ -x $PGBIN/$b ]] || need_install=1
done
id postgres >/dev/null 2>&1 || need_install=1
if ((need_install)); then
    log "installing postgresql-$PGV (pgbench, initdb) with apt-get"
    before=$(pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true)
    apt_install "postgresql-$PGV"
    for c in $(pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true); do
        if ! grep -qx "$c" <<<"$before"; then
            log "stopping cluster $c started by the package install"
            pg_ctlcluster "${c%/*}" "${c#*/}" stop || true
        fi
    done
fi
if ! command -v gnuplot >/dev/null; then
    log "installing gnuplot-nox with apt-get"
    apt_install gnuplot-nox
fi
for b in initdb pg_ctl postgres psql pgbench; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b missing"
done
command -v gnuplot >/dev/null || die "gnuplot missing"
# gnuplot-nox has pngcairo (cairo) and png (libgd); prefer pngcairo.
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
    GP_TERM="pngcairo size 1280,640 font ',10'"
elif gnuplot -e 'set terminal png' >/dev/null 2>&1; then
    GP_TERM="png size 1280,640"
else
    die "gnuplot has neither the pngcairo nor the png terminal"
fi
SO_FILE=$($PGBIN/pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/$PGV/lib)/safe_column.so
[[ -f $SO_FILE ]] || die "safe_column is not installed (cd /work/main && make && make install)"
SO_INFO="safe_column.so installed $(date -u -r "$SO_FILE" +%Y-%m-%dT%H:%M:%SZ), tree at $(git -C "$SCRIPT_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v runuser >/dev/null || die "runuser missing (util-linux)"

# ---------------------------------------------------------------------------------------------
# Throw-away cluster, torn down on any exit.
source "$(dirname "$0")/../lib/bench.sh"  # BG_PIDS, forget_bg, bench_stop_server, bench_traps
source "$(dirname "$0")/../lib/bench_profile.sh"  # profile_start, profile_stop, profile_report
PROFILE=${BENCH_PROFILE:-}
profiled() { [[ " $PROFILE " == *" $1 "* ]]; }
bench_tmpdir safe_column_bench
PGDATA_DIR=$TMP/data
BENCH_DATADIRS=("$PGDATA_DIR")
BENCH_LOGS=("$TMP/server.log")
bench_traps
if [[ -n $PROFILE ]]; then
    [[ $PROFILE =~ ^[1-7]( [1-7])*$ ]] || die "BENCH_PROFILE: variant numbers 1 to 7, separated by spaces"
    for k in $PROFILE; do has_variant "$k" || die "BENCH_PROFILE: ($k) is not among the variants run"; done
    profile_check
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
OTHER_PG_BEFORE=$(pgrep -c -x postgres || true)
log "initdb in $TMP (port $PORT, unix socket only); load average $LOAD_BEFORE, $OTHER_PG_BEFORE postgres processes of others"
bench_initdb "$PGDATA_DIR" backfill.sh
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
shared_buffers = 512MB
max_wal_size = 1GB
log_checkpoints = on
log_autovacuum_min_duration = 0
log_lock_waits = on
log_line_prefix = '%n [%p] %b '
${BENCH_CONF:-}
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$TMP/server.log" -w -t 30 start >/dev/null ||
    die "server did not start"
PM_PID=$(head -1 "$PGDATA_DIR/postmaster.pid")

unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGSSLMODE PGHOSTADDR PGAPPNAME
export PGHOST=$TMP PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
# The checkpoint counters: pg_stat_bgwriter up to 16, pg_stat_checkpointer from 17.
if ((PGV >= 17)); then
    CKPT_SQL="SELECT pg_current_wal_lsn() || ' ' || num_requested || ' ' || num_timed FROM pg_stat_checkpointer"
else
    CKPT_SQL="SELECT pg_current_wal_lsn() || ' ' || checkpoints_req || ' ' || checkpoints_timed FROM pg_stat_bgwriter"
fi
q() { "${PSQL[@]}" -At -c "$1"; }

"${PSQL[@]}" -d postgres -c 'CREATE DATABASE bench' || die "createdb failed"

# ---------------------------------------------------------------------------------------------
log "building users_template with $ROWS rows"
"${PSQL[@]}" <<SQL || die "building users_template failed"
CREATE EXTENSION safe_column;
CREATE TABLE users_template AS
SELECT g::bigint AS id, 'user' || g || '@example.com' AS email,
       now() - g * interval '1 minute' AS created_at, repeat(md5(g::text), 3) AS padding
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE users_template;

-- Variant (3): fill by primary key ranges, one transaction per range; reports its longest batch.
CREATE PROCEDURE bench_fill(batch bigint)
LANGUAGE plpgsql AS \$\$
DECLARE
    lo bigint;
    hi bigint;
    t0 timestamptz;
    ms double precision;
    max_ms double precision := 0;
    n integer := 0;
BEGIN
    SELECT min(id), max(id) INTO lo, hi FROM users;
    WHILE lo <= hi LOOP
        t0 := clock_timestamp();
        UPDATE users SET tok = gen_random_uuid() WHERE id >= lo AND id < lo + batch AND tok IS NULL;
        COMMIT;
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        max_ms := greatest(max_ms, ms);
        n := n + 1;
        lo := lo + batch;
    END LOOP;
    RAISE NOTICE 'bench_fill % %', n, round(max_ms::numeric, 1);
END
\$\$;

-- Variant (7): keyset batches by primary key (pgroll's way), one transaction each, paced to rows_per_s
-- by a pause after each batch (none when the batch itself took longer); reports its longest batch.
CREATE PROCEDURE bench_keyset_fill(batch integer, rows_per_s float8)
LANGUAGE plpgsql AS \$\$
DECLARE
    last bigint := 0;
    hi bigint;
    t0 timestamptz;
    ms double precision;
    max_ms double precision := 0;
    period_ms double precision := CASE WHEN rows_per_s > 0 THEN batch * 1000.0 / rows_per_s ELSE 0 END;
    n integer := 0;
BEGIN
    LOOP
        t0 := clock_timestamp();
        SELECT max(id) INTO hi FROM (SELECT id FROM users WHERE id > last ORDER BY id LIMIT batch) k;
        EXIT WHEN hi IS NULL;
        UPDATE users SET tok = gen_random_uuid() WHERE id > last AND id <= hi AND tok IS NULL;
        COMMIT;
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        max_ms := greatest(max_ms, ms);
        n := n + 1;
        last := hi;
        PERFORM pg_sleep(greatest(period_ms - ms, 0) / 1000);
    END LOOP;
    RAISE NOTICE 'bench_keyset_fill % %', n, round(max_ms::numeric, 1);
END
\$\$;

-- Variant (6): TID ranges of a fixed number of blocks, one transaction each, a pause of sleep_ratio
-- times the batch's duration after each; then the rows the foreground moved behind the fill.
CREATE PROCEDURE bench_tid_fill(blocks integer, sleep_ratio float8)
LANGUAGE plpgsql AS \$\$
DECLARE
    nblocks bigint := pg_relation_size('users') / current_setting('block_size')::integer;
    b bigint := 0;
    t0 timestamptz;
    ms double precision;
    max_ms double precision := 0;
    n integer := 0;
BEGIN
    WHILE b < nblocks LOOP
        t0 := clock_timestamp();
        UPDATE users SET tok = gen_random_uuid()
         WHERE ctid >= format('(%s,0)', b)::tid AND ctid < format('(%s,0)', b + blocks)::tid AND tok IS NULL;
        COMMIT;
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        max_ms := greatest(max_ms, ms);
        n := n + 1;
        b := b + blocks;
        PERFORM pg_sleep(ms * sleep_ratio / 1000);
    END LOOP;
    UPDATE users SET tok = gen_random_uuid() WHERE tok IS NULL;
    COMMIT;
    RAISE NOTICE 'bench_tid_fill % %', n, round(max_ms::numeric, 1);
END
\$\$;
SQL

cat >"$TMP/fg.sql" <<'EOF'
\set id random(1, :rows)
SELECT email, created_at FROM users WHERE id = :id;
UPDATE users SET email = 'user' || :id || '@example.org' WHERE id = :id;
EOF

# ---------------------------------------------------------------------------------------------
# pg_locks sampler for the whole run: one line per sample, "epoch holders waits": holders are
# pid|virtualxid|backend_type of every granted AccessExclusiveLock on public.users, or "-"; waits are
# the wait events of the pgbench backends running a statement (CPU: none), or "-".
# Prepared once (planned once), and the holder's backend type looked up only when there is a holder:
# the sampler's backend runs 100 times a second beside the variant.
cat >"$TMP/locks.sql" <<'EOF'
PREPARE lock_sample AS
SELECT extract(epoch FROM clock_timestamp())::numeric(20, 6),
       coalesce((SELECT string_agg(l.pid || '|' || l.virtualtransaction || '|' ||
                                   replace(coalesce((SELECT a.backend_type FROM pg_stat_activity a WHERE a.pid = l.pid),
                                                    '?'), ' ', '_'), ',')
                   FROM pg_locks l
                  WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND l.relation = (SELECT c.oid FROM pg_class c
                                       WHERE c.relname = 'users' AND c.relnamespace = 'public'::regnamespace)),
                '-'),
       coalesce((SELECT string_agg(coalesce(wait_event_type || ':' || wait_event, 'CPU'), ',')
                   FROM pg_stat_activity WHERE application_name = 'pgbench' AND state = 'active'), '-');
EXECUTE lock_sample
EOF
echo "\\watch $LOCK_SAMPLE_S" >>"$TMP/locks.sql"
# psql installs its own SIGINT handler: SIGINT ends \watch and psql exits, with its output flushed.
"$PGBIN/psql" -X -At -F ' ' -f "$TMP/locks.sql" >"$TMP/locks.out" 2>"$TMP/locks.err" &
LOCK_SAMPLER=$!
BG_PIDS+=("$LOCK_SAMPLER")

# Worker samplers for (4) and (5): its RSS from /proc, its batches from safe_column_live().
cat >"$TMP/live.sql" <<EOF
SELECT extract(epoch FROM clock_timestamp())::numeric(20, 6), job_id, worker_pid, phase, batch_blocks, batch_rows,
       round(last_batch_ms::numeric, 1), throttled
  FROM safe_column_live()
\\watch $LIVE_SAMPLE_S
EOF
# With bash builtins only ($EPOCHREALTIME, read, read -t as the nap): a sampler that forked awk, date
# and sleep ten times a second took about 7 s of CPU from the worker it measured during (4) (seen with
# BENCH_PROFILE), on a 2-core machine.
rss_sampler() {
    local out=$1 pid= line r a s h nap
    exec {nap}<> <(:)
    while :; do
        if [[ -z $pid || ! -r /proc/$pid/status ]]; then
            pid=$("$PGBIN/psql" -X -At -c "SELECT pid FROM pg_stat_activity
                    WHERE backend_type = 'safe_column worker' AND datname = 'bench' LIMIT 1" 2>/dev/null || true)
        fi
        if [[ -n $pid ]]; then
            r= a= s= h=
            while read -r line; do
                case $line in
                VmRSS:*) r=${line//[!0-9]/} ;;
                RssAnon:*) a=${line//[!0-9]/} ;;
                RssShmem:*) s=${line//[!0-9]/} ;;
                VmHWM:*) h=${line//[!0-9]/} ;;
                esac
            done <"/proc/$pid/status" 2>/dev/null || pid=
            # All four or none (a read that races with the worker's exit would shift the columns).
            [[ -n $r && -n $a && -n $s && -n $h ]] && echo "$EPOCHREALTIME $pid $r $a $s $h" >>"$out"
        fi
        read -r -t 0.1 -u "$nap" _ || true
    done
}

# ---------------------------------------------------------------------------------------------
# pgbench in the background; stopped with SIGTERM (pgbench has no signal handler of its own, and a
# background job of a non-interactive shell ignores SIGINT): the last, unflushed lines of its logs
# are lost, which is why it runs TAIL_S beyond the window and incomplete last lines are dropped.
start_pgbench() {  # KEY DURATION
    "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$THREADS" -R "$RATE" -T "$2" -f "$TMP/fg.sql" -D rows="$ROWS" \
        -l --log-prefix="$TMP/$1.pgb" >"$TMP/$1.pgbench.out" 2>&1 &
    PGB_PID=$!
    BG_PIDS+=("$PGB_PID")
}
stop_bg() {  # PID: SIGTERM unless already gone; forget it
    local p=$1 rc=0 keep=()
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
    else
        rc=1   # it had ended by itself
    fi
    wait "$p" 2>/dev/null || true
    forget_bg "$p"
    return $rc
}
stop_psql() {  # PID of a psql in \watch: SIGINT ends it with its output flushed; SIGTERM after 5 s
    local p=$1 i
    kill -INT "$p" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    stop_bg "$p" || true
}

# pgb_lines KEY: every complete line of its pgbench logs
pgb_lines() {
    local f
    for f in "$TMP/$1".pgb.*; do
        [[ -f $f ]] || continue
        if [[ -s $f && $(tail -c1 "$f" | od -An -tx1 | tr -d ' ') != 0a ]]; then
            head -n -1 "$f"
        else
            cat "$f"
        fi
    done
}

# tv KEY NAME: a value recorded by run_variant
tv() { awk -F= -v k="$2" '$1 == k {v = $2} END {print v}' "$TMP/$1.times"; }
mark() { awk -v k="$2" '$1 == "mark" && $2 == k {print $3}' "$TMP/$1.out"; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b-a)*1000}'; }

MARK() { echo "SELECT 'mark $1 ' || extract(epoch FROM clock_timestamp());"; }

# Variant bodies: SQL for psql -At; marks "start" and "end" are required ((4)/(5): end = finished_at).
body_1() {
    MARK start
    echo "ALTER TABLE users ADD COLUMN tok uuid NOT NULL DEFAULT gen_random_uuid();"
    MARK end
}
body_2() {
    MARK start
    echo "BEGIN; ALTER TABLE users ADD COLUMN tok uuid; ALTER TABLE users ALTER COLUMN tok SET DEFAULT gen_random_uuid(); COMMIT;"
    MARK added
    echo "UPDATE users SET tok = gen_random_uuid();"
    MARK filled
    echo "ALTER TABLE users ALTER COLUMN tok SET NOT NULL;"
    MARK end
}
body_3() {
    MARK start
    echo "BEGIN; ALTER TABLE users ADD COLUMN tok uuid; ALTER TABLE users ALTER COLUMN tok SET DEFAULT gen_random_uuid(); COMMIT;"
    MARK added
    echo "CALL bench_fill($PROC_BATCH);"
    MARK filled
    echo "ALTER TABLE users ALTER COLUMN tok SET NOT NULL;"
    MARK end
}
body_safe() {
    # What safe_column_plan() forecasts for the backfill at the settings of the run, before it starts.
    echo "SELECT 'forecast ' || round(extract(epoch FROM estimated_duration)::numeric, 1) FROM safe_column_plan(
            'ALTER TABLE users ADD COLUMN tok uuid NOT NULL DEFAULT gen_random_uuid()') WHERE note LIKE 'background worker%';"
    MARK start
    echo "SELECT safe_add_column('users', 'tok', 'uuid', 'gen_random_uuid()', not_null => true) AS job \\gset"
    MARK added
    echo "SELECT 'job ' || :job;"
    echo "SET client_min_messages = warning;"
    # The procedure form of safe_column_wait: it holds no snapshot between polls, so VACUUM can reclaim
    # the backfill's dead row versions (a long SELECT safe_column_wait() would pin the xmin horizon).
    echo "CALL safe_column_watch(:job, '4 hours');"
    MARK waited
    echo "SELECT 'jobrow ' || concat_ws(' ', state, extract(epoch FROM started_at), extract(epoch FROM finished_at),
                 rows_done, sweep_rows, batches, wal_bytes, lock_attempts, round(lock_wait_ms::numeric, 1),
                 round(throttled_ms::numeric), phase)
            FROM safe_column_jobs WHERE job_id = :job;"
    echo "SELECT 'mark end ' || extract(epoch FROM finished_at) FROM safe_column_jobs WHERE job_id = :job;"
}
body_4() { body_safe; }
body_5() { body_safe; }
body_6() {
    MARK start
    echo "BEGIN; ALTER TABLE users ADD COLUMN tok uuid; ALTER TABLE users ALTER COLUMN tok SET DEFAULT gen_random_uuid(); COMMIT;"
    MARK added
    echo "SET synchronous_commit = off; SET enable_seqscan = off;"
    echo "CALL bench_tid_fill($TID_BLOCKS, $TID_SLEEP_RATIO);"
    echo "RESET synchronous_commit; RESET enable_seqscan;"
    MARK filled
    echo "ALTER TABLE users ADD CONSTRAINT tok_not_null CHECK (tok IS NOT NULL) NOT VALID;"
    echo "ALTER TABLE users VALIDATE CONSTRAINT tok_not_null;"
    echo "BEGIN; ALTER TABLE users ALTER COLUMN tok SET NOT NULL; ALTER TABLE users DROP CONSTRAINT tok_not_null; COMMIT;"
    MARK end
}
body_7() {
    MARK start
    echo "BEGIN; ALTER TABLE users ADD COLUMN tok uuid; ALTER TABLE users ALTER COLUMN tok SET DEFAULT gen_random_uuid(); COMMIT;"
    MARK added
    echo "CALL bench_keyset_fill(1000, $KEYSET_RATE);"
    MARK filled
    echo "ALTER TABLE users ADD CONSTRAINT tok_not_null CHECK (tok IS NOT NULL) NOT VALID;"
    echo "ALTER TABLE users VALIDATE CONSTRAINT tok_not_null;"
    echo "BEGIN; ALTER TABLE users ALTER COLUMN tok SET NOT NULL; ALTER TABLE users DROP CONSTRAINT tok_not_null; COMMIT;"
    MARK end
}

# run_variant KEY: fresh users, pgbench, the variant, measurements; leaves $TMP/KEY.*
run_variant() {
    local key=$1 label=$2
    log "($key) $label: preparing a fresh users"
    bench_prepare_users
    log "($key) pgbench $CLIENTS clients -j $THREADS -R $RATE from ${WARMUP_S}s before until ${TAIL_S}s after"
    start_pgbench "$key" 86400
    local pgb=$PGB_PID live_pid='' rss_pid=''
    if [[ $key == 4 || $key == 5 ]]; then
        "$PGBIN/psql" -X -At -F ' ' -f "$TMP/live.sql" >"$TMP/$key.live" 2>"$TMP/$key.live.err" &
        live_pid=$!
        BG_PIDS+=("$live_pid")
        : >"$TMP/$key.rss"
        rss_sampler "$TMP/$key.rss" &
        rss_pid=$!
        BG_PIDS+=("$rss_pid")
    fi
    sleep "$WARMUP_S"
    kill -0 "$pgb" 2>/dev/null || die "($key) pgbench ended early: $(tail -n 5 "$TMP/$key.pgbench.out")"

    local pre
    pre=$(q "$CKPT_SQL")
    log "($key) running"
    "body_$key" >"$TMP/$key.sql"
    if profiled "$key"; then profile_start "$key"; fi
    PGAPPNAME=variant "${PSQL[@]}" -At -F ' ' -f "$TMP/$key.sql" >"$TMP/$key.out" 2>&1 ||
        { cat "$TMP/$key.out" >&2; die "($key) $label failed"; }
    if profiled "$key"; then profile_stop "$key"; fi
    local post
    post=$(q "$CKPT_SQL")
    local t_start t_end
    t_start=$(mark "$key" start) t_end=$(mark "$key" end)
    [[ -n $t_start && -n $t_end ]] || { cat "$TMP/$key.out" >&2; die "($key) no start/end marks"; }
    if [[ $key == 4 || $key == 5 ]]; then
        local state
        state=$(awk '$1 == "jobrow" {print $2}' "$TMP/$key.out")
        [[ $state == complete ]] || { cat "$TMP/$key.out" >&2; die "($key) job ended in state '$state'"; }
    fi
    # The end state: tok NOT NULL with its default.
    local check
    check=$(q "SELECT a.attnotnull AND pg_get_expr(d.adbin, d.adrelid) = 'gen_random_uuid()'
                 FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = 'users'::regclass AND a.attname = 'tok'")
    [[ $check == t ]] || die "($key) users.tok is not NOT NULL DEFAULT gen_random_uuid() after the variant"
    local size idx
    size=$(q "SELECT pg_table_size('users')")
    idx=$(q "SELECT pg_indexes_size('users')")
    local wal
    wal=$(q "SELECT pg_wal_lsn_diff('${post%% *}', '${pre%% *}')::bigint")
    sleep "$TAIL_S"
    local pgb_ended=0
    stop_bg "$pgb" || pgb_ended=1
    [[ -n $live_pid ]] && stop_psql "$live_pid"
    [[ -n $rss_pid ]] && { stop_bg "$rss_pid" || true; }
    local c0 c1 tm0 tm1
    read -r _ c0 tm0 <<<"$pre"
    read -r _ c1 tm1 <<<"$post"
    {
        echo "label=$label"
        echo "t_start=$t_start"
        echo "t_end=$t_end"
        echo "wall_s=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN{printf "%.2f", b-a}')"
        echo "wal=$wal"
        echo "ckpt_req=$((c1 - c0))"
        echo "ckpt_timed=$((tm1 - tm0))"
        echo "size=$size"
        echo "idx=$idx"
        echo "pgb_ended=$pgb_ended"
    } >>"$TMP/$key.times"
    log "($key) done: $(tv "$key" wall_s) s, WAL $((wal / 1048576)) MB, table $((size / 1048576)) MB"
}

# fg_stats KEY T0 T1: "tx fail p50 p99 max slow" over the transactions whose lifetime (scheduled start
# to completion) overlaps [T0, T1]. Log fields (pgbench 15, -l with -R): client tx_no latency_us
# script_no epoch_s epoch_us sched_lag_us; latency is "failed" for a failed transaction.
fg_stats() {
    local key=$1 w0=$2 w1=$3
    pgb_lines "$key" | awk -v w0="$w0" -v w1="$w1" -v goal="$GOAL_MAX_MS" -v ex="$TMP/$key.fgx" '
        NF >= 6 {
            t = $5 + $6 / 1e6
            if ($3 ~ /^[0-9]+$/) {
                lat = $3 / 1000.0
                if (t >= w0 && t - lat / 1000.0 <= w1) { print lat; if (lat > goal) slow++ }
            } else if (t >= w0 && t <= w1) {
                bad++
            }
        }
        END { printf "%d %d\n", bad, slow > ex }' | sort -n >"$TMP/$key.lat"
    local bad slow aborted
    read -r bad slow <"$TMP/$key.fgx"
    # a client that hit an error aborts (pgbench prints it at once, unbuffered)
    aborted=$(grep -Ec 'client [0-9]+ aborted' "$TMP/$key.pgbench.out" || true)
    awk -v n="$(wc -l <"$TMP/$key.lat")" -v f="$TMP/$key.lat" -v failures="$((bad + aborted))" -v slow="$slow" '
        BEGIN {
            if (n == 0) { printf "0 %d 0 0 0 0\n", failures; exit }
            i50 = int(n * 0.50 + 0.999999); i99 = int(n * 0.99 + 0.999999)
            while ((getline v < f) > 0) { k++; if (k == i50) p50 = v; if (k == i99) p99 = v; m = v }
            printf "%d %d %.1f %.1f %.1f %d\n", n, failures, p50, p99, m, slow
        }'
}

# ae_spans T0 T1: one line per ACCESS EXCLUSIVE hold on users seen by the sampler that overlaps
# [T0, T1]: "holder_type pid lower_ms upper_ms first_epoch". lower = last - first sample that saw it,
# upper = from the last sample before it to the first sample after it (the hold lies in between).
ae_spans() {
    awk -v w0="$1" -v w1="$2" '
        NF != 3 || $1 !~ /^[0-9.]+$/ { next }
        {
            t = $1
            delete cur
            if ($2 != "-") { n = split($2, hs, ","); for (i = 1; i <= n; i++) cur[hs[i]] = 1 }
            for (h in open) if (!(h in cur)) { close_span(h, t) }
            for (h in cur) if (!(h in open)) { open[h] = 1; first[h] = t; before[h] = (prev == "" ? t : prev) }
            for (h in cur) last[h] = t
            prev = t
        }
        function close_span(h, t,    a) {
            if (last[h] >= w0 && first[h] <= w1) {
                split(h, a, "|")
                printf "%s %s %.1f %.1f %.6f\n", a[3], a[1], (last[h] - first[h]) * 1000, (t - before[h]) * 1000, first[h]
            }
            delete open[h]
        }
        END { for (h in open) close_span(h, prev) }' "$TMP/locks.out" | sort -k5,5n
}

# ---------------------------------------------------------------------------------------------
log "baseline: a fresh users, ${BASELINE_S}s of pgbench without DDL"
bench_prepare_users
FRESH_SIZE=$(q "SELECT pg_table_size('users')")
start_pgbench base "$BASELINE_S"
BASE_T0=$(now)
wait "$PGB_PID" || die "baseline pgbench failed: $(tail -n 5 "$TMP/base.pgbench.out")"
forget_bg "$PGB_PID"
BASE_T1=$(now)
read -r B_tx B_fail B_p50 B_p99 B_max B_slow <<<"$(fg_stats base "$BASE_T0" "$BASE_T1")"
log "baseline: $B_tx tx, p50 $B_p50 ms, p99 $B_p99 ms, max $B_max ms"

declare -A LABEL=(
    [1]="ALTER ADD COLUMN (rewrite)"
    [2]="UPDATE + SET NOT NULL"
    [3]="PL/pgSQL 10k-row commits"
    [4]="safe_add_column throttle=off"
    [5]="safe_add_column defaults"
    [6]="(ref.) (5)'s batches, plain SQL"
    [7]="(ref.) keyset loop at (5)'s rate"
)
[[ $VARIANTS =~ ^[1-7]( [1-7])*$ ]] || die "BENCH_VARIANTS: variant numbers 1 to 7, separated by spaces"
if has_variant 6 && ! has_variant 5; then die "BENCH_VARIANTS: (6) imitates (5): run both"; fi
if has_variant 7 && ! has_variant 5; then die "BENCH_VARIANTS: (7) runs at (5)'s rate: run both"; fi
if has_variant 1; then run_variant 1 "${LABEL[1]}"; fi
if has_variant 2; then run_variant 2 "${LABEL[2]}"; fi
if has_variant 3; then run_variant 3 "${LABEL[3]}"; fi
if has_variant 4; then
q "ALTER SYSTEM SET safe_column.throttle = off" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do [[ $(q "SHOW safe_column.throttle") == off ]] && break; sleep 0.1; done
[[ $(q "SHOW safe_column.throttle") == off ]] || die "safe_column.throttle did not become off"
run_variant 4 "${LABEL[4]}"
fi
q "ALTER SYSTEM RESET safe_column.throttle" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do [[ $(q "SHOW safe_column.throttle") == on ]] && break; sleep 0.1; done
[[ $(q "SHOW safe_column.throttle") == on ]] || die "safe_column.throttle did not come back on"
if has_variant 5; then run_variant 5 "${LABEL[5]}"; fi
if has_variant 6; then
# (6) imitates (5): its median batch size (safe_column_live() samples) and the sleep ratio it used.
TID_BLOCKS=$(awk 'NF >= 8 && $5 + 0 > 0 {print $5}' "$TMP/5.live" | sort -n | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : 0)}')
[[ $TID_BLOCKS =~ ^[0-9]+$ && $TID_BLOCKS -gt 0 ]] || die "no batch sizes of (5) to imitate in (6)"
TID_SLEEP_RATIO=$(q "SHOW safe_column.batch_sleep_ratio")
run_variant 6 "${LABEL[6]}"
fi
if has_variant 7; then
KEYSET_RATE=$(awk -v r="$ROWS" -v w="$(tv 5 wall_s)" 'BEGIN{printf "%.0f", (w > 0 ? r / w : 0)}')
run_variant 7 "${LABEL[7]}"
fi
GUCS=$(q "SELECT string_agg(name || ' = ' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings
          WHERE name IN ('safe_column.throttle', 'safe_column.batch_target', 'safe_column.batch_sleep_ratio',
                         'safe_column.lock_timeout', 'safe_column.max_wal_rate')")
SERVER_CONF=$(q "SELECT 'shared_buffers ' || current_setting('shared_buffers') || ', max_wal_size ' ||
                        current_setting('max_wal_size')")

stop_psql "$LOCK_SAMPLER"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Sampling interval of the lock sampler: median gap between samples.
LOCK_RES=$(awk 'NF == 3 && $1 ~ /^[0-9.]+$/ { if (p != "") print ($1 - p) * 1000; p = $1 }' "$TMP/locks.out" |
    sort -n | awk '{v[NR] = $1} END {if (NR) printf "%.1f %.1f", v[int(NR / 2) + 1], v[int(NR * 0.99) + 1]; else print "? ?"}')
read -r LOCK_MED LOCK_P99 <<<"$LOCK_RES"

# ---------------------------------------------------------------------------------------------
# Per-variant figures.
declare -A WALL RPS AE LOCKED WALMB CKPT SIZE TX FAIL P50 P99 MAX SLOW
for k in $VARIANTS; do
    t0=$(tv $k t_start) t1=$(tv $k t_end)
    WALL[$k]=$(tv $k wall_s)
    RPS[$k]=$(awk -v r="$ROWS" -v w="${WALL[$k]}" 'BEGIN{printf "%d", (w > 0 ? r / w : 0)}')
    ae_spans "$t0" "$(awk -v t="$t1" 'BEGIN{printf "%.6f", t + 1}')" >"$TMP/$k.ae"
    AE[$k]=$(awk 'BEGIN{m = 0} {if ($4 > m) m = $4} END{printf "%.1f", m}' "$TMP/$k.ae")
    case $k in
    1) LOCKED[$k]=- ;;
    2) LOCKED[$k]=$(ms_between "$(mark 2 added)" "$(mark 2 filled)") ;;
    3) LOCKED[$k]=$(awk 'sub(/.*NOTICE:  bench_fill /, "") {print $2}' "$TMP/3.out") ;;
    6) LOCKED[$k]=$(awk 'sub(/.*NOTICE:  bench_tid_fill /, "") {print $2}' "$TMP/6.out") ;;
    7) LOCKED[$k]=$(awk 'sub(/.*NOTICE:  bench_keyset_fill /, "") {print $2}' "$TMP/7.out") ;;
    *) LOCKED[$k]=$(awk 'NF >= 8 && $7 + 0 > m {m = $7 + 0} END {printf "%.1f", m}' "$TMP/$k.live") ;;
    esac
    WALMB[$k]=$(awk -v b="$(tv $k wal)" 'BEGIN{printf "%.0f", b / 1048576}')
    CKPT[$k]=$(tv $k ckpt_req)
    SIZE[$k]=$(awk -v b="$(tv $k size)" 'BEGIN{printf "%.0f", b / 1048576}')
    read -r TX[$k] FAIL[$k] P50[$k] P99[$k] MAX[$k] SLOW[$k] <<<"$(fg_stats $k "$t0" "$t1")"
    [[ $(tv $k pgb_ended) == 1 ]] && FAIL[$k]=$((FAIL[$k] + 1))
done

if [[ -n $PROFILE ]]; then
    mkdir -p "$OUT_DIR"
    {
        echo "backfill benchmark profile: $ROWS rows; $SO_INFO; run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        for k in $PROFILE; do
            echo
            echo "($k) ${LABEL[$k]}: wall ${WALL[$k]} s"
            profile_report "$k"
        done
    } | tee "$OUT_DIR/backfill_profile.txt"
fi

# A subset of the variants: their table only.
if [[ $VARIANTS != "$ALL_VARIANTS" ]]; then
    mkdir -p "$OUT_DIR"
    {
        echo "backfill benchmark, variants $VARIANTS only: $ROWS rows, adding tok uuid NOT NULL DEFAULT gen_random_uuid()"
        echo "server: $SERVER_CONF; $GUCS; $SO_INFO; run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf '%-31s %8s %8s %7s %7s %8s %8s\n' variant wall_s rows/s WAL_MB size_MB p99_ms max_ms
        for k in $VARIANTS; do
            printf '%-31s %8.2f %8d %7d %7d %8.1f %8.1f\n' "($k) ${LABEL[$k]}" "${WALL[$k]}" "${RPS[$k]}" \
                "${WALMB[$k]}" "${SIZE[$k]}" "${P99[$k]}" "${MAX[$k]}"
        done
        printf '%-31s %8s %8s %7s %7s %8.1f %8.1f\n' "baseline (no DDL)" - - - - "$B_p99" "$B_max"
        if has_variant 2 && has_variant 4; then
            echo "(4) rows/s / (2) rows/s: $(awk -v a="${RPS[4]}" -v b="${RPS[2]}" 'BEGIN{printf "%.2fx", (b > 0 ? a / b : 0)}')"
        fi
    } | tee "$OUT_DIR/backfill_subset.txt"
    exit 0
fi

# Worker memory during (4) and (5).
rss_max() {  # KEY: "max_rss_kb max_anon_kb max_shmem_kb hwm_kb samples pids"
    awk '{ if ($3 > r) r = $3; if ($4 > a) a = $4; if ($5 > s) s = $5; if ($6 > h) h = $6; n++; p[$2] = 1 }
         END { np = 0; for (x in p) np++; printf "%d %d %d %d %d %d\n", r, a, s, h, n, np }' "$TMP/$1.rss"
}
read -r R4_rss R4_anon _ _ _ _ <<<"$(rss_max 4)"
read -r R5_rss R5_anon R5_shm R5_hwm R5_n R5_np <<<"$(rss_max 5)"
mkdir -p "$OUT_DIR"
printf '%s %s %s %s %s %s\n' "$ROWS" "$R5_rss" "$R5_anon" "$R5_shm" "$R5_hwm" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$RSS_FILE"

# Checkpoints and autovacuum of users in a window, from the server log (%n = epoch prefix).
log_events() {  # T0 T1
    awk -v w0="$1" -v w1="$2" '
        $1 + 0 >= w0 && $1 + 0 <= w1 && /checkpoint starting:/ { sub(/.*checkpoint starting: /, ""); c[$0]++ }
        $1 + 0 >= w0 && $1 + 0 <= w1 && /automatic vacuum of table "bench.public.users"/ { v++ }
        END { s = ""; for (r in c) s = s (s == "" ? "" : ", ") c[r] " (" r ")"; if (s == "") s = "none"
              printf "checkpoints started: %s; autovacuum of users: %d\n", s, v }' "$TMP/server.log"
}

# ---------------------------------------------------------------------------------------------
# The plot: foreground latency over time, (2) vs (5).
for k in 2 5; do
    t0=$(tv $k t_start)
    pgb_lines $k | awk -v t0="$t0" 'NF >= 6 && $3 ~ /^[0-9]+$/ { printf "%.3f %.3f\n", $5 + $6 / 1e6 - t0, $3 / 1000.0 }' |
        sort -n >"$TMP/plot_$k.dat"
done
W2=${WALL[2]} W5=${WALL[5]}
XMAX=$(awk -v a="$W2" -v b="$W5" -v t="$TAIL_S" 'BEGIN{m = (a > b ? a : b); printf "%.1f", m + t}')
gnuplot >"$TMP/gnuplot.out" 2>&1 <<EOF || { cat "$TMP/gnuplot.out" >&2; die "gnuplot failed"; }
set terminal $GP_TERM
set output '$PLOT_FILE'
set title "Foreground latency while adding tok uuid NOT NULL DEFAULT gen_random_uuid() to $ROWS rows\n(pgbench $CLIENTS clients, -R $RATE, point select + update by id; dashed lines: end of each variant)"
set xlabel 'seconds since the variant started (transaction completion time)'
set ylabel 'latency, ms (log scale)'
set logscale y
set termoption noenhanced
set grid
set key top left box opaque
set xrange [-$WARMUP_S:$XMAX]
set arrow from $W2, graph 0 to $W2, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'
set arrow from $W5, graph 0 to $W5, graph 1 nohead dt 2 lw 1.5 lc rgb '#1f77b4'
plot '$TMP/plot_5.dat' using 1:2 with points pt 7 ps 0.35 lc rgb '#1f77b4' title '(5) safe_add_column, defaults (${W5} s)', \
     '$TMP/plot_2.dat' using 1:2 with points pt 7 ps 0.35 lc rgb '#d62728' title '(2) UPDATE + SET NOT NULL (${W2} s)', \
     $GOAL_MAX_MS with lines dt 3 lw 1.5 lc rgb 'black' title 'goal: $GOAL_MAX_MS ms'
EOF

# ---------------------------------------------------------------------------------------------
# Verdicts.
pass() { if awk "BEGIN{exit !($1)}"; then echo PASS; else echo FAIL; fi; }
V_RATE=$(pass "${RPS[4]} >= $GOAL_RATE_FACTOR * ${RPS[2]}")
V_MAX=$(pass "${MAX[5]} <= $GOAL_MAX_MS && ${TX[5]} > 0 && ${FAIL[5]} == 0")
V_P99=$(pass "${P99[5]} <= $GOAL_P99_FACTOR * $B_p99")
V_P99_2=$(pass "${P99[5]} <= $GOAL_P99_FACTOR_DEFAULTS * $B_p99")
V_AE=$(pass "${AE[4]} <= $GOAL_AE_MS && ${AE[5]} <= $GOAL_AE_MS")
V_SIZE=$(pass "${SIZE[5]} <= $GOAL_SIZE_FACTOR * ${SIZE[1]}")
# At PostgreSQL's checkpoint settings: (5) within 4x the wall time of (2), no checkpoint closer than
# checkpoint_warning during it, its WAL within 1.3x that of (2), its forecast within 30 %, and its
# foreground p99 no worse than the same work at the same pace done the other ways, (6) and (7).
FORECAST5=$(awk '$1 == "forecast" {print $2}' "$TMP/5.out")
OFTEN5=$(awk -v w0="$(tv 5 t_start)" -v w1="$(tv 5 t_end)" '$1 + 0 >= w0 && $1 + 0 <= w1 && /checkpoints are occurring too frequently/ { n++ } END { print n + 0 }' "$TMP/server.log")
V_WALL4X=$(pass "${WALL[5]} <= $GOAL_PACE_FACTOR * ${WALL[2]}")
V_OFTEN=$(pass "$OFTEN5 == 0")
V_WAL13=$(pass "${WALMB[5]} <= $GOAL_WAL_FACTOR * ${WALMB[2]}")
V_FORECAST=$(pass "${FORECAST5:-0} > 0 && (${FORECAST5:-0} - ${WALL[5]})^2 <= ($GOAL_FORECAST_ERR * ${WALL[5]})^2")
V_REF=$(pass "${P99[5]} <= ${P99[6]} && ${P99[5]} <= ${P99[7]}")

job_line() {  # KEY
    awk '$1 == "jobrow" {
            printf "job: %s in %.1f s after it started, rows_done %s, sweep_rows %s, batches %s, wal %.0f MB, ", $2, $4 - $3, $5, $6, $7, $8 / 1048576
            printf "lock_attempts %s, lock_wait_ms %s, throttled_ms %s", $9, $10, $11 }' "$TMP/$1.out"
}
phase_line() {  # KEY: time in each phase of the worker, from the live samples
    awk 'NF >= 8 { if (p != "" && $4 != p) { printf "%s%s %.1fs", sep, p, last - t0; sep = ", "; t0 = $1 }
                   if (p == "") t0 = $1; p = $4; last = $1; n++ }
         END { if (p != "") printf "%s%s %.1fs", sep, p, last - t0; if (!n) printf "no samples" }' "$TMP/$1.live"
}
rss_line() {  # KEY: the worker's private memory over the job, to tell growth from a plateau
    awk '{ a[NR] = $4 } END {
            if (!NR) { printf "no samples"; exit }
            printf "RssAnon over the job (MB): start %.1f, 25%% %.1f, 50%% %.1f, 75%% %.1f, end %.1f",
                   a[1] / 1024, a[int(NR * 0.25) + 1] / 1024, a[int(NR * 0.5) + 1] / 1024, a[int(NR * 0.75) + 1] / 1024, a[NR] / 1024 }' "$TMP/$1.rss"
}
# fg_waits T0 T1: what the foreground backends were doing, from the 10 ms samples in [T0, T1]:
# the average number of pgbench backends per sample in each wait event (CPU: active, no wait event).
fg_waits() {
    awk -v w0="$1" -v w1="$2" '
        NF == 3 && $1 ~ /^[0-9.]+$/ && $1 >= w0 && $1 <= w1 {
            n++
            if ($3 != "-") { k = split($3, ev, ","); for (i = 1; i <= k; i++) c[ev[i]]++ }
        }
        END {
            if (!n) { printf "no samples"; exit }
            for (e in c) printf "%.3f %s\n", c[e] / n, e
        }' "$TMP/locks.out" | sort -rn | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " } END { if (!NR) printf "none active" }'
}
spans_line() {  # KEY
    awk '{ printf "%s%s %s..%s ms", sep, ($1 == "client_backend" ? "client" : ($1 == "safe_column_worker" ? "worker" : $1)), $3, $4; sep = ", " }
         END { if (!NR) printf "none seen" }' "$TMP/$1.ae"
}

{
    echo "backfill benchmark: $ROWS rows (fresh users $((FRESH_SIZE / 1048576)) MB), adding tok uuid NOT NULL DEFAULT gen_random_uuid()"
    echo "foreground: pgbench $CLIENTS clients -j $THREADS -R $RATE, point select + update of email by random id, from ${WARMUP_S}s before"
    echo "each variant to ${TAIL_S}s after; server: $SERVER_CONF; $GUCS"
    echo "$SO_INFO; run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, load average $LOAD_BEFORE before, $LOAD_AFTER after ($OTHER_PG_BEFORE postgres processes of others at start)"
    echo
    printf '%-31s %8s %8s %9s %10s %7s %4s %7s %6s %4s %7s %8s %8s %6s\n' \
        variant wall_s rows/s AE_max_ms rowlock_ms WAL_MB ckpt size_MB tx fail p50_ms p99_ms max_ms ">${GOAL_MAX_MS}ms"
    for k in $ALL_VARIANTS; do
        printf '%-31s %8.2f %8d %9.1f %10s %7d %4d %7d %6d %4d %7.1f %8.1f %8.1f %6d\n' "($k) ${LABEL[$k]}" \
            "${WALL[$k]}" "${RPS[$k]}" "${AE[$k]}" "${LOCKED[$k]}" "${WALMB[$k]}" "${CKPT[$k]}" "${SIZE[$k]}" \
            "${TX[$k]}" "${FAIL[$k]}" "${P50[$k]}" "${P99[$k]}" "${MAX[$k]}" "${SLOW[$k]}"
    done
    printf '%-31s %8s %8s %9s %10s %7s %4s %7d %6d %4d %7.1f %8.1f %8.1f %6d\n' "baseline (no DDL, ${BASELINE_S} s)" \
        - - - - - - "$((FRESH_SIZE / 1048576))" "$B_tx" "$B_fail" "$B_p50" "$B_p99" "$B_max" "$B_slow"
    echo
    echo "wall_s: until tok is filled and NOT NULL ((4)/(5): safe_add_column() call to the job's finished_at); rows/s = $ROWS / wall_s"
    echo "AE_max_ms: longest ACCESS EXCLUSIVE hold on users seen by a pg_locks sampler (psql \\watch $LOCK_SAMPLE_S: median"
    echo "  interval $LOCK_MED ms, p99 $LOCK_P99 ms), as an upper bound (last sample without it to first sample after it);"
    echo "  holds shorter than one interval may go unseen. rowlock_ms: longest time rows stay locked by the fill: (2) the"
    echo "  UPDATE, (3) the longest 10k-id transaction, (4)/(5) the longest batch seen by safe_column_live() (sampled every"
    echo "  ${LIVE_SAMPLE_S} s), (6) and (7) their longest batch; (1) holds ACCESS EXCLUSIVE throughout. WAL_MB: pg_wal_lsn_diff over the variant, foreground"
    echo "  traffic included; ckpt: pg_stat_bgwriter.checkpoints_req difference; size_MB: pg_table_size(users) after."
    echo "tx/fail/p50/p99/max: foreground transactions whose lifetime (scheduled start to completion; latency includes"
    echo "  the -R schedule lag) overlaps the variant; fail: failed transactions + aborted clients."
    echo "reference: freshly rewritten table (1) ${SIZE[1]} MB; fresh table before any variant $((FRESH_SIZE / 1048576)) MB"
    echo "reference (6): (5)'s work in plain SQL from a client ($TID_BLOCKS-block TID ranges, the median batch of (5), pause"
    echo "  $TID_SLEEP_RATIO x each batch's duration, synchronous_commit off): foreground p99 ${P99[6]} ms vs (5) ${P99[5]} ms, max ${MAX[6]} vs ${MAX[5]} ms."
    echo "  What the foreground pays for the WAL and row locks of the work itself, whoever does it."
    echo "reference (7): keyset batches of 1000 ids in pgroll's style, paced to (5)'s $KEYSET_RATE rows/s: foreground p99"
    echo "  ${P99[7]} ms vs (5) ${P99[5]} ms, max ${MAX[7]} vs ${MAX[5]} ms."
    echo
    echo "goal (4) rows/s >= ${GOAL_RATE_FACTOR}x (2): $V_RATE (${RPS[4]} vs ${RPS[2]} rows/s, $(awk -v a="${RPS[4]}" -v b="${RPS[2]}" 'BEGIN{printf "%.2fx", (b > 0 ? a / b : 0)}'))"
    echo "goal (5) foreground max <= ${GOAL_MAX_MS} ms, no failures: $V_MAX (max ${MAX[5]} ms, ${FAIL[5]} failed)"
    echo "goal (5) foreground p99 <= ${GOAL_P99_FACTOR}x baseline p99: $V_P99 (p99 ${P99[5]} ms vs baseline ${B_p99} ms, limit $(awk -v b="$B_p99" -v f="$GOAL_P99_FACTOR" 'BEGIN{printf "%.1f", b * f}') ms)"
    echo "goal (5) foreground p99 <= ${GOAL_P99_FACTOR_DEFAULTS}x baseline p99: $V_P99_2 (p99 ${P99[5]} ms vs baseline ${B_p99} ms, $(awk -v a="${P99[5]}" -v b="$B_p99" 'BEGIN{printf "%.1fx", (b > 0 ? a / b : 0)}'))"
    echo "goal (4)/(5) each ACCESS EXCLUSIVE hold <= ${GOAL_AE_MS} ms: $V_AE (longest ${AE[4]} ms / ${AE[5]} ms)"
    echo "goal (5) table size <= ${GOAL_SIZE_FACTOR}x freshly rewritten (1): $V_SIZE (${SIZE[5]} MB vs ${SIZE[1]} MB, $(awk -v a="${SIZE[5]}" -v b="${SIZE[1]}" 'BEGIN{printf "%.2fx", (b > 0 ? a / b : 0)}'))"
    echo "goal (5) wall <= ${GOAL_PACE_FACTOR}x (2): $V_WALL4X (${WALL[5]} s vs ${WALL[2]} s, $(awk -v a="${WALL[5]}" -v b="${WALL[2]}" 'BEGIN{printf "%.2fx", (b > 0 ? a / b : 0)}'))"
    echo "goal (5) no checkpoint closer than checkpoint_warning: $V_OFTEN ($OFTEN5 'too frequently' lines during (5))"
    echo "goal (5) WAL <= ${GOAL_WAL_FACTOR}x (2): $V_WAL13 (${WALMB[5]} MB vs ${WALMB[2]} MB)"
    echo "goal (5) forecast within $(awk -v e="$GOAL_FORECAST_ERR" 'BEGIN{printf "%d", e * 100}') % of its wall time: $V_FORECAST (forecast ${FORECAST5:-none} s, actual ${WALL[5]} s)"
    echo "goal (5) foreground p99 <= (6) and (7) at the same pace: $V_REF (${P99[5]} ms vs ${P99[6]} / ${P99[7]} ms)"
    echo "worker memory during (5): max VmRSS $((R5_rss / 1024)) MB, of which private (RssAnon) max $((R5_anon / 1024)) MB and shared"
    echo "  buffers (RssShmem) max $((R5_shm / 1024)) MB; VmHWM $((R5_hwm / 1024)) MB ($R5_n samples, $R5_np worker pid(s)); during (4):"
    echo "  VmRSS $((R4_rss / 1024)) MB, RssAnon $((R4_anon / 1024)) MB. Same at 2M and 20M rows = compare the RssAnon of runs"
    echo "  with BENCH_ROWS=2000000 and 20000000 (RssShmem grows with the shared buffers touched, up to shared_buffers):"
    for f in "$OUT_DIR"/backfill_worker_rss_*.txt; do
        [[ -f $f ]] || continue
        awk '{printf "    %9d rows: VmRSS %d MB, RssAnon %d MB, RssShmem %d MB, VmHWM %d MB (run %s)\n", $1, $2 / 1024, $3 / 1024, $4 / 1024, $5 / 1024, $6}' "$f"
    done
} | tee "$OUT_FILE"

{
    echo "details"
    for k in $ALL_VARIANTS; do
        t0=$(tv $k t_start) t1=$(tv $k t_end)
        echo "($k) ${LABEL[$k]}: wall ${WALL[$k]} s; index size after $(($(tv $k idx) / 1048576)) MB; requested/timed checkpoints $(tv $k ckpt_req)/$(tv $k ckpt_timed)"
        case $k in
        1) echo "    ALTER TABLE $(ms_between "$t0" "$t1") ms" ;;
        2 | 3) echo "    ADD COLUMN + SET DEFAULT $(ms_between "$t0" "$(mark $k added)") ms, $([[ $k == 2 ]] && echo UPDATE || echo "CALL bench_fill") $(ms_between "$(mark $k added)" "$(mark $k filled)") ms, SET NOT NULL $(ms_between "$(mark $k filled)" "$t1") ms" ;;
        6) echo "    ADD COLUMN + SET DEFAULT $(ms_between "$t0" "$(mark $k added)") ms, CALL bench_tid_fill($TID_BLOCKS, $TID_SLEEP_RATIO) $(ms_between "$(mark $k added)" "$(mark $k filled)") ms, CHECK NOT VALID + VALIDATE + SET NOT NULL $(ms_between "$(mark $k filled)" "$t1") ms"
           echo "    $(awk 'sub(/.*NOTICE:  bench_tid_fill /, "") {printf "%s batches, longest %s ms", $1, $2}' "$TMP/6.out")" ;;
        7) echo "    ADD COLUMN + SET DEFAULT $(ms_between "$t0" "$(mark $k added)") ms, CALL bench_keyset_fill(1000, $KEYSET_RATE) $(ms_between "$(mark $k added)" "$(mark $k filled)") ms, CHECK NOT VALID + VALIDATE + SET NOT NULL $(ms_between "$(mark $k filled)" "$t1") ms"
           echo "    $(awk 'sub(/.*NOTICE:  bench_keyset_fill /, "") {printf "%s batches, longest %s ms", $1, $2}' "$TMP/7.out")" ;;
        *) echo "    safe_add_column() call $(ms_between "$t0" "$(mark $k added)") ms; $(job_line $k)"
           echo "    worker phases (sampled): $(phase_line $k)"
           echo "    worker $(rss_line $k)" ;;
        esac
        [[ $k == 3 ]] && echo "    $(awk -v b="$PROC_BATCH" 'sub(/.*NOTICE:  bench_fill /, "") {printf "%s transactions of %s ids, longest %s ms", $1, b, $2}' "$TMP/3.out")"
        echo "    ACCESS EXCLUSIVE holds seen (holder lower..upper bound): $(spans_line $k)"
        echo "    $(log_events "$t0" "$t1")"
        echo "    foreground backends per sample by wait event: $(fg_waits "$t0" "$t1")"
    done
    echo "baseline: foreground backends per sample by wait event: $(fg_waits "$BASE_T0" "$BASE_T1")"
} >"$TMP/details"
cat "$TMP/details"
{
    cat "$OUT_FILE"
    echo
    cat "$TMP/details"
    echo
    echo "checkpoint log lines of the run:"
    grep -E 'checkpoint (starting|complete)' "$TMP/server.log" | sed 's/^/    /' || true
    echo
    echo "pgbench baseline summary:"
    sed 's/^/    /' "$TMP/base.pgbench.out"
} >"$DETAILS_FILE"
log "table written to $OUT_FILE, details to $DETAILS_FILE, plot to $PLOT_FILE"
exit 0
