#!/usr/bin/env bash
# Scratch PostgreSQL clusters for the demo, the tests and the benchmarks.
#
#   cluster.sh install                 build the extension and install it into $PG_CONFIG's server
#   cluster.sh start   [NAME]          create (first time) and start cluster NAME (default: demo);
#                                      IT_PRELOAD=1 preloads the extension (the relay runs)
#   cluster.sh standby NAME PRIMARY    create (first time, pg_basebackup of running cluster
#                                      PRIMARY) and start NAME as its hot standby, streaming
#   cluster.sh stop    [NAME|all]      stop one cluster, or every cluster of this checkout
#   cluster.sh destroy NAME|all        stop it and delete its data
#   cluster.sh status                  list this checkout's clusters
#   cluster.sh env     [NAME]          print PGHOST/PGPORT/PGUSER exports: eval "$(cluster.sh env demo)"
#   cluster.sh dsn     [NAME]          print a libpq connection string for clients (tokio-postgres, ...)
#   cluster.sh psql    [NAME] [ARGS]   open psql on it
#   cluster.sh crash   NAME [PID]      fault tests: SIGKILL its postmaster (and wait until all its
#                                      processes are gone), or PID, one of its server processes
#
# Each cluster lives in $IT_SCRATCH_DIR/NAME (outside the git tree) and is owned and run by
# $IT_RUNAS. It accepts connections only on a Unix socket in its own private directory (no TCP):
# only its owner and root can connect, and clusters of different checkouts never collide. The
# port number only names the socket.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

PGBIN=$(pg_bindir)

cluster_dir() { echo "$IT_SCRATCH_DIR/$1"; }
cluster_names() {
    local d
    for d in "$IT_SCRATCH_DIR"/*/data; do
        [ -d "$d" ] && basename "$(dirname "$d")"
    done
    return 0
}
is_running() {
    [ -d "$(cluster_dir "$1")/data" ] \
        && as_owner "$PGBIN/pg_ctl" status -D "$(cluster_dir "$1")/data" >/dev/null 2>&1
}
# Stable per checkout, so a user sees the same number every time.
cluster_port() { echo $((54320 + 0x${checkout_key:0:4} % 2000)); }

# A value for postgresql.conf, single-quoted.
conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

cmd_install() {
    local major; major=$(pg_major)
    local features=()
    [ "$major" = 15 ] || features=(--no-default-features --features "pg$major")
    if loads_from_checkout; then
        # PostgreSQL 18: the build goes into this checkout's scratch area, and its clusters
        # find it there (extension_control_path, dynamic_library_path): nothing is installed
        # into a PostgreSQL's own directories.
        say "building $EXT_NAME for $("$PG_CONFIG" --version) into $(checkout_build_dir)"
        ensure_scratch_dir
        local args=(pgrx package --pg-config "$PG_CONFIG" --manifest-path "$REPO_ROOT/Cargo.toml"
            --out-dir "$(checkout_build_dir)" "${features[@]}")
        [ "${IT_PROFILE:-debug}" = release ] || args+=(--debug)
        rm -rf "$(checkout_build_dir)"
        cargo "${args[@]}"
        # Readable by the clusters' owner.
        chmod -R a+rX "$(checkout_build_dir)"
        return
    fi
    say "building and installing $EXT_NAME into $("$PG_CONFIG" --version)"
    local args=(pgrx install --pg-config "$PG_CONFIG" --manifest-path "$REPO_ROOT/Cargo.toml" "${features[@]}")
    [ "${IT_PROFILE:-debug}" = release ] && args+=(--release)
    [ "$(id -u)" -eq 0 ] || args+=(--sudo)
    unlink_installed_library
    cargo "${args[@]}"
}

cmd_start() {
    local name=${1:-demo}
    local dir; dir=$(cluster_dir "$name")
    if is_running "$name"; then
        say "cluster '$name' already running (socket in $dir/run)"
        return 0
    fi
    ensure_scratch_dir
    as_owner mkdir -p "$dir/run" "$dir/log"
    as_owner chmod 0700 "$dir/run"
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        say "creating cluster '$name' in $dir/data"
        as_owner rm -rf "$dir/data"
        as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$dir/log/initdb.log" 2>&1 \
            || { cat "$dir/log/initdb.log" >&2; die "initdb failed"; }
        printf "\n# inventory_truth scratch cluster: written by scripts/cluster.sh at every start\ninclude_if_exists = 'scratch.conf'\n" \
            | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    # Rewritten at every start, so a cluster made by an older script gets today's settings.
    as_owner tee "$dir/data/scratch.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = $(conf_quote "$dir/run")
port = $(cluster_port)
max_connections = 200
log_line_prefix = '%m [%p] %q%u@%d '
# One relay per database with the extension: the tests make many databases.
max_worker_processes = 32
# Two-phase commit, which the relay's tests use (PostgreSQL's default, 0, refuses PREPARE).
max_prepared_transactions = 10
CONF
    if loads_from_checkout; then
        # The extension comes from this checkout's build (cmd_install), before the server's own.
        printf 'extension_control_path = %s\ndynamic_library_path = %s\n' \
            "$(conf_quote "$(checkout_share_dir):\$system")" "$(conf_quote "$(checkout_lib_dir):\$libdir")" \
            | as_owner tee -a "$dir/data/scratch.conf" >/dev/null
    fi
    # IT_PRELOAD=1: preload the extension, so the relay runs (notification mode auto = relay).
    # IT_EXTRA_PRELOAD adds libraries to it (the benchmark's profile adds pg_stat_statements).
    if [ "${IT_PRELOAD:-0}" = 1 ]; then
        echo "shared_preload_libraries = '$EXT_NAME${IT_EXTRA_PRELOAD:+,$IT_EXTRA_PRELOAD}'" \
            | as_owner tee -a "$dir/data/scratch.conf" >/dev/null
    fi
    local log="$dir/log/postgresql.log"
    # 9<&-: the server must not inherit the install lock a calling script may hold. Nor
    # RUST_BACKTRACE: with it, pgrx adds a Rust backtrace to the DETAIL of errors that pass
    # through the extension (docs/dba-guide.md §2).
    if ! as_owner env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PGBIN/pg_ctl" start -w -t 60 \
        -D "$dir/data" -l "$log" >/dev/null 2>&1 9<&-; then
        tail -n 20 "$log" >&2
        die "cluster '$name' did not start (log: $log)"
    fi
    say "cluster '$name' running (socket in $dir/run, port $(cluster_port))"
}

# A hot standby of a running scratch cluster: a base backup streamed over the primary's socket
# (initdb's local replication entry trusts it), with -R writing primary_conninfo and
# standby.signal; cmd_start then gives it its own socket and starts it. It follows the primary
# until destroyed; stopping the primary leaves it waiting to reconnect.
cmd_standby() {
    local name=${1:-} primary=${2:-}
    { [ -n "$name" ] && [ -n "$primary" ]; } || die "usage: cluster.sh standby NAME PRIMARY"
    [ "$name" != "$primary" ] || die "a cluster cannot be its own standby"
    is_running "$primary" || die "cluster '$primary' is not running"
    local dir; dir=$(cluster_dir "$name")
    if is_running "$name"; then
        say "cluster '$name' already running (socket in $dir/run)"
        return 0
    fi
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        ensure_scratch_dir
        as_owner mkdir -p "$dir/run" "$dir/log"
        as_owner chmod 0700 "$dir/run"
        as_owner rm -rf "$dir/data"
        say "creating cluster '$name' as a standby of '$primary'"
        as_owner "$PGBIN/pg_basebackup" -D "$dir/data" -h "$(cluster_dir "$primary")/run" \
            -p "$(cluster_port)" -U postgres -X stream -R -c fast >"$dir/log/basebackup.log" 2>&1 \
            || { cat "$dir/log/basebackup.log" >&2; die "pg_basebackup of '$primary' failed"; }
    fi
    IT_PRELOAD=0 cmd_start "$name"
}

cmd_stop() {
    local name=${1:-all}
    local names=("$name")
    [ "$name" = all ] && mapfile -t names < <(cluster_names)
    local n
    for n in "${names[@]}"; do
        if is_running "$n"; then
            # A scratch cluster loses nothing it must keep by an immediate stop (the next start
            # recovers from WAL). Seen on the PostgreSQL 18 build: a fast stop that arrives during
            # crash recovery (a fault test that failed right after its kill -9) never finishes.
            if ! as_owner "$PGBIN/pg_ctl" stop -w -t "${IT_STOP_TIMEOUT:-60}" -m fast \
                -D "$(cluster_dir "$n")/data" >/dev/null 2>&1; then
                say "cluster '$n' did not stop in ${IT_STOP_TIMEOUT:-60} s (fast): stopping it immediately"
                as_owner "$PGBIN/pg_ctl" stop -w -m immediate -D "$(cluster_dir "$n")/data" >/dev/null
            fi
            say "cluster '$n' stopped"
        fi
    done
}

cmd_destroy() {
    local name=${1:-}
    [ -n "$name" ] || die "usage: cluster.sh destroy NAME|all"
    local names=("$name")
    [ "$name" = all ] && mapfile -t names < <(cluster_names)
    local n
    for n in "${names[@]}"; do
        cmd_stop "$n"
        as_owner rm -rf "$(cluster_dir "$n")"
    done
}

cmd_status() {
    local n
    for n in $(cluster_names); do
        if is_running "$n"; then
            echo "$n: running, socket in $(cluster_dir "$n")/run, port $(cluster_port)"
        else
            echo "$n: stopped"
        fi
    done
}

cmd_env() {
    local name=${1:-demo}
    is_running "$name" || die "cluster '$name' is not running (make demo, or scripts/cluster.sh start $name)"
    local host; host="$(cluster_dir "$name")/run"
    printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres\n' "$host" "$(cluster_port)"
}

# The connection string the real-client tests read (libpq key=value syntax).
cmd_dsn() {
    local name=${1:-demo}
    is_running "$name" || die "cluster '$name' is not running"
    local host; host="$(cluster_dir "$name")/run"
    printf "host='%s' port=%s user=postgres\n" "${host//\'/\\\'}" "$(cluster_port)"
}

cmd_psql() {
    local name=demo
    if [ $# -gt 0 ] && [[ $1 != -* ]]; then
        name=$1
        shift
    fi
    local exports; exports=$(cmd_env "$name") || exit 1
    eval "$exports"
    exec "$PGBIN/psql" "$@"
}

# SIGKILL, as a power cut or the OOM killer would. Without PID: the postmaster; its children
# notice and exit, and the next start recovers from the WAL (it cannot start while they still
# hold the shared memory, so this waits for them). With PID: one server process; the postmaster
# then resets every process of the cluster and recovers by itself.
cmd_crash() {
    local name=${1:-} pid=${2:-}
    [ -n "$name" ] || die "usage: cluster.sh crash NAME [PID]"
    is_running "$name" || die "cluster '$name' is not running"
    local postmaster children
    postmaster=$(as_owner head -n 1 "$(cluster_dir "$name")/data/postmaster.pid")
    if [ -n "$pid" ]; then
        [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = "$postmaster" ] \
            || die "process $pid is not a server process of cluster '$name'"
        as_owner kill -KILL "$pid"
        say "killed process $pid of cluster '$name'"
        return 0
    fi
        children=$(pgrep -P "$postmaster" || true)
    # The SysV segment that keeps a second postmaster out (postmaster.pid, line 7: key, id):
    # the next start waits for every process still attached, forked before the kill or not.
    local shmid
    shmid=$(as_owner sed -n 7p "$(cluster_dir "$name")/data/postmaster.pid" | awk '{print $2}')
    as_owner kill -KILL "$postmaster"
    local p waited=0
    for p in $postmaster $children; do
        while [ -d "/proc/$p" ]; do
            [ "$waited" -lt 600 ] || die "process $p of cluster '$name' outlived its postmaster by 60 s"
            sleep 0.1
            waited=$((waited + 1))
        done
    done
        waited=0
    while [ -n "$shmid" ] && [ "$(ipcs -m | awk -v id="$shmid" '$2 == id {print $6}')" ] \
        && [ "$(ipcs -m | awk -v id="$shmid" '$2 == id {print $6}')" != 0 ]; do
        [ "$waited" -lt 600 ] || die "processes of cluster '$name' still hold its shared memory after 60 s"
        sleep 0.1
        waited=$((waited + 1))
    done
    say "killed the postmaster of cluster '$name'; its processes are gone"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start "${2:-}" ;;
    standby) cmd_standby "${2:-}" "${3:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    destroy) cmd_destroy "${2:-}" ;;
    status) cmd_status ;;
    env) cmd_env "${2:-}" ;;
    dsn) cmd_dsn "${2:-}" ;;
    psql) shift; cmd_psql "$@" ;;
    crash) cmd_crash "${2:-}" "${3:-}" ;;
    *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
