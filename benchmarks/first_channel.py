"""The first command on a fresh SSH connection, against a later one on the same
connection, to a real OpenSSH sshd (no goal: shown only).

sshd keeps Nagle's algorithm on until a session starts, so its answer to the
first channel can wait for the client's delayed ACK of what it sent after the
login (40 ms on Linux). runbook's Remote sends those ACKs at once for the first
tenth of a second (runbook.remote._acknowledge_early). Two servers: one whose
only host key is in known_hosts, and one that also holds rsa and ecdsa keys
known_hosts does not list (asyncssh is then told of keys it does not know).

For each, --rounds fresh connections: a first `true` and a second one (the
baseline), and on another fresh connection a first SFTP start and a second.
Prints medians, the worst case, and how many firsts took over 30 ms.

    .venv/bin/python benchmarks/first_channel.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realsshd

from runbook.remote import Remote


async def timed(action: Awaitable[object]) -> float:
    started = time.perf_counter()
    await action
    return time.perf_counter() - started


async def sftp_start(conn: asyncssh.SSHClientConnection) -> None:
    async with conn.start_sftp_client():
        pass


async def measure(sshd: realsshd.Sshd, rounds: int) -> dict[str, list[float]]:
    settings = sshd.host_settings()
    times: dict[str, list[float]] = {"first true": [], "later true": [],
                                     "first sftp": [], "later sftp": []}

    for _ in range(rounds):
        remote = Remote(settings, isolated=True)
        try:
            await remote.connect()
            times["first true"].append(await timed(remote.run("true", timeout=10)))
            times["later true"].append(await timed(remote.run("true", timeout=10)))
        finally:
            await remote.close()
        remote = Remote(settings, isolated=True)
        try:
            conn = await remote.connect()
            times["first sftp"].append(await timed(sftp_start(conn)))
            times["later sftp"].append(await timed(sftp_start(conn)))
        finally:
            await remote.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"server: {realsshd.version()}, {args.rounds} fresh connections each")
    for label, more in (("one host key, known", ()),
                        ("three host keys, one known", ("rsa", "ecdsa"))):
        with tempfile.TemporaryDirectory(prefix="runbook-bench-first-") as folder:
            root = Path(folder)
            home = realsshd.make_home(root / "home", realsshd.CLEAN_BASHRC)
            with realsshd.running(root / "sshd", home=home, more_host_keys=more) as sshd:
                times = asyncio.run(measure(sshd, args.rounds))
        print(f"{label}:")
        for name, values in times.items():
            slow = f"   over 30 ms: {sum(v > 0.03 for v in values)} of {len(values)}" \
                if name.startswith("first") else ""
            print(f"  {name:<11} median {statistics.median(values) * 1000:6.1f} ms  "
                  f"(max {max(values) * 1000:.1f}){slow}")
        for kind in ("true", "sftp"):
            ratio = statistics.median(times[f"first {kind}"]) / \
                statistics.median(times[f"later {kind}"])
            print(f"  first {kind} takes {ratio:.1f}x a later one on the same connection")


if __name__ == "__main__":
    main()
