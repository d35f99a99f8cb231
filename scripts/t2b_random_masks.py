"""Compute the cache of chapter 3's experiment T2b (Theorem 2 under random masks).

Each (tree, seed) unit is written to data/cache/t2_random_masks-<hash>.json as soon as it is
done, so a stopped run resumes where it left off. The chapter reads the same units through
``mae_theory.tree_mae.run_theorem2_random_masks(..., cache=True)``. About 35 s per unit on one
CPU core; 2 trees x 5 seeds.

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python scripts/t2b_random_masks.py
"""

import time

import torch

from mae_theory import tree_mae as tm
from mae_theory.hierarchy import LatentTree


def main() -> None:
    torch.set_num_threads(1)
    for spec in tm.T2B_TREES:
        tree = LatentTree.balanced(**spec)
        train_m, test_m = tm.split_masks(tree, tm.T2B_N_MASKED, tm.T2B_N_HELDOUT, seed=0)
        for seed in tm.T2B_SEEDS:
            t = time.time()
            tm.run_theorem2_random_masks(tree, tm.T2B_CONFIG, seed, train_masks=train_m,
                                         heldout_masks=test_m, tree_spec=spec, cache=True)
            print(f"tree {spec['seed']} seed {seed}: {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
