"""One run at a time on a stream manager install, whatever the SSH login: the claim on the host.

Operator trial 59, F1: two operators (two state folders) against one host;
the second went on beside the first, took its half-done cutover for the live
install and broke it. F6: `runbook rehearse`'s own run and a `runbook run`
against the same rehearsal host did the same. Each drives real runs over real
SSH against the rehearsal host, each from a state folder of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from runbook.cli import wiring
from runbook.config import ConfigError
from runbook.events import JournalNote, Output
from runbook.executor import Answer, Decision, Outcome
from runbook.model import Action, StepReport
from runbook.rehearsal.host import RehearsalHost
from tests.rehearsal import rehearsal_session, rehearsal_settings
from tests.scripted import ScriptedFrontEnd

STOP = Decision(Answer.STOP)


class HeldAt(ScriptedFrontEnd):
    """Answers run to every step until `step`, where it waits until let go,
    then stops there."""

    def __init__(self, step: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.step = step
        self.waiting = asyncio.Event()
        self.go = asyncio.Event()

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        if step.id == self.step:
            self.asked.append(step.id)
            self.waiting.set()
            await self.go.wait()
            return STOP
        return await super().confirm(step, plan)


def other_operator(host: RehearsalHost, folder: Path, **kw: Any) -> Any:
    """A run as a second operator's `runbook run` would open it: another
    state folder, another journal."""
    return wiring.session(rehearsal_settings(host), token=host.api_token,
                          journal_path=folder / "run.jsonl", state_dir=folder / "state", **kw)


def claim_file(host: RehearsalHost) -> Path:
    return host.install_dir / ".runbook-claim" / "holder"


async def test_a_second_operators_run_is_refused_while_the_rehearsals_run_holds_the_host(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """F6, and F1 before the cutover: the rehearsal's run (its own state
    folder) waits at new-database's question; a `runbook run` from another
    state folder is refused before it asks or runs anything, naming the run
    that holds the host. Once that run has ended, the host is free again."""
    first_journal = tmp_path / "first.jsonl"
    first_front = HeldAt("new-database")
    first = asyncio.create_task(
        rehearsal_session(rehearsal_host, first_journal).run(first_front))
    try:
        await asyncio.wait_for(first_front.waiting.wait(), 120)
        second_front = ScriptedFrontEnd()
        with pytest.raises(ConfigError) as refused:
            await other_operator(rehearsal_host, tmp_path / "b").run(second_front)
        said = str(refused.value)
        assert "\n" not in said
        assert "another runbook is working on this host" in said, said
        for part in (str(first_journal.resolve()), f"pid {os.getpid()}", socket.gethostname(),
                     "--take-over-host"):
            assert part in said, said
        assert second_front.asked == [], "refused before any step is asked"
        holder = claim_file(rehearsal_host).read_text()
        assert f"journal={first_journal.resolve()}" in holder.splitlines(), holder
        assert rehearsal_host.api_token not in holder
    finally:
        first_front.go.set()
        outcome = await asyncio.wait_for(first, 120)
    assert outcome is Outcome.STOPPED
    # Ended before the cutover: let go.
    assert not claim_file(rehearsal_host).exists()
    third = ScriptedFrontEnd(answers={"preflight": STOP})
    assert await other_operator(rehearsal_host, tmp_path / "c").run(third) is Outcome.STOPPED
    assert third.asked == ["preflight"]


async def test_a_colleague_logged_in_as_another_ssh_user_is_refused_too(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Operator trial 60, F12: the claim lay in the SSH user's home, so a
    colleague who logged in to the same stream manager host as another SSH
    user found none there, and both could cut over the same install. The
    claim is the install's now, whatever the login: the colleague's run is
    refused before it asks anything, naming the run that holds the host."""
    rehearsal_host.let_in("colleague")
    first_journal = tmp_path / "first.jsonl"
    first_front = HeldAt("new-database")
    first = asyncio.create_task(
        rehearsal_session(rehearsal_host, first_journal).run(first_front))
    try:
        await asyncio.wait_for(first_front.waiting.wait(), 120)
        settings = rehearsal_settings(rehearsal_host)
        theirs = dataclasses.replace(settings, host=dataclasses.replace(settings.host,
                                                                        user="colleague"))
        second_front = ScriptedFrontEnd(answers={"preflight": STOP})
        session = wiring.session(theirs, token=rehearsal_host.api_token,
                                 journal_path=tmp_path / "b" / "run.jsonl",
                                 state_dir=tmp_path / "b" / "state")
        with pytest.raises(ConfigError) as refused:
            await session.run(second_front)
        said = str(refused.value)
        assert "another runbook is working on this host" in said, said
        assert str(first_journal.resolve()) in said, said
        # Trial 62, F9: named by its SSH login too, not only by the login on
        # its own machine (everyone is root on a shared jump box).
        assert f"SSH login {settings.host.user}" in said, said
        assert second_front.asked == [], "refused before any step is asked"
    finally:
        first_front.go.set()
        outcome = await asyncio.wait_for(first, 120)
    assert outcome is Outcome.STOPPED


async def test_a_run_stopped_mid_cutover_keeps_the_host_and_resumed_takes_it_again(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """F1 as the trial had it: the first run stopped with the stream manager
    down (old service killed, new one not started). The host stays claimed:
    a second operator's run is refused before it looks at anything, and the
    first run, resumed from its journal, goes on and lets the host go at its
    end."""
    journal = tmp_path / "first.jsonl"
    first = ScriptedFrontEnd({"start-service": STOP})
    assert await rehearsal_session(rehearsal_host, journal).run(first) is Outcome.STOPPED
    assert rehearsal_host.service_pid() is None
    assert claim_file(rehearsal_host).is_file(), "a cutover under way keeps the host's claim"

    second = ScriptedFrontEnd()
    with pytest.raises(ConfigError) as refused:
        await other_operator(rehearsal_host, tmp_path / "b").run(second)
    assert str(journal.resolve()) in str(refused.value)
    assert second.asked == []

    from runbook.journal_replay import replay

    again = ScriptedFrontEnd()
    outcome = await rehearsal_session(rehearsal_host, journal, resume=replay(journal)).run(again)
    assert outcome is Outcome.DONE, again.text()[-2000:]
    assert not claim_file(rehearsal_host).exists()


async def test_a_claim_of_a_gone_run_is_taken_over_and_another_machines_only_when_told(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """A run killed outright leaves its claim. One of this machine and login
    whose process is gone is taken over, and said; one of another machine is
    refused, unless --take-over-host says that run is gone."""
    holder = claim_file(rehearsal_host)
    holder.parent.mkdir(parents=True)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    holder.write_text(f"login={__import__('getpass').getuser()}\nmachine={socket.gethostname()}\n"
                      f"pid={dead}\njournal=/gone/run.jsonl\nsince=2026-12-07T00:00:00+00:00\n")
    first = ScriptedFrontEnd(answers={"preflight": STOP})
    assert await other_operator(rehearsal_host, tmp_path / "a").run(first) is Outcome.STOPPED
    said = [e.message for e in first.events if isinstance(e, JournalNote)]
    assert any("/gone/run.jsonl" in line and "taken over" in line for line in said), said

    holder.parent.mkdir(parents=True)
    holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\njournal=/home/c/run.jsonl\n"
                      "since=2026-12-07T00:00:00+00:00\n")
    with pytest.raises(ConfigError) as refused:
        await other_operator(rehearsal_host, tmp_path / "b").run(ScriptedFrontEnd())
    assert "colleague on laptop-2 (pid 4242)" in str(refused.value)
    settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=True)
    taken = ScriptedFrontEnd(answers={"preflight": STOP})
    session = wiring.session(settings, token=rehearsal_host.api_token,
                             journal_path=tmp_path / "c" / "run.jsonl",
                             state_dir=tmp_path / "c" / "state")
    assert await session.run(taken) is Outcome.STOPPED
    assert taken.asked == ["preflight"]
    assert not holder.exists()


async def test_preflight_says_a_cutover_half_done_by_another_run_is_there(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Trial 59, F1: a third run's preflight, on a host where another run (of
    another state folder) stopped after promote-new, said only that the live
    install already runs the new release. It says now that bak.red5pro is
    beside it and that no java runs from it."""
    first = ScriptedFrontEnd({"start-service": STOP})
    assert await rehearsal_session(rehearsal_host, tmp_path / "first.jsonl").run(first) \
        is Outcome.STOPPED
    # Its claim gone (removed by hand; or an older runbook's run, which
    # made none): a claim kept for a cutover under way refuses even
    # --take-over-host (review 60a, F10).
    import shutil

    shutil.rmtree(claim_file(rehearsal_host).parent)
    settings = rehearsal_settings(rehearsal_host)
    third = ScriptedFrontEnd()
    session = wiring.session(settings, token=rehearsal_host.api_token,
                             journal_path=tmp_path / "c" / "run.jsonl",
                             state_dir=tmp_path / "c" / "state")
    await session.run(third)
    warned = [e.line for e in third.events
              if isinstance(e, Output) and e.step_id == "preflight" and e.warning]
    assert any("bak.red5pro is beside the live install" in line for line in warned), \
        third.text()[-3000:]
    assert any("no java process runs from" in line and "not running" in line
               for line in warned), third.text()[-3000:]


def test_the_refusal_is_one_line_and_exit_2_and_take_over_host_goes_on(tmp_path: Path) -> None:
    """As the operator sees it: `runbook rehearse` (its own host) finds a
    claim another machine left there, refuses in one line with exit 2 and
    leaves no journal; with --take-over-host it goes on to its first
    question, and a stop there lets the host go."""
    import subprocess
    import sys

    sandbox = tmp_path / "sandbox"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}

    def rehearse(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "runbook.cli", "rehearse", "--sandbox",
                               str(sandbox), "--headless", *args], input="q\n",
                              capture_output=True, text=True, timeout=180, env=env)

    made = rehearse()
    assert made.returncode == 3, made.stdout + made.stderr
    holder = sandbox / "usr" / "local" / ".runbook-claim" / "holder"
    assert not holder.exists()
    holder.parent.mkdir()
    holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\njournal=/home/c/run.jsonl\n"
                      "since=2026-12-07T00:00:00+00:00\n")
    journals = set((sandbox / ".operator" / "runs").glob("*.jsonl"))

    refused = rehearse("--new-run")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = refused.stderr.strip()
    assert "\n" not in line and "colleague on laptop-2 (pid 4242)" in line, line
    assert "--take-over-host" in line and "Traceback" not in refused.stderr
    assert "serves as before" not in refused.stdout
    assert set((sandbox / ".operator" / "runs").glob("*.jsonl")) == journals, "no journal"
    # Nor does it name one (it named the journal it claimed, then removed it).
    named = [line.split("journal: ", 1)[1] for line in refused.stdout.splitlines()
             if "journal: " in line]
    assert all(Path(path).exists() for path in named), refused.stdout

    taken = rehearse("--new-run", "--take-over-host")
    assert taken.returncode == 3, taken.stdout + taken.stderr
    assert not holder.exists()


def test_a_run_that_took_another_machines_claim_says_only_what_it_knows(
        tmp_path: Path) -> None:
    """--take-over-host replaced a claim another machine left: that run may
    have changed the host (nodegroups deleted) in ways preflight does not
    see. The exit line said "the live stream manager serves as before"; it
    says now whose run the host was taken from, and to look at the host. And
    where no claim was there to take, the run says not that one was replaced."""
    import subprocess
    import sys

    sandbox = tmp_path / "sandbox"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}

    def rehearse(*args: str, answers: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "runbook.cli", "rehearse", "--sandbox",
                               str(sandbox), "--headless", "--new-run", *args], input=answers,
                              capture_output=True, text=True, timeout=180, env=env)

    # Preflight passes, then the operator quits at upload; nobody's claim was there.
    alone = rehearse("--take-over-host", answers="y\nq\n")
    assert alone.returncode == 3, alone.stdout + alone.stderr
    assert "replaced" not in alone.stdout and "taken over" not in alone.stdout, alone.stdout
    assert "serves as before" in alone.stdout, alone.stdout

    holder = sandbox / "usr" / "local" / ".runbook-claim" / "holder"
    holder.parent.mkdir()
    holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\njournal=/home/c/run.jsonl\n"
                      "since=2026-12-07T00:00:00+00:00\n")
    taken = rehearse("--take-over-host", answers="y\nq\n")
    assert taken.returncode == 3, taken.stdout + taken.stderr
    assert "colleague on laptop-2" in taken.stdout.split("runbook: ")[0], \
        "the take-over is said as it happens, naming whose claim it was"
    exit_lines = [line for line in taken.stdout.splitlines() if line.startswith("runbook: ")]
    said = exit_lines[0]
    assert "serves as before" not in said, said
    assert "colleague on laptop-2" in said and "look at the host" in said, said


async def test_a_claim_left_by_a_run_that_lost_its_host_is_said_whose_and_how_old(
        rehearsal_host: RehearsalHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose end could not let its claim go (the host out of reach by
    then, or here sudo refused meanwhile) leaves it, said (review 62, G2).
    A run from another machine is told whose it is and how old, so its
    operator can judge whether that run is gone; the next run from this
    machine and login, once that process has ended, takes it over and says
    so."""
    from runbook.claim import parse
    from runbook.rehearsal import armed
    from tests.rehearsal import as_if_its_process_ended

    journal = tmp_path / "first.jsonl"
    first_front = HeldAt("new-database")
    first = asyncio.create_task(rehearsal_session(rehearsal_host, journal).run(first_front))
    await asyncio.wait_for(first_front.waiting.wait(), 120)
    armed.arm(rehearsal_host.sandbox, "permission-denied")
    try:
        first_front.go.set()
        assert await asyncio.wait_for(first, 120) is Outcome.STOPPED
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")
    held = parse(claim_file(rehearsal_host).read_text())
    assert held is not None and held.journal == str(journal.resolve()), held
    as_if_its_process_ended(rehearsal_host)  # that runbook has exited since

    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(socket, "gethostname", lambda: "laptop-2")
        with pytest.raises(ConfigError) as refused:
            await other_operator(rehearsal_host, tmp_path / "b").run(ScriptedFrontEnd())
    said = str(refused.value)
    assert f"{held.login} on {socket.gethostname()}" in said, said
    assert str(journal.resolve()) in said, said
    assert " ago" in said, f"how old the claim is: {said}"

    again = ScriptedFrontEnd(answers={"preflight": STOP})
    assert await other_operator(rehearsal_host, tmp_path / "c").run(again) is Outcome.STOPPED
    notes = [e.message for e in again.events if isinstance(e, JournalNote)]
    assert any("taken over" in note and str(journal.resolve()) in note for note in notes), notes
    assert again.asked == ["preflight"]


async def test_the_way_back_asked_before_a_cutover_after_a_take_over_says_not_what_serves(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """After --take-over-host, asking for the way back before this run's
    cutover said "the cutover has not begun, and the live stream manager
    serves as before": that run may have begun one this run knows nothing of.
    The engine's answer, and the TUI's r, say only what this run knows."""
    from screens.app import create_app
    from screens.views import way_back
    from tests.polling import until
    from tests.rehearsal import rehearsal_session

    def claimed() -> None:
        holder = claim_file(rehearsal_host)
        holder.parent.mkdir(parents=True, exist_ok=True)
        holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\n"
                          "journal=/home/c/run.jsonl\nsince=2026-12-07T00:00:00+00:00\n")

    settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=True)
    claimed()
    front = ScriptedFrontEnd({"preflight": [Decision(Answer.ROLLBACK), STOP]})
    await rehearsal_session(rehearsal_host, tmp_path / "a.jsonl", settings).run(front)
    said = front.text()
    assert "nothing to go back from" in said, said[-2000:]
    assert "serves as before" not in said and "colleague on laptop-2" in said, said[-2000:]

    claimed()
    app = create_app(lambda continuing: rehearsal_session(
        rehearsal_host, tmp_path / "b.jsonl", settings, resume=continuing),
        rehearsal=True, host_label="pytest")
    async with app.run_test(size=(120, 40)):
        await until(lambda: app.asking is not None, timeout=60, what="preflight's question")
        told, _warning = way_back(app.run_state, None)
        assert "serves as before" not in told and "colleague on laptop-2" in told, told
        app.exit()


async def test_a_claim_kept_for_a_cutover_under_way_is_not_taken_as_gone(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 60a F1: the first run stops mid-cutover (stream manager down)
    and its process ends. A run of the same login on the same machine, from
    another state folder (XDG_STATE_HOME moved, say), took the kept claim
    over as a gone run's, then let it go. It is refused, and the claim stays."""
    from tests.rehearsal import as_if_its_process_ended

    journal = tmp_path / "first.jsonl"
    first = ScriptedFrontEnd({"start-service": STOP})
    assert await rehearsal_session(rehearsal_host, journal).run(first) is Outcome.STOPPED
    assert rehearsal_host.service_pid() is None
    as_if_its_process_ended(rehearsal_host)
    second = ScriptedFrontEnd(answers={"preflight": STOP})
    with pytest.raises(ConfigError) as refused:
        await other_operator(rehearsal_host, tmp_path / "b").run(second)
    assert "has not ended" in str(refused.value), refused.value
    assert second.asked == []
    holder = claim_file(rehearsal_host).read_text()
    assert f"journal={journal.resolve()}" in holder.splitlines(), holder


async def test_take_over_host_is_refused_over_a_cutover_under_way_unless_it_goes_on_with_it(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 60a F10: A stopped mid-cutover (the fleet deleted) and ended.
    B was told to wait for that run to end or use --take-over-host; it did,
    and its run upgraded from the emptied fleet. Now the refusal says a
    cutover is under way and to go on with its journal, and --take-over-host
    is refused too; a run that goes on with that cutover (a copy of its
    journal, elsewhere) may take the host over."""
    from runbook.journal_replay import replay

    journal = tmp_path / "a.jsonl"
    first = ScriptedFrontEnd({"backup-live": STOP})
    assert await rehearsal_session(rehearsal_host, journal).run(first) is Outcome.STOPPED
    began = replay(journal).cutover_started
    assert began is not None
    holder = claim_file(rehearsal_host).read_text()
    assert f"cutover={began}" in holder.splitlines(), holder
    assert rehearsal_host.api_token not in holder

    for over in (False, True):
        settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=over)
        front = ScriptedFrontEnd()
        session = wiring.session(settings, token=rehearsal_host.api_token,
                                 journal_path=tmp_path / f"b{over}" / "run.jsonl",
                                 state_dir=tmp_path / f"b{over}" / "state")
        with pytest.raises(ConfigError) as refused:
            await session.run(front)
        said = str(refused.value)
        assert "\n" not in said
        for part in ("cutover", "has not ended", str(journal.resolve()), "may be down",
                     "--resume", "runbook rollback"):
            assert part in said, said
        assert "Wait for that run" not in said and "--take-over-host" not in said, said
        # Its journal is here and says the cutover goes on: no claim left behind.
        assert "left behind" not in said and "rm -r" not in said, said
        assert front.asked == []
        assert claim_file(rehearsal_host).read_text() == holder

    # Its journal copied to another machine: the resume there goes on with it.
    copy = tmp_path / "elsewhere" / "a.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(journal.read_bytes())
    settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=True)
    going_on = ScriptedFrontEnd({"backup-live": STOP})
    session = wiring.session(settings, token=rehearsal_host.api_token, journal_path=copy,
                             state_dir=tmp_path / "elsewhere" / "state", resume=replay(copy))
    assert await session.run(going_on) is Outcome.STOPPED
    assert going_on.asked[-1] == "backup-live", going_on.text()[-2000:]
    kept = claim_file(rehearsal_host).read_text().splitlines()
    assert f"cutover={began}" in kept and f"journal={copy.resolve()}" in kept, kept


async def test_take_over_host_is_refused_over_a_run_that_still_runs_on_this_machine(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Trial 60, F5: --take-over-host replaced the claim of a runbook still
    running on this very machine (its pid alive); that run was never told and
    went on into its cutover beside the taker. A run whose process is seen
    running here is not gone, whatever the operator says: quit it first."""
    holder = claim_file(rehearsal_host)
    holder.parent.mkdir(parents=True)
    # A runbook's process as `ps` shows it (its argv[0]): a bare live pid
    # reused by another program is not one (review 60c, F2, below).
    alive = await asyncio.create_subprocess_exec("bash", "-c", "exec -a runbook sleep 60")
    try:
        holder.write_text(f"login={__import__('getpass').getuser()}\n"
                          f"machine={socket.gethostname()}\npid={alive.pid}\n"
                          "journal=/elsewhere/run.jsonl\nsince=2026-12-07T00:00:00+00:00\n")
        settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=True)
        session = wiring.session(settings, token=rehearsal_host.api_token,
                                 journal_path=tmp_path / "b" / "run.jsonl",
                                 state_dir=tmp_path / "b" / "state")
        with pytest.raises(ConfigError) as refused:
            await session.run(ScriptedFrontEnd())
        said = str(refused.value)
        assert f"pid {alive.pid}" in said and "still runs on this machine" in said, said
        assert "--take-over-host" not in said.split("still runs on this machine")[1], said
        assert f"pid={alive.pid}" in holder.read_text(), "the running run's claim is kept"
    finally:
        alive.kill()
        await alive.wait()


@pytest.mark.parametrize("lost", ["cut off", "no host"])
async def test_a_step_that_changes_the_host_does_not_act_where_its_claim_was_cut_off(
        rehearsal_host: RehearsalHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        lost: str) -> None:
    """Review 60a F5: the claim's own command cut off (the connection dropped
    as it ran) at the run's start and again at each step: preflight and
    new-database, which only look, go on as before; the first step that is
    not only a look (export-config: its snapshot is what recreate rebuilds
    from) ran its actions with no claim on the host, and nothing said so.
    It fails now before its first action, saying the claim could not be
    made; tried again, it claims the host first, then acts. Review 60c,
    F10: so too where the claim found no host at all (its connection
    refused): the step's action, whose own connection may get through,
    went on unclaimed, unsaid."""
    import json

    from runbook import claim as host_claim
    from runbook.executor import Recovery
    from runbook.shell import OutcomeUnknown, RemoteError

    real = host_claim.take
    cut: list[bool] = [True]

    async def cut_off(*args: Any, **kw: Any) -> Any:  # the only stand-in: a drop mid-command
        if cut[0] and lost == "no host":  # or no connection at all, just then
            raise RemoteError("cannot connect to 127.0.0.1:22: Connection refused")
        if cut[0]:
            raise OutcomeUnknown("the SSH connection was lost while the command ran "
                                 "(ConnectionLost); it may or may not have finished")
        return await real(*args, **kw)

    monkeypatch.setattr(host_claim, "take", cut_off)
    held: dict[str, bool] = {}

    class Front(ScriptedFrontEnd):
        async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
            cut[0] = False  # the connection holds again for the try again
            return await super().recover(step, can_roll_back=can_roll_back)

    front = Front({"upload": STOP}, recoveries={"export-config": [Recovery.RETRY]},
                  on_confirm=lambda step, plan: held.setdefault(
                      step.id, claim_file(rehearsal_host).exists()))
    journal = tmp_path / "run.jsonl"
    outcome = await rehearsal_session(rehearsal_host, journal).run(front)
    assert outcome is Outcome.STOPPED, front.text()[-3000:]
    assert front.final_state("preflight") == front.final_state("new-database") == "done", \
        front.text()[-3000:]
    failed = [detail for step, state, detail in front.states
              if step == "export-config" and state == "failed"]
    assert failed and "could not be claimed" in failed[0] and (
        "the connection dropped" if lost == "cut off" else "Connection refused") in failed[0], \
        front.states
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    ours = [r for r in records if r.get("step") == "export-config"
            and r["event"] in ("action-start", "step-end")]
    ended = [n for n, r in enumerate(ours) if r["event"] == "step-end"]
    assert ours[ended[0]]["state"] == "failed", ours
    assert not ours[:ended[0]], ours  # nothing in the try whose claim was cut off
    assert any(r["event"] == "action-start" for r in ours[ended[0]:]), ours
    assert held.get("upload") is True, held


async def test_a_run_whose_claim_was_taken_meanwhile_does_not_begin_its_cutover(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Trial 60, F5 (b): another machine's run took this run's claim with
    --take-over-host while this one waited at a question; this run, never
    told, went on into its cutover beside it. Before the cutover's first
    change a run looks that the claim is still its own, and stops if not:
    as a refusal (trial 62, F3: before each step that changes the host)."""
    holder = claim_file(rehearsal_host)

    class TakenAtDelete(ScriptedFrontEnd):
        async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
            if step.id == "delete-nodegroups":
                holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\n"
                                  "journal=/home/c/run.jsonl\n"
                                  "since=2026-12-07T00:00:00+00:00\n")
            return await super().confirm(step, plan)

    journal = tmp_path / "run.jsonl"
    front = TakenAtDelete(answers={"delete-nodegroups": Decision(Answer.RUN)},
                          recoveries={"delete-nodegroups": []})
    session = rehearsal_session(rehearsal_host, journal)
    with pytest.raises(ConfigError) as refused:
        await session.run(front)
    said = str(refused.value)
    assert "colleague on laptop-2" in said and "Nothing of delete-nodegroups was sent" in said, \
        said
    assert front.recovered == [], "no question of a step that did not start"
    # Review 60c, F13: said once; and what serves is the other run's to say now.
    assert "is as it was" not in said and "try the step again" not in said, said
    assert session.host_state.cutover() is None, "the cutover did not begin"
    assert "machine=laptop-2" in holder.read_text(), "the other run's claim is left to it"


def test_two_runs_taking_over_one_gone_claim_at_once_do_not_both_hold_the_host(
        tmp_path: Path) -> None:
    """Review 60a, F7: a take-over read the holder, then wrote its own over
    it; two runs taking over the same gone claim at once were both told
    "taken", and both ran. The take-over writes only where the holder is
    still the one it read, one taker at a time."""
    import subprocess

    from runbook import claim as host_claim

    install = tmp_path / "usr" / "local"
    install.mkdir(parents=True)
    place = host_claim.Place(str(install), sudo=False)

    def sh(command: str) -> list[str]:
        done = subprocess.run(["bash", "-c", place.command(command)], capture_output=True,
                              text=True, env={**os.environ, "HOME": str(tmp_path)}, timeout=30)
        return host_claim.answer_of(done.stdout)

    gone = host_claim.Claim("ops", "jump-1", 11, "/gone/run.jsonl", "2026-12-07T00:00:00+00:00")
    first = dataclasses.replace(gone, pid=12, journal="/a/run.jsonl")
    second = dataclasses.replace(gone, pid=13, journal="/b/run.jsonl")
    assert sh(host_claim.take_command(gone))[0] == "taken"
    read = "\n".join(sh(host_claim.take_command(first))[1:])  # both read the gone holder
    assert read == "\n".join(sh(host_claim.take_command(second))[1:])
    assert sh(host_claim.retake_command(first, replacing=read))[0] == "taken"
    late = sh(host_claim.retake_command(second, replacing=read))
    assert late[0] == "held" and "journal=/a/run.jsonl" in late, late
    holder = install / ".runbook-claim" / "holder"
    assert "journal=/a/run.jsonl" in holder.read_text()
    # One taking over right now (its mark left there): the other waits its turn.
    (holder.parent / "taking").mkdir()
    assert sh(host_claim.retake_command(second, replacing=holder.read_text()))[0] == "held"


async def test_the_cutovers_first_change_goes_out_under_a_claim_that_says_so(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 60c, F1: the claim was marked with the cutover only at its
    second action, so a run cut off during the first DELETE left a plain
    claim, which another run could take over."""
    holder = claim_file(rehearsal_host)
    seen: list[str] = []

    class Watching(ScriptedFrontEnd):
        def tell(self, event: Any) -> None:
            if isinstance(event, Output) and event.step_id == "delete-nodegroups" \
                    and event.stream == "cmd" and "DELETE" in event.line and not seen:
                seen.append(holder.read_text())  # as the first DELETE is about to go
            super().tell(event)

    front = Watching({"start-service": STOP})
    session = rehearsal_session(rehearsal_host, tmp_path / "run.jsonl")
    await session.run(front)
    assert seen and session.host_state.cutover() is not None
    assert "cutover=" in seen[0], seen[0]


async def test_a_claim_removed_meanwhile_is_taken_again_not_said_taken_by_nobody(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 60c, F5: the claim folder removed while the run waited at
    delete-nodegroups' question (the by-hand advice's rm, say): the run said
    it was "taken meanwhile by another run: ? on ? (pid 0)", and trying again
    could never pass. Nobody holds it: the run claims it again and goes on."""
    import shutil

    holder = claim_file(rehearsal_host)

    class RemovedAtDelete(ScriptedFrontEnd):
        async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
            if step.id == "delete-nodegroups":
                shutil.rmtree(holder.parent)
            return await super().confirm(step, plan)

    front = RemovedAtDelete({"backup-live": STOP})
    session = rehearsal_session(rehearsal_host, tmp_path / "run.jsonl")
    assert await session.run(front) is Outcome.STOPPED, front.text()[-2000:]
    assert front.final_state("delete-nodegroups") == "done", front.text()[-2000:]
    kept = holder.read_text()
    assert "cutover=" in kept and f"pid={os.getpid()}" in kept, kept


async def test_a_run_whose_first_record_does_not_fit_lets_its_claim_go(
        rehearsal_host: RehearsalHost, tmp_path: Path, full_folder: Path) -> None:
    """Review 60c, F3: the state folder full, the run said it did not begin
    and changed nothing, but left its claim on the host, refusing the next
    run of a colleague."""
    from runbook.journal import JournalWriteError

    session = rehearsal_session(rehearsal_host, full_folder / "run.jsonl")
    with pytest.raises(JournalWriteError) as failed:
        await session.run(ScriptedFrontEnd())
    assert "did not begin" in str(failed.value), failed.value
    assert not claim_file(rehearsal_host).exists(), claim_file(rehearsal_host).read_text()


async def test_a_claims_pid_reused_by_another_program_does_not_block_the_host(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 60c, F2: a run killed, its pid later given to another program
    (after a reboot, say): every run was refused as "still runs on this
    machine", --take-over-host too, with no way on. A pid that is not a
    runbook's is a gone run's."""
    holder = claim_file(rehearsal_host)
    holder.parent.mkdir(parents=True)
    other = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        holder.write_text(f"login={__import__('getpass').getuser()}\n"
                          f"machine={socket.gethostname()}\npid={other.pid}\n"
                          "journal=/gone/run.jsonl\nsince=2026-12-07T00:00:00+00:00\n")
        front = ScriptedFrontEnd(answers={"preflight": STOP})
        session = other_operator(rehearsal_host, tmp_path / "b")
        assert await session.run(front) is Outcome.STOPPED
        said = [e.message for e in front.events if isinstance(e, JournalNote)]
        assert any("/gone/run.jsonl" in line and "taken over" in line for line in said), said
    finally:
        other.kill()
        await other.wait()


async def test_the_cutover_record_counts_only_journal_bytes_on_disk(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 60c, F9: the record of the cutover kept the journal's size with
    records not yet synced to disk; a power cut before the cutover's start
    reached the journal then read as an older copy put back, and sent the
    operator to the way back by hand for a cutover that sent nothing. The
    size kept is one the journal had on disk."""
    journal = tmp_path / "run.jsonl"
    synced: list[int] = []
    fsync = os.fsync

    def watched(fd: int) -> None:
        fsync(fd)
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") == str(journal):
                synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", watched)
    session = rehearsal_session(rehearsal_host, journal)
    assert await session.run(ScriptedFrontEnd({"backup-live": STOP})) is Outcome.STOPPED
    record = session.host_state.cutover()
    assert record is not None and record.journal_bytes is not None
    assert record.journal_bytes in synced, (record.journal_bytes, synced[-5:])


def _install_tree(host: RehearsalHost) -> list[tuple[str, int]]:
    """Every path in the install folder, with its modification time."""
    return sorted((str(path), path.lstat().st_mtime_ns)
                  for path in host.install_dir.rglob("*"))


async def test_a_claim_sudo_refuses_is_said_in_one_line_and_changes_nothing(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """The claim is root's (trial 60, F12: beside the install, whatever the
    login), so where sudo asks for a password it cannot be taken: the run is
    refused in one line naming sudo, the claim's place and what to do, before
    any step, a refusal as a config's is (exit 2), and nothing on the host
    changes."""
    from runbook.claim import ClaimRefused
    from runbook.rehearsal import armed

    before = _install_tree(rehearsal_host)
    armed.arm(rehearsal_host.sandbox, "permission-denied")
    try:
        front = ScriptedFrontEnd()
        with pytest.raises(ClaimRefused) as refused:
            await other_operator(rehearsal_host, tmp_path / "b").run(front)
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")
    said = str(refused.value)
    assert "\n" not in said, said
    for part in ("sudo refused", "a password is required", "nothing was changed",
                 str(rehearsal_host.install_dir / ".runbook-claim"), "password-less sudo",
                 "host.sudo = false"):
        assert part in said, said
    assert front.asked == []
    assert _install_tree(rehearsal_host) == before, "nothing on the host changed"
    assert not (rehearsal_host.home / ".runbook" / "run.lock").exists()


def _older_claim(host: RehearsalHost, text: str) -> Path:
    """A claim as an older runbook left it, in the SSH user's home."""
    holder = host.home / ".runbook" / "run.lock" / "holder"
    holder.parent.mkdir(parents=True)
    holder.write_text(text)
    return holder


async def test_an_older_runbooks_claim_in_the_ssh_users_home_is_honoured_never_written(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """During the switch to the install's claim, a run of an older runbook
    holds its claim in the SSH user's ~/.runbook/run.lock: a new run is
    refused by it as by any claim, and writes nothing there; one told the
    run is gone (--take-over-host) removes it, claims the install and says
    whose it took. A gone run's of this machine is taken over as before."""
    older = _older_claim(rehearsal_host, "login=colleague\nmachine=laptop-2\npid=4242\n"
                         "journal=/home/c/run.jsonl\nsince=2026-12-07T00:00:00+00:00\n")
    text = older.read_text()
    front = ScriptedFrontEnd()
    with pytest.raises(ConfigError) as refused:
        await other_operator(rehearsal_host, tmp_path / "a").run(front)
    said = str(refused.value)
    assert "colleague on laptop-2 (pid 4242)" in said and "older runbook" in said, said
    assert "~/.runbook/run.lock" in said, said
    assert front.asked == [] and older.read_text() == text
    assert not claim_file(rehearsal_host).parent.exists(), "nothing claimed beside it"

    held: list[bool] = []
    settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=True)
    taken = ScriptedFrontEnd(answers={"preflight": STOP}, on_confirm=lambda step, plan: (
        held.append(claim_file(rehearsal_host).is_file() and not older.parent.exists())))
    session = wiring.session(settings, token=rehearsal_host.api_token,
                             journal_path=tmp_path / "b" / "run.jsonl",
                             state_dir=tmp_path / "b" / "state")
    assert await session.run(taken) is Outcome.STOPPED
    assert held == [True], "the install claimed, the older claim gone"
    notes = [e.message for e in taken.events if isinstance(e, JournalNote)]
    assert any("colleague on laptop-2" in note and "older runbook" in note
               for note in notes), notes
    assert not older.parent.exists() and not claim_file(rehearsal_host).parent.exists()

    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    _older_claim(rehearsal_host, f"login={__import__('getpass').getuser()}\n"
                 f"machine={socket.gethostname()}\npid={dead}\njournal=/gone/run.jsonl\n"
                 "since=2026-12-07T00:00:00+00:00\n")
    again = ScriptedFrontEnd(answers={"preflight": STOP})
    assert await other_operator(rehearsal_host, tmp_path / "c").run(again) is Outcome.STOPPED
    notes = [e.message for e in again.events if isinstance(e, JournalNote)]
    assert any("/gone/run.jsonl" in note and "taken over" in note for note in notes), notes
    assert not older.parent.exists()


def test_a_holder_that_cannot_be_written_leaves_no_claim_behind(tmp_path: Path) -> None:
    """Review 60a, F2: the claim folder was made, then its holder could not be
    written (a full disk): the folder stayed, empty, holding the host for
    nobody, and every later run was refused by "one whose record is still
    being written". The claim that could not be written whole goes again,
    and the run is told it could not claim the host."""
    import subprocess

    from runbook import claim as host_claim

    install = tmp_path / "usr" / "local"
    install.mkdir(parents=True)
    full = tmp_path / "full-disk"
    full.mkdir()
    # `mv` as a full disk answers it (the holder's printf is sh's own).
    (full / "mv").write_text("#!/bin/sh\necho 'mv: cannot move: No space left on device' >&2\n"
                             "exit 1\n")
    (full / "mv").chmod(0o755)
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    done = subprocess.run(["bash", "-c", place.command(host_claim.take_command(mine))],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "HOME": str(tmp_path),
                               "PATH": f"{full}:{os.environ['PATH']}"})
    assert done.returncode != 0 and "taken" not in done.stdout, done
    assert "No space left" in done.stderr, done.stderr
    assert not (install / host_claim.NAME).exists(), "no empty claim is left"


async def test_a_run_that_entered_while_another_waited_to_resume_refuses_that_resume(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Trial 60, F4: a rehearsal waiting at its resume dialog holds no claim
    on the host yet (which journal goes on is the operator's choice there),
    so another operator's run may enter meanwhile. It cannot go on beside
    that run: the resume, once chosen, claims before it journals or asks
    anything, and is refused, naming the run that holds the host."""
    from runbook.journal_replay import replay

    journal = tmp_path / "first.jsonl"
    first = ScriptedFrontEnd({"upload": STOP})
    assert await rehearsal_session(rehearsal_host, journal).run(first) is Outcome.STOPPED
    assert not claim_file(rehearsal_host).exists(), "stopped before the cutover: let go"
    before = journal.read_bytes()

    other_front = HeldAt("new-database")
    other = asyncio.create_task(other_operator(rehearsal_host, tmp_path / "b").run(other_front))
    try:
        await asyncio.wait_for(other_front.waiting.wait(), 120)
        resumed = ScriptedFrontEnd()
        with pytest.raises(ConfigError) as refused:
            await rehearsal_session(rehearsal_host, journal, resume=replay(journal)).run(resumed)
        said = str(refused.value)
        assert "another runbook is working on this host" in said, said
        assert str((tmp_path / "b" / "run.jsonl").resolve()) in said, said
        assert resumed.asked == [] and journal.read_bytes() == before
    finally:
        other_front.go.set()
        assert await asyncio.wait_for(other, 120) is Outcome.STOPPED


async def test_a_claim_sudo_refuses_at_the_first_step_stops_the_run_as_a_refusal(
        rehearsal_host: RehearsalHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host out of reach as the run began, its first step claims it; where
    sudo refuses there, no step may act (the claim is root's): the run stops
    with the refusal's one line, as at the run's start, not a failed step
    whose try again can only meet it once more."""
    from runbook import claim as host_claim
    from runbook.rehearsal import armed
    from runbook.shell import RemoteError

    real = host_claim.take
    calls: list[int] = []

    async def out_of_reach_at_first(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the only stand-in: no host as the run begins
            raise RemoteError("cannot connect to 127.0.0.1:22: Connection refused")
        return await real(*args, **kw)

    monkeypatch.setattr(host_claim, "take", out_of_reach_at_first)
    armed.arm(rehearsal_host.sandbox, "permission-denied")
    try:
        front = ScriptedFrontEnd()
        with pytest.raises(host_claim.ClaimRefused) as refused:
            await other_operator(rehearsal_host, tmp_path / "b").run(front)
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")
    assert "sudo refused" in str(refused.value), refused.value
    assert len(calls) == 2 and front.recovered == [], front.text()[-2000:]
    assert not claim_file(rehearsal_host).parent.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="a plain user is modelled from root")
async def test_a_claim_folder_that_cannot_be_made_is_said_so_not_held_by_another(
        tmp_path: Path) -> None:
    """With host.sudo = false the claim is made as the SSH user; one that may
    not write in install.dir (not root after all) was told "another runbook
    is working on this host: one whose record ... cannot be read": the mkdir
    that failed read as one that found the claim there. It says why it cannot
    claim, and what to do."""
    import subprocess

    from runbook import claim as host_claim
    from runbook.rehearsal.sandbox import PLAIN_USER
    from runbook.shell import CommandResult

    install = tmp_path / "usr" / "local"
    install.mkdir(parents=True)
    os.chown(install, 65534, 65534)  # nobody's: a plain SSH user may not write there
    install.chmod(0o755)

    class PlainUsersHost:  # the host's shell, as a plain user's, on this machine
        target = "ops@sm:22"

        async def run(self, command: str, **options: Any) -> CommandResult:
            done = await asyncio.to_thread(
                subprocess.run, [*PLAIN_USER, "bash", "-c", command], capture_output=True,
                text=True, timeout=30, env={**os.environ, "HOME": str(tmp_path)})
            return CommandResult(command, done.returncode, done.stdout, done.stderr)

    place = host_claim.Place(str(install), sudo=False)
    with pytest.raises(host_claim.ClaimRefused) as refused:
        await host_claim.take(PlainUsersHost(), host_claim.mine("/a/run.jsonl"),  # type: ignore[arg-type]
                              place)
    said = str(refused.value)
    assert "another runbook" not in said and "Permission denied" in said, said
    assert "host.sudo" in said and place.where in said, said
    assert not (install / host_claim.NAME).exists()


class _LocalHost:
    """The host's shell as this machine's bash, with the HOME and PATH given:
    a host without a tool is one whose PATH lacks it."""

    target = "root@sm:22"

    def __init__(self, home: Path, path: str) -> None:
        self.env = {**os.environ, "HOME": str(home), "PATH": path}

    async def run(self, command: str, **options: Any) -> Any:
        import subprocess

        from runbook.shell import CommandResult

        done = await asyncio.to_thread(subprocess.run, ["/bin/bash", "-c", command],
                                       capture_output=True, text=True, timeout=30, env=self.env)
        return CommandResult(command, done.returncode, done.stdout, done.stderr)


def _path_without_sudo(tmp_path: Path) -> str:
    """A PATH holding the tools the claim uses, and no sudo."""
    import shutil

    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("sh", "mkdir", "cat", "printf", "mv", "rm", "rmdir", "find", "grep", "pwd"):
        found = shutil.which(tool)
        if found:
            (bin_ / tool).symlink_to(found)
    return str(bin_)


async def test_a_host_without_sudo_is_told_to_set_host_sudo_false_where_the_login_is_root(
        tmp_path: Path) -> None:
    """Review 61b, F2: a root login on a host with no sudo installed (minimal
    cloud images) and host.sudo left on was refused with "bash: line 1: sudo:
    command not found" and nothing of what to do (preflight used to say it).
    The claim meets this first now, so it says it: sudo is not installed, and
    to set host.sudo = false where the SSH user is root, or install sudo."""
    from runbook import claim as host_claim

    install = tmp_path / "usr" / "local"
    install.mkdir(parents=True)
    place = host_claim.Place(str(install), sudo=True)
    host = _LocalHost(tmp_path, _path_without_sudo(tmp_path))
    with pytest.raises(host_claim.ClaimRefused) as refused:
        await host_claim.take(host, host_claim.mine("/a/run.jsonl"), place)  # type: ignore[arg-type]
    said = str(refused.value)
    assert "\n" not in said, said
    for part in ("sudo is not installed", "host.sudo = false", "root", "install sudo",
                 "nothing was changed", place.where):
        assert part in said, said
    assert not (install / host_claim.NAME).exists()


async def test_an_older_runbooks_claim_stays_where_the_new_claim_refuses_the_run(
        tmp_path: Path) -> None:
    """Review 61b, F3: an older runbook's claim of a gone run (this machine's)
    was removed before the install's claim was made; that one was held by a
    live run of another machine, and the run was refused saying "Nothing was
    changed", the older claim gone. It goes only once the new claim is this
    run's: here it stays; taken over with --take-over-host, both go to this
    run, and the run says both whose claims it took."""
    from runbook import claim as host_claim

    install = tmp_path / "usr" / "local"
    install.mkdir(parents=True)
    place = host_claim.Place(str(install), sudo=False)
    host = _LocalHost(tmp_path, os.environ["PATH"])
    other = host_claim.Claim("ann", "laptop-2", 4242, "/b/run.jsonl",
                             "2026-12-07T00:00:00+00:00")
    (install / host_claim.NAME).mkdir()
    (install / host_claim.NAME / "holder").write_text(other.text())
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    mine = host_claim.mine("/a/run.jsonl")
    old = host_claim.Claim(mine.login, mine.machine, dead, "/gone/run.jsonl",
                           "2026-12-07T00:00:00+00:00")
    legacy = tmp_path / ".runbook" / "run.lock"
    legacy.mkdir(parents=True)
    (legacy / "holder").write_text(old.text())
    with pytest.raises(host_claim.HostClaimed) as refused:
        await host_claim.take(host, mine, place)  # type: ignore[arg-type]
    assert "ann on laptop-2" in str(refused.value), refused.value
    assert (legacy / "holder").read_text() == old.text(), "the older claim stays"

    taken, note = await host_claim.take(host, mine, place, over=True)  # type: ignore[arg-type]
    assert note is not None and "/gone/run.jsonl" in note.said and "ann on laptop-2" in \
        note.said, note
    assert not legacy.exists()
    assert host_claim.parse((install / host_claim.NAME / "holder").read_text()) == taken


async def test_a_claim_refused_at_the_first_step_leaves_no_record_of_the_run(
        rehearsal_host: RehearsalHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 61b, F4: the host out of reach as the run began, sudo refused at
    its first step's claim. The process ended as a refusal (exit 2), but the
    journal ended "failed", exit 1, preflight in doubt, and the next run was
    offered it as unfinished. Refused there, nothing was changed (no claim, so
    no step that changes the host ran), so the run leaves what a refusal at its
    start leaves: no journal of a new run; a resumed one's as it was."""
    from runbook import claim as host_claim
    from runbook.journal import unwritten
    from runbook.journal_replay import replay
    from runbook.rehearsal import armed
    from runbook.shell import RemoteError

    real = host_claim.take
    calls: list[int] = []

    async def out_of_reach_at_first(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) % 2:  # the only stand-in: no host as each run begins
            raise RemoteError("cannot connect to 127.0.0.1:22: Connection refused")
        return await real(*args, **kw)

    journal = tmp_path / "b" / "run.jsonl"
    monkeypatch.setattr(host_claim, "take", out_of_reach_at_first)
    armed.arm(rehearsal_host.sandbox, "permission-denied")
    try:
        with pytest.raises(host_claim.ClaimRefused):
            await other_operator(rehearsal_host, tmp_path / "b").run(ScriptedFrontEnd())
        # Empty: the CLI removes it as it ends (drop_unwritten), and no run is
        # offered as unfinished.
        assert unwritten(journal), journal.read_text()

        earlier = tmp_path / "c" / "run.jsonl"
        monkeypatch.setattr(host_claim, "take", real)
        armed.lift(rehearsal_host.sandbox, "permission-denied")
        stopped = await rehearsal_session(rehearsal_host, earlier).run(
            ScriptedFrontEnd({"upload": STOP}))
        assert stopped is Outcome.STOPPED
        before = earlier.read_bytes()
        monkeypatch.setattr(host_claim, "take", out_of_reach_at_first)
        calls.clear()
        armed.arm(rehearsal_host.sandbox, "permission-denied")
        with pytest.raises(host_claim.ClaimRefused):
            await rehearsal_session(rehearsal_host, earlier, resume=replay(earlier)).run(
                ScriptedFrontEnd())
        assert earlier.read_bytes() == before
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")


async def test_a_claim_that_cannot_be_marked_keeps_the_cutover_from_beginning(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 61b, F7: sudo taken away as the cutover's first change was to go
    (the claim is root's): marking the claim for the cutover failed without a
    word, the cutover began under a plain claim, which a colleague's
    --take-over-host could take. The cutover does not begin unmarked: the
    step fails before its first change, saying why, and nothing of the
    cutover is on record."""
    from runbook.rehearsal import armed

    holder = claim_file(rehearsal_host)

    def sudo_gone_at_the_delete(step: StepReport, plan: list[Action]) -> None:
        if step.id == "delete-nodegroups":
            armed.arm(rehearsal_host.sandbox, "permission-denied")

    front = ScriptedFrontEnd(on_confirm=sudo_gone_at_the_delete)
    session = rehearsal_session(rehearsal_host, tmp_path / "run.jsonl")
    try:
        outcome = await session.run(front)
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")
    assert outcome is Outcome.FAILED
    assert front.recovered == [("delete-nodegroups", False)], front.recovered
    said = front.detail("delete-nodegroups")
    assert "claim" in said and "sudo refused" in said and "did not begin" in said, said
    assert "\n" not in said, said
    assert session.host_state.cutover() is None
    assert not [e for e in front.events if type(e).__name__ == "CutoverStarted"]
    assert not holder.exists() or "cutover=" not in holder.read_text()


async def test_preflight_says_sudo_lost_after_the_claim_with_what_to_do(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Review 61b, F9: the claim meets sudo first, so preflight's own sudo look
    is reached failing only where sudo went after the claim. It is kept for
    that: it says so first, in the claim's words with the fix (host.sudo =
    false where the login is root), not a later root look's "sudo refused"
    alone."""
    from runbook.rehearsal import armed

    def sudo_gone_at_preflight(step: StepReport, plan: list[Action]) -> None:
        if step.id == "preflight":
            armed.arm(rehearsal_host.sandbox, "permission-denied")

    front = ScriptedFrontEnd(on_confirm=sudo_gone_at_preflight)
    try:
        outcome = await rehearsal_session(rehearsal_host, tmp_path / "run.jsonl").run(front)
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")
    assert outcome is Outcome.FAILED
    said = front.detail("preflight")
    assert "sudo refused (a password is required)" in said, said
    assert "host.sudo = false" in said and "password-less sudo" in said, said


async def test_a_cutover_whose_step_first_claims_the_host_begins_under_a_marked_claim(
        rehearsal_host: RehearsalHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 61b, F7 (its other way in): a resumed run whose claim could not
    be made by the steps that only look claims the host at the cutover's
    first action; that
    claim was made plain and the cutover began unmarked, the first DELETE
    on record under a claim another run's --take-over-host could take (and
    where the mark failed at the next action, it stayed plain, unsaid)."""
    from runbook import claim as host_claim
    from runbook.journal_replay import replay
    from runbook.shell import RemoteError

    journal = tmp_path / "run.jsonl"
    first = ScriptedFrontEnd({"delete-nodegroups": STOP})
    assert await rehearsal_session(rehearsal_host, journal).run(first) is Outcome.STOPPED

    real = host_claim.take
    calls: list[int] = []
    reached: list[bool] = []

    async def out_of_reach_at_first(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if not reached:  # the only stand-in: the claim's connections refused till then
            raise RemoteError("cannot connect to 127.0.0.1:22: Connection refused")
        return await real(*args, **kw)

    monkeypatch.setattr(host_claim, "take", out_of_reach_at_first)
    holder = claim_file(rehearsal_host)
    seen: list[str] = []

    class Watching(ScriptedFrontEnd):
        def tell(self, event: Any) -> None:
            if type(event).__name__ == "CutoverStarted":
                seen.append(holder.read_text())  # as the cutover begins on record
            super().tell(event)

    front = Watching({"backup-live": STOP}, on_confirm=lambda step, plan: (
        reached.append(True) if step.id == "delete-nodegroups" else None))
    session = rehearsal_session(rehearsal_host, journal, resume=replay(journal))
    assert await session.run(front) is Outcome.STOPPED, front.text()[-2000:]
    assert len(calls) > 2 and seen, (calls, seen)
    assert "cutover=" in seen[0], seen[0]
