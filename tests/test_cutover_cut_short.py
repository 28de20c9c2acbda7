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
from runbook.executor import Executor, Recovery
from runbook.journal_replay import replay
from runbook.model import Check, Phase
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


# Review 59a: journal shapes the completion above misread.


async def test_a_last_step_found_done_at_its_first_look_completes_the_cutover_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """recreate's check finds every saved nodegroup in service at its first
    look (done by hand, or nothing to rebuild): its STEP_END comes with no
    STEP_START, so step_ended has no time for it; cutover_completed_by names
    it, yet the replay says down and offers the way back."""
    steps = [Say("cut", phase=Phase.CUTOVER, changes=True),
             Say("recreate", phase=Phase.CUTOVER, done=True)]
    await _cut_before_its_end(tmp_path, monkeypatch, steps)
    history = replay(tmp_path / "run.jsonl")
    said = service_state(history)
    lines = going_on(history, resume="runbook run --resume J", rollback="runbook rollback C")
    problems = []
    if "is down" in said:
        problems.append(said)
    if any("go back" in line for line in lines):
        problems.append(lines)
    try:
        _cutover_to_undo(history, SETTINGS)
        problems.append("runbook rollback accepts it")
    except ConfigError:
        pass
    assert not problems, problems


class _Slow(Say):
    """Fails its first run (its origins late); found in place at the next look."""

    def __init__(self, step_id: str) -> None:
        super().__init__(step_id, phase=Phase.CUTOVER, changes=True, fail="origins late")
        self.tries = 0

    async def check(self, ctx):  # type: ignore[no-untyped-def]
        return Check(self.tries > 0, "origins in service")

    async def run(self, ctx):  # type: ignore[no-untyped-def]
        self.tries += 1
        await super().run(ctx)


async def test_the_downtime_of_a_last_step_found_done_after_a_failure_ends_where_it_was_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """recreate fails (origins late), the operator waits, t: its check finds
    it done (no STEP_START). Cut off then, the derived downtime ends at the
    FAILED end, seconds before the stream manager was found serving."""
    class Waits(ScriptedFrontEnd):
        async def recover(self, step, *, can_roll_back):  # type: ignore[no-untyped-def]
            await asyncio.sleep(1.5)  # the operator looks, then says t
            return await super().recover(step, can_roll_back=can_roll_back)

    steps = [Say("cut", phase=Phase.CUTOVER, changes=True), _Slow("recreate")]
    with monkeypatch.context() as patched:
        patched.setattr(Executor, "_finish", _killed)
        with pytest.raises(_Killed):
            await run_steps(tmp_path, steps, Waits(recoveries={"recreate": [Recovery.RETRY]}),
                            rollback=[Say("back", phase=Phase.ROLLBACK)])
    history = replay(tmp_path / "run.jsonl")
    assert history.downtime_s is not None
    assert history.downtime_s >= 1.5, history.downtime_s


async def test_the_report_says_no_break_in_a_downtime_that_had_ended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut off after the cutover completed (derived), resumed later: the
    report's downtime is complete at recreate's end, yet it says the run
    ended while the stream manager was down and that the gap is downtime."""
    from runbook import report
    from runbook.report_format import breaks_while_down

    class Looks(Say):
        read_only = True

    steps = [Looks("look"), Say("cut", phase=Phase.CUTOVER, changes=True),
             Say("recreate", phase=Phase.CUTOVER, changes=True)]
    await _cut_before_its_end(tmp_path, monkeypatch, steps)
    await asyncio.sleep(1.2)
    await run_steps(tmp_path, steps, ScriptedFrontEnd(), resume=True,  # type: ignore[arg-type]
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    built = report.build(tmp_path / "run.jsonl")
    assert built.downtime.complete
    said = breaks_while_down(built, str, str)
    assert said is None, said


async def test_a_drill_whose_runbook_rollback_was_cut_off_at_its_start_is_still_going_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 59a F7: `runbook rollback` begins with a run-start that names no
    drill; killed before its way-back record, the drill (--rollback-after
    recreate) read as upgraded, and the next run would close the host's
    record so. A drill stays one for every run of its journal."""
    import json

    monkeypatch.setattr(Executor, "_roll_back", _killed_going_back)
    await _cut_before_its_end(tmp_path, monkeypatch, _cutover(), rollback_after="recreate")
    path = tmp_path / "run.jsonl"
    start = json.loads(path.read_text().splitlines()[0])
    assert start["rollback_after"] == "recreate"
    del start["rollback_after"]  # as `runbook rollback` writes its own
    with path.open("a") as journal:
        journal.write(json.dumps({**start, "steps": []}) + "\n")
    history = replay(path)
    assert "new stream manager serves" not in service_state(history), service_state(history)
