#!/bin/bash
# The CMS of a large data set on a Slurm cluster: an array of N tasks, task K explaining shard K of
# N (csm cms --shard auto/N reads K from SLURM_ARRAY_TASK_ID, 0-based), then one job that merges
# the N outputs once every task has succeeded. The merged cms.npy has exactly the bytes of one
# run over all the photos.
#
# Usage (from a login node, in a folder on the shared file system):
#   SHARDS=16 MODEL=emotion IMAGES=/shared/photos OUT=/shared/csm-emotion bash examples/slurm-cms.sh
# Every task must see IMAGES and OUT at some path (the split uses paths relative to IMAGES, so the
# mount point may differ between nodes, but pass every task the same IMAGES and options).
#
#SBATCH --job-name=csm-cms
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --requeue
#SBATCH --output=csm-%x-%A_%a.log
set -euo pipefail

export SHARDS="${SHARDS:-8}"             # N: the array is 0 … N−1
export MODEL="${MODEL:-emotion}"
export IMAGES="${IMAGES:?set IMAGES to a folder of photos or a list file}"
export OUT="${OUT:?set OUT to a folder on the shared file system}"
export CSM="${CSM:-npx csm}"             # or the path of an installed csm
# The same options on every shard (a shard of other options is refused by csm merge), e.g.
# "--stride 4 --canonical-size 256 --backend webgpu".
export CSM_OPTIONS="${CSM_OPTIONS:-}"

case "${CSM_STEP:-submit}" in
  submit)
    mkdir -p "$OUT"
    # One array of N tasks (add %M to --array to run at most M at a time), then the merge.
    array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --export=ALL,CSM_STEP=shard "$0")
    merge=$(sbatch --parsable --dependency="afterok:${array}" --job-name=csm-merge --cpus-per-task=1 --export=ALL,CSM_STEP=merge "$0")
    echo "submitted array job ${array} (${SHARDS} shards) and merge job ${merge} → ${OUT}/all"
    ;;
  shard)
    dir="$OUT/shard-$SLURM_ARRAY_TASK_ID"
    # A task that was preempted or requeued continues its own checkpoint (same bytes at the end).
    resume=()
    if [[ -f "$dir/checkpoint/cms-state.json" && ! -f "$dir/cms.json" ]]; then resume=(--resume); fi
    # shellcheck disable=SC2086  # CSM and CSM_OPTIONS are word lists
    $CSM cms --model "$MODEL" --images "$IMAGES" --out "$dir" --shard "auto/$SHARDS" --quiet "${resume[@]}" $CSM_OPTIONS
    ;;
  merge)
    shards=()
    for ((k = 0; k < SHARDS; k++)); do shards+=("$OUT/shard-$k"); done
    # csm merge refuses a missing or repeated shard, or one of other options or photos.
    $CSM merge "${shards[@]}" --out "$OUT/all"
    ;;
  *)
    echo "unknown CSM_STEP=${CSM_STEP}" >&2
    exit 2
    ;;
esac
