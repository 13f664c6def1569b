"""A model server started in a background thread, so that tests go on while it loads its models."""
from __future__ import annotations

from concurrent import futures

from serving.model_server.launcher import RunningServer, start_subprocess


class BackgroundServer:
    """``start_subprocess(*args, **kwargs)`` entered in a thread: ``running()`` waits until its models
    are AVAILABLE (raising what the start raised), ``close()`` stops it."""

    def __init__(self, *args, **kwargs) -> None:
        self._context = start_subprocess(*args, **kwargs)
        pool = futures.ThreadPoolExecutor(1, thread_name_prefix="server-start")
        self._started = pool.submit(self._context.__enter__)
        pool.shutdown(wait=False)  # the thread ends once the server answers (or its start fails)

    def running(self) -> RunningServer:
        return self._started.result()

    def close(self) -> None:
        """Stops the server once it has started (a start that failed has stopped it already)."""
        if self._started.exception() is None:
            self._context.__exit__(None, None, None)
