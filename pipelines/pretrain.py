"""Self-supervised pre-training job: one process, or one of N under torchrun.

    python pipelines/pretrain.py --run DIR --recipe demo_cpu
    torchrun --nproc_per_node 4 pipelines/pretrain.py --run DIR --recipe mgcls_dino_vits8

Recipes live in pipelines/recipes/*.toml; see ``--help`` for overrides, resuming and export.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout: import the radioexplore package beside this folder, not another installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radioexplore.commands.train import pretrain_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(pretrain_main())
