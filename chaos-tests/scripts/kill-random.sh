#!/usr/bin/env bash
# SIGKILL a random running node of a `cluster up --detach` cluster every N seconds for M rounds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
usage: $(basename "$0") [--every SECS] [--rounds M] [--restart-after SECS] [--seed N] CLUSTER_DIR

Every SECS seconds (default 5), for M rounds (default 3), SIGKILLs one node picked at random among
the running nodes of the cluster in CLUSTER_DIR, and appends its id to CLUSTER_DIR/killed-nodes.

  --restart-after SECS  restart each killed node that many seconds after its kill (with
                        \`cluster start-node\`), so the cluster keeps its quorum; without it the
                        killed nodes stay down until restart-killed.sh
  --seed N              seed of the random choices (bash \$RANDOM), to repeat a run

Environment: CLUSTER_BIN (the cluster binary), CHAOS_JSON_TOOL (jq, python3 or sed).
USAGE
}

every=5 rounds=3 restart_after="" seed="" dir=""
need_arg() { [[ $# -ge 2 ]] || { usage >&2; exit 2; }; }
while (($# > 0)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --every) need_arg "$@"; every="$2"; shift 2 ;;
        --rounds) need_arg "$@"; rounds="$2"; shift 2 ;;
        --restart-after) need_arg "$@"; restart_after="$2"; shift 2 ;;
        --seed) need_arg "$@"; seed="$2"; shift 2 ;;
        -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [[ -z "$dir" ]] || { usage >&2; exit 2; }; dir="$1"; shift ;;
    esac
done
[[ -n "$dir" ]] || { usage >&2; exit 2; }
[[ "$every" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--every takes seconds, not $every"
[[ "$rounds" =~ ^[0-9]+$ ]] || die "--rounds takes a whole number, not $rounds"
[[ -z "$restart_after" || "$restart_after" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--restart-after takes seconds, not $restart_after"
[[ -z "$seed" || "$seed" =~ ^[0-9]+$ ]] || die "--seed takes a whole number, not $seed"
[[ -f "$dir/cluster.json" ]] || die "$dir/cluster.json not found: start a cluster with \`cluster up --detach --dir $dir\`"
CLUSTER="$(find_cluster_bin)"
[[ -z "$seed" ]] || RANDOM="$seed"

for ((round = 1; round <= rounds; round++)); do
    sleep "$every"
    ids=() pids=()
    while read -r id role pid reachable; do
        if [[ "$reachable" == true ]]; then
            ids+=("$id") pids+=("$pid")
        fi
    done < <(status_rows "$dir")
    if ((${#ids[@]} == 0)); then
        echo "round $round: no node is running; nothing to kill"
        continue
    fi
    pick=$((RANDOM % ${#ids[@]}))
    kill_node "$dir" "${ids[$pick]}" "${pids[$pick]}"
    echo "round $round: killed node ${ids[$pick]} (pid ${pids[$pick]})"
    if [[ -n "$restart_after" ]]; then
        sleep "$restart_after"
        "$CLUSTER" start-node --dir "$dir" --id "${ids[$pick]}"
        sed -i "/^${ids[$pick]}\$/d" "$dir/killed-nodes"
    fi
done
