"""A session-wide test resource that starts as soon as collection shows a test to run needs it, so
that it gets ready (a Beam job, a model server) while the tests before the first that waits for it run."""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import pytest


class _Closable(Protocol):
    def close(self) -> None: ...


Resource = TypeVar("Resource", bound=_Closable)


class EarlyStart(Generic[Resource]):
    """``start()`` called once: when collection ends if a collected test asks for ``fixture``
    (``start_if_collected``, from a ``pytest_collection_finish`` hook), else on the first ``get()``
    (a test that asks by ``request.getfixturevalue``); ``close()`` it when the session ends."""

    def __init__(self, fixture: str, start: Callable[[], Resource]) -> None:
        self.fixture, self._start, self._resource = fixture, start, None

    def start_if_collected(self, session: pytest.Session) -> None:
        if not session.config.option.collectonly and any(
                self.fixture in getattr(item, "fixturenames", ()) for item in session.items):
            self.get()

    def get(self) -> Resource:
        if self._resource is None:
            self._resource = self._start()
        return self._resource

    def close(self) -> None:
        if self._resource is not None:
            self._resource.close()
            self._resource = None
