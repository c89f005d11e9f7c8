#!/usr/bin/env bash
# Launch snitk training on a Cloud TPU VM pod slice: the same command on every host.
#
#   scripts/launch_tpu_pod.sh --tpu NAME --zone ZONE --bucket gs://BUCKET/PATH \
#       --gin_file experiments/tk_instruct_11b_tpu_v3_256.gin [--gin.KEY=VALUE ...] [--dry_run]
#
# Every host installs snitk from this checkout's git remote (or --repo URL), then runs
# `python -m snitk.train` with MODEL_DIR on the bucket. jax.distributed initialises itself on TPU,
# so no coordinator flags are needed. Data: --data-dir gs://... (`snitk data download --data-dir
# gs://...` fills it), the vocabulary from the public T5 bucket unless --vocab is given.
# --dry_run prints, without running anything, the exact per-host commands ("host setup:" and
# "host train:", run in that order on every host, the train command from the checkout's root)
# and the gcloud command that would run them.
set -euo pipefail

TPU="" ZONE="" BUCKET="" PROJECT="" REPO="" REF="main" DATA_DIR="" VOCAB="" DRY=0 RUN_NAME=""
GIN_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tpu) TPU="$2"; shift 2 ;;
    --zone) ZONE="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    --bucket) BUCKET="$2"; shift 2 ;;
    --repo) REPO="$2"; shift 2 ;;
    --ref) REF="$2"; shift 2 ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --vocab) VOCAB="$2"; shift 2 ;;
    --run-name) RUN_NAME="$2"; shift 2 ;;
    --dry_run|--dry-run) DRY=1; shift ;;
    --gin_file=*|--gin.*) GIN_ARGS+=("$1"); shift ;;
    --gin_file) GIN_ARGS+=("--gin_file=$2"); shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "launch_tpu_pod.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for var in TPU ZONE BUCKET; do
  [[ -n "${!var}" ]] || { echo "launch_tpu_pod.sh: --${var,,} is required" >&2; exit 2; }
done
[[ ${#GIN_ARGS[@]} -gt 0 ]] || { echo "launch_tpu_pod.sh: give at least one --gin_file" >&2; exit 2; }
REPO="${REPO:-$(git remote get-url origin 2>/dev/null || echo '<set --repo>')}"
RUN_NAME="${RUN_NAME:-snitk-$(date +%Y%m%d-%H%M%S)}"
MODEL_DIR="${BUCKET%/}/${RUN_NAME}"

q() { printf '%q ' "$@"; }
train_cmd="python -m snitk.train $(q "${GIN_ARGS[@]}") --gin.MODEL_DIR=\"'${MODEL_DIR}'\""
env_cmd=""
[[ -n "$DATA_DIR" ]] && env_cmd+="SNITK_DATA_DIR=$(q "$DATA_DIR")"
[[ -n "$VOCAB" ]] && env_cmd+="SNITK_VOCAB=$(q "$VOCAB")"
setup="set -e; (test -d snitk || git clone $(q "$REPO") snitk) && cd snitk && git fetch -q && git checkout -q $(q "$REF") \
&& python3 -m venv .venv && . .venv/bin/activate && pip install -q -e . 'jax[tpu]' \
-f https://storage.googleapis.com/jax-releases/libtpu_releases.html"
host_train="${env_cmd}${train_cmd}"
remote="${setup} && ${host_train}"
gcloud_cmd=(gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command "$remote")
[[ -n "$PROJECT" ]] && gcloud_cmd+=(--project "$PROJECT")

echo "model dir : $MODEL_DIR"
echo "on every host of $TPU ($ZONE), in order:"
echo "host setup: $setup"
echo "host train: $host_train"
if [[ $DRY -eq 1 ]]; then
  echo "dry run: would execute:"; echo "  $(q "${gcloud_cmd[@]}")"; exit 0
fi
"${gcloud_cmd[@]}"
