#!/usr/bin/env bash
# Builds what a DBA installs, a release build of the library with the control file, the install
# script and the upgrade scripts:
#   IT_PG=15 (default)  target/package/postgresql-15-inventory-truth_<version>_amd64.deb, at
#                       Debian's PostgreSQL 15 paths, depending on that server (apt install);
#   IT_PG=18            target/package/inventory_truth-<version>-pg18.tar.gz, lib/ and
#                       share/extension/ for a PostgreSQL 18 that is not Debian's (unpack it
#                       into its installation directory, or anywhere that
#                       extension_control_path and dynamic_library_path name).
# `make package` builds both; tests/scripts/package.sh installs the Debian package into a clean
# server and tests it. Prints the file's path.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$REPO_ROOT/scripts/setup.sh"
version=$(sed -nE 's/^version = "([^"]+)"/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)
major=$(pg_major)
if [ "$IT_PG" = 18 ]; then
    out=$REPO_ROOT/target/package
    build=$out/pg18-build
    tree=$out/inventory_truth-$version-pg18
    tarball=$tree.tar.gz
    rm -rf "$build" "$tree" "$tarball"
    say "building inventory_truth $version for PostgreSQL $major (release)"
    cargo pgrx package --pg-config "$PG_CONFIG" --manifest-path "$REPO_ROOT/Cargo.toml" \
        --no-default-features --features "pg$major" --out-dir "$build" >&2
    install -d "$tree/lib" "$tree/share/extension"
    install -m 0644 "$build$("$PG_CONFIG" --pkglibdir)/$EXT_NAME.so" "$tree/lib/"
    install -m 0644 "$build$("$PG_CONFIG" --sharedir)/extension/$EXT_NAME"* "$tree/share/extension/"
    tar -C "$tree" --owner=0 --group=0 -czf "$tarball" lib share
    rm -rf "$build" "$tree"
    echo "$tarball"
    exit 0
fi
[ "$IT_PG" = 15 ] || die "packages are built for PostgreSQL 15 (Debian) and 18 (a tarball)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: this builds a Debian package"

name=postgresql-$major-inventory-truth
out=$REPO_ROOT/target/package
root=$out/$name
deb=$out/${name}_${version}_amd64.deb
rm -rf "$root" "$deb"
mkdir -p "$root"
say "building $name $version (release)"
cargo pgrx package --pg-config "$PG_CONFIG" --manifest-path "$REPO_ROOT/Cargo.toml" \
    --out-dir "$root" >&2
# Nothing but the server's extension and library directories.
[ -f "$root$("$PG_CONFIG" --pkglibdir)/$EXT_NAME.so" ] || die "the build has no $EXT_NAME.so"
[ -f "$root$("$PG_CONFIG" --sharedir)/extension/$EXT_NAME.control" ] || die "the build has no control file"
install -d "$root/usr/share/doc/$name"
install -m 0644 "$REPO_ROOT/README.md" "$REPO_ROOT/CHANGELOG.md" "$root/usr/share/doc/$name/"
install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: amd64
Maintainer: inventory_truth developers <inventory-truth@invalid>
Depends: postgresql-$major, libc6 (>= 2.34), libgcc-s1
Section: database
Priority: optional
Installed-Size: $size
Homepage: https://github.com/inventory-truth/inventory_truth
Description: oversell-proof stock and available-to-promise for PostgreSQL $major
 inventory_truth keeps stock in stages (inbound, receiving, available, committed,
 picked, ...), validates every movement between them, gives each sales channel
 its own available-to-promise (ringfences and safety buffers), checks
 reservations at commit so that no two buyers get the same last unit, and
 notifies storefronts of every change through LISTEN/NOTIFY.
 .
 After installing: CREATE EXTENSION inventory_truth; add inventory_truth to
 shared_preload_libraries for the relay worker (see the DBA guide).
CONTROL
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
dpkg-deb --root-owner-group --build "$root" "$deb" >&2
echo "$deb"
