"""The way back, from every point of the cutover: each test rehearses the
upgrade to a point, takes the way back, and then looks at the host itself (the
process that serves, its folder, its unit, its database, the fleet in the old
database) rather than at what the runbook says about it.

The rehearsal host is real (SSH, bash, systemctl shim, the service process,
the fake cloud, MariaDB where installed); the front end is a scripted one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import javaproperties
import pytest

from runbook.cli import lifecycle, wiring
from runbook.config import Settings
from runbook.earlier_runs import unfinished
from runbook.events import Output, StepChanged
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.hoststate import HostState
from runbook.journal import read
from runbook.journal_replay import Replay, replay
from runbook.model import Phase, StepReport, StepState
from runbook.rehearsal import armed, cloud, databases, sandbox, scenarios
from runbook.rehearsal.host import RehearsalHost
from runbook.rehearsal.sandbox import processes_mentioning
from runbook.session import Session
from runbook.smapi import StreamManagerAPI
from steps import procedure, way_back
from steps.rollback import SWEEP, DeleteNewNodegroups, RecreateOld
from tests.rehearsal import rehearsal_host, rehearsal_settings
from tests.scripted import ScriptedFrontEnd
from tests.test_plan_is_what_runs import unplanned
from tests.test_rehearsal_databases import KINDS, live_account

ROOT = Path(__file__).parents[1]
PROPS = "webapps/streammanager/WEB-INF/red5-web.properties"
CUTOVER = [step.id for step in procedure() if step.phase is Phase.CUTOVER]
BACK = [step.id for step in way_back()]
# From this step on the new tree has been live as red5pro: the way back sets
# it aside as red5pro.failed-TIMESTAMP. Before it, the unpacked folder stays
# where unpack put it, ready for the next attempt.
PROMOTED_BY = CUTOVER.index("promote-new")
# The way back's step that deletes the nodegroups the new release made.
NEW_GROUPS = "rollback-nodegroups"


def session(host: RehearsalHost, journal: Path, *, settings: Settings | None = None,
            rollback_after: str | None = None, resume: Replay | None = None,
            only_back: bool = False) -> Session[Any]:
    """The session `runbook rehearse` (or, only_back, `runbook rollback`) opens."""
    return wiring.session(settings or rehearsal_settings(host), token=host.api_token,
                          journal_path=journal, state_dir=host.sandbox / ".operator",
                          isolated=True, resume=resume, rollback_after=rollback_after,
                          only_back=only_back)


def host_state(host: RehearsalHost, folder: Path | None = None) -> HostState:
    """The host's record in `folder` (a rehearsal keeps it in the sandbox)."""
    settings = rehearsal_settings(host)
    return HostState(folder or host.sandbox / ".operator", settings.host.address,
                     settings.host.port)


Shape = tuple[tuple[str, ...], str, str]


@dataclass
class Before:
    """The old stream manager as the host had it before the upgrade began."""

    tree: tuple[int, int]  # device, inode of /usr/local/red5pro
    unit: bytes
    db_host: str
    api: str


@dataclass
class After:
    outcome: Outcome
    serving_cwd: tuple[int, int] | None
    unit: bytes
    loaded_unit: bytes | None  # what systemd loaded at the last daemon-reload
    unit_style: str | None  # how the systemctl shim started the service
    db_host: str | None
    api: str | None
    # (regions, launch config, scale policy) -> origins in service, old database
    fleet: dict[Shape, int] = field(default_factory=dict)
    snapshot: dict[Shape, int] = field(default_factory=dict)
    failed_trees: list[Path] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    cutover_open: bool = True


def _ident(path: Path) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


def _live_db_host(host: RehearsalHost) -> str | None:
    path = host.install_dir / "red5pro" / PROPS
    if not path.is_file():
        return None
    return str(javaproperties.loads(path.read_text()).get("config.dbHost"))


def before(host: RehearsalHost) -> Before:
    return Before(_ident(host.install_dir / "red5pro"),
                  (host.sandbox / "lib/systemd/system/red5pro.service").read_bytes(),
                  _live_db_host(host) or "", host.scenario.old.api)


def _shape(group: dict[str, Any]) -> Shape:
    return (tuple(sorted(group.get("regions", []))), str(group.get("launchConfig")),
            str(group.get("scalePolicy")))


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


async def after(host: RehearsalHost, outcome: Outcome, state_dir: Path | None = None) -> After:
    """The host as it is now, looked at from outside the runbook."""
    pid = host.service_pid()
    run = host.sandbox / "run"
    seen = After(
        outcome,
        _ident(Path(f"/proc/{pid}/cwd")) if pid else None,
        (host.sandbox / "lib/systemd/system/red5pro.service").read_bytes(),
        (run / "red5pro.unit").read_bytes() if (run / "red5pro.unit").is_file() else None,
        _environ(pid).get("RUNBOOK_UNIT_STYLE") if pid else None,
        _live_db_host(host),
        None,
    )
    api = StreamManagerAPI(host.api_base_url, host.api_token)
    try:
        seen.api = await api.detect_version()
        for group in await api.list_nodegroups():
            nodes = await api.list_nodes(group["name"])
            seen.fleet[_shape(group)] = sum(1 for n in nodes if n.get("role") == "origin"
                                            and n.get("state") == "inservice")
    except Exception as exc:  # the assertions say what is missing
        seen.api = seen.api or f"no answer: {exc}"
    finally:
        await api.aclose()
    state = host_state(host, state_dir)
    taken = state.snapshots()
    if taken:
        for group in taken[-1].nodegroups:
            seen.snapshot[_shape(group)] = max(1, sum(
                1 for n in group.get("nodes", []) if n.get("role") == "origin"))
    seen.cutover_open = state.cutover() is not None
    seen.failed_trees = sorted(host.install_dir.glob("red5pro.failed-*"))
    seen.leftovers = sorted(host.install_dir.glob("bak.red5pro*"))
    return seen


def problems(old: Before, now: After, host: RehearsalHost, *, promoted: bool) -> list[str]:
    """What is not as a rollback must leave it; empty when all is right."""
    found = []
    if now.outcome is not Outcome.ROLLED_BACK:
        found.append(f"the run ended {now.outcome.value}, not rolled back")
    if now.serving_cwd != old.tree:
        found.append("the serving process does not run from the old install "
                     f"({now.serving_cwd} != {old.tree})")
    live = host.install_dir / "red5pro"
    if not live.is_dir() or _ident(live) != old.tree:
        found.append("red5pro is not the old install")
    if now.api != old.api:
        found.append(f"the API speaks {now.api}, the old release {old.api}")
    if now.unit != old.unit:
        found.append("the unit file is not the old one, byte for byte")
    if now.loaded_unit is not None and now.loaded_unit != old.unit:
        found.append("systemd has another unit loaded than the old one")
    # Every release's unit runs jsvc (FACTS §3, FACTS-scenarios §1).
    if now.unit_style != "jsvc":
        found.append(f"the service was started as {now.unit_style}, the old unit by jsvc")
    if now.db_host != old.db_host:
        found.append(f"config.dbHost is {now.db_host}, the old database is {old.db_host}")
    if not now.snapshot:
        found.append("no snapshot to compare with")
    for shape, origins in now.snapshot.items():
        if now.fleet.get(shape, 0) < origins:
            found.append(f"nodegroup {shape} has {now.fleet.get(shape, 0)} origin(s) in "
                         f"service, the snapshot {origins}")
    if set(now.fleet) - set(now.snapshot):
        found.append(f"nodegroups not in the snapshot: {set(now.fleet) - set(now.snapshot)}")
    if now.leftovers:
        found.append(f"left over: {[p.name for p in now.leftovers]}")
    new_top = host.scenario.new.top
    if promoted:
        if len(now.failed_trees) != 1 or not (now.failed_trees[0] / new_top).is_symlink():
            found.append(f"the new tree is not set aside once: {now.failed_trees}")
    else:
        if now.failed_trees:
            found.append(f"a tree was set aside that never went live: {now.failed_trees}")
        if not (host.install_dir / new_top / new_top).is_symlink():
            found.append("the unpacked new release is gone")
    if now.cutover_open:
        found.append("the host still records a cutover under way")
    return found


def journal_says(journal: Path) -> dict[str, str]:
    """Each step's last recorded state."""
    states: dict[str, str] = {}
    for line in journal.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "step-end":
            states[record["step"]] = record["state"]
    return states


@pytest.mark.parametrize("step", CUTOVER)
async def test_the_way_back_after_each_cutover_step(tmp_path: Path, step: str) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, rollback_after=step).run(front)
        now = await after(host, outcome)
        promoted = CUTOVER.index(step) >= PROMOTED_BY
        wrong = problems(old, now, host, promoted=promoted)
    assert processes_mentioning(host.sandbox) == []
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    states = journal_says(journal)
    assert all(states.get(s) == "done" for s in BACK), states
    assert front.recovered == []
    # What ran on the way back is what each of its steps showed and had confirmed.
    assert unplanned(journal, front.plans) == []
    # Rolled back is an end: the next run starts afresh, it is not offered
    # this one to resume.
    assert unfinished(journal.parent) is None
    # The operator is told where the new tree went, for the look later.
    aside = front.detail("rollback-set-aside")
    if promoted:
        assert str(now.failed_trees[0]) in aside, aside
    else:
        assert "never went live" in aside, aside


async def test_the_way_back_after_a_run_resumed_with_the_new_release_serving(
        tmp_path: Path) -> None:
    """Operator trial: stopped at recreate (the new release serving), the run
    resumed; its preflight found the new release's API answering and
    recorded its version as the live one's. The way back then waited for an
    old release speaking the new API, and failed at rollback-start with the
    old release serving, again on every try."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        stopped = await session(host, journal).run(
            ScriptedFrontEnd({"recreate": Decision(Answer.STOP)}))
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                rollback_after="start-service").run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert stopped is Outcome.STOPPED
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    assert replay(journal).facts["api_version"] == old.api


async def test_the_exit_line_says_the_old_release_runs_when_rollback_start_failed_leaving_it(
        tmp_path: Path) -> None:
    """Trial 61, F1: rollback-start started the old release, which then
    refused the token (or answered HTTP 500), and failed: the exit line said only "the last
    rollback-unit", as if the old service had not been started yet, where
    start-service's failure says the new release's service runs."""
    from runbook.rehearsal import faults
    from runbook.standing import service_state

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        requested = faults.parse(["token-rejected@rollback-start"], RehearsalHost)
        settings = dataclasses.replace(settings, rehearsal_faults=tuple(map(str, requested)))
        switch = faults.FaultSwitch(host, requested, settings)
        await switch.at_start()
        front = ScriptedFrontEnd()
        try:
            outcome = await session(host, journal, settings=settings,
                                    rollback_after="start-service").run(switch.wrap(front))
        finally:
            await switch.lift_all()
        stands = service_state(replay(journal))
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    assert front.final_state("rollback-start") == "failed", front.text()[-3000:]
    assert "the old release's service runs: rollback-start failed and left it running" \
        in stands, stands


async def test_the_summary_of_a_resumed_way_back_says_which_steps_the_earlier_run_did(
        tmp_path: Path) -> None:
    """Trial 61, F5: `runbook rollback` run again after a kill on the way
    back: its step lines said "done in the earlier run", and the summary
    "rollback-set-aside  done", where upgrade steps done earlier read "done
    in the earlier run": the summary did not tell what this session did."""
    import io

    from runbook.headless import HeadlessFrontEnd

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"rollback-restore": Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="start-service").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        shown = io.StringIO()
        earlier = replay(journal)
        again = session(host, journal, resume=earlier, only_back=True)
        front = HeadlessFrontEnd(again.cards, assume_yes=True, out=shown,
                                 stdin=io.StringIO(""), earlier=earlier, journal=journal)
        outcome = await again.run(front)
    assert outcome is Outcome.ROLLED_BACK, shown.getvalue()[-3000:]
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in summary if line.startswith("  ")}
    # Those that look again when resumed say what this session found.
    assert rows["rollback-set-aside"] == "done in the earlier run", rows
    assert rows["rollback-restore"] == "done", rows


async def test_the_way_back_chosen_at_a_cutover_steps_confirmation(tmp_path: Path) -> None:
    """Nothing failed, but the operator will not go on (the window is running
    out, say): with the stream manager down, the answer to the step the
    runbook waits on can be the way back. That step does not run; the way
    back's own steps run, each confirmed, and the old stream manager serves."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        front = ScriptedFrontEnd({"stop-service": Decision(Answer.ROLLBACK)})
        outcome = await session(host, journal).run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not [r for r in records if r["event"] == "step-start" and r["step"] == "stop-service"]
    assert {"event": "confirm", "step": "stop-service", "answer": "rollback"}.items() <= next(
        r for r in records if r["event"] == "confirm" and r["step"] == "stop-service").items()
    assert [s for s in front.asked if s in BACK] == [s for s in BACK if s in front.asked] != []
    # Operator trial: the report of a way back said "rolled back" and not why.
    from runbook.report import build
    from runbook.report_md import markdown

    why = [r.get("why", "") for r in records if r["event"] == "way-back"]
    assert len(why) == 1 and "stop-service" in why[0] and "chose" in why[0], why
    assert f"| Way back | {why[0]} |" in markdown(build(journal))
    # What the engine said on screen is in `runbook log` too (operator trial:
    # "rolling back after this step, as asked" was the TUI's alone).
    from runbook.log import log_lines

    assert ("stop-service", "not run: the operator chose the way back to the old stream "
            "manager instead") in log_lines(journal)


async def test_the_way_back_chosen_at_a_resumed_runs_first_question_says_where_the_cutover_stood(
        tmp_path: Path) -> None:
    """Trial 61, F6: stopped at stop-service's turn, resumed, and r at the
    first question (preflight, looked at again): the report's Way back row
    said "the operator chose it when the runbook asked to run preflight next,
    which was done in the earlier run, and was not run again", nothing of
    where the cutover stood. It names that: after promote-new, before
    stop-service, chosen on resuming."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"stop-service": Decision(Answer.STOP)})
        outcome = await session(host, journal).run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        front = ScriptedFrontEnd({"preflight": Decision(Answer.ROLLBACK)})
        outcome = await session(host, journal, resume=replay(journal)).run(front)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    why = [r.get("why", "") for r in read(journal) if r["event"] == "way-back"]
    assert len(why) == 1, why
    assert "on resuming" in why[0] and "after promote-new" in why[0] \
        and "before stop-service" in why[0], why
    assert "asked to run preflight next" not in why[0], why


async def test_no_way_back_is_taken_at_a_confirmation_before_the_cutover_began(
        tmp_path: Path) -> None:
    """At delete-nodegroups nothing of the live stream manager has changed yet:
    a way back answered there is refused with a line, and the question stands."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
        front = ScriptedFrontEnd({"delete-nodegroups": [Decision(Answer.ROLLBACK),
                                                        Decision(Answer.STOP)]})
        outcome = await session(host, journal).run(front)
        still = cloud.list_nodegroups(host.sandbox, *host.old_db)
    assert outcome is Outcome.STOPPED
    assert front.asked.count("delete-nodegroups") == 2
    assert [s for s in front.asked if s in BACK] == []
    said = " ".join(line for step, _stream, line in front.lines if step == "delete-nodegroups")
    assert "nothing to go back from" in said, said
    assert still == groups


async def test_the_new_database_gone_mid_cutover_leaves_the_way_back_open(
        tmp_path: Path) -> None:
    """Operator trial (stop 26): stopped at start-service, the new database then
    down, and resumed to take the way back. new-database, looking again, failed
    with "nothing on the host has changed and the live stream manager still
    serves" while the stream manager was down mid-cutover, and offered no way
    back: a down new database is when the operator most needs it. (Resumed
    with --rollback-after service-unit, a drill now turns back at once, with
    no look at new-database: tests/test_executor.py.)"""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        stopped = await session(host, journal).run(
            ScriptedFrontEnd({"start-service": Decision(Answer.STOP)}))
        await host.databases.new.stop()
        front = ScriptedFrontEnd(recoveries={"new-database": [Recovery.ROLLBACK]})
        outcome = await session(host, journal, resume=replay(journal)).run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert stopped is Outcome.STOPPED
    said = [d for sid, state, d in front.states if sid == "new-database" and state == "failed"]
    assert said and "cannot be reached" in said[0], front.text()[-3000:]
    assert "still serves" not in said[0] and "down" in said[0], said[0]
    assert front.recovered[0] == ("new-database", True), front.recovered
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


class MovesAside(ScriptedFrontEnd):
    """An operator who, told a step failed, moves a file out of the way (as the
    message asks) before trying again."""

    def __init__(self, move: tuple[Path, Path], **options: Any) -> None:
        super().__init__(**options)
        self.move = move

    async def recover(self, step: Any, *, can_roll_back: bool) -> Recovery:
        if self.move[0].exists():
            self.move[0].rename(self.move[1])
        return await super().recover(step, can_roll_back=can_roll_back)


@pytest.mark.parametrize("locked", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(
        os.geteuid() != 0, reason="a plain SSH user is modelled from root"))])
async def test_the_way_back_puts_back_the_unit_this_upgrade_replaced(
        tmp_path: Path, locked: bool) -> None:
    """10.9 to 11.1 on a host that came to 10.9 by this same procedure: its
    red5pro.service.bak is the 6.2 unit (Java 8, jsvc) that upgrade replaced.
    The way back must give 10.9 its own unit, never that older one. `locked`:
    in a folder the SSH user cannot enter, where preflight's own `test` did
    not see the old backup (code review), and service-unit keeps a backup
    that is there."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, scenario="10.9-to-11.1", plain_user=locked) as host:
        unit = host.sandbox / "lib/systemd/system/red5pro.service"
        stale = unit.with_name("red5pro.service.bak")
        stale.write_text(sandbox.unit_text(scenarios.R6_2, host.sandbox))
        if locked:
            unit.parent.chmod(0o700)
            os.chown(unit.parent, 65534, 65534)  # nobody's
        old = before(host)
        front = MovesAside((stale, tmp_path / "red5pro.service.6.2"),
                           recoveries={"preflight": [Recovery.RETRY]})
        outcome = await session(host, journal, rollback_after="start-service").run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    refused = [d for sid, state, d in front.states if sid == "preflight" and state == "failed"]
    assert refused and f"{stale} already exists and is not the installed unit" in refused[0]
    assert front.recovered[0] == ("preflight", False), "nothing to roll back before cutover"
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


async def test_a_unit_the_ssh_user_cannot_read_is_still_put_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit kept 0600 (secrets in its Environment=) cannot be hashed by the
    SSH user: both hashes came back None, None == None read as "the old unit
    is in place", and the old release was started under the new unit (code
    review, stop 48). The unit is read as root, and a hash it cannot have is
    no proof. (Tests run as root here, which reads any file: the SSH user's
    unreadable hash is stood in for.)"""
    from steps import rollback

    hash_as_root = rollback.sha256_remote

    async def unreadable(ctx: Any, path: str, *, as_root: bool = False) -> str | None:
        return await hash_as_root(ctx, path, as_root=True) if as_root else None

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        # Only the way back's look at the unit is blind.
        monkeypatch.setattr(rollback, "sha256_remote", unreadable)
        outcome = await session(host, journal, rollback_after="start-service").run(
            ScriptedFrontEnd())
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert not wrong, "\n".join(wrong)


class DropsDuring(ScriptedFrontEnd):
    """Cuts the SSH connection during the first command of `step` (the host
    runs it; its exit status never comes back)."""

    def __init__(self, host: RehearsalHost, step: str, **options: Any) -> None:
        super().__init__(**options)
        self.host = host
        self.step = step

    async def confirm(self, step: Any, plan: list[Any]) -> Any:
        if step.id == self.step:
            self.host.arm_ssh_drop(step.id)
        return await super().confirm(step, plan)


async def test_the_connection_lost_on_the_way_back(tmp_path: Path) -> None:
    """The connection drops while rollback-set-aside's mv runs: the mv
    happened, the runbook never heard. The way back must see that on the host
    and go on, setting the new tree aside once, not twice."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        # Should the drop leave the step in doubt, trying again is the answer:
        # its check looks at the host first.
        front = DropsDuring(host, "rollback-set-aside",
                            recoveries={"rollback-set-aside": [Recovery.RETRY]})
        outcome = await session(host, journal, rollback_after="promote-new").run(front)
        drops = host.ssh_drops
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert drops == 1
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


class CrashesWhileDeleting(ScriptedFrontEnd):
    """The old stream manager dies (kill -9) as the runbook is about to delete
    the second nodegroup: one is gone, the other is left."""

    def __init__(self, host: RehearsalHost, **options: Any) -> None:
        super().__init__(**options)
        self.host = host
        self.deletes = 0

    def tell(self, event: Any) -> None:
        super().tell(event)
        if isinstance(event, Output) and event.step_id == "delete-nodegroups" \
                and event.stream == "cmd" and "DELETE" in event.line:
            self.deletes += 1
            pid = self.host.service_pid()
            if self.deletes == 2 and pid is not None:
                os.kill(pid, signal.SIGKILL)


async def test_a_nodegroup_being_deleted_does_not_stand_for_its_rebuild(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A DELETE answers at once and the group stays listed, "terminating",
    until the cloud has taken its nodes down. The way back after a half-done
    delete-nodegroups took such a group for the saved one, kept it, and then
    waited for its origins, which were going away, until its limit."""
    import steps.cutover as cutover

    saved = {"nodegroups": [{"name": "g1", "regions": ["us-east-1"], "launchConfig": "lc",
                             "scalePolicy": "sp"}], "launchconfigs": {}, "scalepolicies": {}}
    monkeypatch.setattr(cutover, "load_snapshot", lambda _ctx: saved)

    class Api:
        def __init__(self, state: str) -> None:
            self.state = state

        async def list_nodegroups(self) -> list[dict[str, Any]]:
            return [{"name": "g1", "regions": ["us-east-1"], "launchConfig": "lc",
                     "scalePolicy": "sp", "state": self.state}]

    recreate = RecreateOld()
    assert await recreate._matches(object(), Api("active")) == {  # type: ignore[arg-type]
        "g1": (await Api("active").list_nodegroups())[0]}
    assert await recreate._matches(object(), Api("terminating")) == {}  # type: ignore[arg-type]


async def test_the_way_back_after_delete_nodegroups_failed_half_way(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        survivor = cloud.list_nodegroups(host.sandbox, *host.old_db)[1]
        front = CrashesWhileDeleting(host, recoveries={"delete-nodegroups": [Recovery.ROLLBACK]})
        outcome = await session(host, journal).run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=False)
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
    assert processes_mentioning(host.sandbox) == []
    assert front.recovered == [("delete-nodegroups", True)]
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    assert survivor["name"] in [g["name"] for g in groups], \
        "the nodegroup that was never deleted is kept, not rebuilt beside itself"
    rebuilt = [r for r in map(json.loads, journal.read_text().splitlines())
               if r.get("kind") == "nodegroup-recreated" and r["old"] != r["new"]]
    assert len(rebuilt) == 1, rebuilt


async def test_the_way_back_after_the_new_release_would_not_start(tmp_path: Path) -> None:
    """The new release exits as it starts (its LICENSE.KEY is missing): the
    operator takes the way back from the failed start-service."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        license_key = host.install_dir / "red5pro" / "LICENSE.KEY"

        def lose_the_key(step: Any, plan: list[Any]) -> None:
            if step.id == "start-service":
                license_key.unlink()

        front = ScriptedFrontEnd(on_confirm=lose_the_key,
                                 recoveries={"start-service": [Recovery.ROLLBACK]})
        outcome = await session(host, journal).run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
        kept_aside = now.failed_trees[0] if now.failed_trees else None
    assert processes_mentioning(host.sandbox) == []
    assert front.recovered == [("start-service", True)]
    assert "No license key" in [d for sid, _s, d in front.states if sid == "start-service"][-1]
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    assert kept_aside is not None and not (kept_aside / "LICENSE.KEY").exists(), \
        "the failed tree is kept as it failed, for a look"


async def test_a_run_killed_as_the_way_back_begins_goes_on_back_when_resumed(
        tmp_path: Path) -> None:
    """Review: the way back counted as begun only once a record named one of
    its steps. Killed after `r` and before the first of them was recorded
    (its check can wait minutes on a reconnect), the resumed run went
    forward again: it started the new release the operator had turned back
    from, and the report said both."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        license_key = host.install_dir / "red5pro" / "LICENSE.KEY"
        kept = tmp_path / "LICENSE.KEY"

        def lose_the_key(step: Any, plan: list[Any]) -> None:
            if step.id == "start-service" and license_key.exists():
                license_key.rename(kept)

        first = ScriptedFrontEnd(on_confirm=lose_the_key,
                                 recoveries={"start-service": [Recovery.ROLLBACK]},
                                 answers={"rollback-stop-new": Decision(Answer.STOP)})
        assert await session(host, journal).run(first) is Outcome.STOPPED
        # The way back's first question (the step before it, with nothing of
        # recreate's to delete, asks none).
        assert first.asked[-1] == "rollback-stop-new"
        # Killed right after `r` was journalled, while the way back's first
        # check looks at the host (which it only reads): the journal ends there.
        lines = journal.read_bytes().splitlines(keepends=True)
        chosen = next(n for n, line in enumerate(lines)
                      if json.loads(line).get("event") == "way-back")
        journal.write_bytes(b"".join(lines[:chosen + 1]))
        # The exit line names no drill from there: resumed, it goes on back.
        assert lifecycle.practised_way_back(replay(journal), "runbook rehearse") is None
        kept.rename(license_key)  # fixed since: going forward would now start it

        again = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal)).run(again)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    forward = [step for step in again.asked if step in CUTOVER]
    assert forward == [], f"the resumed run went forward again: {forward}"
    assert outcome is Outcome.ROLLED_BACK, again.text()[-3000:]
    assert not wrong, "\n".join(wrong) + "\n" + again.text()[-3000:]


async def test_the_way_backs_start_names_the_new_server_still_running(tmp_path: Path) -> None:
    """Review: rollback-start's check said "the old server still runs" of a
    server running from the new release it is there to replace."""
    journal = tmp_path / "run.jsonl"
    leftover: list[subprocess.Popen[bytes]] = []
    async with rehearsal_host(tmp_path) as host:

        def start_from_the_new_tree(step: Any, plan: list[Any]) -> None:
            if step.id == "rollback-unit":  # the step before rollback-start
                aside = next(host.install_dir.glob("red5pro.failed-*"))
                leftover.append(subprocess.Popen(
                    ["bash", "-c", "exec -a java-left-behind sleep 60"], cwd=aside))

        front = ScriptedFrontEnd(on_confirm=start_from_the_new_tree,
                                 answers={"rollback-start": Decision(Answer.STOP)})
        try:
            await session(host, journal, rollback_after="start-service").run(front)
        finally:
            for process in leftover:
                process.kill()
                process.wait()
    assert leftover, "the way back never came to rollback-unit"
    checked = [record.get("detail") for record in map(json.loads, journal.read_text().splitlines())
               if record.get("event") == "check" and record.get("step") == "rollback-start"]
    assert checked == [f"the new server (pid {leftover[0].pid}) still runs"], checked


class PutsBack(ScriptedFrontEnd):
    """Hides a folder as `step` is confirmed, and puts it back when told the
    step failed: an operator fixing the cause before trying again."""

    def __init__(self, step: str, folder: Path, **options: Any) -> None:
        super().__init__(**options)
        self.step = step
        self.folder = folder
        self.hidden = folder.with_name(folder.name + ".hidden")
        self.done = False

    async def confirm(self, step: Any, plan: list[Any]) -> Any:
        if step.id == self.step and not self.done:
            self.done = True
            self.folder.rename(self.hidden)
        return await super().confirm(step, plan)

    async def recover(self, step: Any, *, can_roll_back: bool) -> Recovery:
        if self.hidden.exists():
            self.hidden.rename(self.folder)
        return await super().recover(step, can_roll_back=can_roll_back)


async def test_a_failed_step_of_the_way_back_says_why_and_can_be_tried_again(
    tmp_path: Path,
) -> None:
    """The old unit's Java is missing when rollback-start starts the service:
    systemd refuses, the step says why (not just "see systemctl status"), and
    once the Java is back, trying again ends the way back."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        jvm = sandbox.jvm_home(host.sandbox, host.scenario.old.java)
        front = PutsBack("rollback-start", jvm, recoveries={"rollback-start": [Recovery.RETRY]})
        outcome = await session(host, journal, rollback_after="stop-service").run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert front.recovered == [("rollback-start", False)], "no way back from the way back"
    said = [d for sid, state, d in front.states if sid == "rollback-start" and state == "failed"]
    assert said and f"no java in JAVA_HOME={jvm}" in said[0], said
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


def _records(sandbox_dir: Path) -> list[dict[str, Any]]:
    runs = sandbox_dir / ".operator" / "runs"
    found: list[dict[str, Any]] = []
    for journal in sorted(runs.glob("*.jsonl")) if runs.is_dir() else []:
        for line in journal.read_bytes().split(b"\n"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # the writer is mid-line
    return found


def _kill_when(process: subprocess.Popen[str], sandbox_dir: Path, step: str,
               output: Path) -> None:
    """SIGKILL the runbook as `step` starts its first action. Its output goes
    to a file (`output`), never to a pipe nobody reads while it runs: a run
    that had written 64 KiB before `step` blocked on the full pipe and never
    got there (seen once the 5.1/6.2 unit became the JDK 8 page's whole unit,
    whose jsvc arguments preflight shows)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = output.read_text(errors="replace")
            raise AssertionError(f"the run ended before {step}: {out[-2000:]}")
        if any(r.get("event") == "action-start" and r.get("step") == step
               for r in _records(sandbox_dir)):
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.005)
    raise AssertionError(f"{step} never started")


@pytest.mark.parametrize("step", ["rollback-set-aside", "rollback-start", "rollback-recreate"])
async def test_the_way_back_resumes_after_kill_9(tmp_path: Path, step: str) -> None:
    """`runbook rehearse --rollback-after start-service` is killed with SIGKILL as
    `step` acts; resuming its journal (as `--resume` does, with no mention of a
    rollback) goes on with the way back, never forward again."""
    sandbox_dir = tmp_path / "sandbox"
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("SM_API_TOKEN", None)
    output = tmp_path / "first.out"
    with output.open("w") as out:
        first = subprocess.Popen(
            [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes",
             "--sandbox", str(sandbox_dir), "--rollback-after", "start-service"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        await asyncio.to_thread(_kill_when, first, sandbox_dir, step, output)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    journal = next((sandbox_dir / ".operator" / "runs").glob("*.jsonl"))
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal)).run(front)
        now = await after(host, outcome)
        # What `before` would have seen, from the facts preflight recorded.
        facts = replay(journal).facts
        device, inode = (int(n) for n in str(facts["live_tree"]).split(":"))
        old = Before((device, inode), sandbox.unit_text(host.scenario.old, host.sandbox).encode(),
                     host.old_db[0], host.scenario.old.api)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    asked = [s for s in front.asked if s in CUTOVER]
    assert asked == [], f"the resumed run went forward again: {asked}"
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


async def test_no_way_back_where_no_cutover_began(tmp_path: Path) -> None:
    """Before the first cutover step nothing of the live stream manager has
    changed: the way back refuses, in one line, and touches nothing, whether
    reached by --rollback-after a prepare step or by `runbook rollback` on
    that run's journal."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        pid = host.service_pid()
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, rollback_after="schema").run(front)
        back = ScriptedFrontEnd()
        again = await session(host, journal, resume=replay(journal), only_back=True).run(back)
        still = host.service_pid(), cloud.list_nodegroups(host.sandbox, *host.old_db)
        under_way = host_state(host).cutover()
    assert processes_mentioning(host.sandbox) == []
    for ended, said in ((outcome, front), (again, back)):
        assert ended is Outcome.FAILED
        refusal = said.detail(BACK[0])
        assert refusal.startswith("no cutover began on this host"), refusal
        assert [s for s in said.asked if s in BACK] == [], "nothing of the way back is offered"
    assert still == (pid, groups), "the live stream manager and its nodegroups are untouched"
    assert under_way is None
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not [r for r in records if r["event"] == "cutover-start"]


async def test_the_way_back_is_numbered_alike_in_a_run_and_in_runbook_rollback(
        tmp_path: Path) -> None:
    """Trial 58 L2: the way back's steps were numbered 18 to 24 in a run (and
    in the README and the report) but 1 to 7 under `runbook rollback`, whose
    "Step 1 already done" read like preflight."""
    async with rehearsal_host(tmp_path) as host:
        run = session(host, tmp_path / "run.jsonl")
        back = session(host, tmp_path / "back.jsonl", only_back=True)
    numbered = {card.id: card.number for card in run.cards}
    assert [numbered[step] for step in BACK] == list(range(len(CUTOVER) + len(
        [s for s in procedure() if s.phase is not Phase.CUTOVER]) + 1, len(numbered) + 1))
    assert [(card.id, card.number) for card in back.cards] == \
        [(step, numbered[step]) for step in BACK]


def test_rehearse_refuses_to_roll_back_after_a_prepare_step(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes",
         "--rollback-after", "schema"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    said = (result.stdout + result.stderr).strip().splitlines()
    assert any("--rollback-after" in line and "delete-nodegroups" in line for line in said), said
    assert "Traceback" not in result.stderr


async def test_r_after_a_failed_cutover_step_takes_the_way_back_in_the_app(
    tmp_path: Path,
) -> None:
    """Through the TUI: start-service fails, the dialog offers the way back,
    `r` takes it, and each of its steps is confirmed as the others are (the
    destructive ones by typing their id) until the old stream manager is back."""
    from textual.widgets import Input

    from screens.app import create_app
    from screens.dialogs import ConfirmDialog, RecoverDialog, RollBackDialog
    from tests.polling import until

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        # Up to start-service headless; the app continues the run from there.
        ahead = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await session(host, journal).run(ahead) is Outcome.STOPPED
        (host.install_dir / "red5pro" / "LICENSE.KEY").unlink()
        app = create_app(lambda _earlier: session(host, journal, resume=replay(journal)),
                         rehearsal=True, host_label="pytest")
        dialogs: list[str] = []
        asked: list[str] = []
        async with app.run_test(size=(120, 40)) as pilot:
            # Answer whatever the runbook asks, as an operator would, until it ends.
            while app.outcome is None:
                await until(lambda: app.outcome is not None or isinstance(app.screen, RecoverDialog)
                            or (app.asking is not None and app.screen is app.main),
                            timeout=60, what="a question or the end of the run")
                if app.outcome is not None:
                    break
                if isinstance(app.screen, RecoverDialog):
                    await pilot.pause()
                    dialogs.append(str(app.screen.query_one("#recover-text").render()))
                    await pilot.press("r")
                    await until(lambda: isinstance(app.screen, RollBackDialog),
                                what="the way back asked once more")
                    await pilot.press("y")
                    await until(lambda: not isinstance(app.screen, RecoverDialog | RollBackDialog),
                                what="the dialogs to close")
                    continue
                assert app.asking is not None
                card = app.by_id[app.asking.report.id]
                asked.append(card.id)
                app.main.checklist.select_step(card.id)
                await pilot.press("enter")
                await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
                await pilot.pause()
                if card.needs_typed_confirmation:
                    app.screen.query_one(Input).value = card.id
                    await pilot.press("enter")
                else:
                    await pilot.press("y")
                await until(lambda c=card: app.asking is None or app.asking.report.id != c.id
                            or app.outcome is not None, timeout=60, what=f"{card.id} to run")
            await until(lambda: app.outcome is not None, timeout=60, what="the end of the run")
            outcome = app.outcome
            await pilot.press("q")
        now = await after(host, outcome or Outcome.STOPPED)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert len(dialogs) == 1 and "Roll back" in dialogs[0], dialogs
    assert "start-service" in asked and [s for s in asked if s in CUTOVER] == ["start-service"]
    assert outcome is Outcome.ROLLED_BACK
    assert not wrong, "\n".join(wrong)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    confirmed = {r["step"] for r in records if r["event"] == "confirm" and r["answer"] == "run"}
    ran = {r["step"] for r in records if r["event"] == "step-start"}
    assert ran & set(BACK) <= confirmed, "every step of the way back that ran was confirmed"


async def test_r_while_a_cutover_step_waits_offers_the_way_back_in_the_app(
    tmp_path: Path,
) -> None:
    """Through the TUI, nothing failed: the run waits on stop-service with the
    stream manager down, and the operator will not go on. r asks once (escape
    keeps the step, y goes), then the way back starts: its first step is asked next,
    and stop-service never ran."""
    from screens.app import create_app
    from screens.dialogs import ConfirmDialog, QuitDialog, RollBackDialog
    from tests.polling import until

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        ahead = ScriptedFrontEnd({"stop-service": Decision(Answer.STOP)})
        assert await session(host, journal).run(ahead) is Outcome.STOPPED
        app = create_app(lambda _earlier: session(host, journal, resume=replay(journal)),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:
            while True:  # a resumed run asks preflight again first
                await until(lambda: app.asking is not None and app.screen is app.main,
                            timeout=60, what="a question")
                assert app.asking is not None
                if app.asking.report.id == "stop-service":
                    break
                asked = app.asking.report.id
                assert not app.by_id[asked].needs_typed_confirmation, asked
                app.main.checklist.select_step(asked)
                await pilot.press("enter")
                await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
                await pilot.press("y")
                await until(lambda a=asked: app.asking is None or app.asking.report.id != a,
                            timeout=60, what=f"{asked} to run")
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, RollBackDialog), what="the dialog")
            await pilot.press("escape")
            await until(lambda: app.screen is app.main, what="the dialog to close")
            assert app.asking is not None and app.asking.report.id == "stop-service"
            # n keeps the step too, as headless's y/n and the quit dialog's
            # Stay do (re-trial, stop 48: only escape did).
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, RollBackDialog), what="the dialog")
            await pilot.press("n")
            await until(lambda: app.screen is app.main, what="the dialog to close on n")
            assert app.asking is not None and app.asking.report.id == "stop-service"
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, RollBackDialog), what="the dialog")
            await pilot.press("y")
            await until(lambda: app.asking is not None and app.asking.report.id in BACK,
                        timeout=60, what="the way back's first question")
            first_back = app.asking.report.id
            await pilot.press("q")
            await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
            await pilot.press("y")  # stop here
            await until(lambda: app.outcome is not None, timeout=60, what="the end")
    assert processes_mentioning(host.sandbox) == []
    assert first_back in BACK
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    answers = [r["answer"] for r in records if r["event"] == "confirm"
               and r["step"] == "stop-service"]
    assert answers[-1] == "rollback", answers
    assert not [r for r in records if r["event"] == "step-start" and r["step"] == "stop-service"]


async def test_r_on_the_main_screen_after_a_failed_cutover_step_points_at_the_way_back() -> None:
    """The operator chose Stop when start-service failed; the stream manager is
    down. `r` on the main screen must not say there is no rollback: it says how
    to take the way back."""
    from runbook.events import CutoverStarted, RunEnded, StepChanged
    from runbook.model import StepReport, StepState
    from tests.polling import until
    from tests.test_tui_fakes import make_app, tell

    app = make_app()
    notes: list[str] = []
    app.notify = lambda message, **_: notes.append(message)  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(StepReport("start-service", StepState.FAILED, "the service died")),
             RunEnded(Outcome.FAILED.value, Outcome.FAILED.exit_code))
        app.main.checklist.select_step("start-service")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
    assert notes, "r says something"
    assert "no step has" not in notes[-1] and "runbook rollback" in notes[-1], notes[-1]


async def test_runbook_rollback_brings_back_a_cutover_that_was_left_half_way(
    tmp_path: Path,
) -> None:
    """The operator stopped the run at service-unit (the old server killed,
    the new tree live) and walks away; `runbook rollback CONFIG --yes` finds the
    cutover from the host's record, continues its journal and ends rolled back
    (exit 4)."""
    from runbook import config as config_mod

    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        text = wiring.rehearsal_config_text()
        for name, value in {**wiring.rehearsal_values(host.config_values()),
                            "decisions": str(rehearsal_settings(host).decisions)}.items():
            text = text.replace("{" + name + "}", value)
        # As a production host's config: `runbook rollback` takes no rehearsal's.
        assert "[rehearsal]\nenabled = true\n" in text
        config = tmp_path / "sm.toml"
        config.write_text(text.replace("[rehearsal]\nenabled = true\n", ""))
        state = tmp_path / "state" / "runbook"  # default_dir() under that XDG_STATE_HOME
        journal = state / "run.jsonl"
        settings = config_mod.load(config)
        first = wiring.session(settings, token=host.api_token, journal_path=journal,
                               state_dir=state, isolated=True)
        stopped = await first.run(ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)}))
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "runbook.cli", "rollback", str(config),
                             "--headless", "--yes"],
            cwd=ROOT, env=dict(env, SM_API_TOKEN=host.api_token), capture_output=True,
            text=True, timeout=300)
        now = await after(host, Outcome.ROLLED_BACK if result.returncode == 4
                          else Outcome.FAILED, state)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert stopped is Outcome.STOPPED
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"journal: {journal}" in result.stdout
    # Back from service-unit, before recreate made a nodegroup in the new
    # database: nothing there to drop (operator trial: told to drop it anyway).
    assert "before another attempt" not in result.stdout, result.stdout[-2000:]
    assert "Traceback" not in result.stderr and host.api_token not in result.stdout
    assert not wrong, "\n".join(wrong) + "\n" + result.stdout[-3000:]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert records[-1]["event"] == "run-end" and records[-1]["outcome"] == "rolled-back"


@pytest.mark.parametrize("scenario", [name for name in scenarios.SCENARIOS
                                      if name != scenarios.DEFAULT])
async def test_the_way_back_after_a_whole_upgrade_in_each_scenario(
    tmp_path: Path, scenario: str,
) -> None:
    """After the last cutover step, in the other scenarios: 5.1 (API 3.0, its
    version only in lib/) and 10.9 (API 4.0 and Java 11, as the new release:
    only the tree tells the two servers apart)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, scenario=scenario) as host:
        old = before(host)
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert processes_mentioning(host.sandbox) == []
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


def disk_fills_once(host: RehearsalHost, prefix: str) -> Path:
    """A `cp` on the host's PATH that, the first time it writes a file whose
    name begins with `prefix`, writes ten bytes of it and fails as cp does on a
    full disk (leaving the part written, as GNU cp does)."""
    mark = host.sandbox / ".rehearsal" / "disk-filled"
    cp = sandbox.bin_dir(host.sandbox) / "cp"
    cp.write_text(
        "#!/bin/bash\n"
        'dest=${!#}; from=${@: -2:1}\n'
        f'if [[ ${{dest##*/}} == {prefix}* && ! -e {mark} ]]; then\n'
        f'    : > {mark}\n'
        '    head -c 10 -- "$from" > "$dest"\n'
        '''    echo "cp: error writing '$dest': No space left on device" >&2\n'''
        "    exit 1\n"
        "fi\n"
        'exec /bin/cp "$@"\n')
    cp.chmod(0o755)
    return mark


async def test_a_unit_backup_cut_short_is_never_taken_for_the_old_unit(tmp_path: Path) -> None:
    """Safety review: service-unit copied the old unit to red5pro.service.bak
    in place. A copy cut short (a full disk) left part of the file, the retry
    took that part for the backup, and the way back installed it as the unit."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        mark = disk_fills_once(host, "red5pro.service.bak")
        old = before(host)
        front = ScriptedFrontEnd(recoveries={"service-unit": [Recovery.RETRY]})
        outcome = await session(host, journal, rollback_after="start-service").run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert mark.exists(), "the full disk was met"
    assert ("service-unit", "failed") in [(sid, state) for sid, state, _ in front.states]
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]


def reload_fails_once(host: RehearsalHost) -> Path:
    """A `systemctl` on the host's PATH whose first daemon-reload fails, as one
    cut off by a stalled systemd would; every other call is the shim's."""
    mark = host.sandbox / ".rehearsal" / "reload-failed"
    shim = sandbox.bin_dir(host.sandbox) / "systemctl"
    shim.rename(shim.with_name("systemctl-shim"))
    shim.write_text(
        "#!/bin/bash\n"
        f'if [[ " $* " == *" daemon-reload "* && ! -e {mark} ]]; then\n'
        f"    : > {mark}\n"
        '    echo "Failed to reload daemon: Connection timed out" >&2\n'
        "    exit 1\n"
        "fi\n"
        f'exec {shim.with_name("systemctl-shim")} "$@"\n')
    shim.chmod(0o700)
    return mark


def status_unreadable(host: RehearsalHost) -> Path:
    """A `systemctl` on the host's PATH whose first daemon-reload fails and whose
    `status` never answers, as under a stalled systemd; every other call is the
    shim's. Returns the mark the failed reload leaves."""
    mark = host.sandbox / ".rehearsal" / "reload-failed"
    shim = sandbox.bin_dir(host.sandbox) / "systemctl"
    shim.rename(shim.with_name("systemctl-shim"))
    shim.write_text(
        "#!/bin/bash\n"
        f'if [[ " $* " == *" daemon-reload "* && ! -e {mark} ]]; then\n'
        f"    : > {mark}\n"
        '    echo "Failed to reload daemon: Connection timed out" >&2\n'
        "    exit 1\n"
        "fi\n"
        'if [[ " $* " == *" status "* ]]; then\n'
        '    echo "Failed to get properties: Connection timed out" >&2\n'
        "    exit 1\n"
        "fi\n"
        f'exec {shim.with_name("systemctl-shim")} "$@"\n')
    shim.chmod(0o700)
    return mark


@pytest.mark.parametrize("side", ["service-unit", "rollback-unit"])
async def test_a_unit_systemd_has_not_loaded_is_reloaded_though_its_status_is_unreadable(
        tmp_path: Path, side: str) -> None:
    """Review 58a L3: whether systemd runs the unit on disk was read from
    `systemctl status`'s words ("changed on disk"): a status that could not be
    read had no such words, and a unit put in place whose daemon-reload had
    failed was taken for loaded. The retry then reloaded nothing, and systemd
    would start the unit it had loaded before (the old one under the new
    release, or the new one under the old)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        marks: list[Path] = []

        def stall(step: StepReport, plan: list[Any]) -> None:
            if step.id == side and not marks:
                marks.append(status_unreadable(host))
        front = ScriptedFrontEnd({"start-service" if side == "service-unit"
                                  else "rollback-start": Decision(Answer.STOP)},
                                 recoveries={side: [Recovery.RETRY]}, on_confirm=stall)
        await session(host, journal, rollback_after=None if side == "service-unit"
                      else "start-service").run(front)
        on_disk = (host.sandbox / "lib/systemd/system/red5pro.service").read_bytes()
        loaded = (host.sandbox / "run/red5pro.unit").read_bytes()
    assert marks and marks[0].exists(), "the failed reload was met"
    assert (side, "failed") in [(sid, state) for sid, state, _ in front.states]
    assert loaded == on_disk, front.text()[-3000:]


@pytest.mark.skipif(os.geteuid() != 0, reason="a plain SSH user is modelled from root")
async def test_a_unit_in_a_folder_the_ssh_user_cannot_enter_is_still_put_back(
        tmp_path: Path) -> None:
    """Code review: whether red5pro.service.bak was there was asked by a plain
    `test` as the SSH user, which fails alike for "not there" and "cannot see
    into the folder" ([install] unit_file may name a folder of root's, 0700).
    service-unit's retry then saved the NEW unit over the old one's backup,
    and rollback-unit said service-unit "did not replace the unit": the old
    release started under the new unit. Both looks are root's now."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, plain_user=True) as host:
        folder = host.sandbox / "lib/systemd/system"
        folder.chmod(0o700)
        os.chown(folder, 65534, 65534)  # nobody's: the SSH user cannot enter it
        old = before(host)
        # service-unit fails once it has kept the old unit and put the new one
        # in place: its retry finds the backup there.
        mark: list[Path] = []

        def reload_fails(step: StepReport, plan: list[Any]) -> None:
            if step.id == "service-unit" and not mark:
                mark.append(reload_fails_once(host))
        front = ScriptedFrontEnd(recoveries={"service-unit": [Recovery.RETRY]},
                                 on_confirm=reload_fails)
        outcome = await session(host, journal, rollback_after="start-service").run(front)
        kept = (folder / "red5pro.service.bak").read_bytes()
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
    assert mark and mark[0].exists(), "the failed reload was met"
    assert ("service-unit", "failed") in [(sid, state) for sid, state, _ in front.states]
    assert kept == old.unit, "the backup is not the old unit"
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    assert unplanned(journal, front.plans) == []


async def test_a_unit_cut_short_on_the_way_back_leaves_a_whole_unit(tmp_path: Path) -> None:
    """The way back put the old unit back by copying over the new one in place:
    a copy cut short (a full disk) left neither unit whole in systemd's folder."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        unit = host.sandbox / "lib/systemd/system/red5pro.service"

        new_unit: list[bytes] = []

        def fill_the_disk(step: StepReport, plan: list[Any]) -> None:
            if step.id == "rollback-unit":
                new_unit.append(unit.read_bytes())
                disk_fills_once(host, "red5pro.service")
        front = ScriptedFrontEnd(on_confirm=fill_the_disk)
        outcome = await session(host, journal, rollback_after="start-service").run(front)
        left = unit.read_bytes()
        old_unit = (unit.with_name("red5pro.service.bak")).read_bytes()
    assert front.final_state("rollback-unit") == "failed", front.text()[-3000:]
    assert outcome is not Outcome.DONE and new_unit
    assert left in (old_unit, new_unit[0]), f"a unit cut short: {left!r}"


async def test_a_way_back_stopped_after_the_last_cutover_step_is_no_upgrade(
    tmp_path: Path,
) -> None:
    """Operator trial: after --rollback-after recreate, a way back that stopped
    part way (a failure, then stop) was journalled as a complete cutover and
    the host's record ended "upgraded". runbook said the new stream manager
    served while nothing ran, and `runbook rollback` refused to go on."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd({"rollback-set-aside": Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        assert outcome is Outcome.STOPPED, front.text()[-2000:]
        assert front.final_state("rollback-stop-new") == "done"
        ended = [json.loads(line) for line in journal.read_text().splitlines()
                 if json.loads(line)["event"] == "cutover-end"]
        assert [e["complete"] for e in ended] == [False], ended
        assert host_state(host).cutover() is not None, "the cutover is still under way"
        from runbook.standing import service_state

        said = service_state(replay(journal))
        assert "down since" in said and "on the way back" in said, said
        # So `runbook rollback` takes it from there, and brings the old one back.
        back = ScriptedFrontEnd()
        outcome = await session(host, tmp_path / "back.jsonl", only_back=True,
                                resume=replay(journal)).run(back)
        assert outcome is Outcome.ROLLED_BACK, back.text()[-2000:]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_second_attempt_after_the_way_back_is_not_made_on_the_first_ones_nodegroups(
    tmp_path: Path, kind: str,
) -> None:
    """Operator trial: the way back leaves the new database as the first
    attempt's cutover made it, nodegroups and launch configs in it. A second
    attempt took its tables for the release's ("already done") and the new
    stream manager came up with the first attempt's nodegroups, whose nodes
    the old one had torn down; recreate found them "already there". Since
    trial 53 the way back deletes the nodegroups; the launch configs and
    scale policies it leaves are refused the same way (left, recreate took
    them "already exists", node image and all)."""
    async with rehearsal_host(tmp_path, databases=kind) as host:
        first = ScriptedFrontEnd()
        outcome = await session(host, tmp_path / "first.jsonl",
                                rollback_after="recreate").run(first)
        assert outcome is Outcome.ROLLED_BACK, first.text()[-3000:]
        assert await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db) \
            == [], "the way back left the new release's nodegroups"
        # What the end of that run (and its report) says is left to do names
        # the database (operator trial, stop 46: "drop its cluster database
        # first", and not which).
        start = json.loads((tmp_path / "first.jsonl").read_text().splitlines()[0])
        db_host, db_port = host.new_db
        assert f"cluster database on {db_host}:{db_port}" in start["leaves"]["recreate"]["to_do"], \
            start
        # The TUI's screen says it as the way back ends, not only the exit
        # lines after it closes (operator trial, stop 47).
        from runbook.events import RunEnded
        from runbook.step import cards
        from screens.run_state import RunState
        from screens.views import hint
        from steps import procedure

        seen = RunState(cards=cards(procedure()), target="red5admin@127.0.0.1")  # type: ignore[arg-type]
        for event in first.events:
            seen.apply(event, 0.0)
        ended = [event for event in first.events if isinstance(event, RunEnded)]
        assert any("cluster database" in left.to_do
                   for left in ended[-1].before_another_attempt.values()), ended
        said = str(hint(seen, selected=None, journal=tmp_path / "first.jsonl"))
        user, password = live_account(host)
        drop = (f"mysql --protocol=tcp -h {db_host} -P {db_port} -u {user} -p -e "
                "'DROP DATABASE cluster'")
        assert f"Before another attempt, drop the cluster database on {db_host}:{db_port} " \
            "first" in said, said
        # The command itself, as the schema step gives it, never the password
        # (README walkthrough: none was given once the way back was done).
        assert drop in said and password not in said, said
        assert drop in ended[-1].before_another_attempt["recreate"].to_do, ended
        again = ScriptedFrontEnd(recoveries={"schema": []})
        outcome = await session(host, tmp_path / "again.jsonl").run(again)
        assert outcome is not Outcome.DONE, again.text()[-3000:]
        assert again.final_state("schema") == "failed", again.text()[-3000:]
        # Said at the first look at the database, steps before schema refuses
        # it (operator trial: "26 tables", and nothing of the nodegroups).
        early = [line for step, _, line in again.lines if step == "new-database"]
        left = "2 launch configs and 2 scale policies"
        assert any(left in line and "schema step refuses" in line
                   for line in early), early
        # No command to drop it, there or at schema (facts audit 60b, M4): the
        # rows may be another stream manager's, which shares this database.
        assert not any("DROP DATABASE" in line for line in early), early
        said = again.detail("schema")
        assert left in said and "an earlier attempt" in said.lower(), said
        # Where, with what the step knows (operator trial: the rehearsal's port
        # and login had to be dug out): the live account's name, never its password.
        user, password = live_account(host)
        db_host, db_port = host.new_db
        assert f"cluster database on {db_host}:{db_port} as the live login ({user}" in said, said
        assert "DROP DATABASE" not in said and password not in said, said
        assert again.final_state("promote-new") is None, "the cutover began"
        # As the step says: the operator drops it (the live login may), and goes on.
        await asyncio.to_thread(databases.run_in_cluster, *host.new_db, *live_account(host),
                                f"DROP DATABASE {databases.DATABASE}", 5.0)
        third = ScriptedFrontEnd()
        outcome = await session(host, tmp_path / "third.jsonl").run(third)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.DONE, third.text()[-3000:]
    assert "already exists" not in third.text(), third.text()[-3000:]
    assert len(left) == 2, left


def _swept(install_dir: Path) -> list[str]:
    """The "Terminating cloud node" lines of every install's red5.log: the
    nodes a stream manager tore down as it started, because its database did
    not know them (FACTS section 3), without a drain."""
    return [line for log in sorted(install_dir.glob("*/log/red5.log"))
            for line in log.read_text(errors="replace").splitlines()
            if "Terminating cloud node" in line]


async def test_the_way_back_after_recreate_deletes_the_new_releases_nodegroups_first(
    tmp_path: Path,
) -> None:
    """Operator trial 53: `runbook rehearse --headless --yes --rollback-after
    recreate --keep` stopped the new stream manager with the nodegroups
    recreate had made, and the old one tore their nodes down as it started,
    because its database does not know them: no drain, and nothing said so.
    The way back deletes them through the new API first, as delete-nodegroups
    does for the old one's, and waits until they are gone."""
    sandbox_dir = tmp_path / "sandbox"
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("SM_API_TOKEN", None)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes", "--keep",
         "--sandbox", str(sandbox_dir), "--rollback-after", "recreate"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=600)
    said = result.stdout + result.stderr
    assert processes_mentioning(sandbox_dir) == []
    assert result.returncode == 4, said[-3000:]
    install = sandbox.install_dir(sandbox_dir)
    assert cloud.list_instances(sandbox_dir), "the rehearsal's cloud launched nothing"
    # First: the old stream manager tore down no node as it started.
    assert _swept(install) == [], "\n".join(_swept(install))
    journal = next((sandbox_dir / ".operator" / "runs").glob("*.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    deletes = [r["text"] for r in records if r["event"] == "action-start"
               and r["step"] == NEW_GROUPS]
    recreated = [r["new"] for r in records if r["event"] == "note"
                 and r.get("kind") == "nodegroup-recreated" and r["step"] == "recreate"]
    assert len(recreated) == 2, recreated
    # Through the new release's API, each group recreate made, before the
    # new release is stopped.
    assert all(any(f"/api/{scenarios.SCENARIOS[scenarios.DEFAULT].new.api}/admin/nodegroup/"
                   f"{name}" in text and "DELETE" in text for text in deletes)
               for name in recreated), deletes
    order = [r["step"] for r in records if r["event"] == "step-start"]
    assert NEW_GROUPS in order and order.index(NEW_GROUPS) < order.index("rollback-stop-new"), order
    # Said in the headless run's own words, not only journalled.
    assert NEW_GROUPS in said and "deleted" in said, said[-3000:]


class SilentNewApi(ScriptedFrontEnd):
    """The new release's API answers 500 from `when` on (after recreate, as
    the way back looks; or once its DELETEs are confirmed), until the step
    that deletes its nodegroups has ended."""

    def __init__(self, sandbox_dir: Path, when: str) -> None:
        super().__init__(on_confirm=self._confirmed)
        self.sandbox_dir, self.when = sandbox_dir, when

    def _confirmed(self, step: StepReport, plan: list[Any]) -> None:
        if step.id == NEW_GROUPS and self.when == "as-it-deletes":
            armed.arm(self.sandbox_dir, "api-error", step=NEW_GROUPS)

    def tell(self, event: Any) -> None:
        super().tell(event)
        if isinstance(event, StepChanged) and event.report.state is StepState.DONE:
            if event.report.id == "recreate" and self.when == "at-its-look":
                armed.arm(self.sandbox_dir, "api-error", step=NEW_GROUPS)
            if event.report.id == NEW_GROUPS:
                armed.lift(self.sandbox_dir, "api-error")


@pytest.mark.parametrize("when", ["at-its-look", "as-it-deletes"])
async def test_the_way_back_goes_on_when_the_new_api_cannot_delete_its_nodegroups(
    tmp_path: Path, when: str,
) -> None:
    """The new release's API fails as the way back would delete its
    nodegroups: the way back does not stall (no wait, no question), goes on
    to the old stream manager, and says what it leaves: the nodes the old
    stream manager tears down, probably without a drain. The warning is in
    the report, and the exit lines name the nodegroups left in the new
    database."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        old = before(host)
        front = SilentNewApi(host.sandbox, when)
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        now = await after(host, outcome)
        wrong = problems(old, now, host, promoted=True)
        swept = _swept(host.install_dir)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert processes_mentioning(host.sandbox) == []
    assert not wrong, "\n".join(wrong) + "\n" + front.text()[-3000:]
    assert front.final_state(NEW_GROUPS) == "done", front.text()[-3000:]
    assert front.recovered == [], "the way back asked about a failure"
    said = front.detail(NEW_GROUPS)
    assert ("nothing deleted" if when == "at-its-look" else "not all deleted") in said, said
    warned = [line for step, _, line in front.lines if step == NEW_GROUPS
              and line.startswith("warning: the way back could not delete")]
    # FACTS §3 has "without orderly draining" as an inference only: said as
    # likely (facts audit 56a, M4), as delete-nodegroups' caution says it.
    assert warned and "probably without a drain" in warned[0], front.text()[-3000:]
    # What it says is so: the old stream manager tore the nodes down.
    assert swept, "the old stream manager swept nothing"
    assert len(left) == 2, left
    # Named by the report, and by the exit lines before another attempt.
    from runbook import report as report_mod
    from runbook.events import RunEnded

    report = report_mod.build(journal)
    assert any("could not delete the new stream manager's nodegroups" in note.text
               for note in report.warnings), report.warnings
    # Operator trial 54 (F9): recreate read "partly undone by the way back",
    # which undid none of it.
    from runbook.report_format import outcome_cell

    recreate = report.step("recreate")
    assert recreate is not None, report.steps
    cell = outcome_cell(recreate)
    assert "partly undone" not in cell and "not undone by the way back" in cell, cell
    ended = [event for event in front.events if isinstance(event, RunEnded)][-1]
    assert "which could not delete the nodegroups" in \
        ended.before_another_attempt["recreate"].stays, ended
    # Review 56b, F6: said as data, on the run's end and in the journal
    # where the report reads it, not found by those words.
    assert ended.not_undone == ("recreate",), ended
    recorded = [record.get("not_undone") for record in read(journal)
                if record["event"] in ("run-start", "facts") and "not_undone" in record]
    assert recorded and recorded[0]["recreate"] is False, recorded
    assert recorded[-1]["recreate"] is True, recorded
    # Re-trial (stop 53): the exit lines read "the nodegroups (nodegroups
    # group-...)" and said nothing of the nodes left running, which only the
    # step's warning, long scrolled away, told to look for in the cloud.
    before_next = " ".join(left.sentence for left in ended.before_another_attempt.values())
    assert "nodegroups (nodegroups" not in before_next, before_next
    assert "left running" in before_next and "cloud's console" in before_next, before_next


async def test_runbook_rollback_that_cannot_delete_the_nodegroups_says_recreate_not_undone(
    tmp_path: Path,
) -> None:
    """Review 56c, F2: `runbook rollback` (the way back alone) ran no step of
    the upgrade, so it journalled no word of what recreate leaves: where its
    rollback-nodegroups could not delete, recreate stayed "partly undone"
    beside the warning that the way back undid none of it (and its advice
    did not name the nodegroups). The way back alone keeps what the
    upgrade's steps leave up to date, as a whole run does."""
    from runbook import report as report_mod
    from runbook.events import RunEnded
    from runbook.report_format import outcome_cell

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        front = SilentNewApi(host.sandbox, "as-it-deletes")
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert "not all deleted" in front.detail(NEW_GROUPS), front.text()[-3000:]
    ended = [event for event in front.events if isinstance(event, RunEnded)][-1]
    assert ended.not_undone == ("recreate",), ended
    assert "which could not delete the nodegroups" in \
        ended.before_another_attempt["recreate"].stays, ended
    recreate = report_mod.build(journal).step("recreate")
    assert recreate is not None
    cell = outcome_cell(recreate)
    assert "partly undone" not in cell and "not undone by the way back" in cell, cell


async def test_the_way_back_says_nothing_of_the_new_databases_alarms(tmp_path: Path) -> None:
    """Re-trial (stop 53): rollback-recreate, which rebuilds into the OLD
    database (whose alarm thresholds nothing changed), said "the new database
    has cluster.sql's scale-out alarm at 60 %", recreate's note for after the
    upgrade, on every way back that reached it."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, rollback_after="recreate").run(front)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    said = [line for step, _, line in front.lines if step == "recreate"]
    assert any("scale-out alarm" in line for line in said), said
    back = [line for step, _, line in front.lines if step == "rollback-recreate"]
    assert back and not any("scale-out alarm" in line for line in back), back


async def test_the_way_back_alone_refuses_another_stream_managers_api_before_sending_it_anything(
    tmp_path: Path,
) -> None:
    """Review 54b H1: `runbook rollback` (and a resume on its way back) runs
    without preflight. With another stream manager's base_url and token,
    rollback-nodegroups deleted that one's nodegroups. Each step of the way
    back that calls the API first proves the token is the serving install's
    rest.administratorToken, and sends nothing where it is not."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path / "a") as host, \
            rehearsal_host(tmp_path / "b", scenario="10.9-to-11.1") as other:
        front = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        assert outcome is Outcome.STOPPED, front.text()[-2000:]
        theirs = await asyncio.to_thread(cloud.list_nodegroups, other.sandbox, *other.old_db)
        assert theirs, "the other stream manager has nodegroups to lose"
        wrong = dataclasses.replace(rehearsal_settings(host), api_base_url=other.api_base_url)
        back = ScriptedFrontEnd()
        outcome = await wiring.session(
            wrong, token=other.api_token, journal_path=tmp_path / "back.jsonl",
            state_dir=host.sandbox / ".operator", isolated=True, resume=replay(journal),
            only_back=True).run(back)
        assert outcome is Outcome.FAILED, back.text()[-2000:]
        said = back.detail(NEW_GROUPS)
        assert "rest.administratorToken" in said and "[api] base_url" in said, said
        # The file it read, the old install's set aside, by its path: not
        # "the live file" (it is bak.red5pro's).
        read = host.install_dir / "bak.red5pro" / sandbox.WEBINF / "red5-web.properties"
        assert f"rest.administratorToken in {read}:" in said, said
        assert "the live " not in said and "live file" not in said, said
        assert other.api_token not in back.text() and host.api_token not in back.text()
        assert await asyncio.to_thread(cloud.list_nodegroups, other.sandbox, *other.old_db) \
            == theirs, "another stream manager's nodegroups were deleted"
        # Put right, the way back goes on from there.
        again = await session(host, tmp_path / "back2.jsonl", only_back=True,
                              resume=replay(journal)).run(ScriptedFrontEnd())
        assert again is Outcome.ROLLED_BACK


async def test_the_way_backs_recreate_refuses_a_copy_of_the_old_release_elsewhere(
    tmp_path: Path,
) -> None:
    """Review 54b H1: a way back taken up at rollback-recreate with the
    base_url and token of another stream manager of the old release (a
    staging copy) rebuilt this host's snapshot inside that one. Resumed, the
    way back looks again at rollback-start first, which proves the token now
    and refuses there, before recreate asks anything."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path / "a") as host, \
            rehearsal_host(tmp_path / "b") as other:
        front = ScriptedFrontEnd({"rollback-recreate": Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        assert outcome is Outcome.STOPPED, front.text()[-2000:]
        theirs = await asyncio.to_thread(cloud.list_nodegroups, other.sandbox, *other.old_db)
        wrong = dataclasses.replace(rehearsal_settings(host), api_base_url=other.api_base_url)
        back = ScriptedFrontEnd()
        outcome = await wiring.session(
            wrong, token=other.api_token, journal_path=tmp_path / "back.jsonl",
            state_dir=host.sandbox / ".operator", isolated=True, resume=replay(journal),
            only_back=True).run(back)
        assert outcome is Outcome.FAILED, back.text()[-2000:]
        said = back.detail("rollback-start")
        assert "rest.administratorToken" in said and "[api] base_url" in said, said
        assert other.api_token not in back.text() and host.api_token not in back.text()
        assert [g["name"] for g in await asyncio.to_thread(
            cloud.list_nodegroups, other.sandbox, *other.old_db)] == \
            [g["name"] for g in theirs], "this host's snapshot was rebuilt in another"


async def test_the_way_backs_start_does_not_take_another_old_release_for_this_hosts(
    tmp_path: Path,
) -> None:
    """rollback-start said the old install answers, on the old database,
    once the API at [api] base_url answered with the old release's version:
    with the base_url and token of another stream manager of the same release
    (two rehearsal hosts), it said so whether or not this host's old install
    came up. Before it says so, the token given is proven to be the old
    install's rest.administratorToken."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path / "a") as host, \
            rehearsal_host(tmp_path / "b") as other:
        front = ScriptedFrontEnd({"rollback-start": Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        assert outcome is Outcome.STOPPED, front.text()[-2000:]
        assert other.scenario.old.api == host.scenario.old.api
        wrong = dataclasses.replace(rehearsal_settings(host), api_base_url=other.api_base_url)
        back = ScriptedFrontEnd()
        outcome = await wiring.session(
            wrong, token=other.api_token, journal_path=tmp_path / "back.jsonl",
            state_dir=host.sandbox / ".operator", isolated=True, resume=replay(journal),
            only_back=True).run(back)
        assert outcome is Outcome.FAILED, back.text()[-2000:]
        assert back.final_state("rollback-start") == "failed", back.text()[-2000:]
        said = back.detail("rollback-start")
        assert "rest.administratorToken" in said and "[api] base_url" in said, said
        assert "started" in said and "not proven" in said, said
        assert "answers from the old install" not in back.text(), back.text()[-2000:]
        assert other.api_token not in back.text() and host.api_token not in back.text()
        # As it says: the old release was started here.
        pid = host.service_pid()
        assert pid and _ident(Path(f"/proc/{pid}/cwd")) == _ident(host.install_dir / "red5pro")
        # Put right, the way back goes on from there.
        again = await session(host, tmp_path / "back2.jsonl", only_back=True,
                              resume=replay(journal)).run(ScriptedFrontEnd())
        assert again is Outcome.ROLLED_BACK


def test_the_way_back_says_the_sweep_drains_nothing_only_as_likely() -> None:
    """Facts audit 56a (M4): FACTS §3 gives the old stream manager's sweep
    "without orderly draining" as an inference, and when it runs (as it
    starts, or each cleanup interval) as one too; the way back stated both."""
    for said in (SWEEP, DeleteNewNodegroups.caution):
        assert "probably without a drain" in said and "as it starts" not in said, said


async def test_the_log_says_the_way_back_began_once_and_then_resumed(tmp_path: Path) -> None:
    """Trial 56 F5: `runbook rollback` stopped between the way back's steps and
    resumed twice; `runbook log` said "the way back ... began" at every resume,
    where README has it say once where it began. Later sessions read as resumed."""
    from runbook.log import log_lines

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        stopped = await session(host, journal).run(
            ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)}))
        outcomes = [stopped]
        for stop_at in ("rollback-set-aside", "rollback-start", None):
            answers = {stop_at: Decision(Answer.STOP)} if stop_at else {}
            outcomes.append(await session(host, journal, resume=replay(journal),
                                          only_back=True).run(ScriptedFrontEnd(answers)))
    assert outcomes == [Outcome.STOPPED, Outcome.STOPPED, Outcome.STOPPED,
                        Outcome.ROLLED_BACK], outcomes
    said = [line for _step, line in log_lines(journal) if "way back" in line]
    began = [line for line in said if "the way back to the old stream manager began" in line]
    resumed = [line for line in said if "the way back to the old stream manager resumed" in line]
    assert len(began) == 1 and len(resumed) == 2, "\n".join(said)


async def test_a_wrong_token_is_refused_before_the_way_back_changes_anything(
    tmp_path: Path,
) -> None:
    """Trial 56 F3: with a wrong API token, preflight's failure offered [t] try
    again, though the token is read once, as runbook starts; and `runbook
    rollback` found the token wrong only at rollback-start, after `systemctl
    start` and three steps of the way back. The way back proves the token
    against the old install's file before its first step acts; no try again
    is offered where only a start with the right token helps."""
    from runbook import config as config_mod

    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    wrong = "wrongtoken123"
    async with rehearsal_host(tmp_path) as host:
        text = wiring.rehearsal_config_text()
        for name, value in {**wiring.rehearsal_values(host.config_values()),
                            "decisions": str(rehearsal_settings(host).decisions)}.items():
            text = text.replace("{" + name + "}", value)
        config = tmp_path / "sm.toml"
        config.write_text(text.replace("[rehearsal]\nenabled = true\n", ""))
        first = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "runbook.cli", "run", str(config),
                             "--headless", "--new-run"],
            input="y\n" + "q\n" * 5, cwd=ROOT, env=dict(env, SM_API_TOKEN=wrong),
            capture_output=True, text=True, timeout=300)
        state = tmp_path / "state" / "runbook"
        journal = state / "run.jsonl"
        stopped = await wiring.session(
            config_mod.load(config), token=host.api_token, journal_path=journal,
            state_dir=state, isolated=True).run(
            ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)}))
        live = (host.install_dir / "red5pro" / "conf" / "red5.ini").read_bytes()
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "runbook.cli", "rollback", str(config),
                             "--headless"],
            input="q\n" * 5, cwd=ROOT, env=dict(env, SM_API_TOKEN=wrong),
            capture_output=True, text=True, timeout=300)
        serving = processes_mentioning(host.sandbox / "usr/local" / "red5pro")
        unchanged = (host.install_dir / "red5pro" / "conf" / "red5.ini").read_bytes() == live
        aside = list(host.install_dir.glob("red5pro.failed-*"))
    said = first.stdout + first.stderr
    assert "[preflight]" in said and "rest.administratorToken" in said, said[-3000:]
    assert "[t] try again" not in said, said[-2000:]
    assert stopped is Outcome.STOPPED
    said = result.stdout + result.stderr
    assert result.returncode != 4, said[-3000:]
    assert "rest.administratorToken" in said and "[t] try again" not in said, said[-3000:]
    assert wrong not in said and host.api_token not in said
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    acted = [r["text"] for r in records if r["event"] == "action-start"
             and str(r.get("step", "")).startswith("rollback-")]
    assert acted == [], acted
    assert unchanged and aside == [] and serving == [], (unchanged, aside, serving)


async def test_the_way_back_alone_gives_no_drop_for_the_live_database(tmp_path: Path) -> None:
    """Review 56d F3: with [new_database] naming the live stream manager's
    database (start-service's own advice invites another name for it), the
    report's "Left on the host after the way back" gave a DROP DATABASE
    command for the very database the old release had just come back on.
    Recreate.leaves never gives one for the live database; the way back's
    note now says so the same way."""
    from runbook.report import build
    from runbook.report_md import markdown
    from tests.test_faults import Operator, faulted, with_timeouts

    journal, back = tmp_path / "run.jsonl", tmp_path / "back.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = Operator(recoveries={"start-service": [Recovery.STOP]})
        outcome = await faulted(host, ["start-fails"], first, journal,
                                with_timeouts(host, service_start=60))
        assert outcome is Outcome.FAILED, first.text()[-3000:]
        old_host, old_port = host.old_db
        settings = rehearsal_settings(host, new_db_host=old_host, new_db_port=str(old_port))
        front = ScriptedFrontEnd()
        outcome = await session(host, back, settings=settings, resume=replay(journal),
                                only_back=True).run(front)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    page = markdown(build(back, estimate_from=[]))
    assert "Left on the host after the way back" in page, page
    left = page.split("Left on the host after the way back", 1)[1]
    assert f"-h {old_host} -P {old_port}" not in page and "DROP DATABASE" not in left, left
    assert "live stream manager's database" in left and "no command to drop it" in left, left


async def test_the_way_back_deletes_only_the_nodegroups_this_runs_recreate_made(
    tmp_path: Path,
) -> None:
    """The way back deleted every nodegroup the new stream manager listed:
    safe only while its database held recreate's alone. One an operator
    made there by hand after the cutover (the same launch config and scale
    policy as recreate's) was deleted with them. Now only the groups the
    journal says recreate made go; the others are named, once, and kept."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        recreated = sorted(r["new"] for r in read(journal) if r["event"] == "note"
                           and r.get("kind") == "nodegroup-recreated"
                           and r.get("step") == "recreate")
        assert len(recreated) == 2, recreated
        like = (await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db))[0]
        async with StreamManagerAPI(host.api_base_url, host.api_token,
                                    host.scenario.new.api) as api:
            mine = (await api.create_nodegroup(like["regions"], like["launchConfig"],
                                               like["scalePolicy"]))["name"]
        assert mine not in recreated
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert [group["name"] for group in left] == [mine], left
    deletes = [action.render() for action in front.plans[NEW_GROUPS]
               if "DELETE" in action.render()]
    assert len(deletes) == 2 and not any(mine in text for text in deletes), deletes
    said = [line for step, _, line in front.lines if step == NEW_GROUPS and mine in line]
    assert len(said) == 1 and not any(name in said[0] for name in recreated), \
        front.text()[-3000:]


async def test_a_nodegroup_the_way_back_keeps_is_a_warning_named_before_another_attempt(
    tmp_path: Path,
) -> None:
    """Trial 61, F2: a nodegroup made by hand on the new stream manager
    during the window was kept by the way back with an info line only: the
    step read plainly done, the report had no warning, and the exit line said
    only launch configs and scale policies stay in the new database. Kept,
    it stays there (the next attempt's schema step refuses a database that
    holds one) and its nodes are left to the old stream manager: a warning,
    named before another attempt."""
    from runbook import report as report_mod
    from runbook.events import RunEnded

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        like = (await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db))[0]
        async with StreamManagerAPI(host.api_base_url, host.api_token,
                                    host.scenario.new.api) as api:
            mine = (await api.create_nodegroup(like["regions"], like["launchConfig"],
                                               like["scalePolicy"]))["name"]
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    warned = [r for r in read(journal) if r.get("step") == NEW_GROUPS and r.get("warning")
              and mine in json.dumps(r)]
    assert len(warned) == 1, front.text()[-3000:]
    said = json.dumps(warned[0])
    assert "schema step refuses" in said and "cloud's console" in said, said
    report = report_mod.build(journal)
    assert any(mine in note.text for note in report.warnings), report.warnings
    ended = [event for event in front.events if isinstance(event, RunEnded)][-1]
    stays = ended.before_another_attempt["recreate"].stays
    assert mine in stays and "schema step refuses" in stays, stays
    assert mine in report.before_another_attempt, report.before_another_attempt


class OriginsRefused(ScriptedFrontEnd):
    """The new API answers 500 from recreate's first origin launch on (its
    nodegroup made, its note not yet written), until the operator is asked
    what to do: they take the way back."""

    def __init__(self, sandbox_dir: Path) -> None:
        super().__init__(recoveries={"recreate": [Recovery.ROLLBACK]})
        self.sandbox_dir = sandbox_dir

    def tell(self, event: Any) -> None:
        super().tell(event)
        if isinstance(event, Output) and event.step_id == "recreate" \
                and event.stream == "cmd" and "/node/origin" in event.line:
            armed.arm(self.sandbox_dir, "api-error", step="recreate")

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        armed.lift(self.sandbox_dir, "api-error")
        return await super().recover(step, can_roll_back=can_roll_back)


async def test_the_way_back_deletes_a_nodegroup_recreate_made_before_it_failed(
    tmp_path: Path,
) -> None:
    """Recreate made a nodegroup and failed launching its origin, before it
    wrote what it rebuilt: the way back, which deletes only what this run's
    recreate made, still knows that one (recorded as the API named it)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = OriginsRefused(host.sandbox)
        outcome = await session(host, journal).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert front.recovered == [("recreate", True)], front.recovered
    assert not [r for r in read(journal) if r.get("kind") == "nodegroup-recreated"
                and r.get("step") == "recreate"], "recreate got as far as its note"
    deletes = [r["text"] for r in read(journal) if r["event"] == "action-start"
               and r["step"] == NEW_GROUPS]
    assert len(deletes) == 1 and "DELETE" in deletes[0], deletes
    assert left == [], left


def _recreated_by_note(journal: Path) -> list[str]:
    return sorted(r["new"] for r in read(journal) if r["event"] == "note"
                  and r.get("kind") == "nodegroup-recreated" and r.get("step") == "recreate")


async def test_the_way_back_of_a_journal_without_the_record_deletes_every_nodegroup(
    tmp_path: Path,
) -> None:
    """A journal written before recreate recorded the nodegroups it made (an
    older runbook's, resumed by this one) cannot tell recreate's from any
    other: the way back deletes every one the new stream manager lists, as
    it did then, rather than leave recreate's to the old stream manager,
    which tears their nodes down without a drain (review 57c H1)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        assert len(_recreated_by_note(journal)) == 2
        lines = []
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if record.get("event") == "facts":
                record["facts"].pop("recreated_nodegroups", None)
            lines.append(json.dumps(record, ensure_ascii=False))
        journal.write_text("\n".join(lines) + "\n")
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert left == [], [group["name"] for group in left]
    said = "does not record which nodegroups recreate made"
    assert any(said in action.render() for action in front.plans[NEW_GROUPS]), \
        front.plans[NEW_GROUPS]
    assert said in front.text(), front.text()[-3000:]


async def test_the_way_back_deletes_a_nodegroup_whose_making_was_never_recorded(
    tmp_path: Path,
) -> None:
    """Killed right after recreate's POST admin/nodegroup ended (what a lost
    answer to it leaves too): the group is made and nothing names it. The
    way back still takes it for recreate's, by the saved nodegroup it is made
    like, and deletes it; a nodegroup made like no saved one is kept, named
    (review 57c H1)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        records = journal.read_text().splitlines(keepends=True)
        parsed = [json.loads(line) for line in records]
        # The last group's POST: the journal then names the groups made
        # before it, as on a host killed there (review 58a L2: a group the
        # journal says no POST was sent for is not taken for recreate's).
        created = [r["n"] for r in parsed if r["event"] == "action-start"
                   and r["step"] == "recreate" and "POST" in r["text"]
                   and "admin/nodegroup" in r["text"] and "/node/" not in r["text"]][-1]
        ended = next(number for number, r in enumerate(parsed) if r["event"] == "action-end"
                     and r["step"] == "recreate" and r["n"] == created)
        journal.write_text("".join(records[:ended + 1]))  # what a kill -9 there leaves
        groups = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        first_made = min(groups, key=lambda group: group["id"])
        other = max(groups, key=lambda group: group["id"])
        assert first_made["launchConfig"] != other["launchConfig"], groups
        async with StreamManagerAPI(host.api_base_url, host.api_token,
                                    host.scenario.new.api) as api:
            # Made by hand like no saved nodegroup: one's launch config, the
            # other's scale policy.
            mine = (await api.create_nodegroup(first_made["regions"], first_made["launchConfig"],
                                               other["scalePolicy"]))["name"]
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert [group["name"] for group in left] == [mine], left
    said = [line for step, _, line in front.lines if step == NEW_GROUPS
            and "not made by this run's recreate" in line]
    assert said and all(first_made["name"] not in line and other["name"] not in line
                        for line in said), said


class SecondGroupRefusedThenMadeByHand(ScriptedFrontEnd):
    """The new API answers 500 to recreate's second POST admin/nodegroup (a
    definite refusal: no group made). At the question the operator makes one
    by hand, the way the snapshot's second nodegroup was made, then takes the
    way back."""

    def __init__(self, host: RehearsalHost) -> None:
        super().__init__(recoveries={"recreate": [Recovery.ROLLBACK]})
        self.host, self.posts, self.mine = host, 0, ""

    def tell(self, event: Any) -> None:
        super().tell(event)
        if isinstance(event, Output) and event.step_id == "recreate" \
                and event.stream == "cmd" and "POST" in event.line \
                and "admin/nodegroup" in event.line and "/node/" not in event.line:
            self.posts += 1
            if self.posts == 2:
                armed.arm(self.host.sandbox, "api-error", step="recreate")

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        armed.lift(self.host.sandbox, "api-error")
        saved = host_state(self.host).snapshots()[-1].data["nodegroups"][1]
        async with StreamManagerAPI(self.host.api_base_url, self.host.api_token,
                                    self.host.scenario.new.api) as api:
            self.mine = (await api.create_nodegroup(saved["regions"], saved["launchConfig"],
                                                    saved["scalePolicy"]))["name"]
        return await super().recover(step, can_roll_back=can_roll_back)


async def test_a_nodegroup_made_by_hand_like_one_recreate_failed_to_make_is_kept(
        tmp_path: Path) -> None:
    """Review 58a L2: for a saved nodegroup no recorded group stood for, the
    way back took the first listed group made like it for recreate's (its
    making perhaps not recorded). Where recreate's POST for it had failed
    outright (the API's 500: nothing made), a group the operator then made
    by hand the same way was deleted as "this run's recreate made". Only a
    POST whose outcome is not known lets an unrecorded group be taken so."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = SecondGroupRefusedThenMadeByHand(host)
        outcome = await session(host, journal).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert front.posts == 2 and front.mine, front.text()[-3000:]
    assert front.recovered == [("recreate", True)], front.recovered
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert [group["name"] for group in left] == [front.mine], left
    said = [line for step, _, line in front.lines if step == NEW_GROUPS and front.mine in line]
    assert said and all("not made by this run's recreate" in line for line in said), said


async def _a_group_made_like_one_recreate_posted_unrecorded(
        host: RehearsalHost, journal: Path) -> tuple[str, dict[str, Any]]:
    """A drill stopped at the way back, its journal cut right after
    recreate's last POST admin/nodegroup (what a kill -9 there leaves), and a
    nodegroup then made by hand like the one that POST made: (the hand-made
    one's name, the group the journal has no record of)."""
    first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
    outcome = await session(host, journal, rollback_after="recreate").run(first)
    assert outcome is Outcome.STOPPED, first.text()[-3000:]
    records = journal.read_text().splitlines(keepends=True)
    parsed = [json.loads(line) for line in records]
    # The last group's POST: the journal then names the groups made
    # before it, as on a host killed there (review 58a L2: a group the
    # journal says no POST was sent for is not taken for recreate's).
    created = [r["n"] for r in parsed if r["event"] == "action-start"
               and r["step"] == "recreate" and "POST" in r["text"]
               and "admin/nodegroup" in r["text"] and "/node/" not in r["text"]][-1]
    ended = next(number for number, r in enumerate(parsed) if r["event"] == "action-end"
                 and r["step"] == "recreate" and r["n"] == created)
    journal.write_text("".join(records[:ended + 1]))  # what a kill -9 there leaves
    groups = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    unrecorded = max(groups, key=lambda group: group["id"])
    async with StreamManagerAPI(host.api_base_url, host.api_token,
                                host.scenario.new.api) as api:
        mine = (await api.create_nodegroup(unrecorded["regions"], unrecorded["launchConfig"],
                                           unrecorded["scalePolicy"]))["name"]
    return mine, unrecorded


async def test_two_nodegroups_made_like_one_whose_making_was_not_recorded_are_both_left(
    tmp_path: Path,
) -> None:
    """Review 58a L2: killed right after recreate's POST admin/nodegroup, with
    a nodegroup then made by hand the same way, two groups not on record are
    made like the saved one: the way back took the first listed for
    recreate's, which could be the one made by hand. Neither is deleted now,
    and the way back says both are left, as a warning."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        mine, unrecorded = await _a_group_made_like_one_recreate_posted_unrecorded(host, journal)
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert sorted(group["name"] for group in left) == sorted([mine, unrecorded["name"]]), left
    warned = [r for r in read(journal) if r.get("kind") == "new-nodegroups-left"]
    assert warned and {mine, unrecorded["name"]} <= set(warned[-1]["groups"]), warned
    assert "cannot tell" in front.text(), front.text()[-3000:]


async def test_nodegroups_it_cannot_tell_apart_are_warned_of_when_the_new_api_fails_too(
    tmp_path: Path,
) -> None:
    """Review 59c M3: where rollback-nodegroups' run met a new API that fails
    throughout, the warning named the groups it was to delete, not those its
    check could not tell apart (left too, and torn down undrained by the old
    stream manager once it runs): only an info line named them."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        mine, unrecorded = await _a_group_made_like_one_recreate_posted_unrecorded(host, journal)

        def failing(step: StepReport, plan: object) -> None:  # after its check: its run fails
            if step.id == NEW_GROUPS:
                armed.arm(host.sandbox, "api-error", step=NEW_GROUPS)
            else:  # the API answers again for the rest of the way back
                armed.lift(host.sandbox, "api-error")

        front = ScriptedFrontEnd(on_confirm=failing)
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
        armed.lift(host.sandbox, "api-error")
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    warned = [r for r in read(journal) if r.get("kind") == "new-nodegroups-left"]
    assert warned and {mine, unrecorded["name"]} <= set(warned[-1]["groups"]), warned


async def test_recreates_nodegroups_are_looked_for_again_once_the_new_api_answers(
        tmp_path: Path) -> None:
    """Review 58a, M1: one HTTP 500 from the new API as rollback-nodegroups
    looked made it "done, nothing deleted", trusted by every resume: recreate's
    nodegroups were never deleted though the API answered again long before
    the new release stopped, and the old stream manager tore their nodes down
    undrained. A resume looks again while it left them."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        assert await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        armed.arm(host.sandbox, "api-error", step=NEW_GROUPS)

        def lifted(step: StepReport, plan: object) -> None:  # it answers again from here
            armed.lift(host.sandbox, "api-error")

        second = ScriptedFrontEnd({"rollback-stop-new": Decision(Answer.STOP)},
                                  on_confirm=lifted)
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        assert outcome is Outcome.STOPPED, second.text()[-3000:]
        third = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(third)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, third.text()[-3000:]
    assert left == [], [group["name"] for group in left]


async def test_runbook_rollback_going_on_back_does_not_say_a_way_back_step_made_it_choose(
        tmp_path: Path) -> None:
    """ccfe576 (trial 58 L4): `runbook rollback`'s why names the earlier run's
    last failed or in-doubt step. Going on with a way back that stopped at
    its own step, that is a way-back step: `runbook log` then reads "the way
    back ... resumed: rollback-restore failed, and the operator chose the way
    back (runbook rollback)"."""
    import json


    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        def weather(step: StepReport, plan: object) -> None:
            if step.id == "rollback-restore":
                armed.arm(host.sandbox, "permission-denied", step="rollback-restore")

        first = ScriptedFrontEnd(on_confirm=weather)
        outcome = await session(host, journal, rollback_after="start-service").run(first)
        assert outcome is Outcome.FAILED, first.text()[-3000:]
        armed.lift(host.sandbox, "permission-denied")
        second = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        assert outcome is Outcome.ROLLED_BACK, second.text()[-3000:]
    whys = [json.loads(line).get("why") for line in journal.read_text().splitlines()
            if json.loads(line).get("event") == "way-back"]
    assert not any("rollback-restore failed, and the operator chose" in (why or "")
                   for why in whys), whys


async def test_one_failed_look_at_the_new_api_is_asked_again_before_it_is_given_up(
        tmp_path: Path) -> None:
    """One HTTP 500 as rollback-nodegroups looks at the new API (it is busy a
    moment) no longer leaves recreate's nodegroups to the old stream manager,
    whose sweep takes their nodes down undrained: the look is asked again
    after a short pause, and they are deleted in the same run."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        assert await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        armed.arm(host.sandbox, "api-error", step=NEW_GROUPS, times=1)
        second = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        still_armed = armed.armed(host.sandbox, "api-error")
    assert still_armed is None  # the one 500 was answered
    assert outcome is Outcome.ROLLED_BACK, second.text()[-3000:]
    assert left == [], [group["name"] for group in left]


async def test_a_delete_that_failed_once_is_sent_again_after_a_look(tmp_path: Path) -> None:
    """One HTTP 500 to a DELETE: the listing is looked at, and the nodegroup,
    still standing and not being deleted, is sent its DELETE again."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        made = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        assert made
        armed.arm(host.sandbox, "api-error", step=NEW_GROUPS, method="DELETE", times=1)
        second = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        still_armed = armed.armed(host.sandbox, "api-error")
    assert still_armed is None
    assert outcome is Outcome.ROLLED_BACK, second.text()[-3000:]
    assert left == [], [group["name"] for group in left]
    deletes = [line for step, _, line in second.lines
               if step == NEW_GROUPS and "DELETE" in line]
    assert deletes, second.text()[-3000:]


async def test_one_nodegroup_whose_delete_keeps_failing_does_not_stop_the_others(
        tmp_path: Path) -> None:
    """Review 60a F8: one of recreate's nodegroups whose DELETE the new API
    fails every time (a group in a bad state on its side) ended the loop:
    the groups after it were sent no DELETE and were all left to the old
    stream manager, which tears their nodes down undrained. Each group gets
    its tries now; only the one that failed is left, and warned of by name."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        made = sorted(g["name"] for g in
                      await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db))
        assert len(made) >= 2, made
        stuck = made[0]  # the first one deleted: the others come after it
        armed.arm(host.sandbox, "api-error", method="DELETE", path=f"admin/nodegroup/{stuck}")
        second = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        armed.lift(host.sandbox, "api-error")
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert outcome is Outcome.ROLLED_BACK, second.text()[-3000:]
    assert [g["name"] for g in left] == [stuck], second.detail(NEW_GROUPS)
    warned = [r for r in read(journal) if r.get("kind") == "new-nodegroups-left"]
    assert warned and warned[-1]["groups"] == [stuck], [r["text"] for r in warned]
    assert f"left to the old stream manager: {stuck}" in second.detail(NEW_GROUPS), \
        second.detail(NEW_GROUPS)


async def test_a_delete_refused_as_under_way_asks_the_listing_again_if_it_fails_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 59c L2: where a DELETE is answered 404 "already being terminated"
    (another DELETE went first), the listing is looked at to tell. That look
    was asked once: one HTTP 500 there, and the 404 failed the step, leaving
    every nodegroup to the old stream manager's sweep. It is asked again now,
    like the step's other reads."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        assert await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        real = StreamManagerAPI.delete_nodegroup

        async def another_went_first(api: StreamManagerAPI, name: str) -> dict[str, Any]:
            await real(api, name)  # another's DELETE: the group is terminating
            armed.arm(host.sandbox, "api-error", method="GET", times=1)
            return await real(api, name)  # ours: 404, and the next listing a 500

        monkeypatch.setattr(StreamManagerAPI, "delete_nodegroup", another_went_first)
        second = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
        still_armed = armed.armed(host.sandbox, "api-error")
    assert still_armed is None, "the listing's 500 was met"
    assert outcome is Outcome.ROLLED_BACK, second.text()[-3000:]
    assert left == [], second.detail(NEW_GROUPS)
    warned = [r for r in read(journal) if r.get("kind") == "new-nodegroups-left"]
    assert not warned, [r["text"] for r in warned]


@pytest.mark.parametrize("refusal", ["already being terminated", "refused"])
async def test_a_listing_that_fails_after_a_refused_delete_is_said_so_not_as_the_delete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str) -> None:
    """Review 60c, F7: a DELETE refused (400/404), and the listing that tells
    whether the group is going failed at every try: that was counted as the
    DELETE failing for good ("its DELETE still fails"), the group not waited
    for and left to the old stream manager's sweep. Where the API's answer
    says the group is being terminated (another's DELETE went first), that
    settles it without the listing; otherwise the listing's failure is said as
    what it is, the group's state unknown, and the wait's listing settles it:
    the group still standing, not being deleted, is left and warned of."""
    from runbook.smapi import SMApiError
    from steps.rollback import API_TRIES

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({NEW_GROUPS: Decision(Answer.STOP)})
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        made = sorted(g["name"] for g in
                      await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db))
        stuck = made[0]
        real = StreamManagerAPI.delete_nodegroup

        async def delete(api: StreamManagerAPI, name: str) -> dict[str, Any]:
            if name != stuck:
                return await real(api, name)
            armed.arm(host.sandbox, "api-error", method="GET", times=API_TRIES)
            if refusal == "refused":  # an answer the fake API never gives: a 400 of its own
                raise SMApiError(f"Bad request (HTTP 400): DELETE admin/nodegroup/{name}: "
                                 "Unable delete node group", 400,
                                 detail="Unable delete node group")
            await real(api, name)  # another's DELETE: the group is terminating
            return await real(api, name)  # ours: 404, "already being terminated"

        monkeypatch.setattr(StreamManagerAPI, "delete_nodegroup", delete)
        second = ScriptedFrontEnd()
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        left = [g["name"] for g in
                await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)]
        still_armed = armed.armed(host.sandbox, "api-error")
    assert still_armed is None, "every try of the listing met its 500"
    assert outcome is Outcome.ROLLED_BACK, second.text()[-3000:]
    said = second.text()
    assert "DELETE still fails" not in said, said[-3000:]
    warned = [r for r in read(journal) if r.get("kind") == "new-nodegroups-left"]
    if refusal == "refused":
        assert f"{stuck}: its DELETE was refused" in said and "state is unknown" in said, \
            said[-3000:]
        assert left == [stuck], second.detail(NEW_GROUPS)
        assert warned and warned[-1]["groups"] == [stuck], [r["text"] for r in warned]
    else:
        assert f"{stuck}: being deleted already, the API says" in said, said[-3000:]
        assert left == [] and not warned, second.detail(NEW_GROUPS)


async def test_a_resume_keeps_the_names_of_the_nodegroups_the_way_back_left(
        tmp_path: Path) -> None:
    """rollback-nodegroups listed recreate's two groups, then the new API
    failed as it went to delete them: done, "left to the old stream manager:
    group-a, group-b" (names in new_nodegroups_left, recreate's leaves, the
    report). The operator stops after rollback-stop-new and resumes: the
    step looks again (recheck_when_resumed, 7ee...), finds the new release
    stopped, and says "whatever nodegroups recreate made" in their place."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        def weather(step: StepReport, plan: object) -> None:
            if step.id == NEW_GROUPS:  # its check has listed them: the API fails now
                armed.arm(host.sandbox, "api-error", step=NEW_GROUPS)
            elif step.id == "rollback-stop-new":
                armed.lift(host.sandbox, "api-error")

        first = ScriptedFrontEnd({"rollback-set-aside": Decision(Answer.STOP)},
                                 on_confirm=weather)
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        groups = [g["name"] for g in
                  await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)]
        assert groups
        before = replay(journal).facts.get("new_nodegroups_left")
        assert before and all(name in before for name in groups), before
        second = ScriptedFrontEnd({"rollback-set-aside": Decision(Answer.STOP)})
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(second)
        assert outcome is Outcome.STOPPED, second.text()[-3000:]
    history = replay(journal)
    after = history.facts.get("new_nodegroups_left")
    warned = [n for n in history.notes if n.get("kind") == "new-nodegroups-left"]
    assert after and all(name in after for name in groups), (before, after)
    assert len(warned) == 1, [n["text"] for n in warned]


async def test_a_resumed_look_at_left_nodegroups_does_not_say_the_way_back_changed_nothing(
        tmp_path: Path) -> None:
    """Since cee1af3 rollback-nodegroups looks again on a resume where it
    left groups, and its first look proves the token "before the way back
    acts". Resumed after stop-new and set-aside, with a token that is not
    the old install's, it refuses saying "the way back has changed nothing
    on the host yet", and the way back cannot go on to put the old install
    back (before, the step was trusted and the way back went on)."""
    from runbook.cli import wiring
    from tests.rehearsal import rehearsal_settings

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        def weather(step: StepReport, plan: object) -> None:
            if step.id == NEW_GROUPS:
                armed.arm(host.sandbox, "api-error", step=NEW_GROUPS)
            elif step.id == "rollback-stop-new":
                armed.lift(host.sandbox, "api-error")

        first = ScriptedFrontEnd({"rollback-restore": Decision(Answer.STOP)},
                                 on_confirm=weather)
        outcome = await session(host, journal, rollback_after="recreate").run(first)
        assert outcome is Outcome.STOPPED, first.text()[-3000:]
        second = ScriptedFrontEnd()
        resumed = wiring.session(rehearsal_settings(host), token="not-the-old-installs-token",
                                 journal_path=journal, state_dir=host.sandbox / ".operator",
                                 isolated=True, resume=replay(journal), only_back=True)
        outcome = await resumed.run(second)
    said = second.detail(NEW_GROUPS)
    assert "changed nothing on the host" not in said, said


class _CopiesOverAt(ScriptedFrontEnd):
    """Keeps a copy of the journal as delete-nodegroups is asked (before the
    cutover began); at start-service's question, writes that copy over the
    journal in place (the same file: cp opens it with O_TRUNC) and stops."""

    def __init__(self, journal: Path) -> None:
        super().__init__({"start-service": Decision(Answer.STOP)})
        self.journal = journal
        self.early: bytes | None = None

    async def confirm(self, step: StepReport, plan: list[Any]) -> Decision:
        import shutil

        if step.id == "delete-nodegroups" and self.early is None:
            self.early = self.journal.read_bytes()
        if step.id == "start-service":
            aside = self.journal.with_name("backup.jsonl")
            aside.write_bytes(self.early or b"")
            shutil.copyfile(aside, self.journal)  # the operator's `cp`
        return await super().confirm(step, plan)


async def test_a_journal_written_over_mid_cutover_keeps_the_cutover_under_way(
        tmp_path: Path) -> None:
    """Review 60a, F3: an older copy written over the journal in place
    mid-cutover went unnoticed; the run stopped with the stream manager down,
    and the next reader dropped the host's record of the cutover as never
    begun. The run now stops on it, keeps its records beside the journal,
    and the record stays: what is left to do names that kept copy."""
    from runbook.hoststate import HostStateError
    from runbook.journal import JournalWriteError
    from runbook.session import host_state
    from tests.rehearsal import rehearsal_session

    journal = tmp_path / "run.jsonl"
    front = _CopiesOverAt(journal)
    async with rehearsal_host(tmp_path) as host:
        with pytest.raises(JournalWriteError) as stopped:
            await rehearsal_session(host, journal).run(front)
        assert "written over" in str(stopped.value), stopped.value
        assert host.service_pid() is None, "the stream manager is down"
        state = host_state(rehearsal_settings(host), host.sandbox / ".operator")
    kept = tmp_path / "run-kept.jsonl"
    assert replay(kept).cutover_started is not None
    with pytest.raises(HostStateError) as older:
        state.drop_cutover_never_begun()
    assert "older than the cutover" in str(older.value) and str(kept) in str(older.value)
    assert state.cutover() is not None, "the record of the cutover under way stays"


async def test_a_nodegroup_post_carried_out_with_an_unreadable_answer_is_deleted_by_the_way_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 61, F1: recreate's second POST admin/nodegroup is carried out by
    the new API, but its 200 answer is a page runbook cannot read (a proxy's,
    say). It was taken as refused: the saved name left nodegroups_posted, and
    the way back kept the group recreate made as "not made by this run's
    recreate", its nodes left to the old stream manager's sweep. Its outcome
    is unknown now, so the way back finds the group by its making and deletes
    it. Only the answer's body is stood in for: the POST is the fake SM's."""
    import httpx

    real = StreamManagerAPI._send
    posts: list[str] = []

    async def unreadable_second_answer(self: StreamManagerAPI, method: str, path: str,
                                       body: Any = None, query: dict[str, str] | None = None,
                                       ) -> httpx.Response:
        response = await real(self, method, path, body, query)
        if method == "POST" and path.endswith("/admin/nodegroup") \
                and self.version == host.scenario.new.api:
            posts.append(response.json()["name"])
            if len(posts) == 2:
                return httpx.Response(200, headers={"content-type": "text/html"},
                                      text="<html><body>OK</body></html>",
                                      request=response.request)
        return response

    monkeypatch.setattr(StreamManagerAPI, "_send", unreadable_second_answer)
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd(recoveries={"recreate": [Recovery.ROLLBACK]})
        outcome = await session(host, journal).run(front)
        left = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert len(posts) == 2, posts
    assert "may or may not have taken effect" in front.detail("recreate"), front.text()[-3000:]
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    assert left == [], left
    said = [line for step, _, line in front.lines if step == NEW_GROUPS and posts[1] in line]
    assert said and not any("not made by this run's recreate" in line for line in said), said


async def test_runbook_rollback_masks_the_old_installs_secrets_in_the_log_it_shows(
        tmp_path: Path) -> None:
    """Review 61, F4: `runbook rollback` (a new process: no preflight read the
    properties) registered only the API token and LICENSE.KEY. Where the old
    release fails to start and red5.log's last lines quote its config.dbPass
    (a JDBC URL, say), the step showed them in clear, on screen, in the
    journal and the report. Every secret of the properties file the way back
    reads is masked now, as preflight masks them."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)})
        assert await session(host, journal).run(first) is Outcome.STOPPED, first.text()[-3000:]
        old = host.install_dir / "bak.red5pro"
        props = javaproperties.loads((old / PROPS).read_text(encoding="latin-1"))
        password = props["config.dbPass"]
        assert len(password) >= 6, "a password the redactor masks"
        with (old / "log" / "red5.log").open("a") as log:
            log.write(f"ERROR [main] jdbc:mysql://db/cluster?password={password} refused\n")
        jvm = sandbox.jvm_home(host.sandbox, host.scenario.old.java)
        front = PutsBack("rollback-start", jvm, recoveries={"rollback-start": [Recovery.RETRY]})
        outcome = await session(host, journal, resume=replay(journal),
                                only_back=True).run(front)
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    shown = [line for sid, _, line in front.lines if sid == "rollback-start"]
    assert any("jdbc:mysql://db/cluster?password=" in line for line in shown), shown
    assert password not in front.text(), [line for line in shown if password in line]
    assert password not in journal.read_text()
