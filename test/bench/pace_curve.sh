#!/usr/bin/env bash
# The price of speed: variant (5) of backfill.sh (safe_add_column at the default settings) at several
# checkpoint paces, each on an identical fresh table under the same foreground traffic, and the
# backfill's rate plotted against the foreground's p99 and max latency, so that a DBA sees what a faster
# backfill costs the application on this kind of machine and where the default sits on the curve.
# The pace is set with safe_column.checkpoint_min_interval (0: no pace; the default, -1, is
# checkpoint_warning + 10 % = 33 s), everything else at PostgreSQL's and safe_column's defaults.
#
# Usage (as root; the extension built and installed):
#   bash test/bench/pace_curve.sh
# Environment:
#   CURVE_INTERVALS  the values of safe_column.checkpoint_min_interval, in seconds (default "0 16 -1 66")
#   BENCH_ROWS, BENCH_CONF, SC_PG: as for backfill.sh (BENCH_CONF is added to each run's settings)
#   CURVE_REPLOT=1   only draw the plot again from the last run's test/bench/out/pace_curve.dat
# Output: test/bench/out/pace_curve.txt (one line per pace), pace_curve.dat (the plot's data) and
# docs/backfill_pace_curve.png.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$HERE/out
[[ -n ${SC_PG:-} && ${SC_PG} != 15 ]] && OUT_DIR=$OUT_DIR/pg$SC_PG
INTERVALS=${CURVE_INTERVALS:-"0 16 -1 66"}
TXT=$OUT_DIR/pace_curve.txt
PNG=$HERE/../../docs/backfill_pace_curve.png
command -v gnuplot >/dev/null || { apt-get install -y -qq gnuplot-nox >/dev/null; }
mkdir -p "$OUT_DIR"
DAT=$OUT_DIR/pace_curve.dat

plot() {
    gnuplot <<GP
set terminal pngcairo size 900,520 font ',10' noenhanced
set output '$PNG'
set title "The price of speed: safe_add_column of 2M rows at several checkpoint paces (labels: checkpoint_min_interval, s; -1: the default)"
set xlabel 'backfill rate (rows/s)'
set ylabel 'foreground latency (ms)'
set key top left
set grid
set yrange [0:*]
plot '$DAT' using 1:2 with linespoints pt 7 title 'foreground p99', \\
     '$DAT' using 1:3 with linespoints pt 5 title 'foreground max', \\
     '$DAT' using 1:4 with lines dt 2 lc rgb 'gray' title 'unloaded p99 (each run)', \\
     '$DAT' using 1:2:5 with labels offset 0,1 notitle
GP
    echo "plot: $PNG; table: $TXT"
}
if [[ -n ${CURVE_REPLOT:-} ]]; then
    plot
    exit 0
fi
: >"$DAT"

printf '%-22s %8s %8s %7s %8s %8s %11s\n' checkpoint_min_interval wall_s rows/s WAL_MB p99_ms max_ms base_p99_ms | tee "$TXT"
for v in $INTERVALS; do
    conf="safe_column.checkpoint_min_interval = $v"
    [[ -n ${BENCH_CONF:-} ]] && conf+=$'\n'"$BENCH_CONF"
    BENCH_VARIANTS=5 BENCH_CONF="$conf" bash "$HERE/backfill.sh" >"$OUT_DIR/pace_curve_$v.log" 2>&1 ||
        { tail -n 20 "$OUT_DIR/pace_curve_$v.log" >&2; exit 1; }
    sub=$OUT_DIR/backfill_subset.txt
    # (5) line: label, then wall_s rows/s WAL_MB size_MB p99_ms max_ms; the baseline's p99 and max last.
    read -r wall rps wal p99 max <<<"$(awk '/^\(5\)/ { n = NF; print $(n-5), $(n-4), $(n-3), $(n-1), $n }' "$sub")"
    base=$(awk '/^baseline/ { print $(NF-1) }' "$sub")
    label=$v
    [[ $v == -1 ]] && label="-1 (default, 33 s)"
    [[ $v == 0 ]] && label="0 (no pace)"
    printf '%-22s %8s %8s %7s %8s %8s %11s\n' "$label" "$wall" "$rps" "$wal" "$p99" "$max" "$base" | tee -a "$TXT"
    echo "$rps $p99 $max $base \"$v\"" >>"$DAT"
done

plot
