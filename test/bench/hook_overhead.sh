#!/usr/bin/env bash
# Overhead of the ProcessUtility hook: the same pgbench workloads on one throw-away cluster, restarted
# between three configurations, in alternating rounds (so that the noise of a shared machine falls on
# all of them alike):
#   none    safe_column not loaded
#   guard   safe_column preloaded and installed, safe_column.mode = guard (the default)
#   off     the same with safe_column.mode = off
# Workloads (pgbench, one client, BENCH_SECONDS each):
#   utility  a stream of ordinary utility statements (SET, SHOW, COMMENT ON, CREATE/DROP TEMP TABLE,
#            RESET): the hook's cost is one node-tag test per statement. Goal: within 5% of none.
#   select   pgbench -S (point selects): DML never reaches the hook. Goal: within 5% of none.
#   update   pgbench -N (simple updates). Goal: within 5% of none.
#   alter    ALTER TABLE ... ALTER COLUMN ... SET DEFAULT on a small table: the statements the hook
#            does look at (facts, queue-safe lock in a subtransaction). Reported, no goal.
# The ratio per workload is tps(none) / tps(config) on the median of the rounds (1.00 = no overhead).
#
# Usage (as root; safe_column built and installed: make && make install, or SC_PGROOT, see
# test/lib/common.sh):  bash test/bench/hook_overhead.sh
# Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS (default 8), BENCH_PORT (default 5496),
#              BENCH_KEEP=1 keeps the temp dir.
# Writes the table to stdout and test/bench/out/hook_overhead.txt.
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-5}
SECONDS_EACH=${BENCH_SECONDS:-8}
PORT=${BENCH_PORT:-5496}
PGBIN=${SC_PGROOT:-}/usr/lib/postgresql/15/bin  # SC_PGROOT: see test/lib/common.sh
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
OUT_DIR=$SCRIPT_DIR/out
source "$(dirname "$0")/../lib/bench.sh"  # BG_PIDS, forget_bg, bench_stop_server, bench_traps
TMP=$(mktemp -d /tmp/hook_overhead.XXXXXX)
PGDATA_DIR=$TMP/data
CONFIGS=(none guard off)
WORKLOADS=(utility select update alter)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (the cluster runs as postgres)"
for b in initdb pg_ctl psql pgbench; do [[ -x $PGBIN/$b ]] || die "$PGBIN/$b missing (apt-get install postgresql-15)"; done
[[ -f $("$PGBIN/pg_config" --pkglibdir)/safe_column.so ]] || die "safe_column is not installed (make && make install)"

stop_server() { bench_stop_server "$PGDATA_DIR"; }
BENCH_DATADIRS=("$PGDATA_DIR")
BENCH_LOGS=("$TMP/server.log")
bench_traps

chown postgres: "$TMP"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA_DIR" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$TMP/initdb.log" 2>&1 || die "initdb failed"
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$TMP'
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
include_if_exists = 'bench_mode.conf'
EOF
set_config() {  # none | guard | off
    case $1 in
    none) printf "shared_preload_libraries = ''\n" ;;
    guard) printf "shared_preload_libraries = 'safe_column'\nsafe_column.mode = guard\n" ;;
    off) printf "shared_preload_libraries = 'safe_column'\nsafe_column.mode = off\n" ;;
    esac >"$PGDATA_DIR/bench_mode.conf"
    chown postgres: "$PGDATA_DIR/bench_mode.conf"
    stop_server
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$TMP/server.log" -w -t 30 start >/dev/null ||
        die "server did not start ($1)"
}
export PGHOST=$TMP PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)

set_config guard
log "setting up (pgbench scale 10)"
"${PSQL[@]}" -c 'CREATE EXTENSION safe_column' -c 'CREATE TABLE small (id int PRIMARY KEY, v text)' \
    -c "INSERT INTO small SELECT g, 'x' FROM generate_series(1, 100) g"
# (pgbench -i adds its primary keys to a freshly filled 128 MB table: guard would rightly refuse that.)
runuser -u postgres -- env PGHOST="$TMP" PGPORT="$PORT" PGOPTIONS='-c safe_column.mode=off' "$PGBIN/pgbench" -q -i -s 10 postgres >"$TMP/pgbench_init.log" 2>&1 || { cat "$TMP/pgbench_init.log" >&2;
    die "pgbench -i failed"; }
cat >"$TMP/utility.sql" <<'EOF'
SET work_mem = '8MB';
SHOW work_mem;
COMMENT ON TABLE small IS 'a small table';
CREATE TEMP TABLE IF NOT EXISTS scratch (a int);
DROP TABLE IF EXISTS scratch;
RESET work_mem;
EOF
cat >"$TMP/alter.sql" <<'EOF'
ALTER TABLE small ALTER COLUMN v SET DEFAULT 'y';
ALTER TABLE small ALTER COLUMN v DROP DEFAULT;
EOF
chown postgres: "$TMP"/*.sql

run_workload() {  # workload -> tps
    local args
    case $1 in
    utility) args=(-f "$TMP/utility.sql") ;;
    select) args=(-S) ;;
    update) args=(-N) ;;
    alter) args=(-f "$TMP/alter.sql") ;;
    esac
    runuser -u postgres -- env PGHOST="$TMP" PGPORT="$PORT" "$PGBIN/pgbench" -n -c 1 -j 1 -T "$SECONDS_EACH" \
        "${args[@]}" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

declare -A TPS
for ((r = 1; r <= ROUNDS; r++)); do
    # Rotate the order of the configurations from round to round.
    for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
        cfg=${CONFIGS[$(((k + r) % ${#CONFIGS[@]}))]}
        set_config "$cfg"
        for w in "${WORKLOADS[@]}"; do
            t=$(run_workload "$w")
            [[ -n $t ]] || die "pgbench $w failed under $cfg"
            TPS[$cfg.$w]="${TPS[$cfg.$w]:-} $t"
        done
        log "round $r/$ROUNDS $cfg: $(for w in "${WORKLOADS[@]}"; do printf '%s %s  ' "$w" "${TPS[$cfg.$w]##* }"; done)"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mkdir -p "$OUT_DIR"
{
    echo "hook overhead: median tps of $ROUNDS rounds of ${SECONDS_EACH}s, one client; ratio = tps(none) / tps(config)"
    printf '%-8s %12s %12s %12s %12s %12s  %s\n' workload none guard off "ratio guard" "ratio off" goal
    for w in "${WORKLOADS[@]}"; do
        n=$(echo "${TPS[none.$w]}" | median)
        g=$(echo "${TPS[guard.$w]}" | median)
        o=$(echo "${TPS[off.$w]}" | median)
        rg=$(awk -v a="$n" -v b="$g" 'BEGIN {printf "%.3f", a / b}')
        ro=$(awk -v a="$n" -v b="$o" 'BEGIN {printf "%.3f", a / b}')
        if [[ $w == alter ]]; then
            verdict="(reported)"
        elif awk -v x="$rg" -v y="$ro" 'BEGIN {exit !(x <= 1.05 && y <= 1.05)}'; then
            verdict="<= 1.05 PASS"
        else
            verdict="<= 1.05 FAIL"
        fi
        printf '%-8s %12.0f %12.0f %12.0f %12s %12s  %s\n' "$w" "$n" "$g" "$o" "$rg" "$ro" "$verdict"
    done
} | tee "$OUT_DIR/hook_overhead.txt"
