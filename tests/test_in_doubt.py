"""A command whose end never came back is in doubt, whatever cut it off, and
its first attempt is found on the host before the step is tried again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path

import asyncssh
import pytest

from runbook.executor import Executor, Outcome, Recovery
from runbook.facts import Facts
from runbook.hoststate import HostState
from runbook.journal import Journal
from runbook.journal_replay import replay
from runbook.model import Action, Check, Phase, Shell, StepReport, StepState
from runbook.redact import Redactor
from runbook.rehearsal.host import RehearsalHost
from runbook.remote import OutcomeUnknown, Remote
from runbook.step import PlanContext, Step, StepContext
from tests.polling import until
from tests.rehearsal import rehearsal_host, rehearsal_settings
from tests.scripted import ScriptedFrontEnd


def abort_locally(remote: Remote) -> None:
    """What the kernel reports when the local end of the socket is torn down
    (`ss -K`, a VPN dropping): asyncio closes the transport with ECONNABORTED."""
    conn = remote._conn
    assert conn is not None
    conn._transport._force_close(  # type: ignore[attr-defined]
        ConnectionAbortedError(103, "Software caused connection abort"))


async def test_a_locally_aborted_connection_leaves_the_command_in_doubt(
    tmp_path: Path,
) -> None:
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        remote = Remote(rehearsal_settings(host).host, isolated=True)
        await remote.connect()
        asyncio.get_running_loop().call_later(0.5, abort_locally, remote)
        try:
            await remote.run("sleep 2", timeout=10)
        except OutcomeUnknown as exc:
            assert "may or may not" in str(exc)
        else:
            raise AssertionError("a command cut off mid-way must be in doubt")
        finally:
            await remote.close()


class SlowTouch(Step):
    """Makes a marker file after a while, as a long unzip makes its tree."""

    id = "slow-touch"
    title = "Slow touch"
    phase = Phase.PREPARE
    summary = "touches a marker after a few seconds"

    def __init__(self, marker: Path, seconds: float, *, detach: bool = False) -> None:
        self.marker = marker
        self.seconds = seconds
        self.detach = detach  # run as the unzip and systemctl start are

    def command(self) -> str:
        return f"sleep {self.seconds} && touch {self.marker}"

    def plan(self, p: PlanContext) -> list[Action]:
        return [Shell(self.command())]

    async def check(self, ctx: StepContext) -> Check:
        return Check(self.marker.exists(), "marker there")

    async def run(self, ctx: StepContext) -> None:
        await ctx.sh(self.command(), timeout=30, detach=self.detach)


async def run_step(host: RehearsalHost, step: Step, journal: Path, front: ScriptedFrontEnd,
                   resume: bool = False, reconnect_within: float = 120.0,
                   rollback: tuple[Step, ...] = (), remote: Remote | None = None,
                   only_back: bool = False) -> Outcome:
    settings = rehearsal_settings(host)
    remote = remote or Remote(settings.host, isolated=True, reconnect_within=reconnect_within)
    record = Journal(journal)

    async def no_api(fresh: bool) -> None:
        raise AssertionError("not used")

    executor = Executor([] if only_back else [step], settings=settings, facts=Facts(),
                        remote=remote, api_factory=no_api,
                        curl=lambda *a, **k: "curl", journal=record, front=front,
                        redactor=Redactor(), resume=replay(journal) if resume else None,
                        host_state=HostState(host.sandbox / ".operator", "127.0.0.1", 22),
                        rollback=rollback)
    try:
        return await executor.run()
    finally:
        await remote.close()
        record.close()


def sleepers(seconds: float) -> int:
    """`sleep SECONDS` processes on this machine (tests pick unusual lengths)."""
    wanted = f"sleep\0{seconds}\0".encode()
    count = 0
    for proc in Path("/proc").iterdir():
        try:
            count += proc.name.isdigit() and (proc / "cmdline").read_bytes() == wanted
        except OSError:
            continue
    return count


async def most_at_once(seconds: float, running: Awaitable[Outcome]) -> tuple[Outcome, int]:
    """`running`'s outcome, and the most `sleep SECONDS` processes there were
    at once while it ran (two: a step ran beside its earlier attempt)."""
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, sleepers(seconds))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        return await running, most
    finally:
        watcher.cancel()


async def test_a_resumed_step_waits_for_its_first_attempt_still_running(tmp_path: Path) -> None:
    """A dropped connection leaves the first attempt running on the host; the
    old runbook started a second one beside it (a 1 GB unzip ran twice)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "slow-touch.done"
        step = SlowTouch(marker, 3.017)
        asyncio.get_running_loop().call_later(1.0, host.drop_connections)
        first = ScriptedFrontEnd()
        # This run cannot reconnect (a network that stays down), so it ends
        # with the step in doubt and the command still running.
        assert await run_step(host, step, journal, first, reconnect_within=0) is Outcome.FAILED
        assert replay(journal).state(step.id) is StepState.IN_DOUBT
        assert not marker.exists(), "the first attempt is still running"

        second = ScriptedFrontEnd()
        outcome, most = await most_at_once(
            3.017, run_step(host, step, journal, second, resume=True))
        assert outcome is Outcome.DONE, second.text()
        assert most <= 1, "two attempts ran at once"
        assert second.asked == [], "the first attempt finished the job"
        assert "still runs on the host" in second.text()
        records = [json.loads(line) for line in journal.read_text().splitlines()]
        starts = [r for r in records if r["event"] == "action-start"]
        assert len(starts) == 1, "the command ran once"


class SlowStart(SlowTouch):
    """A cutover step whose command the host goes on with after a drop, as
    `systemctl start red5pro` is."""

    id = "slow-start"
    phase = Phase.CUTOVER


class LooksWhatRuns(Step):
    """The way back's first step: it finds what runs, as rollback-stop-new
    does, and notes whether the upgrade's command had ended by then."""

    id = "look-what-runs"
    title = "Look what runs"
    phase = Phase.ROLLBACK
    summary = "finds what still runs of the upgrade"

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.found_running: bool | None = None

    def plan(self, p: PlanContext) -> list[Action]:
        return []

    async def check(self, ctx: StepContext) -> Check:
        self.found_running = not self.marker.exists()
        return Check(True, "looked")

    async def run(self, ctx: StepContext) -> None:
        raise AssertionError("found done by its check")


@pytest.mark.parametrize("taken", ["in-the-run", "runbook-rollback"])
async def test_the_way_back_waits_for_the_upgrades_command_still_running(
        tmp_path: Path, taken: str) -> None:
    """Review: a cutover step left in doubt by a lost connection (its command
    goes on on the host), then the way back taken, in the run or by `runbook
    rollback` after it: its first step looked at once, found nothing
    running, and the command went on to start the new release behind it. The
    way back waits for it first, as a retry does."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "slow-start.done"
        step = SlowStart(marker, 3.023, detach=True)
        look = LooksWhatRuns(marker)
        # The network stays down until the reconnect gives up, and is back
        # by the time the operator answers.
        remote = Remote(rehearsal_settings(host).host, isolated=True, reconnect_within=0)

        class BackOnline(ScriptedFrontEnd):
            async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
                remote.reconnect_within = 30
                return await super().recover(step, can_roll_back=can_roll_back)

        asyncio.get_running_loop().call_later(1.0, host.drop_connections)
        if taken == "in-the-run":
            front = BackOnline(recoveries={"slow-start": [Recovery.ROLLBACK]})
            outcome = await run_step(host, step, journal, front, rollback=(look,), remote=remote)
            assert front.recovered == [("slow-start", True)], front.text()
        else:
            stopped = BackOnline()
            assert await run_step(host, step, journal, stopped, rollback=(look,),
                                  remote=remote) is Outcome.FAILED
            front = ScriptedFrontEnd()
            outcome = await run_step(host, step, journal, front, rollback=(look,), resume=True,
                                     only_back=True)
        assert outcome is Outcome.ROLLED_BACK, front.text()
    assert look.found_running is False, "the way back looked while the command still ran"
    assert "the slow-start attempt's command still runs on the host" in front.text()


async def test_a_retry_after_a_failed_wait_for_the_earlier_runs_command_still_waits(
        tmp_path: Path) -> None:
    """Review: resumed, the step's wait for the command the earlier run left
    running failed (the host away a moment); the retry forgot that command,
    ran the step beside it, and its start then wiped the command from the
    journal, so no later run would wait for it either."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "slow-touch.done"
        step = SlowTouch(marker, 6.037, detach=True)
        asyncio.get_running_loop().call_later(1.0, host.drop_connections)
        assert await run_step(host, step, journal, ScriptedFrontEnd(),
                              reconnect_within=0) is Outcome.FAILED
        assert replay(journal).steps[step.id].in_flight_jobs, "a job to wait for"
        remote = Remote(rehearsal_settings(host).host, isolated=True)
        real = remote.job_status
        looks = 0

        async def away_once(job: str) -> object:
            nonlocal looks
            looks += 1
            if looks == 1:
                raise OutcomeUnknown("the connection was lost while looking")
            return await real(job)

        remote.job_status = away_once  # type: ignore[method-assign]
        second = ScriptedFrontEnd(recoveries={step.id: [Recovery.RETRY]})
        outcome, most = await most_at_once(
            6.037, run_step(host, step, journal, second, resume=True, remote=remote))
    assert outcome is Outcome.DONE, second.text()
    assert most <= 1, "two attempts ran at once"
    assert "still runs on the host" in second.text()


async def test_after_a_drop_the_same_run_waits_for_the_command_and_checks(
    tmp_path: Path,
) -> None:
    """The connection comes back: the run re-opens it, lets the command it
    lost sight of finish, and its check finds the work done; nothing runs
    twice and the operator is not asked."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "slow-touch.done"
        step = SlowTouch(marker, 3.019)
        asyncio.get_running_loop().call_later(1.0, host.drop_connections)
        front = ScriptedFrontEnd()
        assert await run_step(host, step, journal, front) is Outcome.DONE, front.text()
    assert front.recovered == []
    assert "still runs on the host" in front.text() and "reconnected" in front.text()
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [r["status"] for r in records if r["event"] == "action-end"] == ["unknown"]
    assert len([r for r in records if r["event"] == "action-start"]) == 1


@pytest.mark.parametrize("cut_first", [False, True], ids=["attached", "while-reconnecting"])
async def test_cancelling_a_detached_command_stops_it_on_the_host(
    tmp_path: Path, cut_first: bool,
) -> None:
    """A detached command outlives its connection on purpose; an abort must
    still end it, also when it comes while the runbook is reconnecting."""
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "never"
        remote = Remote(rehearsal_settings(host).host, isolated=True)
        try:
            task = asyncio.create_task(remote.run_detached(
                f"sleep 30.023 && touch {marker}", timeout=60, job="cancel-detached"))
            await until(lambda: sleepers(30.023) == 1, what="the command to start")
            if cut_first:
                host.drop_connections()
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await until(lambda: sleepers(30.023) == 0, timeout=15,
                        what="the abort to end the command on the host")
        finally:
            await remote.close()
    assert not marker.exists()


async def test_cancelling_a_command_stops_it_on_the_host(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "never"
        remote = Remote(rehearsal_settings(host).host, isolated=True)
        try:
            task = asyncio.create_task(remote.run(f"sleep 30.017 && touch {marker}",
                                                  timeout=60, job="cancel-test"))
            await asyncio.sleep(1.0)
            assert sleepers(30.017) == 1
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for _ in range(50):
                if sleepers(30.017) == 0:
                    break
                await asyncio.sleep(0.1)
            assert sleepers(30.017) == 0, "the command still runs after the abort"
        finally:
            await remote.close()


async def test_a_host_that_stays_unreachable_is_waited_for_once(tmp_path: Path) -> None:
    """Trial (real sshd): with the host unreachable mid-step, runbook waited out
    its reconnect limit, then a whole second one to find out what the command
    did: 4m29s against the 120s it names, the stream manager down meanwhile."""
    import dataclasses
    import socket
    import time

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        step = SlowTouch(host.sandbox / "tmp" / "never.done", 4.019, detach=True)
        settings = rehearsal_settings(host)
        remote = Remote(settings.host, isolated=True, reconnect_within=2)
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            nowhere = closed.getsockname()[1]  # nothing listens there once closed

        def unreachable() -> None:
            remote.host = dataclasses.replace(remote.host, port=nowhere)
            host.drop_connections()

        asyncio.get_running_loop().call_later(1.0, unreachable)
        record = Journal(journal)

        async def no_api(fresh: bool) -> None:
            raise AssertionError("not used")

        executor = Executor([step], settings=settings, facts=Facts(), remote=remote,
                            api_factory=no_api, curl=lambda *a, **k: "curl", journal=record,
                            front=ScriptedFrontEnd(), redactor=Redactor(),
                            host_state=HostState(host.sandbox / ".operator", "127.0.0.1", 22))
        started = time.monotonic()
        try:
            assert await executor.run() is Outcome.FAILED
        finally:
            await remote.close()
            record.close()
        took = time.monotonic() - started
    rounds = [r for r in map(json.loads, journal.read_text().splitlines())
              if r["event"] == "reconnecting" and r.get("attempt") == 1]
    assert len(rounds) == 1, rounds
    assert took < 1.0 + 2 + 2, took  # the drop, one limit, and room to spare
    assert replay(journal).state(step.id) is StepState.IN_DOUBT


@pytest.mark.parametrize("retries_while_down", [0, 1])
async def test_a_retry_after_the_host_came_back_waits_for_the_first_attempt(
        tmp_path: Path, retries_while_down: int) -> None:
    """Review: once the reconnect had given up, the step was in doubt at once,
    and a retry in the same run ran the command again beside the first attempt
    still running on the host (a second unzip into the same tree). Then
    (review) a retry while the host was still away failed and forgot the
    first attempt's command, so the retry after it ran beside it again."""
    import dataclasses
    import socket

    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "slow-touch.done"
        step = SlowTouch(marker, 5.021, detach=True)
        settings = rehearsal_settings(host)
        remote = Remote(settings.host, isolated=True, reconnect_within=1)
        reachable = remote.host
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            nowhere = closed.getsockname()[1]

        def unreachable() -> None:
            remote.host = dataclasses.replace(remote.host, port=nowhere)
            host.drop_connections()

        class BackThenRetry(ScriptedFrontEnd):
            async def recover(self, report: StepReport, *, can_roll_back: bool) -> Recovery:
                await super().recover(report, can_roll_back=can_roll_back)
                if len(self.recovered) > retries_while_down:
                    remote.host = reachable  # the host is back
                return Recovery.RETRY if len(self.recovered) <= retries_while_down + 1 \
                    else Recovery.STOP

        asyncio.get_running_loop().call_later(1.0, unreachable)
        record = Journal(tmp_path / "run.jsonl")

        async def no_api(fresh: bool) -> None:
            raise AssertionError("not used")

        front = BackThenRetry()
        executor = Executor([step], settings=settings, facts=Facts(), remote=remote,
                            api_factory=no_api, curl=lambda *a, **k: "curl", journal=record,
                            front=front, redactor=Redactor(),
                            host_state=HostState(host.sandbox / ".operator", "127.0.0.1", 22))
        try:
            outcome = await executor.run()
        finally:
            await remote.close()
            record.close()
    assert front.recovered and front.recovered[0][0] == step.id
    assert outcome is Outcome.DONE, front.text()
    assert len(front.recovered) == retries_while_down + 1, front.recovered
    # Asked again, the retry would have run the command beside the first attempt.
    assert front.asked == [step.id], "the first attempt finished the job: nothing to confirm"


@pytest.mark.parametrize("phase", [Phase.PREPARE, Phase.CUTOVER])
async def test_a_command_never_sent_says_it_did_not_run(tmp_path: Path, phase: Phase) -> None:
    """Trial 59 F7: the connection lost at the step's question and not
    re-opened, its command was never sent; the step failed (rightly, not in
    doubt) but its failure did not say that the command never ran, which
    mid-cutover is what the operator must know. The cutover's first step
    marks the host's claim before its first action (review 61b, F7), so
    there the lost connection is met by that mark, and said so."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "never.done"
        step = SlowTouch(marker, 0.1)
        step.phase = phase
        remote = Remote(rehearsal_settings(host).host, isolated=True, reconnect_within=0)

        class LostAtTheQuestion(ScriptedFrontEnd):
            async def confirm(self, report: StepReport, plan: list[Action]):  # type: ignore[no-untyped-def]
                await remote.connect()  # the connection the step's looks had
                host.drop_connections()
                await until(lambda: remote._conn is None or remote._conn.is_closed())
                return await super().confirm(report, plan)

        front = LostAtTheQuestion()
        assert await run_step(host, step, journal, front, remote=remote) is Outcome.FAILED
        assert not marker.exists()
    assert replay(journal).state(step.id) is StepState.FAILED
    said = front.detail(step.id)
    assert "could not be re-opened" in said, said
    if phase is Phase.CUTOVER:
        assert "the cutover did not begin" in said, said
        assert "Nothing of the cutover was sent" in said, said
    else:
        assert "never sent" in said and "did not run" in said, said


async def test_a_command_the_host_opened_no_channel_for_says_so_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command the host opened no channel for never ran, and the failure
    said so twice: the connection's words ("...; nothing ran"), then the
    step's ("Its command was never sent to the host: it did not run...").
    Once is enough. The host's SSH server refuses the session over the wire,
    on every connection from the question on: the look at the claim as the
    step starts (trial 62, F5) meets it first, and a connection opened
    again after it as well."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "no-channel.done"
        step = SlowTouch(marker, 0.1)
        remote = Remote(rehearsal_settings(host).host, isolated=True)
        remote.shared_shells = False  # each command its own channel, as without shells

        def refuse(packet: object) -> None:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                                            "open failed")

        class RefusedAtTheQuestion(ScriptedFrontEnd):
            async def confirm(self, report: StepReport, plan: list[Action]):  # type: ignore[no-untyped-def]
                await remote.connect()
                for conn in host._sshd._connections:  # type: ignore[union-attr]
                    conn._process_session_open = refuse  # type: ignore[method-assign]
                monkeypatch.setattr(asyncssh.SSHServerConnection, "_process_session_open",
                                    lambda self, packet: refuse(packet))
                return await super().confirm(report, plan)

        front = RefusedAtTheQuestion()
        assert await run_step(host, step, journal, front, remote=remote) is Outcome.FAILED
        assert not marker.exists()
    said = front.detail(step.id)
    assert "did not open a channel" in said and "never sent" in said, said
    assert said.count("nothing ran") + said.count("did not run") == 1, said


async def test_a_detached_command_refused_its_reconnect_is_not_said_never_sent(
        tmp_path: Path) -> None:
    """The other side of trial 59 F7's fix: a detached command that started,
    whose reconnect the host then refused (a new host key), did run; its
    failure must not say it was never sent."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        marker = host.sandbox / "tmp" / "refused.done"
        step = SlowTouch(marker, 3.031, detach=True)

        async def rekey() -> None:
            await host.change_host_key()
            host.drop_connections()

        loop = asyncio.get_running_loop()
        loop.call_later(1.0, lambda: loop.create_task(rekey()))
        front = ScriptedFrontEnd()
        assert await run_step(host, step, journal, front, reconnect_within=5) is Outcome.FAILED
        await until(marker.exists, what="the command that ran on")
    said = front.detail(step.id)
    assert "never sent" not in said, said


async def test_never_sent_after_a_refused_host_key_keeps_its_line_to_add_whole(
        tmp_path: Path) -> None:
    """The known_hosts line a refused key's advice ends with stands on a line
    of its own: the words that the command was never sent come after it on
    the next line, not glued to the line to add."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        step = SlowTouch(host.sandbox / "tmp" / "rekeyed.done", 0.1)
        remote = Remote(rehearsal_settings(host).host, isolated=True, reconnect_within=5)

        class RekeyedAtTheQuestion(ScriptedFrontEnd):
            async def confirm(self, report: StepReport, plan: list[Action]):  # type: ignore[no-untyped-def]
                await remote.connect()
                await host.change_host_key()
                host.drop_connections()
                await until(lambda: remote._conn is None or remote._conn.is_closed())
                return await super().confirm(report, plan)

        front = RekeyedAtTheQuestion()
        assert await run_step(host, step, journal, front, remote=remote) is Outcome.FAILED
    report = front.last_report(step.id)
    line = report.known_hosts_line
    assert line is not None, report.detail
    assert line in report.detail.splitlines(), report.detail
    assert "never sent" in report.detail, report.detail
