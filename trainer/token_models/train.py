"""Training a token model (LSTM, random baseline) through the shared machinery of ``trainer.fitting``.

Besides the files ``trainer.fitting`` writes (``best.keras``, ``last.keras``), the checkpoint
dir holds the run's ``vocabulary.tsv``; a resumed run must keep it and the architecture.
With ``init_from`` (an export, ``trainer.token_models.init_from``) the run fine-tunes: the
vocabulary is the export's and the first weights are its weights. Tunes of the training or
validation split holding a symbol outside the vocabulary are dropped, each written to
``<job-dir>/dead_letters.jsonl`` naming its symbols; a split left with no tune is refused.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

import keras
import tensorflow as tf

from preprocessing import schema
from trainer import fitting
from trainer.files import write_text
from trainer.run_paths import RunPaths
from trainer.token_models import data, meter_data, output_bias
from trainer.token_models.builders import build_model
from trainer.token_models.config import TrainConfig
from trainer.token_models.init_from import SourceExport, assign_weights, read_export
from trainer.token_models.meter_lstm import ARCHITECTURE as METER_ARCHITECTURE
from trainer.token_models.training_index import build_training_index

logger = logging.getLogger(__name__)

MONITOR = "val_loss"


def _check_resume_state(config: TrainConfig, vocabulary: data.Vocabulary, paths: RunPaths) -> None:
    """Raises ValueError if an earlier attempt in these folders used another vocabulary or architecture."""
    vocabulary_path = os.path.join(paths.checkpoint_dir, schema.VOCABULARY_FILE)
    if tf.io.gfile.exists(vocabulary_path):
        saved = [symbol for symbol, _ in data.read_vocabulary_file(vocabulary_path)]
        if tuple(saved) != vocabulary.symbols:
            raise ValueError(
                f"checkpoint vocabulary {vocabulary_path!r} {saved} differs from the data's "
                f"{list(vocabulary.symbols)}; use another --job-dir / --checkpoint-dir"
            )
    fitting.check_saved_config(config, paths)


def dead_letters_outside(data_dir: str, vocabulary: data.Vocabulary) -> list[dict]:
    """The dead letters of the training and validation tunes outside ``vocabulary``, their count
    logged; ValueError, naming how many tunes and which symbols, if a split keeps none."""
    letters = []
    for split in ("train", "validation"):
        songs, outside = data.outside_vocabulary(data_dir, split, vocabulary)
        if outside:
            logger.warning("%s/%s: %d of %d tunes dropped for symbols outside the vocabulary: %s", data_dir, split,
                           len(outside), songs, data.symbol_tally(outside))
        if songs and len(outside) == songs:
            raise ValueError(f"all {songs} tunes of split {split!r} of {data_dir!r} hold {vocabulary.feature} "
                             f"symbols outside the model's vocabulary (tunes per symbol: {data.symbol_tally(outside)})")
        letters += outside
    return letters


def validate_inputs(
    config: TrainConfig, data_dir: str, paths: RunPaths, source: SourceExport | None = None
) -> tuple[data.Vocabulary, list[dict]]:
    """Every check that can fail before training; returns the run's vocabulary (the data's, or the
    export's) and the dead letters of the tunes outside it."""
    data.check_data_dir(data_dir)
    if config.architecture == METER_ARCHITECTURE:
        meter_data.check_features(data_dir)
    vocabulary = data.load_vocabulary(data_dir, config.feature)
    if source is not None:
        vocabulary = data.with_symbols(source.symbols, vocabulary)
    paths.check_export_path()
    _check_resume_state(config, vocabulary, paths)
    letters = dead_letters_outside(data_dir, vocabulary)
    for split in ("train", "validation"):
        if data.count_windows(data_dir, split, vocabulary, config.window) == 0:
            _, dropped = data.load_song_arrays(data_dir, split, vocabulary)
            raise ValueError(
                f"split {split!r} of {data_dir!r} is too short for one {config.window}-step window "
                f"(needs at least {2 * config.window} steps; {dropped} of its tunes were dropped for "
                f"{config.feature} symbols outside the vocabulary); "
                "lower window with --set window=N"
            )
    return vocabulary, letters


def train(
    config: TrainConfig,
    data_dir: str,
    paths: RunPaths,
    *,
    preset: str,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 2,
    init_from: str | None = None,
) -> dict:
    """Trains (or resumes) one run, from the weights of the export ``init_from`` if given; writes
    its outputs and returns the final metrics."""
    source = read_export(init_from, model_kind=config.model_kind) if init_from else None
    vocabulary, letters = validate_inputs(config, data_dir, paths, source)
    exporter = None
    if paths.export_path is not None and config.architecture == METER_ARCHITECTURE:
        from trainer.token_models.meter_export import export_meter_model as exporter  # noqa: PLC0415 (heavy, optional)
    elif paths.export_path is not None:
        from trainer.token_models.export import export_token_model as exporter  # noqa: PLC0415 (heavy, optional)

    paths.make_dirs()
    data.write_vocabulary_file(
        os.path.join(paths.checkpoint_dir, schema.VOCABULARY_FILE), list(zip(vocabulary.symbols, vocabulary.counts))
    )
    fitting.write_config(config, paths, preset=preset)
    if letters:
        lines = "".join(json.dumps(letter, ensure_ascii=False, sort_keys=True) + "\n" for letter in letters)
        write_text(os.path.join(paths.job_dir, schema.DEAD_LETTERS_FILE), lines)

    keras.utils.set_random_seed(config.seed)
    model = build_model(config, vocabulary.stream_counts(data.count_songs(data_dir, "train")))
    if source is not None:
        assign_weights(model, source)
    if config.output_bias == "validation":
        output_bias.softmax_layer(model)  # fails before training on a model without one
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    model.summary(print_fn=logger.info)
    batches = meter_data.window_batches if config.architecture == METER_ARCHITECTURE else data.window_batches
    train_batches = batches(data_dir, "train", vocabulary, config, training=True)
    val_batches = batches(data_dir, "validation", vocabulary, config, training=False)

    plan = fitting.FitPlan(MONITOR, config.epochs, config.patience, config.steps_per_epoch)
    if model.trainable_weights and config.epochs > 0:
        past = fitting.fit(model, train_batches, val_batches, paths, plan, callbacks=callbacks, verbose=verbose)
    else:
        past = fitting.read_history(os.path.join(paths.job_dir, fitting.HISTORY_FILE), MONITOR)
    fitted_bias = output_bias.fit_output_bias(model, val_batches) if config.output_bias == "validation" else None
    final = model.evaluate(val_batches, verbose=0, return_dict=True)
    metrics = {
        "preset": preset,
        "architecture": config.architecture,
        "parameter_count": model.count_params(),
        "vocab_size": vocabulary.size,
        "epochs": len(past.monitored),
        "best_epoch": past.best_epoch + 1,
        "train_time_s": round(past.seconds, 3),
        "best_val_loss": final["loss"],
        "best_val_accuracy": final["accuracy"],
        "data": data_dir,
        "init_from": source.path if source is not None else None,
        "output_bias": fitted_bias,
    }
    if exporter is not None:
        index = build_training_index(data_dir, config.feature).to_bytes()
        meter = config.architecture == METER_ARCHITECTURE
        extra = {"tune_frames": meter_data.frame_table(data_dir, vocabulary)} if meter else {}
        metrics["export"] = str(exporter(model, list(vocabulary.symbols), paths.export_path, model_kind=config.model_kind,
                                         training_index=index, **extra))
    fitting.write_json(os.path.join(paths.job_dir, fitting.METRICS_FILE), metrics)
    logger.info("metrics: %s", json.dumps(metrics))
    return metrics
