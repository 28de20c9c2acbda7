"""A run cut off between the host's record of its cutover and the journal's
cutover-start (review 58a, L1): the record is written first, then the
journal's, and only then is anything sent. Killed there, or with the journal
full, nothing was changed on the host; every reader goes by the journal, which
says so, and the record is dropped: no refusal offering the way back that
`runbook rollback` then refuses, no "down since", and the resumed run's fleet
guard still compares the fleet with the snapshot."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from runbook.cli.refusals import refuse_a_second_cutover
from runbook.cli.rollback import _the_cutover_under_way
from runbook.config import ConfigError
from runbook.events import RunStarted
from runbook.hoststate import HostState
from runbook.journal import Journal, JournalWriteError
from runbook.model import Check, Phase
from runbook.step import StepContext
from tests.scripted import ScriptedFrontEnd
from tests.test_executor import SETTINGS, Say, records, run_steps


class LooksAtTheRecord(Say):
    """A cutover step that notes, as it looks, whether the host's record says
    a cutover is under way (what delete-nodegroups' fleet guard goes by)."""

    seen: list[bool]

    async def check(self, ctx: StepContext) -> Check:
        self.seen.append(ctx.host_state.cutover() is not None)
        return await super().check(ctx)


async def _cut_at_the_journals_cutover_start(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real = Journal._append

    def full(self: Journal, data: bytes, *, sync: bool = True) -> None:
        if b'"cutover-start"' in data:
            raise OSError(28, "No space left on device")
        real(self, data, sync=sync)

    with monkeypatch.context() as patched:
        patched.setattr(Journal, "_append", full)
        with pytest.raises(JournalWriteError):
            await run_steps(tmp_path, [Say("cut", phase=Phase.CUTOVER, changes=True)],
                            ScriptedFrontEnd(), rollback=[Say("back", phase=Phase.ROLLBACK)])
    host = HostState(tmp_path, "sm", 22)
    assert host.cutover() is not None  # written before the journal's record, as it is
    assert not any(r["event"] in ("cutover-start", "action-start") for r in records(tmp_path))


async def test_a_new_run_is_not_refused_over_a_cutover_its_journal_never_began(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _cut_at_the_journals_cutover_start(tmp_path, monkeypatch)
    host = HostState(tmp_path, "sm", 22)
    refuse_a_second_cutover(host, None, lambda journal: f"resume {journal}",
                            lambda journal: f"rollback {journal}")
    assert host.cutover() is None


async def test_runbook_rollback_says_nothing_was_changed_and_how_to_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _cut_at_the_journals_cutover_start(tmp_path, monkeypatch)
    host = HostState(tmp_path, "sm", 22)
    with pytest.raises(ConfigError) as refused:
        _the_cutover_under_way(argparse.Namespace(journal=None, headless=False, yes=False),
                               SETTINGS, host)
    said = str(refused.value)
    assert "nothing" in said and "--resume" in said, said
    assert str(tmp_path / "run.jsonl") in said, said


async def test_the_resumed_run_begins_the_cutover_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _cut_at_the_journals_cutover_start(tmp_path, monkeypatch)
    stale = HostState(tmp_path, "sm", 22).cutover()
    assert stale is not None
    step = LooksAtTheRecord("cut", phase=Phase.CUTOVER, changes=True)
    step.seen = []
    front = ScriptedFrontEnd()
    outcome: Any = await run_steps(tmp_path, [step], front, resume=True,
                                   rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert outcome.value == "done", front.states
    started = [e for e in front.events if isinstance(e, RunStarted)]
    assert started and started[0].down_since is None  # not down: nothing was sent
    # The fleet guard's look: no cutover under way by the host's record yet.
    assert step.seen == [False]
    began = [r for r in records(tmp_path) if r["event"] == "cutover-start"]
    assert len(began) == 1 and began[0]["began"] > stale.began, (began, stale)
