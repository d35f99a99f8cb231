#!/usr/bin/env bash
# The CPU tier of chapter 9 (issue 13): three Fashion-MNIST sweeps, run by two single-thread
# processes side by side (one per core). Each (setting, seed) is saved to data/results/units/
# the moment it finishes, under a lock, so the two processes share the work, and a stopped run
# resumes where it stopped: just start this script again. The last process to finish a sweep
# writes data/results/NAME.json. About 2.5 h on two idle cores.
#   bash scripts/cpu_tier.sh            # both workers in the background, logs in data/results/
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-.venv/bin/python}
mkdir -p data/results
for w in 1 2; do
  nohup nice -n "${NICE:-10}" bash -c "for n in mask_ratio_sweep_cpu masking_unit_cpu decoder_depth_cpu; do
      $PY -m mae_theory run \$n --device cpu; done" > "data/results/cpu_tier_worker$w.log" 2>&1 &
  sleep 20  # the first worker claims its unit before the second looks
done
echo "started two workers; follow them with: tail -f data/results/cpu_tier_worker*.log"
