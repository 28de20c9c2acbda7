"""Lines per second the runbook output pane sustains, against a plain Log loop, same run.

Both run headless at 120x40 in this process, on the same lines, arriving in
bursts the way asyncssh hands them over (the event loop is free between bursts):

* baseline  a bare App with one Log; each burst goes in with one Log.write_lines
* runbook   the executor's path: FrontEnd.output() once per line, the app's timer
            moving them to the pane in batches (while the pane shows that step)

The clock stops when the last line is in the widget and the app has drawn it.

    .venv/bin/python benchmarks/tui_throughput.py [--lines 200000] [--burst 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Log

from runbook.cli.wiring import plan_settings, session
from runbook.events import Output, StepChanged
from runbook.model import StepReport, StepState
from screens.app import SHOWN_LINES, create_app


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Log(max_lines=SHOWN_LINES)


async def until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.001)


async def baseline(lines: list[str], burst: int) -> float:
    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.query_one(Log)
        started = time.perf_counter()
        for start in range(0, len(lines), burst):
            log.write_lines(lines[start:start + burst])
            await asyncio.sleep(0)
        await until(lambda: log.lines[-1] == lines[-1])
        await pilot.pause()
        return time.perf_counter() - started


async def runbook_pane(lines: list[str], burst: int) -> float:
    here = Path("/nonexistent/r.jsonl")
    app = create_app(lambda earlier: session(plan_settings(None), token="t", journal_path=here,
                                             state_dir=here.parent), start_run=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.drawn)
        app.front.tell(StepChanged(StepReport("upload", StepState.RUNNING)))
        app.main.checklist.select_step("upload")
        await pilot.pause()
        log = app.main.log_widget
        last = "  " + lines[-1]  # the pane adds the stream's gutter
        tell = app.front.tell
        started = time.perf_counter()
        for start in range(0, len(lines), burst):
            for line in lines[start:start + burst]:
                tell(Output("upload", "out", line))
            await asyncio.sleep(0)
        await until(lambda: log.lines and log.lines[-1] == last)
        await pilot.pause()
        return time.perf_counter() - started


async def main(count: int, burst: int, rounds: int) -> None:
    lines = [f"{n:>7} inflating: red5pro/webapps/streammanager/WEB-INF/lib/x{n}.jar"
             for n in range(count)]
    results: dict[str, list[float]] = {"baseline": [], "runbook": []}
    for _ in range(rounds):
        results["baseline"].append(count / await baseline(lines, burst))
        results["runbook"].append(count / await runbook_pane(lines, burst))
    best = {name: max(values) for name, values in results.items()}
    print(f"{count} lines in bursts of {burst}, headless 120x40, best of {rounds}")
    print(f"  plain Log.write_lines loop   {best['baseline']:10,.0f} lines/s")
    print(f"  runbook output pane          {best['runbook']:10,.0f} lines/s")
    print(f"  ratio runbook/baseline       {best['runbook'] / best['baseline']:10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.lines, args.burst, args.rounds))
