#!/usr/bin/env bash
# The Debian package as a DBA gets it (issue 21): built by scripts/package.sh, installed with
# apt into the machine's PostgreSQL 15 (the development build removed first, so that only the
# package's files are there), then on a fresh scratch cluster: CREATE EXTENSION and the whole
# pg_regress suite against the package's release build; then apt removes it, and nothing of it
# may be left. Needs root (apt). `scripts/test.sh` does not run it; .ci/run does, after the tests.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

[ "$IT_PG" = 15 ] || die "the package is for Debian's PostgreSQL 15"
hold_install_lock
deb=$("$REPO_ROOT/scripts/package.sh")
name=$(dpkg-deb -f "$deb" Package)
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }

ext_dir="$("$PG_CONFIG" --sharedir)/extension"
lib_dir=$("$PG_CONFIG" --pkglibdir)
leftovers() { ls "$lib_dir/$EXT_NAME.so" "$ext_dir/$EXT_NAME".* "$ext_dir/$EXT_NAME"--*.sql 2>/dev/null || true; }

# A clean server: no build of ours but the package's.
unlink_installed_library
as_root rm -f "$ext_dir/$EXT_NAME.control" "$ext_dir/$EXT_NAME"--*.sql
if as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >/dev/null; then
    ok "apt installs $(basename "$deb")"
else
    not_ok "apt install $deb"
fi
if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed"; then
    ok "dpkg knows $name $(dpkg-query -W -f='${Version}' "$name") and depends on $(dpkg-query -W -f='${Depends}' "$name")"
else
    not_ok "$name is not installed"
fi
if [ "$(leftovers | wc -l)" -ge 3 ]; then
    ok "the library, control file and scripts are in the server's directories"
else
    not_ok "files missing after install: $(leftovers)"
fi

cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
cluster destroy package >/dev/null 2>&1
if cluster start package >/dev/null 2>&1; then
    eval "$(cluster env package)"
    PGBIN=$(pg_bindir)
    if "$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE it_package" \
        && "$PGBIN/psql" -X -q -d it_package -c "CREATE EXTENSION inventory_truth"; then
        ok "CREATE EXTENSION on a fresh cluster: version $("$PGBIN/psql" -X -At -d it_package \
            -c "SELECT extversion FROM pg_extension WHERE extname = 'inventory_truth'")"
    else
        not_ok "CREATE EXTENSION"
    fi
    out=$IT_SCRATCH_DIR/package-regress-output
    rm -rf "$out" && mkdir -p "$out"
    tests=()
    for f in "$REPO_ROOT"/tests/pg_regress/sql/*.sql; do tests+=("$(basename "${f%.sql}")"); done
    "$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE it_package_regress"
    if "$(pgxs_test_dir)/regress/pg_regress" --use-existing --bindir="$PGBIN" --host="$PGHOST" \
        --port="$PGPORT" --user=postgres --dbname=it_package_regress \
        --inputdir="$REPO_ROOT/tests/pg_regress" --outputdir="$out" \
        "${tests[@]}" >"$out/summary" 2>&1; then
        ok "the pg_regress suite passes against the package ($(grep -cE '^ok |\.\.\. ok' "$out/summary") of ${#tests[@]} tests)"
    else
        not_ok "pg_regress against the package: $(grep -cE '^not ok|\.\.\. FAILED' "$out/summary") failed (output in $out)"
        head -n 100 "$out/regression.diffs" 2>/dev/null || true
    fi
    cluster destroy package >/dev/null 2>&1
else
    not_ok "a scratch cluster did not start"
fi

if as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y --purge "$name" >/dev/null; then
    ok "apt removes $name"
else
    not_ok "apt remove $name"
fi
if [ -z "$(leftovers)" ] && ! dpkg-query -W "$name" >/dev/null 2>&1; then
    ok "nothing of it is left"
else
    not_ok "left after removal: $(leftovers) $(dpkg-query -W -f='${Status}' "$name" 2>/dev/null)"
fi
[ "$failures" -eq 0 ]
