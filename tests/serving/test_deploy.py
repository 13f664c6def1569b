"""The deployment files name only modules and flags that exist.

No Docker engine or cloud here: the files are parsed (PyYAML, the ModelServerConfig parser) and every
`python -m MODULE --flag` they name is checked against the module's real argparse (`--help`), Beam
flags against Beam's PipelineOptions, and TF Serving flags against `serving.server`, which keeps
tensorflow_model_server's flags. A module that does not exist fails the test.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import pytest
import yaml

from serving.model_server.registry import parse_model_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CLOUDBUILD = REPO_ROOT / "cloudbuild.yaml"
COMPOSE = REPO_ROOT / "serving" / "docker-compose.yaml"
TRAINER_DOCKERFILE = REPO_ROOT / "trainer" / "Dockerfile"
MODELS_CONFIG = REPO_ROOT / "serving" / "models.config"
DOCKER_MODELS_CONFIG = REPO_ROOT / "serving" / "models.docker.config"
MODEL_NAMES = {"lstm_erk", "lstm_han", "lstm_meter_erk", "lstm_meter_han", "random_erk", "abc_irish", "abc_folk",
               "vae_notes_erk", "vae_rhythms_erk", "vae_melody_erk"}
FLAG = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)")


def flag_names(arguments: list[str]) -> set[str]:
    """`--name` of every flag among command-line arguments (`--a=1`, `--b 2`)."""
    return {match.group(1) for argument in arguments for match in [FLAG.match(argument)] if match}


def help_flags(module: str) -> set[str]:
    """The flags `python -m MODULE --help` documents (fails if the module does not exist)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, f"python -m {module} --help failed:\n{process.stdout}\n{process.stderr}"
    return {match.group(1) for match in FLAG.finditer(process.stdout)}


def beam_flags() -> set[str]:
    """Every flag Beam's PipelineOptions knows (for entry points that pass unknown flags to Beam)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    return set(PipelineOptions([]).get_all_options(drop_default=False))


def cloudbuild_steps() -> dict[str, dict]:
    steps = yaml.safe_load(CLOUDBUILD.read_text())["steps"]
    return {step["id"]: step for step in steps}


def python_module_commands() -> list[tuple[str, list[str], str]]:
    """(module, arguments, where) for every `python -m MODULE ...` the deployment files run."""
    commands = []
    for step_id, step in cloudbuild_steps().items():
        args = [str(arg) for arg in step.get("args", [])]
        if step.get("entrypoint") == "python" and args[:1] == ["-m"]:
            commands.append((args[1], args[2:], f"cloudbuild step {step_id}"))
        for arg in args:
            for line in arg.splitlines():
                match = re.search(r"python3? -m ([\w.]+)(.*)", line)
                if match:
                    commands.append((match.group(1), match.group(2).split(), f"cloudbuild step {step_id}"))
    entrypoint = re.search(r"^ENTRYPOINT\s+(\[.*\])", TRAINER_DOCKERFILE.read_text(), re.MULTILINE)
    assert entrypoint, "trainer/Dockerfile has no exec-form ENTRYPOINT"
    words = yaml.safe_load(entrypoint.group(1))
    assert words[:2] == ["python", "-m"], words
    commands.append((words[2], words[3:], "trainer/Dockerfile"))
    return commands


def vertex_training_arguments() -> list[str]:
    """The `--args=` the Vertex AI job passes to the trainer image's entry point."""
    script = " ".join(str(arg) for arg in cloudbuild_steps()["train"]["args"])
    match = re.search(r"--args=(\S+)", script)
    assert match, "the train step passes no --args to the trainer"
    return match.group(1).split(",")


def tf_serving_arguments() -> dict[str, list[str]]:
    """Arguments given to tensorflow_model_server by docker-compose and by the Cloud Run deploy."""
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["tfserving"]
    deploy = [str(arg) for arg in cloudbuild_steps()["deploy-serving"]["args"]]
    (cloud_run_args,) = [arg[len("--args="):] for arg in deploy if arg.startswith("--args=")]
    return {"docker-compose": list(compose["command"]), "cloud run": cloud_run_args.split(",")}


def test_cloudbuild_runs_the_stages_in_order():
    order = list(cloudbuild_steps())
    for earlier, later in [("test", "build-trainer-image"), ("build-trainer-image", "preprocess"),
                           ("preprocess", "train"), ("train", "publish-model"), ("publish-model", "deploy-serving")]:
        assert order.index(earlier) < order.index(later)
    assert "make test" in cloudbuild_steps()["test"]["args"][-1]
    preprocess = cloudbuild_steps()["preprocess"]["args"]
    assert "DataflowRunner" in preprocess and "./setup.py" in preprocess
    assert (REPO_ROOT / "setup.py").is_file()


def test_every_python_module_and_flag_named_exists():
    commands = python_module_commands() + [("trainer.task", vertex_training_arguments(), "Vertex AI --args")]
    modules = sorted({module for module, _, _ in commands})
    assert {"preprocessing.run", "trainer.task"} <= set(modules)
    with futures.ThreadPoolExecutor(max_workers=len(modules)) as pool:
        known = dict(zip(modules, pool.map(help_flags, modules)))
    beam = beam_flags()
    for module, arguments, where in commands:
        source = (REPO_ROOT / Path(*module.split("."))).with_suffix(".py").read_text()
        passes_to_beam = "PipelineOptions" in source or "parse_known_args" in source
        for flag in flag_names(arguments):
            accepted = flag in known[module] or (passes_to_beam and flag in beam)
            assert accepted, f"{where}: python -m {module} has no flag --{flag}"


@pytest.mark.parametrize("where", ["docker-compose", "cloud run"])
def test_tf_serving_flags_exist_in_the_model_server(where):
    from serving.server import build_parser

    arguments = tf_serving_arguments()[where]
    assert {"port", "rest_api_port", "model_config_file"} <= flag_names(arguments)
    _, unknown = build_parser().parse_known_args(arguments)
    assert not unknown, f"{where}: tensorflow_model_server flags {unknown} are not ones serving.server has"


def test_model_configs_list_every_model_with_matching_paths():
    local = {config.name: config for config in parse_model_config(MODELS_CONFIG.read_text(), str(MODELS_CONFIG))}
    docker = {config.name: config for config in parse_model_config(DOCKER_MODELS_CONFIG.read_text(), str(DOCKER_MODELS_CONFIG))}
    assert set(local) == set(docker) == MODEL_NAMES
    for name in MODEL_NAMES:
        assert local[name].base_path == str(Path("saved_models", name).absolute())
        assert docker[name].base_path == f"/models/{name}"


def test_compose_mounts_exist_and_trainer_image_copies_existing_sources():
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["tfserving"]
    assert {"8500:8500", "8501:8501"} <= set(compose["ports"])
    mounts = dict(volume.split(":")[:2] for volume in compose["volumes"])
    assert mounts["../saved_models"] == "/models"
    assert mounts["./models.docker.config"] == "/config/models.config"
    assert (COMPOSE.parent / "models.docker.config").is_file()
    for source in re.findall(r"^COPY\s+(\S+)", TRAINER_DOCKERFILE.read_text(), re.MULTILINE):
        assert (REPO_ROOT / source).exists(), f"trainer/Dockerfile copies missing {source}"
