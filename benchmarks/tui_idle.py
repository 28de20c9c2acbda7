"""CPU the TUI uses while the operator reads: the runbook app against a bare
Textual app, same run, same terminal.

Each subject runs in a fresh process on a pseudo-terminal (80x24 by default)
whose output the parent drains, as a terminal would; after a warm-up, its CPU
(user + system, from /proc) is counted over a window and given as a share of
one core. Subjects:

* bare      a Textual App showing one Static (the baseline)
* clock     the same with a second Static showing the time, updated each
            second: what any screen with a clock costs at the least
* quiet     runbook's app before any run: nothing on screen changes
* waiting   runbook's app waiting on the operator's answer mid-run: the
            elapsed clock ticks once a second
* down      as waiting, during the cutover: the downtime clock ticks as well
* dialog    as down, with the step's confirmation open over the main screen:
            the operator reads it while the downtime clock runs
* log       as down, with the full log open: it shows the clocks row too

/proc counts CPU in ticks of 10 ms: over the default 30 s window one tick is
0.03 % of a core, so the figures resolve the 0.1 % steps the goal is argued in
(a 10 s window could not tell 0.4 % from 0.5 %). Run it on a quiet machine.

    .venv/bin/python benchmarks/tui_idle.py [--seconds 30] [--warmup 10] [--size 80x24]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("hello")

Bare().run()
"""

CLOCK = """
import time
from textual.app import App
from textual.widgets import Static

class Clock(App):
    def compose(self):
        yield Static("hello")
        yield Static(id="clock")

    def on_mount(self):
        self.set_interval(1, lambda: self.query_one("#clock").update(
            time.strftime("%H:%M:%S"), layout=False))

Clock().run()
"""

# The app as the CLI runs it: under held_for_start_up, as runbook.cli.main does,
# so the collector is frozen at the first paint as it is for the operator.
APP = """
import asyncio
import os
import traceback
from pathlib import Path
from runbook.cli.wiring import plan_settings, session
from runbook.collector import held_for_start_up
from runbook.events import CutoverStarted, RunStarted
from runbook.model import Shell, StepReport
from screens.app import create_app

here = Path("/nonexistent/run.jsonl")
app = create_app(lambda earlier: session(plan_settings(None), token="t", journal_path=here,
                                         state_dir=here.parent),
                 rehearsal=True, start_run=False)
WHAT = {what!r}

async def set_up():
    # Not Textual's auto_pilot: the screen is not drawn until an auto pilot ends.
    while not app.drawn:
        await asyncio.sleep(0.1)
    if WHAT == "quiet":
        return None
    app.front.tell(RunStarted("rehearsal.toml", "red5admin@127.0.0.1:2222", True, (), False))
    if WHAT in ("down", "dialog", "log"):
        app.front.tell(CutoverStarted("delete-nodegroups", app.clock()))
    step = "delete-nodegroups" if WHAT in ("down", "dialog", "log") else "preflight"
    asked = asyncio.ensure_future(app.front.confirm(StepReport(step), [Shell("true")]))
    if WHAT == "dialog":
        while app.asking is None:
            await asyncio.sleep(0.1)
        app.call_later(app.action_run_step)  # enter: in the app's context, as a key is
    if WHAT == "log":
        app.call_later(app.action_show_log)  # L
        while type(app.screen).__name__ != "LogView":
            await asyncio.sleep(0.1)
    return asked

async def scene():
    # Said to the parent, which measures only a scene that came about: one that
    # raised would leave an idle app to measure, under the scene's name.
    said = Path(os.environ["RUNBOOK_BENCH_SCENE"])
    try:
        asked = await set_up()
    except BaseException:
        said.write_text(traceback.format_exc())
        raise
    said.write_text("set")
    if asked is not None:
        await asked

async def main():
    task = asyncio.ensure_future(scene())
    await app.run_async()
    task.cancel()

with held_for_start_up():
    asyncio.run(main())
"""

SUBJECTS = {"bare": BARE, "clock": CLOCK, "quiet": APP.format(what="quiet"),
            "waiting": APP.format(what="waiting"), "down": APP.format(what="down"),
            "dialog": APP.format(what="dialog"), "log": APP.format(what="log")}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(fd: int, until: float) -> None:
    while (left := until - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def measure(name: str, script: str, *, warmup: float, seconds: float,
            size: tuple[int, int], said: Path) -> float:
    said.unlink(missing_ok=True)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the subject, on the terminal's far side
        os.chdir(ROOT)
        os.environ.update(TERM="xterm-256color", TEXTUAL_ANIMATIONS="none",
                          RUNBOOK_BENCH_SCENE=str(said))
        os.execv(sys.executable, [sys.executable, "-c", script])
    columns, rows = size
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    try:
        drain(fd, time.monotonic() + warmup)
        if "RUNBOOK_BENCH_SCENE" in script:
            came = said.read_text() if said.exists() else "nothing said by then"
            if came != "set":
                raise SystemExit(f"{name}: the scene did not come about: {came}")
        before = cpu_seconds(pid)
        drain(fd, time.monotonic() + seconds)
        return (cpu_seconds(pid) - before) / seconds
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # /proc's 10 ms ticks are 0.03 % of a core over 30 s.
    parser.add_argument("--seconds", type=float, default=30.0)
    # Generous: start-up on a busy machine must not leak into the window.
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--size", default="80x24")
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="runbook-bench-idle-") as folder:
        said = Path(folder) / "scene"
        shares = {name: measure(name, script, warmup=args.warmup, seconds=args.seconds,
                                size=(columns, rows), said=said)
                  for name, script in SUBJECTS.items()}
    print(f"CPU while idle, share of one core over {args.seconds:g}s after "
          f"{args.warmup:g}s, {columns}x{rows} pseudo-terminal")
    bare = shares["bare"] or 1e-9
    for name, share in shares.items():
        print(f"  {name:<8} {share * 100:5.2f} %   x{share / bare:5.2f} of bare")
    worst = max(shares[name] for name in ("quiet", "waiting", "down", "dialog", "log"))
    print(f"runbook's app at most {worst * 100:.2f} % of a core while idle (goal: under 0.5 %)")
    # The goal is a share of a core, which moves with the machine (the clock
    # took 0.43 % one hour and 0.50 % the next here): the least any screen
    # with a ticking clock costs, measured in the same run, is shown beside it.
    print(f"  the worst is x{worst / (shares['clock'] or 1e-9):.2f} of the clock "
          "(a Textual app updating one Static each second)")


if __name__ == "__main__":
    main()
