"""The headless front end: plans on stdout, questions on stdin, nothing fancy.

Used before the TUI exists, over a plain SSH session, and by CI. With
``--yes`` every step is answered "run"; otherwise each step's plan is printed
and the operator answers y (run), s (skip, with a reason) or q (stop).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from runbook.executor import Answer, Decision
from runbook.model import Action, Phase, StepReport, StepState

_MARK = {
    StepState.DONE: "done",
    StepState.FAILED: "FAILED",
    StepState.SKIPPED: "skipped",
    StepState.IN_DOUBT: "IN DOUBT",
    StepState.NEEDS_REVIEW: "needs review",
}
_PREFIX = {"cmd": "  > ", "out": "  | ", "err": "  ! ", "info": "  * "}


@dataclass(frozen=True)
class StepText:
    """What the operator reads about a step before answering."""

    summary: str
    caution: str = ""
    destructive: bool = False


class HeadlessFrontEnd:
    def __init__(
        self,
        *,
        assume_yes: bool = False,
        out: TextIO | None = None,
        stdin: TextIO | None = None,
        steps: dict[str, StepText] | None = None,
    ) -> None:
        self.assume_yes = assume_yes
        self.out = out or sys.stdout
        self.stdin = stdin or sys.stdin
        self.steps = steps or {}
        self.reports: dict[str, StepReport] = {}
        self.notes: list[dict[str, Any]] = []
        self._last_progress = 0.0
        self._phase: Phase | None = None

    def _print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def _ask(self, prompt: str) -> str | None:
        self.out.write(prompt)
        self.out.flush()
        # A daemon thread, not asyncio.to_thread: ctrl+c must end runbook at
        # once, and the default executor would wait for a line first.
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def read() -> None:
            line = self.stdin.readline()
            loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(line))

        threading.Thread(target=read, daemon=True).start()
        line = await answer
        return None if line == "" else line.strip()

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        if step.phase is not self._phase:
            self._phase = step.phase
            title = "PREPARE (the live system keeps running)" if step.phase is Phase.PREPARE \
                else "CUTOVER (downtime starts with the first step you run)"
            self._print(f"\n=== {title} ===")
        text = self.steps.get(step.id)
        flag = "  [DESTRUCTIVE]" if text is not None and text.destructive else ""
        self._print(f"\n[{step.id}] {step.title}{flag}")
        if text is not None:
            self._print(f"  {text.summary}")
            if text.caution:
                self._print(f"  caution: {text.caution}")
        self._print("  plan:")
        for action in plan:
            for line in action.render().splitlines():
                self._print(f"    {line}")
        if self.assume_yes:
            self._print("  -> run (--yes)")
            return Decision(Answer.RUN)
        while True:
            answer = await self._ask("  run it? [y] run  [s] skip  [q] stop: ")
            if answer is None or answer.lower() == "q":
                return Decision(Answer.STOP)
            if answer.lower() == "y":
                return Decision(Answer.RUN)
            if answer.lower() == "s":
                while True:
                    reason = await self._ask("  why skip it? (kept in the journal): ")
                    if reason is None:
                        return Decision(Answer.STOP)
                    if reason:
                        return Decision(Answer.SKIP, reason)
                    self._print("  a skip needs a reason")
            else:
                self._print("  answer y, s or q")

    def step_state(self, step: StepReport) -> None:
        self.reports[step.id] = step
        if step.state in _MARK:
            took = f" in {step.elapsed_s:g}s" if step.elapsed_s is not None else ""
            self._print(f"  [{_MARK[step.state]}{took}] {step.detail}".rstrip())

    def output(self, step_id: str, stream: str, line: str) -> None:
        prefix = _PREFIX.get(stream, "  | ")
        for part in line.splitlines() or [""]:
            self._print(prefix + part)

    def progress(self, step_id: str, done: float, total: float | None, label: str) -> None:
        now = time.monotonic()
        if total and done < total and now - self._last_progress < 2.0:
            return
        self._last_progress = now
        shown = f"{100 * done / total:.0f}%" if total else ""
        if total and total > 1 << 20:
            shown = f"{done / (1 << 20):.1f}/{total / (1 << 20):.1f} MiB"
        self._print(f"  ~ {label} {shown}".rstrip())

    def run_event(self, event: str, data: dict[str, Any]) -> None:
        if event == "journal-repaired":
            self._print(f"note: {data.get('message')}")
        elif event == "run-end" and data.get("journal_failure"):
            self._print(f"\nthe journal failed: {data.get('journal_failure')}")
        elif event == "cutover-start":
            self._print("  ! downtime starts now")
        elif event == "cutover-end" and data.get("complete"):
            self._print(f"\ndowntime: {data.get('downtime_s')}s")
        elif event == "cutover-end":
            self._print(f"\ndowntime so far: {data.get('downtime_s')}s; the stream manager is "
                        "still down until cutover finishes")
        elif event == "run-end":
            self._summary(str(data.get("outcome")))

    def _summary(self, outcome: str) -> None:
        self._print("\n=== summary ===")
        for report in self.reports.values():
            mark = _MARK.get(report.state, report.state.value)
            self._print(f"  {report.id:<18} {mark}")
        self._print(f"outcome: {outcome}")
