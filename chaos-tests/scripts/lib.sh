# shellcheck shell=bash
# Shared helpers of the operator scripts in this directory; sourced, not run.
#
# Environment:
#   CLUSTER_BIN      the `cluster` binary (default: `cluster` on PATH, else this repository's
#                    target/release/cluster, else target/debug/cluster)
#   CHAOS_JSON_TOOL  force the JSON reader: jq, python3 or sed (default: the first one present)

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPTS_DIR/../.." && pwd)"

die() {
    echo "$(basename "$0"): error: $*" >&2
    exit 1
}

# Prints the path of the `cluster` binary, or fails saying how to get one.
find_cluster_bin() {
    if [[ -n "${CLUSTER_BIN:-}" ]]; then
        [[ -x "$CLUSTER_BIN" ]] || die "CLUSTER_BIN=$CLUSTER_BIN is not an executable file"
        echo "$CLUSTER_BIN"
    elif command -v cluster >/dev/null 2>&1; then
        command -v cluster
    elif [[ -x "$REPO_DIR/target/release/cluster" ]]; then
        echo "$REPO_DIR/target/release/cluster"
    elif [[ -x "$REPO_DIR/target/debug/cluster" ]]; then
        echo "$REPO_DIR/target/debug/cluster"
    else
        die "no cluster binary: run \`cargo build --release -p cluster\` or set CLUSTER_BIN"
    fi
}

# Which JSON reader to use: jq, python3, or sed (always there).
json_tool() {
    local forced="${CHAOS_JSON_TOOL:-}"
    if [[ -n "$forced" ]]; then
        case "$forced" in
            jq | python3 | sed) command -v "$forced" >/dev/null 2>&1 || die "CHAOS_JSON_TOOL=$forced is not installed" ;;
            *) die "CHAOS_JSON_TOOL must be jq, python3 or sed, not $forced" ;;
        esac
        echo "$forced"
    elif command -v jq >/dev/null 2>&1; then
        echo jq
    elif command -v python3 >/dev/null 2>&1; then
        echo python3
    else
        echo sed
    fi
}

# Reads `cluster status --json` on stdin; prints one line per node: "ID ROLE PID REACHABLE"
# (ROLE is "null" for an unreachable node; PID is then the one recorded in cluster.json).
status_rows_from_json() {
    case "$(json_tool)" in
        jq)
            jq -r '.[] | "\(.id) \(.role) \(.pid) \(.reachable)"'
            ;;
        python3)
            python3 -c '
import json, sys
for r in json.load(sys.stdin):
    val = lambda v: "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    print(val(r["id"]), val(r["role"]), val(r["pid"]), val(r["reachable"]))
'
            ;;
        sed)
            # The JSON is pretty-printed one field per line, and "pid" follows "id",
            # "reachable" and "role" in each object.
            local key val id="" role="" reachable=""
            sed -n -E 's/^ *"(id|role|pid|reachable)": "?([^",]*)"?,?$/\1 \2/p' |
                while read -r key val; do
                    case "$key" in
                        id) id="$val" ;;
                        reachable) reachable="$val" ;;
                        role) role="$val" ;;
                        pid) echo "$id $role $val $reachable" ;;
                    esac
                done
            ;;
    esac
}

# Prints "ID ROLE PID REACHABLE" for every node of the cluster in directory $1. `cluster status`
# exits 1 when a node is down and 2 when none leads; both still print every node.
status_rows() {
    local json rc=0
    json="$("$CLUSTER" status --dir "$1" --json)" || rc=$?
    ((rc <= 2)) && [[ -n "$json" ]] || die "\`cluster status --dir $1\` failed"
    status_rows_from_json <<<"$json"
}

# Whether PID $1 is a live tracker node process (the PIDs come from the nodes' own status
# answers; this guards against a node that exited since).
is_tracker_pid() {
    local pid="$1" cmdline
    [[ "$pid" =~ ^[0-9]+$ && "$pid" -gt 0 ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *--data-dir* ]]
}

# SIGKILLs node $2 (PID $3) of the cluster in directory $1 and records it in DIR/killed-nodes.
kill_node() {
    local dir="$1" id="$2" pid="$3"
    is_tracker_pid "$pid" || die "pid $pid of node $id is not a tracker of $dir; see \`cluster status --dir $dir\`"
    kill -KILL "$pid"
    echo "$id" >>"$dir/killed-nodes"
}

# Waits up to $2 seconds for a leader other than $3 in the cluster in directory $1; prints its id.
wait_new_leader() {
    local dir="$1" secs="$2" old="$3" deadline id role pid reachable
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        while read -r id role pid reachable; do
            if [[ "$role" == leader && "$id" != "$old" ]]; then
                echo "$id"
                return 0
            fi
        done < <(status_rows "$dir")
        sleep 0.2
    done
    return 1
}
