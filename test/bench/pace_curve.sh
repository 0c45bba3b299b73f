#!/usr/bin/env bash
# The price of speed: variant (5) of backfill.sh (safe_add_column at the default settings) at several
# checkpoint paces, each on an identical fresh table under the same foreground traffic, and the
# backfill's rate plotted against the foreground's p99 and max latency, so that a DBA sees what a faster
# backfill costs the application on this kind of machine and where the default sits on the curve.
# Each point sets one safe_column setting, everything else at PostgreSQL's and safe_column's defaults:
# safe_column.checkpoint_min_interval (0: no pace; the default, -1, is checkpoint_warning + 10 % = 33 s)
# or, at the default pace, safe_column.max_wal_rate (a cap on the worker's WAL per second) for the
# slow end of the curve. The first point runs (2), the single UPDATE, too: the plot marks the rate at
# which the backfill takes 4x (2)'s time (the duration goal) and twice each run's unloaded p99 (the
# latency goal), so the curve shows whether one pace meets both.
#
# Usage (as root; the extension built and installed):
#   bash test/bench/pace_curve.sh
# Environment:
#   CURVE_POINTS     the points, each setting=value (default "checkpoint_min_interval=0
#                    checkpoint_min_interval=16 checkpoint_min_interval=-1 checkpoint_min_interval=66
#                    max_wal_rate=8MB max_wal_rate=4MB")
#   BENCH_ROWS, BENCH_CONF, SC_PG: as for backfill.sh (BENCH_CONF is added to each run's settings)
#   CURVE_REPLOT=1   only draw the plot again from the last run's test/bench/out/pace_curve.dat
# Output: test/bench/out/pace_curve.txt (one line per pace), pace_curve.dat (the plot's data) and
# docs/backfill_pace_curve.png.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$HERE/out
[[ -n ${SC_PG:-} && ${SC_PG} != 15 ]] && OUT_DIR=$OUT_DIR/pg$SC_PG
POINTS=${CURVE_POINTS:-"checkpoint_min_interval=0 checkpoint_min_interval=16 checkpoint_min_interval=-1 checkpoint_min_interval=66 max_wal_rate=8MB max_wal_rate=4MB"}
TXT=$OUT_DIR/pace_curve.txt
PNG=$HERE/../../docs/backfill_pace_curve.png
command -v gnuplot >/dev/null || { apt-get install -y -qq gnuplot-nox >/dev/null; }
mkdir -p "$OUT_DIR"
DAT=$OUT_DIR/pace_curve.dat

plot() {
    local rate4x
    rate4x=$(cat "$DAT.rate4x" 2>/dev/null || echo 0)
    sort -n "$DAT" >"$DAT.sorted"
    gnuplot <<GP
set terminal pngcairo size 900,520 font ',10' noenhanced
set output '$PNG'
set title "The price of speed: safe_add_column of 2M rows at several paces (labels: the setting; cmi -1 is the default)"
set xlabel 'backfill rate (rows/s)'
set ylabel 'foreground latency (ms, log scale)'
set key top right
set grid
set logscale y
set yrange [1:*]
if ($rate4x > 0) set arrow from $rate4x, graph 0 to $rate4x, graph 1 nohead dt 3 lc rgb 'red'
if ($rate4x > 0) set label 'duration goal: 4x (2), faster to the right' at $rate4x, graph 0.95 offset 1,0 tc rgb 'red'
plot '$DAT.sorted' using 1:2 with linespoints pt 7 title 'foreground p99', \\
     '$DAT.sorted' using 1:3 with linespoints pt 5 title 'foreground max', \\
     '$DAT.sorted' using 1:4 with lines dt 2 lc rgb 'gray' title 'unloaded p99 (each run)', \\
     '$DAT.sorted' using 1:(2*\$4) with lines dt 3 lc rgb 'red' title 'latency goal: 2x unloaded p99', \\
     '$DAT.sorted' using 1:2:5 with labels offset 0,-1 notitle
GP
    echo "plot: $PNG; table: $TXT"
}
if [[ -n ${CURVE_REPLOT:-} ]]; then
    plot
    exit 0
fi
: >"$DAT"

printf '%-34s %8s %8s %7s %8s %8s %11s\n' point wall_s rows/s WAL_MB p99_ms max_ms base_p99_ms | tee "$TXT"
rm -f "$DAT.rate4x"
first=1
for point in $POINTS; do
    setting=${point%%=*} value=${point#*=}
    [[ $setting != "$point" && -n $value ]] || { echo "CURVE_POINTS: $point is not setting=value" >&2; exit 1; }
    conf="safe_column.$setting = '$value'"
    [[ -n ${BENCH_CONF:-} ]] && conf+=$'\n'"$BENCH_CONF"
    variants=5
    [[ -n $first ]] && variants="2 5"
    log=$OUT_DIR/pace_curve_${setting}_$value.log
    BENCH_VARIANTS=$variants BENCH_CONF="$conf" bash "$HERE/backfill.sh" >"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; exit 1; }
    sub=$OUT_DIR/backfill_subset.txt
    # (5) line: label, then wall_s rows/s WAL_MB size_MB p99_ms max_ms; the baseline's p99 and max last.
    read -r wall rps wal p99 max <<<"$(awk '/^\(5\)/ { n = NF; print $(n-5), $(n-4), $(n-3), $(n-1), $n }' "$sub")"
    base=$(awk '/^baseline/ { print $(NF-1) }' "$sub")
    if [[ -n $first ]]; then
        # The rate at which the backfill's rows take 4x the single UPDATE's wall time.
        awk '/^\(2\)/ { n = NF; w = $(n-5); r = $(n-4); if (w > 0) printf "%.0f\n", r / 4 }' "$sub" >"$DAT.rate4x"
        read -r w2 r2 wal2 p2 m2 <<<"$(awk '/^\(2\)/ { n = NF; print $(n-5), $(n-4), $(n-3), $(n-1), $n }' "$sub")"
        printf '%-34s %8s %8s %7s %8s %8s %11s\n' "(2) UPDATE + SET NOT NULL" "$w2" "$r2" "$wal2" "$p2" "$m2" "$base" |
            tee -a "$TXT"
        first=
    fi
    label=$point
    [[ $point == checkpoint_min_interval=-1 ]] && label="$point (default)"
    printf '%-34s %8s %8s %7s %8s %8s %11s\n' "$label" "$wall" "$rps" "$wal" "$p99" "$max" "$base" | tee -a "$TXT"
    short=${point/checkpoint_min_interval=/cmi }
    echo "$rps $p99 $max $base \"${short/max_wal_rate=/rate }\"" >>"$DAT"
done

plot
