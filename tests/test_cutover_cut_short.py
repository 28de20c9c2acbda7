"""A run cut off after the last cutover step is done, before the journal's
cutover-end record (review 58a, H1): kill -9, or a journal that could not be
written. The new stream manager serves; nothing may call it down, and no way
back may be offered over it (the way back deletes recreate's nodegroups and
stops the new release)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runbook.cli.rollback import _cutover_to_undo
from runbook.config import ConfigError
from runbook.executor import Executor
from runbook.journal_replay import replay
from runbook.model import Phase
from runbook.standing import going_on, service_state
from tests.scripted import ScriptedFrontEnd
from tests.test_executor import SETTINGS, Say, run_steps


class _Killed(BaseException):
    """Stands for a kill -9: nothing after it runs."""


def _killed(self: Executor, outcome: object) -> None:
    raise _Killed()


def _cutover(*, look: bool = False) -> list[Say]:
    class Looks(Say):
        read_only = True

    first: list[Say] = [Looks("look")] if look else []
    return [*first, Say("cut", phase=Phase.CUTOVER, changes=True),
            Say("recreate", phase=Phase.CUTOVER, changes=True)]


async def _cut_before_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              steps: list[Say], **options: object) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(Executor, "_finish", _killed)
        with pytest.raises(_Killed):
            await run_steps(tmp_path, steps, ScriptedFrontEnd(),  # type: ignore[arg-type]
                            rollback=[Say("back", phase=Phase.ROLLBACK)], **options)


async def test_the_exit_lines_say_the_new_one_serves_and_offer_no_way_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _cut_before_its_end(tmp_path, monkeypatch, _cutover())
    history = replay(tmp_path / "run.jsonl")
    said = service_state(history)
    assert "new stream manager serves" in said and "is down" not in said, said
    lines = going_on(history, resume="runbook run --resume J", rollback="runbook rollback C")
    assert not any("go back" in line for line in lines), lines


async def test_runbook_rollback_refuses_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _cut_before_its_end(tmp_path, monkeypatch, _cutover())
    with pytest.raises(ConfigError, match="complete"):
        _cutover_to_undo(replay(tmp_path / "run.jsonl"), SETTINGS)


async def test_a_resume_offers_no_way_back_and_ends_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = _cutover(look=True)
    await _cut_before_its_end(tmp_path, monkeypatch, steps)
    asked: dict[str, object] = {}
    front = ScriptedFrontEnd(on_confirm=lambda report, plan: asked.setdefault(
        report.id, report.way_back_open))
    outcome = await run_steps(tmp_path, steps, front, resume=True,  # type: ignore[arg-type]
                              rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert asked == {"look": False}, asked
    assert outcome.value == "done"
    assert replay(tmp_path / "run.jsonl").downtime_s is not None


async def _killed_going_back(self: Executor, *args: object) -> None:
    raise _Killed()


async def test_a_drill_cut_off_there_is_still_on_its_way_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--rollback-after recreate goes back after it: cut off before the way
    back's first record, the stream manager is not called upgraded (review
    58c: killed after that record, the test held without the drill's rule)."""
    monkeypatch.setattr(Executor, "_roll_back", _killed_going_back)
    await _cut_before_its_end(tmp_path, monkeypatch, _cutover(), rollback_after="recreate")
    history = replay(tmp_path / "run.jsonl")
    assert not history.way_back_taken
    assert "new stream manager serves" not in service_state(history)


async def test_a_resume_long_after_keeps_the_downtime_it_had(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 58c: the resumed run's "done earlier" end of the last step moved
    the downtime's end to the resume, seconds or hours later, in the report,
    the exit lines and the next night's estimate."""
    from runbook import report

    steps = _cutover(look=True)
    await _cut_before_its_end(tmp_path, monkeypatch, steps)
    before = replay(tmp_path / "run.jsonl").downtime_s
    assert before is not None
    await asyncio.sleep(1.5)  # the operator resumes later
    await run_steps(tmp_path, steps, ScriptedFrontEnd(), resume=True,  # type: ignore[arg-type]
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert replay(tmp_path / "run.jsonl").downtime_s == before
    assert report.build(tmp_path / "run.jsonl").downtime.seconds == before


async def test_the_report_calls_the_cutover_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook import report

    await _cut_before_its_end(tmp_path, monkeypatch, _cutover())
    built = report.build(tmp_path / "run.jsonl")
    assert built.downtime.complete and built.downtime.seconds is not None, built.downtime
    assert "is down" not in built.standing, built.standing
    assert not any("go back" in said for said, _ in built.going_on), built.going_on
