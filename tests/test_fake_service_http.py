"""The fake service's HTTP answers leave in one piece: a response written as
headers and then body waited for the client's delayed ACK (Nagle), about
42 ms on every API call of a rehearsal."""

from __future__ import annotations

import select
import socket
from pathlib import Path

from runbook.rehearsal.service import Server


def test_a_response_arrives_whole_in_one_read(tmp_path: Path) -> None:
    server = Server(("127.0.0.1", 0), tmp_path)
    server.open()  # it listens once opened, as its webapp has loaded (59b H1)
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as client:
            for _ in range(3):  # one kept-alive connection, as httpx uses
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                ready, _, _ = select.select([client], [], [], 5)
                assert ready, "no answer"
                first = client.recv(65536)
                head, _, body = first.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                assert len(body) == length, "the body came in a second write"
    finally:
        server.shutdown()
        server.server_close()
