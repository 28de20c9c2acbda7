"""Time to first paint: the runbook TUI against a bare Textual app, same run.

Each measurement is a fresh Python process (imports count: they are most of
an app's start-up), run headless; "first paint" is Textual's Ready, posted
once the first screen has been composed, laid out and drawn. Three subjects:

* bare      a Textual App showing one Static (the baseline)
* app       `runbook run` itself, on the sample production config aimed at
            a closed port on 127.0.0.1 (the host is reached after the paint)
* rehearse  `runbook rehearse` itself (fresh sandbox), its app run headless;
            the rehearsal host starts after the first paint (issue 12)

Prints the median of --rounds runs for each, and the ratios to the baseline.

    .venv/bin/python benchmarks/tui_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import bytecode

ROOT = Path(__file__).resolve().parents[1]

# Each child prints the wall-clock time of its first paint: the moment Textual
# posts Ready, once the first frame is on the screen. (auto_pilot would run
# earlier, before the first layout and render, and miss what they cost.) The
# parent took the time just before starting the child, so process start and
# imports are included.
READY = """
import time
from functools import partialmethod

def watch_ready():
    from textual import events
    from textual.app import App

    post = App.post_message
    def post_message(self, message):
        if isinstance(message, events.Ready):
            print(time.time(), flush=True)
            self.call_later(self.exit)
        return post(self, message)
    App.post_message = post_message
"""

BARE = READY + """
watch_ready()
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("hello")

Bare().run(headless=True, size=(120, 40))
"""

# runbook's subjects load Textual where the CLI does, inside main() (where the
# collector is held for start-up): the watch goes in just before the app is
# made, by wrapping the CLI function that makes it, headless at 120x40.
RUNBOOK = READY + """
import sys
from runbook import cli
from runbook.cli import lifecycle, terminal

terminal.on_a_terminal = lambda: True  # run headless, below, its output a pipe


def headless(make):
    def made(*args, **kwargs):
        watch_ready()
        from screens.app import RunbookApp
        RunbookApp.run_async = partialmethod(RunbookApp.run_async, headless=True,
                                             size=(120, 40))
        return make(*args, **kwargs)
    return made
"""

# `runbook run` itself, on the sample production config aimed at a closed port
# here, in a throwaway HOME (its journal goes there).
APP = RUNBOOK + """
lifecycle.go = headless(lifecycle.go)
cli.main(["run", sys.argv[1]])
"""

# `runbook rehearse` itself, in a fresh sandbox. Its command module is imported
# here only: `runbook run` never loads it, and the app subject did for nothing
# (about 3 M instructions, half a millisecond, of its time).
REHEARSE = RUNBOOK + """
from runbook.cli import rehearse
rehearse.Rehearsal.opening = headless(rehearse.Rehearsal.opening)
cli.main(["rehearse"])
"""


def first_paint(script: str, home: Path) -> float:
    env = {**bytecode.ENV, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "SM_API_TOKEN": "benchmark"}
    started = time.time()
    done = subprocess.run([sys.executable, "-c", script, str(home / "run.toml")],
                          capture_output=True, text=True, check=True, env=env)
    return float(done.stdout.split()[0]) - started


def closed_port_config(home: Path) -> None:
    """The sample production config, its host on a port nothing listens on,
    and its zip and jar where it names them (~/Downloads): `runbook run`
    refuses, before anything is drawn, a config whose artifacts are not there."""
    sample = (ROOT / "sample-configs" / "production.example.toml").read_text()
    downloads = home / "Downloads"
    downloads.mkdir()
    for name in re.findall(r'"~/Downloads/([^"]+)"', sample):
        with zipfile.ZipFile(downloads / name, "w") as archive:
            if name.startswith("red5pro-server-"):  # a 1.x stream manager's webapp, as run asks
                archive.writestr(f"{name.removesuffix('-release.zip')}/webapps/streammanager/"
                                 "WEB-INF/red5-web.properties", "proxy.enabled=false\n")
    with socket.socket() as probe:  # a free port, closed again: connects are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = sample.replace('address = "sm1.example.com"', 'address = "127.0.0.1"') \
        .replace("port = 22\n", f"port = {port}\n", 1)
    (home / "run.toml").write_text(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    subjects = {"bare": BARE, "app": APP, "rehearse": REHEARSE}
    times: dict[str, list[float]] = {name: [] for name in subjects}
    bytecode.compile_sources()
    with tempfile.TemporaryDirectory(prefix="runbook-bench-startup-") as folder:
        home = Path(folder)
        closed_port_config(home)
        first_paint(BARE, home)  # warm the OS file cache so the first subject is not penalised
        for _ in range(args.rounds):
            # Interleaved, so a busy moment on the machine hits every subject alike.
            for name, script in subjects.items():
                times[name].append(first_paint(script, home))
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
