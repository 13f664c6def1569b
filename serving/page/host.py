"""The page served by waitress: a ModelCatalog, a Studio and the PageApp over them, on one port."""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import waitress
from waitress.server import create_server

from serving.page.app import PageApp
from serving.page.catalog import ModelCatalog
from serving.page.studio import Studio

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageSettings:
    """Where the page listens (``port`` 0: a free one) and with how many request threads."""

    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8


def build_app(catalog: ModelCatalog) -> PageApp:
    return PageApp(Studio(catalog.client), catalog.token_models)


def serve_page(settings: PageSettings, catalog: ModelCatalog) -> None:
    """Serves the page until interrupted (Ctrl-C), then closes the clients and removes the tunes' files."""
    app = build_app(catalog)
    try:
        logger.warning("Folkgen page on http://%s:%d/ (Ctrl-C stops it)", settings.host, settings.port)
        waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads, ident="folkgen")
    finally:
        app.studio.close()
        catalog.close()


@contextlib.contextmanager
def running_page(settings: PageSettings, catalog: ModelCatalog) -> Iterator[str]:
    """The page served on a thread until the block ends; yields its URL (``http://host:port/``)."""
    app = build_app(catalog)
    server = create_server(app, host=settings.host, port=settings.port, threads=settings.threads, ident="folkgen")
    thread = threading.Thread(target=server.run, name="folkgen-page-http", daemon=True)
    thread.start()
    try:
        yield f"http://{settings.host}:{server.effective_port}/"
    finally:
        server.close()
        thread.join(timeout=10)
        app.studio.close()
        catalog.close()
