#!/usr/bin/env bash
# Scratch PostgreSQL clusters for the demo, the tests and the benchmarks.
#
#   cluster.sh install                 build the extension and install it into $PG_CONFIG's server
#   cluster.sh start   [NAME]          create (first time) and start cluster NAME (default: demo)
#   cluster.sh stop    [NAME|all]      stop one cluster, or every cluster of this checkout
#   cluster.sh destroy [NAME]          stop it and delete its data
#   cluster.sh status                  list this checkout's clusters
#   cluster.sh env     [NAME]          print PGHOST/PGPORT/PGUSER exports and a connection string
#   cluster.sh psql    [NAME] [ARGS]   open psql on it
#
# Each cluster lives in $IT_SCRATCH_DIR/NAME (outside the git tree) and is owned and run by
# $IT_RUNAS; it listens on a free TCP port on 127.0.0.1 and on a socket in its own directory,
# so two checkouts, or two clusters of one checkout, never collide.
. "$(dirname "$0")/common.sh"

PGBIN=$(pg_bindir)

cluster_dir() { echo "$IT_SCRATCH_DIR/$1"; }
cluster_port() { cat "$(cluster_dir "$1")/port" 2>/dev/null; }
is_running() { [ -d "$(cluster_dir "$1")/data" ] && as_owner "$PGBIN/pg_ctl" status -D "$(cluster_dir "$1")/data" >/dev/null 2>&1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_install() {
    say "building and installing $EXT_NAME into $("$PG_CONFIG" --version)"
    local args=(pgrx install --pg-config "$PG_CONFIG" --manifest-path "$REPO_ROOT/Cargo.toml")
    [ "${IT_PROFILE:-debug}" = release ] && args+=(--release)
    [ "$(id -u)" -eq 0 ] || args+=(--sudo)
    cargo "${args[@]}"
}

cmd_start() {
    local name=${1:-demo}
    local dir; dir=$(cluster_dir "$name")
    if is_running "$name"; then
        say "cluster '$name' already running on port $(cluster_port "$name")"
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
        as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<'CONF'

# --- inventory_truth scratch cluster ---
listen_addresses = '127.0.0.1'
max_connections = 200
log_line_prefix = '%m [%p] %q%u@%d '
CONF
    fi

    # Try the recorded port first, then ports derived from the checkout, until one binds:
    # another cluster may take a port between our check and our start.
    local port; port=$(cluster_port "$name" || true)
    local candidate=$((54320 + 0x${checkout_key:0:4} % 2000))
    local attempt
    for attempt in $(seq 1 30); do
        if [ -z "$port" ] || port_in_use "$port"; then
            while port_in_use "$candidate"; do candidate=$((candidate + 1)); done
            port=$candidate
            candidate=$((candidate + 1))
        fi
        local log="$dir/log/postgresql.log"
        local log_size; log_size=$(stat -c %s "$log" 2>/dev/null || echo 0)
        if as_owner "$PGBIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$log" \
            -o "-p $port -k $dir/run" >/dev/null 2>&1; then
            echo "$port" | as_owner tee "$dir/port" >/dev/null
            say "cluster '$name' running on port $port (socket in $dir/run)"
            return 0
        fi
        # Only a port taken under our feet is worth another try; show anything else.
        if ! tail -c +"$((log_size + 1))" "$log" | grep -q "could not bind\|Address already in use"; then
            tail -c +"$((log_size + 1))" "$log" | tail -n 20 >&2
            die "cluster '$name' did not start (log: $log)"
        fi
        port=""
    done
    die "no free port found for cluster '$name'"
}

cmd_stop() {
    local name=${1:-all}
    local names=("$name")
    if [ "$name" = all ]; then
        names=()
        local d
        for d in "$IT_SCRATCH_DIR"/*/data; do
            [ -d "$d" ] && names+=("$(basename "$(dirname "$d")")")
        done
    fi
    local n
    for n in "${names[@]}"; do
        if is_running "$n"; then
            as_owner "$PGBIN/pg_ctl" stop -w -m fast -D "$(cluster_dir "$n")/data" >/dev/null
            say "cluster '$n' stopped"
        fi
    done
}

cmd_destroy() {
    local name=${1:?cluster name}
    cmd_stop "$name"
    as_owner rm -rf "$(cluster_dir "$name")"
}

cmd_status() {
    local d n
    for d in "$IT_SCRATCH_DIR"/*/data; do
        [ -d "$d" ] || continue
        n=$(basename "$(dirname "$d")")
        if is_running "$n"; then
            echo "$n: running on port $(cluster_port "$n"), socket in $(cluster_dir "$n")/run"
        else
            echo "$n: stopped"
        fi
    done
}

cmd_env() {
    local name=${1:-demo}
    is_running "$name" || die "cluster '$name' is not running (make demo, or scripts/cluster.sh start $name)"
    local host; host="$(cluster_dir "$name")/run"
    local port; port=$(cluster_port "$name")
    echo "export PGHOST=$host PGPORT=$port PGUSER=postgres"
    echo "export INVENTORY_TRUTH_TEST_DSN='host=$host port=$port user=postgres'"
}

cmd_psql() {
    local name=${1:-demo}
    shift || true
    eval "$(cmd_env "$name")"
    exec "$PGBIN/psql" "$@"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start "${2:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    destroy) cmd_destroy "${2:-}" ;;
    status) cmd_status ;;
    env) cmd_env "${2:-}" ;;
    psql) shift; cmd_psql "$@" ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
