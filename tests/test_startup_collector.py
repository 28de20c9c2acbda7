"""The garbage collector during start-up (issue 12).

Start-up makes tens of thousands of objects that live as long as the process:
modules, classes, the first screen. Each full collection walked them all again;
one or two of those (30-40 ms each) stood between the imports and the first
paint of `runbook run`, and later ones made idle seconds with a dialog open
cost twice as much as without. The CLI holds the collector off until the first
paint, then freezes what exists out of its sight and lets it run.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import cli
from runbook.cli import plan as plan_command

ROOT = Path(__file__).parents[1]

# `runbook rehearse` in a fresh interpreter, its app headless; the probe counts
# collections from the moment main() is called, says what it saw at the first
# paint (Ready) and once the app has handled it, then leaves.
PROBE = """
import gc, json, sys, time
from textual import events
from textual.app import App
from functools import partialmethod
from runbook import cli
from runbook.cli import terminal
from screens.app import RunbookApp

seen = []
def counted(phase, info):
    if phase == "start":
        seen.append(info["generation"])

_post = App.post_message
def post_message(self, message):
    posted = _post(self, message)
    if isinstance(message, events.Ready):
        painted = len(seen)
        def after():  # queued behind Ready: the app has handled it
            print(json.dumps({"before_paint": painted, "enabled": gc.isenabled(),
                              "frozen": gc.get_freeze_count()}), file=sys.stderr)
            self.exit()
        self.call_later(after)
    return posted
App.post_message = post_message
RunbookApp.run_async = partialmethod(RunbookApp.run_async, headless=True, size=(120, 40))
terminal.on_a_terminal = lambda: True  # headless, above, its stderr a pipe

gc.callbacks.append(counted)
cli.main(["rehearse", "--sandbox", sys.argv[1]])
print(json.dumps({"after_main": gc.isenabled(), "frozen": gc.get_freeze_count()}),
      file=sys.stderr)
"""


def test_no_collection_runs_before_the_first_paint_and_it_runs_after(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "sandbox")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == 2, done.stderr
    painted, ended = lines
    assert painted["before_paint"] == 0, "the collector ran during start-up"
    # After the first paint: what start-up made is frozen, the collector is back.
    assert painted["enabled"] is True
    assert painted["frozen"] > 10_000
    # Once main() returns, nothing is left frozen and the collector runs.
    assert ended == {"after_main": True, "frozen": 0}


def test_a_command_without_a_screen_runs_with_the_collector_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a first paint is worth holding the collector for: `plan` (and a
    headless run, by the same door) runs with it on, as Python starts."""
    states: list[bool] = []

    async def plan(args: object) -> int:
        states.append(gc.isenabled())
        return 0

    monkeypatch.setattr(plan_command, "print_plan", plan)
    assert cli.main(["plan"]) == 0
    assert states == [True]
    assert gc.isenabled()
