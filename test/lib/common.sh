# Shared by demo.sh, test/run_all.sh and the benchmarks: install what is missing, build, install.
# Source it; it defines functions and variables only.

SC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# SC_PG_MAJOR: the PostgreSQL major version this process builds and tests against: 15 on Debian 12
# (the machine's own). test/run_all.sh sets it inside the Debian roots of other versions (see
# test/lib/pg_roots.sh), where that version is the root's own packaged server.
SC_PG_MAJOR=${SC_PG_MAJOR:-15}
# SC_PGROOT (optional): a private, relocated copy of the PostgreSQL installation to build, install
# and test against instead of the system one, so that two trees (git worktrees) can be tested at the
# same time without replacing each other's safe_column.so. Unset: the system installation (CI, README).
if [ -n "${SC_PGROOT:-}" ]; then
    PG_BIN=$SC_PGROOT/usr/lib/postgresql/$SC_PG_MAJOR/bin
else
    PG_BIN=/usr/lib/postgresql/$SC_PG_MAJOR/bin
fi
export PATH="$PG_BIN:$PATH"

sc_log() { printf '\n=== %s\n' "$*"; }

# Debian packages the project needs to build, test and run its demo.
SC_PACKAGES=(
    "postgresql-$SC_PG_MAJOR" "postgresql-client-$SC_PG_MAJOR" "postgresql-server-dev-$SC_PG_MAJOR"
    libboost-dev libipc-run-perl bzip2
    g++ make cmake libgtest-dev
    prometheus-postgres-exporter
)

sc_ensure_packages() {
    local missing=()
    local p
    for p in "${SC_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # The migration-tool test installs node-pg-migrate from the npm registry: Node.js and npm, from
    # Debian when the machine has none (a Node.js from elsewhere that brings its own npm is kept).
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    if [ ${#missing[@]} -gt 0 ]; then
        sc_log "installing ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing packages (${missing[*]}): run as root, or install them first" >&2
            return 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # A server only Debian's experimental suite carries (19 at its release candidate) comes from there.
        local target=()
        [ -f /etc/apt/sources.list.d/experimental.list ] && [ "$SC_PG_MAJOR" -ge 19 ] && target=(-t experimental)
        apt-get install -y -qq --no-install-recommends "${target[@]}" "${missing[@]}" >/dev/null
    fi
    # Debian's postgresql package may have created and started the default cluster: not needed.
    if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
        pg_ctlcluster "$SC_PG_MAJOR" main stop 2>/dev/null || true
    fi
}

# PostgreSQL computes its share and lib directories relative to its binaries, so a copy of
# /usr/lib/postgresql/NN and /usr/share/postgresql/NN under one new root works as an installation.
sc_private_pgroot() {
    [ -n "${SC_PGROOT:-}" ] || return 0
    [ -x "$SC_PGROOT/usr/lib/postgresql/$SC_PG_MAJOR/bin/postgres" ] && return 0
    sc_log "creating the private PostgreSQL installation $SC_PGROOT"
    mkdir -p "$SC_PGROOT/usr/lib/postgresql" "$SC_PGROOT/usr/share/postgresql" &&
        cp -a "/usr/lib/postgresql/$SC_PG_MAJOR" "$SC_PGROOT/usr/lib/postgresql/" &&
        cp -a "/usr/share/postgresql/$SC_PG_MAJOR" "$SC_PGROOT/usr/share/postgresql/" &&
        ln -sfn /usr/include "$SC_PGROOT/usr/include" &&
        chmod 755 "$SC_PGROOT"
}

sc_build_install() {
    sc_private_pgroot || return 1
    sc_log "building and installing safe_column${SC_PGROOT:+ into $SC_PGROOT}"
    make -C "$SC_ROOT" -j"$(nproc)" -s || return 1
    # A shared library links with undefined symbols (PostgreSQL's own resolve at load time): one of
    # ours left undefined would only show when the server fails to load the library.
    local undefined
    undefined=$(nm -C -u "$SC_ROOT/safe_column.so" | grep -E ' sc::' || true)
    if [ -n "$undefined" ]; then
        echo "safe_column.so leaves symbols of its own undefined:" >&2
        echo "$undefined" >&2
        return 1
    fi
    make -C "$SC_ROOT" -s install
}

# A throw-away copy of the tree that the unprivileged postgres user can write to (initdb refuses root).
sc_scratch_copy() {
    local dir
    dir=$(mktemp -d /tmp/safe_column.XXXXXX)
    (cd "$SC_ROOT" && tar --exclude=./build --exclude=./.git -cf - .) | tar -C "$dir" -xf -
    chown -R postgres: "$dir"
    echo "$dir"
}

sc_as_postgres() { runuser -u postgres -- env PATH="$PATH" "$@"; }
