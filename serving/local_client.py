"""In-process generation: a ``ModelClient`` over SavedModels loaded in this process.

`LocalModelClient` answers `predict`, `metadata` and `status` from the model server's own code
(``serving.model_server``): a one-model ``ModelRegistry`` chooses the version folder
(``serving.contract.versions``) and loads it as TF Serving does (a session over the ``serve``
MetaGraph, warm-up requests replayed), and each call goes through the same resolve / validate /
run steps and limits as a request to ``python -m serving.server``. So a request gives the same
outputs, and is refused for the same reasons, in process as through a server.

Loaded models are kept per (base path, version) for the life of the process; opening a client
polls the folder again, so a newer export is loaded (and the older one dropped) as a server would.
"""
from __future__ import annotations

import logging
import os
import threading

import grpc
import numpy as np

from serving.client import ModelClient, ModelNotFoundError, RequestRejectedError, VersionStatus
from serving.contract.versions import list_versions
from serving.model_server.inference import Limits, ModelSpec, ServingError, model_status, resolve, run_signature
from serving.model_server.registry import ModelConfig, ModelRegistry, VersionPolicy, absolute_base_path
from serving.retry_policy import RetryPolicy
from serving.tensors import Signature, infos_from_proto

logger = logging.getLogger(__name__)

_LIMITS = Limits()  # the stand-in server's defaults (--max_batch_rows, --max_steps)
_registries: dict[tuple[str, int | None], ModelRegistry] = {}
_registries_lock = threading.Lock()


class ModelLoadError(ModelNotFoundError):
    """The model's folder is there but no version of it could be loaded; the message says why."""


def _loaded_registry(base_path: str, model: str, version: int | None) -> ModelRegistry:
    """The process's registry of ``model`` at ``base_path`` (one version, or the latest), polled now."""
    key = (base_path, version)
    with _registries_lock:
        registry = _registries.get(key)
        if registry is None:
            policy = VersionPolicy() if version is None else VersionPolicy("specific", versions=frozenset({version}))
            registry = ModelRegistry([ModelConfig(model, base_path, policy)], poll_wait_seconds=0)
            _registries[key] = registry
        registry.poll_all()  # loads what is new, as the server's poll does; cheap when nothing changed
    return registry


class LocalModelClient(ModelClient):
    """One model of a SavedModel folder (``<models_dir>/<model>/<version>/``), loaded in this process.

    ``address`` is the model's base path. Raises ModelLoadError when no version loads, naming the
    versions found and the load error.
    """

    def __init__(self, models_dir: str, model: str, version: int | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        base_path = absolute_base_path(os.path.join(models_dir, model))
        super().__init__(base_path, model, version, retry)
        self._registry = _loaded_registry(base_path, model, version)
        self._spec = ModelSpec(model, version)
        try:
            resolve(self._registry, self._spec)
        except ServingError:
            raise ModelLoadError(self._load_failure()) from None

    def _load_failure(self) -> str:
        """Why no wanted version is loaded: the versions seen and their errors, or that there are none."""
        statuses = self._registry.models[self.model].statuses()
        wanted = f"version {self.version} of model {self.model!r}" if self.version is not None else f"model {self.model!r}"
        if not statuses:
            found = ", ".join(str(version) for version in list_versions(self.address)) or "none"
            return f"{wanted}: no such SavedModel version folder under {self.address} (versions there: {found})"
        seen = "; ".join(f"version {version} {status.state}" + (f": {status.error}" if status.error else "")
                         for version, status in sorted(statuses.items(), reverse=True))
        return f"{wanted} could not be loaded from {self.address} ({seen})"

    def unavailable_message(self) -> str:
        return f"model {self.model!r} is not loaded from {self.address}"

    def _refused(self, error: ServingError) -> Exception:
        if error.code == grpc.StatusCode.NOT_FOUND:
            return ModelNotFoundError(f"model {self.model!r} is not loaded from {self.address}: {error.message}")
        return RequestRejectedError(f"model {self.model!r} refused the request ({error.code.name}): {error.message}")

    def predict(self, signature: str, inputs: dict[str, np.ndarray], timeout_s: float | None = None) -> dict[str, np.ndarray]:
        """Runs ``signature`` in this process (``timeout_s`` is ignored: nothing is waited for)."""
        try:
            servable = resolve(self._registry, self._spec)
            outputs = run_signature(servable, signature, inputs, [], _LIMITS)
        except ServingError as error:
            raise self._refused(error) from None
        # The session gives a scalar string as bytes and scalars as NumPy scalars; a transport gives arrays.
        return {name: np.asarray(value, dtype=object) if isinstance(value, bytes) else np.asarray(value)
                for name, value in outputs.items()}

    def metadata(self) -> dict[str, Signature]:
        try:
            servable = resolve(self._registry, self._spec)
        except ServingError as error:
            raise self._refused(error) from None
        return {name: Signature(infos_from_proto(d.inputs), infos_from_proto(d.outputs))
                for name, d in servable.signature_defs.items() if not name.startswith("__")}

    def status(self) -> list[VersionStatus]:
        try:
            statuses = model_status(self._registry, self.model, self.version)
        except ServingError as error:
            raise self._refused(error) from None
        return [VersionStatus(s.version, s.state, s.error) for s in statuses]
