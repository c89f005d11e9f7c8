#!/usr/bin/env bash
# Launch snitk training on one or more multi-GPU hosts (one process per host, all local GPUs).
#
#   scripts/launch_multigpu.sh --hosts host1,host2 [--coordinator host1:12345] \
#       --gin_file experiments/tk_instruct_3b_8gpu.gin --gin.MODEL_DIR="'/shared/runs/tk3b'" [--dry_run]
#
# With one host (the default: localhost) it simply runs `python -m snitk.train` here. With several,
# it starts the same command on each host over ssh with --process_id / --num_processes /
# --coordinator_address so jax.distributed connects them. MODEL_DIR must be on a shared filesystem.
# --dry_run prints the commands instead of running them.
set -euo pipefail

HOSTS="localhost" COORD="" DRY=0 WORKDIR="$(pwd)"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) HOSTS="$2"; shift 2 ;;
    --coordinator) COORD="$2"; shift 2 ;;
    --workdir) WORKDIR="$2"; shift 2 ;;
    --dry_run|--dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ ${#ARGS[@]} -gt 0 ]] || { echo "launch_multigpu.sh: give --gin_file=... (see --help)" >&2; exit 2; }
IFS=, read -r -a HOST_LIST <<< "$HOSTS"
N=${#HOST_LIST[@]}
COORD="${COORD:-${HOST_LIST[0]}:12345}"
q() { printf '%q ' "$@"; }
pids=()
for i in "${!HOST_LIST[@]}"; do
  host="${HOST_LIST[$i]}"
  cmd="cd $(q "$WORKDIR") && . .venv/bin/activate && python -m snitk.train $(q "${ARGS[@]}")"
  if [[ $N -gt 1 ]]; then
    cmd+=" --coordinator_address=$COORD --num_processes=$N --process_id=$i"
  fi
  if [[ $DRY -eq 1 ]]; then
    if [[ $N -gt 1 ]]; then echo "ssh $host '$cmd'"; else echo "$cmd"; fi
    continue
  fi
  if [[ $N -gt 1 ]]; then ssh "$host" "$cmd" & pids+=($!); else bash -c "$cmd"; fi
done
[[ ${#pids[@]} -eq 0 ]] || wait "${pids[@]}"
