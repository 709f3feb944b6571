#!/usr/bin/env bash
# SIGKILL the current leader of a cluster started by `cluster up --detach`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
usage: $(basename "$0") [--wait SECS] CLUSTER_DIR

SIGKILLs the tracker node that currently leads the cluster recorded in CLUSTER_DIR/cluster.json
(found with \`cluster status --json\`), and appends its id to CLUSTER_DIR/killed-nodes so that
restart-killed.sh can bring it back.

  --wait SECS   then wait up to SECS seconds for another node to lead, and print it
                (exit 1 if none does)

Environment: CLUSTER_BIN (the cluster binary), CHAOS_JSON_TOOL (jq, python3 or sed).
USAGE
}

wait_secs=0
dir=""
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

leader="" leader_pid=""
while read -r id role pid reachable; do
    if [[ "$role" == leader ]]; then
        leader="$id" leader_pid="$pid"
    fi
done < <(status_rows "$dir")
[[ -n "$leader" ]] || die "no node of $dir is leader right now (election in progress, or no quorum); see \`cluster status --dir $dir\`"

kill_node "$dir" "$leader" "$leader_pid"
echo "killed leader node $leader (pid $leader_pid)"

if ((wait_secs > 0)); then
    start=$SECONDS
    if new="$(wait_new_leader "$dir" "$wait_secs" "$leader")"; then
        echo "node $new leads now (within $((SECONDS - start)) s)"
    else
        die "no new leader within $wait_secs s; see \`cluster status --dir $dir\`"
    fi
fi
