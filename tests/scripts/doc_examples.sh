#!/usr/bin/env bash
# Every example in the docs runs as written. Extracts the fenced code blocks of README.md and
# docs/*.md and runs them against a running cluster with the extension installed (PGHOST,
# PGPORT, PGUSER of a superuser, like tests/scripts/dump_restore.sh).
#
# The conventions a doc follows (one fresh database per file, with the extension created):
#   ```sql      runs, in document order, in ONE psql session per file (psql -X, ON_ERROR_STOP,
#               as the superuser), so a block may use what an earlier block of the file made;
#               psql meta-commands and variables (:"DBNAME") work.
#   ```python   a complete program following live ATP (storefront snippets); run when
#   ```js       python3 can import psycopg (DOC_TEST_PYTHON picks another interpreter) and
#               node can require pg (NODE_PATH is honoured), else reported as skip (as a
#               failure with DOC_TEST_REQUIRE_ALL=1, which scripts/test.sh sets). It is
#               started as `PROGRAM "" doctest` (empty connection string: libpq's PG*
#               environment, database included; channel doctest) and must read
#               atp_snapshot(), print every ATP it takes as a line naming the SKU and the
#               value, and survive its connection being terminated: the harness changes a
#               SKU's ATP, kills the program's backend, changes it while it is away, then
#               once more after it has resynced.
#   ```sh       not run, unless marked <!-- doc-test: run -->: then run by bash -e, in its place
#               in the session (psql's \!), in an empty scratch directory, with PGDATABASE set
#               to the file's database and the server's binaries first on the PATH.
#   ```rust     must be marked skip, naming the complete program that cargo builds (cargo test
#               compiles client/examples); an unmarked one fails.
#   other languages (json, text, ...) are data, not programs: reported as skip. So is every
#               sh block not marked run.
# Inside sql blocks, a one-line SELECT of one value may end with `-- => VALUE: why`: the test
# checks the query returns VALUE (see check_claims).
# A comment on the line before a block (blank lines between are fine) changes that:
#   <!-- doc-test: error SQLSTATE -->    the block must fail, and the last error it raises
#                                        must carry SQLSTATE; it must not leave the session
#                                        in a failed transaction.
#   <!-- doc-test: skip because REASON --> not run (needs other infrastructure, changes the
#                                        cluster, ...); reported as skip with the reason.
#   <!-- doc-test: run -->               run a sh block.
#
# After a failed sql block, a new session carries on with the next block, so one mistake
# does not hide the others. Roles the blocks of a file create (CREATE ROLE / CREATE USER)
# are dropped before and after that file: run this against a scratch cluster only.
# Prints one line per block (ok / not ok / skip) and a summary; exits non-zero when any
# block failed. `doc_examples.sh FILE...` checks only the named files. The output of each
# session stays in a scratch directory after a failure (always with DOC_TEST_KEEP=1).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

: "${PGHOST:?export a running cluster first: eval \"\$(scripts/cluster.sh env NAME)\"}"
PGBIN=$(pg_bindir)
unset PGDATABASE PGAPPNAME PGOPTIONS
psql_q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

passed=0
failed=0
skipped=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
skip() { echo "skip - $1"; skipped=$((skipped + 1)); }

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-docs.XXXXXX")
chmod 0755 "$work"
listener_pid=
cleanup() {
    if [ -n "$listener_pid" ]; then kill "$listener_pid" 2>/dev/null || true; fi
    if [ "$failed" -eq 0 ] && [ "${DOC_TEST_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    else
        echo "# logs kept in $work" >&2
    fi
}
trap cleanup EXIT

# Splits a markdown file into its fenced code blocks: $2/NNN.LANG, and $2/manifest with one
# line per block: number, line of the opening fence, language, directive ("-" for none).
extract_blocks() {
    mkdir -p "$2"
    awk -v dir="$2" '
        BEGIN { n = 0; inblock = 0; pending = "-"; manifest = dir "/manifest"; printf "" > manifest }
        {
            line = $0
            if (!inblock) {
                if (match(line, /^[ \t]*```/)) {
                    indent = RLENGTH - 3
                    lang = substr(line, RSTART + RLENGTH)
                    sub(/^[ \t]+/, "", lang)
                    sub(/[ \t{].*$/, "", lang)
                    gsub(/[^A-Za-z0-9_+-]/, "", lang)
                    if (lang == "") lang = "none"
                    n++
                    file = sprintf("%s/%03d.%s", dir, n, lang)
                    printf "%d\t%d\t%s\t%s\n", n, NR, lang, pending > manifest
                    printf "" > file
                    inblock = 1
                    pending = "-"
                    next
                }
                if (match(line, /<!--[ \t]*doc-test:[^>]*-->/)) {
                    d = substr(line, RSTART, RLENGTH)
                    sub(/^<!--[ \t]*doc-test:[ \t]*/, "", d)
                    sub(/[ \t]*-->$/, "", d)
                    gsub(/\t/, " ", d)
                    pending = (d == "" ? "-" : d)
                    next
                }
                if (line ~ /[^ \t]/) pending = "-"
            } else {
                if (line ~ /^[ \t]*```[ \t]*$/) { inblock = 0; close(file); next }
                if (indent > 0 && substr(line, 1, indent) ~ /^[ \t]*$/) line = substr(line, indent + 1)
                print line > file
            }
        }
        END { if (inblock) { print "unterminated code block at the end of the file" > "/dev/stderr"; exit 1 } }
    ' "$1"
}

# A one-line SELECT of one value whose comment says what it returns, `SELECT ...;  -- => 7: why`,
# is checked: the value (up to a colon) must be what the query returns, as text. The query runs
# once, as written; a difference is reported as "claim N expected X, got Y".
check_claims() {
    local f n
    for f in "$1"/*.sql; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .sql)
        n=$((10#$n))
        perl -pi -e '
            if (/^(\s*)SELECT\s+(.*?);\s*--\s*=>\s*([^:\n]*?)\s*(?::.*)?$/) {
                my ($indent, $query, $value) = ($1, $2, $3);
                (my $quoted = $value) =~ s/\x27/\x27\x27/g;
                $_ = "${indent}SELECT doc_test_v::text = \x27$quoted\x27 AS doc_test_ok, doc_test_v::text AS doc_test_got"
                   . " FROM (SELECT $query) AS doc_test_t(doc_test_v) \\gset\n"
                   . "\\if :doc_test_ok\n\\else\n"
                   . "\\echo \@\@doc-test claim '"$n"' expected \x27$quoted\x27, got :\x27doc_test_got\x27\n"
                   . "\\endif\n";
            }' "$f"
    done
}

# The error lines psql printed for one block file (psql -f prefixes them with file:line).
errors_of() {
    grep -F "$1:" "$2" | grep -E 'ERROR|FATAL|error' | tail -n 3 | sed 's/^/#   /' || true
}

is_sh() { case $1 in sh | bash | shell) return 0 ;; esac; return 1; }

# Runs the sql blocks of one file, and its sh blocks marked run (through psql's \!, so in
# document order), in one psql session, restarting after a failed block.
run_sql_blocks() {
    local rel=$1 db=$2 dir=$3
    local -a sqls=()
    local k
    for k in "${!nums[@]}"; do
        if [ "${langs[k]}" = sql ] || { is_sh "${langs[k]}" && [ "${directives[k]}" = run ]; }; then
            sqls+=("$k")
        fi
    done
    local start=0 round=0
    while [ "$start" -lt "${#sqls[@]}" ]; do
        round=$((round + 1))
        local script=$dir/session-$round.psql out=$dir/session-$round.out err=$dir/session-$round.err
        local i directive block
        {
            echo '\set VERBOSITY verbose'
            echo '\set SHOW_CONTEXT never'
            for ((i = start; i < ${#sqls[@]}; i++)); do
                k=${sqls[i]}
                directive=${directives[k]}
                block=$(printf '%s/%03d.%s' "$dir" "${nums[k]}" "${langs[k]}")
                case $directive in
                    skip*) continue ;;
                esac
                printf '\\echo @@doc-test begin %s\n' "${nums[k]}"
                case $directive in
                    run)
                        # A directory of its own; the PostgreSQL binaries first on the PATH.
                        mkdir -p "$block.wd"
                        printf 'cd %q && PGDATABASE=%q PATH=%q timeout 300 bash -e %q >%q 2>&1; echo $? >%q\n' \
                            "$block.wd" "$db" "$PGBIN:$PATH" "$block" "$block.log" "$block.status" >"$block.run"
                        echo "\\! bash '$block.run'"
                        ;;
                    error\ *)
                        echo '\set ON_ERROR_STOP 0'
                        echo '\set LAST_ERROR_SQLSTATE 00000'
                        echo "\\i $block"
                        echo '\set ON_ERROR_STOP 1'
                        printf '\\echo @@doc-test sqlstate %s :LAST_ERROR_SQLSTATE\n' "${nums[k]}"
                        # Fails (and stops the session) if the block left a failed transaction.
                        echo 'SELECT 1 AS doc_test_session_usable \gset'
                        ;;
                    *) echo "\\i $block" ;;
                esac
                printf '\\echo @@doc-test end %s\n' "${nums[k]}"
            done
        } >"$script"
        timeout 600 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$script" >"$out" 2>"$err" || true
        local restart=
        for ((i = start; i < ${#sqls[@]}; i++)); do
            k=${sqls[i]}
            directive=${directives[k]}
            block=$(printf '%s/%03d.%s' "$dir" "${nums[k]}" "${langs[k]}")
            local label="$rel block ${nums[k]} (${langs[k]}, line ${lines[k]})"
            case $directive in
                skip*)
                    skip "$label: ${directive#skip }"
                    continue
                    ;;
                -|run|error\ *) ;;
                *)
                    not_ok "$label: unknown directive '$directive'"
                    continue
                    ;;
            esac
                        if grep -q "^@@doc-test claim ${nums[k]} " "$out"; then
                not_ok "$label: $(sed -n "s/^@@doc-test claim ${nums[k]} //p" "$out" | head -n 3 | tr '\n' ';')"
            elif grep -qx "@@doc-test end ${nums[k]}" "$out"; then
                if [ "$directive" = - ]; then
                    ok "$label"
                elif [ "$directive" = run ]; then
                    if [ "$(cat "$block.status" 2>/dev/null)" = 0 ]; then
                        ok "$label"
                    else
                        not_ok "$label: exited with status $(cat "$block.status" 2>/dev/null || echo '?')"
                        tail -n 5 "$block.log" | sed 's/^/#   /'
                    fi
                else
                    local wanted=${directive#error } got
                    wanted=${wanted%% *}
                    got=$(sed -n "s/^@@doc-test sqlstate ${nums[k]} //p" "$out")
                    if [ "$got" = "$wanted" ]; then
                        ok "$label: fails with $wanted as documented"
                    elif [ "$got" = 00000 ]; then
                        not_ok "$label: should fail with $wanted but raised no error"
                    else
                        not_ok "$label: should fail with $wanted but failed with $got"
                        errors_of "$block" "$err"
                    fi
                fi
            elif grep -qx "@@doc-test begin ${nums[k]}" "$out"; then
                if grep -q "^@@doc-test sqlstate ${nums[k]} " "$out"; then
                    not_ok "$label: left the session in a failed transaction"
                else
                    not_ok "$label"
                fi
                errors_of "$block" "$err"
                restart=$((i + 1))
                break
            else
                not_ok "$label: the session ended before this block"
                sed 's/^/#   /' "$err" | tail -n 3
                restart=$((i + 1))
                break
            fi
        done
        [ -n "$restart" ] || break
        start=$restart
    done
}

python_cmd=${DOC_TEST_PYTHON:-python3}
have_python() { command -v "$python_cmd" >/dev/null && "$python_cmd" -c 'import psycopg' 2>/dev/null; }
have_node() { command -v node >/dev/null && (cd "$work" && node -e 'require.resolve("pg")') 2>/dev/null; }

# Polls (up to $1 seconds) until command $2... succeeds.
wait_until() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
listener_resynced() {
    [ "$(psql_q -At -d "$1" -c "SELECT count(*) FROM pg_stat_activity
        WHERE application_name = 'doc-test-listener' AND datname = current_database()
          AND state = 'idle' AND query ILIKE '%atp_snapshot%'")" -ge 1 ]
}
printed() { # log, sku, atp, at least this many lines
    [ "$(grep -Fw -- "$2" "$1" | grep -cEw -- "$3")" -ge "$4" ]
}

# Runs a storefront program (python or js) against the file's database: follows a change, a
# dropped connection with a change while away, and a change after it came back. Each program
# gets a SKU of its own (DOC-TEST-<block>), created by the harness.
run_listener() {
    local label=$1 db=$2 file=$3 block=$4
    shift 4
    local log=$file.log sku=DOC-TEST-$block ref=DOC-TEST-$block problem=
    harness() { psql_q -d "$db" "$@" >>"$file.harness" 2>&1; }
    if ! harness -c "SELECT inventory_truth.add_location('DOC-TEST')" \
        -c "SELECT inventory_truth.add_channel('doctest', kind => 'other')"; then
        not_ok "$label: the harness could not set up its channel"
        tail -n 3 "$file.harness" | sed 's/^/#   /'
        return
    fi
    PGDATABASE=$db PGAPPNAME=doc-test-listener "$@" "$file" "" doctest >"$log" 2>&1 &
    listener_pid=$!
    if ! wait_until 20 listener_resynced "$db"; then
        problem="it never read atp_snapshot() (or is not idle after it)"
    elif ! harness -c "SELECT count(*) FROM inventory_truth.receive('$sku', 'DOC-TEST', 5)" \
        -c "SELECT count(*) FROM inventory_truth.put_away('$sku', 'DOC-TEST', 5)"; then
        problem="the harness could not put $sku away"
    elif ! wait_until 15 printed "$log" "$sku" 5 1; then
        problem="it did not print $sku at 5 after a put-away"
    elif ! harness -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = 'doc-test-listener' AND datname = current_database()" \
        -c "SELECT inventory_truth.reserve('doctest', '$sku', 2, '$ref')"; then
        problem="the harness could not drop its connection and reserve"
    elif ! wait_until 30 printed "$log" "$sku" 3 1; then
        problem="after its connection was terminated, it did not print $sku at 3 (changed while it was away)"
    elif ! wait_until 20 listener_resynced "$db"; then
        problem="it did not come back to listen after its connection was terminated"
    elif ! harness -c "SELECT inventory_truth.release('doctest', '$ref')"; then
        problem="the harness could not release its hold"
    elif ! wait_until 15 printed "$log" "$sku" 5 2; then
        problem="after it reconnected, it did not print $sku back at 5 after a release"
    fi
    kill "$listener_pid" 2>/dev/null || true
    wait "$listener_pid" 2>/dev/null || true
    listener_pid=
    if [ -z "$problem" ]; then
        ok "$label: followed a change, a dropped connection and a resync"
    else
        not_ok "$label: $problem"
        tail -n 5 "$log" | sed 's/^/#   /'
        if [ -f "$file.harness" ]; then grep -E 'ERROR' "$file.harness" | tail -n 2 | sed 's/^/#   /' || true; fi
    fi
}

# Roles the sql blocks of a file create: dropped before and after the file.
roles_of() {
    cat "$1"/*.sql 2>/dev/null | grep -oiE 'create +(role|user) +"?[a-z_][a-z0-9_$]*' \
        | awk '{ gsub(/"/, "", $3); print tolower($3) }' | sort -u || true
}
drop_roles() {
    local role
    for role in "$@"; do
        PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
            -c "DROP ROLE IF EXISTS \"$role\"" || return 1
    done
}

run_file() {
    local file=$1 rel name db dir
    rel=${file#"$REPO_ROOT"/}
    name=$(basename "$file" .md | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' '_')
    db=it_doc_$name
    dir=$work/$name
        if ! extract_blocks "$file" "$dir"; then
        not_ok "$rel: cannot split it into code blocks"
        return
    fi
    check_claims "$dir"
    nums=() lines=() langs=() directives=()
    local n line lang directive
    while IFS=$'\t' read -r n line lang directive; do
        nums+=("$n") lines+=("$line") langs+=("$lang") directives+=("$directive")
    done <"$dir/manifest"
    local -a roles
    mapfile -t roles < <(roles_of "$dir")
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    drop_roles "${roles[@]}" || die "cannot drop the roles $rel creates (${roles[*]}): are they used elsewhere?"
    psql_q -d postgres -c "CREATE DATABASE $db" >/dev/null
    psql_q -d "$db" -c "CREATE EXTENSION inventory_truth" >/dev/null

    run_sql_blocks "$rel" "$db" "$dir"

    local k block label
    for k in "${!nums[@]}"; do
        block=$(printf '%s/%03d.%s' "$dir" "${nums[k]}" "${langs[k]}")
        label="$rel block ${nums[k]} (${langs[k]}, line ${lines[k]})"
        directive=${directives[k]}
        case ${langs[k]} in
            sql) continue ;;
            python | py)
                if [[ $directive == skip* ]]; then
                    skip "$label: ${directive#skip }"
                elif have_python; then
                    run_listener "$label" "$db" "$block" "${nums[k]}" "$python_cmd"
                elif [ "${DOC_TEST_REQUIRE_ALL:-0}" = 1 ]; then
                    not_ok "$label: python snippet: psycopg not installed (DOC_TEST_REQUIRE_ALL=1)"
                else
                    skip "$label: python snippet: psycopg not installed (pip install 'psycopg[binary]', or DOC_TEST_PYTHON=a python that has it)"
                fi
                ;;
            js | javascript | node)
                if [[ $directive == skip* ]]; then
                    skip "$label: ${directive#skip }"
                elif have_node; then
                    cp "$block" "$block.cjs"
                    run_listener "$label" "$db" "$block.cjs" "${nums[k]}" node
                elif [ "${DOC_TEST_REQUIRE_ALL:-0}" = 1 ]; then
                    not_ok "$label: node snippet: node or its pg package not installed (DOC_TEST_REQUIRE_ALL=1)"
                else
                    skip "$label: node snippet: node or its pg package not installed (npm install pg, with NODE_PATH naming its node_modules)"
                fi
                ;;
            sh | bash | shell)
                # Run above when marked run; the others are commands for a reader's machine.
                if [[ $directive == skip* ]]; then
                    skip "$label: ${directive#skip }"
                elif [ "$directive" != run ]; then
                    skip "$label: a shell command for the reader's machine, not run"
                fi
                ;;
            rust)
                # A Rust block must be marked: either skip, saying where the complete program
                # is, or not at all (then it is a failure: it would claim to run and not).
                if [[ $directive == skip* ]]; then
                    skip "$label: ${directive#skip }"
                else
                    not_ok "$label: a rust block the test cannot run: mark it <!-- doc-test: skip because ... --> naming the program cargo builds"
                fi
                ;;
            *)
                skip "$label: ${langs[k]}: an example of data, not a program"
                ;;
        esac
    done

    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    drop_roles "${roles[@]}" || not_ok "$rel: cannot drop the roles it created (${roles[*]})"
}

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=("$REPO_ROOT/README.md")
    for f in "$REPO_ROOT"/docs/*.md; do files+=("$f"); done
fi
for f in "${files[@]}"; do
    [ -f "$f" ] || die "no such file: $f"
    run_file "$(cd "$(dirname "$f")" && pwd -P)/$(basename "$f")"
done

echo "doc examples: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
