"""A whole rehearsal driven through the TUI, the way an operator does it: select the
step, press enter, read the dialog, confirm (typing the id where it asks), wait.
The rehearsal host is real (SSH, bash, the service process); only the keys are Pilot's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import javaproperties
import pytest
from textual.widgets import Input

from runbook.executor import Outcome
from runbook.model import StepState
from runbook.rehearsal import cloud
from runbook.report import build
from runbook.report_format import outcome_cell
from screens.app import create_app, load_review_screen
from screens.dialogs import ConfirmDialog
from screens.presentation import NEXT
from screens.widgets import Wrapped
from tests.polling import until
from tests.rehearsal import rehearsal_host, rehearsal_session, seeded_nodegroups

PROPS = "webapps/streammanager/WEB-INF/red5-web.properties"
NEW = "red5pro-server-11.1.0.b835-release"
OLD = "red5pro-server-6.2.0.b406-release"
FINISHED = (StepState.DONE.value, StepState.SKIPPED.value)
BUSY = (NEXT, StepState.RUNNING.value, StepState.NEEDS_REVIEW.value)


async def confirm_and_run(app: Any, pilot: Any, info: Any, review_screen: Any) -> None:
    """Open a step's question from the checklist, confirm it by its keys (its
    id typed where it asks for one), and wait until it is done."""
    app.main.checklist.select_step(info.id)
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.pause()
    if info.needs_typed_confirmation:
        app.screen.query_one(Input).value = info.id
        await pilot.press("enter")
    else:
        await pilot.press("y")
    await until(lambda: app.reviewing is not None
                or app.run_state.states[info.id] not in BUSY,
                timeout=60, what=f"{info.id} to run")
    if app.reviewing is not None:
        # The properties editor opened (keys to acknowledge): leave it as an
        # operator would who has nothing to change. Its own tests drive it.
        await until(lambda: review_screen is not None
                    and isinstance(app.screen, review_screen), what="the editor")
        app.screen.dismiss(False)
        await until(lambda: app.run_state.states[info.id] not in BUSY,
                    timeout=60, what=f"{info.id} to finish")
    assert app.run_state.states[info.id] == StepState.DONE.value, \
        app.run_state.reports[info.id]


async def test_a_whole_rehearsal_through_the_app(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake cloud's nodes come up in seconds instead of minutes.
    monkeypatch.setenv(cloud.PACE_ENV, "0.00125")
    journal = tmp_path / "runs" / "run.jsonl"
    review_screen = load_review_screen()
    async with rehearsal_host(tmp_path) as host:
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:
            for info in app.run_state.forward:
                await until(lambda i=info: (app.asking is not None
                                            and app.asking.report.id == i.id)
                            or app.run_state.states[i.id] in FINISHED or app.outcome is not None,
                            timeout=60, what=f"the runbook to reach {info.id}")
                assert app.outcome is None, \
                    f"the run ended early at {info.id}: {app.run_state.reports}"
                if app.run_state.states[info.id] in FINISHED:
                    continue  # its check found it already in place
                await confirm_and_run(app, pilot, info, review_screen)
            await until(lambda: app.outcome is not None, what="the end of the run")
            assert app.outcome is Outcome.DONE
            assert "Every step is done" in str(app.main.query_one("#hint").content)
            await pilot.press("q")
        new_db_groups = cloud.list_nodegroups(host.sandbox, *host.new_db)
        old_db_groups = cloud.list_nodegroups(host.sandbox, *host.old_db)

    # The host ends as issue 2 says a rehearsal must leave it.
    live = host.install_dir / "red5pro"
    backup = host.install_dir / "bak.red5pro"
    assert (live / NEW).is_symlink() and not (live / OLD).is_symlink()
    assert (backup / OLD).is_symlink()
    assert not (live / "conf/autoscale.xml").exists()
    merged = javaproperties.loads((live / PROPS).read_text())
    assert merged["config.dbHost"] == host.new_db[0]
    assert old_db_groups == [] and len(new_db_groups) == seeded_nodegroups()

    # Every cutover step was confirmed by the operator, and the journal says so.
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    confirmed = {r["step"] for r in records if r["event"] == "confirm" and r["answer"] == "run"}
    assert {c.id for c in app.cards if c.phase == "cutover"} <= confirmed
    assert records[-1]["event"] == "run-end" and records[-1]["outcome"] == "done"
    assert host.api_token not in journal.read_text()


async def test_a_skipped_properties_step_on_the_template_keeps_the_app_from_the_cutover(
        tmp_path: Path) -> None:
    """Trial 53, as headless and the engine's own tests have it: properties
    skipped with `s` and a reason while the new release's file is the
    template as shipped; the app never asks for delete-nodegroups' id, but
    shows its refusal as a failure question, with no way back (nothing is
    down), and the cutover does not begin."""
    from screens.dialogs import RecoverDialog, SkipDialog

    journal = tmp_path / "runs" / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:
            for info in app.run_state.forward:
                if info.id == "delete-nodegroups":
                    break
                await until(lambda i=info: (app.asking is not None
                                            and app.asking.report.id == i.id)
                            or app.run_state.states[i.id] in FINISHED or app.outcome is not None,
                            timeout=60, what=f"the runbook to reach {info.id}")
                if app.run_state.states[info.id] in FINISHED:
                    continue
                app.main.checklist.select_step(info.id)
                if info.id == "properties":
                    await pilot.press("s")
                    await until(lambda: isinstance(app.screen, SkipDialog)
                                and bool(app.screen.query("#skip-reason")), what="the skip")
                    # Re-trial 53: said before the skip, not only after it.
                    warned = app.screen.query("#skip-refused").results(Wrapped)
                    said = " ".join(w.content.plain for w in warned)
                    assert "The cutover will not begin" in said, said
                    assert "config.dbHost={host}" in said, said
                    app.screen.query_one(Input).value = "done by hand"
                    await pilot.press("enter")
                    await until(lambda: app.run_state.states["properties"]
                                == StepState.SKIPPED.value, what="the skip taken")
                    continue
                await pilot.press("enter")
                await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
                await pilot.pause()
                if info.needs_typed_confirmation:
                    app.screen.query_one(Input).value = info.id
                    await pilot.press("enter")
                else:
                    await pilot.press("y")
                await until(lambda i=info: app.run_state.states[i.id] not in BUSY,
                            timeout=60, what=f"{info.id} to run")
            await until(lambda: isinstance(app.screen, RecoverDialog), timeout=60,
                        what="the refusal's question")
            dialog = app.screen
            assert isinstance(dialog, RecoverDialog)
            assert dialog.step.id == "delete-nodegroups" and not dialog.can_roll_back
            assert dialog.detail.startswith("the cutover cannot begin: properties was skipped")
            # Re-trial 53: an enter meant for delete-nodegroups' question, the
            # refusal open by itself, pressed "Try again": a second failure.
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is dialog, app.screen_stack
            await pilot.press("q")
            await until(lambda: app.outcome is not None, what="the end of the run")
            assert app.outcome is Outcome.FAILED
            await pilot.press("q")
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not [r for r in records if r["event"] == "cutover-start"]
    assert not [r for r in records if r["event"] == "confirm"
                and r["step"] == "delete-nodegroups"]
    assert len([r for r in records if r["event"] == "step-end"
                and r["step"] == "delete-nodegroups"]) == 1, records
    assert len(groups) == seeded_nodegroups()


async def test_the_way_back_after_recreate_through_the_app(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial 53 in the app: `--rollback-after recreate`, every step
    confirmed by its keys. The way back's first step deletes the nodegroups
    recreate made, through the new API, before the new release stops, so the
    old stream manager tears down none of their nodes as it starts."""
    from runbook.cli import wiring
    from runbook.rehearsal import sandbox
    from tests.rehearsal import rehearsal_settings

    monkeypatch.setenv(cloud.PACE_ENV, "0.00125")
    journal = tmp_path / "runs" / "run.jsonl"
    review_screen = load_review_screen()
    async with rehearsal_host(tmp_path) as host:
        def session(continuing: Any) -> Any:
            return wiring.session(rehearsal_settings(host), token=host.api_token,
                                  journal_path=journal, state_dir=host.sandbox / ".operator",
                                  isolated=True, resume=continuing,
                                  rollback_after="recreate")

        app = create_app(session, rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:
            for info in app.cards:
                await until(lambda i=info: (app.asking is not None
                                            and app.asking.report.id == i.id)
                            or app.run_state.states[i.id] in FINISHED or app.outcome is not None,
                            timeout=60, what=f"the runbook to reach {info.id}")
                if app.outcome is not None or app.run_state.states[info.id] in FINISHED:
                    continue
                await confirm_and_run(app, pilot, info, review_screen)
            await until(lambda: app.outcome is not None, what="the end of the run")
            assert app.outcome is Outcome.ROLLED_BACK, app.run_state.reports
            shown = app.run_state.reports.get("rollback-nodegroups")
            deleted = shown.detail if shown is not None else "(no such step)"
            # Trial 54, F7: the row and the heading say what the summary and
            # the report say of recreate once its nodegroups are deleted.
            await pilot.pause()
            row = str(app.main.checklist.get_option("recreate").prompt)
            heading = str(app.main.checklist.get_option("group-cutover").prompt)
            await pilot.press("q")
        swept = [line for log in sorted(sandbox.install_dir(host.sandbox).glob("*/log/red5.log"))
                 for line in log.read_text(errors="replace").splitlines()
                 if "Terminating cloud node" in line]
        new_db_groups = cloud.list_nodegroups(host.sandbox, *host.new_db)
    assert swept == [], "\n".join(swept)
    assert "deleted through the new API" in deleted, deleted
    assert new_db_groups == []
    recreate = next(step for step in build(journal).steps if step.id == "recreate")
    assert "partly undone by the way back" in outcome_cell(recreate), outcome_cell(recreate)
    assert "part undone" in row and "not undone" not in row, row
    assert "recreate partly" in heading and "all but" not in heading, heading




async def test_after_the_way_back_is_chosen_the_hint_echoes_nothing_from_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 56b, F5: r and y at start-service's turn; at the way back's "Set
    the new tree aside" the hint still ended with the result of a step from
    long before (the trial's "✓ Step 2 done: 127.0.0.3 accepts the live
    login.", this run's step 15), and said nothing of the way back's steps
    that had passed without a question. It echoes what happened last: those
    steps, then, once a way back step has run, that step's result."""
    from screens.dialogs import RollBackDialog

    monkeypatch.setenv(cloud.PACE_ENV, "0.00125")
    journal = tmp_path / "runs" / "run.jsonl"
    review_screen = load_review_screen()
    async with rehearsal_host(tmp_path) as host:
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:

            async def asked(step_id: str) -> str:
                await until(lambda: app.asking is not None and app.asking.report.id == step_id,
                            timeout=60, what=f"the question of {step_id}")
                app.main.checklist.select_step(step_id)
                await pilot.pause()
                return str(app.main.query_one("#hint").render())

            for info in app.run_state.forward:
                if info.id == "start-service":
                    break
                await until(lambda i=info: (app.asking is not None
                                            and app.asking.report.id == i.id)
                            or app.run_state.states[i.id] in FINISHED,
                            timeout=60, what=f"the runbook to reach {info.id}")
                if app.run_state.states[info.id] not in FINISHED:
                    await confirm_and_run(app, pilot, info, review_screen)
            last = app.by_id["service-unit"].number
            before = await asked("start-service")
            assert f"Step {last} done:" in before, before  # the echo as it was right
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, RollBackDialog), what="the way back asked")
            await pilot.press("y")
            at_set_aside = await asked("rollback-set-aside")
            passed = [card.number for card in app.cards if card.phase.value == "rollback"
                      and app.run_state.reports.get(card.id) is not None
                      and app.run_state.reports[card.id].found_done]
            await confirm_and_run(app, pilot, app.by_id["rollback-set-aside"], review_screen)
            at_restore = await asked("rollback-restore")
            await pilot.press("q")
    assert f"Step {last}" not in at_set_aside, at_set_aside
    assert len(passed) == 2, passed  # the nodegroups, and the new release, needed nothing
    assert f"✓ Steps {passed[0]} and {passed[1]} already done." in at_set_aside, at_set_aside
    set_aside = app.by_id["rollback-set-aside"].number
    assert f"✓ Step {set_aside} done" in at_restore, at_restore
    assert "already done" not in at_restore, at_restore


async def test_a_real_resumes_question_echoes_the_steps_done_since_not_an_older_one(
        tmp_path: Path) -> None:
    """Review 57d, M1: d1f15c7 counted only steps a check found done; on a
    real resume the steps done in the earlier run are trusted from the
    journal, not checked, so start-service's question still echoed "Step 2
    done" (preflight and new-database look again). A rehearsal stopped at
    start-service and resumed, its question's echo read off the run state."""
    from runbook.executor import Answer, Decision
    from runbook.journal_replay import replay
    from runbook.model import Action, StepReport
    from screens.run_state import RunState
    from screens.views import _last_result
    from tests.rehearsal import rehearsal_settings, rehearse
    from tests.scripted import ScriptedFrontEnd
    from tests.test_tui_stop_step import procedure_cards

    class Echoing(ScriptedFrontEnd):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.state = RunState(procedure_cards(), "x@y:22")
            self.echo: dict[str, str] = {}

        def tell(self, event: Any) -> None:
            super().tell(event)
            self.state.apply(event, 1.0)

        async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
            self.echo[step.id] = "".join(part if isinstance(part, str) else part[0]
                                         for part in _last_result(self.state))
            return await super().confirm(step, plan)

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd(answers={"start-service": Decision(Answer.STOP)})
        await rehearse(host, first, journal, rehearsal_settings(host))
        assert first.final_state("service-unit") == "done", first.text()[-2000:]
        again = Echoing(answers={"start-service": Decision(Answer.STOP)})
        await rehearse(host, again, journal, rehearsal_settings(host), resume=replay(journal))
    said = again.echo["start-service"]
    assert "Step 2 " not in said and "already done" in said, said
