# Where the CPU time of a benchmark variant goes: `perf record` of every CPU while the variant runs,
# then the CPU seconds of each kind of process (the variant's own session, the safe_column worker, the
# foreground's backends, the checkpointer, the WAL writer, autovacuum, pgbench, the samplers) and the
# functions the busiest PostgreSQL processes spend them in. Sourced by test/bench/backfill.sh
# (BENCH_PROFILE="2 4"); uses its TMP, PGBIN, log and die. Needs perf (Debian: linux-perf) and root.

PROFILE_HZ=499   # samples per second per CPU: a sample stands for 1/PROFILE_HZ s of one CPU

profile_check() {
    command -v perf >/dev/null || apt_install linux-perf
    perf record -q -F "$PROFILE_HZ" -a -o "$TMP/perf.check" -- true >/dev/null 2>&1 ||
        die "perf record -a does not work here (kernel.perf_event_paranoid, or not root)"
    rm -f "$TMP/perf.check"
}

# KEY: starts perf on every CPU and a sampler of pg_stat_activity (which pid is which process: the
# worker and most backends end before the report is made).
profile_start() {
    perf record -q -F "$PROFILE_HZ" -a -o "$TMP/$1.perf" >"$TMP/$1.perf.log" 2>&1 &
    PERF_PID=$!
    BG_PIDS+=("$PERF_PID")
    cat >"$TMP/$1.procs.sql" <<'EOF'
SELECT pid, coalesce(nullif(backend_type, 'client backend'), 'client ' || coalesce(nullif(application_name, ''), '?'))
  FROM pg_stat_activity
\watch 0.2
EOF
    "$PGBIN/psql" -X -At -F '|' -f "$TMP/$1.procs.sql" >"$TMP/$1.procs" 2>/dev/null &
    PROCS_PID=$!
    BG_PIDS+=("$PROCS_PID")
}

# KEY: perf writes its file on SIGINT.
profile_stop() {
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    stop_psql "$PROCS_PID"
    [[ -s $TMP/$1.perf ]] || die "($1) perf wrote no samples: $(tail -n 3 "$TMP/$1.perf.log")"
}

# KEY: the report, on stdout.
profile_report() {
    local key=$1
    # pid -> role, from the samples of pg_stat_activity; the rest by command name.
    awk -F'|' 'NF == 2 && $1 ~ /^[0-9]+$/ {print $1, $2}' "$TMP/$key.procs" | sort -u -k1,1 >"$TMP/$key.roles"
    # "samples pid:comm" per process; a sample is 1/PROFILE_HZ s of one CPU.
    perf report -i "$TMP/$key.perf" --no-children --sort pid --stdio -q -F sample,pid 2>/dev/null |
        awk '$1 ~ /^[0-9]+$/ {split($2, a, ":"); print a[1], a[2], $1}' >"$TMP/$key.bypid"
    echo "CPU seconds by process ($PROFILE_HZ samples a second per busy CPU, $(nproc) CPUs):"
    awk -v hz="$PROFILE_HZ" '
        FNR == NR {role[$1] = substr($0, length($1) + 2); next}
        $1 == 0 {next}
        {
            r = ($1 in role) ? role[$1] : ($2 == "postgres" ? "postgres (other)" : $2)
            cpu[r] += $3 / hz
            if ($3 > most[r]) {most[r] = $3; top[r] = $1}
        }
        END {for (r in cpu) if (cpu[r] >= 0.05) printf "  %8.2f s  %-32s (busiest pid %s)\n", cpu[r], r, top[r]}' \
        "$TMP/$key.roles" "$TMP/$key.bypid" | sort -k1,1nr
    # The functions of the busiest process of the variant itself: the worker, or the session.
    local pid role
    for role in "safe_column worker" "client variant"; do
        pid=$(awk -v r="$role" 'FNR == NR {if (substr($0, length($1) + 2) == r) want[$1] = 1; next}
                                 ($1 in want) && $3 > m {m = $3; p = $1} END {print p}' \
            "$TMP/$key.roles" "$TMP/$key.bypid")
        [[ -n $pid ]] || continue
        [[ $role == "client variant" && $key =~ ^[45]$ ]] && continue  # only waits for the worker
        echo "  top functions of the $role (pid $pid), share of its samples:"
        perf report -i "$TMP/$key.perf" --no-children --pid "$pid" --sort dso,sym --stdio -q \
            --percentage relative 2>/dev/null | awk '$1 ~ /%$/ && NR <= 25 {printf "    %s\n", $0}'
    done
}
