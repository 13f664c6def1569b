"""Presets, overrides from flags, and the errors naming bad values."""
import dataclasses

import pytest

from trainer.token_models.config import PRESETS, TrainConfig, parse_assignments, register_preset, resolve_config


def test_lstm_preset_holds_the_seed_hyperparameters():
    config = resolve_config("lstm")
    assert (config.architecture, config.units, config.dropout, config.window) == ("lstm", 256, 0.2, 64)
    assert (config.batch_size, config.learning_rate, config.input_encoding) == (64, 1e-3, "one_hot")
    assert config.epochs == 50 and config.patience > 0


def test_random_preset_trains_nothing():
    assert resolve_config("random").architecture == "random"
    assert resolve_config("random").epochs == 0


def test_overrides_are_parsed_by_field_type_and_leave_the_preset_alone():
    config = resolve_config("lstm", parse_assignments(["units=128", "epochs=3", "dropout=0.5", "input_encoding=embedding"]))
    assert (config.units, config.epochs, config.dropout, config.input_encoding) == (128, 3, 0.5, "embedding")
    assert PRESETS["lstm"].units == 256
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.units = 1


@pytest.mark.parametrize(
    ("preset", "overrides", "named"),
    [
        ("transformer", {}, "'transformer'"),
        ("lstm", {"unitz": "3"}, "'unitz'"),
        ("lstm", {"units": "many"}, "'many'"),
        ("lstm", {"dropout": "1.5"}, "1.5"),
        ("lstm", {"units": "0"}, "units"),
        ("lstm", {"input_encoding": "bytes"}, "'bytes'"),
        ("lstm", {"architecture": "random"}, "architecture"),
    ],
)
def test_bad_presets_and_fields_raise_value_error_naming_them(preset, overrides, named):
    with pytest.raises(ValueError, match=named):
        resolve_config(preset, overrides)


@pytest.mark.parametrize("assignment", ["units", "=3", ""])
def test_malformed_assignments_are_named(assignment):
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_assignments([assignment])


def test_a_new_preset_can_be_registered_once():
    name = "test_only_small_lstm"
    register_preset(name, TrainConfig(architecture="lstm", units=8, layers=2))
    try:
        assert resolve_config(name, {"epochs": "1"}).layers == 2
        with pytest.raises(ValueError, match=name):
            register_preset(name, TrainConfig(architecture="lstm"))
    finally:
        del PRESETS[name]
