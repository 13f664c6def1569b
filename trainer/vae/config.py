"""The VAEs' config: the frozen ``VaeConfig`` and its presets, registered in ``trainer.presets``."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from preprocessing.melody.vae_codes import check_overflow_policy
from trainer import presets
from trainer.vae import data as vae_data

OUTPUTS = ("sigmoid", "categorical")


@dataclasses.dataclass(frozen=True)
class VaeConfig:
    """Hyperparameters of one VAE run.

    ``output="sigmoid"``: one value in [0, 1] per position (normalised code), binary
    cross-entropy; ``output="categorical"``: a softmax per position over the alphabet, cross-entropy.
    The KL term is weighted by ``kl_weight``, ramped linearly from ``kl_weight / kl_warmup_epochs``
    to ``kl_weight`` over the first ``kl_warmup_epochs`` epochs (0 = no warm-up).
    ``patience`` > 0 stops early on the validation total loss and keeps the best weights.
    """

    # Fields a run may not override (``trainer.presets.resolve``): they name the preset's model and its data.
    FIXED_FIELDS: ClassVar[tuple[str, ...]] = ("name", "kind")
    # Fields that shape the weights: a resumed run must keep them.
    ARCHITECTURE_FIELDS: ClassVar[tuple[str, ...]] = ("kind", "output", "length", "hidden_dim", "latent_dim")

    name: str
    kind: str
    length: int = 96  # covers 98.2% of erk tunes whole (84% at 64, 99.7% at 128)
    hidden_dim: int = 500
    latent_dim: int = 250
    epochs: int = 200
    batch_size: int = 32
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    output: str = "sigmoid"
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 0
    patience: int = 0
    overflow: str = "truncate"
    seed: int = 0

    def __post_init__(self) -> None:
        vae_data.alphabet_for(self.kind)
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown VAE output {self.output!r}; expected one of {OUTPUTS}")
        check_overflow_policy(self.overflow)
        presets.check_at_least(self, 1, ("length", "hidden_dim", "latent_dim", "epochs", "batch_size"))
        presets.check_at_least(self, 0, ("learning_rate", "weight_decay", "kl_weight", "kl_warmup_epochs", "patience"))
        if self.learning_rate == 0:
            raise ValueError("learning_rate must be > 0, got 0")


# The definitions, registered below into the one registry (``trainer.presets``).
VAE_PRESETS: dict[str, VaeConfig] = {
    # The slides' hyperparameters. Their PyTorch Adam(weight_decay=1e-6) adds an L2 gradient
    # term; Keras' Adam applies the decay decoupled (AdamW-style): same size, slightly different.
    "vae_notes": VaeConfig(
        name="vae_notes", kind=vae_data.NOTES, hidden_dim=500, latent_dim=250, epochs=200,
        batch_size=32, learning_rate=1e-5, weight_decay=1e-6,
    ),
    "vae_rhythms": VaeConfig(
        name="vae_rhythms", kind=vae_data.RHYTHMS, hidden_dim=500, latent_dim=300, epochs=8,
        batch_size=64, learning_rate=1e-3,
    ),
    # Categorical output per position, cross-entropy, smaller latent, KL warm-up, early stopping.
    "vae_notes_cat": VaeConfig(
        name="vae_notes_cat", kind=vae_data.NOTES, hidden_dim=512, latent_dim=32, epochs=150,
        batch_size=32, learning_rate=1e-3, weight_decay=1e-4, output="categorical",
        kl_warmup_epochs=30, patience=20,
    ),
    "vae_rhythms_cat": VaeConfig(
        name="vae_rhythms_cat", kind=vae_data.RHYTHMS, hidden_dim=512, latent_dim=32, epochs=150,
        batch_size=32, learning_rate=1e-3, weight_decay=1e-4, output="categorical",
        kl_warmup_epochs=30, patience=20,
    ),
}

for _name, _config in VAE_PRESETS.items():
    presets.register(_name, _config)
