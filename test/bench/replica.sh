#!/usr/bin/env bash
# Replica benchmark: what a backfill does to a streaming standby and to checkpoints, a naive single
# UPDATE versus safe_add_column at its default settings, side by side in one run, each on an identical
# fresh table, with the same standby:
#   (N) ADD COLUMN tok uuid + SET DEFAULT gen_random_uuid() (catalog), one
#       UPDATE users SET tok = gen_random_uuid(), ALTER COLUMN tok SET NOT NULL
#   (S) safe_add_column('users', 'tok', 'uuid', 'gen_random_uuid()', not_null => true), waited for with
#       CALL safe_column_watch(job), every safe_column setting at its default
#
# A throw-away primary (temp dir under /tmp; TCP on 127.0.0.1 for replication, unix socket for the rest;
# shared_buffers 512MB, max_wal_size 1GB, checkpoint_timeout BENCH_CKPT_TIMEOUT, log_checkpoints on) and a
# streaming standby made from it by pg_basebackup over loopback (hot standby, cluster_name standby1, so
# it shows as standby1 in pg_stat_replication; no replication slot). users (id bigint primary key, email
# text, created_at timestamptz, padding text) is copied from users_template (BENCH_ROWS rows) before each
# variant, then VACUUM ANALYZE, CHECKPOINT, and the standby is waited for until it has replayed it all:
# each variant starts right after a checkpoint with the standby caught up. Foreground pgbench traffic
# (point select + update of email by random id, 2 clients, -R BENCH_RATE) runs through each variant.
#
# Per variant: wall time (until tok is filled and NOT NULL), rows/s, WAL bytes (pg_wal_lsn_diff over the
# variant, foreground included), forced checkpoints (pg_stat_bgwriter.checkpoints_req difference; the
# server log's "checkpoint starting: wal" lines are counted too) and timed ones, the standby's replay
# lag sampled from pg_stat_replication every BENCH_LAG_SAMPLE s (bytes: pg_current_wal_lsn() -
# replay_lsn; time: replay_lag), maximum and 99th percentile, from the start of the variant until the
# standby has replayed its last WAL, how long after the end of the variant that took, and whether the
# standby then holds exactly the primary's column. For (S), from the same samples: the WAL of one batch
# (samples where the job's batch count went up by exactly one; the largest), and what held the job
# (throttle_reason), with the job's throttled_ms and throttle_stats.
#
# Goals for (S): 0 forced checkpoints; replay lag never above safe_column.max_replica_lag plus one
# batch's WAL (the largest seen).
#
# Why a short checkpoint_timeout: at defaults, safe_column's checkpoint signal keeps the WAL written since
# the last checkpoint's redo point below half of what forces a checkpoint (max_wal_size 1GB: about 256 MB),
# and then waits for the next timed checkpoint. With the default checkpoint_timeout of 5 min a backfill
# of 2M rows (about 1.2 GB of WAL) takes some 20 minutes; 30 s makes the same work take a few minutes.
# This is the honest lever (timed checkpoints are what the signal waits for); a larger max_wal_size is
# the other one.
#
# Usage (as root; the extension must already be built and installed: make && make install):
#   bash test/bench/replica.sh
# Environment:
#   BENCH_ROWS          rows in users                      (default 2000000, at most 20000000)
#   BENCH_PORT          port of the primary; the standby uses the next one (default 5494)
#   BENCH_RATE          foreground pgbench total tps (-R); 0: no foreground traffic (default 100)
#   BENCH_CKPT_TIMEOUT  checkpoint_timeout of both servers  (default 30s)
#   BENCH_LAG_SAMPLE    lag sampling interval, seconds      (default 0.15)
#   BENCH_CONF          extra postgresql.conf lines for the primary, e.g. "safe_column.max_replica_lag = '16MB'"
#   BENCH_KEEP=1        keep the temp dir (logs) after the run; the servers are stopped regardless
# Output: the table on stdout and in test/bench/out/replica.txt, details in test/bench/out/replica_details.txt.
# Exit status: 0 when the benchmark ran (whatever the verdicts), 1 when it could not run.
# shellcheck disable=SC2317  # functions called indirectly (body_$key, traps)
set -Eeuo pipefail

ROWS=${BENCH_ROWS:-2000000}
PORT=${BENCH_PORT:-5494}
SPORT=$((PORT + 1))
RATE=${BENCH_RATE:-100}
CKPT_TIMEOUT=${BENCH_CKPT_TIMEOUT:-30s}
LAG_SAMPLE_S=${BENCH_LAG_SAMPLE:-0.15}
CLIENTS=2
CATCHUP_TIMEOUT_S=1800

PGBIN=${SC_PGROOT:-}/usr/lib/postgresql/15/bin  # SC_PGROOT: see test/lib/common.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$SCRIPT_DIR/out
OUT_FILE=$OUT_DIR/replica.txt
DETAILS_FILE=$OUT_DIR/replica_details.txt

T0=$(date +%s.%N)
log() { printf '[%6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 1000 && $ROWS -le 20000000 ]] ||
    die "BENCH_ROWS must be an integer 1000..20000000 (got '$ROWS')"
[[ $PORT =~ ^[0-9]+$ && $PORT -ge 1024 && $PORT -le 65534 ]] || die "BENCH_PORT must be 1024..65534 (got '$PORT')"
[[ $RATE =~ ^[0-9]+$ ]] || die "BENCH_RATE must be a non-negative integer (got '$RATE')"
[[ $LAG_SAMPLE_S =~ ^[0-9]*\.?[0-9]+$ ]] || die "BENCH_LAG_SAMPLE must be a number of seconds (got '$LAG_SAMPLE_S')"
[[ $(id -u) -eq 0 ]] || die "run as root (the clusters are created as the postgres user via runuser)"
for b in initdb pg_ctl postgres psql pgbench pg_basebackup; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b missing (Debian: postgresql-15)"
done
command -v runuser >/dev/null || die "runuser missing (util-linux)"
SO_FILE=$($PGBIN/pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/safe_column.so
[[ -f $SO_FILE ]] || die "safe_column is not installed (make && make install)"
SO_INFO="safe_column.so installed $(date -u -r "$SO_FILE" +%Y-%m-%dT%H:%M:%SZ), tree at $(git -C "$SCRIPT_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
for p in "$PORT" "$SPORT"; do
    if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p on 127.0.0.1 is in use (set BENCH_PORT)"; fi
done

# ---------------------------------------------------------------------------------------------
# Throw-away primary and standby, torn down on any exit.
source "$(dirname "$0")/../lib/bench.sh"  # BG_PIDS, forget_bg, bench_stop_server, bench_traps
bench_tmpdir safe_column_replica
PDATA=$TMP/primary
SDATA=$TMP/standby

as_pg() { runuser -u postgres -- "$@"; }
BENCH_DATADIRS=("$SDATA" "$PDATA")
BENCH_LOGS=("$TMP/primary.log" "$TMP/standby.log")
bench_traps

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "initdb in $TMP (primary port $PORT, standby $SPORT); load average $LOAD_BEFORE"
bench_initdb "$PDATA" replica.sh 127.0.0.1
cat >>"$PDATA/postgresql.conf" <<EOF
shared_buffers = 512MB
max_wal_size = 1GB
checkpoint_timeout = $CKPT_TIMEOUT
log_checkpoints = on
log_line_prefix = '%n [%p] %b '
${BENCH_CONF:-}
EOF
# (initdb's pg_hba.conf lets replication connections from 127.0.0.1 in, with trust.)
as_pg "$PGBIN/pg_ctl" -D "$PDATA" -l "$TMP/primary.log" -w -t 30 start >/dev/null || die "primary did not start"

unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGSSLMODE PGHOSTADDR PGAPPNAME
export PGHOST=$TMP PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
q() { "${PSQL[@]}" -At -c "$1"; }
qs() { "${PSQL[@]}" -p "$SPORT" -At -c "$1"; }   # on the standby

"${PSQL[@]}" -d postgres -c 'CREATE DATABASE bench' || die "createdb failed"
q 'CREATE EXTENSION safe_column' || die "CREATE EXTENSION failed"

log "standby: pg_basebackup over 127.0.0.1:$PORT"
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$SDATA" -X stream -R -c fast \
    >"$TMP/basebackup.log" 2>&1 || { cat "$TMP/basebackup.log" >&2; die "pg_basebackup failed"; }
cat >>"$SDATA/postgresql.conf" <<EOF

# replica.sh: the standby
listen_addresses = ''
port = $SPORT
cluster_name = 'standby1'
shared_buffers = 256MB
hot_standby = on
EOF
as_pg "$PGBIN/pg_ctl" -D "$SDATA" -l "$TMP/standby.log" -w -t 60 start >/dev/null || die "standby did not start"

# The standby's replay lag as the sampler and the waits read it.
LAG_SQL="SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication WHERE application_name = 'standby1'"
# wait_replayed LSN: until the standby has replayed up to LSN; prints the epoch when it had.
wait_replayed() {
    local lsn=$1 deadline
    deadline=$(awk -v t="$(now)" -v d="$CATCHUP_TIMEOUT_S" 'BEGIN{printf "%d", t + d}')
    while :; do
        [[ $(q "SELECT coalesce(bool_or(replay_lsn >= '$lsn'), false) FROM pg_stat_replication
                 WHERE application_name = 'standby1'") == t ]] && { now; return 0; }
        (($(date +%s) < deadline)) || die "the standby did not replay up to $lsn within ${CATCHUP_TIMEOUT_S}s"
        sleep 0.1
    done
}
for _ in $(seq 300); do
    [[ $(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby1' AND state = 'streaming'") == 1 ]] && break
    sleep 0.1
done
[[ $(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby1' AND state = 'streaming'") == 1 ]] ||
    die "the standby does not stream"

# ---------------------------------------------------------------------------------------------
log "building users_template with $ROWS rows"
bench_users_template "$ROWS"

prepare_users() {  # bench_prepare_users, then wait for the standby to replay it
    bench_prepare_users
    wait_replayed "$(q 'SELECT pg_current_wal_lsn()')" >/dev/null
}

cat >"$TMP/fg.sql" <<'EOF'
\set id random(1, :rows)
SELECT email, created_at FROM users WHERE id = :id;
UPDATE users SET email = 'user' || :id || '@example.org' WHERE id = :id;
EOF

# The sampler, for the whole run: "epoch lag_bytes lag_s batches wal_bytes reason" (-1: none). The
# job columns are those of the newest job (only (S) has one).
cat >"$TMP/lag.sql" <<EOF
SELECT extract(epoch FROM clock_timestamp())::numeric(20, 6),
       coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication
                  WHERE application_name = 'standby1'), -1),
       coalesce((SELECT round(extract(epoch FROM replay_lag)::numeric, 3) FROM pg_stat_replication
                  WHERE application_name = 'standby1'), -1),
       coalesce((SELECT batches || ' ' || wal_bytes FROM safe_column_jobs ORDER BY job_id DESC LIMIT 1), '-1 -1'),
       coalesce((SELECT replace(throttle_reason, ' ', '_') FROM safe_column_progress
                  WHERE throttled ORDER BY job_id DESC LIMIT 1), '-')
\\watch $LAG_SAMPLE_S
EOF
"$PGBIN/psql" -X -At -F ' ' -f "$TMP/lag.sql" >"$TMP/lag.out" 2>"$TMP/lag.err" &
LAG_SAMPLER=$!
BG_PIDS+=("$LAG_SAMPLER")


MARK() { echo "SELECT 'mark $1 ' || extract(epoch FROM clock_timestamp());"; }
mark() { awk -v k="$2" '$1 == "mark" && $2 == k {print $3}' "$TMP/$1.out"; }
tv() { awk -F= -v k="$2" '$1 == k {v = $2} END {print v}' "$TMP/$1.times"; }

body_N() {
    MARK start
    echo "BEGIN; ALTER TABLE users ADD COLUMN tok uuid; ALTER TABLE users ALTER COLUMN tok SET DEFAULT gen_random_uuid(); COMMIT;"
    echo "UPDATE users SET tok = gen_random_uuid();"
    echo "ALTER TABLE users ALTER COLUMN tok SET NOT NULL;"
    MARK end
}
body_S() {
    MARK start
    echo "SELECT safe_add_column('users', 'tok', 'uuid', 'gen_random_uuid()', not_null => true) AS job \\gset"
    echo "SET client_min_messages = warning;"
    echo "CALL safe_column_watch(:job, '4 hours');"
    echo "SELECT 'jobrow ' || concat_ws(' ', state, batches, wal_bytes, round(throttled_ms::numeric),
                 replace(throttle_stats::text, ' ', ''))
            FROM safe_column_jobs WHERE job_id = :job;"
    echo "SELECT 'mark end ' || extract(epoch FROM finished_at) FROM safe_column_jobs WHERE job_id = :job;"
}

run_variant() {  # KEY LABEL
    local key=$1 label=$2 pgb='' pre post
    log "($key) $label: preparing a fresh users, standby caught up"
    prepare_users
    if ((RATE > 0)); then
        "$PGBIN/pgbench" -n -c "$CLIENTS" -j 1 -R "$RATE" -T 86400 -f "$TMP/fg.sql" -D rows="$ROWS" \
            >"$TMP/$key.pgbench.out" 2>&1 &
        pgb=$!
        BG_PIDS+=("$pgb")
    fi
    pre=$(q "SELECT pg_current_wal_lsn() || ' ' || checkpoints_req || ' ' || checkpoints_timed FROM pg_stat_bgwriter")
    log "($key) running"
    "body_$key" >"$TMP/$key.sql"
    "${PSQL[@]}" -At -F ' ' -f "$TMP/$key.sql" >"$TMP/$key.out" 2>&1 ||
        { cat "$TMP/$key.out" >&2; die "($key) $label failed"; }
    post=$(q "SELECT pg_current_wal_lsn() || ' ' || checkpoints_req || ' ' || checkpoints_timed FROM pg_stat_bgwriter")
    if [[ -n $pgb ]]; then
        kill -TERM "$pgb" 2>/dev/null || true
        wait "$pgb" 2>/dev/null || true
        forget_bg "$pgb"
    fi
    if [[ $key == S ]]; then
        local state
        state=$(awk '$1 == "jobrow" {print $2}' "$TMP/$key.out")
        [[ $state == complete ]] || { cat "$TMP/$key.out" >&2; die "($key) job ended in state '$state'"; }
    fi
    [[ $(q "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'tok'") == t ]] ||
        die "($key) users.tok is not NOT NULL after the variant"
    local lsn_end caught
    lsn_end=$(q 'SELECT pg_current_wal_lsn()')
    log "($key) done; waiting for the standby to replay up to $lsn_end"
    caught=$(wait_replayed "$lsn_end")
    local cmp="SELECT count(*) || ' ' || count(tok) || ' ' || md5(string_agg(tok::text, ',' ORDER BY id)) FROM users"
    local same=no
    [[ $(q "$cmp") == "$(qs "$cmp")" ]] && same=yes
    local c0 c1 tm0 tm1
    read -r _ c0 tm0 <<<"$pre"
    read -r _ c1 tm1 <<<"$post"
    {
        echo "label=$label"
        echo "t_start=$(mark "$key" start)"
        echo "t_end=$(mark "$key" end)"
        echo "t_caught=$caught"
        echo "wal=$(q "SELECT pg_wal_lsn_diff('${post%% *}', '${pre%% *}')::bigint")"
        echo "ckpt_req=$((c1 - c0))"
        echo "ckpt_timed=$((tm1 - tm0))"
        echo "same=$same"
    } >"$TMP/$key.times"
    log "($key) standby caught up $(awk -v a="$(tv "$key" t_end)" -v b="$caught" 'BEGIN{printf "%.1f", b - a}') s after the end; identical: $same"
}

run_variant N "UPDATE + SET NOT NULL"
run_variant S "safe_add_column defaults"

kill -INT "$LAG_SAMPLER" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$LAG_SAMPLER" 2>/dev/null || break; sleep 0.1; done
kill "$LAG_SAMPLER" 2>/dev/null || true
wait "$LAG_SAMPLER" 2>/dev/null || true
forget_bg "$LAG_SAMPLER"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
SETTINGS=$(q "SELECT string_agg(name || ' = ' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings
              WHERE name IN ('safe_column.max_replica_lag', 'safe_column.checkpoint_wal_share', 'safe_column.batch_target',
                             'safe_column.batch_sleep_ratio', 'safe_column.sample_interval', 'max_wal_size',
                             'checkpoint_timeout', 'checkpoint_completion_target')")
MAX_REPLICA_LAG=$(q "SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'safe_column.max_replica_lag'")

# ---------------------------------------------------------------------------------------------
# Figures.
lag_stats() {  # T0 T1: "max_bytes p99_bytes max_s samples"
    awk -v w0="$1" -v w1="$2" 'NF >= 5 && $1 ~ /^[0-9.]+$/ && $1 >= w0 && $1 <= w1 && $2 >= 0 { print $2, $3 }' \
        "$TMP/lag.out" | sort -n -k1,1 |
        awk '{ n++; b[n] = $1; if ($2 > ms) ms = $2 }
             END { if (!n) { print "0 0 0 0"; exit }
                   printf "%d %d %.3f %d\n", b[n], b[int(n * 0.99 + 0.999999)], ms, n }'
}
batch_wal() {  # T0 T1: "max_one_batch_bytes samples_with_one_batch"
    awk -v w0="$1" -v w1="$2" 'NF >= 5 && $1 ~ /^[0-9.]+$/ && $1 >= w0 && $1 <= w1 && $4 >= 0 {
            if (pb != "" && $4 == pb + 1 && $5 - pw > m) m = $5 - pw
            if (pb != "" && $4 == pb + 1) n++
            pb = $4; pw = $5 }
        END { printf "%d %d\n", m, n }' "$TMP/lag.out"
}
reasons() {  # T0 T1: the throttle reasons seen, by signal, as a share of the samples
    awk -v w0="$1" -v w1="$2" 'NF >= 6 && $1 ~ /^[0-9.]+$/ && $1 >= w0 && $1 <= w1 {
            n++; if ($6 != "-") { split($6, a, "_[0-9]"); s = a[1]; sub(/_standby1$/, "", s); c[s]++ } }
        END { for (r in c) printf "%s %.0f%%\n", r, 100 * c[r] / n }' "$TMP/lag.out" | sort |
        awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " } END { if (!NR) printf "none" }'
}
mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b / 1048576}'; }

declare -A WALL RPS WALMB CKPT CKPTT LOGCK MAXLAG P99LAG MAXLAGS NLAG CATCH SAME
for k in N S; do
    t0=$(tv $k t_start) t1=$(tv $k t_end) tc=$(tv $k t_caught)
    WALL[$k]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')
    RPS[$k]=$(awk -v r="$ROWS" -v w="${WALL[$k]}" 'BEGIN{printf "%d", (w > 0 ? r / w : 0)}')
    WALMB[$k]=$(awk -v b="$(tv $k wal)" 'BEGIN{printf "%.0f", b / 1048576}')
    CKPT[$k]=$(tv $k ckpt_req)
    CKPTT[$k]=$(tv $k ckpt_timed)
    LOGCK[$k]=$(awk -v w0="$t0" -v w1="$t1" '$1 + 0 >= w0 && $1 + 0 <= w1 && /checkpoint starting: wal/ {n++} END {print n + 0}' "$TMP/primary.log")
    read -r mx p99 mxs n <<<"$(lag_stats "$t0" "$tc")"
    MAXLAG[$k]=$mx P99LAG[$k]=$p99 MAXLAGS[$k]=$mxs NLAG[$k]=$n
    CATCH[$k]=$(awk -v a="$t1" -v b="$tc" 'BEGIN{printf "%.1f", b - a}')
    SAME[$k]=$(tv $k same)
done
read -r BATCH_MAX BATCH_N <<<"$(batch_wal "$(tv S t_start)" "$(tv S t_end)")"
read -r _ _ J_BATCHES J_WAL J_THR J_STATS <<<"$(awk '$1 == "jobrow"' "$TMP/S.out")"
LIMIT=$((MAX_REPLICA_LAG + BATCH_MAX))
pass() { if awk "BEGIN{exit !($1)}"; then echo PASS; else echo FAIL; fi; }
V_CKPT=$(pass "${CKPT[S]} == 0")
V_LAG=$(pass "${MAXLAG[S]} <= $LIMIT")

mkdir -p "$OUT_DIR"
{
    echo "replica benchmark: $ROWS rows, adding tok uuid NOT NULL DEFAULT gen_random_uuid(); a streaming standby (pg_basebackup, loopback)"
    echo "server: shared_buffers 512MB; $SETTINGS"
    echo "foreground: pgbench $CLIENTS clients -R $RATE (point select + update by id) during each variant$([[ $RATE == 0 ]] && echo ' (none)')"
    echo "$SO_INFO; run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, load average $LOAD_BEFORE before, $LOAD_AFTER after"
    echo
    printf '%-27s %8s %8s %7s %9s %6s %11s %11s %10s %8s %10s %9s\n' variant wall_s rows/s WAL_MB ckpt_req timed \
        max_lag_MB p99_lag_MB max_lag_s samples catchup_s identical
    for k in N S; do
        label=$(tv $k label)
        printf '%-27s %8.1f %8d %7d %9d %6d %11s %11s %10.2f %8d %10.1f %9s\n' "($k) $label" "${WALL[$k]}" "${RPS[$k]}" \
            "${WALMB[$k]}" "${CKPT[$k]}" "${CKPTT[$k]}" "$(mb "${MAXLAG[$k]}")" "$(mb "${P99LAG[$k]}")" "${MAXLAGS[$k]}" \
            "${NLAG[$k]}" "${CATCH[$k]}" "${SAME[$k]}"
    done
    echo
    echo "wall_s: until tok is filled and NOT NULL ((S): safe_add_column() call to the job's finished_at); rows/s = $ROWS / wall_s"
    echo "WAL_MB: pg_wal_lsn_diff over the variant, foreground included; ckpt_req: pg_stat_bgwriter.checkpoints_req"
    echo "  difference (forced; the log's 'checkpoint starting: wal' lines: (N) ${LOGCK[N]}, (S) ${LOGCK[S]}); timed: checkpoints_timed difference"
    echo "max_lag/p99_lag: standby1's replay lag in bytes (pg_current_wal_lsn() - replay_lsn), sampled every ${LAG_SAMPLE_S} s"
    echo "  from the start of the variant until the standby had replayed its last WAL (samples: how many); max_lag_s:"
    echo "  replay_lag; catchup_s: from the end of the variant until then; identical: the standby's tok equals the"
    echo "  primary's (count, md5)"
    echo "(S) one batch's WAL: largest $(mb "$BATCH_MAX") MB over $BATCH_N samples one batch apart; the job: $J_BATCHES batches,"
    echo "  $(mb "$J_WAL") MB of WAL, average $(awk -v w="$J_WAL" -v b="$J_BATCHES" 'BEGIN{printf "%.2f", (b > 0 ? w / b / 1048576 : 0)}') MB a batch; throttled ${J_THR} ms: $J_STATS"
    echo "(S) held by (share of the samples): $(reasons "$(tv S t_start)" "$(tv S t_end)")"
    echo
    echo "goal (S) no forced checkpoint: $V_CKPT (${CKPT[S]} requested)"
    echo "goal (S) replay lag <= safe_column.max_replica_lag + one batch: $V_LAG (max $(mb "${MAXLAG[S]}") MB <= $(mb "$MAX_REPLICA_LAG") + $(mb "$BATCH_MAX") MB)"
    echo "throughput: (S) ${RPS[S]} rows/s, $(awk -v a="${RPS[S]}" -v b="${RPS[N]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')x the single UPDATE's ${RPS[N]} rows/s"
} | tee "$OUT_FILE"
{
    cat "$OUT_FILE"
    echo
    echo "checkpoint log lines of the primary:"
    grep -E 'checkpoint (starting|complete)' "$TMP/primary.log" | sed 's/^/    /' || true
    echo
    echo "lag samples (epoch lag_bytes lag_s batches wal_bytes reason), every 10th:"
    awk 'NF >= 5 && NR % 10 == 0' "$TMP/lag.out" | sed 's/^/    /'
} >"$DETAILS_FILE"
log "table written to $OUT_FILE, details to $DETAILS_FILE"
exit 0
