# PostgreSQL versions other than the machine's own (15 on Debian 12), as Debian packages them.
# Their binary packages need a newer C library than Debian 12's, so each runs in a minimal Debian root
# of its own suite (debootstrap), with the packaged server and its dev package installed there: what a
# DBA with that version installs. The roots are cached under SC_ROOTS (/var/tmp), so a second run on
# the same machine starts at once. Source it after common.sh; it defines functions and variables only.
#
#   17  trixie          postgresql-17 (Debian 13's own)
#   18  sid             postgresql-18
#   19  sid+experimental postgresql-19 (release candidate)

SC_ROOTS=${SC_ROOTS:-/var/tmp/safe_column-roots}
SC_MIRROR=${SC_MIRROR:-http://deb.debian.org/debian}

# The Debian suite whose root runs version $1; nothing for the machine's own version.
sc_root_suite() {
    case $1 in
    17) echo trixie ;;
    18 | 19) echo sid ;;
    *) return 1 ;;
    esac
}

# Creates (once) the root of suite $1: debootstrap, no service started by package scripts, no default
# cluster created by the postgresql packages, experimental known (but not preferred) in sid.
sc_ensure_root() {
    local suite=$1 root=$SC_ROOTS/$1
    [ -f "$root/.sc-ready" ] && return 0
    command -v debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
        return 1
    sc_log "creating a Debian $suite root in $root (debootstrap)"
    rm -rf "$root"
    mkdir -p "$SC_ROOTS"
    debootstrap --variant=minbase "$suite" "$root" "$SC_MIRROR" >"$SC_ROOTS/$suite.debootstrap.log" 2>&1 ||
        { echo "debootstrap $suite failed: see $SC_ROOTS/$suite.debootstrap.log" >&2; return 1; }
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
    mkdir -p "$root/etc/postgresql-common/createcluster.d"
    echo 'create_main_cluster = false' >"$root/etc/postgresql-common/createcluster.d/safe_column.conf"
    if [ "$suite" = sid ]; then
        echo "deb $SC_MIRROR experimental main" >"$root/etc/apt/sources.list.d/experimental.list"
        # experimental's Release file is not always re-signed in time; its packages are still verified.
        echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99safe-column"
    fi
    touch "$root/.sc-ready"
}

# Runs a command inside the root of suite $1, with the tree copied to /src there. Mounts /proc and /dev
# in a mount namespace of its own, and a PID namespace: when the command ends, every process it left
# (servers of a failed test) ends with it and every mount disappears. The network is the machine's.
# SC_ROOT_DAEMONS=1: no PID namespace, so that a server the command starts (the demo's) keeps running
# after it, reachable from the machine through its socket directory under the root.
sc_in_root() {
    local suite=$1 root=$SC_ROOTS/$1 pidns=(--pid --fork) src rc
    shift
    [ -n "${SC_ROOT_DAEMONS:-}" ] && pidns=(--fork)
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
    # The certificate authorities this machine trusts (an egress proxy's among them, where the network
    # has one), for npm and Node.js in the root (the migration-tool test installs from the npm registry).
    local ca=()
    if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
        mkdir -p "$root/etc/ssl" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/machine-ca.crt" &&
            ca=(NODE_EXTRA_CA_CERTS=/etc/ssl/machine-ca.crt npm_config_cafile=/etc/ssl/machine-ca.crt)
    fi
    # A copy of its own, mounted on /src for this command only: two commands in one root do not clash.
    mkdir -p "$root/src" "$root/var/tmp" && src=$(mktemp -d "$root/var/tmp/sc-src.XXXXXX") || return 1
    if git -C "$SC_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$SC_ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$src" -xf -
    else
        (cd "$SC_ROOT" && tar --exclude=./build --exclude='*.o' --exclude='*.bc' --exclude='*.so' -cf - .) |
            tar -C "$src" -xf -
    fi
    unshare --mount "${pidns[@]}" --propagation private -- bash -c '
        root=$1 src=$2; shift 2
        mount --bind "$src" "$root/src" && mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
            mount -t tmpfs tmpfs "$root/dev/shm" || exit 1
        exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            CI="${CI:-}" "$@"' sc_in_root "$root" "$src" "${ca[@]}" "$@"
    rc=$?
    rm -rf "$src"
    return $rc
}

# PostgreSQL 15 (the machine's own version, Debian 12's package) in the trixie root beside 17: the old
# server of t/030_pg_upgrade.pl's upgrade from 15 to 17. Run inside the root. Debian 12's suite is
# added to the root's sources pinned low, so that only what 17's packages lack (15 and its libraries)
# comes from it; safe_column for 15 is built on the machine and installed into the root
# (sc_root_install_old).
sc_ensure_old_server() {
    dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "install ok installed" && return 0
    local mirror
    mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
    echo "deb ${mirror:-http://deb.debian.org/debian} bookworm main" >/etc/apt/sources.list.d/bookworm.list
    printf 'Package: *\nPin: release n=bookworm\nPin-Priority: 100\n' >/etc/apt/preferences.d/bookworm
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
}

# On the machine: safe_column built for 15 (in the tree, as the machine's own run builds it) installed
# into the root of suite $1, with 15's pg_config (the TAP framework asks it for the version). Nothing
# when the root has no 15 server or the machine no 15 build tools.
sc_root_install_old() {
    local root=$SC_ROOTS/$1 pgc=/usr/lib/postgresql/15/bin/pg_config
    [ -x "$root/usr/lib/postgresql/15/bin/postgres" ] && [ -x "$pgc" ] || return 0
    make -C "$SC_ROOT" -s -j"$(nproc)" PG_CONFIG="$pgc" >/dev/null &&
        make -C "$SC_ROOT" -s install PG_CONFIG="$pgc" DESTDIR="$root" >/dev/null &&
        cp "$pgc" "$root/usr/lib/postgresql/15/bin/pg_config"
}
