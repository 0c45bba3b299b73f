#!/usr/bin/env bash
# Lock-queue benchmark: plain ALTER TABLE ... ADD COLUMN vs safe_add_column(), side by side.
#
# A throw-away PostgreSQL 15 cluster (temp dir under /tmp, unix socket only) runs pgbench traffic
# (point select + single-row update, rate-limited) on a table "users". About 2 s into each phase a
# blocker transaction takes AccessShareLock on users and keeps it ~5 s; ~1 s later the DDL runs:
#   phase A: ALTER TABLE users ADD COLUMN status_a text       -- queues for AccessExclusiveLock,
#            and every query arriving after it queues behind it until the blocker commits
#   phase B: SELECT safe_add_column('users', 'status_b', 'text')  -- short lock attempts
#            (safe_column.lock_timeout, default 100 ms) with backoff, so queries wait at most that long
# The per-transaction pgbench logs give p50/p99/max latency per phase.
#
# Usage (as root; the extension must already be built and installed: make && make install):
#   bash test/bench/lock_queue.sh
# Environment:
#   BENCH_ROWS   rows in users            (default 1000000)
#   BENCH_PORT   port of the temp cluster (default 5497; unix socket in the temp dir, no TCP)
#   BENCH_RATE   pgbench total tps (-R)   (default 400)
#   BENCH_KEEP=1 keep the temp dir (logs) after the run; the server is stopped regardless
# The table goes to stdout and to test/bench/out/lock_queue.txt. Exit status: 0 when the benchmark
# ran (whatever the verdict), non-zero when it could not run.
set -euo pipefail

ROWS=${BENCH_ROWS:-1000000}
PORT=${BENCH_PORT:-5497}
RATE=${BENCH_RATE:-400}
CLIENTS=4
THREADS=2
DURATION=14        # s of pgbench per phase
BLOCKER_AT=2       # s after pgbench start
DDL_AFTER=1        # s after the blocker holds its lock
BLOCKER_SLEEP=5    # s the blocker keeps its lock
GOAL_MS=250

PGBIN=${SC_PGROOT:-}/usr/lib/postgresql/15/bin  # SC_PGROOT: see test/lib/common.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$SCRIPT_DIR/out
OUT_FILE=$OUT_DIR/lock_queue.txt

T0=$(date +%s.%N)
log() { printf '[%6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
# ms_between T0 T1: T1-T0 (epoch seconds) in ms, one decimal
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b-a)*1000}'; }

[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 10 ]] || die "BENCH_ROWS must be an integer >= 10 (got '$ROWS')"
[[ $PORT =~ ^[0-9]+$ && $PORT -ge 1024 && $PORT -le 65535 ]] || die "BENCH_PORT must be 1024..65535 (got '$PORT')"
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 1 ]] || die "BENCH_RATE must be a positive integer (got '$RATE')"
[[ $(id -u) -eq 0 ]] || die "run as root (the cluster is created as the postgres user via runuser)"

# ---------------------------------------------------------------------------------------------
# Prerequisites: PostgreSQL 15 server binaries with pgbench (Debian 12: postgresql-15 provides
# postgresql-contrib-15). If this script installs them, it stops any cluster the install started.
need_install=0
for b in initdb pg_ctl postgres psql pgbench; do
    [[ -x $PGBIN/$b ]] || need_install=1
done
id postgres >/dev/null 2>&1 || need_install=1
if ((need_install)); then
    log "installing postgresql-15 (pgbench, initdb) with apt-get"
    before=$(pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true)
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y postgresql-15 postgresql-contrib-15 >/tmp/lock_queue_apt.log 2>&1; then
        apt-get update >>/tmp/lock_queue_apt.log 2>&1 || true
        apt-get install -y postgresql-15 postgresql-contrib-15 >>/tmp/lock_queue_apt.log 2>&1 ||
            die "apt-get install postgresql-15 failed, see /tmp/lock_queue_apt.log"
    fi
    # The package may have created and started a "main" cluster: stop only what was not running before.
    for c in $(pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true); do
        if ! grep -qx "$c" <<<"$before"; then
            log "stopping cluster $c started by the package install"
            pg_ctlcluster "${c%/*}" "${c#*/}" stop || true
        fi
    done
fi
for b in initdb pg_ctl postgres psql pgbench; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b missing"
done
[[ -f $($PGBIN/pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/safe_column.so ]] ||
    die "safe_column is not installed (cd /work/main && make && make install)"
command -v runuser >/dev/null || die "runuser missing (util-linux)"

# ---------------------------------------------------------------------------------------------
# Throw-away cluster, torn down on any exit.
source "$(dirname "$0")/../lib/bench.sh"  # BG_PIDS, forget_bg, bench_stop_server, bench_traps
bench_tmpdir safe_column_bench
PGDATA_DIR=$TMP/data
BENCH_DATADIRS=("$PGDATA_DIR")
BENCH_LOGS=("$TMP/server.log")
bench_traps

log "initdb in $TMP (port $PORT, unix socket only)"
bench_initdb "$PGDATA_DIR" lock_queue.sh
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
log_lock_waits = on
log_line_prefix = '%m [%p] %a '
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$TMP/server.log" -w -t 30 start >/dev/null ||
    die "server did not start"
PM_PID=$(head -1 "$PGDATA_DIR/postmaster.pid")

unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGSSLMODE PGHOSTADDR PGAPPNAME
export PGHOST=$TMP PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -d postgres -c 'CREATE DATABASE bench' || die "createdb failed"

# ---------------------------------------------------------------------------------------------
log "loading $ROWS rows into users"
"${PSQL[@]}" <<SQL || die "loading users failed"
CREATE EXTENSION safe_column;
CREATE TABLE users (
    id         bigint NOT NULL,
    email      text NOT NULL,
    created_at timestamptz NOT NULL,
    padding    text NOT NULL
);
INSERT INTO users
SELECT g, 'user' || g || '@example.com', now() - g * interval '1 minute', repeat(md5(g::text), 3)
  FROM generate_series(1, $ROWS) g;
ALTER TABLE users ADD PRIMARY KEY (id);
VACUUM ANALYZE users;
CHECKPOINT;
SQL
log "users: $("${PSQL[@]}" -At -c "SELECT pg_size_pretty(pg_total_relation_size('users'))")"

cat >"$TMP/select.sql" <<'EOF'
\set id random(1, :rows)
SELECT email, created_at FROM users WHERE id = :id;
EOF
cat >"$TMP/update.sql" <<'EOF'
\set id random(1, :rows)
UPDATE users SET created_at = now() WHERE id = :id;
EOF

# ---------------------------------------------------------------------------------------------
# run_phase KEY SQL: pgbench + blocker + DDL; leaves timings in $TMP/KEY.*
run_phase() {
    local key=$1 ddl=$2
    "${PSQL[@]}" -c CHECKPOINT
    log "phase $key: pgbench $CLIENTS clients, -j $THREADS, -R $RATE, ${DURATION}s"
    local t_pgb; t_pgb=$(now)
    "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$THREADS" -R "$RATE" -T "$DURATION" -P 1 \
        -f "$TMP/select.sql@1" -f "$TMP/update.sql@1" -D rows="$ROWS" \
        -l --log-prefix="$TMP/$key.pgbench_log" >"$TMP/$key.pgbench.out" 2>&1 &
    local pgb_pid=$!
    BG_PIDS+=("$pgb_pid")

    sleep "$BLOCKER_AT"
    log "phase $key: blocker BEGIN; SELECT ... users; pg_sleep($BLOCKER_SLEEP); COMMIT"
    local t_blk; t_blk=$(now)
    PGAPPNAME=bench_blocker "${PSQL[@]}" -At >"$TMP/$key.blocker.out" 2>&1 <<SQL &
BEGIN;
SELECT count(*) FROM users WHERE id = 1;
SELECT 'start ' || extract(epoch FROM clock_timestamp());
SELECT pg_sleep($BLOCKER_SLEEP);
COMMIT;
SELECT 'end ' || extract(epoch FROM clock_timestamp());
SQL
    local blk_pid=$!
    BG_PIDS+=("$blk_pid")
    # Wait until the blocker holds its AccessShareLock, then until ~DDL_AFTER s after it started.
    local i held=0
    for ((i = 0; i < 100; i++)); do
        held=$("${PSQL[@]}" -At -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name = 'bench_blocker' AND l.relation = 'users'::regclass
                   AND l.mode = 'AccessShareLock' AND l.granted")
        [[ $held -ge 1 ]] && break
        sleep 0.05
    done
    [[ $held -ge 1 ]] || die "phase $key: the blocker did not get its lock"
    local wait_s; wait_s=$(awk -v a="$t_blk" -v b="$(now)" -v d="$DDL_AFTER" 'BEGIN{w=a+d-b; printf "%.3f", (w > 0 ? w : 0)}')
    sleep "$wait_s"

    log "phase $key: $ddl"
    local t_ddl0 t_ddl1
    t_ddl0=$(now)
    "${PSQL[@]}" -At -c '\timing on' -c "$ddl" >"$TMP/$key.ddl.out" 2>&1 ||
        { cat "$TMP/$key.ddl.out" >&2; die "phase $key: the DDL failed"; }
    t_ddl1=$(now)
    local ddl_ms
    ddl_ms=$(awk '/^Time: / {print $2; exit}' "$TMP/$key.ddl.out")
    [[ -n $ddl_ms ]] || ddl_ms=$(ms_between "$t_ddl0" "$t_ddl1")
    log "phase $key: DDL done in $ddl_ms ms"

    wait "$blk_pid" || die "phase $key: the blocker failed: $(cat "$TMP/$key.blocker.out")"
    local pgb_rc=0
    wait "$pgb_pid" || pgb_rc=$?
    BG_PIDS=()
    local blk_start blk_end
    blk_start=$(awk '$1 == "start" {print $2}' "$TMP/$key.blocker.out")
    blk_end=$(awk '$1 == "end" {print $2}' "$TMP/$key.blocker.out")
    [[ -n $blk_start && -n $blk_end ]] || die "phase $key: no blocker timings"
    printf '%s\n' "pgb_start=$t_pgb" "pgb_rc=$pgb_rc" "ddl_start=$t_ddl0" "ddl_end=$t_ddl1" \
        "ddl_ms=$ddl_ms" "blk_start=$blk_start" "blk_end=$blk_end" >"$TMP/$key.times"
    log "phase $key: pgbench exit $pgb_rc"
}

# tv KEY NAME: a timing recorded by run_phase
tv() { awk -F= -v k="$2" '$1 == k {print $2}' "$TMP/$1.times"; }

# stats KEY: one line "tx failures p50 p99 max win_max win_tx slow" from the pgbench logs (ms)
stats() {
    local key=$1
    local ddl_start blk_end pgb_rc
    ddl_start=$(tv "$key" ddl_start) blk_end=$(tv "$key" blk_end) pgb_rc=$(tv "$key" pgb_rc)
    local logs=("$TMP/$key".pgbench_log.*)
    [[ -f ${logs[0]} ]] || die "phase $key: pgbench wrote no log ($(tail -n 5 "$TMP/$key.pgbench.out"))"
    # Fields (pgbench 15, -l with -R): client tx_no latency_us script_no epoch_s epoch_us sched_lag_us
    # latency is "failed"/"skipped" for transactions that did not complete.
    # Window: completion time between DDL start and 1 s after the blocker commits.
    cat "${logs[@]}" | awk -v w0="$ddl_start" -v w1="$blk_end" -v goal="$GOAL_MS" '
        $3 ~ /^[0-9]+$/ {
            lat = $3 / 1000.0; print lat > "/dev/stdout"
            t = $5 + $6 / 1e6
            if (t >= w0 && t <= w1 + 1.0) { wn++; if (lat > wmax) wmax = lat }
            if (lat > goal) slow++
            next
        }
        { bad++ }
        END { printf "%d %d %.1f %d\n", bad, wn, wmax, slow > "/dev/stderr" }
    ' 2>"$TMP/$key.extra" | sort -n >"$TMP/$key.lat"
    local n; n=$(wc -l <"$TMP/$key.lat")
    local bad wn wmax slow
    read -r bad wn wmax slow <"$TMP/$key.extra"
    # failures: failed/skipped transactions (log or summary, whichever is larger) + aborted clients;
    # at least 1 when pgbench exited non-zero
    local failed_pgb aborted failures
    failed_pgb=$(awk -F': ' '/^number of failed transactions/ {split($2, a, " "); print a[1]}' "$TMP/$key.pgbench.out")
    aborted=$(grep -Ec 'client [0-9]+ aborted' "$TMP/$key.pgbench.out" || true)
    failures=$((bad > ${failed_pgb:-0} ? bad : ${failed_pgb:-0}))
    failures=$((failures + aborted))
    ((pgb_rc == 0 || failures > 0)) || failures=1
    awk -v n="$n" -v f="$TMP/$key.lat" -v failures="$failures" -v wmax="$wmax" -v wn="$wn" -v slow="$slow" '
        BEGIN {
            if (n == 0) { printf "0 %d 0 0 0 0 0 0\n", failures; exit }
            i50 = int(n * 0.50 + 0.999999); i99 = int(n * 0.99 + 0.999999)
            while ((getline v < f) > 0) { k++; if (k == i50) p50 = v; if (k == i99) p99 = v; m = v }
            printf "%d %d %.1f %.1f %.1f %.1f %d %d\n", n, failures, p50, p99, m, wmax, wn, slow
        }'
}

run_phase A "ALTER TABLE users ADD COLUMN status_a text"
run_phase B "SELECT safe_add_column('users', 'status_b', 'text')"

job=$("${PSQL[@]}" -At -F ' ' -c "SELECT lock_attempts, round(lock_wait_ms::numeric, 1), state
                                     FROM safe_column_jobs WHERE column_name = 'status_b'")
cols=$("${PSQL[@]}" -At -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                              WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped")
[[ $cols == *status_a* && $cols == *status_b* ]] || die "columns missing after the run: $cols"
lock_timeout=$("${PSQL[@]}" -At -c "SHOW safe_column.lock_timeout")

A_stats=$(stats A) || die "phase A: no statistics"
B_stats=$(stats B) || die "phase B: no statistics"
[[ -n $A_stats && -n $B_stats ]] || die "no statistics"
read -r A_tx A_fail A_p50 A_p99 A_max A_wmax A_wn A_slow <<<"$A_stats"
read -r B_tx B_fail B_p50 B_p99 B_max B_wmax B_wn B_slow <<<"$B_stats"

# timeline KEY: blocker and DDL times relative to the start of pgbench
timeline() {
    local t0; t0=$(tv "$1" pgb_start)
    awk -v t0="$t0" -v bs="$(tv "$1" blk_start)" -v be="$(tv "$1" blk_end)" \
        -v ds="$(tv "$1" ddl_start)" -v de="$(tv "$1" ddl_end)" \
        'BEGIN { printf "blocker +%.2f..+%.2f s, DDL +%.2f..+%.2f s", bs - t0, be - t0, ds - t0, de - t0 }'
}
A_ddl=$(tv A ddl_ms) B_ddl=$(tv B ddl_ms)

if [[ $B_tx -gt 0 ]] && awk -v m="$B_max" -v g="$GOAL_MS" 'BEGIN{exit !(m <= g)}' && [[ $B_fail -eq 0 ]]; then
    verdict=PASS
else
    verdict=FAIL
fi

mkdir -p "$OUT_DIR"
{
    echo "lock_queue benchmark: $ROWS rows, pgbench $CLIENTS clients -j $THREADS -R $RATE -T $DURATION (select + update by id),"
    echo "blocker holds AccessShareLock ${BLOCKER_SLEEP}s from ~${BLOCKER_AT}s, DDL ~${DDL_AFTER}s later; safe_column.lock_timeout = $lock_timeout"
    echo
    printf '%-17s %9s %7s %5s %8s %8s %9s %11s %8s\n' phase ddl_ms tx fail p50_ms p99_ms max_ms win_max_ms ">${GOAL_MS}ms"
    printf '%-17s %9.1f %7d %5d %8.1f %8.1f %9.1f %11.1f %8d\n' "plain ALTER" "$A_ddl" "$A_tx" "$A_fail" "$A_p50" "$A_p99" "$A_max" "$A_wmax" "$A_slow"
    printf '%-17s %9.1f %7d %5d %8.1f %8.1f %9.1f %11.1f %8d\n' "safe_add_column" "$B_ddl" "$B_tx" "$B_fail" "$B_p50" "$B_p99" "$B_max" "$B_wmax" "$B_slow"
    echo
    echo "latency includes pgbench schedule lag (-R); win_max_ms: max over transactions completing between"
    echo "DDL start and 1 s after the blocker commits; fail: failed/skipped tx + aborted clients"
    echo "(pgbench exit status: plain ALTER $(tv A pgb_rc), safe_add_column $(tv B pgb_rc))"
    echo "plain ALTER:     $(timeline A); $A_wn tx in the window"
    echo "safe_add_column: $(timeline B); $B_wn tx in the window; lock attempts/wait_ms/state: ${job:-?}"
    echo
    echo "goal: max <= $GOAL_MS ms with safe_add_column: $verdict (max $B_max ms)"
} | tee "$OUT_FILE"
log "table written to $OUT_FILE"
exit 0
