"""The properties step and its review in a run, on the rehearsal host over SSH.

Its merge, refusals and verdicts are tested with the other steps
(tests/test_steps.py); here, how a review the operator leaves with keys open
ends the step, the run and the report, and how a resumed run takes it up.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import javaproperties

from runbook.executor import Outcome, Recovery
from runbook.journal_replay import replay
from runbook.model import StepReport, StepState
from runbook.properties import Decisions, Review
from runbook.rehearsal import sandbox
from runbook.report import build
from runbook.report_md import markdown
from runbook.session import Session
from steps import procedure
from steps.facts import Red5Facts
from tests.rehearsal import rehearsal_host, rehearsal_settings
from tests.scripted import ScriptedFrontEnd

THROUGH_PROPERTIES = ["preflight", "upload", "unpack", "properties"]
EDITED_KEY = "streammanager.ip"  # blank in the live file and the template alike
TYPED = "10.0.1.15"


class LeavesTheReview(ScriptedFrontEnd):
    """The operator in the editor: decides one key with e, saves with w
    (the decisions so far, as the screen writes them), and leaves with q,
    keys still open."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.stopped_at_question: list[bool] = []

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        review.set_value(EDITED_KEY, TYPED)
        assert decisions_path is not None
        decisions = Decisions.load(decisions_path) if decisions_path.exists() else \
            Decisions(name=str(decisions_path))
        decisions.record(review)
        decisions.save(decisions_path)
        return False

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        self.stopped_at_question.append(step.stopped)
        return await super().recover(step, can_roll_back=can_roll_back)


class FinishesTheReview(ScriptedFrontEnd):
    """The next sitting: every key still open is confirmed or given a value."""

    def __init__(self) -> None:
        super().__init__()
        self.opened_with: dict[str, str | None] = {}

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        self.opened_with = {EDITED_KEY: review[EDITED_KEY].merged}
        for key in review.unconfirmed:
            review.confirm(key)
        for key in review.undecided:
            review.set_value(key, "decided-next-day")
        return True


def _session(host: object, journal: Path, through: list[str] = THROUGH_PROPERTIES,
             **changes: object) -> Session[Red5Facts]:
    settings = dataclasses.replace(rehearsal_settings(host), **changes)  # type: ignore[arg-type]
    resume = replay(journal) if journal.exists() else None
    return Session(settings, [s for s in procedure() if s.id in through],
                   Red5Facts(), token=host.api_token, journal_path=journal,  # type: ignore[attr-defined]
                   state_dir=host.sandbox / ".operator", isolated=True,  # type: ignore[attr-defined]
                   resume=resume)


async def test_a_throwaway_rehearsals_review_left_open_promises_no_resumed_run(
        tmp_path: Path) -> None:
    """Review K2 (T): left with keys open, the step said "so does a resumed
    run (--resume) once this one stops", where a rehearsal without --sandbox
    or --keep removes its host, and the decisions file in its sandbox, as it
    ends: only trying the step again opens the review as it was left."""
    journal = tmp_path / "run.jsonl"
    decisions = tmp_path / "decisions.toml"
    decisions.write_text("")
    async with rehearsal_host(tmp_path) as host:
        front = LeavesTheReview()
        outcome = await _session(host, journal, decisions=decisions,
                                 rehearsal_throwaway=True).run(front)
    assert outcome is Outcome.STOPPED, front.text()[-3000:]
    said = front.detail("properties")
    assert "Trying the step again opens the review" in said, said
    assert "--resume" not in said and "resumed run" not in said, said
    assert "rehearse again" in said, said
    told = [line for step, _, line in front.lines if step == "properties"]
    assert not [line for line in told if "resumed run" in line], told


async def test_a_review_left_with_keys_open_waits_for_the_operator_and_a_resume_takes_it_up(
        tmp_path: Path) -> None:
    """Trial 55 F5: w with a key still open, then q, in the run's review made
    the step `failed`, the run exit 1, and the report's title "failed", and
    its Properties decisions did not list what was saved. A review left open
    is the operator's pause: the step needs review, its question's stop is
    theirs (exit 3, as any operator stop), nothing is written to the host, the
    report lists what the decisions file keeps, and a resumed run opens the
    review with it."""
    journal = tmp_path / "run.jsonl"
    decisions = tmp_path / "decisions.toml"
    decisions.write_text("")  # a first sitting: nothing decided yet
    async with rehearsal_host(tmp_path) as host:
        first = LeavesTheReview()
        outcome = await _session(host, journal, decisions=decisions).run(first)
        merged = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        template_after_the_pause = merged.read_bytes()

        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        assert first.final_state("properties") == StepState.NEEDS_REVIEW.value
        assert first.stopped_at_question == [True]
        said = first.detail("properties")
        assert "open" in said and str(decisions) in said, said
        assert "nothing was written" in said, said
        assert "failed" not in said.lower(), said
        records = [json.loads(line) for line in journal.read_text().splitlines()]
        assert records[-1]["event"] == "run-end"
        assert (records[-1]["outcome"], records[-1]["exit_code"]) == ("stopped", 3)

        report = build(journal)
        text = markdown(report)
        assert text.splitlines()[0].endswith("- stopped"), text.splitlines()[0]
        section = text.split("## Properties decisions")[1].split("\n## ")[0]
        assert "needs review" in section, section
        assert f"{EDITED_KEY} = {TYPED}" in section and "live: (blank)" in section, section
        assert "edited" in section, section

        second = FinishesTheReview()
        outcome = await _session(host, journal, decisions=decisions).run(second)
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert second.opened_with == {EDITED_KEY: TYPED}
        written = javaproperties.loads(merged.read_text(encoding="latin-1"))
    assert b"10.0.1.15" not in template_after_the_pause
    assert written[EDITED_KEY] == TYPED


async def test_in_the_app_a_review_left_open_is_a_stop_not_a_failure(tmp_path: Path) -> None:
    """Trial 55 F5, through the app's keys: w with a key open, q; the step's
    row reads needs review, its question says it was stopped (not "did not
    end well"), and q there ends the run stopped, not failed."""
    from textual.widgets import Input

    from screens.app import create_app
    from screens.dialogs import ConfirmDialog, RecoverDialog
    from screens.properties_review import PropertiesReviewScreen
    from tests.polling import until
    from tests.rehearsal import rehearsal_session

    journal = tmp_path / "runs" / "run.jsonl"
    decisions = tmp_path / "decisions.toml"
    decisions.write_text("")
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host, decisions=str(decisions))
        app = create_app(lambda continuing: rehearsal_session(host, journal, settings,
                                                              resume=continuing),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:
            for info in app.run_state.forward:
                await until(lambda i=info: (app.asking is not None
                                            and app.asking.report.id == i.id)
                            or app.run_state.states[i.id] in ("done", "skipped"),
                            timeout=60, what=f"the runbook to reach {info.id}")
                if app.run_state.states[info.id] in ("done", "skipped"):
                    continue
                app.main.checklist.select_step(info.id)
                await pilot.press("enter")
                await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
                await pilot.pause()
                if info.needs_typed_confirmation:
                    app.screen.query_one(Input).value = info.id
                    await pilot.press("enter")
                else:
                    await pilot.press("y")
                if info.id == "properties":
                    break
                await until(lambda i=info: app.run_state.states[i.id] == "done",
                            timeout=60, what=f"{info.id} to run")
            await until(lambda: isinstance(app.screen, PropertiesReviewScreen),
                        timeout=60, what="the editor")
            await pilot.press("n", "a", "w")
            await pilot.pause()
            said = str(app.screen.query_one("#review-message").render())
            assert "the step waits" in said, said
            await pilot.press("q")
            await until(lambda: isinstance(app.screen, RecoverDialog), timeout=60,
                        what="the step's question")
            dialog = app.screen
            assert isinstance(dialog, RecoverDialog) and dialog.stopped, dialog.detail
            assert app.run_state.states["properties"] == StepState.NEEDS_REVIEW.value
            assert "keys open" in dialog.detail or "key open" in dialog.detail, dialog.detail
            await pilot.press("q")
            await until(lambda: app.outcome is not None, what="the end of the run")
            assert app.outcome is Outcome.STOPPED
            await pilot.press("q")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert (records[-1]["outcome"], records[-1]["exit_code"]) == ("stopped", 3)


class SeesTheStandIn(FinishesTheReview):
    """Finishes the review, noting what it says of the template beside its name."""

    def __init__(self) -> None:
        super().__init__()
        self.stand_in: list[str | None] = []

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        self.stand_in.append(getattr(review, "stand_in", None))
        return await super().review(step_id, review, decisions_path=decisions_path)


async def test_a_rehearsal_says_the_new_releases_template_and_tables_are_its_stand_ins(
        tmp_path: Path) -> None:
    """Trial 56, F10: the report and the review showed the rehearsal's 11.1.0
    template keys (default.server.application, ...) and "the cluster database
    has the release's 26 tables" as if 11.1.0 shipped them; no 7.x-13.x
    template was found (the data README: the 10.9 and 11.1 templates are a
    file built for the rehearsal, the tables 6.2.0's). A rehearsal says so
    once where each is used; a production run never does."""
    decisions = tmp_path / "decisions.toml"
    decisions.write_text("")  # every key asked, so the review opens
    rehearsed, production = tmp_path / "rehearsal.jsonl", tmp_path / "production.jsonl"
    through = [*THROUGH_PROPERTIES, "new-database", "schema"]
    async with rehearsal_host(tmp_path) as host:
        front = SeesTheStandIn()
        outcome = await _session(host, rehearsed, through, decisions=decisions).run(front)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        # The same files, read by a run that is not a rehearsal (found in place).
        again = SeesTheStandIn()
        outcome = await _session(host, production, through, decisions=decisions,
                                 rehearsal=False).run(again)
        assert outcome is Outcome.DONE, again.text()[-3000:]
    version = host.scenario.new.numbers
    assert version == "11.1.0"
    said = markdown(build(rehearsed))
    properties = said.split("## Properties decisions")[1].split("\n## ")[0]
    assert properties.count("stand-in") == 1, properties
    line = next(line for line in properties.splitlines() if "stand-in" in line)
    assert f"{version} template" in line and f"not the one {version} ships" in line, line
    schema = next(line for line in said.splitlines() if line.startswith("| ")
                  and "`schema`" in line)
    assert "26 tables" in schema and f"not the one {version} ships" in schema, schema
    assert said.count("stand-in") == 2, said
    assert len(front.stand_in) == 1 and front.stand_in[0] is not None, front.stand_in
    assert version in front.stand_in[0], front.stand_in
    assert again.stand_in in ([], [None]), again.stand_in
    assert "stand-in" not in markdown(build(production))
    assert "stand-in" not in production.read_text()


async def test_from_5_1_the_merge_sets_the_key_the_new_aws_bean_reads(tmp_path: Path) -> None:
    """Facts audit 57b H1: upgrading 5.1.1 to 6.2.0 on AWS, the merge kept the
    template's #aws.forUsGovRegions=false commented out (the live file has no
    such key), and 6.2.0's AWS bean reads it: the new stream manager would not
    start. The step reads the bean and asks for the key as a new one, its value
    from the template: without a decision for it the merge is not written; the
    review confirming it writes aws.forUsGovRegions=false."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, scenario="5.1-to-6.2") as host:
        path = Path(rehearsal_settings(host).decisions or "")
        text = path.read_text()
        assert '[keys."aws.forUsGovRegions"]\n' in text, "the path's copy decides it"
        # An operator's file written without it: the review asks.
        without = tmp_path / "without.toml"
        without.write_text(text.split('[keys."aws.forUsGovRegions"]')[0])
        first = ScriptedFrontEnd()
        outcome = await _session(host, journal, decisions=without, headless=True).run(first)
        assert outcome is not Outcome.DONE, first.text()[-3000:]
        said = first.detail("properties")
        assert "value needs confirming (aws.forUsGovRegions)" in said, said
        assert "given --contexts for keys the new release's bean reads" in said, said
        assert "AWSInstanceController bean reads a key the live file does not set" in \
            first.text(), first.text()[-3000:]
        # Said ahead, by preflight: the key, and that the decisions file leaves it open.
        ahead = [line for step, _, line in first.lines if step == "preflight"
                 and "aws.forUsGovRegions (the template's false" in line]
        assert ahead and f"{without} does not decide aws.forUsGovRegions" in ahead[0], \
            first.text()[-3000:]
        merged = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        assert "#aws.forUsGovRegions=false\n" in merged.read_text(), "not written"
        journal.unlink()

        second = ScriptedFrontEnd()
        outcome = await _session(host, journal, decisions=path).run(second)
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert any(step == "preflight" and line.endswith(f"; {path} decides it")
                   for step, _, line in second.lines), second.text()[-3000:]
        written = javaproperties.loads(merged.read_text(encoding="latin-1"))
    assert written["aws.forUsGovRegions"] == "false"


class DecidesAndWrites(ScriptedFrontEnd):
    """The operator in the editor: decides every open key, writes the
    decisions file with w, and ends the review."""

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        for key in review.unconfirmed:
            review.confirm(key)
        for key in review.undecided:
            review.set_value(key, "decided-in-the-window")
        assert decisions_path is not None
        decisions = Decisions.load(decisions_path)
        decisions.record(review)
        decisions.save(decisions_path)
        return True


async def test_decisions_written_in_the_review_are_not_said_applied_to_none(
        tmp_path: Path) -> None:
    """Operator re-trial 57b (F-D): the decisions file was empty, the keys were
    decided in the run's review and written to it with w; the step's output
    then said "Decisions file: applied to 0 keys", as if the file just written
    had been ignored. It says the decisions came from the review and went
    into the file."""
    journal = tmp_path / "run.jsonl"
    decisions = tmp_path / "decisions.toml"
    decisions.write_text("")
    async with rehearsal_host(tmp_path) as host:
        front = DecidesAndWrites()
        outcome = await _session(host, journal, decisions=decisions).run(front)
    assert outcome is Outcome.DONE, front.text()[-3000:]
    said = "\n".join(line for step, _, line in front.lines if step == "properties")
    block = said.split("Decisions file:", 1)[1]
    assert "applied to 0 keys" not in block, block
    assert f"decided in the review and written to {decisions}" in block, block
