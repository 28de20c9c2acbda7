"""Upload throughput of runbook's SFTP path against OpenSSH's sftp, same host, same run.

Starts a rehearsal host in its own process with a large distribution
(--dist-size), then uploads it several times with runbook.remote.Remote.upload
and with OpenSSH's `sftp` client (the baseline), alternating, and prints MB/s
for both and their ratio. Loopback only; client and server share the
machine's cores, so read the ratio, not the absolute figures.

    .venv/bin/python benchmarks/upload.py [--size-mb 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runbook.config import HostSettings
from runbook.remote import Remote


def openssh_upload(host: dict[str, str], local: Path, remote: str) -> float:
    batch = f"put {local} {remote}\n"
    started = time.perf_counter()
    subprocess.run(
        ["sftp", "-q", "-b", "-", "-P", host["ssh_port"], "-i", host["client_key"],
         "-o", f"UserKnownHostsFile={host['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
         "-o", "IdentitiesOnly=yes", "-F", "/dev/null", f"{host['user']}@127.0.0.1"],
        input=batch, text=True, check=True, capture_output=True,
    )
    return time.perf_counter() - started


async def main(size_mb: int, rounds: int) -> None:
    if shutil.which("sftp") is None:
        raise SystemExit("OpenSSH's sftp client is needed for the baseline")
    with tempfile.TemporaryDirectory() as folder:
        # The host runs in its own process, as a real stream manager would;
        # sharing our event loop would halve our side's throughput.
        server = subprocess.Popen(
            [sys.executable, "-m", "runbook.rehearsal.host", "--sandbox", f"{folder}/sb",
             "--dist-size", str(size_mb << 20)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert server.stdout is not None
            host = json.loads(server.stdout.readline())
            local = Path(host["distribution"])
            size = local.stat().st_size
            remote = Remote(HostSettings(address="127.0.0.1", port=int(host["ssh_port"]),
                                         user=host["user"], identity=Path(host["client_key"]),
                                         known_hosts=Path(host["known_hosts"])),
                            isolated=True)
            upload_dir = host["upload_dir"]
            await remote.run(f"mkdir -p {upload_dir}", timeout=30)
            ours: list[float] = []
            theirs: list[float] = []
            for n in range(rounds):
                started = time.perf_counter()
                await remote.upload(local, f"{upload_dir}/ours-{n}.zip", timeout=600)
                ours.append(time.perf_counter() - started)
                theirs.append(await asyncio.to_thread(
                    openssh_upload, host, local, f"{upload_dir}/theirs-{n}.zip"))
                await remote.run(f"rm -f {upload_dir}/*-{n}.zip", timeout=30)
            await remote.close()
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(30)
    mb = size / 1e6
    best_ours, best_theirs = min(ours), min(theirs)
    print(f"file: {mb:.1f} MB, best of {rounds}")
    print(f"OpenSSH sftp (baseline): {mb / best_theirs:7.1f} MB/s  ({best_theirs:.2f} s)")
    print(f"runbook Remote.upload:   {mb / best_ours:7.1f} MB/s  ({best_ours:.2f} s)")
    print(f"ratio runbook/OpenSSH:   {best_theirs / best_ours:.2f}x the baseline's speed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.size_mb, args.rounds))
