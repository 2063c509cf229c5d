"""The training hooks shared by methods with one network and no EMA twin (SimCLR, MAE).

The training loop (``radioexplore.ssl.train``) calls the same hooks on every method; DINO and BYOL
update a teacher or target after each step, these two have nothing to update.
"""

from __future__ import annotations

from torch import nn


class SingleNetwork:
    """Mixin for a method whose ``self.model`` is its only network, with the encoder at ``model.backbone``."""

    model: nn.Module

    def before_step(self, epoch: int) -> None:
        return None

    def after_step(self, momentum: float) -> None:
        return None

    def export_backbone(self) -> nn.Module:
        return self.model.backbone

    def training_state(self) -> dict[str, object]:
        """The whole network (encoder and its head or decoder), stored as the "student"."""
        return {"student": self.model.state_dict()}

    def load_training_state(self, state: dict[str, object]) -> None:
        self.model.load_state_dict(state["student"])
