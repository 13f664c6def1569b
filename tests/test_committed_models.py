"""The SavedModels committed under saved_models/: loadable as they are (by the object-graph loader and by
the session-based one of tensorflow_model_server), of the kind they state."""
from __future__ import annotations

from concurrent import futures
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from preprocessing.melody.novelty import SharedRun, TrainingIndex
from serving.contract import bar_position as bp
from serving.contract import signatures as sig
from serving.contract.bar_position import FrameTable
from serving.contract.versions import latest_version_dir
from serving.model_server.servable import load_servable, run_warmup_requests
from tests.helpers.saved_model_cli import (
    assert_same_outputs,
    check_exports,
    cli_outputs,
    example_inputs,
    run_signature,
)

SAVED_MODELS = Path(__file__).resolve().parent.parent / "saved_models"
TOKEN_MODELS = {"lstm_erk": sig.TOKEN_TIMESTEP, "lstm_han": sig.TOKEN_TIMESTEP, "random_erk": sig.TOKEN_TIMESTEP,
                "abc_irish": sig.TOKEN_CHARACTERS, "abc_folk": sig.TOKEN_CHARACTERS,
                "lstm_meter_erk": sig.TOKEN_TIMESTEP,
                "lstm_meter_han": sig.TOKEN_TIMESTEP}
METER_AWARE = ("lstm_meter_erk", "lstm_meter_han")  # their step and generate take the conditioning inputs
VAES = {"vae_notes_erk": sig.VAE_NOTES, "vae_rhythms_erk": sig.VAE_RHYTHMS, "vae_melody_erk": sig.VAE_MELODY}


@pytest.mark.parametrize("name", sorted({**TOKEN_MODELS, **VAES}))
def test_an_export_holds_no_python_module_path_of_ours(name: str) -> None:
    graph = (Path(latest_version_dir(SAVED_MODELS / name)) / "saved_model.pb").read_bytes()
    assert [package for package in (b"preprocessing.", b"trainer.", b"serving.") if package in graph] == []


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(TOKEN_MODELS))
def test_a_token_model_states_its_kind_and_vocabulary(name: str) -> None:
    loaded = tf.saved_model.load(str(latest_version_dir(SAVED_MODELS / name)))
    answer = loaded.signatures[sig.VOCABULARY]()
    assert answer[sig.MODEL_KIND].numpy().decode() == TOKEN_MODELS[name]
    symbols = [symbol.decode() for symbol in answer[sig.SYMBOLS].numpy()]
    assert len(symbols) == len(set(symbols)) > 30
    stated = [name.decode() for name in answer[sig.CONDITIONING].numpy()] if sig.CONDITIONING in answer else []
    assert stated == (list(sig.STEP_CONDITIONING) if name in METER_AWARE else [])
    step_inputs = set(loaded.signatures[sig.STEP].structured_input_signature[1])
    assert step_inputs == {sig.TOKEN, sig.STATE, *stated}
    frames = [sig.TUNE_FRAMES] if name in METER_AWARE else []
    assert sorted(loaded.signatures) == sorted([*sig.TOKEN_SIGNATURES, sig.TRAINING_INDEX, *frames, sig.DEFAULT_SIGNATURE])


@pytest.mark.parametrize("name", sorted(METER_AWARE))
def test_a_meter_aware_model_ships_its_training_tunes_frames(name: str) -> None:
    loaded = tf.saved_model.load(str(latest_version_dir(SAVED_MODELS / name)))
    table = FrameTable.from_outputs({key: value.numpy() for key, value in loaded.signatures[sig.TUNE_FRAMES]().items()})
    assert len(table.bars) > 700 and (table.bars >= 1).all() and (table.bar_steps >= 1).all()  # han: 791 songs
    assert ((table.pickup >= 0) & (table.pickup < table.bar_steps)).all()
    common = np.bincount(table.meter).argmax()
    assert bp.METERS[common] in ("2/4", "4/4")  # erk's most common meter is 4/4, han's 2/4
    assert table.repeats is not None and 0.15 < (table.repeats >= 0).mean() < 0.35  # han: 24% of bars, erk: 23%


@pytest.mark.parametrize("name", sorted(TOKEN_MODELS))
def test_a_token_model_ships_its_training_index(name: str) -> None:
    loaded = tf.saved_model.load(str(latest_version_dir(SAVED_MODELS / name)))
    index = TrainingIndex.from_bytes(loaded.signatures[sig.TRAINING_INDEX]()[sig.INDEX].numpy())
    assert len(index.titles) == len(index.tunes) > 700 and all(index.tunes)  # han: 791 training songs
    # a training tune's own notes are found in it, whole, under its title
    assert index.longest_shared_run(index.tunes[7]) == SharedRun(len(index.tunes[7]), index.titles[7])


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(VAES))
def test_a_vae_states_its_kind(name: str) -> None:
    loaded = tf.saved_model.load(str(latest_version_dir(SAVED_MODELS / name)))
    info = loaded.signatures[sig.INFO]()
    assert sig.vae_model_kind(info[sig.KIND].numpy().decode()) == VAES[name]
    assert sorted(loaded.signatures) == sorted([*sig.VAE_SIGNATURES, sig.DEFAULT_SIGNATURE])


def _signatures(name: str) -> list[str]:
    if name not in TOKEN_MODELS:
        return list(sig.VAE_SIGNATURES)
    return [*sig.TOKEN_SIGNATURES, sig.TRAINING_INDEX, *([sig.TUNE_FRAMES] if name in METER_AWARE else [])]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """(per committed model what `saved_model_cli run`'s steps got wrong, "" for nothing; the folder
    holding each model's outputs): one process runs them all."""
    exports = {name: (Path(latest_version_dir(SAVED_MODELS / name)), _signatures(name))
               for name in {**TOKEN_MODELS, **VAES}}
    workdir = tmp_path_factory.mktemp("cli")
    return check_exports(exports, workdir), workdir


@pytest.mark.server
@pytest.mark.parametrize("name", sorted({**TOKEN_MODELS, **VAES}))
def test_saved_model_cli_runs_every_signature_of_a_committed_model(name: str, cli_run) -> None:
    """The session-based loader of tensorflow_model_server restores them, with the in-process outputs."""
    problems, _ = cli_run
    assert not problems[name], problems[name]


@pytest.mark.server
def test_the_saved_model_cli_binary_answers_as_its_run_steps_in_one_process(cli_run, tmp_path: Path) -> None:
    """The checks above run the CLI's `run` steps for every signature in one process: the same answers."""
    _, together = cli_run
    folder = Path(latest_version_dir(SAVED_MODELS / "lstm_meter_erk"))
    loaded = tf.saved_model.load(str(folder))
    names = (sig.VOCABULARY, sig.STEP)
    inputs = {name: example_inputs(loaded, name) for name in names}  # the same inputs on every call
    with futures.ThreadPoolExecutor(len(names)) as pool:  # the two binary runs side by side
        binary = dict(zip(names, pool.map(lambda name: run_signature(folder, name, inputs[name], tmp_path), names)))
    for name in names:
        expected = cli_outputs(together / "lstm_meter_erk", name)
        assert expected, name
        assert_same_outputs(binary[name], expected, name)


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(TOKEN_MODELS))
def test_the_warmup_requests_of_a_committed_model_replay(name: str) -> None:
    folder = Path(latest_version_dir(SAVED_MODELS / name))
    assert run_warmup_requests(load_servable(name, int(folder.name), str(folder))) == 2
