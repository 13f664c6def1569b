"""Model configs and version management, as TensorFlow Serving does it.

Each model has a base path holding integer version directories (`<base_path>/<version>/`, a
SavedModel each). A poller looks at every base path every `poll_wait_seconds`, loads new versions
in the background and switches to them atomically: a request resolves its servable once, holds a
reference to it, and so completes on the old version even if that version is unloaded meanwhile.
Directory names that are not ASCII integers (temp dirs of an export in progress, `²`, ` 7`) are
ignored. A base path that does not exist yet is logged and polled until it appears.

A version that fails to load (one still being copied in, say) is END with its error in
GetModelStatus and is tried again on every poll while its folder is there; the versions already
loaded keep serving until a wanted one has loaded, even if their folders are deleted meanwhile
(TF Serving's availability-preserving policy). One model's failure to poll is logged and never
stops the polling of the others.

Relative base paths are resolved against the server's current directory (as TF Serving does); a
URL base path (`gs://...`) is read through `tf.io.gfile`. How one version is loaded (a session
over its MetaGraph, as TF Serving does) is `servable.py`.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path
from typing import Any, Mapping

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.contract.versions import version_dirs
from serving.model_server.servable import Servable, load_servable
from serving.model_server.status_codes import load_error_code, load_error_message

LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
    """Which versions to serve: the latest `num_versions`, all of them, or a specific set."""

    kind: str = "latest"  # "latest" | "all" | "specific"
    num_versions: int = 1
    versions: frozenset[int] = frozenset()

    def candidates(self, versions: list[int]) -> list[int]:
        """The versions this policy may serve, highest first."""
        ordered = sorted(versions, reverse=True)
        if self.kind == "specific":
            return [version for version in ordered if version in self.versions]
        return ordered

    def choose(self, versions: list[int]) -> list[int]:
        """The versions to serve among the loaded `versions`, highest first."""
        chosen = self.candidates(versions)
        return chosen[: self.num_versions] if self.kind == "latest" else chosen


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One entry of a ModelServerConfig."""

    name: str
    base_path: str
    policy: VersionPolicy = VersionPolicy()
    version_labels: Mapping[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """A version's state as GetModelStatus reports it (LOADING, AVAILABLE, END) and any error.

    `error_code` is the `tensorflow.error.Code` number of the error that failed the load (0: OK);
    `error` its message, with the model's name where the server's base path was.
    """

    version: int
    state: str
    error: str = ""
    error_code: int = 0


def absolute_base_path(base_path: str | os.PathLike) -> str:
    """A local base path made absolute against the current directory; a URL (`gs://...`) as given."""
    text = os.fspath(base_path)
    return text if "://" in text else os.path.abspath(text)


def _policy_from_proto(proto: Any) -> VersionPolicy:
    which = proto.WhichOneof("policy_choice")
    if which == "all":
        return VersionPolicy(kind="all")
    if which == "specific":
        return VersionPolicy(kind="specific", versions=frozenset(int(v) for v in proto.specific.versions))
    if which == "latest" and proto.latest.num_versions > 0:
        return VersionPolicy(kind="latest", num_versions=proto.latest.num_versions)
    return VersionPolicy()


def parse_model_config(text: str, source: str = "<config>") -> list[ModelConfig]:
    """Parse a text-format ModelServerConfig (`model_config_list { config { ... } }`)."""
    proto = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as error:
        raise ValueError(f"{source}: not a text-format ModelServerConfig: {error}") from error
    if proto.WhichOneof("config") != "model_config_list":
        raise ValueError(f"{source}: expected a model_config_list")
    configs = []
    for entry in proto.model_config_list.config:
        if not entry.name or not entry.base_path:
            raise ValueError(f"{source}: every config needs a name and a base_path, got {entry}")
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(f"{source}: model {entry.name!r} has unsupported platform {entry.model_platform!r}")
        configs.append(
            ModelConfig(
                name=entry.name,
                base_path=absolute_base_path(entry.base_path),
                policy=_policy_from_proto(entry.model_version_policy),
                version_labels=dict(entry.version_labels),
            )
        )
    names = [config.name for config in configs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{source}: duplicate model names {duplicates}")
    return configs


def read_model_config_file(path: Path) -> list[ModelConfig]:
    """Read and parse a ModelServerConfig file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read --model_config_file {str(path)!r}: {error}") from error
    return parse_model_config(text, source=str(path))


class ModelVersions:
    """The versions of one model: which are loaded, and their states."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._servables: dict[int, Servable] = {}  # replaced, never mutated, under the lock
        self._statuses: dict[int, VersionStatus] = {}
        self._failed_attempts: dict[int, int] = {}
        self._warned_missing = False

    def servables(self) -> dict[int, Servable]:
        """A snapshot of the loaded versions."""
        return self._servables

    def statuses(self) -> dict[int, VersionStatus]:
        """A snapshot of every version seen so far and its state."""
        with self._lock:
            return dict(self._statuses)

    def _set_status(self, status: VersionStatus) -> None:
        with self._lock:
            self._statuses[status.version] = status

    def poll(self) -> None:
        """Load wanted versions not loaded yet (a failed one again), then unload the ones no longer wanted.

        Until a wanted version has loaded, the loaded versions keep serving. Raises what listing
        the base path raises.
        """
        folders = version_dirs(self.config.base_path)
        present = list(folders)
        if not present:
            if not self._warned_missing:
                LOGGER.warning(
                    "No versions of servable %s found under base path %s; waiting for one",
                    self.config.name, self.config.base_path,
                )
                self._warned_missing = True
            self._unload(list(self._servables))
            return
        self._warned_missing = False
        policy = self.config.policy
        wanted_count = policy.num_versions if policy.kind == "latest" else len(present)
        # Highest first; a version that fails to load is passed over for the next one.
        for version in policy.candidates(present):
            if len([v for v in self._servables if v in folders and v >= version]) >= wanted_count:
                break
            if version not in self._servables:
                self._load(version, folders[version])
        serving = policy.choose([v for v in present if v in self._servables])
        if not serving and policy.candidates(present):
            return  # nothing wanted has loaded yet: what is loaded keeps serving
        self._unload([version for version in self._servables if version not in serving])

    def _load(self, version: int, export_dir: str) -> None:
        name = self.config.name
        attempt = self._failed_attempts.get(version, 0) + 1
        if attempt == 1:
            LOGGER.info("Loading servable %s version %d from %s", name, version, export_dir)
            self._set_status(VersionStatus(version, "LOADING"))
        # A retry leaves the last failure's END status showing until it succeeds.
        try:
            servable = load_servable(name, version, export_dir)
        except Exception as error:  # a broken or half-copied export must not stop the server
            self._failed_attempts[version] = attempt
            message = load_error_message(error, self.config.base_path, name)
            previous = self.statuses().get(version)
            level = logging.DEBUG if previous is not None and previous.error == message else logging.ERROR
            LOGGER.log(level, "Loading %s version %d failed (attempt %d, tried again on every poll): %s",
                       name, version, attempt, error)
            self._set_status(VersionStatus(version, "END", message, load_error_code(error)))
            return
        self._failed_attempts.pop(version, None)
        with self._lock:
            self._servables = {**self._servables, version: servable}
            self._statuses[version] = VersionStatus(version, "AVAILABLE")
        LOGGER.info("Successfully loaded servable %s version %d%s", name, version,
                    f" (attempt {attempt})" if attempt > 1 else "")

    def _unload(self, versions: list[int]) -> None:
        if not versions:
            return
        with self._lock:
            self._servables = {v: s for v, s in self._servables.items() if v not in versions}
            for version in versions:
                self._statuses[version] = VersionStatus(version, "END")
        for version in versions:
            LOGGER.info("Unloaded servable %s version %d", self.config.name, version)


class ModelRegistry:
    """Every configured model, polled by one background thread."""

    def __init__(self, configs: list[ModelConfig], poll_wait_seconds: float = 1.0) -> None:
        self.models = {config.name: ModelVersions(config) for config in configs}
        self.poll_wait_seconds = poll_wait_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_errors: dict[str, str] = {}  # the last failure of each model that failed to poll

    def poll_all(self) -> None:
        """One pass over every base path; a model that fails to poll is logged and the others go on."""
        for name, model in self.models.items():
            try:
                model.poll()
            except Exception as error:  # one model's failure must never stop the polling of the others
                message = f"{type(error).__name__}: {error}"
                level = logging.DEBUG if self._poll_errors.get(name) == message else logging.ERROR
                LOGGER.log(level, "Polling servable %s under %s failed: %s", name, model.config.base_path, message,
                           exc_info=not isinstance(error, OSError))
                self._poll_errors[name] = message
            else:
                self._poll_errors.pop(name, None)

    def start_polling(self) -> None:
        """Poll every `poll_wait_seconds` in a daemon thread (0: the initial poll only)."""
        if self.poll_wait_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._poll_loop, name="model-poller", daemon=True)
        self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_wait_seconds):
            self.poll_all()

    def stop(self) -> None:
        """Stop polling (loaded models stay until the process ends)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
