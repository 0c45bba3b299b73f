# Shared by the benchmark scripts in test/bench: their throw-away servers are stopped and their temp
# dir removed on every way out (end, error, Ctrl-C, kill). Source it, make TMP (bench_tmpdir); set
# BENCH_DATADIRS (data directories, stopped in that order) and BENCH_LOGS (server logs, whose last
# lines are printed when the script fails), add background jobs to BG_PIDS, then call bench_traps.
# BENCH_KEEP=1 keeps the temp dir (the servers are stopped regardless).

BG_PIDS=()
BENCH_DATADIRS=()
BENCH_LOGS=()

# PREFIX: a new temp dir /tmp/PREFIX.XXXXXX in TMP, owned by postgres, private; the script moves into
# it, so that nothing of the run lands in the caller's directory.
bench_tmpdir() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    chown postgres: "$TMP"
    chmod 700 "$TMP"
    cd "$TMP"
}

# DATADIR NAME [LISTEN]: initdb as postgres (trust, UTF8, C.UTF-8), then the settings every benchmark
# server has: port PORT, the unix socket in TMP, TCP only on LISTEN (default none), safe_column
# preloaded with its ALTER TABLE hook off (the naive variants must run as sent: the hook is not what
# is measured). The caller appends its own settings to DATADIR/postgresql.conf.
bench_initdb() {
    runuser -u postgres -- "$PGBIN/initdb" -D "$1" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
    cat >>"$1/postgresql.conf" <<EOF

# $2
listen_addresses = '${3:-}'
port = $PORT
unix_socket_directories = '$TMP'
shared_preload_libraries = 'safe_column'
safe_column.mode = off
EOF
}

# users_template (ROWS rows of the users schema: id, email, created_at, padding), vacuumed and analyzed,
# built once per run; the variants copy it (bench_prepare_users). Uses the script's PSQL and die.
bench_users_template() {
    "${PSQL[@]}" <<SQL || die "building users_template failed"
CREATE TABLE users_template AS
SELECT g::bigint AS id, 'user' || g || '@example.com' AS email,
       now() - g * interval '1 minute' AS created_at, repeat(md5(g::text), 3) AS padding
  FROM generate_series(1, $1) g;
VACUUM ANALYZE users_template;
SQL
}

# A fresh users (id bigint primary key, email, created_at, padding) copied from users_template,
# vacuumed, analyzed and checkpointed: identical before each variant. Uses the script's PSQL and die.
bench_prepare_users() {
    "${PSQL[@]}" <<'SQL' || die "preparing users failed"
DROP TABLE IF EXISTS users;
CREATE TABLE users (id bigint NOT NULL, email text, created_at timestamptz, padding text);
INSERT INTO users SELECT id, email, created_at, padding FROM users_template;
ALTER TABLE users ADD PRIMARY KEY (id);
VACUUM ANALYZE users;
CHECKPOINT;
SQL
}

# DATADIR: fast shutdown, else immediate, else SIGKILL of its postmaster.
bench_stop_server() {
    local dir=$1 pm
    [[ -f $dir/postmaster.pid ]] || return 0
    pm=$(head -1 "$dir/postmaster.pid" 2>/dev/null)
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir" -m immediate -w -t 10 stop >/dev/null 2>&1
    if [[ -n $pm ]] && kill -0 "$pm" 2>/dev/null; then
        kill -9 "$pm" 2>/dev/null
        sleep 0.5
    fi
    return 0
}

# PID: a background job that ended or was stopped, no longer ours to stop.
forget_bg() {
    local x keep=()
    for x in "${BG_PIDS[@]}"; do [[ $x == "$1" ]] || keep+=("$x"); done
    BG_PIDS=("${keep[@]}")
}

bench_cleanup() {
    local rc=$? p d f
    trap - EXIT INT TERM HUP ERR
    set +e
    cd /
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    for d in "${BENCH_DATADIRS[@]}"; do bench_stop_server "$d"; done
    if ((rc != 0)); then
        for f in "${BENCH_LOGS[@]}"; do
            [[ -f $f ]] && { echo "---- last lines of $f ----" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "kept $TMP (servers stopped)" >&2
    else
        rm -rf "$TMP"
    fi
    ((rc == 0)) || rc=1
    exit "$rc"
}

bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}
