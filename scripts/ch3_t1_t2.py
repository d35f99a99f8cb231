"""Compute the cache of chapter 3's experiments T1 and T2 on the design of T2b.

Two draws of chapter 3's tree (``tree_mae.T2B_TREES``) x five seeds (``T2B_SEEDS``), trained
and untrained; one fixed mask per model. Each (tree, mask, trained) entry is written to
data/cache/tree_mae-<hash>.json when done; the chapter reads the same entries through
``run_mask_experiment(..., cache=True)``.

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python scripts/ch3_t1_t2.py
"""

import time

import torch

from mae_theory import tree_mae as tm
from mae_theory.hierarchy import LatentTree
from mae_theory.theory import shared_dim

MASKS = [("x1", "x2", "x3", "x4"),  # T1
         ("x1",), ("x1", "x2", "x3", "x4", "x5", "x6", "x7"), ("x1", "x2", "x3", "x4", "x5")]


def main() -> None:
    torch.set_num_threads(1)
    for masked in MASKS:
        for spec in tm.T2B_TREES:
            tree = LatentTree.balanced(**spec)
            cfg = tm.TreeMAEConfig(latent_dim=shared_dim(tree, masked), fixed_mask=masked,
                                   steps=600)
            for trained in (True, False):
                t = time.time()
                tm.run_mask_experiment(tree, cfg, list(tm.T2B_SEEDS), trained=trained,
                                       tree_spec=spec, cache=True)
                print(f"{masked} tree {spec['seed']} trained={trained}: "
                      f"{time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
