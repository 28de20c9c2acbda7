"""How long `runbook --help` and `runbook diff OLD NEW --json` take, each against the
least a Python tool doing the same could take, measured in the same run.

* help       `runbook --help`  against  a Python process printing an argparse help
* diff       `runbook diff OLD NEW --json` on the rehearsal's real 6.2.0 file and the
             API 4.0 template (about 60 keys)  against  a Python process parsing
             both with javaproperties and printing them as JSON

Every measurement is a fresh process, as the operator starts them; the subjects
alternate round by round. Also lists any of asyncssh, httpx and textual that either
command imported (neither needs them).

    .venv/bin/python benchmarks/cli_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bytecode

DATA = Path(__file__).resolve().parent.parent / "runbook" / "rehearsal" / "data"
OLD = DATA / "red5-web.properties.6.2.0.b406"
NEW = DATA / "red5-web.properties.api4"
HEAVY = ("asyncssh", "httpx", "textual")

SUBJECTS: dict[str, list[str]] = {
    "help": [sys.executable, "-m", "runbook.cli", "--help"],
    "help baseline": [sys.executable, "-c",
                      "import argparse; argparse.ArgumentParser('runbook').print_help()"],
    "diff": [sys.executable, "-m", "runbook.cli", "diff", str(OLD), str(NEW), "--json"],
    "diff baseline": [sys.executable, "-c",
                      "import json, sys, javaproperties\n"
                      "pair = [javaproperties.load(open(p, encoding='latin-1')) "
                      "for p in sys.argv[1:]]\n"
                      "print(json.dumps(pair))", str(OLD), str(NEW)],
}


def once(command: list[str]) -> float:
    started = time.perf_counter()
    # diff exits 1 while keys wait for a decision: that is its answer, not a failure.
    done = subprocess.run(command, capture_output=True, env=bytecode.ENV)
    took = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} failed: {done.stderr.decode()[-500:]}")
    return took


def imported(command: list[str]) -> list[str]:
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True,
                          text=True, env=bytecode.ENV)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    return sorted(names & set(HEAVY))


def main(rounds: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    names = list(SUBJECTS)
    bytecode.compile_sources()
    for name in names:
        once(SUBJECTS[name])  # warm the page cache and the bytecode
    for n in range(rounds):
        for name in names[n % len(names):] + names[:n % len(names)]:
            times[name].append(once(SUBJECTS[name]))
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"  {name:<14} median {statistics.median(ms):6.1f} ms  "
              f"(min {min(ms):.1f}, max {max(ms):.1f})")
    for name in ("help", "diff"):
        ratio = statistics.median(times[name]) / statistics.median(times[f"{name} baseline"])
        heavy = imported(SUBJECTS[name])
        print(f"{name}: {ratio:.2f}x the time of its baseline (goal: at most 1.5x); "
              f"imports {', '.join(heavy) if heavy else 'none of ' + ', '.join(HEAVY)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    main(parser.parse_args().rounds)
