"""The one preset registry and --set parser, for the token models and the VAEs alike."""
import dataclasses

import pytest

from trainer import presets
from trainer.presets import parse_assignments, resolve
from trainer.token_models.config import TrainConfig, resolve_config
from trainer.vae.config import VaeConfig


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
    assert presets.get("lstm").units == 256
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
    presets.register(name, TrainConfig(architecture="lstm", units=8, layers=2))
    try:
        assert resolve_config(name, {"epochs": "1"}).layers == 2
        with pytest.raises(ValueError, match=name):
            presets.register(name, TrainConfig(architecture="lstm"))
    finally:
        presets.unregister(name)


def test_one_registry_holds_every_family():
    names = presets.names()
    assert {"lstm", "random", "abc_lstm_seed", "abc_lstm"} <= set(names)
    assert {"vae_notes", "vae_rhythms", "vae_notes_cat", "vae_rhythms_cat"} <= set(names)
    assert isinstance(resolve("lstm"), TrainConfig) and isinstance(resolve("vae_notes_cat"), VaeConfig)


def test_vae_overrides_are_parsed_by_field_type():
    config = resolve("vae_notes", {"latent_dim": "8", "learning_rate": "0.01", "output": "categorical"})
    assert (config.latent_dim, config.learning_rate, config.output) == (8, 0.01, "categorical")
    assert config.kind == "notes" and config.hidden_dim == presets.get("vae_notes").hidden_dim


@pytest.mark.parametrize(
    ("preset", "field", "message"),
    [
        ("lstm", "kind", "unknown config field 'kind' for preset 'lstm'"),
        ("vae_notes", "units", "unknown config field 'units' for preset 'vae_notes'"),
        ("lstm", "architecture", "field 'architecture' is fixed by the preset"),
        ("vae_notes", "kind", "field 'kind' is fixed by the preset"),
        ("vae_rhythms_cat", "name", "field 'name' is fixed by the preset"),
    ],
)
def test_the_registry_refuses_unknown_and_fixed_fields_of_either_family(preset, field, message):
    with pytest.raises(ValueError, match=message):
        resolve(preset, {field: "x"})


@pytest.mark.parametrize(
    ("assignment", "message"),
    [("latent_dim=big", "field 'latent_dim' expects int, got 'big'"), ("output=softmax", "unknown VAE output 'softmax'")],
)
def test_bad_vae_values_are_named(assignment, message):
    with pytest.raises(ValueError, match=message):
        resolve("vae_notes_cat", parse_assignments([assignment]))


def test_a_vae_preset_is_not_a_token_config():
    with pytest.raises(ValueError, match="'vae_notes' is a VaeConfig"):
        resolve_config("vae_notes")


def test_only_config_dataclasses_register():
    with pytest.raises(ValueError, match="'plain'"):
        presets.register("plain", {"units": 3})
