"""Ports for the rehearsal's listeners, taken from below the kernel's ephemeral range.

A port found free by binding port 0 lies in the ephemeral range, the one every
outgoing connection on the machine draws its local port from. The fake service
binds its port again at every start, the cutover's among them, and a database
server binds its own when a kept sandbox comes back: in between, any SSH,
HTTP or database connection can be holding that port, and the listener then
fails to start. Below the range, only a listener asking for the port by number
can take it.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Sequence
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Where the kernel starts handing out ports when /proc cannot say (Linux's default).
_EPHEMERAL_LOW = 32768
# Ports below this are left to services that are given theirs by number.
_LOWEST = 10000
_ATTEMPTS = 50


def _ephemeral_low() -> int:
    try:
        return int(_RANGE_FILE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return _EPHEMERAL_LOW


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def listening_port(hosts: Sequence[str] = ("127.0.0.1",)) -> int:
    """A port free now on every one of ``hosts``, outside the ephemeral range
    where one can be found; OSError when a host cannot be bound at all."""
    top = _ephemeral_low()
    if top - _LOWEST >= _ATTEMPTS:
        for port in random.sample(range(_LOWEST, top), _ATTEMPTS):
            if all(_bindable(host, port) for host in hosts):
                return port
    # A kernel whose range starts low, or a machine this busy: any free port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((hosts[0], 0))
        port = int(probe.getsockname()[1])
    if all(_bindable(host, port) for host in hosts[1:]):
        return port
    raise OSError(f"no port is free on all of {', '.join(hosts)}")
