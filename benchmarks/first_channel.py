"""The first command and SFTP start on a fresh SSH connection, with runbook's
early ACKs and without them, to a real OpenSSH sshd.

sshd keeps Nagle's algorithm on until a session starts, so its answer to a
connection's first channel can wait for the client's delayed ACK of what it
sent after the login (40 ms on Linux). runbook.remote sends those ACKs at once
for a connection's first tenth of a second (_acknowledge_early). The baseline
is the same Remote with that switched off, in the same run, round by round.

Per round and side, two fresh connections: a first `true` (it starts the
shared shell: a channel and the login shell), and a first SFTP start followed
by a second one on the same connection (what a channel costs once the
connection is under way). Prints medians, the worst case, how many firsts took
over 30 ms, and the ratio of each first to its baseline.

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

import runbook.remote
from runbook.remote import Remote

EARLY_ACKS = runbook.remote._acknowledge_early


async def timed(action: Awaitable[object]) -> float:
    started = time.perf_counter()
    await action
    return time.perf_counter() - started


async def sftp_start(conn: asyncssh.SSHClientConnection) -> None:
    async with conn.start_sftp_client():
        pass


async def one_round(sshd: realsshd.Sshd, times: dict[str, list[float]], side: str) -> None:
    settings = sshd.host_settings()
    remote = Remote(settings, isolated=True)
    try:
        await remote.connect()
        times[f"{side}: first true"].append(await timed(remote.run("true", timeout=10)))
    finally:
        await remote.close()
    remote = Remote(settings, isolated=True)
    try:
        conn = await remote.connect()
        times[f"{side}: first sftp"].append(await timed(sftp_start(conn)))
        times[f"{side}: later sftp"].append(await timed(sftp_start(conn)))
    finally:
        await remote.close()


async def measure(sshd: realsshd.Sshd, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {f"{side}: {what}": [] for side in ("early ACKs", "without")
                                     for what in ("first true", "first sftp", "later sftp")}
    for n in range(rounds):
        sides = ["early ACKs", "without"] if n % 2 == 0 else ["without", "early ACKs"]
        for side in sides:
            runbook.remote._acknowledge_early = EARLY_ACKS if side == "early ACKs" \
                else (lambda conn: None)
            await one_round(sshd, times, side)
    runbook.remote._acknowledge_early = EARLY_ACKS
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="runbook-bench-first-") as folder:
        root = Path(folder)
        home = realsshd.make_home(root / "home", realsshd.CLEAN_BASHRC)
        with realsshd.running(root / "sshd", home=home) as sshd:
            print(f"server: OpenSSH sshd on 127.0.0.1:{sshd.port} ({realsshd.version()}), "
                  f"{args.rounds} rounds interleaved, two fresh connections a side each")
            times = asyncio.run(measure(sshd, args.rounds))
    for name, values in times.items():
        slow = f"   over 30 ms: {sum(v > 0.03 for v in values)} of {len(values)}" \
            if "first" in name else ""
        print(f"  {name:<22} median {statistics.median(values) * 1000:6.1f} ms  "
              f"(max {max(values) * 1000:.1f}){slow}")
    for what in ("first true", "first sftp"):
        ratio = statistics.median(times[f"early ACKs: {what}"]) / \
            statistics.median(times[f"without: {what}"])
        print(f"{what}: {ratio:.2f}x the time without early ACKs (no goal)")


if __name__ == "__main__":
    main()
