#!/usr/bin/env bash
# PostgreSQL's own regression tests, with and without the hook. First its tests for ALTER TABLE (and
# CREATE INDEX), run three times on throw-away instances:
#   base   without safe_column
#   off    safe_column preloaded and installed in the database, safe_column.mode = off
#   guard  the same, safe_column.mode = guard (the default)
# and compared: the hook must not change a single line of their output. (Tables there are far below
# safe_column.guard_min_size, so guard only takes each ALTER TABLE's lock queue-safely.)
#
# The tests come from Debian's source package of the PostgreSQL version under test (apt-get source, from
# the Debian archive; any minor release will do since the runs are compared with each other), with the test library
# regress.so they need built here with PGXS. Run as root (downloads, then runs clusters as postgres).
# Prints one "ok"/"not ok" line per comparison and ends with "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"

CACHE=${SC_PGSRC_CACHE:-/var/tmp/safe_column-pgsrc}
TESTS=(test_setup create_index alter_table)
passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
notok() { echo "not ok - $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

# --- the tests, from the Debian source package
V=$SC_PG_MAJOR
regress_dir=$(ls -d "$CACHE"/postgresql-"$V".*/src/test/regress 2>/dev/null | tail -1)
if [ -z "$regress_dir" ]; then
    sc_log "downloading PostgreSQL $V's source package (for its regression tests)"
    mkdir -p "$CACHE/lists/partial" && cd "$CACHE" || exit 1
    # The suite: the machine's own, or the one of the Debian root this runs in (test/lib/pg_roots.sh).
    . /etc/os-release
    suite=${SC_DEBIAN_SUITE:-$VERSION_CODENAME}
    echo "deb-src http://deb.debian.org/debian $suite main" >sources.list
    [ "$suite" = sid ] || printf 'deb-src http://deb.debian.org/debian-security %s-security main\ndeb-src http://deb.debian.org/debian %s-updates main\n' \
        "$suite" "$suite" >>sources.list
    APT=(-q -o Dir::Etc::SourceList="$CACHE/sources.list" -o Dir::Etc::SourceParts=/nonexistent
         -o Dir::State::Lists="$CACHE/lists" -o APT::Sandbox::User=root)
    apt-get "${APT[@]}" update >apt.log 2>&1 || { notok "apt-get update (deb-src) failed: see $CACHE/apt.log"; finish; }
    got=0
    # Newest first; a version whose files the mirror lacks is skipped.
    for v in $(apt-cache "${APT[@]}" showsrc "postgresql-$V" | sed -n 's/^Version: //p' | sort -rV); do
        if apt-get "${APT[@]}" source --download-only "postgresql-$V=$v" >>apt.log 2>&1; then got=1; break; fi
    done
    # The archive's mirror may lack the newest source files while it still has an earlier minor
    # release's upstream tarball in the same pool directory: any minor will do (see above).
    if [ "$got" = 0 ]; then
        newest=$(apt-cache "${APT[@]}" showsrc "postgresql-$V" | sed -n 's/^Version: \([0-9]*\)\.\([0-9]*\).*/\2/p' | sort -n | tail -1)
        for ((m = ${newest:-0}; m >= 0; m--)); do
            f="postgresql-${V}_$V.$m.orig.tar.bz2"
            if /usr/lib/apt/apt-helper download-file "http://deb.debian.org/debian/pool/main/p/postgresql-$V/$f" "$CACHE/$f" \
                >>apt.log 2>&1; then got=1; echo "# PostgreSQL $V.$m's upstream tarball, from the archive's pool"; break; fi
        done
    fi
    [ "$got" = 1 ] || { notok "apt-get source postgresql-$V failed: see $CACHE/apt.log"; finish; }
    # (bzip2 itself: tar's own choice of program is lbzip2 in some suites.)
    bzip2 -dc "$(ls postgresql-"$V"_*.orig.tar.bz2 | head -1)" | tar -xf - --wildcards '*/src/test/regress/*' ||
        { notok "could not extract the regression tests"; finish; }
    regress_dir=$(ls -d "$CACHE"/postgresql-"$V".*/src/test/regress | tail -1)
fi
echo "# PostgreSQL tests from $regress_dir"
if [ ! -f "$regress_dir/regress.so" ]; then
    printf 'MODULES = regress\nPGXS := $(shell pg_config --pgxs)\ninclude $(PGXS)\n' >"$regress_dir/Makefile.sc"
    make -C "$regress_dir" -f Makefile.sc -s >/dev/null 2>&1 || { notok "could not build regress.so"; finish; }
fi

# --- three runs, as postgres, in a scratch directory
work=$(mktemp -d /tmp/sc_pg_alter_table.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$regress_dir"/{sql,expected,data} "$work"/ 2>/dev/null
cp "$regress_dir/regress.so" "$work/"
printf 'max_worker_processes = 16\n' >"$work/base.conf"
printf "shared_preload_libraries = 'safe_column'\nsafe_column.mode = off\nmax_worker_processes = 16\n" >"$work/off.conf"
printf "shared_preload_libraries = 'safe_column'\nsafe_column.mode = guard\nmax_worker_processes = 16\n" >"$work/guard.conf"
chown -R postgres: "$work"
pgxs_src=$(dirname "$(dirname "$(pg_config --pgxs)")")
for run in base off guard; do
    ext=()
    [ "$run" = base ] || ext=(--load-extension=safe_column)
    (cd "$work" && sc_as_postgres "$pgxs_src/test/regress/pg_regress" --temp-instance="$work/tmp_$run" \
        --temp-config="$work/$run.conf" --inputdir="$work" --outputdir="$work/out_$run" --dlpath="$work" \
        --bindir="$PG_BIN" --encoding=UTF8 --no-locale --port=$((57100 + RANDOM % 800)) \
        "${ext[@]}" "${TESTS[@]}") >"$work/$run.log" 2>&1
    grep -E "^(ok|not ok|test) " "$work/$run.log" | sed "s/^/# $run: /"
    echo "# $run: $(grep -cE '\.\.\. ok' "$work/$run.log") of ${#TESTS[@]} tests as PostgreSQL expects them"
done

nd=$(diff "$work/expected/alter_table.out" "$work/out_base/results/alter_table.out" 2>/dev/null | grep -c "^[<>]")
echo "# baseline alter_table: $nd lines differ from PostgreSQL's expected output (objects of tests not run here)"
[ -n "${SC_KEEP:-}" ] && { trap - EXIT; echo "# kept $work"; }
# The baseline must really have run ALTER TABLE statements, or comparing it proves nothing.
n=$(grep -ci '^alter table' "$work/out_base/results/alter_table.out" 2>/dev/null || echo 0)
if [ "$n" -gt 500 ]; then ok "baseline ran $n ALTER TABLE statements"; else notok "baseline ran only $n ALTER TABLE statements"; fi
for run in off guard; do
    for t in "${TESTS[@]}"; do
        a="$work/out_base/results/$t.out"
        b="$work/out_$run/results/$t.out"
        if [ -s "$a" ] && [ -s "$b" ] && diff -u "$a" "$b" >"$work/$run.$t.diff"; then
            ok "$t: mode $run gives the same output as without safe_column"
        else
            notok "$t: mode $run differs from the output without safe_column"
            head -60 "$work/$run.$t.diff"
        fi
    done
done

# --- PostgreSQL's whole regression schedule, off against guard and stage: the hook must not change
# whether any test passes. (Their tables are far below guard_min_size: guard and stage only take the
# locks of ALTER TABLE and index statements queue-safely, and decide facts without reading tables;
# a test that fails with the extension merely installed fails alike in every mode and is listed.)
# On the machine's own version by default (about 4 minutes for the three runs on 2 cores; the other
# versions run the ALTER TABLE tests above): SC_PG_FULL_SCHEDULE=1 or 0 decides.
full_default=0
[ -z "${SC_PGROOT:-}" ] && [ -z "${SC_IN_ROOT:-}" ] && full_default=1
if [ "${SC_PG_FULL_SCHEDULE:-$full_default}" = 1 ]; then
    printf "shared_preload_libraries = 'safe_column'\nsafe_column.mode = stage\nmax_worker_processes = 16\n" >"$work/stage.conf"
    cp "$regress_dir/parallel_schedule" "$work/"
    chown -R postgres: "$work"
    for run in off guard stage; do
        start=$(date +%s)
        (cd "$work" && sc_as_postgres "$pgxs_src/test/regress/pg_regress" --temp-instance="$work/tmpf_$run" \
            --temp-config="$work/$run.conf" --inputdir="$work" --outputdir="$work/outf_$run" --dlpath="$work" \
            --bindir="$PG_BIN" --encoding=UTF8 --no-locale --port=$((57100 + RANDOM % 800)) \
            --load-extension=safe_column --schedule="$work/parallel_schedule" --max-connections=20) >"$work/full_$run.log" 2>&1
        # One "name status" line per test: 16 and later print "ok 12  + name  123 ms" (or "not ok"), 15
        # prints "test name ... ok" and "     name ... FAILED" (or "failed (ignored)").
        awk '/^(not )?ok [0-9]+ +[-+] / { for (i = 1; i <= NF; i++) if ($i == "+" || $i == "-") { print $(i + 1), ($1 == "not" ? "not-ok" : "ok"); break } next }
             / \.\.\. / { for (i = 2; i <= NF; i++) if ($i == "...") { print $(i - 1), ($(i + 1) == "ok" ? "ok" : "not-ok"); break } }' \
            "$work/full_$run.log" |
            sort >"$work/full_$run.status"
        echo "# full schedule, mode $run: $(grep -c ' ok$' "$work/full_$run.status") of $(wc -l <"$work/full_$run.status") tests pass ($(($(date +%s) - start)) s)"
        grep -v ' ok$' "$work/full_$run.status" | sed "s/^/#   not passing in $run: /"
    done
    total=$(wc -l <"$work/full_off.status")
    if [ "$total" -gt 150 ]; then ok "the whole schedule ran: $total tests"; else notok "the whole schedule ran only $total tests"; fi
    for run in guard stage; do
        if diff "$work/full_off.status" "$work/full_$run.status" >"$work/full_$run.diff"; then
            ok "parallel_schedule: every test passes in mode $run exactly when it passes in mode off"
        else
            notok "parallel_schedule: mode $run changes which tests pass"
            cat "$work/full_$run.diff"
        fi
        # Stronger: the output of every test, passing or not, is the same.
        differ=()
        for f in "$work"/outf_off/results/*.out; do
            cmp -s "$f" "$work/outf_$run/results/$(basename "$f")" || differ+=("$(basename "$f" .out)")
        done
        if [ "${#differ[@]}" -eq 0 ]; then
            ok "parallel_schedule: mode $run gives every test the same output as mode off"
        else
            notok "parallel_schedule: mode $run changes the output of ${differ[*]}"
            for t in "${differ[@]}"; do diff -u "$work/outf_off/results/$t.out" "$work/outf_$run/results/$t.out" | head -40; done
        fi
    done
fi
finish
