"""What each remote command costs on an open connection, against `ssh` through a
ControlMaster: the fastest way an operator runs one command after another by hand.

A throwaway OpenSSH sshd on 127.0.0.1 (benchmarks/realsshd.py) serves two homes in
turn, so the login shell sshd starts for every command reads one of two .bashrc:

* clean     Debian's skeleton: returns at once for a non-interactive shell
* slow      what a pyenv install appends, imitated: a few interpreter starts

Subjects, interleaved command by command, each running `true`:

* probe       Remote.run with no job record (read-only checks)
* journalled  Remote.run with a job record (everything that changes the host)
* detached    Remote.run_detached: a long command that outlives a dropped
              connection (the unzip, the cutover's `systemctl start`). It opens
              a channel of its own to follow the job, so it pays the login
              shell's .bashrc once, as ssh -S does: shown, not held to the goal
* ssh -S      `ssh -o ControlPath=... HOST true` over an established master

Both pay the login shell's .bashrc once (sshd decides that); the command must
not pay it a second time. Prints medians with their spread and the ratios.

    .venv/bin/python benchmarks/commands.py [--commands 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realsshd

from runbook.remote import Remote


def spread(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"median {statistics.median(ms):7.1f} ms  (min {min(ms):.1f}, max {max(ms):.1f})"


async def measure(sshd: realsshd.Sshd, root: Path, commands: int) -> dict[str, list[float]]:
    settings = sshd.host_settings()
    root.mkdir(parents=True, exist_ok=True)
    control = root / "ctl"
    master = subprocess.Popen([*sshd.ssh("-M", "-N", "-o", f"ControlPath={control}")],
                              stdin=subprocess.DEVNULL)
    remote = Remote(settings, isolated=True)
    times: dict[str, list[float]] = {"probe": [], "journalled": [], "detached": [],
                                     "ssh -S": []}
    try:
        deadline = time.monotonic() + 10
        while not control.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if not control.exists():
            raise SystemExit("the ssh ControlMaster did not start: no baseline to measure")
        await remote.run("true", timeout=30)  # the connection opens outside the clock

        async def probe() -> None:
            await remote.run("true", timeout=30)

        async def journalled() -> None:
            await remote.run("true", timeout=30, job="bench-true")

        async def detached() -> None:
            await remote.run_detached("true", timeout=30, job="bench-detached")

        async def controlled() -> None:
            await asyncio.to_thread(subprocess.run, [*sshd.ssh("-o", f"ControlPath={control}"),
                                                     "true"], check=True)

        subjects = [("probe", probe), ("journalled", journalled), ("detached", detached),
                    ("ssh -S", controlled)]
        for n in range(commands):
            # Rotating order: none of them always runs first on a warm host.
            turn = n % len(subjects)
            for name, action in subjects[turn:] + subjects[:turn]:
                started = time.perf_counter()
                await action()
                times[name].append(time.perf_counter() - started)
    finally:
        await remote.close()
        master.terminate()
        master.wait()
    return times


def main(commands: int) -> None:
    with tempfile.TemporaryDirectory(prefix="runbook-bench-commands-") as folder:
        root = Path(folder)
        print(f"server: OpenSSH sshd on 127.0.0.1 ({realsshd.version()}), "
              f"{commands} commands each, interleaved")
        for label, bashrc in (("clean", realsshd.CLEAN_BASHRC), ("slow", realsshd.SLOW_BASHRC)):
            home = realsshd.make_home(root / f"home-{label}", bashrc)
            with realsshd.running(root / f"sshd-{label}", home=home) as sshd:
                times = asyncio.run(measure(sshd, root / label, commands))
            print(f"host with a {label} .bashrc:")
            for name, values in times.items():
                print(f"  {name:<11} {spread(values)}")
            base = statistics.median(times["ssh -S"])
            for name in ("probe", "journalled"):
                ratio = statistics.median(times[name]) / base
                print(f"  {label}: {name} takes {ratio:.2f}x the time of ssh via ControlMaster "
                      "(goal: at most 0.5x)")
            ratio = statistics.median(times["detached"]) / base
            print(f"  {label}: detached takes {ratio:.2f}x the time of ssh via ControlMaster "
                  "(no goal: it opens a channel of its own)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=40)
    main(parser.parse_args().commands)
