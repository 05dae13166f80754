#!/bin/bash
# deploy/slurm/submit.sh N: grade the class in N shards (a Slurm array), then merge once all succeeded.
set -euo pipefail
SHARDS=${1:?usage: deploy/slurm/submit.sh NUMBER_OF_SHARDS}
HERE=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable --array="1-$SHARDS" "$HERE/grade-array.sbatch")
sbatch --dependency="afterok:${array%%;*}" "$HERE/merge.sbatch"
