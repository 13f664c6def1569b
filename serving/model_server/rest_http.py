"""The REST API's HTTP server: waitress, with strict framing, JSON refusals and request deadlines.

waitress brings the bounded worker pool (`threads`), the listen backlog, header and body size
limits and an asynchronous accept loop (a connection that sends nothing holds a file descriptor,
never a thread). On top of it, this module:

- refuses, with 400, what waitress would pass or word differently: more than one Content-Length,
  Content-Length and Transfer-Encoding together (either could frame the body: a smuggling vector),
  a header line without a colon or folded onto the previous one, a request line that is not
  `METHOD TARGET HTTP/1.0|1.1` (HTTP/0.9 included);
- answers every refusal as TF Serving does, `{"error": "..."}` in JSON (a body over the limit: 429);
- answers a body cut short by the client's end of input (it half-closed early) with 400 instead of
  dropping it in silence;
- after a refusal, sends its answer, half-closes and reads (discarding) for up to 2 s before closing,
  so that a client still sending a refused body reads the answer instead of a reset (a lingering close);
- closes a connection idle for `request_timeout` seconds, and one whose request has not arrived
  whole `request_timeout` seconds after its first byte (a slowloris trickle keeps a connection
  active, never alive).
"""
from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http import HTTPStatus
from typing import Any, Callable

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import BadRequest, RequestEntityTooLarge

LOGGER = logging.getLogger(__name__)
BACKLOG = 1024  # pending connections the kernel queues before the accept loop takes them
MAX_CONNECTIONS = 4096  # open connections before accepting pauses (each one file descriptor, no thread)
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; more is 431
LINGER_SECONDS = 2.0  # after a refusal, how long the rest of a refused request is read and discarded
HTTP_VERSION = re.compile(r"HTTP/([0-9]+\.[0-9]+)")
WsgiApp = Callable[[dict, Callable], Any]


def _check_request_line(line: bytes) -> str:
    """The version of `METHOD TARGET HTTP/1.x` with single spaces (ParsingError otherwise, naming the bad part)."""
    text = line.decode("latin-1")
    words = text.split(" ")
    if len(words) >= 3:
        version = HTTP_VERSION.fullmatch(words[-1])
        if version is None:
            raise ParsingError(f"Bad request version ({words[-1]!r})")
        if version.group(1) not in ("1.0", "1.1"):
            raise ParsingError(f"Invalid HTTP version ({version.group(1)})")
    if len(words) != 3 or not all(words):
        raise ParsingError(f"Bad request syntax ({text!r})")
    return version.group(1)


def _check_header_lines(block: bytes) -> None:
    """One Content-Length of digits only, not beside Transfer-Encoding; every line `name: value`."""
    lengths: list[str] = []
    chunked = False
    for line in block.split(b"\r\n"):
        if not line:
            continue
        text = line.decode("latin-1")
        if line[:1] in (b" ", b"\t"):
            raise ParsingError(f"Folded header line (obsolete line folding): {text[:80]!r}")
        name, colon, value = text.partition(":")
        if not colon:
            raise ParsingError(f"Header line without a colon: {text[:80]!r}")
        if name.lower() == "content-length":
            lengths.append(value.strip(" \t"))
        chunked = chunked or name.lower() == "transfer-encoding"
    if len(lengths) > 1:
        raise ParsingError(f"More than one Content-Length header: {lengths[:4]}")
    if lengths and not (lengths[0].isascii() and lengths[0].isdigit()):  # HTTP's 1*DIGIT: no sign, no exponent
        raise ParsingError(f"Invalid Content-Length: {lengths[0][:40]!r}")
    if lengths and chunked:
        raise ParsingError("Content-Length and Transfer-Encoding together: where the body ends is ambiguous")


class StrictRequestParser(HTTPRequestParser):
    """waitress's parser after the checks above (its own checks then run too)."""

    def parse_header(self, header_plus: bytes) -> None:
        first_line, _, block = header_plus.partition(b"\r\n")
        self.version = _check_request_line(first_line.rstrip(b"\r"))  # a refusal of the headers answers in it
        _check_header_lines(block)
        super().parse_header(header_plus)


class JsonErrorTask(ErrorTask):
    """A refusal before the app runs, as TF Serving words it: JSON `{"error": ...}`, then the connection closes."""

    def execute(self) -> None:
        error = self.request.error
        code, message = error.code, str(error.body)
        if isinstance(error, RequestEntityTooLarge):
            limit = self.channel.server.max_request_bytes
            size = self.request.content_length or f"more than {limit}"
            code, message = HTTPStatus.TOO_MANY_REQUESTS, f"request body of {size} bytes exceeds --max_request_bytes={limit}"
        LOGGER.info("%s refused: %d %s", self.channel.addr[0] if self.channel.addr else "?", code, message)
        body = json.dumps({"error": message}).encode("utf-8")
        self.status = f"{int(code)} {HTTPStatus(code).phrase}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.channel.refused = True
        self.content_length = len(body)
        self.write(body)


class StrictChannel(HTTPChannel):
    """One client connection: strict parsing, JSON refusals, an answer to a body cut short, a request clock."""

    parser_class = StrictRequestParser
    error_task_class = JsonErrorTask
    request_started: float | None = None  # time.time() of the first byte of the request being received
    timed_out = False  # set by RestHttpServer.maintenance
    refused = False  # set by JsonErrorTask: close by lingering
    linger_deadline: float | None = None  # while lingering: when to close at the latest

    def readable(self) -> bool:
        return self.linger_deadline is not None or super().readable()

    def writable(self) -> bool:
        if self.linger_deadline is not None:
            return time.time() > self.linger_deadline  # handle_write then closes
        return super().writable()

    def handle_write(self) -> None:
        if self.linger_deadline is not None:
            self.close_now()
            return
        super().handle_write()

    def close_now(self) -> None:
        """Close the connection at once."""
        self.linger_deadline = None
        self.refused = False
        super().handle_close()

    def received(self, data: bytes) -> bool:
        if self.request is None:
            self.request_started = time.time()
        result = super().received(data)
        if self.request is None:
            self.request_started = None
        return result

    def handle_read(self) -> None:
        """Read what arrived; a reset is one debug line, the end of input may still get an answer."""
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except OSError as error:
            LOGGER.debug("%s went away: %s", self.addr[0], error)
            self.close_now()
            return
        if self.linger_deadline is not None:  # the rest of a refused request: discarded
            if not data or time.time() > self.linger_deadline:
                self.close_now()
            return
        if data:
            self.last_activity = time.time()
            self.received(data)
        else:
            self._end_of_input()

    def handle_close(self) -> None:
        """Close; after a refusal whose answer is sent, half-close and linger first (see the module's docstring)."""
        if self.linger_deadline is not None:
            self.close_now()
            return
        if self.refused and self.connected and not self.total_outbufs_len:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is followed by the end of output
            except OSError:
                self.close_now()
                return
            self.will_close = self.close_when_flushed = False
            self.linger_deadline = time.time() + LINGER_SECONDS
            return
        if self.request is not None and not self.request.completed and not self.timed_out:
            LOGGER.debug("%s went away mid-request", self.addr[0])
        super().handle_close()

    def _end_of_input(self) -> None:
        """The client half-closed: a request whose body was still arriving is refused (400), not dropped."""
        partial = self.request
        if partial is None or not partial.headers_finished or partial.completed:
            self.handle_close()
            return
        if partial.chunked:
            message = "request body ended before its last chunk"
        else:
            message = f"request body ended after {partial.body_bytes_received} of its Content-Length {partial.content_length} bytes"
        partial.error = BadRequest(message)
        partial.completed = True
        with self.requests_lock:
            self.request = None
            self.requests.append(partial)
            if len(self.requests) == 1:
                self.server.add_task(self)


class RestHttpServer(TcpWSGIServer):
    """waitress's TCP server with the channel above, a request deadline, and `start` / `stop` from other threads."""

    channel_class = StrictChannel

    def __init__(self, app: WsgiApp, host: str, port: int, threads: int, request_timeout: float,
                 max_request_bytes: int) -> None:
        self.request_timeout = request_timeout
        self.max_request_bytes = max_request_bytes
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(
            app, host=host, port=port, threads=threads, backlog=BACKLOG, connection_limit=MAX_CONNECTIONS,
            cleanup_interval=1, asyncore_loop_timeout=1,  # `maintenance` below, about once a second
            asyncore_use_poll=True,  # select() cannot watch a descriptor numbered 1024 or more
            max_request_header_size=MAX_HEADER_BYTES, max_request_body_size=max_request_bytes + 1,
            expose_tracebacks=False, log_socket_errors=False, ident="",
        )

    @property
    def server_address(self) -> tuple[str, int]:
        """(host, port) bound (port 0 asks for any free one)."""
        return self.effective_host, self.effective_port

    def maintenance(self, now: float) -> None:
        """Close connections idle, or with a request still arriving, for longer than `request_timeout`."""
        for channel in list(self.active_channels.values()):
            if channel.requests:  # a request is being answered: the app's time is not the client's
                continue
            started = channel.request_started
            if now - channel.last_activity > self.request_timeout or (
                started is not None and now - started > self.request_timeout
            ):
                LOGGER.debug("%s closed after %.1f s without a whole request", channel.addr[0], self.request_timeout)
                channel.timed_out = channel.will_close = True

    def start(self) -> None:
        """Run the accept and I/O loop in a daemon thread (the worker threads answer requests)."""
        self._thread = threading.Thread(target=self._loop, name="rest", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            wasyncore.loop(timeout=self.adj.asyncore_loop_timeout, map=self._map, use_poll=True, count=1)
        for channel in list(self.active_channels.values()):
            channel.close_now()
        self.close()  # the listening socket and the loop's wake-up trigger

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting, let the workers finish (up to the grace period), then close every connection."""
        self.accepting = False
        self.task_dispatcher.shutdown(timeout=grace_seconds)
        self._stopping.set()
        if self._thread is None:
            self.close()
            return
        self.pull_trigger()
        self._thread.join(grace_seconds)
