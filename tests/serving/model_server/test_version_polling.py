"""Version-directory polling (issue 15): which folders are versions, retries, and serving without a gap.

Each test drives the polls itself (`registry.poll_all()` on a server started with
`--file_system_poll_wait_seconds 0`, or a short interval and a wait on a condition), over real
tiny SavedModels, and asks over gRPC as a client would.
"""
from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.model_server.host import ModelServer, ServerOptions
from serving.model_server.registry import ModelConfig, ModelRegistry
from tests.serving.model_server.test_server import (
    expected_tokens,
    export_tiny_token_model,
    generate_inputs,
    predict_request,
)

pytestmark = pytest.mark.server

OFFSETS = {1: 0, 2: 3}  # the `generate` offset of each exported version
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE
END = get_model_status_pb2.ModelVersionStatus.END


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions of the tiny token model, `1/` (offset 0) and `2/` (offset 3), to copy from."""
    root = tmp_path_factory.mktemp("exports")
    for version, offset in OFFSETS.items():
        export_tiny_token_model(root, version, offset=offset)
    return root


class Served:
    """A ModelServer in this process that polls only when told to, and its gRPC stubs."""

    def __init__(self, server: ModelServer, channel: grpc.Channel) -> None:
        self.server = server
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(channel)

    def poll(self) -> None:
        self.server.registry.poll_all()

    def served_version(self, model: str = "tiny") -> int:
        """The version that answers a Predict for the latest version, checked by its tokens."""
        response = self.predictions.Predict(predict_request(generate_inputs(), model=model), timeout=30)
        version = response.model_spec.version.value
        tokens = tf.make_ndarray(response.outputs["tokens"]).tolist()
        assert tokens == expected_tokens([[3, 4, 0], [5, 0, 0]], [2, 1], [4, 2], [7, 11], OFFSETS[version])
        return version

    def statuses(self, model: str = "tiny") -> dict[int, get_model_status_pb2.ModelVersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        return {s.version: s for s in self.models.GetModelStatus(request, timeout=30).model_version_status}


@contextlib.contextmanager
def serve(tmp_path: Path, bases: dict[str, Path]) -> Iterator[Served]:
    config = tmp_path / "models.config"
    entries = "".join(f"  config {{ name: '{name}' base_path: '{base}' }}\n" for name, base in bases.items())
    config.write_text(f"model_config_list {{\n{entries}}}\n")
    options = ServerOptions(model_config_file=config, port=0, rest_api_port=0, file_system_poll_wait_seconds=0)
    server = ModelServer(options)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            yield Served(server, channel)
    finally:
        server.stop(grace_seconds=0)


def copy_version(exports: Path, version: int, target: Path) -> Path:
    shutil.copytree(exports / str(version), target)
    return target


def copy_all_but(source: Path, target: Path, pattern: str) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(pattern), dirs_exist_ok=True)


def test_only_ascii_integer_folders_are_versions_and_polling_goes_on(exports: Path, tmp_path: Path) -> None:
    tiny, other = tmp_path / "tiny", tmp_path / "other"
    copy_version(exports, 1, tiny / "1")
    copy_version(exports, 1, other / "1")
    for name in ("²", "1a", "-3", " 7", "7 ", "+8", "٣", "99999999999999999999"):  # real SavedModels, not versions
        copy_version(exports, 2, tiny / name)
    with serve(tmp_path, {"tiny": tiny, "other": other}) as served:
        assert {v: s.state for v, s in served.statuses().items()} == {1: AVAILABLE}
        assert served.served_version() == 1
        copy_version(exports, 2, tiny / "2")
        copy_version(exports, 2, other / "002")  # leading zeros: still version 2, loaded from its own folder
        served.poll()
        assert served.served_version("tiny") == 2 and served.served_version("other") == 2
        assert set(served.statuses("tiny")) == {1, 2} and served.statuses("other")[2].state == AVAILABLE


def test_a_model_that_fails_to_poll_does_not_stop_the_others(
    exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_version(exports, 1, tmp_path / "tiny" / "1")
    configs = [ModelConfig("broken", str(tmp_path / "broken")), ModelConfig("tiny", str(tmp_path / "tiny"))]
    registry = ModelRegistry(configs, poll_wait_seconds=0.05)
    broken_polls = []

    def failing_poll() -> None:
        broken_polls.append(1)
        raise ValueError("invalid literal for int() with base 10: '²'")  # as `int()` on a `²` folder did

    monkeypatch.setattr(registry.models["broken"], "poll", failing_poll)
    registry.poll_all()
    assert set(registry.models["tiny"].servables()) == {1}
    copy_version(exports, 2, tmp_path / "tiny" / "2")
    registry.start_polling()
    try:
        deadline = time.monotonic() + 30
        while set(registry.models["tiny"].servables()) != {2} and time.monotonic() < deadline:
            time.sleep(0.05)
        polls_then = len(broken_polls)
        while len(broken_polls) == polls_then and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        registry.stop()
    assert set(registry.models["tiny"].servables()) == {2}
    assert len(broken_polls) > polls_then >= 2, "the failing model is polled on every pass too"


def _assert_failing_version_reported(served: Served, base: Path, code: grpc.StatusCode | None) -> None:
    status = served.statuses()[2]
    assert status.state == END and status.status.error_code != 0
    if code is not None:
        assert status.status.error_code == code.value[0]
    message = status.status.error_message
    assert message and str(base) not in message and str(base.parent) not in message, message


def test_a_version_copied_in_slowly_is_retried_on_every_poll_while_the_old_one_serves(
    exports: Path, tmp_path: Path
) -> None:
    base = tmp_path / "tiny"
    copy_version(exports, 1, base / "1")
    with serve(tmp_path, {"tiny": base}) as served:
        new, source = base / "2", exports / "2"
        graph = (source / "saved_model.pb").read_bytes()
        stages = [  # what the copy has done before each poll, and the code that poll reports
            (lambda: new.mkdir(), grpc.StatusCode.NOT_FOUND),
            (lambda: None, grpc.StatusCode.NOT_FOUND),
            (lambda: (new / "saved_model.pb").write_bytes(graph[: len(graph) // 2]), grpc.StatusCode.DATA_LOSS),
            (lambda: copy_all_but(source, new, "variables"), None),  # no variables yet
            (lambda: copy_all_but(source, new, "*.data-*"), None),  # the variables' index only
        ]
        for copy_more, code in stages:  # more failed attempts than the 3 the server used to give a version
            copy_more()
            served.poll()
            assert served.served_version() == 1
            assert served.statuses()[1].state == AVAILABLE
            _assert_failing_version_reported(served, base, code)
        assert "tiny/2" in served.statuses()[2].status.error_message  # the model and version instead of the path
        shutil.copytree(source, new, dirs_exist_ok=True)
        served.poll()
        assert served.served_version() == 2
        statuses = served.statuses()
        assert (statuses[2].state, statuses[2].status.error_code, statuses[2].status.error_message) == (
            AVAILABLE, 0, ""
        )
        assert statuses[1].state == END

        shutil.rmtree(base / "1")  # the old version deleted once the new one serves
        served.poll()
        assert served.served_version() == 2 and served.statuses()[2].state == AVAILABLE


def test_the_old_version_serves_until_the_new_one_loads_even_if_deleted(exports: Path, tmp_path: Path) -> None:
    base = tmp_path / "tiny"
    copy_version(exports, 1, base / "1")
    with serve(tmp_path, {"tiny": base}) as served:
        (base / "2").mkdir()
        served.poll()
        shutil.rmtree(base / "1")
        for _ in range(2):
            served.poll()
            assert served.served_version() == 1, "the only loaded version keeps serving"
            _assert_failing_version_reported(served, base, grpc.StatusCode.NOT_FOUND)
        shutil.rmtree(base / "2")
        copy_version(exports, 2, base / "2")
        served.poll()
        assert served.served_version() == 2
        assert {v: s.state for v, s in served.statuses().items()} == {1: END, 2: AVAILABLE}
