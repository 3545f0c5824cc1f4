#!/usr/bin/env bash
# Released SQL never changes: fails if an install script in sql/released/, or an upgrade script
# that leads to a released version, differs from the checksum recorded when it was released
# (sql/released/SHA256SUMS), or if a released version (a dated heading in CHANGELOG.md) has no
# recorded install script. Run by scripts/lint.sh. `scripts/check_released.sh DIR` checks the
# checkout at DIR (tests/scripts/released_lock.sh uses that).
#
# Releasing version X (see docs/development.md): date its CHANGELOG heading, copy the install
# script to sql/released/inventory_truth--X.sql, and add its line, and that of the upgrade script
# to X, to SHA256SUMS (`sha256sum FILE >> sql/released/SHA256SUMS`, run from the checkout).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
sums=sql/released/SHA256SUMS
status=0
fail() {
    echo "released SQL: $*" >&2
    status=1
}
[ -f "$sums" ] || { echo "released SQL: $sums is missing" >&2; exit 1; }
# Every recorded file is still there, unchanged.
while read -r sum file; do
    [ -n "$file" ] || continue
    if [ ! -f "$file" ]; then
        fail "$file was released and is gone"
    elif [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sum" ]; then
        fail "$file was released and has changed: a released script is never edited (write an upgrade script instead)"
    fi
done <"$sums"
# Every released version's scripts are recorded.
recorded() { grep -q "  $1\$" "$sums"; }
while read -r version; do
    recorded "sql/released/inventory_truth--$version.sql" ||
        fail "version $version is released (CHANGELOG.md) but sql/released/inventory_truth--$version.sql is not in $sums"
    for upgrade in sql/inventory_truth--*--"$version".sql; do
        [ -e "$upgrade" ] || continue
        recorded "$upgrade" || fail "$upgrade leads to released $version but is not in $sums"
    done
done < <(sed -nE 's/^## \[([0-9]+\.[0-9]+\.[0-9]+)\] - [0-9]{4}-[0-9]{2}-[0-9]{2}.*/\1/p' CHANGELOG.md)
exit "$status"
