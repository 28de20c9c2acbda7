"""What the front ends say once the reconnect has given up (review 62, G8).

Remote._reopen gives up after reconnect_within and raises; a step whose look
met that fails, and its question waits. The status line went on saying "ssh
lost, reconnecting (attempt 4, in 3s)" while the operator read the failure,
though nothing reconnects until they answer. The Remote now tells its give-up,
the executor journals and forwards it, and every front end says the link is
lost, not being re-opened.

The rehearsal host behind a loopback TCP proxy that, once the run has
connected, cuts the connection and refuses new ones.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from runbook.events import Connected, Event, ReconnectGaveUp
from runbook.executor import Outcome, Recovery
from runbook.facts import Facts
from runbook.headless import HeadlessFrontEnd
from runbook.log import log_lines
from runbook.model import Action, Check, Phase, Shell, StepReport
from runbook.remote import Remote
from runbook.step import PlanContext, Step, StepContext, cards
from screens.run_state import RunState
from tests.rehearsal import rehearsal_host
from tests.scripted import ScriptedFrontEnd
from tests.test_in_doubt import run_step
from tests.test_stop_on_a_dead_link import BlackHole, through

WITHIN_S = 3.0


class Looks(Step[Facts]):
    """A step whose check looks at the host."""

    id = "looks"
    title = "Look at the host"
    phase = Phase.PREPARE
    summary = "looks"

    def plan(self, p: PlanContext[Facts]) -> list[Action]:
        return [Shell("true")]

    async def check(self, ctx: StepContext[Facts]) -> Check:
        await ctx.probe("true")
        return Check(False)

    async def run(self, ctx: StepContext[Facts]) -> None:
        await ctx.sh("true")

    async def verify(self, ctx: StepContext[Facts]) -> Check:
        return Check(True, "looked")


class CutsTheLink(ScriptedFrontEnd):
    """Cuts the network once the run has connected; keeps what it was told
    up to the failed step's question."""

    def __init__(self, hole: BlackHole, **script: Any) -> None:
        super().__init__(**script)
        self.hole = hole
        self.at_question: list[Event] | None = None

    def tell(self, event: Event) -> None:
        super().tell(event)
        if isinstance(event, Connected) and not self.hole.closed:
            self.hole.refuse()

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        self.at_question = list(self.events)
        return await super().recover(step, can_roll_back=can_roll_back)


async def test_once_the_reconnect_gives_up_no_front_end_says_it_goes_on(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    step = Looks()
    async with rehearsal_host(tmp_path, boot_service=False) as host, \
            BlackHole(host.ssh_port) as hole:
        remote = Remote(through(host, hole, tmp_path), isolated=True, connect_timeout=2,
                        reconnect_within=WITHIN_S)
        front = CutsTheLink(hole, recoveries={step.id: [Recovery.STOP]})
        outcome = await asyncio.wait_for(run_step(host, step, journal, front, remote=remote), 60)
    assert outcome is not Outcome.DONE
    assert front.at_question is not None, front.text()
    told = front.at_question
    # The status line, as the TUI's run state reads the events.
    state = RunState(cards=[], target="u@h:22")
    for event in told:
        state.apply(event, 1.0)
    assert "reconnecting" not in state.connection, state.connection
    assert state.connection.startswith("lost") and f"{WITHIN_S:g}s" in state.connection, \
        state.connection
    # Told once, as the Remote gave up.
    gave_up = [e for e in told if isinstance(e, ReconnectGaveUp)]
    assert len(gave_up) == 1 and gave_up[0].within_s == WITHIN_S, told
    # Headless prints it under the step, as it printed each attempt.
    shown = io.StringIO()
    headless = HeadlessFrontEnd(cards([step]), out=shown, stdin=io.StringIO())
    for event in told:
        headless.tell(event)
    printed = shown.getvalue()
    assert "gave up" in printed and f"{WITHIN_S:g}s" in printed, printed
    # Journalled: `runbook log` says it where it happened.
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [r["event"] for r in records].count("reconnect-gave-up") == 1, records
    logged = [line for _, line in log_lines(journal)]
    assert any("gave up" in line for line in logged), logged
