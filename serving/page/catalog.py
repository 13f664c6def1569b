"""The models the page can use, and one open client per model, through ``serving.model_access``:
the same clients as the CLI (gRPC or REST to a server, or the SavedModels loaded in this process)."""
from __future__ import annotations

import logging
import threading

from serving.client import ClientError, ModelClient
from serving.contract import signatures as sig
from serving.generation.codecs import stated_kind
from serving.model_access import available_models, open_model_client
from serving.retry_policy import RetryPolicy

logger = logging.getLogger(__name__)

TOKEN_KINDS = (sig.TOKEN_TIMESTEP, sig.TOKEN_CHARACTERS)


class ModelCatalog:
    """Clients of ``server`` (host:port; None: models loaded here from ``models_dir``), opened once each."""

    def __init__(self, server: str | None = None, models_dir: str | None = None, rest: bool = False,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self.server, self.models_dir, self.rest, self.retry = server, models_dir, rest, retry
        self._clients: dict[str, ModelClient] = {}
        self._kinds: list[tuple[str, str]] | None = None
        self._lock = threading.Lock()

    def client(self, model: str) -> ModelClient:
        """The model's client (opened on first use); ValueError / ClientError naming an unknown model."""
        with self._lock:
            if model not in self._clients:
                self._clients[model] = open_model_client(model, self.server, self.models_dir, self.rest,
                                                         retry=self.retry)
            return self._clients[model]

    def token_models(self) -> list[tuple[str, str]]:
        """``[(name, kind)]`` of the token models available (VAEs left out: the page samples token models)."""
        if self._kinds is None:
            found = []
            for name in available_models(self.server, self.models_dir, self.rest, self.retry):
                try:
                    kind = stated_kind(self.client(name))
                except (ValueError, ClientError) as error:
                    logger.warning("model %s left out of the page: %s", name, error)
                    continue
                if kind in TOKEN_KINDS:
                    found.append((name, kind))
            self._kinds = found
        return self._kinds

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
