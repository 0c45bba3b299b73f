#!/usr/bin/env bash
# p99 probe: the experiments behind README's "Benchmark: the backfill" paragraph on the foreground p99.
# Not a benchmark with verdicts: short trials, repeated and interleaved, that tell which load moves the
# foreground's p99 on this machine, and by how much against unloaded windows measured in between.
#
# One throw-away cluster (temp dir under /tmp, unix socket; shared_buffers 512MB, max_wal_size 8GB so
# that no checkpoint is forced) with users_template (PROBE_ROWS rows, the schema of backfill.sh). Each
# trial: a fresh users (copy, primary key, VACUUM ANALYZE, CHECKPOINT), pgbench (point select + update
# of email by random id, 4 clients, -R 300) from 2 s before the load until 1 s after, then p50/p90/p99/
# max of the transactions whose lifetime overlaps the load. No wait-event sampler runs (it is a load too),
# so the unloaded p99 here is lower than in backfill.sh.
#
# A trial is NAME[:setting=value...]; the settings are set with ALTER SYSTEM (restart if needed) for that
# trial only; two pseudo-settings act on the worker process instead: nice=N (renice) and sched=idle
# (SCHED_IDLE); rate=N sets the transactions per second of an sql, sqlo or ins trial, blocks=N the
# blocks per transaction of an sql or sqlo trial. What the trial
# runs depends on how NAME starts:
#   base...  nothing for 12 s (the unloaded reference)
#   sqlo...  as sql..., but on users_other, a copy of users the foreground does not touch (same WAL,
#            another table: tells contention on users from the cost of the WAL itself)
#   sql...   a client doing (5)'s work in plain SQL for 12 s: TID ranges of PROBE_SQL_BLOCKS blocks,
#            synchronous_commit off, PROBE_SQL_RATE transactions per second, filling a nullable tok
#   ins...   a client inserting 200 rows of 200 bytes into another table, synchronous_commit off,
#            PROBE_INS_RATE transactions per second, for 12 s (WAL unrelated to users)
#   burn...  a CPU burner (yes >/dev/null) for 12 s
#   other    safe_add_column('users', 'tok', 'uuid', 'gen_random_uuid()', not_null => true), until complete
#
# Usage (as root, after make install): bash test/bench/p99_probe.sh
#   PROBE_TRIALS  default "base def base t20:safe_column.batch_target=20ms
#                 t20s9:safe_column.batch_target=20ms:safe_column.batch_sleep_ratio=9 n19:nice=19
#                 idle:sched=idle ww10:wal_writer_delay=10ms lz4:wal_compression=lz4 sql ins burn"
#   PROBE_ROUNDS  how many times the list runs (default 2)
#   PROBE_ROWS (2000000), PROBE_PORT (5497), PROBE_SQL_BLOCKS (9), PROBE_SQL_RATE (100), PROBE_INS_RATE (400)
#   PROBE_TRACE   non-empty: strace the foreground's backends during each trial and print, per system
#                 call, how many took over 1 ms and their total (waits for the client left out): futex
#                 is a wait for a lock another process holds (e.g. WALWriteLock during its flush),
#                 fdatasync the backend's own WAL flush, fsync a WAL segment it had to create. strace
#                 slows every call, so compare trials of one PROBE_TRACE run only.
# Output: two lines per trial on stdout: the foreground's latencies and the WAL written per second of
# the trial, then what the disk did (from /proc/diskstats: writes, MB written, mean ms per write, cache
# flushes, mean ms per flush) and what the server did (pg_stat_wal: records, full-page images, WAL
# writes and syncs per second; pg_stat_bgwriter: buffers written by the bgwriter and by backends).
set -Eeuo pipefail

ROWS=${PROBE_ROWS:-2000000}
PORT=${PROBE_PORT:-5497}
ROUNDS=${PROBE_ROUNDS:-2}
TRIALS=${PROBE_TRIALS:-"base def base t20:safe_column.batch_target=20ms t20s9:safe_column.batch_target=20ms:safe_column.batch_sleep_ratio=9 n19:nice=19 idle:sched=idle ww10:wal_writer_delay=10ms lz4:wal_compression=lz4 sql ins burn"}
SQL_BLOCKS=${PROBE_SQL_BLOCKS:-9}
SQL_RATE=${PROBE_SQL_RATE:-100}
INS_RATE=${PROBE_INS_RATE:-400}
PGBIN=${SC_PGROOT:-}/usr/lib/postgresql/15/bin  # SC_PGROOT: see test/lib/common.sh

die() { echo "p99_probe: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (the cluster runs as the postgres user via runuser)"
for v in ROWS PORT ROUNDS SQL_BLOCKS SQL_RATE INS_RATE; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for b in initdb pg_ctl psql pgbench; do [[ -x $PGBIN/$b ]] || die "$PGBIN/$b missing (apt-get install postgresql-15)"; done

source "$(dirname "$0")/../lib/bench.sh"  # BG_PIDS, forget_bg, bench_stop_server, bench_traps
bench_tmpdir safe_column_p99
BENCH_DATADIRS=("$TMP/data")
BENCH_LOGS=("$TMP/server.log")
bench_traps
bench_initdb "$TMP/data" p99_probe.sh
cat >>"$TMP/data/postgresql.conf" <<EOF
shared_buffers = 512MB
max_wal_size = 8GB
EOF
pgctl() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w "$@" >/dev/null; }
pgctl start || die "server did not start"
export PGHOST=$TMP PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
P=("$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1)
"${P[@]}" -d postgres -c 'CREATE DATABASE bench'
"${P[@]}" -c "CREATE EXTENSION safe_column" \
    -c "CREATE TABLE users_template AS SELECT g::bigint AS id, 'user' || g || '@example.com' AS email,
               now() - g * interval '1 minute' AS created_at, repeat(md5(g::text), 3) AS padding
          FROM generate_series(1, $ROWS) g" \
    -c "CREATE TABLE junk (a int, b text)" \
    -c "VACUUM ANALYZE users_template"
printf '%s\n' "\\set id random(1, $ROWS)" 'SELECT email, created_at FROM users WHERE id = :id;' \
    "UPDATE users SET email = 'user' || :id || '@example.org' WHERE id = :id;" >fg.sql
sql_load() {  # BLOCKS: the sql and sqlo trials' scripts, TID ranges of BLOCKS blocks
    printf '%s\n' "\\set b random(0, $((ROWS / 48)))" 'BEGIN;' 'SET LOCAL synchronous_commit = off;' 'SET LOCAL enable_seqscan = off;' \
        "UPDATE ONLY users SET tok = gen_random_uuid() WHERE ctid >= format('(%s,0)', :b)::tid AND ctid < format('(%s,0)', :b + $1)::tid AND tok IS NULL;" \
        'COMMIT;' >sqlload.sql
    sed 's/UPDATE ONLY users /UPDATE ONLY users_other /' sqlload.sql >sqlotherload.sql
}
printf '%s\n' 'SET synchronous_commit = off;' "INSERT INTO junk SELECT g, repeat('x', 200) FROM generate_series(1, 200) g;" >insload.sql

worker_pid() {
    local i pid
    for ((i = 0; i < 250; i++)); do
        pid=$("${P[@]}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'safe_column worker'")
        [[ -n $pid ]] && { echo "$pid"; return; }
        sleep 0.02
    done
}

# The data directory's disk, from /proc/diskstats: writes, sectors written, ms writing, flushes, ms flushing.
DISK=$(lsblk -no PKNAME "$(findmnt -no SOURCE --target "$TMP")" 2>/dev/null || true)
[[ -n $DISK ]] || DISK=$(basename "$(findmnt -no SOURCE --target "$TMP")")
disk_io() { awk -v d="$DISK" '$3 == d { print $8, $10, $11, $19, $20 }' /proc/diskstats; }
wal_stats() { "${P[@]}" -F ' ' -c "SELECT wal_records, wal_fpi, wal_write, wal_sync, buffers_clean, buffers_backend
                                   FROM pg_stat_wal, pg_stat_bgwriter"; }

trial() {  # SPEC
    local spec=$1 name=${1%%:*} kv settings=() restart=0 nice='' sched='' rate='' blocks=$SQL_BLOCKS
    IFS=: read -ra kv <<<"${spec#"$name"}"
    for s in "${kv[@]}"; do
        [[ -n $s ]] || continue
        case $s in
        nice=*) nice=${s#nice=} ;;
        sched=idle) sched=idle ;;
        rate=*) rate=${s#rate=} ;;
        blocks=*) blocks=${s#blocks=} ;;
        *=*) settings+=("$s")
             [[ $("${P[@]}" -c "SELECT context FROM pg_settings WHERE name = '${s%%=*}'") == postmaster ]] && restart=1 ;;
        *) die "bad setting '$s' in trial '$spec'" ;;
        esac
    done
    for s in "${settings[@]}"; do "${P[@]}" -c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'"; done
    "${P[@]}" -c "SELECT pg_reload_conf()" >/dev/null
    ((restart)) && pgctl restart
    "${P[@]}" <<'SQL' >/dev/null
SET client_min_messages = warning;
DROP TABLE IF EXISTS users;
CREATE TABLE users (id bigint NOT NULL, email text, created_at timestamptz, padding text);
INSERT INTO users SELECT * FROM users_template;
ALTER TABLE users ADD PRIMARY KEY (id);
VACUUM ANALYZE users;
TRUNCATE junk;
DROP TABLE IF EXISTS users_other;
SQL
    if [[ $name == sqlo* ]]; then
        "${P[@]}" -c "SET client_min_messages = warning" -c "CREATE TABLE users_other (LIKE users)" \
            -c "INSERT INTO users_other SELECT * FROM users_template" -c "ALTER TABLE users_other ADD PRIMARY KEY (id)" \
            -c "VACUUM ANALYZE users_other" -c "ALTER TABLE users_other ADD COLUMN tok uuid"
    fi
    sql_load "$blocks"
    "${P[@]}" -c CHECKPOINT
    rm -f fg.pgb.*
    "$PGBIN/pgbench" -n -c 4 -j 2 -R 300 -T 3600 -f fg.sql -l --log-prefix=fg.pgb >/dev/null 2>&1 &
    local fg=$!
    BG_PIDS+=("$fg")
    sleep 2
    local t0 t1 job st=()
    if [[ -n ${PROBE_TRACE:-} ]]; then
        local b
        for b in $("${P[@]}" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'"); do st+=(-p "$b"); done
        strace -q -T -o "$TMP/strace.out" "${st[@]}" &
        st=("$!")
        sleep 0.5
    fi
    local lsn0 lsn1 io0 io1 wal0 wal1
    lsn0=$("${P[@]}" -c "SELECT pg_current_wal_lsn()")
    io0=$(disk_io); wal0=$(wal_stats)
    t0=$(date +%s.%N)
    case $name in
    base*) sleep 12 ;;
    sqlo*) "$PGBIN/pgbench" -n -c 1 -R "${rate:-$SQL_RATE}" -T 12 -f sqlotherload.sql >/dev/null 2>&1 ;;
    sql*) "${P[@]}" -c 'ALTER TABLE users ADD COLUMN tok uuid'
          "$PGBIN/pgbench" -n -c 1 -R "${rate:-$SQL_RATE}" -T 12 -f sqlload.sql >/dev/null 2>&1 ;;
    ins*) "$PGBIN/pgbench" -n -c 1 -R "${rate:-$INS_RATE}" -T 12 -f insload.sql >/dev/null 2>&1 ;;
    burn*) timeout 12 yes >/dev/null || true ;;
    *) job=$("${P[@]}" -c "SELECT safe_add_column('users', 'tok', 'uuid', 'gen_random_uuid()', not_null => true)")
       if [[ -n $nice || -n $sched ]]; then
           local wp
           wp=$(worker_pid)
           [[ -n $wp ]] || die "no worker for trial '$spec'"
           [[ -n $nice ]] && renice -n "$nice" -p "$wp" >/dev/null
           [[ -n $sched ]] && chrt -i -p 0 "$wp"
       fi
       "${P[@]}" -c "SET client_min_messages = warning" -c "CALL safe_column_watch($job, '1 hour')" >/dev/null ;;
    esac
    t1=$(date +%s.%N)
    lsn1=$("${P[@]}" -c "SELECT pg_current_wal_lsn()")
    io1=$(disk_io); wal1=$(wal_stats)
    if ((${#st[@]})); then
        kill -INT "${st[0]}"; wait "${st[0]}" 2>/dev/null || true
        # Syscalls of the foreground's backends that took over 1 ms, but for waits for the client.
        awk -v s="$spec" '/<[0-9.]+>$/ { n = split($NF, a, /[<>]/); d = a[2] * 1000; i = $1 ~ /^[0-9]+$/ ? 2 : 1; c = $i == "<..." ? $(i + 1) : $i; sub(/\(.*/, "", c)
                           if (d > 1 && c != "epoll_wait" && c != "recvfrom") { k[c]++; t[c] += d } }
            END { printf "  trace %s:", s; for (c in k) printf " %s %d calls %.0f ms;", c, k[c], t[c]; print "" }' "$TMP/strace.out"
    fi
    sleep 1
    kill "$fg" 2>/dev/null; wait "$fg" 2>/dev/null || true
    forget_bg "$fg"
    for s in "${settings[@]}"; do "${P[@]}" -c "ALTER SYSTEM RESET ${s%%=*}"; done
    "${P[@]}" -c "SELECT pg_reload_conf()" >/dev/null
    ((restart)) && pgctl restart
    cat fg.pgb.* | awk -v w0="$t0" -v w1="$t1" '$3 ~ /^[0-9]+$/ { t = $5 + $6 / 1e6; if (t >= w0 && t - $3 / 1e6 <= w1) print $3 / 1000 }' |
        sort -n | awk -v s="$spec" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" \
                      -v wal="$("${P[@]}" -c "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / 1048576)")" '{v[NR] = $1}
            END {printf "%-60s wall %6.1f s  WAL %5.1f MB/s  tx %6d  p50 %5.2f  p90 %5.2f  p99 %6.2f  max %7.2f ms\n", s, w, wal / w, NR,
                        v[int(NR * .5) + 1], v[int(NR * .9) + 1], v[int(NR * .99) + 1], v[NR]}'
    # What the disk and the server did meanwhile: per second of the trial, and the mean time of a write / flush.
    awk -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" -v a="$io0 $wal0" -v b="$io1 $wal1" 'BEGIN {
            split(a, x, " "); split(b, y, " "); for (i in y) d[i] = y[i] - x[i]
            printf "  disk %6.0f writes/s %6.1f MB/s %5.2f ms/write %5.0f flushes/s %5.2f ms/flush;",
                   d[1] / w, d[2] * 512 / 1048576 / w, d[1] ? d[3] / d[1] : 0, d[4] / w, d[4] ? d[5] / d[4] : 0
            printf "  WAL %6.0f rec/s %5.0f fpi/s %5.0f writes/s %5.0f syncs/s; buffers cleaned %d, by backends %d\n",
                   d[6] / w, d[7] / w, d[8] / w, d[9] / w, d[10], d[11] }'
}

for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TRIALS; do trial "$t"; done
done
