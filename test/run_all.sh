#!/usr/bin/env bash
# Sets everything up and runs every test layer of safe_column:
#   unit (ctest: the pure C++ core), regress (pg_regress), isolation (pg_isolation_regress), tap (prove),
#   pg-alter-table (PostgreSQL's own ALTER TABLE tests, compared with and without the hook).
# Run as root on Debian 12: it installs what it needs, and runs the clusters as the postgres user.
# Exits non-zero on any failure; the last line is "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"

passed=0
failed=0
failures=()
count() {  # count LAYER PASSED FAILED
    passed=$((passed + $2))
    failed=$((failed + $3))
    [ "$3" -eq 0 ] || failures+=("$1: $3 failed")
    echo "--- $1: $2 passed, $3 failed"
}

# glibc fills every freed block with this byte in the servers the tests start (they inherit it): a
# value used after its memory was freed then shows as garbage instead of passing by luck.
export MALLOC_PERTURB_=165

sc_ensure_packages || exit 1
sc_build_install || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
make -C "$SC_ROOT/test/guard" -s && make -C "$SC_ROOT/test/guard" -s install \
    || { echo "guard test module build failed"; echo "0 passed, 1 failed"; exit 1; }

# --- unit tests of the pure C++ core
sc_log "unit tests (ctest)"
log=$(mktemp)
if cmake -S "$SC_ROOT" -B "$SC_ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$SC_ROOT/build" -j"$(nproc)" >/dev/null; then
    (cd "$SC_ROOT/build" && ctest --output-on-failure) 2>&1 | tee "$log"
    total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
    nfail=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
    count unit "$(( ${total:-0} - ${nfail:-0} ))" "${nfail:-1}"
else
    count unit 0 1
fi

# --- pg_regress and pg_isolation_regress, each on its own throw-away instance, as postgres
work=$(sc_scratch_copy)
trap 'rm -rf "$work"' EXIT
sc_log "regression and isolation tests (pg_regress, pg_isolation_regress)"
(cd "$work" && sc_as_postgres make -s installcheck) 2>&1 | tee "$log"
count regress+isolation "$(grep -cE '^(ok|test) .* \.\.\. ok|^test .*\.\.\. *ok' "$log")" \
    "$(grep -cE '\.\.\. *FAILED|\.\.\. *failed' "$log")"
for f in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
    [ -s "$f" ] && { echo "--- $f"; head -200 "$f"; }
done

# --- TAP tests (PostgreSQL::Test::Cluster): restarts, crashes, standbys
if compgen -G "$work/test/t/*.pl" >/dev/null; then
    sc_log "TAP tests (prove)"
    pgxs_src=$(dirname "$(dirname "$(pg_config --pgxs)")")
    (cd "$work/test" && sc_as_postgres env TESTDIR="$work/test" PG_REGRESS="$pgxs_src/test/regress/pg_regress" \
        prove -I "$pgxs_src/test/perl" -I "$work/test/lib" t/*.pl) 2>&1 | tee "$log"
    tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\).*/\1/p' "$log" | tail -1)
    nfail=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | awk -F'[ /]' '{s+=$2} END {print s+0}')
    bad=$(grep -cE '(Dubious|No plan found|Bad plan|Non-zero exit status)' "$log")
    if ! grep -q '^Result: PASS' "$log" && [ "$nfail" -eq 0 ]; then
        nfail=$((bad > 0 ? bad : 1))
    fi
    count tap "$(( ${tests:-0} > nfail ? ${tests:-0} - nfail : 0 ))" "$nfail"
    for f in "$work"/test/tmp_check/log/regress_log_*; do
        [ -f "$f" ] && grep -q "not ok" "$f" && { echo "--- $f (failures)"; grep -B2 -A10 "not ok" "$f" | head -60; }
    done
fi
# --- PostgreSQL's own ALTER TABLE regression tests: the same output with and without the hook
sc_log "PostgreSQL's alter_table tests, without safe_column and with safe_column.mode off and guard"
"$SC_ROOT/test/pg_alter_table/run.sh" 2>&1 | tee "$log"
count pg-alter-table "$(grep -c '^ok - ' "$log")" "$(grep -c '^not ok - ' "$log")"

# --- the Debian package: built, installed, tested, purged (last: it replaces the source install for a while)
sc_log "the Debian package (test/pkg/run.sh)"
"$SC_ROOT/test/pkg/run.sh" 2>&1 | tee "$log"
count package "$(grep -c '^ok - ' "$log")" "$(grep -c '^not ok - ' "$log")"
rm -f "$log"

echo
[ ${#failures[@]} -eq 0 ] || printf 'FAILED: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
