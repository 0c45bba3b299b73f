#!/usr/bin/env bash
# Throttle off is the speed of the work itself: variants (2) (one UPDATE + SET NOT NULL) and (4)
# (safe_add_column with safe_column.throttle = off) of backfill.sh, side by side, in several runs (each
# a fresh cluster and table), with the min / median / max of (4)'s speed against (2)'s. One run's
# ratio says little on a shared 2-core machine: the spread between runs is part of the answer.
#
# Usage (as root; the extension built and installed):
#   bash test/bench/rate_runs.sh
# Environment:
#   RATE_RUNS    how many runs (default 3)
#   BENCH_ROWS, BENCH_CONF, SC_PG: as for backfill.sh. BENCH_PROFILE="2 4" profiles the first run
#                (test/bench/out/backfill_profile.txt); the others run without perf.
# Output: test/bench/out/rate_runs.txt (a line per run, then min / median / max).
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$HERE/out
[[ -n ${SC_PG:-} && ${SC_PG} != 15 ]] && OUT_DIR=$OUT_DIR/pg$SC_PG
RUNS=${RATE_RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "RATE_RUNS must be a positive integer (got '$RUNS')" >&2; exit 1; }
mkdir -p "$OUT_DIR"
TXT=$OUT_DIR/rate_runs.txt
profile=${BENCH_PROFILE:-}

: >"$OUT_DIR/rate_runs.dat"
printf '%-4s %10s %10s %10s %10s %8s\n' run '(2)_wall_s' '(4)_wall_s' '(2)_rows/s' '(4)_rows/s' ratio | tee "$TXT"
for r in $(seq "$RUNS"); do
    log=$OUT_DIR/rate_runs_$r.log
    BENCH_VARIANTS="2 4" BENCH_PROFILE="$profile" bash "$HERE/backfill.sh" >"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; exit 1; }
    profile=
    sub=$OUT_DIR/backfill_subset.txt
    # Lines "(2) label... wall_s rows/s WAL_MB size_MB p99_ms max_ms".
    read -r w2 r2 <<<"$(awk '/^\(2\)/ { n = NF; print $(n-5), $(n-4) }' "$sub")"
    read -r w4 r4 <<<"$(awk '/^\(4\)/ { n = NF; print $(n-5), $(n-4) }' "$sub")"
    [[ -n $w2 && -n $w4 ]] || { echo "run $r: no (2)/(4) lines in $sub" >&2; exit 1; }
    ratio=$(awk -v a="$r4" -v b="$r2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    echo "$w2 $w4 $r2 $r4 $ratio" >>"$OUT_DIR/rate_runs.dat"
    printf '%-4s %10s %10s %10s %10s %7sx\n' "$r" "$w2" "$w4" "$r2" "$r4" "$ratio" | tee -a "$TXT"
done
# min / median / max of each column.
for c in 1 2 3 4 5; do
    sort -g -k$c,$c "$OUT_DIR/rate_runs.dat" | awk -v c=$c '{ v[NR] = $c } END { print v[1], v[int((NR + 1) / 2)], v[NR] }'
done | awk '
    { mn[NR] = $1; md[NR] = $2; mx[NR] = $3 }
    END {
        printf "%-6s %8s %10s %10s %10s %7sx\n", "min", mn[1], mn[2], mn[3], mn[4], mn[5]
        printf "%-6s %8s %10s %10s %10s %7sx\n", "median", md[1], md[2], md[3], md[4], md[5]
        printf "%-6s %8s %10s %10s %10s %7sx\n", "max", mx[1], mx[2], mx[3], mx[4], mx[5]
    }' | tee -a "$TXT"
echo "goal: (4) >= 0.9x (2) in each run" | tee -a "$TXT"
