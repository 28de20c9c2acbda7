"""Time to first paint: the runbook TUI against a bare Textual app, same run.

Each measurement is a fresh Python process (imports count: they are most of
an app's start-up), run headless; "first paint" is Textual's ready moment,
after the first screen has been composed and drawn. Three subjects:

* bare      a Textual App showing one Static (the baseline)
* app       runbook's app from create_app() with the rehearsal config, no host
* rehearse  `runbook rehearse` itself (fresh sandbox), its app run headless;
            the rehearsal host starts after the first paint (issue 12)

Prints the median of --rounds runs for each, and the ratios to the baseline.

    .venv/bin/python benchmarks/tui_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import bytecode

# Each child prints the wall-clock time of its first paint; the parent took the
# time just before starting it, so process start and imports are included.
BARE = """
import sys, time
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("hello")

async def painted(pilot):
    print(time.time(), flush=True)
    pilot.app.exit()

Bare().run(headless=True, size=(120, 40), auto_pilot=painted)
"""

APP = """
import sys, time
from pathlib import Path
from runbook.cli import _plan_settings, session
from screens.app import create_app

async def painted(pilot):
    print(time.time(), flush=True)
    pilot.app.exit()

here = Path("/nonexistent/run.jsonl")
app = create_app(lambda earlier: session(_plan_settings(None), token="t", journal_path=here,
                                         state_dir=here.parent),
                 rehearsal=True, start_run=False)
app.run(headless=True, size=(120, 40), auto_pilot=painted)
"""

REHEARSE = """
import sys, time
from functools import partialmethod
from runbook import cli
from screens.app import RunbookApp

async def painted(pilot):
    print(time.time(), flush=True)
    pilot.app.exit()

# `runbook rehearse` itself (a fresh sandbox), its app run headless.
RunbookApp.run_async = partialmethod(RunbookApp.run_async, headless=True, size=(120, 40),
                                     auto_pilot=painted)
cli.main(["rehearse"])
"""


def first_paint(script: str) -> float:
    started = time.time()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env=bytecode.ENV)
    return float(done.stdout.split()[0]) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    subjects = {"bare": BARE, "app": APP, "rehearse": REHEARSE}
    times: dict[str, list[float]] = {name: [] for name in subjects}
    bytecode.compile_sources()
    first_paint(BARE)  # warm the OS file cache so the first subject is not penalised
    for _ in range(args.rounds):
        # Interleaved, so a busy moment on the machine hits every subject alike.
        for name, script in subjects.items():
            times[name].append(first_paint(script))
    bare = statistics.median(times["bare"])
    print(f"time to first paint, median of {args.rounds} fresh processes, headless 120x40")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<9} {median * 1000:7.0f} ms   x{median / bare:4.2f} of bare   "
              f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})")
    for name, goal in (("app", 1.3), ("rehearse", 1.5)):
        ratio = statistics.median(times[name]) / bare
        print(f"{name}: first paint {ratio:.2f}x a bare Textual app's (goal: at most {goal}x)")


if __name__ == "__main__":
    main()
