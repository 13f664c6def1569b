"""`folkgen web`'s entry point: its flags, a light import, and the refusals before anything is served."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from serving import cli, web
from serving.model_server.launcher import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    """``folkgen ARGV`` parsed by the console script's own parser."""
    return cli.build_parser().parse_args(list(argv))


def test_importing_the_web_command_loads_neither_tensorflow_nor_grpc():
    code = "import sys, serving.web; print(sorted(m for m in ('tensorflow', 'grpc', 'music21') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}).stdout
    assert out.strip() == "[]"


def test_the_web_command_takes_port_host_models_dir_and_the_server_flags():
    args = parse("web", "--port", "0", "--server", "localhost:8500", "--rest")
    assert (args.command, args.port, args.host, args.models_dir, args.server, args.rest) == \
        ("web", 0, "127.0.0.1", None, "localhost:8500", True)
    assert parse("web", "--models-dir", "/tmp/models").models_dir == "/tmp/models"
    defaults = parse("web")
    assert (defaults.port, defaults.host, defaults.server, defaults.models_dir) == (web.DEFAULT_PORT, "127.0.0.1", None, None)


def test_a_bad_port_is_refused_naming_it(capsys):
    assert web.run(parse("web", "--port", "70000")) == web.EXIT_ERROR
    assert capsys.readouterr().err == "folkgen: error: --port must be 0 to 65535, got 70000\n"


def test_a_models_folder_and_a_server_together_are_refused_naming_both(capsys):
    assert web.run(parse("web", "--models-dir", "/tmp/models", "--server", "localhost:8500")) == web.EXIT_ERROR
    error = capsys.readouterr().err
    assert error.startswith("folkgen: error: ") and "'/tmp/models'" in error and "'localhost:8500'" in error


def test_a_models_folder_without_token_models_is_refused_naming_it(tmp_path, capsys):
    assert web.run(parse("web", "--models-dir", str(tmp_path))) == web.EXIT_ERROR
    assert capsys.readouterr().err == f"folkgen: error: no token model available at {tmp_path}\n"
    missing = tmp_path / "missing"
    assert web.run(parse("web", "--models-dir", str(missing))) == web.EXIT_ERROR
    assert f"models folder {str(missing)!r} does not exist" in capsys.readouterr().err


def test_a_server_that_does_not_answer_is_refused_naming_it(capsys):
    port = free_port()
    assert web.run(parse("web", "--server", f"127.0.0.1:{port}", "--retry-seconds", "0", "--timeout", "2")) == \
        web.EXIT_ERROR
    error = capsys.readouterr().err
    assert error.startswith("folkgen: error: ") and f"127.0.0.1:{port}" in error
