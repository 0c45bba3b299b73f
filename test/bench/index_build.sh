#!/usr/bin/env bash
# Index-build benchmark (issues 17 and 21): what building the index of a big, busy table costs the
# application, three ways, side by side in one run, each on an identical fresh table:
#   (p) CREATE INDEX users_email_idx ON users (email)            -- plain, as a migration sends it
#   (c) CREATE INDEX CONCURRENTLY users_email_idx ON users (email) -- by hand, from a client
#   (s) the plain statement in safe_column.mode = stage: it returns at once, and the worker builds the
#       index with CREATE INDEX CONCURRENTLY (the job's phase build_index), waited for with
#       CALL safe_column_watch
# and a 10 s unloaded baseline first. A concurrent build cannot be throttled from inside: (s) costs
# what (c) costs, and this measures it.
#
# A throw-away PostgreSQL 15 cluster (temp dir under /tmp, unix socket only) at PostgreSQL's default
# settings (shared_buffers, max_wal_size, ...), safe_column preloaded. Before each variant, users (id
# bigint primary key, email text, created_at timestamptz, padding text: the schema of backfill.sh) is
# copied again from users_template (BENCH_ROWS rows), then VACUUM ANALYZE and CHECKPOINT. During each
# variant, foreground pgbench traffic (point select + single-row update of email by random id, 4
# clients, -j 2, -R 300, per-transaction log) runs from 2 s before it starts until 2 s after it ends.
# Per variant: wall time until the index is valid, and the foreground's transactions, failures, p50,
# p99 and max latency over the transactions whose lifetime overlaps the variant.
#
# Usage (as root; the extension built and installed: make && make install):
#   bash test/bench/index_build.sh
# Environment: BENCH_ROWS (default 2000000), BENCH_PORT (default 5496), BENCH_RATE (pgbench -R,
#   default 300), BENCH_KEEP=1 keeps the temp dir.
# Output: the table on stdout and in test/bench/out/index_build.txt. Exit status 0 when it ran.
set -Eeuo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bench.sh"

ROWS=${BENCH_ROWS:-2000000}
PORT=${BENCH_PORT:-5496}
RATE=${BENCH_RATE:-300}
CLIENTS=4
THREADS=2
WARMUP_S=2
TAIL_S=2
OUT_DIR=$SC_ROOT/test/bench/out
PGBIN=$(pg_config --bindir)
T0=$(date +%s.%N)
log() { printf '[%6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }

bench_tmpdir index_build
PGDATA_DIR=$TMP/data
BENCH_DATADIRS=("$PGDATA_DIR")
BENCH_LOGS=("$TMP/server.log")
bench_traps
bench_initdb "$PGDATA_DIR" index_build.sh
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$TMP/server.log" -w -t 30 start >/dev/null ||
    die "server did not start"
unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGSSLMODE PGHOSTADDR PGAPPNAME
export PGHOST=$TMP PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
q() { "${PSQL[@]}" -At -c "$1"; }
"${PSQL[@]}" -d postgres -c 'CREATE DATABASE bench' || die "createdb failed"

log "building users_template with $ROWS rows"
q 'CREATE EXTENSION safe_column' >/dev/null
bench_users_template "$ROWS"
cat >"$TMP/fg.sql" <<'EOF'
\set id random(1, :rows)
SELECT email, created_at FROM users WHERE id = :id;
UPDATE users SET email = 'user' || :id || '@example.org' WHERE id = :id;
EOF
chown -R postgres: "$TMP"

# The foreground during [T0, T1] of KEY's pgbench log: "tx failures p50 p99 max" (ms).
fg_stats() {
    local key=$1 w0=$2 w1=$3
    cat "$TMP/$key".pgb.* 2>/dev/null | awk -v w0="$w0" -v w1="$w1" '
        NF >= 6 {
            t = $5 + $6 / 1e6
            if ($3 ~ /^[0-9]+$/) { lat = $3 / 1000.0; if (t >= w0 && t - lat / 1000.0 <= w1) print lat }
            else if (t >= w0 && t <= w1) print "failed"
        }' >"$TMP/$key.all"
    grep -c failed "$TMP/$key.all" >"$TMP/$key.fail" || true
    grep -v failed "$TMP/$key.all" | sort -n >"$TMP/$key.lat" || true
    awk -v n="$(wc -l <"$TMP/$key.lat")" -v f="$TMP/$key.lat" -v failures="$(cat "$TMP/$key.fail")" '
        BEGIN {
            if (n == 0) { printf "0 %d 0 0 0\n", failures; exit }
            i50 = int(n * 0.50 + 0.999999); i99 = int(n * 0.99 + 0.999999)
            while ((getline v < f) > 0) { k++; if (k == i50) p50 = v; if (k == i99) p99 = v; m = v }
            printf "%d %d %.1f %.1f %.1f\n", n, failures, p50, p99, m
        }'
}

start_pgbench() {  # KEY DURATION
    "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$THREADS" -R "$RATE" -T "$2" -f "$TMP/fg.sql" -D rows="$ROWS" \
        -l --log-prefix="$TMP/$1.pgb" >"$TMP/$1.pgbench.out" 2>&1 &
    PGB_PID=$!
    BG_PIDS+=("$PGB_PID")
}

# The variants' SQL: one psql script each, which ends when the index is valid.
body_p() { echo "CREATE INDEX users_email_idx ON users (email);"; }
body_c() { echo "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"; }
body_s() {
    echo "SET safe_column.mode = stage; SET safe_column.guard_min_size = 0;"
    echo "SET client_min_messages = warning;"
    echo "CREATE INDEX users_email_idx ON users (email);"
    echo "SELECT max(job_id) AS job FROM safe_column_jobs \\gset"
    echo "CALL safe_column_watch(:job, '4 hours');"
}

declare -A LABEL=([p]="plain CREATE INDEX" [c]="CREATE INDEX CONCURRENTLY (by hand)"
                  [s]="stage mode: the worker's CREATE INDEX CONCURRENTLY")
declare -A RESULT WALL

run_variant() {  # KEY
    local key=$1 t0 t1
    log "($key) ${LABEL[$key]}: preparing a fresh users"
    bench_prepare_users
    start_pgbench "$key" 86400
    local pgb=$PGB_PID
    sleep "$WARMUP_S"
    log "($key) running"
    t0=$(now)
    "body_$key" | "${PSQL[@]}" -At >"$TMP/$key.out" 2>&1 || { cat "$TMP/$key.out" >&2; die "($key) failed"; }
    t1=$(now)
    [[ $(q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == t ]] ||
        die "($key) users_email_idx is not valid after the variant"
    sleep "$TAIL_S"
    kill -TERM "$pgb" 2>/dev/null || true
    wait "$pgb" 2>/dev/null || true
    forget_bg "$pgb"
    WALL[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    RESULT[$key]=$(fg_stats "$key" "$t0" "$t1")
    log "($key) done in ${WALL[$key]} s: foreground $(RESULT_line "$key")"
}
RESULT_line() { read -r n f p50 p99 m <<<"${RESULT[$1]}"; echo "$n tx, $f failed, p50 $p50 ms, p99 $p99 ms, max $m ms"; }

log "(base) 10 s of foreground traffic alone"
bench_prepare_users
start_pgbench base 14
sleep "$WARMUP_S"
b0=$(now)
sleep 10
b1=$(now)
wait "$PGB_PID" 2>/dev/null || true
forget_bg "$PGB_PID"
RESULT[base]=$(fg_stats base "$b0" "$b1")
WALL[base]=10
log "(base) foreground $(RESULT_line base)"

for k in p c s; do run_variant "$k"; done

mkdir -p "$OUT_DIR"
{
    echo "Index build on users ($ROWS rows, $(q "SELECT pg_size_pretty(pg_table_size('users'))") of table), PostgreSQL $(q 'SHOW server_version') at its default settings, foreground pgbench -R $RATE (select + update of email by id)"
    printf '%-52s %8s %8s %8s %9s %9s %9s\n' variant wall_s fg_tx failed p50_ms p99_ms max_ms
    for k in base p c s; do
        read -r n f p50 p99 m <<<"${RESULT[$k]}"
        printf '%-52s %8s %8s %8s %9s %9s %9s\n' "($k) ${LABEL[$k]:-unloaded baseline}" "${WALL[$k]}" "$n" "$f" "$p50" "$p99" "$m"
    done
} | tee "$OUT_DIR/index_build.txt"
