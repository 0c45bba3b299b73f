#!/usr/bin/env bash
# The Debian package, as a DBA installs it: build it from debian/ (dpkg-buildpackage: one
# postgresql-NN-safe-column per server version in debian/pgversions that this machine has), take away
# what `make install` put into the server's tree, install the package with apt, run the regression
# layer against it (pg_buildext installcheck) and one staged job in a cluster with the library
# preloaded (pg_virtualenv), then purge it: every file it installed is gone. At the end the source
# build is installed again, as the other layers expect.
# Run as root (test/run_all.sh runs it). Prints "ok - ..." / "not ok - ..." per check.
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"

PKG_DEPS=(debhelper dpkg-dev postgresql-server-dev-all fakeroot unzip)
fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() {  # check WHAT COMMAND...: ok when the command succeeds
    local what=$1
    shift
    if "$@" >>"$work/checks.log" 2>&1; then ok "$what"; else not_ok "$what"; tail -20 "$work/checks.log"; fi
}

missing=()
for p in "${PKG_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sc_log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/safe_column_pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
(cd "$SC_ROOT" && tar --exclude=./build --exclude=./.git -cf - .) | tar -C "$work/src" -xf -
make -C "$work/src" -s clean >/dev/null 2>&1

# PGXN: META.json against the spec, and the archive `make dist` makes of the committed tree.
sc_log "PGXN: META.json and make dist"
perl "$SC_ROOT/test/pkg/meta.pl" "$SC_ROOT" | tee "$work/meta.log"
fails=$((fails + $(grep -c '^not ok' "$work/meta.log")))
if git -C "$SC_ROOT" rev-parse -q --verify HEAD >/dev/null; then
    version=$(sed -n 's/^   "version": "\(.*\)",$/\1/p' "$SC_ROOT/META.json")
    make -C "$SC_ROOT" -s dist && mv "$SC_ROOT/safe_column-$version.zip" "$work/"
    listing=$(unzip -Z1 "$work/safe_column-$version.zip" 2>/dev/null)
    missing_files=""
    for f in META.json Makefile safe_column.control safe_column--0.1.sql safe_column--0.2.sql safe_column--0.1--0.2.sql safe_column--0.2--0.3.sql safe_column--0.3--0.4.sql README.md src/pg/module.cpp; do
        grep -qx "safe_column-$version/$f" <<<"$listing" || missing_files+=" $f"
    done
    [ -z "$missing_files" ] && ok "make dist: safe_column-$version.zip holds the tree under safe_column-$version/" ||
        not_ok "make dist: safe_column-$version.zip lacks$missing_files"
else
    not_ok "make dist needs a git checkout ($SC_ROOT has none)"
fi

sc_log "building the Debian package (dpkg-buildpackage -b)"
if (cd "$work/src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
    ok "dpkg-buildpackage builds the package"
else
    not_ok "dpkg-buildpackage builds the package"
    tail -30 "$work/build.log"
    echo "$fails failed"
    exit 1
fi
versions=$(cd "$work/src" && pg_buildext supported-versions)
for v in $versions; do
    compgen -G "$work/postgresql-$v-safe-column_*.deb" >/dev/null && ok "a package for PostgreSQL $v" ||
        not_ok "a package for PostgreSQL $v"
done

# What `make install` put into the server's tree goes first: the package must bring everything.
pkglib=$(pg_config --pkglibdir)
share=$(pg_config --sharedir)
rm -rf "$pkglib/safe_column.so" "$pkglib/bitcode/safe_column" "$pkglib/bitcode/safe_column.index.bc" \
    "$share"/extension/safe_column*
check "no safe_column file left in the server's tree before the package" \
    bash -c "! compgen -G '$share/extension/safe_column*' && ! test -e '$pkglib/safe_column.so'"

deb=$(ls "$work"/postgresql-15-safe-column_*.deb)
check "apt-get install ./$(basename "$deb")" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb"
dpkg -L postgresql-15-safe-column | while read -r f; do [ -f "$f" ] && echo "$f"; done >"$work/files"
check "the package installed the library, the control file and the scripts (0.1, 0.2, 0.1 to 0.2, 0.2 to 0.3, 0.3 to 0.4)" \
    bash -c "grep -qx '$pkglib/safe_column.so' '$work/files' && grep -qx '$share/extension/safe_column.control' '$work/files' && grep -qx '$share/extension/safe_column--0.1.sql' '$work/files' && grep -qx '$share/extension/safe_column--0.2.sql' '$work/files' && grep -qx '$share/extension/safe_column--0.1--0.2.sql' '$work/files' && grep -qx '$share/extension/safe_column--0.2--0.3.sql' '$work/files'"
check "the package installed the postgres_exporter queries" \
    grep -q 'examples/postgres_exporter_queries.yaml$' "$work/files"

# The regression layer against the installed package, as the postgres user (initdb refuses root).
chown -R postgres: "$work"
sc_log "regression tests against the package (pg_buildext installcheck)"
if (cd "$work/src" && runuser -u postgres -- env PATH="$PATH" pg_buildext installcheck) >"$work/installcheck.log" 2>&1; then
    ok "pg_buildext installcheck passes against the installed package"
else
    not_ok "pg_buildext installcheck passes against the installed package"
    tail -30 "$work/installcheck.log"
    for f in "$work"/src/regression.diffs "$work"/src/output_iso/regression.diffs; do
        [ -s "$f" ] && head -60 "$f"
    done
fi

# One staged job in a cluster with the library preloaded.
cat >"$work/job.sql" <<'EOF'
\set ON_ERROR_STOP on
CREATE EXTENSION safe_column;
CREATE TABLE users (id int PRIMARY KEY, email text);
INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 20000) g;
SET safe_column.mode = stage;
SET safe_column.guard_min_size = 0;
ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
CALL safe_column_watch(1, '120s');
SELECT state || ' ' || (SELECT count(*) FROM users WHERE token IS NULL) || ' '
       || (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'token')
  FROM safe_column_jobs WHERE job_id = 1;
EOF
chown postgres: "$work/job.sql"
result=$(cd "$work" && runuser -u postgres -- pg_virtualenv -v 15 -o shared_preload_libraries=safe_column \
    psql -X -At -f "$work/job.sql" 2>"$work/job.err" | grep -E '^[a-z]+ [0-9]+ (true|false)$' | tail -1)
[ "$result" = "complete 0 true" ] && ok "a staged job completes with the packaged library preloaded" ||
    { not_ok "a staged job completes with the packaged library preloaded (got '$result')"; tail -20 "$work/job.err"; }

check "apt-get purge postgresql-15-safe-column" \
    env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq postgresql-15-safe-column
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$work/files")
[ -z "$left" ] && ok "purging the package removed every file it installed ($(wc -l <"$work/files") files)" ||
    { not_ok "purging the package removed every file it installed"; echo "$left" | head; }

# The other layers use the source build.
make -C "$SC_ROOT" -s install >/dev/null && ok "the source build is installed again" ||
    not_ok "the source build is installed again"
exit $((fails > 0))
