#!/usr/bin/env bash
# What scripts/cluster.sh promises, checked for real:
#   - two checkouts run their clusters at the same time without touching each other;
#   - a cluster accepts connections on its private socket only, never on TCP;
#   - an unprivileged user (not just root) can create, use and destroy a cluster;
#   - asking for a cluster that is not running fails instead of reaching another server.
# Prints one line per check; exits non-zero when any check fails.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

failures=0
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "ok - $what"
    else
        echo "not ok - $what"
        failures=$((failures + 1))
    fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-helper-test.XXXXXX")
chmod 0755 "$work"
checkouts=()
cleanup() {
    local c
    for c in "${checkouts[@]}"; do "$c/scripts/cluster.sh" destroy all >/dev/null 2>&1 || true; done
    if [ -n "${other_user:-}" ]; then
        runuser -u "$other_user" -- "$work/user/scripts/cluster.sh" destroy all >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A checkout, as far as the helper is concerned, is a directory holding scripts/.
new_checkout() {
    mkdir -p "$work/$1"
    cp -r "$REPO_ROOT/scripts" "$work/$1/"
    chmod -R a+rX "$work/$1"
    checkouts+=("$work/$1")
}
sql() { local c=$1; shift; "$c/scripts/cluster.sh" psql demo -X -At -d postgres -c "$*"; }

new_checkout a
new_checkout b
a="$work/a"
b="$work/b"

"$a/scripts/cluster.sh" start demo >/dev/null 2>&1 &
"$b/scripts/cluster.sh" start demo >/dev/null 2>&1 &
wait
check "two checkouts start their clusters at the same time" sql "$a" "SELECT 1"
check "... and the second one too" sql "$b" "SELECT 1"
data_a=$(sql "$a" "SHOW data_directory" || true)
data_b=$(sql "$b" "SHOW data_directory" || true)
check "... each with a data directory of its own" test -n "$data_a" -a -n "$data_b" -a "$data_a" != "$data_b"
check "data directories are outside the checkout" test "${data_a#"$a"}" = "$data_a"
sql "$a" "CREATE TABLE only_in_a()" >/dev/null
check "what one checkout writes, the other does not see" \
    test "$(sql "$b" "SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'")" = 0

check "the cluster does not listen on TCP" test "$(sql "$a" "SHOW listen_addresses")" = ""
port=$(sql "$a" "SHOW port")
check "nothing answers on 127.0.0.1:$port" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port)"

"$a/scripts/cluster.sh" stop demo >/dev/null 2>&1
check "after stop, env refuses instead of pointing elsewhere" bash -c "! '$a/scripts/cluster.sh' env demo"
check "after stop, psql refuses instead of reaching another server" \
    bash -c "! '$a/scripts/cluster.sh' psql demo -c 'SELECT 1'"
check "the other checkout's cluster keeps running" sql "$b" "SELECT 1"
"$a/scripts/cluster.sh" start demo >/dev/null 2>&1
check "a restarted cluster keeps its data" \
    test "$(sql "$a" "SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'")" = 1

# A fast stop that cannot finish (a backend that never answers: stopped by SIGSTOP) gives way to
# an immediate one, so that a test run is never left with a cluster it cannot stop.
"$a/scripts/cluster.sh" psql demo -X -d postgres -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
sleeper=$!
stuck=
for _ in $(seq 100); do
    stuck=$(sql "$a" "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'" || true)
    [ -n "$stuck" ] && break
    sleep 0.1
done
check "a backend to stop found" test -n "$stuck"
[ -n "$stuck" ] && kill -STOP "$stuck"
check "a fast stop held up by a backend gives way to an immediate stop" \
    env IT_STOP_TIMEOUT=3 "$a/scripts/cluster.sh" stop demo
check "... and no process of the cluster is left" bash -c "! kill -0 '${stuck:-0}' 2>/dev/null"
wait "$sleeper" || true
"$a/scripts/cluster.sh" start demo >/dev/null 2>&1
check "... and it starts again with its data" \
    test "$(sql "$a" "SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'")" = 1

if [ "$(id -u)" -eq 0 ]; then
    # root: try the helper as an ordinary user too.
    other_user=inventory_truth_t
    id "$other_user" >/dev/null 2>&1 \
        || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$other_user"
    new_checkout user
    as_user() { (cd / && runuser -u "$other_user" -- "$@"); }
    as_user "$work/user/scripts/cluster.sh" start demo >/dev/null 2>&1
    check "an unprivileged user starts a cluster of their own" \
        as_user "$work/user/scripts/cluster.sh" psql demo -X -d postgres -c "SELECT 1"
    user_data=$(as_user "$work/user/scripts/cluster.sh" psql demo -X -At -d postgres \
        -c "SHOW data_directory" || true)
    check "... owned by that user" test "$(stat -c %U "$user_data")" = "$other_user"
    check "... and can destroy it" as_user "$work/user/scripts/cluster.sh" destroy demo
else
    echo "ok - (running as an unprivileged user: every check above was one)"
fi

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
