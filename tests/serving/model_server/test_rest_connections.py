"""REST connections under load and abuse (issue 15), against a real `python -m serving.server`.

On http.server: a listen backlog of 5 reset 32-43 of 64 simultaneous clients, and every connection
that never finished its request held a server thread forever. Here the server runs with TF Serving's
flags `--rest_api_num_threads 4 --rest_api_timeout_in_ms 1000`: every simultaneous client is answered,
and the server itself closes connections that do not deliver a whole request in time.
"""
from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from serving.model_server.launcher import start_subprocess
from tests.helpers.fuzz_http import good_rows, http_request, send_raw
from tests.serving.model_server.test_server import expected_tokens, export_tiny_token_model

pytestmark = pytest.mark.server

THREADS = 4
GOOD = http_request("POST", "/v1/models/tiny:predict", json.dumps({"instances": good_rows()}).encode())
EXPECTED = {"predictions": expected_tokens([[3, 3, 3]] * 2, [2, 2], [4, 4], [0, 1], offset=0)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("connections") / "tiny"
    base.mkdir()
    export_tiny_token_model(base, 1, offset=0)
    flags = ["--rest_api_num_threads", str(THREADS), "--rest_api_timeout_in_ms", "1000"]
    with start_subprocess(["tiny"], model_base_path=base, extra_flags=flags) as running:
        yield running


def rest_address(server) -> tuple[str, int]:
    url = urllib.parse.urlsplit(server.rest_url)
    return url.hostname, url.port


def thread_count(server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes `sock` (EOF or reset) within `timeout` seconds."""
    readable, _, _ = select.select([sock], [], [], timeout)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_64_simultaneous_clients_are_all_answered(server):
    host, port = rest_address(server)
    start = threading.Barrier(64)
    results: list[object] = []

    def client() -> None:
        start.wait()
        try:
            status, body = send_raw(host, port, GOOD)
            results.append((status, json.loads(body)))
        except OSError as error:  # a reset or a refused connection
            results.append(error)

    clients = [threading.Thread(target=client) for _ in range(64)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(60)
    failures = [result for result in results if result != (200, EXPECTED)]
    assert len(results) == 64 and not failures, failures[:5]


def test_300_half_open_connections_hold_no_threads_and_are_closed_by_the_server(server):
    host, port = rest_address(server)
    threads_before = thread_count(server)
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(150)]  # connect, send nothing
    partial = [socket.create_connection((host, port), timeout=10) for _ in range(150)]
    for sock in partial:
        sock.sendall(b"POST /v1/models/tiny:predict HTTP/1.1\r\nHost: x\r\n")  # headers never end
    try:
        assert send_raw(host, port, GOOD) == (200, json.dumps(EXPECTED).encode())
        assert thread_count(server) <= threads_before + THREADS  # no thread per connection
        deadline = time.monotonic() + 15
        still_open = [sock for sock in idle + partial if not closed_by_server(sock, max(0.0, deadline - time.monotonic()))]
        assert not still_open, f"{len(still_open)} of 300 half-open connections still open after 15 s"
        assert send_raw(host, port, GOOD) == (200, json.dumps(EXPECTED).encode())
    finally:
        for sock in idle + partial:
            sock.close()


def test_a_trickled_request_is_closed_though_never_idle(server):
    """Slowloris: a byte of header every 0.2 s keeps a connection active, not alive past the timeout."""
    host, port = rest_address(server)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"GET /v1/models/tiny HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < 15:
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed = closed_by_server(sock, 0.2)
        assert closed, "a trickled request kept its connection for 15 s"
