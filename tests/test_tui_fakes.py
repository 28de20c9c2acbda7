"""Shared pieces for the TUI tests, and tests of the pure presentation helpers.

The data here is deterministic on purpose: snapshot tests feed it to the app's
front end instead of running a live host, so the pictures never move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from runbook.cli import _plan_settings
from runbook.config import Settings
from runbook.executor import Decision, Executor, Outcome
from runbook.hoststate import HostState
from runbook.journal import Journal
from runbook.model import Action, Check, Note, Phase, Shell, StepReport, StepState
from runbook.redact import Redactor
from runbook.remote import Remote
from runbook.smapi import StreamManagerAPI
from runbook.step import PlanContext, Step, StepContext
from screens.app import RunbookApp, create_app
from screens.presentation import clock, duration, fit, legend, output_lines, step_row

SNAPSHOT_JOURNAL = Path("/nonexistent/runbook-snapshots/run.jsonl")


class FakeClock:
    """A clock the test moves by hand, so every elapsed time on screen is fixed."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings() -> Settings:
    """The rehearsal config filled with fixed values: the same paths on every machine."""
    return _plan_settings(None)


def make_app(*, clock_: FakeClock | None = None, journal: Path = SNAPSHOT_JOURNAL,
             resume: Path | None = None) -> RunbookApp:
    return create_app(settings(), token="not-a-real-token", journal_path=journal,
                      rehearsal=True, clock=clock_ or FakeClock(), start_run=False,
                      resume=resume)


def report(step_id: str, state: StepState = StepState.PENDING, detail: str = "",
           elapsed: float | None = None) -> StepReport:
    from steps import procedure

    step = next(s for s in procedure() if s.id == step_id)
    return StepReport(step.id, step.title, step.phase, state, detail, elapsed)


async def plan_of(step_id: str) -> list[Action]:
    """The step's real plan, as the executor would hand it to confirm()."""
    from steps import procedure

    step = next(s for s in procedure() if s.id == step_id)
    s = settings()
    api = StreamManagerAPI(s.api_base_url, "", s.api_version, token_hint=f"${s.token_env}")
    try:
        return step.plan(PlanContext(s, api.curl, {"journal": str(SNAPSHOT_JOURNAL)}))
    finally:
        await api.aclose()


def ask(app: RunbookApp, step_id: str, plan: list[Action]) -> asyncio.Task[Decision]:
    """Make the app's front end ask about a step, as the executor does."""
    return asyncio.ensure_future(app.front.confirm(report(step_id), plan))


async def until(condition: Callable[[], object], *, timeout: float = 20.0,
                what: str = "the condition") -> None:
    """Poll app state instead of sleeping a fixed time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# --- a real Executor over steps that need no host -------------------------------------


class Talk(Step):
    """A step that only talks (or waits on an event, like a long remote command)."""

    phase: ClassVar[Phase] = Phase.PREPARE
    summary = "talks to the operator"

    def __init__(self, step_id: str, *, phase: Phase = Phase.PREPARE,
                 gate: asyncio.Event | None = None, lines: int = 1) -> None:
        self.id = step_id  # type: ignore[misc]
        self.title = f"Step {step_id}"  # type: ignore[misc]
        self.phase = phase  # type: ignore[misc]
        self.gate = gate
        self.lines = lines

    def plan(self, p: PlanContext) -> list[Action]:
        return [Shell(f"echo {self.id}"), Note("nothing on any host")]

    async def check(self, ctx: StepContext) -> Check:
        return Check(False)

    async def run(self, ctx: StepContext) -> None:
        for n in range(self.lines):
            ctx.info(f"{self.id} says {n}")
        if self.gate is not None:
            await self.gate.wait()

    async def verify(self, ctx: StepContext) -> Check:
        return Check(True, f"{self.id} talked")


def executor_for(app: RunbookApp, steps: list[Step], journal: Path
                 ) -> Callable[[], Awaitable[Outcome]]:
    """A procedure for ``app.start_run``: the real executor, journal and redactor."""
    s = settings()

    async def no_api(fresh: bool) -> None:
        raise AssertionError("these steps never call the API")

    async def run() -> Outcome:
        with_journal = Journal(journal)
        try:
            executor = Executor(steps, settings=s, remote=Remote(s.host), api_factory=no_api,
                                curl=lambda *a, **k: "curl", journal=with_journal,
                                front=app.front, redactor=Redactor(["not-a-real-token"]),
                                host_state=HostState(journal.parent, s.host.address,
                                                     s.host.port))
            return await executor.run()
        finally:
            with_journal.close()

    return run


# --- the presentation helpers ----------------------------------------------------------


def test_durations_and_clocks_read_naturally() -> None:
    assert duration(None) == ""
    assert duration(4.25) == "4.2s"
    assert duration(725) == "12m05s"
    assert duration(3720) == "1h02m"
    assert clock(None) == "--:--:--"
    assert clock(3723.9) == "01:02:03"


def test_rows_keep_their_columns() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdefgh", 5) == "abcd…"
    short = step_row(1, "Preflight checks", "done", 1.5).plain
    long = step_row(15, "Recreate nodegroups and origins", "needs-review", 125).plain
    assert len(short) == len(long)
    assert "✓" in short and "done" in short and "1.5s" in short
    assert "?" in long and "needs review" in long


def test_every_state_has_a_glyph_and_a_word_in_the_legend() -> None:
    text = legend().plain
    for word in ("pending", "your turn", "running", "done", "failed", "skipped",
                 "needs review", "in doubt"):
        assert word in text


def test_output_lines_tell_the_streams_apart_in_the_text() -> None:
    assert output_lines("cmd", "$ ls -l") == ["$ ls -l"]
    assert output_lines("cmd", "curl -X GET x") == ["$ curl -X GET x"]
    assert output_lines("out", "a\nb") == ["  a", "  b"]
    assert output_lines("err", "boom") == ["! boom"]
    assert output_lines("info", "") == ["* "]
