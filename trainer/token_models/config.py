"""Training configurations: frozen dataclasses, named presets, and overrides from flags.

A preset is a complete ``TrainConfig``. ``resolve_config("lstm", {"units": "128"})`` returns the
preset with single fields replaced; values arrive as flag strings and are parsed by the field's
type. To add a preset (a VAE, the character-level ABC LSTM), call ``register_preset`` with a new
``TrainConfig`` whose ``architecture`` names a builder in ``trainer.token_models.builders.MODEL_BUILDERS``; add
fields here with defaults so the existing presets keep their values.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from preprocessing import schema
from serving.contract import signatures

INPUT_ENCODINGS = ("one_hot", "embedding")
# The example feature a token model learns (see ``trainer.token_models.data.FEATURES``).
FEATURES = (schema.FEATURE_TIMESTEP, schema.FEATURE_ABC)
# The model kind an export of a model reading each feature states (``serving.contract.signatures``).
MODEL_KINDS = {schema.FEATURE_TIMESTEP: signatures.TOKEN_TIMESTEP, schema.FEATURE_ABC: signatures.TOKEN_CHARACTERS}


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run.

    ``architecture`` selects the model builder; ``window`` is the number of input steps per
    training example (targets are the same steps shifted by one); ``epochs`` is an upper bound,
    early stopping ends a run after ``patience`` epochs without a better validation loss.
    ``steps_per_epoch`` of 0 means one full pass over the training stream. ``feature`` is what the
    model reads: ``timestep`` symbols, or the ``abc`` text one character per step.
    """

    architecture: str
    feature: str = schema.FEATURE_TIMESTEP
    units: int = 256
    layers: int = 1
    dropout: float = 0.2
    input_encoding: str = "one_hot"
    embedding_dim: int = 64
    window: int = 64
    batch_size: int = 64
    learning_rate: float = 1e-3
    epochs: int = 50
    patience: int = 5
    steps_per_epoch: int = 0
    shuffle_songs: int = 2048
    shuffle_windows: int = 4096
    seed: int = 0

    @property
    def model_kind(self) -> str:
        """The serving contract's model kind of this model (from ``feature``)."""
        return MODEL_KINDS[self.feature]

    def __post_init__(self) -> None:
        positive = ("units", "layers", "window", "batch_size", "shuffle_songs", "shuffle_windows")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("epochs", "patience", "steps_per_epoch"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.feature not in FEATURES:
            raise ValueError(f"feature {self.feature!r} is not one of {FEATURES}")
        if self.input_encoding not in INPUT_ENCODINGS:
            raise ValueError(
                f"input_encoding {self.input_encoding!r} is not one of {INPUT_ENCODINGS}"
            )
        if self.input_encoding == "embedding" and self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {self.embedding_dim!r}")


PRESETS: dict[str, TrainConfig] = {}


def register_preset(name: str, config: TrainConfig) -> None:
    """Adds a named preset; a name already taken raises ValueError."""
    if name in PRESETS:
        raise ValueError(f"preset {name!r} is already registered")
    PRESETS[name] = config


# The slides' model: one-hot of the 38 symbols, LSTM(256), dropout, dense softmax; the
# tutorial's Adam 1e-3, batch 64, 64-step windows, up to 50 epochs.
register_preset("lstm", TrainConfig(architecture="lstm"))
# The slides' random-generation baseline: training-split symbol frequencies, nothing to fit.
register_preset("random", TrainConfig(architecture="random", epochs=0))
# The report's character-level ABC model: Embedding(16) -> LSTM(64) -> Dense, Adam 1e-3, batch 8,
# 25 epochs; trained here on windows of the tune stream instead of every tune padded to the
# longest one.
register_preset("abc_lstm_seed", TrainConfig(
    architecture="lstm", feature="abc", input_encoding="embedding", embedding_dim=16, units=64,
    dropout=0.0, window=256, batch_size=8, epochs=25, patience=3,
))
# Our default character model: wider and two layers deep, so that it keeps count of a bar's
# length and of a tune's sections over a 256-character window.
register_preset("abc_lstm", TrainConfig(
    architecture="lstm", feature="abc", input_encoding="embedding", embedding_dim=32, units=256, layers=2,
    dropout=0.1, window=256, batch_size=32, learning_rate=2e-3, epochs=40, patience=3,
))


def _parse_field(field: dataclasses.Field, text: str) -> object:
    """Parses a flag string into the field's declared type (int, float or str)."""
    kind = {"int": int, "float": float, "str": str}[str(field.type)]
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"field {field.name!r} expects {kind.__name__}, got {text!r}") from None


def resolve_config(preset: str, overrides: Mapping[str, str] | None = None) -> TrainConfig:
    """Returns the named preset with ``overrides`` (field name -> flag string) applied."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known presets: {sorted(PRESETS)}")
    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    values = {}
    for name, text in (overrides or {}).items():
        if name not in fields:
            raise ValueError(f"unknown config field {name!r}; known fields: {sorted(fields)}")
        if name == "architecture":
            raise ValueError("field 'architecture' is fixed by the preset; pick another --model")
        values[name] = _parse_field(fields[name], text)
    return dataclasses.replace(PRESETS[preset], **values)


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """Parses ``["units=128", "epochs=3"]`` into ``{"units": "128", "epochs": "3"}``."""
    parsed = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=VALUE, got {assignment!r}")
        parsed[name.strip()] = value.strip()
    return parsed
