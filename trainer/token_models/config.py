"""The token models' config: the frozen ``TrainConfig`` and its presets (in ``trainer.presets``).

To add a preset, call ``trainer.presets.register`` with a new ``TrainConfig`` whose
``architecture`` names a builder in ``trainer.token_models.builders.MODEL_BUILDERS``; add fields
here with defaults so the existing presets keep their values.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from preprocessing import schema
from serving.contract import signatures
from trainer import presets

INPUT_ENCODINGS = ("one_hot", "embedding")
# How training examples are cut: windows of the songs joined into one stream, or each song whole
# from its start (padded, at most ``window`` steps; the meter-aware model only).
BATCHINGS = ("stream", "songs")
# How a training song ends (the meter-aware model only): as written, or its last note held to the
# next bar line ("complete"), as every generated tune ends.
FINAL_BARS = ("as_written", "complete")
# A trained model's output bias: as training left it, or moved by the offset that minimises the
# validation split's loss (``trainer.token_models.output_bias``).
OUTPUT_BIASES = ("as_trained", "validation")
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
    model reads: ``timestep`` symbols, or the ``abc`` text one character per step. The meter-aware
    model alone reads ``batching`` (``BATCHINGS``) and, with ``attention_window`` > 0, attends over
    that many past steps with ``attention_heads`` heads of ``attention_dim`` (``meter_attention``),
    and, with ``batching`` "songs", weighs the training loss of the notes struck in the last bar
    (from the last downbeat on, the end symbol included) of each song told its length by
    ``final_bar_weight``, and of the holds there by ``final_bar_hold_weight`` (its rests weigh 1).
    Weighting the notes struck alone teaches the model to strike where a tune holds its last note.
    ``input_noise`` (the meter-aware model's, with ``batching`` "songs") is the share of the input
    pitch symbols of each training song replaced by a pitch drawn uniformly from the vocabulary's,
    afresh each epoch (the targets stay), so that the model leans less on a run it has seen verbatim.
    ``output_bias`` "validation" moves the trained model's output bias to the offset that minimises
    the validation split's loss (``OUTPUT_BIASES``), before the final evaluation and the export.
    """

    # The field a run may not override (``trainer.presets.resolve``): it picks the builder.
    FIXED_FIELDS: ClassVar[tuple[str, ...]] = ("architecture",)
    # Fields that shape the weights: a resumed run must keep them.
    ARCHITECTURE_FIELDS: ClassVar[tuple[str, ...]] = (
        "architecture", "feature", "units", "layers", "input_encoding", "embedding_dim",
        "attention_window", "attention_heads", "attention_dim",
    )

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
    batching: str = "stream"
    attention_window: int = 0
    attention_heads: int = 2
    attention_dim: int = 16
    final_bar: str = "as_written"
    final_bar_weight: float = 1.0
    final_bar_hold_weight: float = 1.0
    input_noise: float = 0.0
    output_bias: str = "as_trained"

    @property
    def model_kind(self) -> str:
        """The serving contract's model kind of this model (from ``feature``)."""
        return MODEL_KINDS[self.feature]

    def __post_init__(self) -> None:
        presets.check_at_least(self, 1, ("units", "layers", "window", "batch_size", "shuffle_songs", "shuffle_windows",
                                         "attention_heads", "attention_dim"))
        presets.check_at_least(self, 0, ("epochs", "patience", "steps_per_epoch", "attention_window"))
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.feature not in FEATURES:
            raise ValueError(f"feature {self.feature!r} is not one of {FEATURES}")
        if self.batching not in BATCHINGS:
            raise ValueError(f"batching {self.batching!r} is not one of {BATCHINGS}")
        if self.final_bar not in FINAL_BARS:
            raise ValueError(f"final_bar {self.final_bar!r} is not one of {FINAL_BARS}")
        for name in ("final_bar_weight", "final_bar_hold_weight"):
            weight = getattr(self, name)
            if weight <= 0:
                raise ValueError(f"{name} must be > 0, got {weight!r}")
            if weight != 1.0 and self.batching != "songs":
                raise ValueError(f"{name}={weight!r} weighs a whole song's last bar: it needs "
                                 f"batching='songs', got {self.batching!r}")
        if not 0.0 <= self.input_noise < 1.0:
            raise ValueError(f"input_noise must be in [0, 1), got {self.input_noise!r}")
        if self.input_noise and self.batching != "songs":
            raise ValueError(f"input_noise={self.input_noise!r} noises whole training songs: it needs "
                             f"batching='songs', got {self.batching!r}")
        if self.architecture != "lstm_meter" and (self.batching != "stream" or self.attention_window
                                                  or self.final_bar != "as_written"):
            raise ValueError(f"batching={self.batching!r}, attention_window={self.attention_window!r} and "
                             f"final_bar={self.final_bar!r} are the meter-aware model's; architecture "
                             f"{self.architecture!r} takes none of them")
        if self.output_bias not in OUTPUT_BIASES:
            raise ValueError(f"output_bias {self.output_bias!r} is not one of {OUTPUT_BIASES}")
        if self.input_encoding not in INPUT_ENCODINGS:
            raise ValueError(
                f"input_encoding {self.input_encoding!r} is not one of {INPUT_ENCODINGS}"
            )
        if self.input_encoding == "embedding" and self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {self.embedding_dim!r}")


# The slides' model: one-hot of the 38 symbols, LSTM(256), dropout, dense softmax; the
# tutorial's Adam 1e-3, batch 64, 64-step windows, up to 50 epochs.
presets.register("lstm", TrainConfig(architecture="lstm"))
# The slides' random-generation baseline: training-split symbol frequencies, nothing to fit.
presets.register("random", TrainConfig(architecture="random", epochs=0))
# Issue 13's meter-aware timestep LSTM: the slides' model with each step's position in the bar,
# meter, mode and bars left beside the symbol, and attention over the tune's last 256 steps (2
# heads of 16), trained on whole tunes from their start (trainer.token_models.meter_lstm). The
# committed lstm_meter_han adds --set final_bar=complete (each tune held to its final bar line) and
# --set output_bias=validation (its softmax bias then fitted on the validation split), and
# lstm_meter_erk is the preset's model fine-tuned with that, --set final_bar_weight=100 and --set
# final_bar_hold_weight=30 (its cadences); the first version: --set batching=stream --set window=64
# --set attention_window=0.
presets.register("lstm_meter", TrainConfig(architecture="lstm_meter", batching="songs", window=512,
                                           attention_window=256, attention_heads=2, attention_dim=16))
# The report's character-level ABC model: Embedding(16) -> LSTM(64) -> Dense, Adam 1e-3, batch 8,
# 25 epochs; trained here on windows of the tune stream instead of every tune padded to the
# longest one.
presets.register("abc_lstm_seed", TrainConfig(
    architecture="lstm", feature="abc", input_encoding="embedding", embedding_dim=16, units=64,
    dropout=0.0, window=256, batch_size=8, epochs=25, patience=3,
))
# Our default character model: wider and two layers deep, so that it keeps count of a bar's
# length and of a tune's sections over a 256-character window.
presets.register("abc_lstm", TrainConfig(
    architecture="lstm", feature="abc", input_encoding="embedding", embedding_dim=32, units=256, layers=2,
    dropout=0.1, window=256, batch_size=32, learning_rate=2e-3, epochs=40, patience=3,
))


def resolve_config(preset: str, overrides: Mapping[str, str] | None = None) -> TrainConfig:
    """``trainer.presets.resolve`` narrowed to a token preset; ValueError for a preset of another family."""
    config = presets.resolve(preset, overrides)
    if not isinstance(config, TrainConfig):
        raise ValueError(f"preset {preset!r} is a {type(config).__name__}, not a token model's TrainConfig")
    return config
