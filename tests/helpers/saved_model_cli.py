"""Run TensorFlow's own `saved_model_cli run` on SavedModel signatures, in a fresh process.

`saved_model_cli run` loads a SavedModel the way `tensorflow_model_server` does (a session over
the `serve` MetaGraph, variables restored by the graph's restore op), so an export that passes
here passes there. Inputs travel as an `.npz` file, outputs come back as the `.npy` files the CLI
writes with `--outdir`. ``run_signature`` runs the `saved_model_cli` binary for one signature;
``check_every_signature`` runs the CLI's `run` steps for all of an export's signatures in one
process (``saved_model_cli_runs.py``), which pays TensorFlow's import once instead of per signature;
``check_exports`` does the same for several exports in one process.
"""
from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from serving.contract import bar_rules
from serving.contract import signatures as sig
from serving.contract.bar_position import TuneFrame, meter_index
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.tune_request import TuneRequest
from serving.tensors import text_of

SAVED_MODEL_CLI = pathlib.Path(sys.executable).with_name("saved_model_cli")
CLI_RUNS = pathlib.Path(__file__).with_name("saved_model_cli_runs.py")
FAILURE_FILE = "failure.txt"  # saved_model_cli_runs.py: the traceback of an export whose call failed
CALL_TIMEOUT_S = 300
_CLI_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}


def _inputs_flag(signature: str, inputs: Mapping[str, np.ndarray], workdir: pathlib.Path) -> str:
    """The CLI's `--inputs` string for ``inputs``, saved as ``workdir/<signature>-inputs.npz``; "" for none."""
    if not inputs:
        return ""
    feed = workdir / f"{signature}-inputs.npz"
    np.savez(feed, **inputs)
    return ";".join(f"{name}={feed}[{name}]" for name in inputs)


def cli_outputs(workdir: pathlib.Path, signature: str) -> dict[str, np.ndarray]:
    """The outputs by name that a run wrote for ``signature`` under ``workdir``."""
    return {path.stem: np.load(path, allow_pickle=True) for path in (workdir / f"{signature}-outputs").glob("*.npy")}


def run_signature(export_dir: pathlib.Path, signature: str, inputs: Mapping[str, np.ndarray],
                  workdir: pathlib.Path) -> dict[str, np.ndarray]:
    """The signature's outputs by name from the `saved_model_cli` binary; AssertionError with its stderr if it fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    flag = _inputs_flag(signature, inputs, workdir)
    feed_flags = ["--inputs", flag] if flag else ["--input_exprs", ";"]  # the CLI wants an input flag
    command = [str(SAVED_MODEL_CLI), "run", "--dir", str(export_dir), "--tag_set", "serve", "--signature_def",
               signature, *feed_flags, "--outdir", str(workdir / f"{signature}-outputs"), "--overwrite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CALL_TIMEOUT_S, env=_CLI_ENV)
    assert done.returncode == 0, f"saved_model_cli run {signature} on {export_dir} failed:\n{done.stderr[-3000:]}"
    return cli_outputs(workdir, signature)


def _group(export_dir: pathlib.Path, calls: Mapping[str, Mapping[str, np.ndarray]],
           workdir: pathlib.Path) -> list[str]:
    """The runner's arguments for one export: its folder, its workdir, then `SIGNATURE=INPUTS` per call."""
    workdir.mkdir(parents=True, exist_ok=True)
    flags = [f"{name}={_inputs_flag(name, inputs, workdir)}" for name, inputs in calls.items()]
    return [str(export_dir), str(workdir), *flags]


def _run_groups(groups: list[list[str]], calls: int) -> subprocess.CompletedProcess:
    """``saved_model_cli_runs.py`` over every group, in one fresh process."""
    arguments = [argument for index, group in enumerate(groups)
                 for argument in [*(["--next"] if index else []), *group]]
    return subprocess.run([sys.executable, str(CLI_RUNS), *arguments], capture_output=True, text=True,
                          timeout=CALL_TIMEOUT_S * calls, env=_CLI_ENV)


def example_inputs(loaded, signature: str) -> dict[str, np.ndarray]:
    """Valid inputs (batch of 2) for a contract signature of a model loaded with `tf.saved_model.load`."""
    rng = np.random.default_rng(5)
    if signature in (sig.VOCABULARY, sig.INFO, sig.TRAINING_INDEX, sig.TUNE_FRAMES):
        return {}
    if signature in (sig.STEP, sig.GENERATE):
        vocabulary = loaded.signatures[sig.VOCABULARY]()
        symbols = [text_of(symbol) for symbol in vocabulary[sig.SYMBOLS].numpy()]
        size = len(symbols)
        frame = TuneFrame(bar_steps=12, pickup=4, meter=meter_index("3/4"), length=48)  # a meter-aware model's
        conditioned = sig.CONDITIONING in vocabulary
        if signature == sig.STEP:
            state_size = loaded.signatures[sig.STEP].structured_input_signature[1][sig.STATE].shape[1]
            return {sig.TOKEN: np.array([0, size - 1], np.int32),
                    sig.STATE: rng.normal(0, 0.5, [2, state_size]).astype(np.float32),
                    **(frame.step_inputs(np.array([0, 13])) if conditioned else {})}
        rules = [None, None]
        if text_of(vocabulary[sig.MODEL_KIND].numpy()) == sig.TOKEN_TIMESTEP:
            constraints = TimestepConstraints(TuneRequest(bars=2), symbols)  # row 0 under bar rules
            rules[0] = constraints.rules(*constraints.bar_limits(3, 40))
        return {
            **bar_rules.rule_inputs(rules, size),
            sig.PRIMER: rng.integers(3, size, [2, 3]).astype(np.int32),
            sig.PRIMER_LENGTH: np.array([3, 1], np.int32),
            sig.STEPS: np.array([40, 7], np.int32),
            sig.TEMPERATURE: np.array([1.0, 0.8], np.float32),
            sig.TOP_K: np.array([0, 5], np.int32),
            sig.TOP_P: np.array([0.9, 1.0], np.float32),
            sig.SEED: np.array([11, -3], np.int32),
            **(frame.generate_inputs(2) if conditioned else {}),
        }
    info = {name: value.numpy() for name, value in loaded.signatures[sig.INFO]().items()}
    if signature == sig.DECODE:
        return {sig.Z: rng.normal(0, 1, [2, int(info[sig.LATENT_DIM])]).astype(np.float32)}
    if signature == sig.SAMPLE:
        return {sig.SEED: np.array([4, 2**31 - 1], np.int32)}
    if sig.RHYTHM_ALPHABET in info:  # the joint melody VAE: both codes and the lengths
        length = int(info[sig.LENGTH])
        return {sig.NOTES: rng.choice(info[sig.ALPHABET], [2, length]).astype(np.int32),
                sig.RHYTHMS: rng.choice(info[sig.RHYTHM_ALPHABET], [2, length]).astype(np.int32),
                sig.LENGTH: np.array([length, 3], np.int32)}
    return {sig.CODES: rng.choice(info[sig.ALPHABET], [2, int(info[sig.LENGTH])]).astype(np.int32)}


def in_process_outputs(loaded, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same call through the object-graph loader, in this process."""
    answer = loaded.signatures[signature](**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: np.asarray(value.numpy()) for name, value in answer.items()}


def assert_same_outputs(cli: Mapping[str, np.ndarray], here: Mapping[str, np.ndarray], where: str) -> None:
    """Same names; integers and strings equal, floats within float32 rounding."""
    assert sorted(cli) == sorted(here), where
    for name, expected in here.items():
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(cli[name], expected, rtol=1e-5, atol=1e-6, err_msg=f"{where}: {name}")
        else:
            np.testing.assert_array_equal(cli[name].astype(expected.dtype), expected, err_msg=f"{where}: {name}")


def check_exports(exports: Mapping[str, tuple[pathlib.Path, Sequence[str]]], workdir: pathlib.Path) -> dict[str, str]:
    """Per export name: "" when each of its signatures under `saved_model_cli run`'s steps gave the
    outputs of `tf.saved_model.load` here, else what differed or the CLI's traceback. One fresh
    process runs every export (each in its own graph and session), paying TensorFlow's import once."""
    expected, groups = {}, []
    for name, (export_dir, signatures) in exports.items():
        loaded = tf.saved_model.load(str(export_dir))
        calls = {signature: example_inputs(loaded, signature) for signature in signatures}
        expected[name] = {signature: in_process_outputs(loaded, signature, inputs)
                          for signature, inputs in calls.items()}
        groups.append(_group(export_dir, calls, workdir / name))
    done = _run_groups(groups, sum(map(len, expected.values())))
    failures = {name: workdir / name / FAILURE_FILE for name in exports}
    assert done.returncode == 0 or any(path.is_file() for path in failures.values()), \
        f"saved_model_cli runs of {list(exports)} died:\n{done.stderr[-3000:]}"
    problems = {}
    for name, (export_dir, _) in exports.items():
        if failures[name].is_file():
            problems[name] = f"saved_model_cli run on {export_dir} failed:\n{failures[name].read_text()[-3000:]}"
            continue
        try:
            for signature, here in expected[name].items():
                assert_same_outputs(cli_outputs(workdir / name, signature), here, f"{export_dir} {signature}")
        except AssertionError as error:
            problems[name] = str(error)
        else:
            problems[name] = ""
    return problems


def check_every_signature(export_dir: pathlib.Path, signatures: list[str], workdir: pathlib.Path) -> None:
    """Each signature under `saved_model_cli run`'s steps against `tf.saved_model.load` here."""
    problem = check_exports({"export": (export_dir, signatures)}, workdir)["export"]
    assert not problem, problem
