"""A REST client that goes away mid-request costs one debug line, not a traceback in the server's log."""
from __future__ import annotations

import logging
import socket
import struct

import pytest

from serving.model_server import inference
from serving.model_server.registry import ModelRegistry
from serving.model_server.rest import RestApi
from serving.model_server.rest_http import RestHttpServer


@pytest.fixture
def rest_server():
    server = RestHttpServer(RestApi(ModelRegistry([]), inference.Limits()), "127.0.0.1", 0, threads=2,
                            request_timeout=30.0, max_request_bytes=inference.Limits().max_request_bytes)
    server.start()
    yield server
    server.stop()


def test_a_client_reset_mid_body_is_logged_in_one_line(rest_server, capsys, caplog):
    with caplog.at_level(logging.DEBUG, logger="serving.model_server.rest_http"):
        client = socket.create_connection(rest_server.server_address)
        client.sendall(b"POST /v1/models/tiny:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inst")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        client.close()
        probe = socket.create_connection(rest_server.server_address)  # the server still answers
        probe.sendall(b"GET /v1/models/tiny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert probe.recv(100).startswith(b"HTTP/1.1 404")
        probe.close()
    assert "Traceback" not in capsys.readouterr().err
    assert any("went away" in record.getMessage() for record in caplog.records)
