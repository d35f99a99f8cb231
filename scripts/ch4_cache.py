"""Fill chapter 4's cache (data/cache/ch4_t3.json ... ch4_t6.json) one unit at a time.

Each finished unit (one seed of one configuration) is written at once, so an interrupted run
resumes where it stopped. Usage, from the repository root:

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD nohup python scripts/ch4_cache.py 0/2 t3 t6 > a.log &
    OMP_NUM_THREADS=1 PYTHONPATH=$PWD nohup python scripts/ch4_cache.py 1/2 t3 t6 > b.log &

(two workers share the units: each claims a unit before computing it, under
/tmp/ch4_claims/, which you clear before a fresh start; the file is locked while one writes).

The chapter reads the same units through ``mae_theory.tree_mae.load_chapter4``.
"""

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from mae_theory import tree_mae as tm

CLAIMS = Path(tempfile.gettempdir()) / "ch4_claims"


def claim(exp, label) -> bool:
    CLAIMS.mkdir(exist_ok=True)
    name = CLAIMS / re.sub(r"[^A-Za-z0-9.]+", "_", f"{exp}-{label}")
    try:
        os.close(os.open(name, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def main(shard, experiments):
    torch.set_num_threads(1)
    print("worker", shard, flush=True)
    for exp in experiments:
        units = tm.chapter4_units(exp)
        for i, u in enumerate(units):
            if not claim(exp, u["label"]):
                continue
            t0 = time.time()
            res = tm.cached_unit(f"ch4_{exp}", u["tree_spec"], u["cfg"], u["seed"],
                                 u["test_masks"], **u["options"])
            gate = res["gate"]
            print(f"{exp} {i + 1}/{len(units)} {u['label']} {time.time() - t0:.1f} s "
                  f"gate {'-' if gate is None else gate['passed']}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["t3", "t6", "t5", "t4"])
