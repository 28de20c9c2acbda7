"""Picking up an unfinished run: nothing done is redone, nothing in doubt is guessed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.journal import Journal
from runbook.journal_replay import replay
from runbook.model import StepState
from runbook.rehearsal import cloud
from tests.rehearsal import rehearsal_host, rehearse, seeded_nodegroups
from tests.scripted import ScriptedFrontEnd

NEW = "red5pro-server-11.1.0.b835-release"


def shell_actions(journal: Path, after_line: int) -> list[str]:
    lines = journal.read_text().splitlines()[after_line:]
    return [r["text"] for r in map(json.loads, lines)
            if r["event"] == "action-start" and r["kind"] == "shell"]


async def test_resume_mid_cutover_finishes_without_redoing_work(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"new-database": Decision(Answer.SKIP, "checked by the DBA"),
                                  "start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        # The old server is killed and the new one not started: the worst moment.
        assert host.service_pid() is None
        stopped_at = len(journal.read_text().splitlines())
        cutover_began = replay(journal).cutover_started

        # What was skipped before the cutover began is settled: not asked
        # about again (it was, and a run answered "run" would have run a
        # prepare step in the downtime), said once with its reason.
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        groups = cloud.list_nodegroups(host.sandbox, *host.new_db)
    # Only the read-only preflight and the two unfinished steps were asked about.
    assert second.asked == ["preflight", "start-service", "recreate"]
    said = [line for step, _, line in second.lines if step == "new-database"]
    assert len(said) == 1 and "checked by the DBA" in said[0], said
    assert "not offered again" in said[0] and "cutover" in said[0], said
    assert second.detail("new-database") == "skipped in the earlier run: checked by the DBA"
    # (Preflight's look for unzip is a look: `command -v unzip` runs nothing.)
    redone = [a for a in shell_actions(journal, stopped_at)
              if any(word in a for word in ("mv ", "unzip", "kill", "rm ", "cp "))
              and not a.startswith("$ command -v ")]
    assert redone == []
    history = replay(journal)
    assert history.outcome == "done" and history.cutover_started == cutover_began
    assert history.state("new-database") is StepState.SKIPPED
    assert history.steps["new-database"].skip_reason == "checked by the DBA"
    assert len(groups) == seeded_nodegroups()
    assert (host.install_dir / "red5pro" / NEW).is_symlink()


async def _stop_before_promote(tmp_path: Path, host, journal: Path) -> None:  # type: ignore[no-untyped-def]
    front = ScriptedFrontEnd({"promote-new": Decision(Answer.STOP)})
    assert await rehearse(host, front, journal) is Outcome.STOPPED
    # What a crash in the middle of promote-new leaves behind: the step and its
    # move started, and no word of how they ended.
    crash = Journal(journal)
    crash.write("run-start", config="rehearsal.toml", host="crashed")
    crash.write("step-start", step="promote-new")
    crash.write("action-start", step="promote-new", n=1, kind="shell",
                text=f"$ sudo -n mv -- {host.install_dir}/{NEW} {host.install_dir}/red5pro")
    crash.close()


async def test_an_in_doubt_move_that_happened_is_not_redone(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        await _stop_before_promote(tmp_path, host, journal)
        # The move did happen before the connection died.
        shutil.move(host.install_dir / NEW, host.install_dir / "red5pro")
        assert replay(journal).state("promote-new") is StepState.IN_DOUBT
        resumed_at = len(journal.read_text().splitlines())
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, front.text()[-3000:]
    assert "promote-new" not in front.asked
    assert any(sid == "promote-new" and "already done" in detail
               for sid, _state, detail in front.states)
    assert not any("mv --" in a for a in shell_actions(journal, resumed_at))


async def test_an_in_doubt_move_that_did_not_happen_is_offered_again(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        await _stop_before_promote(tmp_path, host, journal)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, front.text()[-3000:]
    assert "promote-new" in front.asked
    assert "in doubt: the earlier run started" in front.text()
    assert (host.install_dir / "red5pro" / NEW).is_symlink()


async def test_a_skip_can_be_taken_back_on_resume(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"new-database": Decision(Answer.SKIP, "later"),
                                  "upload": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        second = ScriptedFrontEnd({"upload": Decision(Answer.STOP)})
        assert await rehearse(host, second, journal, resume=replay(journal)) is Outcome.STOPPED
    assert "new-database" in second.asked
    assert replay(journal).state("new-database") is StepState.DONE


async def test_a_rehearsal_stopped_after_the_rename_comes_back_with_the_old_server_serving(
        tmp_path: Path) -> None:
    """Found in a trial: a lasting rehearsal stopped between promote-new and
    stop-service stops its service on the way out; the next one booted the unit
    on the new tree, with the old unit's Java, and it failed. On a real host the
    old server runs on from bak.red5pro until stop-service kills it, and its
    API answers as before: so must the sandbox's when the rehearsal goes on."""
    from runbook.rehearsal.host import RehearsalHost

    journal = tmp_path / "run.jsonl"
    root = tmp_path / "sandbox"
    async with RehearsalHost(root) as host:
        front = ScriptedFrontEnd({"stop-service": Decision(Answer.STOP)})
        assert await rehearse(host, front, journal) is Outcome.STOPPED
    async with RehearsalHost(root) as host:
        assert host.boot_error is None, host.boot_error
        pid = host.service_pid()
        assert pid is not None, "the old server is not running"
        assert Path(f"/proc/{pid}/cwd").resolve() == (host.install_dir / "bak.red5pro").resolve()
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, front.text()[-3000:]
    killed = [d for sid, _state, d in front.states if sid == "stop-service"]
    assert killed and not any("no java process runs" in d for d in killed), killed


async def test_a_resumed_run_starts_a_service_that_died_since_start_service(
        tmp_path: Path) -> None:
    """Test audit (stop 39): nothing failed when start-service was trusted as
    done from the journal on resume; a service that died meanwhile (a host
    that rebooted, an OOM kill) must be looked at and started again."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = await rehearse(host, ScriptedFrontEnd({"recreate": Decision(Answer.STOP)}),
                               journal)
        assert first is Outcome.STOPPED
        pid = host.service_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while host.service_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert host.service_pid() is None
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, resume=replay(journal))
        running = host.service_pid()
    assert outcome is Outcome.DONE, front.text()[-3000:]
    assert running is not None and running != pid
    assert "start-service" in front.asked, "looked at again, and started on confirmation"


async def test_a_resumed_run_merges_a_live_file_changed_since_properties_again(
        tmp_path: Path) -> None:
    """Prepared days before the window and resumed there: a live value changed
    meanwhile (a rotated password) must reach the new release, not the one the
    merge took then (operator trial: "done in the earlier run", the old value
    kept)."""
    import re

    from runbook.rehearsal import sandbox

    journal = tmp_path / "run.jsonl"
    stop_at_cutover = {"delete-nodegroups": Decision(Answer.STOP)}
    async with rehearsal_host(tmp_path) as host:
        assert await rehearse(host, ScriptedFrontEnd(stop_at_cutover), journal) \
            is Outcome.STOPPED
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        live.write_text(re.sub(r"(?m)^cluster\.password=.*$", "cluster.password=Rotated-88",
                               live.read_text(encoding="latin-1")), encoding="latin-1")
        front = ScriptedFrontEnd(stop_at_cutover)
        assert await rehearse(host, front, journal, resume=replay(journal)) is Outcome.STOPPED
        merged = (host.install_dir / NEW / sandbox.WEBINF / "red5-web.properties").read_text(
            encoding="latin-1")
    assert "properties" in front.asked, front.text()[-2000:]
    assert "cluster.password=Rotated-88" in merged


async def test_a_resumed_run_finds_a_merge_an_older_runbook_escaped_done(
        tmp_path: Path) -> None:
    """A run prepared with a runbook from before stop 50, whose merge escaped
    the values it carried (sg\\#1\\:a), and resumed with this one: the same
    merge to Java read as "changed since it was written", and properties was
    asked again, once."""
    import re

    from runbook.rehearsal import sandbox

    journal = tmp_path / "run.jsonl"
    stop_at_cutover = {"delete-nodegroups": Decision(Answer.STOP)}
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        live.write_text(re.sub(r"(?m)^aws\.ec2SecurityGroup=.*$", "aws.ec2SecurityGroup=sg#1:a",
                               live.read_text(encoding="latin-1")), encoding="latin-1")
        assert await rehearse(host, ScriptedFrontEnd(stop_at_cutover), journal) \
            is Outcome.STOPPED
        merged = host.install_dir / NEW / sandbox.WEBINF / "red5-web.properties"
        text = merged.read_text(encoding="latin-1")
        assert "\naws.ec2SecurityGroup=sg#1:a\n" in text
        merged.write_text(text.replace("aws.ec2SecurityGroup=sg#1:a",
                                       "aws.ec2SecurityGroup=sg\\#1\\:a"), encoding="latin-1")
        front = ScriptedFrontEnd(stop_at_cutover)
        assert await rehearse(host, front, journal, resume=replay(journal)) is Outcome.STOPPED
    said = [line for step, _, line in front.lines if step == "properties"]
    assert "properties" not in front.asked, said
    assert not any("changed since it was written" in line for line in said), said


async def test_a_run_resumed_mid_cutover_trusts_properties_done_before_it(
        tmp_path: Path) -> None:
    """Review: properties checked again on every resume read the decisions
    file in the downtime; resumed from another machine without it (which the
    start-up lets by, the cutover having begun), the run failed there, and a
    prepare step left unfinished holds the cutover. Once the cutover began the
    live install is set aside: nothing of it changes any more."""
    import dataclasses

    from tests.rehearsal import rehearsal_settings

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        elsewhere = dataclasses.replace(rehearsal_settings(host),
                                        decisions=tmp_path / "not-on-this-machine.toml")
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, settings=elsewhere,
                                 resume=replay(journal))
    assert outcome is Outcome.DONE, front.text()[-3000:]
    assert "properties" not in front.asked


async def test_a_run_continued_from_a_journal_another_runbook_wrote_since_is_refused(
        tmp_path: Path) -> None:
    """Way-back trial (stop 45): the TUI's resume dialog read the journal; while
    it waited, `runbook rollback` took the way back in that journal; then
    "continue" went on with the upgrade from what the dialog had read, and the
    report said both "done" and "the way back began". The journal is read
    again once it is claimed, and a run it no longer describes is not run."""
    import pytest

    from runbook.journal import JournalError

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        read_by_the_dialog = replay(journal)
        back = ScriptedFrontEnd({"preflight": Decision(Answer.ROLLBACK)})
        assert await rehearse(host, back, journal, resume=replay(journal)) \
            is Outcome.ROLLED_BACK, back.text()[-2000:]
        gone_back = journal.read_bytes()
        late = ScriptedFrontEnd()
        with pytest.raises(JournalError, match="another runbook wrote to it"):
            await rehearse(host, late, journal, resume=read_by_the_dialog)
        assert late.asked == []
        assert journal.read_bytes() == gone_back


def test_facts_taken_back_from_a_journal_are_the_runs_own_copy() -> None:
    """Facts.load kept the replay's own dicts: a step that filled in its
    facts in place (upload's local_sha256) changed the Replay the run was
    resumed from, which the session compares with the journal to tell
    whether another runbook wrote to it meanwhile (code review, stop 48)."""
    from steps.facts import Red5Facts

    record = {"local_sha256": {"red5pro.zip": "abc"}}
    facts = Red5Facts()
    facts.load(record)
    facts.local_sha256["aws-cloud-controller.jar"] = "def"
    assert record == {"local_sha256": {"red5pro.zip": "abc"}}


# A facts record as the code of review 55 journalled it (every field it
# journalled, red5_log_start_offset among them), as one line of the journal.
_FACTS_LINE_OF_REVIEW_55 = (
    '{"ts": "2026-01-12T09:14:03.512+00:00", "mono": 5821.114, "event": "facts", "facts": '
    '{"install_real": "/usr/local", "live_version": "6.2.0.b406", "new_version": '
    '"11.1.0.b835", "live_tree": "2049:131", "api_version": "3.1", "controller": '
    '"com.red5pro.services.streammanager.cloud.aws.component.AWSInstanceController", '
    '"instance_prefix": "prod-sm-", "java": 11, "db_port": 3306, "db_user": "cluster", '
    '"live_db_host": "10.0.0.5", "live_db_port": 3306, "new_top": "red5pro-server-11.1.0", '
    '"new_flat": false, "new_tree": "2049:977", "local_sha256": {"/tmp/red5pro.zip": '
    '"ab12"}, "snapshot": "/root/.local/state/runbook/hosts/a/snapshot.json", '
    '"new_database_at": "10.0.0.9:3306", "old_database_at": "10.0.0.5:3306", '
    '"schema_import_into": "10.0.0.9:3306", "red5_processes": {"4242": "java -Dred5.root=/x"}, '
    '"restart_service": true, "started_without_database": false, "token_refused": false, '
    '"new_api_version": "4.0", "red5_log_start_offset": 8192, "promoted_at": 1768209243.5, '
    '"rollback_stamp": "20260112T091403", "new_nodegroups_left": "nodegroups eu-west"}}\n')


def test_a_journal_of_the_earlier_code_loads_the_same_facts(tmp_path: Path) -> None:
    """Review 55 M2 moved the facts a step keeps for itself only out of the
    journalled names: a journal the earlier code wrote still loads every fact
    it journalled, each unmasked or masked as before once journalled again.
    (red5_log_start_offset is start-service's own: it sets it before it reads it.)"""

    from runbook.redact import Redactor
    from steps.facts import Red5Facts

    path = tmp_path / "run.jsonl"
    path.write_text(_FACTS_LINE_OF_REVIEW_55)
    written = json.loads(_FACTS_LINE_OF_REVIEW_55)["facts"]
    facts = Red5Facts()
    facts.load(replay(path).facts)
    # promoted_at was this machine's clock, no longer set against the host's
    # (review 58a L4): not taken back, so the way back stops every server of
    # the new tree, as for a journal from before it.
    dropped = ("red5_log_start_offset", "promoted_at")
    taken = {name: value for name, value in written.items() if name not in dropped}
    for name, value in taken.items():
        assert getattr(facts, name) == value, name
    # Journalled again, the same names, the same ones masked: the secrets
    # stand in for ones that happen to match inside a fact, each of them.
    mask = Redactor(["3306", "red5.root", "AWSInstance", "prod", "/usr/local", "6.2.0",
                     "11.1.0", "2049", "cluster", "10.0.0", "ab12", "snapshot", "20260112",
                     "eu-west"])
    again = facts.record(mask)
    masked = {"controller": mask(written["controller"]),
              "instance_prefix": mask(written["instance_prefix"]),
              "red5_processes": {"4242": mask(written["red5_processes"]["4242"])}}
    assert all(masked[name] != written[name] for name in masked)
    # A fact that journal did not have yet loads as its default, and is
    # journalled from then on.
    newer = {"file_changed_since_start": False, "recreated_nodegroups": None,
             "nothing_to_undo": [], "new_nodegroups_looked_at": False,
             "promoted_boot": None, "promoted_uptime": None, "nodegroups_posted": None,
             "left_running": None,
             "webapp_not_loaded": False,
             "new_nodegroups_kept": [], "way_back_left_running": None}
    assert {n: v for n, v in again.items() if n != "red5_log_start_offset"} == {
        **taken, **masked, **newer}
    # start-service's own, set by its run before it reads it: not taken back,
    # nor journalled again.
    assert facts.scratch.red5_log_start_offset is None and "red5_log_start_offset" not in again
    assert "promoted_at" not in again


async def _retire(host: object, group: str) -> None:
    """Delete one nodegroup through the live API, as an operator retiring it
    between the prepare day and the window would, and wait until it is gone."""
    import asyncio

    from runbook.smapi import StreamManagerAPI

    api = StreamManagerAPI(host.api_base_url, host.api_token)  # type: ignore[attr-defined]
    try:
        await api.detect_version()
        await api.delete_nodegroup(group)
        for _ in range(300):
            if group not in [g["name"] for g in await api.list_nodegroups()]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{group} was not deleted")
    finally:
        await api.aclose()


async def test_a_fleet_changed_since_the_snapshot_is_taken_again_before_the_cutover(
        tmp_path: Path) -> None:
    """Review: prepared one day, resumed in the window, the run rebuilt the
    fleet its first run saved: a nodegroup retired in between came back.
    Until the cutover begins, a resumed run looks at the fleet again and
    takes the snapshot again when it changed."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"delete-nodegroups": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        before = [g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.old_db)]
        assert len(before) >= 2, before
        await _retire(host, before[0])
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        rebuilt = sorted(g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.new_db))
    assert "export-config" in second.asked, second.asked
    said = [line for step, _, line in second.lines if step == "export-config"]
    assert any(f"nodegroup {before[0]} is gone" in line for line in said), said
    # A warning, so the change ticket has it too (re-trial).
    from runbook.report import build
    from runbook.report_md import markdown

    warnings = markdown(build(journal, estimate_from=[])).split("## Warnings", 1)[1]
    assert "the fleet changed since" in warnings.split("\n## ", 1)[0], warnings[:2000]
    # And in the plan confirmed, where the operator asks why it is asked again.
    shown = "\n".join(action.render() for action in second.plans["export-config"])
    assert f"nodegroup {before[0]} is gone" in shown, shown
    assert len(rebuilt) == len(before) - 1, rebuilt


async def test_a_nodegroup_retired_while_delete_nodegroups_waits_is_not_rebuilt(
        tmp_path: Path) -> None:
    """The same, in one session: a nodegroup deleted by someone else while
    the operator reads delete-nodegroups' plan. Nothing is deleted; the step
    says the fleet is not the snapshot's."""
    from runbook.model import Action, StepReport

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        before = [g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.old_db)]

        class Meanwhile(ScriptedFrontEnd):
            async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
                if step.id == "delete-nodegroups":
                    await _retire(host, before[0])
                return await super().confirm(step, plan)

            async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
                # Re-trial: "try again" was offered, and met the same refusal.
                assert not step.retry_helps, step
                return await super().recover(step, can_roll_back=can_roll_back)

        front = Meanwhile()
        outcome = await rehearse(host, front, journal)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
        left = sorted(g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.old_db))
        began = replay(journal).cutover_started
    assert left == sorted(before[1:]), "delete-nodegroups sent a DELETE"
    assert began is None
    assert f"nodegroup {before[0]} is gone" in front.text(), front.text()[-3000:]
    assert front.recovered == [("delete-nodegroups", False)]


async def test_a_throwaway_rehearsals_changed_fleet_says_rehearse_again_not_resume(
        tmp_path: Path) -> None:
    """Review K2 (T): the same refusal in a rehearsal without --sandbox or
    --keep said "stop, then go on with --resume", where its host goes as it
    ends: nothing is left to resume, so it says to rehearse again."""
    import dataclasses

    from runbook.model import Action, StepReport
    from tests.rehearsal import rehearsal_settings

    async with rehearsal_host(tmp_path) as host:
        before = [g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.old_db)]
        settings = dataclasses.replace(rehearsal_settings(host), rehearsal_throwaway=True)

        class Meanwhile(ScriptedFrontEnd):
            async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
                if step.id == "delete-nodegroups":
                    await _retire(host, before[0])
                return await super().confirm(step, plan)

        front = Meanwhile()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = front.last_report("delete-nodegroups").detail
    assert f"nodegroup {before[0]} is gone" in said, said
    assert "rehearse again" in said and "--resume" not in said, said


async def test_a_cutover_the_journal_records_is_not_refused_for_a_lost_host_record(
        tmp_path: Path, monkeypatch: object) -> None:
    """Second review: the DELETEs sent and the groups still going when the run
    failed, a resume whose host record was lost (another XDG_STATE_HOME, say)
    had delete-nodegroups compare the emptying fleet with the snapshot, and
    refuse every time ("is gone ... Nothing was deleted"), with the stream
    manager down. The journal says the cutover began: nothing compares."""
    import dataclasses

    from runbook.hoststate import HostState
    from tests.rehearsal import rehearsal_settings

    monkeypatch.setenv("RUNBOOK_REHEARSAL_PACE", "0.05")  # type: ignore[attr-defined]
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        hurried = dataclasses.replace(settings, timeouts=dataclasses.replace(
            settings.timeouts, nodegroups_gone=0.2))
        first = ScriptedFrontEnd()
        assert await rehearse(host, first, journal, hurried) is Outcome.FAILED
        assert first.final_state("delete-nodegroups") == "failed", first.text()[-2000:]
        state = HostState(host.sandbox / ".operator", settings.host.address, settings.host.port)
        assert state.cutover() is not None
        state.cutover_record.unlink()  # lost, as under another state dir
        second = ScriptedFrontEnd({"backup-live": Decision(Answer.STOP)})
        outcome = await rehearse(host, second, journal, resume=replay(journal))
    assert outcome is Outcome.STOPPED, second.text()[-3000:]
    assert second.final_state("delete-nodegroups") == "done", second.detail("delete-nodegroups")


async def test_start_service_in_doubt_on_resume_says_the_service_does_not_run(
        tmp_path: Path) -> None:
    """Re-trial: killed while start-service waited, its service gone too, the
    resumed run said only that the check does not find the outcome in place;
    whether the service runs decides between trying again and the way back."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED, first.text()[-3000:]
        # As a run killed just after it sent `systemctl start`, which never came up.
        lines = journal.read_text().splitlines()
        lines.insert(-1, json.dumps({"event": "step-start", "ts": "2026-01-01T00:00:00+00:00",
                                     "step": "start-service"}))
        lines.insert(-1, json.dumps({"event": "action-start", "ts": "2026-01-01T00:00:00+00:00",
                                     "step": "start-service", "attempt": "a1", "n": 1,
                                     "kind": "shell", "text": "systemctl start red5pro"}))
        journal.write_text("\n".join(lines[:-1]) + "\n")  # and no run-end: killed
        second = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        await rehearse(host, second, journal, resume=replay(journal))
    said = [line for sid, _, line in second.lines if sid == "start-service" and "in doubt" in line]
    assert said and "does not run" in said[0], second.text()[-3000:]


async def test_a_resume_after_an_import_cut_short_goes_on_to_the_schema(tmp_path: Path) -> None:
    """Review (stop 53): new-database counted node_group, launch_configs and
    scale_policies whenever node_group was there. An import cut between the
    two (cluster.sql creates scale_policies after node_group) made that count
    fail, so a resume stopped at new-database, read-only and run first, and
    never reached schema, which drops what its cut import made and imports
    the file whole. The count is only for a warning: it never fails the step."""
    from runbook.model import Action, StepReport

    whole: dict[Path, str] = {}
    async with rehearsal_host(tmp_path) as host:

        class Operator(ScriptedFrontEnd):
            async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
                if step.id == "schema" and not whole:
                    file = next(host.install_dir.glob("red5pro-server-*")) \
                        / "webapps/streammanager/WEB-INF/sql/cluster.sql"
                    text = whole[file] = file.read_text()
                    cut = text.index("CREATE TABLE `scale_policies`")
                    file.write_text(text[:cut] + "THIS IS NOT SQL;\n" + text[cut:])
                return await super().confirm(step, plan)

        journal = tmp_path / "run.jsonl"
        first = Operator(recoveries={"schema": [Recovery.STOP]})
        assert await rehearse(host, first, journal) is Outcome.FAILED, first.text()[-2000:]
        assert ("schema", "failed") in [(s, state) for s, state, _ in first.states]
        for file, text in whole.items():
            file.write_text(text)
        again = ScriptedFrontEnd({"delete-nodegroups": Decision(Answer.STOP)})
        outcome = await rehearse(host, again, journal, resume=replay(journal))
        assert outcome is Outcome.STOPPED, again.text()[-2000:]
    ended = [(s, state) for s, state, _ in again.states if s in ("new-database", "schema")]
    assert ("new-database", "done") in ended and ("schema", "done") in ended, \
        (ended, again.text()[-2000:])


def test_the_database_a_schema_import_began_in_is_journalled_as_it_is() -> None:
    """Review 57a, F4: schema_import_into (host:port, no login) was masked where
    a secret happened to match inside the new database's host name, so a run
    resumed after a kill -9 mid-import no longer knew the partial import as its
    own, and refused the database. new_database_at, the same address, was plain."""
    from runbook.redact import Redactor
    from steps.facts import Red5Facts

    facts = Red5Facts(schema_import_into="db-hunter2.example:3306",
                      new_database_at="db-hunter2.example:3306")
    again = facts.record(Redactor(["hunter2"]))
    assert again["schema_import_into"] == again["new_database_at"] == "db-hunter2.example:3306"


async def test_a_stray_unzip_beside_the_promoted_install_is_not_taken_for_the_new_tree(
        tmp_path: Path) -> None:
    """Trial 59 F12: after promote-new, the distribution unzipped again into
    the install dir by hand left a red5pro-server-* folder beside red5pro. The
    resumed run took it for the new tree, and red5pro (the new release) for
    the old install: new-database failed, telling the operator to change a
    [new_database] that was right, with the stream manager down. Once
    promote-new is done the trees are bak.red5pro and red5pro; the stray
    folder is named in a warning."""
    import zipfile

    from tests.rehearsal import rehearsal_settings

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"stop-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        assert replay(journal).state("promote-new") is StepState.DONE
        with zipfile.ZipFile(rehearsal_settings(host).distribution) as zipped:
            zipped.extractall(host.install_dir)
        stray = host.install_dir / NEW
        assert stray.is_dir()
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, front.text()[-3000:]
    assert "is the one the live stream manager uses" not in front.text()
    warned = [line for _sid, _stream, line in front.lines if str(stray) in line]
    assert warned and "warning" in warned[0], front.text()[-3000:]
