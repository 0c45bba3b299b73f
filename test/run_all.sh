#!/usr/bin/env bash
# Sets everything up and runs every test layer of safe_column on every supported PostgreSQL version:
#   unit (ctest: the pure C++ core, version-independent: once), regress (pg_regress), isolation
#   (pg_isolation_regress), tap (prove), pg-alter-table (PostgreSQL's own ALTER TABLE tests, compared
#   with and without the hook), package (the Debian package, on the machine's own version).
# 15 is the machine's own (Debian 12); 17 and 18 run in Debian roots of their suites, 19 (release
# candidate) is built and runs the regress layer (test/lib/pg_roots.sh).
#   SC_PG="18"        only these versions (default: 15 17 18 19)
#   SC_LAYERS="tap"   only these layers (default: every layer the version runs)
#   SC_TAP_TESTS="t/004_throttle_signals.pl"  only these TAP tests (default: t/*.pl)
# Run as root on Debian 12: it installs what it needs, and runs the clusters as the postgres user.
# Exits non-zero on any failure; one summary line per version, the last line is "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/pg_roots.sh"

passed=0
failed=0
failures=()
count() {  # count LAYER PASSED FAILED [WHICH]
    passed=$((passed + $2))
    failed=$((failed + $3))
    [ "$3" -eq 0 ] || failures+=("PostgreSQL $SC_PG_MAJOR $1: $3 failed${4:+ ($4)}")
    echo "--- PostgreSQL $SC_PG_MAJOR $1: $2 passed, $3 failed"
}

# glibc fills every freed block with this byte in the servers the tests start (they inherit it): a
# value used after its memory was freed then shows as garbage instead of passing by luck.
export MALLOC_PERTURB_=165
log=$(mktemp)
work=
trap 'rm -rf "$log" "${prep_log:-}" ${work:+"$work"}' EXIT

# --- unit tests of the pure C++ core
layer_unit() {
    sc_log "unit tests (ctest)"
    if cmake -S "$SC_ROOT" -B "$SC_ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build "$SC_ROOT/build" -j"$(nproc)" >/dev/null; then
        (cd "$SC_ROOT/build" && ctest --output-on-failure) 2>&1 | tee "$log"
        local total nfail
        total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
        nfail=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
        count unit "$(( ${total:-0} - ${nfail:-0} ))" "${nfail:-1}"
    else
        count unit 0 1
    fi
}

# --- pg_regress and pg_isolation_regress, each on its own throw-away instance, as postgres
layer_regress() {
    sc_log "regression and isolation tests (pg_regress, pg_isolation_regress)"
    local rc
    (cd "$work" && sc_as_postgres make -s installcheck) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # pg_regress prints "test name ... ok" up to 15 and TAP-style "ok 1 - name" from 16.
    local ok bad
    ok=$(grep -cE '^ok [0-9]+ |^(test )?[a-z_0-9]+ +\.\.\. ok' "$log")
    bad=$(grep -cE '^not ok [0-9]+ |\.\.\. *FAILED|\.\.\. *failed' "$log")
    # make stops at the first program that fails (isolation does not run after a regress failure).
    [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
    count regress+isolation "$ok" "$bad"
    local f
    for f in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
        [ -s "$f" ] && { echo "--- $f"; head -200 "$f"; }
    done
}

# The next major version's server, where this root has it too (sid: 18 and 19): safe_column built and
# installed for it from a copy of the tree, and its bin directory printed, for t/030_pg_upgrade.pl.
upgrade_target() {
    local bin=/usr/lib/postgresql/$((SC_PG_MAJOR + 1))/bin tmp
    [ -x "$bin/pg_upgrade" ] && [ -x "$bin/pg_config" ] || return 0
    local rc=0
    tmp=$(mktemp -d) && cp -a "$SC_ROOT/." "$tmp/" && make -C "$tmp" -s clean >/dev/null 2>&1 &&
        make -C "$tmp" -s -j2 PG_CONFIG="$bin/pg_config" >&2 &&
        make -C "$tmp" -s install PG_CONFIG="$bin/pg_config" >/dev/null && echo "$bin" || rc=1
    rm -rf "$tmp"
    return $rc
}

# --- TAP tests (PostgreSQL::Test::Cluster): restarts, crashes, standbys, upgrades
layer_tap() {
    compgen -G "$work/test/t/*.pl" >/dev/null || return 0
    sc_log "TAP tests (prove)"
    local pgxs_src tests nfail bad f upgrade_to which
    pgxs_src=$(dirname "$(dirname "$(pg_config --pgxs)")")
    upgrade_to=$(upgrade_target) ||
        { echo "could not build safe_column for PostgreSQL $((SC_PG_MAJOR + 1)) (t/030_pg_upgrade.pl)"; count tap 0 1; }
    [ -n "$upgrade_to" ] && echo "safe_column installed for $upgrade_to too: t/030_pg_upgrade.pl upgrades to it"
    # Or, where the root has 15 with safe_column beside this version (17's): from 15 to this version.
    local upgrade_from=
    if [ -z "$upgrade_to" ] && [ "$SC_PG_MAJOR" != 15 ] && [ -x /usr/lib/postgresql/15/bin/postgres ] &&
        [ -f /usr/lib/postgresql/15/lib/safe_column.so ]; then
        upgrade_from=/usr/lib/postgresql/15/bin upgrade_to=/usr/lib/postgresql/$SC_PG_MAJOR/bin
        echo "PostgreSQL 15 with safe_column is here too: t/030_pg_upgrade.pl upgrades from it to $SC_PG_MAJOR"
    fi
    (cd "$work/test" && sc_as_postgres env TESTDIR="$work/test" PG_REGRESS="$pgxs_src/test/regress/pg_regress" \
        SC_UPGRADE_TO="$upgrade_to" SC_UPGRADE_FROM="$upgrade_from" \
        prove -I "$pgxs_src/test/perl" -I "$work/test/lib" ${SC_TAP_TESTS:-t/*.pl}) 2>&1 | tee "$log"
    tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\).*/\1/p' "$log" | tail -1)
    nfail=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | awk -F'[ /]' '{s+=$2} END {print s+0}')
    bad=$(grep -cE '(Dubious|No plan found|Bad plan|Non-zero exit status)' "$log")
    if ! grep -q '^Result: PASS' "$log" && [ "$nfail" -eq 0 ]; then
        nfail=$((bad > 0 ? bad : 1))
    fi
    # Which files failed, from prove's summary ("t/004_x.pl  (Wstat: ...)"), for the last lines.
    which=$(sed -n 's/^\(t\/[^ ]*\.pl\) *(Wstat.*/\1/p' "$log" | sort -u | paste -sd' ')
    count tap "$(( ${tests:-0} > nfail ? ${tests:-0} - nfail : 0 ))" "$nfail" "$which"
    for f in "$work"/test/tmp_check/log/regress_log_*; do
        [ -f "$f" ] && grep -q "not ok" "$f" && { echo "--- $f (failures)"; grep -B2 -A10 "not ok" "$f" | head -60; }
    done
}

# --- PostgreSQL's own ALTER TABLE regression tests: the same output with and without the hook
layer_pg_alter_table() {
    sc_log "PostgreSQL's alter_table tests, without safe_column and with safe_column.mode off and guard"
    "$SC_ROOT/test/pg_alter_table/run.sh" 2>&1 | tee "$log"
    count pg-alter-table "$(grep -c '^ok - ' "$log")" "$(grep -c '^not ok - ' "$log")"
}

# --- the Debian package: built, installed, tested, purged (last: it replaces the source install for a while)
layer_package() {
    sc_log "the Debian package (test/pkg/run.sh)"
    "$SC_ROOT/test/pkg/run.sh" 2>&1 | tee "$log"
    count package "$(grep -c '^ok - ' "$log")" "$(grep -c '^not ok - ' "$log")"
}

# The layers each version runs: unit once (the core does not see PostgreSQL), the package on the
# machine's own version, 19 (a release candidate) the regress layer.
default_layers() {
    case $1 in
    15) echo "unit regress tap pg-alter-table package" ;;
    19) echo "regress" ;;
    *) echo "regress tap pg-alter-table" ;;
    esac
}

# Every layer of this process's version (the machine's own, or the one of the root it runs in).
run_here() {
    local layers=${SC_LAYERS:-$(default_layers "$SC_PG_MAJOR")} l
    sc_ensure_packages || { count setup 0 1; return; }
    sc_build_install || { echo "build failed"; count build 0 1; return; }
    make -C "$SC_ROOT/test/guard" -s && make -C "$SC_ROOT/test/guard" -s install ||
        { echo "guard test module build failed"; count build 0 1; return; }
    work=$(sc_scratch_copy)
    for l in $layers; do
        case $l in
        unit) layer_unit ;;
        regress) layer_regress ;;
        tap) layer_tap ;;
        pg-alter-table) layer_pg_alter_table ;;
        package) layer_package ;;
        *) echo "unknown layer $l" >&2; count "$l" 0 1 ;;
        esac
    done
    rm -rf "$work"
    work=
}

# The roots of the versions to run, with their packages, made in the background while the machine's
# own version runs (network and dpkg, little CPU): on a fresh machine that is most of their cost.
prepare_roots() {
    local v suite
    for v in "$@"; do
        suite=$(sc_root_suite "$v") || continue
        sc_ensure_root "$suite" &&
            sc_in_root "$suite" env SC_IN_ROOT=1 SC_PG_MAJOR="$v" bash -c \
                'source /src/test/lib/common.sh && sc_ensure_packages' || echo "could not prepare the root for $v"
        # 17's root has 15 too: t/030_pg_upgrade.pl upgrades from 15 (the machine's own) to 17.
        [ "$v" = 17 ] && { sc_in_root "$suite" bash -c 'source /src/test/lib/common.sh &&
            source /src/test/lib/pg_roots.sh && sc_ensure_old_server' || echo "could not install 15 in the $suite root"; }
    done
}
prep_pid=
prep_log=$(mktemp)
start_preparing_roots() {
    local v need=0
    for v in "$@"; do sc_root_suite "$v" >/dev/null && need=1; done
    [ "$need" = 1 ] || return 0
    command -v debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    prepare_roots "$@" >"$prep_log" 2>&1 &
    prep_pid=$!
}
wait_for_roots() {
    [ -n "$prep_pid" ] || return 0
    wait "$prep_pid"
    prep_pid=
    sc_log "the Debian roots (prepared in the background)"
    grep -vE '^\s*$' "$prep_log" | tail -20
}

# A version that runs in a Debian root: this script again, inside it; its totals are added here.
run_in_root() {
    local v=$1 suite
    suite=$(sc_root_suite "$v")
    wait_for_roots
    sc_log "PostgreSQL $v, in a Debian $suite root"
    sc_ensure_root "$suite" || { SC_PG_MAJOR=$v count setup 0 1; return; }
    [ "$v" = 17 ] && { sc_root_install_old "$suite" || echo "could not install safe_column for 15 in the $suite root"; }
    sc_in_root "$suite" env SC_IN_ROOT=1 SC_PG="$v" SC_PG_MAJOR="$v" SC_DEBIAN_SUITE="$suite" \
        SC_LAYERS="${SC_LAYERS:-}" SC_TAP_TESTS="${SC_TAP_TESTS:-}" bash /src/test/run_all.sh 2>&1 | tee "$log"
    local p f
    read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
    grep '^FAILED: ' "$log" | sed 's/^FAILED: //' >"$log.f"
    while read -r l; do failures+=("$l"); done <"$log.f"
    [ -n "$p" ] || failures+=("PostgreSQL $v: the run in the $suite root did not finish")
    rm -f "$log.f"
}

if [ -n "${SC_IN_ROOT:-}" ]; then
    run_here
else
    summary=()
    versions=${SC_PG:-15 17 18 19}
    # shellcheck disable=SC2086
    start_preparing_roots $versions
    for v in $versions; do
        p0=$passed f0=$failed t0=$SECONDS
        if sc_root_suite "$v" >/dev/null; then
            run_in_root "$v"
        elif [ "$v" = 15 ]; then
            SC_PG_MAJOR=15 run_here
        else
            echo "PostgreSQL $v: not supported here (15, 17, 18, 19)" >&2
            failed=$((failed + 1))
            failures+=("PostgreSQL $v: not supported")
        fi
        summary+=("PostgreSQL $v: $((passed - p0)) passed, $((failed - f0)) failed ($((SECONDS - t0)) s)")
    done
    echo
    printf '%s\n' "${summary[@]}"
fi

echo
[ ${#failures[@]} -eq 0 ] || printf 'FAILED: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
