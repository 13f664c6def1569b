"""The joint melody VAE's config (``MelodyVaeConfig``) and its preset ``vae_melody``.

One model encodes each tune's (pitch, duration) events together and decodes both, plus the
number of events (an explicit length head), so a sample ends where a melody ends.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from preprocessing.melody.vae_codes import check_overflow_policy
from trainer import presets

MELODY = "melody"


@dataclasses.dataclass(frozen=True)
class MelodyVaeConfig:
    """Hyperparameters of one joint melody VAE run.

    ``length``: the most events a tune keeps (longer ones follow ``overflow``). The KL term
    is weighted by ``kl_weight``, ramped linearly from ``kl_weight / kl_warmup_epochs`` over
    the first ``kl_warmup_epochs`` epochs; ``free_bits`` (nats per latent dimension) is the
    floor under each dimension's batch-mean KL, so the posterior is not pushed to the prior
    below it. ``patience`` > 0 stops early on the validation total loss, keeping the best weights.
    """

    FIXED_FIELDS: ClassVar[tuple[str, ...]] = ("name", "kind")
    ARCHITECTURE_FIELDS: ClassVar[tuple[str, ...]] = (
        "kind", "length", "pitch_embedding", "duration_embedding", "channels", "latent_channels",
        "downsamplings",
    )

    name: str
    kind: str = MELODY
    length: int = 96
    pitch_embedding: int = 32
    duration_embedding: int = 8
    channels: int = 128
    downsamplings: int = 1  # halvings of the event sequence: one latent part per 2 ** downsamplings events
    latent_channels: int = 8  # per part of the latent sequence
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 2e-3
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 10
    free_bits: float = 0.5
    patience: int = 15
    overflow: str = "truncate"
    seed: int = 0

    @property
    def latent_dim(self) -> int:
        """Z: the flattened latent, ``length / 2 ** downsamplings`` parts of ``latent_channels``, and the length."""
        return self.length // 2**self.downsamplings * self.latent_channels + 1

    def __post_init__(self) -> None:
        if self.kind != MELODY:
            raise ValueError(f"a melody VAE's kind is {MELODY!r}, got {self.kind!r}")
        check_overflow_policy(self.overflow)
        if self.downsamplings < 0 or self.length % 2**self.downsamplings:
            raise ValueError(f"length must be a multiple of 2 ** downsamplings ({self.downsamplings} >= 0), "
                             f"got {self.length}")
        presets.check_at_least(self, 1, ("length", "pitch_embedding", "duration_embedding", "channels",
                                         "latent_channels", "epochs", "batch_size"))
        presets.check_at_least(self, 0, ("learning_rate", "kl_weight", "kl_warmup_epochs", "free_bits", "patience"))
        if self.learning_rate == 0:
            raise ValueError("learning_rate must be > 0, got 0")


MELODY_PRESETS: dict[str, MelodyVaeConfig] = {"vae_melody": MelodyVaeConfig(name="vae_melody")}

for _name, _config in MELODY_PRESETS.items():
    presets.register(_name, _config)
