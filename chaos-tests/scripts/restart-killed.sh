#!/usr/bin/env bash
# Restart the nodes of a `cluster up --detach` cluster that are down (killed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
usage: $(basename "$0") [--wait SECS] CLUSTER_DIR

Restarts, on their data, the nodes of the cluster in CLUSTER_DIR that are down: those the kill
scripts recorded in CLUSTER_DIR/killed-nodes and any other that does not answer and whose
process is gone (a paused node is left alone). One node at a time goes through \`cluster start-node\`; if every node is down, the whole cluster is restarted
with \`cluster up --detach\` (same as after \`cluster down\`). Then clears CLUSTER_DIR/killed-nodes
and waits for a leader.

  --wait SECS   how long to wait for a leader afterwards (default 30; 0: do not wait)

Environment: CLUSTER_BIN (the cluster binary), CHAOS_JSON_TOOL (jq, python3 or sed).
USAGE
}

wait_secs=30 dir=""
while (($# > 0)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --wait) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; wait_secs="$2"; shift 2 ;;
        -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [[ -z "$dir" ]] || { usage >&2; exit 2; }; dir="$1"; shift ;;
    esac
done
[[ -n "$dir" ]] || { usage >&2; exit 2; }
[[ "$wait_secs" =~ ^[0-9]+$ ]] || die "--wait takes whole seconds, not $wait_secs"
[[ -f "$dir/cluster.json" ]] || die "$dir/cluster.json not found: start a cluster with \`cluster up --detach --dir $dir\`"
CLUSTER="$(find_cluster_bin)"

recorded=" "
if [[ -f "$dir/killed-nodes" ]]; then
    recorded=" $(sort -un "$dir/killed-nodes" | tr '\n' ' ')"
fi
down=() total=0
while read -r id role pid reachable; do
    total=$((total + 1))
    if [[ "$reachable" == true ]]; then
        continue
    elif is_tracker_pid "$pid"; then
        # Its process lives (e.g. paused with SIGSTOP, or too busy to answer in time).
        echo "node $id does not answer but its process $pid is alive; not restarting it"
    else
        down+=("$id")
    fi
done < <(status_rows "$dir")

failed=0
if ((${#down[@]} == 0)); then
    echo "no node is down; nothing to restart"
elif ((${#down[@]} == total)); then
    echo "every node is down: restarting the whole cluster"
    "$CLUSTER" up --detach --dir "$dir"
else
    for id in "${down[@]}"; do
        why="down"
        if [[ "$recorded" == *" $id "* ]]; then
            why="killed"
        fi
        if "$CLUSTER" start-node --dir "$dir" --id "$id"; then
            echo "restarted node $id ($why)"
        else
            echo "could not restart node $id ($why); see $dir/node-$id/tracker.log" >&2
            failed=1
        fi
    done
fi
: >"$dir/killed-nodes"

if ((wait_secs > 0)); then
    deadline=$((SECONDS + wait_secs))
    while true; do
        leader="" up=0
        while read -r id role pid reachable; do
            if [[ "$reachable" == true ]]; then
                up=$((up + 1))
            fi
            if [[ "$role" == leader ]]; then
                leader="$id"
            fi
        done < <(status_rows "$dir")
        if [[ -n "$leader" && "$up" == "$total" ]] || ((SECONDS >= deadline)); then
            break
        fi
        sleep 0.2
    done
    [[ -n "$leader" ]] || die "no leader within $wait_secs s; see \`cluster status --dir $dir\`"
    echo "node $leader leads; $up of $total nodes answer"
    if ((up < total)); then
        failed=1
    fi
fi
exit "$failed"
