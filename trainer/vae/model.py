"""The dense VAE of the slides, trained separately on `notes` and on `rhythms` codes.

Encoder: Dense(hidden) -> LeakyReLU(0.2) -> Dense(hidden) -> LeakyReLU(0.2) -> two heads
(mean, log-variance), each Dense(latent). Decoder: Dense(hidden) -> LeakyReLU(0.2) ->
Dense(hidden) -> LeakyReLU(0.2) -> Dense(output) -> Sigmoid (slides) or a softmax per position
over the code alphabet (the ``*_cat`` presets). ``B`` is the batch, ``L`` the fixed length,
``Z`` the latent size, ``C`` the alphabet size.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import time
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from trainer.vae import data as vae_data
from trainer.vae import export as vae_export
from trainer.vae import metrics as vae_metrics

logger = logging.getLogger(__name__)

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
        if self.overflow not in vae_data.OVERFLOW_POLICIES:
            raise ValueError(f"unknown overflow policy {self.overflow!r}; expected one of {vae_data.OVERFLOW_POLICIES}")
        for field in ("length", "hidden_dim", "latent_dim", "epochs", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        for field in ("learning_rate", "weight_decay", "kl_weight", "kl_warmup_epochs", "patience"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")
        if self.learning_rate == 0:
            raise ValueError("learning_rate must be > 0, got 0")


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


# Fields a run may not override: they name the preset's model and its data.
FIXED_FIELDS = ("name", "kind")


def resolve_vae_config(preset: str, overrides: Mapping[str, str] | None = None) -> VaeConfig:
    """The named VAE preset with ``overrides`` (field name -> flag string) parsed and applied.

    ValueError names an unknown preset, an unknown or fixed field, or a value of the wrong type.
    """
    if preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {preset!r}; known VAE presets: {sorted(VAE_PRESETS)}")
    fields = {field.name: field for field in dataclasses.fields(VaeConfig)}
    values: dict[str, object] = {}
    for name, text in (overrides or {}).items():
        if name not in fields:
            raise ValueError(f"unknown VAE config field {name!r}; known fields: {sorted(fields)}")
        if name in FIXED_FIELDS:
            raise ValueError(f"field {name!r} is fixed by the preset; pick another --model")
        parse = {"int": int, "float": float, "str": str}[str(fields[name].type)]
        try:
            values[name] = parse(text)
        except ValueError:
            raise ValueError(f"field {name!r} expects {parse.__name__}, got {text!r}") from None
    return dataclasses.replace(VAE_PRESETS[preset], **values)


def reparameterize(mean: tf.Tensor, logvar: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """z = mean + sigma * eps with sigma = exp(logvar / 2); all [B, Z].

    The slides write ``z = mean + logvar * eps``: that is a bug (the noise scale would be the
    log-variance itself, negative or zero for small variances); the standard deviation is
    ``exp(0.5 * logvar)``.
    """
    return mean + tf.exp(0.5 * logvar) * eps


def kl_divergence(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per row: [B, Z] -> [B]."""
    return -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mean) - tf.exp(logvar), axis=-1)


def _dense_stack(hidden_dim: int, name: str) -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.Dense(hidden_dim, name=f"{name}_fc1"),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Dense(hidden_dim, name=f"{name}_fc2"),
            keras.layers.LeakyReLU(negative_slope=0.2),
        ],
        name=name,
    )


def _codes_of(data) -> tf.Tensor:
    """The int32 codes [B, L] of a batch: a bare tensor (``fit``) or an ``(x, y, weights)`` tuple."""
    return data[0] if isinstance(data, (tuple, list)) else data


class Vae(keras.Model):
    """Dense VAE over integer code rows [B, L]; see the module docstring for the layers."""

    def __init__(self, config: VaeConfig, **kwargs):
        super().__init__(name=config.name, **kwargs)
        self.config = config
        self.alphabet = vae_data.alphabet_for(config.kind)
        outputs_per_position = 1 if config.output == "sigmoid" else self.alphabet.size
        self.encoder_body = _dense_stack(config.hidden_dim, "encoder")
        self.fc_mean = keras.layers.Dense(config.latent_dim, name="fc_mean")
        self.fc_logvar = keras.layers.Dense(config.latent_dim, name="fc_logvar")
        self.decoder_body = _dense_stack(config.hidden_dim, "decoder")
        self.fc_output = keras.layers.Dense(config.length * outputs_per_position, name="fc_output")
        self.kl_weight = keras.Variable(config.kl_weight, trainable=False, name="kl_weight", dtype="float32")
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("reconstruction_loss", "kl_loss", "total_loss")
        }
        table = np.full(self.alphabet.high + 1, -1, np.int32)
        table[list(self.alphabet.codes)] = np.arange(self.alphabet.size, dtype=np.int32)
        self._code_to_index = tf.constant(table)
        self._codes = tf.constant(self.alphabet.codes, tf.int32)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def code_indices(self, codes: tf.Tensor) -> tf.Tensor:
        """int32 codes [B, L] (valid codes only) -> alphabet positions [B, L]."""
        return tf.gather(self._code_to_index, tf.cast(codes, tf.int32))

    def encoder_inputs(self, codes: tf.Tensor) -> tf.Tensor:
        """int32 codes [B, L] -> float32 [B, L] (normalised) or [B, L * C] (one-hot).

        Codes are cast to int32 first: Keras may trace ``call`` with float inputs on save.
        """
        codes = tf.cast(codes, tf.int32)
        if self.config.output == "sigmoid":
            low, high = float(self.alphabet.low), float(self.alphabet.high)
            return (tf.cast(codes, tf.float32) - low) / (high - low)
        one_hot = tf.one_hot(self.code_indices(codes), self.alphabet.size, dtype=tf.float32)
        return tf.reshape(one_hot, [-1, self.config.length * self.alphabet.size])

    def encode(self, codes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """int32 codes [B, L] -> (mean [B, Z], logvar [B, Z])."""
        hidden = self.encoder_body(self.encoder_inputs(codes))
        return self.fc_mean(hidden), self.fc_logvar(hidden)

    def decode_logits(self, z: tf.Tensor) -> tf.Tensor:
        """z [B, Z] -> logits [B, L] (sigmoid output) or [B, L, C] (categorical output)."""
        logits = self.fc_output(self.decoder_body(z))
        if self.config.output == "sigmoid":
            return logits
        return tf.reshape(logits, [-1, self.config.length, self.alphabet.size])

    def decode(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        """z [B, Z] -> {"codes": int32 [B, L], "values": float32 [B, L]} (sigmoid output) or
        {"codes": int32 [B, L], "probabilities": float32 [B, L, C]} (categorical output).

        Sigmoid values are de-normalised and rounded, so a code may fall outside the alphabet.
        """
        logits = self.decode_logits(z)
        if self.config.output == "sigmoid":
            values = tf.sigmoid(logits)
            low, high = float(self.alphabet.low), float(self.alphabet.high)
            codes = tf.cast(tf.round(values * (high - low) + low), tf.int32)
            return {"codes": codes, "values": values}
        probabilities = tf.nn.softmax(logits, axis=-1)
        codes = tf.gather(self._codes, tf.argmax(logits, axis=-1, output_type=tf.int32))
        return {"codes": codes, "probabilities": probabilities}

    def call(self, codes: tf.Tensor, training: bool = False) -> tf.Tensor:
        """int32 codes [B, L] -> decoder logits (see ``decode_logits``); z = mean when not training."""
        mean, logvar = self.encode(codes)
        z = self.sample_z(mean, logvar) if training else mean
        return self.decode_logits(z)

    def sample_z(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        eps = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        return reparameterize(mean, logvar, eps)

    def reconstruction_loss(self, codes: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """Per-row loss [B], summed over the L positions (padding included, as in the slides)."""
        if self.config.output == "sigmoid":
            targets = self.encoder_inputs(codes)
            per_position = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
        else:
            per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=self.code_indices(codes), logits=logits
            )
        return tf.reduce_sum(per_position, axis=-1)

    def _loss_terms(self, codes: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        mean, logvar = self.encode(codes)
        z = self.sample_z(mean, logvar) if training else mean
        reconstruction = tf.reduce_mean(self.reconstruction_loss(codes, self.decode_logits(z)))
        return reconstruction, tf.reduce_mean(kl_divergence(mean, logvar))

    def _record(self, reconstruction: tf.Tensor, kl: tf.Tensor, total: tf.Tensor) -> dict[str, tf.Tensor]:
        self.trackers["reconstruction_loss"].update_state(reconstruction)
        self.trackers["kl_loss"].update_state(kl)
        self.trackers["total_loss"].update_state(total)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data) -> dict[str, tf.Tensor]:
        codes = _codes_of(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self._loss_terms(codes, training=True)
            total = reconstruction + self.kl_weight * kl
        gradients = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._record(reconstruction, kl, total)

    def test_step(self, data) -> dict[str, tf.Tensor]:
        """Validation losses with the posterior sampled, as in training, and the full KL weight."""
        codes = _codes_of(data)
        mean, logvar = self.encode(codes)
        logits = self.decode_logits(self.sample_z(mean, logvar))
        reconstruction = tf.reduce_mean(self.reconstruction_loss(codes, logits))
        kl = tf.reduce_mean(kl_divergence(mean, logvar))
        return self._record(reconstruction, kl, reconstruction + self.config.kl_weight * kl)


class KlWarmup(keras.callbacks.Callback):
    """Ramps ``model.kl_weight`` linearly to ``config.kl_weight`` over ``kl_warmup_epochs``."""

    def __init__(self, config: VaeConfig):
        super().__init__()
        self.config = config

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        ramp = 1.0 if self.config.kl_warmup_epochs == 0 else min(1.0, (epoch + 1) / self.config.kl_warmup_epochs)
        self.model.kl_weight.assign(self.config.kl_weight * ramp)


def build_vae(config: VaeConfig) -> Vae:
    """A compiled, built VAE (weights and optimizer variables created)."""
    model = Vae(config)
    model(tf.fill([1, config.length], model.alphabet.pad_code))
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=config.learning_rate, weight_decay=config.weight_decay or None
        )
    )
    model.optimizer.build(model.trainable_variables)
    return model


def load_split(data_dir: str, split: str, config: VaeConfig) -> tuple[vae_data.PaddedCodes, list[int]]:
    """The padded rows of ``split`` and the unpadded length of every tune in it."""
    sequences, ids = vae_data.load_sequences(data_dir, split, config.kind)
    padded = vae_data.pad_codes(sequences, config.length, vae_data.alphabet_for(config.kind), config.overflow, ids)
    return padded, [len(sequence) for sequence in sequences]


def _training_callbacks(config: VaeConfig, job_dir: pathlib.Path, has_validation: bool) -> list:
    callbacks = [
        KlWarmup(config),
        keras.callbacks.BackupAndRestore(backup_dir=str(job_dir / "backup")),
        keras.callbacks.CSVLogger(str(job_dir / "history.csv"), append=True),
    ]
    if has_validation:
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                str(job_dir / "best.weights.h5"), monitor="val_total_loss", mode="min", save_best_only=True,
                save_weights_only=True,
            )
        )
        if config.patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_total_loss", mode="min", patience=config.patience, restore_best_weights=True
                )
            )
    return callbacks


def train_vae(config: VaeConfig, data_dir: str, job_dir: str, export_base: str | None = None) -> dict:
    """Trains ``config`` on a preprocessing output folder and returns the test metrics.

    Writes ``job_dir/{history.csv, best.weights.h5, final.weights.h5, metrics.json}`` (an
    interrupted run resumes from ``job_dir/backup``); with ``export_base``, also exports a new
    SavedModel version there (``metrics["export_path"]``). The final weights, evaluated and
    exported, are those of the best validation epoch when ``patience`` > 0, otherwise those of the
    last epoch (as in the slides).
    """
    job_path = pathlib.Path(job_dir)
    job_path.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    splits, all_lengths = {}, []
    for split in ("train", "validation", "test"):
        splits[split], lengths = load_split(data_dir, split, config)
        all_lengths.extend(lengths)
    if not len(splits["train"].codes):
        raise ValueError(f"no {config.kind} codes in the train split of {data_dir!r}")
    model = build_vae(config)
    train = tf.data.Dataset.from_tensor_slices(splits["train"].codes)
    train = train.shuffle(len(splits["train"].codes), seed=config.seed).batch(config.batch_size)
    has_validation = len(splits["validation"].codes) > 0
    validation = (
        tf.data.Dataset.from_tensor_slices(splits["validation"].codes).batch(config.batch_size)
        if has_validation else None
    )
    started = time.monotonic()
    history = model.fit(
        train, validation_data=validation, epochs=config.epochs, verbose=0, shuffle=False,  # tf.data shuffles
        callbacks=_training_callbacks(config, job_path, has_validation),
    )
    train_seconds = time.monotonic() - started
    model.save_weights(str(job_path / "final.weights.h5"))
    evaluated = splits["test"] if len(splits["test"].codes) else splits["validation"]
    metrics = vae_metrics.evaluate_vae(
        model, config.latent_dim, model.alphabet, evaluated, splits["train"], seed=config.seed
    )
    metrics.update(
        {
            "model": config.name,
            "coverage": vae_data.coverage(all_lengths, config.length),
            "truncated": sum(padded.truncated for padded in splits.values()),
            "epochs_run": len(history.history.get("total_loss", [])),
            "train_seconds": round(train_seconds, 2),
            **{key: float(values[-1]) for key, values in history.history.items()},
        }
    )
    if export_base is not None:
        metrics["export_path"] = str(vae_export.export_vae(model, config, export_base))
    (job_path / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    logger.info("%s trained in %.1fs: %s", config.name, train_seconds, metrics)
    return metrics
