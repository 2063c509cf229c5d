"""A Dice loss per kind of diffuse emission (halo, relic, filament), each kind counted as the benchmark counts it.

The batch-pooled soft Dice of seed 004 weighs every truth pixel alike, so the kind with most pixels in the crops
(halos: about half of them in the training crops, relics a third) sets most of its gradient. Here each kind
present in the batch gets its own soft Dice, strict as the benchmark's per-kind IoU is (predicted pixels on
another kind's truth left out, every predicted pixel off all truth counted against the kind), and the loss is
their mean: each kind counts once whatever its pixel count, the per-class Dice of Sudre et al. 2017 ("Generalised
Dice overlap as a deep learning loss function for highly unbalanced segmentations", DLMIA, LNCS 10553) with equal
class weights, built on the soft Dice of Milletari, Navab & Ahmadi 2016 (V-Net).
"""

from __future__ import annotations

import torch

from radioexplore.simulation.diffuse import DIFFUSE_KINDS

#: Label codes of the kinds that get their own Dice term (``diffuse/<field>.npz``: i + 1 for DIFFUSE_KINDS[i]).
KIND_CODES = tuple(range(1, len(DIFFUSE_KINDS) + 1))


def kind_dice_loss(logits: torch.Tensor, labels: torch.Tensor, codes: tuple[int, ...] = KIND_CODES) -> torch.Tensor:
    """Mean over the kinds present in the batch of 1 - strict soft Dice (``labels``: 0 none, a kind's code on its
    truth; pixels of the whole batch pooled, as the benchmark pools a survey); with no diffuse truth in the batch,
    1 - 1 / (1 + the summed probability), as the pooled Dice of an empty target."""
    p = torch.sigmoid(logits)
    background = labels == 0
    terms = []
    for code in codes:
        truth = labels == code
        if not bool(truth.any()):
            continue
        own = p * (truth | background).to(p.dtype)  # predictions on other kinds' truth left out (strict)
        t = truth.to(p.dtype)
        terms.append(1 - (2 * (own * t).sum() + 1.0) / (own.sum() + t.sum() + 1.0))
    if not terms:
        return 1 - 1.0 / (p.sum() + 1.0)
    return torch.stack(terms).mean()
