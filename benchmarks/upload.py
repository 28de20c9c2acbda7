"""The upload step against what an operator would do by hand, to a real OpenSSH sshd.

Two comparisons, interleaved round by round, medians printed with their spread:

* copy      runbook's Remote.upload (a fresh connection each time) against `scp`
            with OpenSSH's default cipher, same file, same server
* step      what the upload step does for a file, run and verify (its size on
            the host, the copy hashed as it is sent while the host hashes each
            part as it lands, the whole file read again only if the two differ,
            then verify's look at its size) against `scp` followed by
            `ssh host sha256sum FILE`

The server is a throwaway OpenSSH sshd on 127.0.0.1 (benchmarks/realsshd.py, a clean
HOME so the baseline's `ssh` pays no slow .bashrc); without sshd installed
(openssh-server) it says so and stops. Client and server share
this machine's cores: read the ratios, not the absolute MB/s.

    .venv/bin/python benchmarks/upload.py [--size-mb 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realsshd

from runbook.remote import Remote, quote, sha256_command


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as sink:
        for _ in range(size >> 20):
            sink.write(os.urandom(1 << 20))


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s  (min {min(values):.2f}, " \
           f"max {max(values):.2f})"


async def main(size_mb: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="runbook-bench-upload-") as folder:
        root = Path(folder)
        local = root / "red5pro-server.zip"
        make_file(local, size_mb << 20)
        home = realsshd.make_home(root / "home", realsshd.CLEAN_BASHRC)
        target_dir = root / "uploads"
        target_dir.mkdir()
        with realsshd.running(root / "sshd", home=home) as sshd:
            settings = sshd.host_settings()
            print(f"server: OpenSSH sshd on 127.0.0.1:{sshd.port} ({realsshd.version()}), "
                  f"file {size_mb} MiB, {rounds} rounds interleaved")

            async def ours_copy(name: str) -> None:
                remote = Remote(settings, isolated=True)
                try:
                    await remote.upload(local, str(target_dir / name), timeout=600)
                finally:
                    await remote.close()

            async def ours_step(name: str) -> None:
                remote = Remote(settings, isolated=True)
                path = str(target_dir / name)
                try:
                    await remote.run(f"stat -L -c %s -- {quote(path)} 2>/dev/null", timeout=60)
                    sent = await remote.upload(local, path, timeout=600, host_hash=True)
                    theirs = sent.host_sha256
                    if theirs != sent.sha256:  # as the step does: read it all again
                        theirs = (await remote.run(sha256_command(path),
                                                   timeout=600)).stdout.split()[0]
                    assert theirs == sent.sha256, "the host's copy differs"
                    # verify: the run's proof stands for a file still its size.
                    await remote.run(f"stat -L -c %s -- {quote(path)}", timeout=60)
                finally:
                    await remote.close()

            def scp(name: str) -> None:
                subprocess.run(["scp", "-q", *sshd.ssh_options(), "-P", str(sshd.port),
                                str(local), f"{realsshd.USER}@127.0.0.1:{target_dir / name}"],
                               check=True)

            def scp_and_sum(name: str) -> None:
                scp(name)
                subprocess.run([*sshd.ssh("-T"), f"sha256sum {target_dir / name}"], check=True,
                               capture_output=True)

            def clean() -> None:
                for leftover in target_dir.iterdir():
                    leftover.unlink()

            times: dict[str, list[float]] = {k: [] for k in
                                             ("copy", "scp", "step", "scp+sha256sum")}
            for n in range(rounds):
                # Alternating order, so neither side always runs on a warm cache.
                # Each copy goes to a new file: nothing on the host to go on from.
                pairs = [("copy", lambda: ours_copy("ours")),
                         ("scp", lambda: asyncio.to_thread(scp, "scp")),
                         ("step", lambda: ours_step("step")),
                         ("scp+sha256sum", lambda: asyncio.to_thread(scp_and_sum, "sum"))]
                if n % 2:
                    pairs = [pairs[1], pairs[0], pairs[3], pairs[2]]
                for name, action in pairs:
                    times[name].append(await timed(action))
                    clean()
    mb = (size_mb << 20) / 1e6
    for name, values in times.items():
        print(f"  {name:<14} {spread(values)}   {mb / statistics.median(values):6.1f} MB/s")
    copy = statistics.median(times["scp"]) / statistics.median(times["copy"])
    step = statistics.median(times["scp+sha256sum"]) / statistics.median(times["step"])
    print(f"copy: runbook is {copy:.2f}x the speed of scp (goal: at least 1.0x)")
    print(f"step: runbook is {step:.2f}x the speed of scp + ssh sha256sum (goal: at least 1.3x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.size_mb, args.rounds))
