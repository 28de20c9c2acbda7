"""Faults on purpose (issue 8): each one rehearsed against the real rehearsal host.

Every test arms one fault as `runbook rehearse --fault` does, runs the
procedure, and checks the message the operator gets, the outcome, the host as
it is when the failure is reported, and that retrying (or rolling back) from
there ends with a working stream manager.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from runbook.cli import lifecycle, wiring
from runbook.config import Settings
from runbook.events import Event, Output, Progress, StepChanged
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.facts import Facts
from runbook.journal_replay import Replay, replay
from runbook.model import Action, Check, Phase, Shell, StepReport, StepState
from runbook.rehearsal import armed, cloud, faults, scenarios
from runbook.rehearsal.host import RehearsalHost
from runbook.rehearsal.sshd import known_hosts_line
from runbook.remote import Remote
from runbook.session import Session
from runbook.step import PlanContext, Step, StepContext
from steps import procedure, way_back
from tests.rehearsal import (
    rehearsal_host,
    rehearsal_session,
    rehearsal_settings,
    rehearse,
    seeded_nodegroups,
)
from tests.scripted import ScriptedFrontEnd

ROOT = Path(__file__).parents[1]
SCENARIO = scenarios.scenario(scenarios.DEFAULT)


class Operator(ScriptedFrontEnd):
    """Answers from a script; when a step fails, first looks at (or fixes) the
    host, as an operator would before choosing what to do."""

    def __init__(self, *, at_failure: Callable[[str], Awaitable[None]] | None = None,
                 **script: Any) -> None:
        super().__init__(**script)
        self.at_failure = at_failure

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        if self.at_failure is not None:
            await self.at_failure(step.id)
        return await super().recover(step, can_roll_back=can_roll_back)


async def faulted(host: RehearsalHost, asked: list[str], front: ScriptedFrontEnd,
                  journal: Path, settings: Settings | None = None,
                  resume: Replay | None = None) -> Outcome:
    """The run `runbook rehearse --fault ...` makes, over this front end: its
    settings name the faults, as the command's do."""
    settings = settings or rehearsal_settings(host)
    requested = faults.parse(asked, RehearsalHost)
    if requested:
        settings = dataclasses.replace(settings, rehearsal_faults=tuple(map(str, requested)))
    switch = faults.FaultSwitch(host, requested, settings)
    await switch.at_start()
    try:
        return await rehearse(host, switch.wrap(front), journal, settings, resume)
    finally:
        await switch.lift_all()
        assert not list(armed.folder(host.sandbox).glob("*")), "every fault was lifted"


def failure(front: ScriptedFrontEnd, step_id: str) -> str:
    """What the operator was told when the step failed (its first failure)."""
    said = [detail for sid, state, detail in front.states
            if sid == step_id and state in ("failed", "in-doubt")]
    assert said, f"{step_id} never failed: {front.states}"
    return said[0]


def with_timeouts(host: RehearsalHost, **limits: float) -> Settings:
    settings = rehearsal_settings(host)
    return dataclasses.replace(settings, timeouts=dataclasses.replace(settings.timeouts,
                                                                      **limits))


def serving_from(host: RehearsalHost) -> Path | None:
    pid = host.service_pid()
    return Path(f"/proc/{pid}/cwd").resolve() if pid is not None else None


def live(host: RehearsalHost) -> Path:
    return host.install_dir / "red5pro"


def backup(host: RehearsalHost) -> Path:
    return host.install_dir / "bak.red5pro"


def unpacked(host: RehearsalHost) -> Path:
    return host.install_dir / SCENARIO.new.top


def upgraded(host: RehearsalHost) -> bool:
    """The new release serves from red5pro, with the snapshot rebuilt on the new database."""
    return ((live(host) / SCENARIO.new.top).is_symlink()
            and serving_from(host) == live(host).resolve()
            and len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups())


def rolled_back(host: RehearsalHost, groups_before: int) -> bool:
    """The old release serves from red5pro again, its nodegroups back on the old database."""
    return ((live(host) / SCENARIO.old.top).is_symlink()
            and serving_from(host) == live(host).resolve()
            and len(cloud.list_nodegroups(host.sandbox, *host.old_db)) == groups_before)


# --- the new database -----------------------------------------------------------------


async def test_db_unreachable_stops_new_database_and_a_retry_goes_on(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        before = host.service_pid()
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(pid=host.service_pid(), uploaded=host.upload_dir.exists())

        front = Operator(recoveries={"new-database": [Recovery.RETRY]}, at_failure=look)
        outcome = await faulted(host, ["db-unreachable"], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "new-database")
    assert "cannot be reached from the stream manager host" in said
    assert "firewall" in said and "the live stream manager serves as before" in said, said
    assert seen == {"pid": before, "uploaded": False}, "the live stream manager is untouched"


async def test_db_unreachable_at_start_service_fails_at_once_without_a_blind_restart(
        tmp_path: Path) -> None:
    """Operator trial: with the new database out of reach as the new release
    started, start-service waited its whole limit, restarted the service and
    waited again, then said the server "may still be loading": minutes more
    downtime, and a restart cannot bring a database back. It looks at the
    database once the API is slow to answer, and says what is wrong."""
    async with rehearsal_host(tmp_path) as host:
        limit = 120.0
        front = Operator(recoveries={"start-service": [Recovery.RETRY]})
        began = time.monotonic()
        outcome = await faulted(host, ["db-unreachable@start-service"], front,
                                tmp_path / "run.jsonl", with_timeouts(host, service_start=limit))
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "start-service")
    assert "cannot be reached from the stream manager host" in said, said
    assert "way back" in said and "firewall" in said, said
    lines = " ".join(line for step, _stream, line in front.lines if step == "start-service")
    assert "restarting it once" not in lines, lines
    assert time.monotonic() - began < limit, "failed long before the limit"
    # Review K2, K3: the retry restarts the service, as production needs (a
    # webapp that met no database at start is not known to load later; data
    # README): the rehearsal's does not load by itself once the database is
    # back, so the operator rehearses that restart.
    retried = front.plans["start-service"]
    assert next(a.command for a in retried if isinstance(a, Shell)).endswith(
        "systemctl restart red5pro"), retried
    assert "could not be reached" in " ".join(a.render() for a in retried), retried
    assert "the service is not restarted" not in lines, lines


async def test_db_unreachable_at_start_service_says_the_new_release_still_runs(
        tmp_path: Path) -> None:
    """Trial 58 L6: start-service failing on an unreachable new database
    leaves the new release running (its server up, its API not answering),
    but neither the failure nor the exit lines said a service runs, where
    start-fails says "Nothing runs now". Both say it now, from what the step
    looked at (systemd), and the exit lines from the journal."""
    from runbook.standing import service_state

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"start-service": [Recovery.STOP]})
        outcome = await faulted(host, ["db-unreachable@start-service"], front, journal,
                                with_timeouts(host, service_start=60))
        assert outcome is Outcome.FAILED, front.text()[-3000:]
        assert host.service_pid() is not None, "the new release runs"
    said = failure(front, "start-service")
    assert "cannot be reached from the stream manager host" in said, said
    assert "The new release's service runs" in said, said
    exit_line = service_state(replay(journal))
    assert "the stream manager is down since" in exit_line, exit_line
    assert "the new release's service runs" in exit_line, exit_line


async def test_start_fails_leaves_no_service_said_running_in_the_exit_lines(
        tmp_path: Path) -> None:
    """The other side of the rule: a new server that exits as it starts
    leaves nothing running, and the exit lines say no service runs."""
    from runbook.standing import service_state

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"start-service": [Recovery.STOP]})
        outcome = await faulted(host, ["start-fails@start-service"], front, journal,
                                with_timeouts(host, service_start=60))
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    assert "Nothing runs now" in failure(front, "start-service")
    exit_line = service_state(replay(journal))
    assert "the stream manager is down since" in exit_line, exit_line
    assert "runs" not in exit_line, exit_line


async def test_db_auth_fails_stops_new_database_and_a_resume_goes_on(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        before = host.service_pid()
        _user, password = host.db_account
        first = Operator(recoveries={"new-database": [Recovery.STOP]})
        outcome = await faulted(host, ["db-auth-fails"], first, journal)
        assert outcome is Outcome.FAILED
        assert host.service_pid() == before and not host.upload_dir.exists()
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert upgraded(host)
    said = failure(first, "new-database")
    assert "refuses the live login smadmin" in said and "create that user" in said
    assert "the live stream manager serves as before" in said, said
    assert password not in first.text(), "the live password is never shown"


# --- the stream manager API -------------------------------------------------------------


async def test_api_error_during_recreate_fails_it_and_a_retry_finishes(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(serving=serving_from(host), backup=(backup(host) / SCENARIO.old.top)
                        .is_symlink())

        front = Operator(recoveries={"recreate": [Recovery.RETRY]}, at_failure=look)
        outcome = await faulted(host, ["api-error@recreate"], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "recreate")
    assert "HTTP 500" in said, said
    assert "the new stream manager runs" in said and "try the step again" in said, said
    assert seen == {"serving": live(host).resolve(), "backup": True}


async def test_recreate_with_the_new_service_dead_does_not_say_it_runs(tmp_path: Path) -> None:
    """Trial 59 F10: the new service killed under recreate; its failure said
    "the new stream manager runs" and sent the operator to try the step
    again, which fails the same way. Where the API does not answer, it says
    so, and points at the service on the host."""
    async with rehearsal_host(tmp_path) as host:
        def kill(step: StepReport, plan: list[Action]) -> None:
            if step.id != "recreate":
                return
            pid = host.service_pid()
            assert pid is not None
            os.kill(pid, 9)
            deadline = time.monotonic() + 10
            while host.service_pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert host.service_pid() is None

        front = Operator(on_confirm=kill)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "recreate")
    assert "the new stream manager runs" not in said, said
    assert "does not answer" in said and "systemctl status red5pro" in said, said


async def test_back_from_a_recreate_that_created_nothing_asks_no_database_dropped(
        tmp_path: Path) -> None:
    """Operator trial: recreate failed on its first read (HTTP 500), before it
    created anything, and the way back's exit lines and report said to drop
    the new cluster database first, which the next attempt then took as it was."""
    from runbook.journal_replay import replay
    from runbook.report import build

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"recreate": [Recovery.ROLLBACK]})
        outcome = await faulted(host, ["api-error@recreate"], front, journal)
        assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert "HTTP 500" in failure(front, "recreate")
    assert replay(journal).left_by_the_way_back() == {}
    assert build(journal, estimate_from=[]).before_another_attempt == ""


async def test_an_api_error_before_the_first_delete_begins_no_cutover(tmp_path: Path) -> None:
    """Operator trial: the API failing as delete-nodegroups lists the groups,
    before any DELETE, left the run saying the stream manager was down and
    offering the way back, while nothing had changed and the live one served.
    The cutover, and its downtime, begin with the first change a step makes."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            records = [json.loads(line) for line in journal.read_text().splitlines()]
            seen.update(began=[r for r in records if r["event"] == "cutover-start"],
                        serving=serving_from(host))

        front = Operator(recoveries={"delete-nodegroups": [Recovery.RETRY]}, at_failure=look)
        outcome = await faulted(host, ["api-error@delete-nodegroups"], front, journal)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "delete-nodegroups")
    assert "HTTP 500" in said, said
    # What it leaves, and the way on (operator trial: the error alone).
    assert "nothing was changed" in said and "try the step again" in said, said
    assert front.recovered == [("delete-nodegroups", False)], "no way back from no change"
    assert seen == {"began": [], "serving": live(host).resolve()}, seen
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    events = [(r["event"], r.get("step"), r.get("state")) for r in records]
    failed = events.index(("step-end", "delete-nodegroups", "failed"))
    began = events.index(("cutover-start", "delete-nodegroups", None))
    first_delete = next(n for n, r in enumerate(records) if r["event"] == "action-start"
                        and r.get("step") == "delete-nodegroups")
    assert failed < began < first_delete, events[failed:first_delete + 1]


async def test_a_rejected_token_stops_preflight_and_a_retry_goes_on(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        before = host.service_pid()
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(pid=host.service_pid(), uploaded=host.upload_dir.exists())

        front = Operator(recoveries={"preflight": [Recovery.RETRY]}, at_failure=look)
        outcome = await faulted(host, ["token-rejected"], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "preflight")
    assert "refused the API token (HTTP 401)" in said and "rest.administratorToken" in said
    assert "nothing on the host has changed" in said.lower(), said
    # Operator trial: a throwaway rehearsal was told to start again with
    # --resume, which it cannot; its token is the rehearsal host's own.
    assert "--resume" not in said and "try the step again" in said, said
    # Operator trial 57 (F19): it said to quit and start runbook again with
    # the right token, which a rehearsal operator cannot give: the rehearsal
    # gives its host's own. Only trying the step again applies.
    assert "start runbook again" not in said and "$SM_API_TOKEN" not in said, said
    assert "The rehearsal gives its host's own token" in said, said
    assert host.api_token not in front.text()
    assert seen == {"pid": before, "uploaded": False}


# --- the new service ---------------------------------------------------------------------


async def test_a_slow_start_fails_start_service_and_a_retry_finds_it_up(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(serving=serving_from(host))

        front = Operator(recoveries={"start-service": [Recovery.RETRY]}, at_failure=look)
        settings = with_timeouts(host, service_start=4)
        outcome = await faulted(host, ["slow-start"], front, tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "start-service")
    assert "gave up" in said and "still runs" in said, said
    assert "try the step again" in said and "roll back" in said, said
    assert seen == {"serving": live(host).resolve()}, "the slow service was left running"


async def test_a_start_answered_by_server_errors_is_not_told_to_wait_longer(
        tmp_path: Path) -> None:
    """Way-back trial (stop 45): an API that answered HTTP 500 for both whole
    waits failed with "it may still be loading ... a release slower than that
    needs a longer [timeouts] service_start": advice for a silent server."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        settings = with_timeouts(host, service_start=4)
        outcome = await faulted(host, ["api-error@start-service"], front,
                                tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "start-service")
    assert "HTTP 500" in said and "up and failing" in said, said
    assert "longer" not in said and "still be loading" not in said, said


async def test_a_new_release_refusing_the_token_fails_start_service_at_once(
        tmp_path: Path) -> None:
    """The new stream manager answered 401: start-service took the refusal for
    "not up yet", waited out its limit, restarted the service inside the
    downtime, waited again, and failed with "no answer at all" and advice to
    raise service_start (code review, stop 48). A refused token is said at
    once, and the service is started once. (The new file's token is made
    wrong by hand: the token-rejected fault says itself, below.)"""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = _MistypesTheNewToken(host)
        front.at_failure = None
        settings = with_timeouts(host, service_start=4)
        outcome = await faulted(host, [], front, journal, settings)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "start-service")
    assert "refuses the API token" in said and "rest.administratorToken" in said, said
    assert "no answer at all" not in said and "service_start" not in said, said
    # This run's preflight saw the live one take the token: only the file can
    # be wrong, and the message says so alone (re-trial, stop 48).
    assert "the live one took at preflight" in said and "quit" not in said, said
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    commands = [r["text"].split("systemctl ")[-1] for r in records
                if r["event"] == "action-start" and r["step"] == "start-service"]
    assert commands == ["start red5pro"], commands


async def test_a_resumed_run_whose_preflight_saw_the_token_taken_says_so_at_a_401(
        tmp_path: Path) -> None:
    """Operator trial (stop 51): resumed mid-cutover, before the old stream
    manager was stopped, preflight heard it answer the token; the new one's
    401 at start-service still said "this run has not seen a stream manager
    take it" and pointed at a wrong token, when only the file can be wrong."""

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"backup-live": Decision(Answer.STOP)})
        assert await faulted(host, [], first, journal) is Outcome.STOPPED
        front = _MistypesTheNewToken(host)
        front.at_failure = None
        outcome = await faulted(host, [], front, journal,
                                with_timeouts(host, service_start=4), resume=replay(journal))
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "start-service")
    assert "the live one took at preflight" in said and "quit" not in said, said


async def test_a_resumed_rehearsal_whose_preflight_heard_no_api_is_not_told_to_start_again(
        tmp_path: Path) -> None:
    """Resumed after stop-service, preflight hears no stream manager take the
    token, so a 401 at start-service said: "if the token is wrong, quit and
    start runbook again with the right one". `runbook rehearse` gives its
    host's own token (the live install's): there is none to give, and only
    the new file's can differ (a helper's finding, stop 58)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)})
        assert await faulted(host, [], first, journal) is Outcome.STOPPED
        assert host.service_pid() is None, "stop-service stopped the old release"
        front = _MistypesTheNewToken(host)
        front.at_failure = None
        outcome = await faulted(host, [], front, journal,
                                with_timeouts(host, service_start=4), resume=replay(journal))
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "start-service")
    assert "HTTP 401" in said and "rest.administratorToken" in said, said
    assert "quit" not in said and "start runbook again" not in said, said
    assert "the rehearsal gives its host's own token" in said.lower(), said
    assert "try the step again" in said, said


async def test_the_token_rejected_fault_at_start_service_is_said_as_the_cause(
        tmp_path: Path) -> None:
    """`--fault token-rejected@start-service`: the step said the file's
    token "is not the live one's" and to set it, when the file was right and
    the fault made the stream manager refuse every token (a helper's finding,
    stop 58). In a rehearsal with that fault the fault is said as the cause,
    and trying again (the fault lifted) goes on."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.RETRY]})
        outcome = await faulted(host, ["token-rejected@start-service"], front, journal,
                                with_timeouts(host, service_start=4))
        assert outcome is Outcome.DONE, front.text()[-3000:]
    said = failure(front, "start-service")
    assert "token-rejected@start-service" in said and "HTTP 401" in said, said
    assert "is not the live one's" not in said and "Set it" not in said, said
    assert "quit" not in said and "try the step again" in said.lower(), said


async def test_a_resumed_preflight_says_an_api_error_mid_cutover_as_what_it_is(
        tmp_path: Path) -> None:
    """Code review: resumed mid-cutover, anything the API look raised was said
    as "does not answer, as expected mid-cutover" and kept as silence: an HTTP
    500 too, which is a stream manager up and failing, not one stopped. Only
    no answer at all is the expected silence; an answer with an error is said
    as such, with what to do, and the run goes on (the steps ahead, or the way
    back, deal with the release that answers)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"backup-live": Decision(Answer.STOP)})
        assert await faulted(host, [], first, journal) is Outcome.STOPPED, first.text()[-2000:]
        assert host.service_pid() is not None, "the old stream manager still runs"
        front = ScriptedFrontEnd({"backup-live": Decision(Answer.STOP)})
        outcome = await faulted(host, ["api-error@preflight"], front, journal,
                                resume=replay(journal))
    assert outcome is Outcome.STOPPED, front.text()[-3000:]
    said = [line for sid, _, line in front.lines if sid == "preflight"]
    assert not any("does not answer" in line for line in said), said
    errors = [line for line in said if "HTTP 500" in line]
    assert errors and "answers with an error" in errors[0], said
    assert "[api] base_url" in errors[0] and "start-service" in errors[0], errors
    assert front.final_state("preflight") == "done", front.text()[-3000:]
    assert "HTTP 500" in front.detail("preflight") and \
        "does not answer" not in front.detail("preflight"), front.detail("preflight")


async def test_a_resumed_preflight_does_not_take_a_fault_of_its_own_for_silence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Code review: resumed mid-cutover, a fault in runbook's own reading of
    the answer (a bug; nothing on the host can bring it about, so it is stood
    in for) was said as the expected silence and kept. It fails the step, as
    anywhere else, and is said as what it is."""
    from runbook.smapi import StreamManagerAPI

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"backup-live": Decision(Answer.STOP)})
        assert await faulted(host, [], first, journal) is Outcome.STOPPED, first.text()[-2000:]

        async def misread(self: StreamManagerAPI) -> str:
            raise ValueError("the cloud controller's answer was misread")
        monkeypatch.setattr(StreamManagerAPI, "cloud_controller", misread)
        front = ScriptedFrontEnd()
        outcome = await faulted(host, [], front, journal, resume=replay(journal))
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = [line for sid, _, line in front.lines if sid == "preflight"]
    assert not any("does not answer" in line for line in said), said
    assert "misread" in failure(front, "preflight"), front.text()[-3000:]


def new_properties(host: RehearsalHost) -> Path:
    """The new release's red5-web.properties, beside the live install."""
    found = sorted(host.sandbox.glob(
        "usr/local/red5pro-server-*/webapps/streammanager/WEB-INF/red5-web.properties"))
    assert len(found) == 1, found
    return found[0]


async def test_a_skipped_properties_step_on_the_template_as_shipped_keeps_the_cutover_shut(
        tmp_path: Path) -> None:
    """Trial 53 (and stop 48 before it): properties skipped, though the new
    release's file was still the template as shipped; one warning line went by
    and the typed id began the cutover, whose new stream manager read
    config.dbHost={host}, and start-service failed with it down. Its check
    knows the cutover cannot work so: the first cutover step refuses to
    begin, nothing changed, says why and the two ways on, and looks again on
    a retry. Said already at the skip, in prepare."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd({"properties": Decision(Answer.SKIP, "done by hand")},
                                 recoveries={"delete-nodegroups": [Recovery.RETRY]})
        outcome = await faulted(host, [], front, journal)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
        assert "config.dbHost={host}" in new_properties(host).read_text()
    refused = failure(front, "delete-nodegroups")
    assert refused.startswith("the cutover cannot begin: properties was skipped (done by hand)")
    assert "the merge was never written to it" in refused and "config.dbHost={host}" in refused
    assert "Nothing was changed" in refused and "old stream manager still serves" in refused
    assert "--resume, which offers properties again" in refused and "(t)" in refused, refused
    # Never asked (a piped id or --yes cannot take it past), refused again on
    # the retry, which looked again; no way back offered: nothing is down.
    assert "delete-nodegroups" not in front.asked, front.asked
    assert front.recovered == [("delete-nodegroups", False)] * 2, front.recovered
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not [r for r in records if r["event"] == "cutover-start"]
    assert not [r for r in records if r["event"] == "action-start"
                and r["step"] == "delete-nodegroups"]
    said = [line for sid, _, line in front.lines if sid == "properties"]
    assert any("the cutover will not begin" in line for line in said), said
    # No "goes ahead on your word" for it: it does not.
    assert not any("goes ahead on your word" in line for line in said), said


async def test_a_skipped_properties_step_fixed_by_hand_lets_the_cutover_begin_on_a_retry(
        tmp_path: Path) -> None:
    """Skipping stays possible where the operator put the merge in place by
    hand: refused while it is not, the retry (t) looks again, finds it so,
    and the first cutover step is asked as ever."""
    async with rehearsal_host(tmp_path) as host:
        merging = ScriptedFrontEnd({"delete-nodegroups": Decision(Answer.STOP)})
        assert await faulted(host, [], merging, tmp_path / "a.jsonl") is Outcome.STOPPED
        target = new_properties(host)
        merged = target.read_text()
        shutil.copyfile(target.with_name(target.name + ".runbook-bak"), target)
        assert "config.dbHost={host}" in target.read_text()

        class FixedByHand(ScriptedFrontEnd):
            async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
                target.write_text(merged)  # at the refusal's question, then t
                return await super().recover(step, can_roll_back=can_roll_back)

        front = FixedByHand({"properties": Decision(Answer.SKIP, "fixing it by hand"),
                             "delete-nodegroups": Decision(Answer.STOP)},
                            recoveries={"delete-nodegroups": [Recovery.RETRY]})
        outcome = await faulted(host, [], front, tmp_path / "b.jsonl")
        assert outcome is Outcome.STOPPED, front.text()[-3000:]
    assert front.final_state("properties") == "skipped"
    assert "cutover cannot begin" in failure(front, "delete-nodegroups")
    assert front.asked[-1] == "delete-nodegroups", front.text()[-3000:]


async def test_a_file_fixed_by_hand_to_a_real_database_host_is_warned_of_not_refused(
        tmp_path: Path) -> None:
    """Without the copy the merge keeps beside it, a file the operator fixed
    by hand reads as the template itself, and its check as "still the
    template as shipped". Only a config.dbHost still blank or a placeholder
    is sure to fail; one fixed to a real host (an alias of the new database,
    say) is the operator's word: warned of, and the cutover asked."""
    async with rehearsal_host(tmp_path) as host:
        def by_hand(step: StepReport, plan: list[Action]) -> None:
            if step.id == "properties":
                target = new_properties(host)
                target.write_text(target.read_text().replace(
                    "config.dbHost={host}", "config.dbHost=db-alias.example.com"))

        front = ScriptedFrontEnd({"properties": Decision(Answer.SKIP, "fixed by hand"),
                                  "delete-nodegroups": Decision(Answer.STOP)},
                                 on_confirm=by_hand)
        outcome = await faulted(host, [], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.STOPPED, front.text()[-3000:]
    assert front.asked[-1] == "delete-nodegroups", front.text()[-3000:]
    warned = [line for sid, _, line in front.lines if sid == "properties"
              and "was skipped" in line]
    assert len(warned) == 1 and "goes ahead on your word" in warned[0], warned
    # Trial 54 (F16 LOW): it was edited, so not "still the template as
    # shipped"; and what will break the start, the login's placeholders, named.
    assert "still the template as shipped" not in warned[0], warned
    assert "config.dbUser ({username}) and config.dbPass still hold the template's " \
        "placeholders" in warned[0], warned


async def test_a_placeholder_database_host_in_a_throwaway_rehearsal_is_not_told_to_resume(
        tmp_path: Path) -> None:
    """A throwaway rehearsal (no --sandbox) whose new release's file held
    config.dbHost={host} at start-service was told to go on with --resume,
    which finds nothing once its host is gone. It is told what helps."""
    async with rehearsal_host(tmp_path) as host:
        settings = dataclasses.replace(rehearsal_settings(host), rehearsal_throwaway=True)

        def template_back(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service":
                found = sorted(live(host).glob(
                    "webapps/streammanager/WEB-INF/red5-web.properties"))
                assert len(found) == 1, found
                shutil.copyfile(found[0].with_name(found[0].name + ".runbook-bak"), found[0])
                assert "config.dbHost={host}" in found[0].read_text()

        front = ScriptedFrontEnd(on_confirm=template_back,
                                 recoveries={"start-service": [Recovery.STOP]})
        outcome = await faulted(host, [], front, tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "start-service")
    assert "config.dbHost in " in said and "is {host}" in said, said
    assert "--resume" not in said and "rehearse again" in said, said


async def test_a_skipped_carry_over_says_what_is_missing_before_the_cutover(
        tmp_path: Path) -> None:
    """TUI trial: a skipped carry-over was warned of as "not done", where the
    other skipped steps' warnings named what was missing; start-service then
    failed in the downtime on the licence, nothing linking it to the skip."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd({"carry-over": Decision(Answer.SKIP, "later"),
                                  "delete-nodegroups": Decision(Answer.STOP)})
        outcome = await faulted(host, [], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.STOPPED, front.text()[-3000:]
    said = [line for sid, _, line in front.lines if sid == "carry-over" and "was skipped" in line]
    assert len(said) == 1 and "LICENSE.KEY" in said[0] and "not done" not in said[0], said
    assert "will not start" in said[0] and "dummy" in said[0], said
    # The TUI's confirmation of each cutover step repeats it (second review:
    # as an info line of that step, the dialog over its output hid it).
    from runbook.step import cards
    from screens.run_state import RunState

    listed = cards([*procedure(), *way_back()])  # type: ignore[arg-type]
    seen = RunState(cards=listed, target="red5admin@127.0.0.1:2222")
    for event in front.events:
        seen.apply(event, 0.0)
    first = next(card for card in listed if card.id == "delete-nodegroups")
    assert said[0] in seen.warnings_for(first), seen.warnings
    # Not on the way back, where "the cutover goes ahead" no longer holds
    # (re-trial: it pushed rollback-recreate's plan out of view at 80x24).
    back = next(card for card in listed if card.id == "rollback-recreate")
    assert said[0] not in seen.warnings_for(back), seen.warnings_for(back)


async def test_a_step_skipped_again_on_a_resume_mid_cutover_is_warned_of_again(
        tmp_path: Path) -> None:
    """Re-trial: resumed after promote-new, carry-over skipped again, the
    cutover's questions said nothing of the missing LICENSE.KEY, and
    start-service then failed on it in the downtime. Each session looks at
    what it skipped before its first cutover step, and says it."""
    from runbook.journal_replay import replay

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"carry-over": Decision(Answer.SKIP, "later"),
                                  "stop-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED, first.text()[-3000:]
        second = ScriptedFrontEnd({"carry-over": Decision(Answer.SKIP, "still later"),
                                   "stop-service": Decision(Answer.STOP)})
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        assert outcome is Outcome.STOPPED, second.text()[-3000:]
    said = [line for sid, _, line in second.lines if sid == "carry-over" and "was skipped" in line]
    assert len(said) == 1 and "LICENSE.KEY" in said[0], said
    # Now on red5pro, the promoted tree: the check looked where the run would act.
    assert "red5pro-server-" not in said[0], said


async def test_a_skipped_strip_autoscale_is_warned_of_on_one_line(tmp_path: Path) -> None:
    """TUI trial: its warning joined the two paths with a line end, and
    `runbook log` showed the second without the step's name."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd({"strip-autoscale": Decision(Answer.SKIP, "later"),
                                  "delete-nodegroups": Decision(Answer.STOP)})
        outcome = await faulted(host, [], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.STOPPED, front.text()[-3000:]
    said = [line for sid, _, line in front.lines
            if sid == "strip-autoscale" and "was skipped" in line]
    assert len(said) == 1 and "\n" not in said[0], said
    assert "autoscale.xml" in said[0] and "red5pro-autoscale-plugin-" in said[0], said
    assert "red5pro-webrtc-plugin-" in said[0], said  # facts audit 61, M1


async def test_the_installed_units_contents_stay_out_of_the_journal(tmp_path: Path) -> None:
    """Preflight read the installed red5pro.service as a journalled command, so
    its every line went into the journal: a unit that keeps a secret in its
    Environment= (a keystore password, say) put it there, unmasked, since no
    setting names it (second review, stop 48). The unit is read as root, as a
    look, and only what preflight makes of it is said."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        unit = host.sandbox / "lib/systemd/system/red5pro.service"
        unit.write_text(unit.read_text().replace(
            "[Service]\n", "[Service]\nEnvironment=KEYSTORE_PASS=kept-out-of-journals\n", 1))
        front = ScriptedFrontEnd({"new-database": Decision(Answer.STOP)})
        outcome = await rehearse(host, front, journal)
        assert outcome is Outcome.STOPPED, front.text()[-3000:]
    assert front.final_state("preflight") == "done", front.text()[-3000:]
    assert "kept-out-of-journals" not in journal.read_text()
    assert "kept-out-of-journals" not in front.text()


class _MistypesTheNewToken(Operator):
    """Before start-service, the new install's rest.administratorToken is not
    the live one's (a hand edit after the properties step); at the failure,
    the operator puts the live one back."""

    def __init__(self, host: RehearsalHost, **script: Any) -> None:
        super().__init__(at_failure=self.mend, **script)
        self.properties = live(host) / "webapps/streammanager/WEB-INF/red5-web.properties"
        self.right = ""

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        if step.id == "start-service" and not self.right:
            self.right = self.properties.read_text()
            self.properties.write_text(re.sub(r"(?m)^rest\.administratorToken=.*$",
                                              "rest.administratorToken=not-the-live-one",
                                              self.right))
        return await super().confirm(step, plan)

    async def mend(self, step_id: str) -> None:
        self.properties.write_text(self.right)


async def test_a_token_put_right_after_start_service_failed_is_read_by_a_restart(
        tmp_path: Path) -> None:
    """The server reads its token as it starts: once the operator has put the
    new install's right, trying start-service again restarts the service
    that refused it (code review, stop 48: a check that heard 401 failed the
    retry at once, so only a restart by hand went on)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = _MistypesTheNewToken(host, recoveries={"start-service": [Recovery.RETRY]})
        outcome = await faulted(host, [], front, journal)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "start-service")
    assert "refuses the API token" in said and "rest.administratorToken" in said, said
    assert "try the step again" in said and "roll back" in said, said
    why = [action.render() for action in front.plans["start-service"]]  # the retry's
    assert any("refuses the API token" in line and "restarted at once" in line
               for line in why), why
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    commands = [r["text"].split("systemctl ")[-1] for r in records
                if r["event"] == "action-start" and r["step"] == "start-service"]
    assert commands == ["start red5pro", "restart red5pro"], commands


async def test_the_way_back_from_a_token_start_service_refused_gets_through(
        tmp_path: Path) -> None:
    """Review 56c F3: start-service failed with 401 (the new install's token
    is not the live one's) and offers the way back; the way back proved the
    token against the new install's file too, refused it with no try again,
    and its advice (the new file's token) was refused by the proof against
    the old install: the run ended FAILED at rollback-nodegroups, the stream
    manager down. The way back needs the old install's token only; the new
    release refusing it is its API not answering, and recreate never ran."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        groups = len(cloud.list_nodegroups(host.sandbox, *host.old_db))
        front = _MistypesTheNewToken(host, recoveries={"start-service": [Recovery.ROLLBACK]})
        front.at_failure = None  # the file is left as it is
        outcome = await faulted(host, [], front, journal)
        assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
        assert rolled_back(host, groups)
    assert "refuses the API token" in failure(front, "start-service")
    said = front.detail("rollback-nodegroups")
    assert "nothing to delete" in said and "recreate made nothing" in said, said
    assert "refuses the API token given" in said and "HTTP 401" in said, said
    assert "start runbook again" not in said, said
    assert "not-the-live-one" not in front.text() and host.api_token not in front.text()


async def test_a_resumed_run_with_a_wrong_token_does_not_restart_the_new_release(
        tmp_path: Path) -> None:
    """Second review (stop 48): resumed mid-cutover with a wrong token in the
    shell, start-service took the 401 for a file the server had not read,
    planned a restart of the new release that served, and told the operator
    to change the install's rest.administratorToken. The file is as it was
    when the server started, so no restart would change anything: the step
    fails at its check, saying a wrong token means starting again. (Trial 54
    F28: preflight now compares the token with the live file's before any
    request, so the resumed run stops there, sending nothing.)"""
    from runbook.cli import wiring
    from runbook.journal_replay import replay

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED, first.text()[-2000:]
        serving = host.service_pid()
        resumed = wiring.session(rehearsal_settings(host), token="a-wrong-token-in-my-shell",
                                 journal_path=journal, state_dir=host.sandbox / ".operator",
                                 isolated=True, resume=replay(journal))
        front = ScriptedFrontEnd()
        outcome = await resumed.run(front)
        assert host.service_pid() == serving, "the new release was restarted"
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "preflight")
    assert "start runbook again" in said and "--resume goes on from here" in said, said
    assert "the cutover begun earlier is still under way" in said, said
    assert "start-service" not in front.plans, "a restart was planned"


class _WaitsForTheAPI(Operator):
    """Asked to run start-service again, waits until the service it left
    running answers before saying yes: an operator reading the plan while
    the slow release comes up."""

    def __init__(self, host: RehearsalHost, **script: Any) -> None:
        super().__init__(**script)
        self.host = host
        self.waited = False

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        import asyncio

        import httpx

        if step.id == "start-service" and self.recovered:
            url = (f"{self.host.api_base_url}/streammanager/api/4.0/admin/debug/"
                   f"cloudcontroller?accessToken={self.host.api_token}")
            async with httpx.AsyncClient(timeout=2.0) as client:
                for _ in range(300):
                    try:
                        if (await client.get(url)).status_code == 200:
                            self.waited = True
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
        return await super().confirm(step, plan)


async def test_a_service_answering_by_the_time_the_retry_is_confirmed_is_not_restarted(
        tmp_path: Path) -> None:
    """Operator trial: tried again after a slow start, start-service planned a
    restart (the service had run past its limit without answering); the
    operator read the plan while it came up, said yes, and the step
    restarted a stream manager that answered, which a release slower than
    the limit never survives."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        front = _WaitsForTheAPI(host, recoveries={"start-service": [Recovery.RETRY]})
        settings = with_timeouts(host, service_start=4)
        outcome = await faulted(host, ["slow-start"], front, journal, settings)
        assert outcome is Outcome.DONE, front.text()[-3000:]
    assert front.waited, "the slow service came up while the question waited"
    assert any("restarted at once" in action.render() for action in front.plans["start-service"])
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    commands = [r["text"] for r in records if r["event"] == "action-start"
                and r["step"] == "start-service"]
    # The first attempt's start and its one restart in the limit; none after.
    assert [c.split("systemctl ")[-1] for c in commands] == ["start red5pro",
                                                            "restart red5pro"], commands
    assert "the service is not restarted" in front.text()


async def test_a_start_that_fails_at_once_is_rolled_back(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        groups = len(cloud.list_nodegroups(host.sandbox, *host.old_db))
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(serving=serving_from(host))

        front = Operator(recoveries={"start-service": [Recovery.ROLLBACK]}, at_failure=look)
        settings = with_timeouts(host, service_start=60)
        outcome = await faulted(host, ["start-fails"], front, tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
        assert rolled_back(host, groups)
    report = next(e.report for e in front.events if isinstance(e, StepChanged)
                  and e.report.id == "start-service" and e.report.state.value == "failed")
    said = failure(front, "start-service").lower()
    # Under jsvc's -wait the start itself fails (facts audit 59b, M1), said
    # with red5.log's last line, as a server that exits after the start is.
    assert "systemd could not start red5pro" in said and "licen" in said, said
    # Re-trial 57b (F-H): "the red5pro service is failed", systemd's word
    # pasted into a sentence.
    assert "is failed" not in said and "red5.log ends with:" in said, said
    assert "roll back" in said, said
    assert report.elapsed_s is not None and report.elapsed_s < 30
    assert seen == {"serving": None}, "nothing runs once the new server has exited"


async def test_a_failed_start_shows_its_log_without_the_licence_key(tmp_path: Path) -> None:
    """Facts audit 56a M1: the real servers write LICENSE.KEY's value near the
    top of red5.log (6.2.0's and 5.1.1's, line 5), and a server that exits as
    it starts leaves a log short enough for the tail start-service shows to
    hold it: on the screen, in the journal and the report from it."""
    from runbook.report import build
    from runbook.report_html import html
    from runbook.report_md import markdown

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        key = (live(host) / "LICENSE.KEY").read_text().strip()
        front = Operator(recoveries={"start-service": [Recovery.STOP]})
        settings = with_timeouts(host, service_start=60)
        outcome = await faulted(host, ["start-fails"], front, journal, settings)
        log = (live(host) / "log" / "red5.log").read_text()
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    assert f"com.red5pro.license.LicenseManager - LICENSE.KEY: {key}" in log, log
    said = failure(front, "start-service")
    assert "systemd could not start red5pro" in said and "LICENSE.KEY: " in front.text(), said
    report = build(journal, estimate_from=[])
    for where, text in (("screen", front.text()), ("journal", journal.read_text()),
                        ("report", markdown(report)), ("html report", html(report))):
        assert key not in text, where



async def test_the_way_back_alone_shows_the_old_releases_log_without_the_licence_key(
    tmp_path: Path,
) -> None:
    """Review 56d F1: `runbook rollback` runs none of the upgrade's steps, so
    it never read LICENSE.KEY to mask it; rollback-start shows the end of
    red5.log when the old release exits as it starts, and the key was in it:
    on the screen, in the journal, the report and `runbook log`."""
    from runbook.log import log_lines
    from runbook.report import build
    from runbook.report_html import html
    from runbook.report_md import markdown

    journal, back = tmp_path / "run.jsonl", tmp_path / "back.jsonl"
    async with rehearsal_host(tmp_path) as host:
        key = (live(host) / "LICENSE.KEY").read_text().strip()
        settings = with_timeouts(host, service_start=60)
        first = Operator(recoveries={"start-service": [Recovery.STOP]})
        outcome = await faulted(host, ["start-fails"], first, journal, settings)
        assert outcome is Outcome.FAILED, first.text()[-3000:]
        armed.arm(host.sandbox, "start-fails")  # the old release refuses its licence too
        try:
            front = ScriptedFrontEnd(recoveries={"rollback-start": [Recovery.STOP]})
            outcome = await wiring.session(
                settings, token=host.api_token, journal_path=back,
                state_dir=host.sandbox / ".operator", isolated=True, resume=replay(journal),
                only_back=True).run(front)
        finally:
            armed.lift(host.sandbox, "start-fails")
        log = (live(host) / "log" / "red5.log").read_text()
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "rollback-start")
    assert "systemd could not start red5pro" in said and "LICENSE.KEY: " in front.text(), said
    assert f"LICENSE.KEY: {key}" in log, log
    report = build(back, estimate_from=[])
    shown = "\n".join(line for _step, line in log_lines(back))
    for where, text in (("screen", front.text()), ("journal", back.read_text()),
                        ("report", markdown(report)), ("html report", html(report)),
                        ("runbook log", shown)):
        assert key not in text, where

# --- the host ----------------------------------------------------------------------------


async def test_a_full_disk_during_upload_leaves_a_part_and_a_retry_sends_it(
    tmp_path: Path,
) -> None:
    async with rehearsal_host(tmp_path) as host:
        sent = host.upload_dir / host.distribution.name
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(part=sent.stat().st_size if sent.exists() else None,
                        pid=host.service_pid())

        before = host.service_pid()
        front = Operator(recoveries={"upload": [Recovery.RETRY]}, at_failure=look)
        outcome = await faulted(host, ["disk-full"], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "upload")
    # OpenSSH's sftp-server answers a full disk with the bare "Failure" (its
    # errno_to_portable); the rehearsal says what production will (trial).
    assert "(Failure:" in said and "No space left" not in said, said
    assert "a full disk" in said, said
    assert "free" in said and "try the step again" in said, said
    part = seen["part"]
    assert isinstance(part, int) and part < host.distribution.stat().st_size, seen
    assert seen["pid"] == before


async def test_a_disk_that_fills_during_the_unzip_says_so(tmp_path: Path) -> None:
    """Trial 59 F11: the host's disk filled as unpack unzipped; the failure
    repeated the whole command and ended on unzip's "probably truncated", the
    cause only in the output above. A real full filesystem: a small tmpfs
    mounted where the zip unpacks (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    async with rehearsal_host(tmp_path) as host:
        small = unpacked(host)
        small.mkdir(parents=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)],
                                 capture_output=True, check=False)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
        try:
            front = Operator(recoveries={"unpack": [Recovery.STOP]})
            outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        finally:
            subprocess.run(["umount", "-l", str(small)], check=False)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "unpack")
    assert "disk" in said and "filled" in said, said
    assert str(host.install_dir) in said and "free" in said and "try the step again" in said, said
    assert "unzip -q" not in said, said


async def test_an_upload_onto_a_disk_that_fills_part_way_says_the_disk_is_full(
        tmp_path: Path) -> None:
    """The upload folder had room at preflight and filled while upload sent
    the zip: the failure said only the SFTP server's words, and "free the
    space or fix the permission". It says the host's disk is full, where,
    how much room there is and how much more the file needs, and what to do.
    A real full filesystem: a small tmpfs mounted on the upload folder at
    upload's question (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    mounted: list[Path] = []
    async with rehearsal_host(tmp_path, dist_size=4 << 20) as host:
        small = host.upload_dir

        def fill_up(step: StepReport, plan: list[Action]) -> None:
            if step.id != "upload":
                return
            small.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                                   str(small)], capture_output=True, check=False)
            if done.returncode == 0:
                mounted.append(small)

        front = Operator(recoveries={"upload": [Recovery.STOP]}, on_confirm=fill_up)
        try:
            outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        finally:
            for folder in mounted:
                subprocess.run(["umount", "-l", str(folder)], check=False)
        if not mounted:
            pytest.skip("cannot mount a tmpfs here")
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "upload")
    assert said.startswith("the host's disk is full: "), said
    assert re.search(rf"{re.escape(str(small))} has \d+ [KM]iB free", said), said
    assert re.search(rf"{re.escape(host.distribution.name)} needs about \d+ [KM]iB more",
                     said), said
    assert f"df -h {small}" in said and "try the step again" in said, said
    assert "permission" not in said and "sha256" not in said, said


async def test_preflight_looks_at_the_room_in_the_upload_folder(tmp_path: Path) -> None:
    """Trial 59 F11: with [install] upload_dir on a small filesystem of its
    own (/tmp a tmpfs), preflight looked only under [install] dir and passed;
    upload then failed on a full disk. Preflight is the day-ahead look."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    async with rehearsal_host(tmp_path) as host:
        small = host.upload_dir
        small.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k,mode=0755", "tmpfs",
                                  str(small)],
                                 capture_output=True, check=False)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
        try:
            front = Operator(recoveries={"preflight": [Recovery.STOP]})
            outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        finally:
            subprocess.run(["umount", "-l", str(small)], check=False)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
        assert not (small / host.distribution.name).exists()
    said = failure(front, "preflight")
    assert f"{small} has 0 MiB free" in said and "upload" in said, said


async def test_a_full_disk_as_the_properties_are_written_says_what_failure_means(
    tmp_path: Path,
) -> None:
    """Trial (real OpenSSH, `ulimit -f`): carry-over's write failed with the
    bare "cannot write ... (Failure)" and nothing of what to do."""
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"properties": [Recovery.RETRY]})
        outcome = await faulted(host, ["disk-full@properties"], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
    said = failure(front, "properties")
    assert "(Failure:" in said and "a full disk" in said and "free" in said, said
    assert "as it was" in said, said  # the live file is untouched


async def test_a_changed_host_key_is_refused_until_the_operator_trusts_it(
    tmp_path: Path,
) -> None:
    async with rehearsal_host(tmp_path) as host:
        trusted = host.known_hosts.read_text()
        before = host.service_pid()
        seen: dict[str, object] = {}

        async def trust_the_new_key(step: str) -> None:
            # The operator compares the fingerprint with the host's own key
            # (here in the sandbox), then replaces the known_hosts entry as
            # the refusal says, word for word (README walkthrough: it gave
            # ssh-keygen -lf and not the line to write, nor how).
            seen.update(uploaded=host.upload_dir.exists(), pid=host.service_pid())
            key = host.state_dir / "ssh_host_ed25519_key"
            seen["fingerprint"] = asyncssh.read_private_key(str(key)).get_fingerprint()
            said = failure(front, "preflight")
            assert str(seen["fingerprint"]) in said, said
            remove = f"ssh-keygen -R '[127.0.0.1]:{host.ssh_port}' -f {host.known_hosts}"
            line = known_hosts_line(key, host.ssh_port).strip()
            assert f"Only if they are the same, {remove}, then add this line to " \
                f"{host.known_hosts}:\n{line}\n" in said, said
            # The line the TUI shows unwrapped and copies whole (y), carried
            # on the failed step's report as data.
            failed = [e.report for e in front.events if isinstance(e, StepChanged)
                      and e.report.id == "preflight" and e.report.state is StepState.FAILED]
            assert failed[0].known_hosts_line == line, failed[0]
            assert "Trust it only once you know it is the host's" in said, said
            if shutil.which("ssh-keygen"):
                subprocess.run(shlex.split(remove), check=True, capture_output=True)
            else:  # what it does here: the one entry is this host's
                host.known_hosts.write_text("")
            with host.known_hosts.open("a") as known:
                known.write(line + "\n")

        front = Operator(recoveries={"preflight": [Recovery.RETRY]}, at_failure=trust_the_new_key)
        outcome = await faulted(host, ["host-key-changed"], front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "preflight")
    assert "refusing the host key" in said and str(seen["fingerprint"]) in said, said
    assert "nothing ran on the host" in said.lower(), said
    # Where a rehearsal's own key and known_hosts are (operator trial: it named
    # this machine's /etc/ssh key, which is not the rehearsal host's).
    assert f"ssh-keygen -lf {host.state_dir / 'ssh_host_ed25519_key.pub'}" in said, said
    assert "/etc/ssh" not in said and str(host.known_hosts) in said, said
    assert seen["uploaded"] is False and seen["pid"] == before
    assert trusted != host.known_hosts.read_text()


async def test_a_host_key_of_another_type_is_refused_as_changed_and_trusted_as_it_says(
    tmp_path: Path,
) -> None:
    """Review: a reinstalled host whose known_hosts entry is its old ed25519
    key and which now offers only ECDSA failed preflight in asyncssh's words
    ("cannot connect over SSH: Unable to find compatible server host key").
    It is refused as a changed key, nothing runs, and the refusal's own
    commands, done word for word, let the run go on."""
    async with rehearsal_host(tmp_path) as host:
        before = host.service_pid()
        await host.change_host_key("ecdsa-sha2-nistp256")
        public = host.state_dir / "ssh_host_ecdsa_key.pub"
        offered = asyncssh.read_public_key(str(public)).get_fingerprint()
        seen: dict[str, object] = {}

        async def trust_the_new_key(step: str) -> None:
            seen.update(uploaded=host.upload_dir.exists(), pid=host.service_pid())
            said = failure(front, "preflight")
            remove = f"ssh-keygen -R '[127.0.0.1]:{host.ssh_port}' -f {host.known_hosts}"
            assert f"ssh-keygen -lf {public}." in said, said
            line = f"[127.0.0.1]:{host.ssh_port} " + " ".join(public.read_text().split()[:2])
            assert f"Only if they are the same, {remove}, then add this line to " \
                f"{host.known_hosts}:\n{line}\n" in said, said
            if shutil.which("ssh-keygen"):
                subprocess.run(shlex.split(remove), check=True, capture_output=True)
            else:  # what it does here: the one entry is this host's
                host.known_hosts.write_text("")
            with host.known_hosts.open("a") as known:
                known.write(line + "\n")

        front = Operator(recoveries={"preflight": [Recovery.RETRY]}, at_failure=trust_the_new_key)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "preflight")
    assert f"refusing the host key {offered}:" in said, said
    assert "Unable to find" not in said and "cannot connect" not in said, said
    assert "of type ssh-ed25519; the host now offers one of type ecdsa-sha2-nistp256" in said
    assert "nothing ran on the host" in said.lower(), said
    assert seen == {"uploaded": False, "pid": before}


async def test_a_changed_host_key_mid_cutover_does_not_say_nothing_has_changed(
    tmp_path: Path,
) -> None:
    """Operator trial: resumed mid-cutover, a refused host key said "Nothing ran
    on the host and nothing there has changed", with the stream manager down."""
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"promote-new": Decision(Answer.STOP)})
        await rehearse(host, first, tmp_path / "first.jsonl")
        assert first.final_state("backup-live") == "done", first.text()[-2000:]
        front = Operator(recoveries={"preflight": [Recovery.STOP]})
        outcome = await faulted(host, ["host-key-changed"], front, tmp_path / "second.jsonl")
        assert outcome is Outcome.FAILED
    said = failure(front, "preflight")
    assert "refusing the host key" in said, said
    assert "nothing there has changed" not in said, said
    assert "cutover" in said and "under way" in said, said


async def test_the_rehearsal_keeps_its_known_hosts(tmp_path: Path) -> None:
    """known_hosts is the operator's to keep: a second start on the same sandbox
    leaves what it trusts as it was (only the port may follow the host)."""
    sandbox = tmp_path / "sandbox"
    async with RehearsalHost(sandbox, boot_service=False) as host:
        first = host.known_hosts.read_text()
    note = "# trusted by the operator on the first day\n"
    host.known_hosts.write_text(note + first)
    async with RehearsalHost(sandbox, boot_service=False) as host:
        kept = host.known_hosts.read_text()
        async with asyncssh.connect("127.0.0.1", host.ssh_port, username=host.user,
                                    known_hosts=str(host.known_hosts),
                                    client_keys=[str(host.client_key)], config=None,
                                    agent_path=None) as conn:
            assert (await conn.run("true")).exit_status == 0
    assert kept.startswith(note)
    assert kept.split()[-2:] == first.split()[-2:], "the same key is trusted"


async def test_a_denied_permission_at_promote_new_is_rolled_back(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        groups = len(cloud.list_nodegroups(host.sandbox, *host.old_db))
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(live=live(host).exists(), backup=backup(host).exists(),
                        unpacked=unpacked(host).exists(), serving=serving_from(host))

        front = Operator(recoveries={"promote-new": [Recovery.ROLLBACK]}, at_failure=look)
        outcome = await faulted(host, ["permission-denied@promote-new"], front,
                                tmp_path / "run.jsonl")
        assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
        assert rolled_back(host, groups)
    said = failure(front, "promote-new")
    assert "sudo" in said and "password" in said and "nothing ran" in said, said
    # Operator trial: the way back was offered as if sudo were not its need too.
    assert "the way back, which needs that sudo too" in said, said
    # The old server still ran from the moved-aside install; nothing else moved.
    assert seen == {"live": False, "backup": True, "unpacked": True,
                    "serving": backup(host).resolve()}, seen


@pytest.mark.parametrize("step", ["properties", "stop-service"])
async def test_a_look_sudo_refuses_says_what_the_ssh_user_needs(tmp_path: Path,
                                                                step: str) -> None:
    """Operator trial (stop 48): `--fault permission-denied@properties` said
    "cannot read .../red5-web.properties on the host: sudo: a password is
    required", and nothing of what to do, where a command sudo refused says
    the SSH user needs password-less sudo, and to try again once it has.
    (Stop 51: stop-service's listing of the Java processes said the same.)"""
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={step: [Recovery.RETRY]})
        outcome = await faulted(host, [f"permission-denied@{step}"], front,
                                tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
    said = failure(front, step)
    assert "password is required" in said and "password-less sudo" in said, said
    assert "try the step again" in said, said


async def test_a_denied_permission_on_the_way_back_offers_no_way_back(tmp_path: Path) -> None:
    """Operator trial: a way back step refused by sudo said "try the step
    again, or take the way back": the run was on the way back already, and
    its question offered only trying again or stopping."""
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"promote-new": [Recovery.ROLLBACK],
                                     "rollback-restore": [Recovery.STOP]})
        outcome = await faulted(host, ["permission-denied@promote-new",
                                       "permission-denied@rollback-restore"], front,
                                tmp_path / "run.jsonl")
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = failure(front, "rollback-restore")
    assert "sudo" in said and "nothing ran" in said and "try the step again" in said, said
    assert "take the way back" not in said, said
    # Operator trial: it said the sudo was needed "for the upgrade".
    assert "password-less sudo on the host for the way back" in said, said
    # Trial 58, L3: stopped there, the host has no red5pro; the exit line
    # named the new release's folder alone, not where the old one waits.
    from runbook.standing import service_state

    live = [path for path in host.sandbox.rglob("red5pro") if path.parent.name == "local"]
    assert not live, live
    old = [path for path in host.sandbox.rglob("bak.red5pro") if path.is_dir()]
    assert len(old) == 1, old
    standing = service_state(replay(tmp_path / "run.jsonl"))
    assert f"there is no {old[0].with_name('red5pro')}" in standing, standing
    assert f"the old install, {old[0]}, is moved back" in standing, standing


@pytest.mark.parametrize("step", ["backup-live", "service-unit"])
async def test_an_ssh_drop_lands_in_the_steps_first_change(tmp_path: Path, step: str) -> None:
    """Operator trial: `--fault ssh-drop@backup-live` cut the connection during
    a look before the move, which changed nothing and was simply taken again:
    the moment worth practising, a drop while the live install is being
    renamed, could not be had. The drop now lands in the step's first command
    that changes the host, and its end is unknown. (Stop 46: service-unit ran
    its look for a shipped unit as an action, and the drop landed there.)"""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={step: [Recovery.RETRY]})
        outcome = await faulted(host, [f"ssh-drop@{step}"], front, journal)
        assert host.ssh_drops == 1
        assert outcome is Outcome.DONE, front.text()[-3000:]
    records = [r for r in map(json.loads, journal.read_text().splitlines())
               if r.get("step") == step]
    sent = {(r["attempt"], r["n"]): r["text"] for r in records if r["event"] == "action-start"}
    ends = [r for r in records if r["event"] == "action-end"]
    assert ends and ends[0]["status"] == "unknown", ends
    assert not sent[ends[0]["attempt"], ends[0]["n"]].startswith("$ test "), sent


async def test_an_ssh_drop_while_the_service_starts_waits_for_it_instead_of_failing(
        tmp_path: Path) -> None:
    """Operator trial: `--fault ssh-drop@start-service` cut the connection as
    systemd started the service; reconnected, the step found it running with
    its API not answering yet and stopped in doubt, offering the way back from
    a healthy upgrade. Ten seconds later a retry found it done. A start under
    way is waited for, within the step's own limit."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        # The webapp loads a few seconds after the start, well within the limit:
        # the reconnect finds the service running, its API not answering yet.
        armed.arm(host.sandbox, "slow-start", step="start-service", delay=6.0)

        def lift_once_started(step: StepReport, plan: list[Any]) -> None:
            if step.id == "recreate":
                armed.lift(host.sandbox, "slow-start")

        front = Operator(on_confirm=lift_once_started)
        outcome = await faulted(host, ["ssh-drop@start-service"], front, journal,
                                with_timeouts(host, service_start=60))
        assert host.ssh_drops == 1
    assert outcome is Outcome.DONE, front.text()[-3000:]
    assert front.recovered == [], front.recovered
    assert front.final_state("start-service") == "done"


async def test_an_ssh_drop_while_the_service_starts_says_whether_it_runs_only_once_looked(
        tmp_path: Path) -> None:
    """Review 59c L6: a dropped connection mid-start left `left_running`
    unset, as "nothing left running": the exit lines said nothing of a new
    release that ran without serving, though the reconnect had looked and
    found it so. Until the step has looked, they say it is not known; once
    it has, what it found. Here its webapp does not load (a bean key left
    out), so the reconnect finds it running and answering 404: in doubt."""
    from runbook.standing import service_state

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        def unset_a_bean_key(step: StepReport, plan: list[Any]) -> None:
            if step.id == "start-service":
                path = live(host) / "webapps/streammanager/WEB-INF/red5-web.properties"
                path.write_text(re.sub(r"(?m)^aws\.forUsGovRegions=", "#aws.forUsGovRegions=",
                                       path.read_text()))

        front = Operator(on_confirm=unset_a_bean_key,
                         recoveries={"start-service": [Recovery.STOP]})
        outcome = await faulted(host, ["ssh-drop@start-service"], front, journal,
                                with_timeouts(host, service_start=60))
        assert host.ssh_drops == 1
        assert host.service_pid() is not None, "the new release runs"
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    assert front.final_state("start-service") == "in-doubt", front.states
    looked = service_state(replay(journal))
    assert "the new release's service runs" in looked, looked
    # Cut off where the drop landed, before any look (a kill -9 there).
    lines = journal.read_text().splitlines(keepends=True)
    cut = next(n for n, line in enumerate(lines)
               if (r := json.loads(line))["event"] == "action-start"
               and r.get("step") == "start-service" and "systemctl start" in r.get("text", ""))
    early = tmp_path / "cut.jsonl"
    early.write_text("".join(lines[:cut + 1]))
    unlooked = service_state(replay(early))
    assert "is not known" in unlooked, unlooked
    assert "service runs:" not in unlooked, unlooked


async def test_an_ssh_drop_at_upload_lands_while_the_file_is_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Trial: `--fault ssh-drop@upload`, said to cut the connection "while the
    file is sent", landed in the mkdir before any byte went, so the partial
    upload that goes on from what arrived was never practised. And a drop in
    the middle of SFTP writes filled stderr with asyncio's "socket.send()
    raised exception." lines, 39 of them, which read as a crash."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        size = host.distribution.stat().st_size
        front = Operator()
        outcome = await faulted(host, ["ssh-drop@upload"], front, journal)
        assert host.ssh_drops == 1
        assert outcome is Outcome.DONE, front.text()[-3000:]
        sent = host.sftp_bytes
        # Half way through the distribution, which goes first, as the fault's
        # listing says: a small one went in a single write, and the drop
        # landed in the controller jar after it (operator trial, stop 38).
        assert host.sftp_bytes_at_drop == size // 2, (host.sftp_bytes_at_drop, size)
    assert front.recovered == [], "the upload goes on by itself once reconnected"
    # Half went before the drop; the rest after it, not the whole file again.
    assert sent < size * 1.5 + (1 << 20), (sent, size)
    noise = [r.getMessage() for r in caplog.records if "socket.send()" in r.getMessage()]
    assert noise == [], noise


async def test_stuck_origins_fail_recreate_and_a_retry_finds_them_in_service(
    tmp_path: Path,
) -> None:
    async with rehearsal_host(tmp_path) as host:
        seen: dict[str, object] = {}

        async def look(step: str) -> None:
            seen.update(groups=len(cloud.list_nodegroups(host.sandbox, *host.new_db)))

        front = Operator(recoveries={"recreate": [Recovery.RETRY]}, at_failure=look)
        settings = with_timeouts(host, origins_inservice=5)
        outcome = await faulted(host, ["origins-stuck"], front, tmp_path / "run.jsonl",
                                settings)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
    said = failure(front, "recreate")
    assert "not in service" in said and "running" in said, said
    assert "try the step again" in said and "roll back" in said, said
    assert seen == {"groups": seeded_nodegroups()}, "the nodegroups were created"
    # Operator trial (stop 51): the wait said "waiting for the origins to be
    # in service: 294s left" and no count, where delete-nodegroups' says one.
    waits = [call.label for call in front.progress_calls
             if call.step_id == "recreate" and call.label.startswith("waiting for the origins")]
    assert waits and all(" of " in label for label in waits), waits

def _tear_down_origins(host: RehearsalHost, torn: list[str], *, at_most: int = 0) -> None:
    """The cloud takes recreated origins down (every one, or `at_most`),
    slowly enough (real pace, a minute) that a retry finds them terminating."""
    with cloud.locked_state(host.sandbox) as state:
        db = state.database(*host.new_db)
        for members in db["nodes"].values():
            for identifier in members:
                if at_most and len(torn) >= at_most:
                    return
                instance = state.instance(identifier)
                if instance is not None and instance["role"] == "origin" \
                        and cloud.terminate(instance, time.time()):
                    instance["pace"] = cloud.PACE_NAMES["real"]
                    torn.append(identifier)


async def test_a_retried_recreate_launches_again_for_origins_that_are_leaving(
    tmp_path: Path,
) -> None:
    """Recreate counted every origin of a recreated nodegroup as launched,
    whatever its state: a retry that found its origins terminating (torn down
    by the cloud meanwhile) launched none and waited its whole limit for
    origins that were going away. Origins on their way out (stopping,
    terminating, disposed: FACTS-scenarios section 4) do not count."""
    torn: list[str] = []

    async def tear_down(step: str) -> None:
        _tear_down_origins(host, torn)

    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"recreate": [Recovery.RETRY]}, at_failure=tear_down)
        settings = with_timeouts(host, origins_inservice=8)
        outcome = await faulted(host, ["origins-stuck"], front, tmp_path / "run.jsonl",
                                settings)
        assert torn, "the first attempt launched origins"
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert upgraded(host)
        nodes = [node for group in cloud.list_nodegroups(host.sandbox, *host.new_db)
                 for node in cloud.list_instances(host.sandbox)
                 if node["group"] == group["name"] and node["role"] == "origin"
                 and node["identifier"] not in torn]
        assert nodes, "new origins were launched in place of the leaving ones"


async def test_a_retried_recreate_says_how_many_origins_it_launched_and_found(
    tmp_path: Path,
) -> None:
    """A retry that found one nodegroup's origin leaving and the others' up
    launched one origin, yet said "1 origin(s) launched" of every nodegroup
    (helper, stop 53). Each says what this attempt launched, and what it
    found there already."""
    torn: list[str] = []

    async def tear_down_one(step: str) -> None:
        _tear_down_origins(host, torn, at_most=1)

    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"recreate": [Recovery.RETRY]}, at_failure=tear_down_one)
        settings = with_timeouts(host, origins_inservice=8)
        outcome = await faulted(host, ["origins-stuck"], front, tmp_path / "run.jsonl",
                                settings)
        assert outcome is Outcome.DONE, front.text()[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    said = [r["text"] for r in records if r.get("kind") == "nodegroup-recreated"]
    groups = seeded_nodegroups()
    assert len(said) == 2 * groups and groups >= 2, said
    retried = said[groups:]
    assert sum("1 origin(s) launched" in text for text in retried) == 1, retried
    assert sum("0 origin(s) launched, 1 already there" in text for text in retried) == \
        groups - 1, retried


async def test_the_operator_stops_a_stuck_wait_and_takes_the_way_back(tmp_path: Path) -> None:
    """Origins that never came into service held the operator in recreate for
    its whole limit (15 minutes by default) with the stream manager down: the
    way back was offered only once the wait gave up, and the one way out
    sooner was to quit the app. Stopping the step ends the wait there, in
    doubt, and its question offers the way back."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = with_timeouts(host, origins_inservice=600)
        session = rehearsal_session(host, journal, settings)
        stopped: list[bool] = []

        class Impatient(Operator):
            def tell(self, event: Event) -> None:
                super().tell(event)
                if isinstance(event, Progress) and event.step_id == "recreate" \
                        and "origins" in event.label and not stopped:
                    stopped.append(session.stop_step("recreate"))

        front = Impatient(recoveries={"recreate": [Recovery.ROLLBACK]})
        switch = faults.FaultSwitch(host, faults.parse(["origins-stuck"], RehearsalHost),
                                    settings)
        groups = len(cloud.list_nodegroups(host.sandbox, *host.old_db))
        await switch.at_start()
        try:
            outcome = await session.run(switch.wrap(front))
        finally:
            await switch.lift_all()
        assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
        assert rolled_back(host, groups)
    assert stopped == [True]
    said = failure(front, "recreate")
    assert "stopped" in said and "gave up" not in said, said
    assert front.recovered == [("recreate", True)], "the way back was offered there"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [r["steps"] for r in records if r["event"] == "aborted"] == [["recreate"]]
    why = [r["why"] for r in records if r["event"] == "way-back"]
    assert why and "recreate was stopped" in why[0], why
    from runbook.report import build
    from runbook.report_md import markdown

    written = markdown(build(journal))
    assert "Stopped" in written and "Aborted" not in written, written


class Sleeper(Step[Facts]):
    """A step whose one command runs a few seconds on the rehearsal host."""

    id = "sleeper"
    title = "Sleep on the host"
    phase = Phase.PREPARE
    summary = "runs one long command"

    def plan(self, p: PlanContext[Facts]) -> list[Action]:
        return [Shell("echo started; sleep 4")]

    async def check(self, ctx: StepContext[Facts]) -> Check:
        return Check(False)

    async def run(self, ctx: StepContext[Facts]) -> None:
        await ctx.sh("echo started; sleep 4", why="a long command", timeout=60)

    async def verify(self, ctx: StepContext[Facts]) -> Check:
        return Check(True, "slept")


async def test_a_retry_after_a_stop_waits_for_the_command_the_stop_did_not_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: the command a stop cut short was not counted as left on the
    host, so a retry in the same run started the step again beside it when
    the stop had not reached the host. The lost stop is staged (a link that
    fails just then cannot be): Remote's stop of a shared shell does nothing."""
    journal = tmp_path / "run.jsonl"

    async def unheard(self: Remote, shell: object, job: str | None) -> None:
        return None

    monkeypatch.setattr(Remote, "_stop_in", unheard)
    async with rehearsal_host(tmp_path) as host:
        session: Session[Facts] = Session(
            rehearsal_settings(host), [Sleeper()], Facts(), token=host.api_token,
            journal_path=journal, state_dir=host.sandbox / ".operator", isolated=True)

        class StopsIt(Operator):
            def tell(self, event: Event) -> None:
                super().tell(event)
                if isinstance(event, Output) and event.line == "started" \
                        and not self.recovered:
                    assert session.stop_step("sleeper")

        front = StopsIt(recoveries={"sleeper": [Recovery.RETRY]})
        outcome = await session.run(front)
    assert outcome is Outcome.DONE, front.text()[-3000:]
    assert front.recovered == [("sleeper", False)]
    said = [line for sid, stream, line in front.lines if sid == "sleeper" and stream == "info"]
    assert any("the earlier attempt's command still runs" in line for line in said), said
    assert any("the earlier attempt has ended" in line for line in said), said
    # The journal tells it as it went: stopped, then tried again in the same
    # run, not aborted with the run left to a later one.
    from runbook.log import log_lines
    from runbook.report import build

    logged = [line for step, line in log_lines(journal) if step == "sleeper"]
    assert "started" in logged, "what it printed before the stop is kept"
    assert any("stopped by the operator" in line for line in logged), logged
    assert not any("until a run checks the host" in line for line in logged), logged
    # What the screen said of the wait is in the journal too (review, stop 39).
    assert any("the earlier attempt has ended" in line for line in logged), logged
    assert any("the earlier attempt's command still runs" in line for line in logged), logged
    remarks = build(journal).remarks
    assert any("stopped sleeper" in r and "question" in r for r in remarks), remarks
    assert not any("aborted" in r for r in remarks), remarks
    from runbook.report_md import markdown

    written = markdown(build(journal))
    assert "was stopped once, then done on retry" in written, written


async def test_an_upload_stopped_part_way_goes_on_from_there_when_tried_again(
        tmp_path: Path) -> None:
    """Operator trial: x during the upload, then t: the copy went on from what
    the host had (1.3 GB of it), and nothing said so."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, dist_size=96 << 20) as host:
        session = rehearsal_session(host, journal)
        stopped: list[bool] = []

        class StopsHalfWay(Operator):
            def tell(self, event: Event) -> None:
                super().tell(event)
                # Early, but past what a retry sends again anyway (the last 8 MiB
                # in flight, upload._IN_FLIGHT): reports come 0.1 s apart, and a
                # stop asked for past half-way of 64 MiB could arrive once the
                # whole file was there (CI, stop 59).
                if isinstance(event, Progress) and event.step_id == "upload" and not stopped \
                        and event.done >= 16 << 20:
                    stopped.append(session.stop_step("upload"))

        front = StopsHalfWay(recoveries={"upload": [Recovery.RETRY]},
                             answers={"unpack": Decision(Answer.STOP)})
        outcome = await session.run(front)
    assert stopped == [True]
    assert front.recovered == [("upload", False)]
    assert front.final_state("upload") == "done", front.text()[-3000:]
    assert outcome is Outcome.STOPPED
    said = [line for sid, stream, line in front.lines if sid == "upload" and stream == "info"]
    assert any("went on from the" in line and "MiB" in line for line in said), said


# --- the registry and the command line ------------------------------------------------


def test_every_step_a_fault_names_is_a_step_of_the_procedure() -> None:
    ids = {step.id for step in [*procedure(), *way_back()]}
    for fault in faults.FAULTS.values():
        assert set(fault.steps) <= ids, fault.name
        assert fault.default is None or fault.default in fault.steps, fault.name
    wanted = {"db-unreachable", "db-auth-fails", "api-error", "token-rejected", "slow-start",
              "start-fails", "disk-full", "host-key-changed", "origins-stuck",
              "permission-denied", "ssh-drop"}
    assert wanted <= set(faults.FAULTS)


@pytest.mark.parametrize(("value", "expect"), [
    ("no-such-fault", "there is no fault 'no-such-fault'"),
    ("api-error", "api-error needs @STEP"),
    ("api-error@unpack", "api-error cannot hit unpack"),
    ("disk-full@nowhere", "disk-full cannot hit nowhere"),
    ("host-key-changed@preflight", "takes no @STEP"),
])
def test_a_fault_that_cannot_be_armed_is_one_line(value: str, expect: str) -> None:
    with pytest.raises(faults.FaultError, match=expect):
        faults.parse([value], RehearsalHost)


def test_a_fault_flag_is_the_owners_alone_and_goes_with_lift_all(tmp_path: Path) -> None:
    armed.arm(tmp_path, "slow-start", step="start-service", delay=8.0)
    flag = armed.folder(tmp_path) / "slow-start"
    assert stat.S_IMODE(flag.stat().st_mode) == 0o600
    assert armed.armed(tmp_path, "slow-start") == {"step": "start-service", "delay": 8.0}
    armed.lift_all(tmp_path)
    assert armed.armed(tmp_path, "slow-start") is None and not list(flag.parent.iterdir())


def test_a_tapped_session_is_the_session_it_taps(tmp_path: Path) -> None:
    """What the run sets on the tapped session (its executor, which a signal
    handler detaches) is set on the session runbook.cli built, and the other way."""
    settings = wiring.plan_settings(None)
    built = wiring.session(settings, token="", journal_path=tmp_path / "run.jsonl",
                           state_dir=tmp_path)
    tapped = faults.FaultSwitch(RehearsalHost(tmp_path / "unused"), [], settings).tapped(built)
    assert tapped.cards == built.cards and tapped.preview() == built.preview()
    tapped.resume = None
    built.rollback_after = "recreate"
    assert vars(tapped).keys() == {"_built", "_switch"} and tapped.rollback_after == "recreate"
    assert not tapped.detach() and not built.detach(), "nothing runs yet"


def test_a_fault_the_host_cannot_bring_about_is_refused() -> None:
    with pytest.raises(faults.FaultError, match="cannot bring about ssh-drop"):
        faults.parse(["ssh-drop@unpack"], object)


def runbook(*args: str, tmp_path: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


def test_list_faults_beside_a_fault_that_does_not_exist_refuses_it(tmp_path: Path) -> None:
    """Review: `--list-faults --fault nosuch` listed and exited 0, as if the
    fault had been accepted."""
    result = runbook("rehearse", "--list-faults", "--fault", "nosuch", tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "there is no fault 'nosuch'" in result.stderr and result.stdout == ""


def test_list_faults_describes_each_and_exits_0(tmp_path: Path) -> None:
    result = runbook("rehearse", "--list-faults", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    for fault in faults.FAULTS.values():
        assert f"{fault.usage()}: " in result.stdout
    assert "api-error@STEP: " in result.stdout and "disk-full[@STEP]: " in result.stdout


def test_a_sandbox_path_with_a_space_is_refused_before_the_host_starts(tmp_path: Path) -> None:
    """Review: under a folder with a space in its name the fake host's service
    never started (its unit names paths unquoted, as systemd reads them), and
    the run went on to fail later with no word of why."""
    sandbox = tmp_path / "on call" / "sandbox"
    result = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                     tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(sandbox) in result.stderr and "space" in result.stderr, result.stderr
    assert not sandbox.exists(), "the host was never set up"


@pytest.mark.parametrize("value", ["no-such-fault", "api-error@unpack", "api-error"])
def test_a_bad_fault_is_exit_2_before_the_host_starts(tmp_path: Path, value: str) -> None:
    sandbox = tmp_path / "sandbox"
    result = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                     "--fault", value, tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"--fault {value}" in result.stderr
    assert not sandbox.exists(), "the host was never set up"


def test_a_rehearsed_fault_ends_in_one_clear_message(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    result = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                     "--fault", "token-rejected", tmp_path=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "refused the API token (HTTP 401)" in result.stdout
    # Recorded, with its path: its cutover times stand for no clean run's.
    from runbook.journal import first_record
    from runbook.rehearsal import scenarios

    opening = first_record(next((sandbox / ".operator" / "runs").glob("*.jsonl")))
    assert opening is not None
    assert (opening.get("faults"), opening.get("scenario")) == (["token-rejected@preflight"],
                                                                scenarios.DEFAULT), opening
    last = result.stdout.rstrip().splitlines()[-2:]
    assert any(f"runbook rehearse --resume --sandbox {sandbox}" in line for line in last), last
    leftovers = subprocess.run(["pgrep", "-f", str(sandbox)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
    assert not list(armed.folder(sandbox).glob("*")), "no fault outlives the rehearsal"


def test_a_rehearsal_stopped_mid_cutover_names_the_way_back_and_it_works(
        tmp_path: Path) -> None:
    """Operator trial (stop 23, item 5): a rehearsal stopped with the stream
    manager down named only the command that goes on; its hints for the way
    back named `runbook rollback CONFIG`, which a rehearsal has no config for.
    The command it names must take the way back from where the run stands."""
    sandbox = tmp_path / "sandbox"
    stopped = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                      "--fault", "api-error@recreate", tmp_path=tmp_path)
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr
    last = stopped.stdout.rstrip().splitlines()
    back = [line for line in last if line.startswith("runbook: to go back")]
    assert back == ["runbook: to go back to the old stream manager instead: runbook rehearse "
                    f"--resume --sandbox {sandbox} --headless --rollback-after start-service"], \
        last[-4:]
    command = back[0].split(": ", 2)[2].split()
    went_back = runbook(*command[1:], "--yes", tmp_path=tmp_path)
    assert went_back.returncode == 4, went_back.stdout[-3000:] + went_back.stderr
    assert "rolled back: the old stream manager serves again" in went_back.stdout
    # start-service had been done: the drill turns back at once, with no step
    # before it asked again (stop 39).
    assert "the earlier run had done this step, so the way back begins now" \
        in went_back.stdout, went_back.stdout[-3000:]
    assert "[preflight]" not in went_back.stdout.split("THE WAY BACK")[0], went_back.stdout
    leftovers = subprocess.run(["pgrep", "-f", str(sandbox)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


def test_a_drill_resumed_without_its_rollback_after_still_goes_back(tmp_path: Path) -> None:
    """Re-trial (stop 52): `rehearse --rollback-after recreate`, killed, then
    `--resume`: the drill's way back was forgotten without a word, and the
    run ended upgraded (exit 0), a drill that practised nothing. The journal
    keeps the drill's step; a resume goes on with it, and says so."""
    sandbox = tmp_path / "sandbox"
    stopped = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                      "--rollback-after", "recreate", "--fault", "start-fails",
                      tmp_path=tmp_path)
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr
    resumed = runbook("rehearse", "--resume", "--sandbox", str(sandbox), "--headless", "--yes",
                      tmp_path=tmp_path)
    assert resumed.returncode == 4, resumed.stdout[-3000:] + resumed.stderr
    assert "rolled back: the old stream manager serves again" in resumed.stdout
    said = resumed.stdout + resumed.stderr
    assert "--rollback-after recreate" in said.split("[preflight]")[0], said[:3000]
    leftovers = subprocess.run(["pgrep", "-f", str(sandbox)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


def test_a_service_that_failed_to_start_is_still_down_when_the_rehearsal_resumes(
        tmp_path: Path) -> None:
    """Operator trial (stop 23, item 6): after `--fault start-fails` and a
    stop, the resumed rehearsal's host booted its enabled unit afresh, and
    start-service found the new release "already done". On a real host
    nothing starts it until the operator does: the step must run again."""
    sandbox = tmp_path / "sandbox"
    stopped = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                      "--fault", "start-fails", tmp_path=tmp_path)
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr
    assert "[start-service]" in stopped.stdout
    resumed = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox), "--resume",
                      tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert "stays down, as on a real host" in resumed.stdout
    step = resumed.stdout.split("\n[start-service] ", 1)[1].split("\n[", 1)[0]
    assert "> $ sudo -n systemctl start red5pro" in step, step  # it ran again
    assert "already" not in step, step
    leftovers = subprocess.run(["pgrep", "-f", str(sandbox)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


def test_an_api_error_before_the_first_delete_ends_with_the_live_one_serving(
        tmp_path: Path) -> None:
    """The rehearsal's last lines say what serves: with no change made, the live
    stream manager, and no way back to take (it said the stream manager was
    down, and named one)."""
    sandbox = tmp_path / "sandbox"
    stopped = runbook("rehearse", "--headless", "--yes", "--sandbox", str(sandbox),
                      "--fault", "api-error@delete-nodegroups", tmp_path=tmp_path)
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr
    said = stopped.stdout + stopped.stderr
    assert "the live stream manager serves as before" in said, said[-3000:]
    assert "to go back" not in said and "is down" not in said, said[-3000:]
    assert "--resume --sandbox" in said, said[-3000:]


def test_with_no_cutover_step_finished_the_way_back_says_it_runs_the_first_again() -> None:
    """Review: stopped in the first cutover step once it had changed the host
    (a DELETE sent), the way back named `--rollback-after delete-nodegroups`,
    which runs that step again before it goes back; `runbook rollback` would not."""
    from runbook.journal_replay import Replay, StepHistory
    from runbook.model import StepState

    history = Replay(cutover_started="2026-12-03T12:55:31+00:00",
                     steps={"delete-nodegroups": StepHistory(state=StepState.FAILED)})
    back = lifecycle.practised_way_back(history, "runbook rehearse --resume")
    assert back is not None and back.command.endswith("--rollback-after delete-nodegroups")
    assert "runs delete-nodegroups again" in back.note, back


def test_a_rehearsal_given_a_journal_names_it_in_the_commands_that_go_on(
        tmp_path: Path) -> None:
    """Operator trial: started with `--journal rel.jsonl`, a rehearsal ended
    naming `runbook rehearse --resume --sandbox S`, which looks in the
    sandbox's runs and finds no run to resume (exit 2); so did its way back."""
    sandbox = tmp_path / "sandbox"
    (tmp_path / "ops").mkdir()
    stopped = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes", "--sandbox",
         str(sandbox), "--journal", "rel.jsonl", "--fault", "api-error@recreate"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path / "ops",
        env={**{k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"},
             "XDG_STATE_HOME": str(tmp_path / "state"),
             "PYTHONPATH": str(ROOT)})
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr
    journal = tmp_path / "ops" / "rel.jsonl"
    lines = stopped.stdout.splitlines()
    go_on = next(line for line in lines if line.startswith("runbook: to go on: "))
    back = next(line for line in lines if line.startswith("runbook: to go back"))
    assert f"--journal {journal}" in go_on and f"--journal {journal}" in back, (go_on, back)
    assert go_on.endswith(" --headless"), go_on  # as it was started
    resumed = runbook(*go_on.split(": ", 2)[2].split()[1:], "--yes", tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr


async def test_start_service_says_what_the_api_answers_while_it_waits(tmp_path: Path) -> None:
    """Operator trial: start-service showed a countdown alone, restarted the
    service, waited again, and said nothing of what the API answered. Each
    answer is said once as it waits. A webapp that cannot log in to its
    database serves no API, as one still loading (facts audit 56a: no source
    has the API telling why), so the cause is told from red5.log's tail, in
    the failure itself."""
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"start-service": [Recovery.STOP]})
        settings = with_timeouts(host, service_start=3)
        outcome = await faulted(host, ["db-auth-fails@start-service"], front,
                                tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    lines = [line for step, _, line in front.lines if step == "start-service"]
    told = [n for n, line in enumerate(lines) if "serves no Stream Manager API" in line]
    restarted = [n for n, line in enumerate(lines) if "has not answered in" in line]
    assert told and restarted and told[0] < restarted[0], "\n".join(lines)
    assert sum("serves no Stream Manager API" in line for line in lines[:restarted[0]]) == 1, \
        "said once, not at every look"
    said = failure(front, "start-service")
    assert "log/red5.log ends with:" in said and "cannot log in to the database" in said, said


def test_a_rehearsal_resumed_without_its_fault_stages_the_one_that_never_came_up(
        tmp_path: Path) -> None:
    """Trial 56 F1: begun with `--fault api-error@recreate`, stopped at preflight
    and resumed without --fault, the rehearsal dropped the fault without a word
    (recreate passed), yet the report said "api-error@recreate: failed on
    purpose". The report tells a fault staged that never came up from one that
    failed on purpose, and a resume stages the faults that never came up, as it
    goes on with a drill's --rollback-after, and says so."""
    from runbook import report as report_mod
    from runbook.report_md import markdown

    sandbox = tmp_path / "sandbox"
    env = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    stopped = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--sandbox",
         str(sandbox), "--fault", "api-error@recreate"], input="q\n", capture_output=True,
        text=True, timeout=180, cwd=ROOT, env=env)
    assert stopped.returncode == 3, stopped.stdout[-3000:] + stopped.stderr
    assert "faults that never came up (their step did not run): api-error@recreate" \
        in stopped.stdout, stopped.stdout[-2000:]
    journal = next((sandbox / ".operator" / "runs").glob("*.jsonl"))
    staged = markdown(report_mod.build(journal))
    line = next(row for row in staged.splitlines() if row.startswith("| Faults staged"))
    assert "failed on purpose" not in line and "never came up" in line, line
    go_on = next(row for row in stopped.stdout.splitlines()
                 if row.startswith("runbook: to go on: "))
    resumed = runbook(*go_on.split(": ", 2)[2].split()[1:], "--yes", tmp_path=tmp_path)
    said = resumed.stdout + resumed.stderr
    head = said.split("[preflight]")[0]
    assert "api-error@recreate" in head, head
    # The fault came up this time: recreate failed on purpose.
    assert resumed.returncode == 1, said[-3000:]
    assert "[recreate]" in said and "faults that never came up" not in said, said[-3000:]
    line = next(row for row in markdown(report_mod.build(journal))
                .splitlines() if row.startswith("| Faults staged"))
    assert "api-error@recreate: failed on purpose" in line and "never came up" not in line, line
    leftovers = subprocess.run(["pgrep", "-f", str(sandbox)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


@pytest.mark.parametrize(("words", "key"), [((), "s"), ((), "c"), (("--resume",), "s")],
                         ids=["new-run", "continue", "resume-then-new-run"])
def test_the_resume_dialog_says_which_faults_continuing_stages_and_the_end_agrees(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        words: tuple[str, ...], key: str) -> None:
    """Review 56c F4: a rehearsal stopped before its fault's step, taken up in
    the TUI. Continued from the resume dialog, it staged the fault again
    without a word of it before the choice; a new run chosen there staged
    none, yet the rehearsal ended "faults that never came up ...; --resume
    stages it again" (and, after --resume, its opening note said so too)."""
    from textual.pilot import Pilot

    from runbook import cli
    from screens.app import RunbookApp
    from screens.dialogs import ResumeDialog
    from tests.polling import until
    from tests.test_tui_pilot import hold_the_run, text_of
    from tests.test_tui_starting import drive

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("SM_API_TOKEN", raising=False)
    sandbox = tmp_path / "sandbox"
    stopped = runbook("rehearse", "--headless", "--sandbox", str(sandbox), "--fault",
                      "api-error@recreate", tmp_path=tmp_path)
    assert stopped.returncode == 3, stopped.stdout[-3000:] + stopped.stderr
    seen: dict[str, Any] = {}

    async def answer(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, RunbookApp)
        await until(lambda: app.opened and isinstance(app.screen, ResumeDialog),
                    timeout=60, what="the resume dialog")
        await until(lambda: app.screen.query("#resume-continue"), what="its buttons")
        seen["dialog"] = text_of(app.screen)
        starts = hold_the_run(app)
        await pilot.press(key)
        await until(lambda: starts, what="the run to start")
        app.exit()

    drive(monkeypatch, answer)
    capsys.readouterr()
    code = cli.main(["rehearse", "--sandbox", str(sandbox), *words])
    out = capsys.readouterr().out
    assert code == Outcome.STOPPED.exit_code, out
    go_on = next(line for line in seen["dialog"].splitlines() if "api-error" in line)
    assert "stages again" in go_on and "--fault api-error@recreate" in go_on, seen["dialog"]
    if key == "s":
        assert "api-error" not in out, out
    else:
        assert "faults that never came up (their step did not run): api-error@recreate; " \
            "--resume stages it again" in out, out
    leftovers = subprocess.run(["pgrep", "-f", str(sandbox)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


async def test_the_way_back_stopped_after_setting_the_new_release_aside_says_where_the_old_waits(
        tmp_path: Path) -> None:
    """Trial 58, L3 (rehearse --rollback-after start-service --fault
    permission-denied@rollback-restore): the way back set the new release
    aside and stopped; the host had no red5pro, and the exit line named the
    new release's folder alone, not where the old install waits."""
    from runbook.standing import service_state

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = Operator(recoveries={"start-service": [Recovery.ROLLBACK],
                                     "rollback-restore": [Recovery.STOP]})
        outcome = await faulted(host, ["start-fails@start-service",
                                       "permission-denied@rollback-restore"], front, journal)
        assert outcome is Outcome.FAILED, front.text()[-3000:]
    old = [path for path in host.sandbox.rglob("bak.red5pro") if path.is_dir()]
    assert len(old) == 1 and not old[0].with_name("red5pro").exists(), old
    assert list(old[0].parent.glob("red5pro.failed-*")), "the new release set aside"
    standing = service_state(replay(journal))
    assert "the last rollback-set-aside: the new release is set aside as" in standing, standing
    assert f"there is no {old[0].with_name('red5pro')} until the old install, {old[0]}, " \
           "is moved back" in standing, standing
