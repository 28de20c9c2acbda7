"""A run's end lets the host's claim go (runbook.claim), or says it stays.

Review 62, G2: a run that ended with its connection lost (one blip at the
last question was enough) returned without letting the claim go, and a
release that failed (sudo gone meanwhile) was let fail unsaid: the operator
left believing the host free, and a colleague on another machine was refused
until someone chose --take-over-host. Real runs over real SSH against the
rehearsal host."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from runbook.claim import Place
from runbook.cli import lifecycle
from runbook.events import JournalNote
from runbook.executor import Outcome
from runbook.journal_replay import replay
from runbook.model import CLAIM_LEFT
from runbook.rehearsal import armed
from runbook.rehearsal.host import RehearsalHost
from runbook.stopping import Stopper
from tests.rehearsal import rehearsal_session, rehearsal_settings
from tests.test_host_claim import HeldAt, claim_file


async def test_a_claim_whose_connection_was_lost_at_the_end_is_let_go_once_reconnected(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """The connection lost while the run waited at its last question, the
    host back at once: the run's end reconnects once to let the claim go."""
    front = HeldAt("new-database")
    run = asyncio.create_task(rehearsal_session(rehearsal_host, tmp_path / "run.jsonl")
                              .run(front))
    await asyncio.wait_for(front.waiting.wait(), 120)
    rehearsal_host.drop_connections()  # a blip: the host is back at once
    await asyncio.sleep(0.5)
    front.go.set()
    assert await asyncio.wait_for(run, 120) is Outcome.STOPPED
    assert not claim_file(rehearsal_host).exists(), "the claim stays on the host"
    notes = [e.message for e in front.events if isinstance(e, JournalNote)]
    assert not any(".runbook-claim" in note for note in notes), notes


async def test_a_claim_that_cannot_be_let_go_is_said_with_the_command_that_removes_it(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Sudo gone while the run waited (the claim is root's): the release's
    rm never ran, and the run said nothing. Where the claim stays, the
    journal warns of it, the front end is told, and the exit lines and the
    report say it: whose it is, what a later run does with it, and the
    command that removes it."""
    from runbook import report

    journal = tmp_path / "run.jsonl"
    settings = rehearsal_settings(rehearsal_host)
    place = Place.of(settings)
    front = HeldAt("new-database")
    run = asyncio.create_task(rehearsal_session(rehearsal_host, journal).run(front))
    await asyncio.wait_for(front.waiting.wait(), 120)
    armed.arm(rehearsal_host.sandbox, "permission-denied")
    try:
        front.go.set()
        assert await asyncio.wait_for(run, 120) is Outcome.STOPPED
    finally:
        armed.lift(rehearsal_host.sandbox, "permission-denied")
    assert claim_file(rehearsal_host).exists()

    notes = [e.message for e in front.events if isinstance(e, JournalNote)]
    said = [note for note in notes if place.where in note]
    assert len(said) == 1, notes
    for part in ("stays", "sudo refused", "--take-over-host", place.removal):
        assert part in said[0], said[0]
    assert "\n" not in said[0]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    left = [r for r in records if r.get("kind") == CLAIM_LEFT]
    assert len(left) == 1 and left[0]["warning"] is True and left[0]["text"] == said[0], left
    assert replay(journal).claim_left == said[0]

    stopper = Stopper()
    stopper.sessions.append(SimpleNamespace(journal_path=journal))  # type: ignore[arg-type]
    capsys.readouterr()
    lifecycle.where_it_stands(stopper, settings, resume="runbook rehearse --resume")
    exit_lines = capsys.readouterr().out.splitlines()
    assert f"runbook: {said[0]}" in exit_lines, exit_lines
    assert any(note.text == said[0] for note in report.build(journal).warnings)

    # The same run resumed lets it go: its exit lines say no more of it.
    again = HeldAt("new-database")
    run = asyncio.create_task(rehearsal_session(rehearsal_host, journal,
                                                resume=replay(journal)).run(again))
    await asyncio.wait_for(again.waiting.wait(), 120)
    again.go.set()
    assert await asyncio.wait_for(run, 120) is Outcome.STOPPED
    assert not claim_file(rehearsal_host).exists()
    assert replay(journal).claim_left == ""
    lifecycle.where_it_stands(stopper, settings, resume="runbook rehearse --resume")
    assert place.where not in capsys.readouterr().out


async def test_a_claim_on_a_host_gone_at_the_end_is_tried_once_and_said(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """The host gone for good as the run ends (reached through a relay that
    goes away): its end tries the connection once, not for the whole
    reconnect (two minutes), and says the claim stays."""
    import contextlib
    import time
    from dataclasses import replace

    host = rehearsal_host

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", host.ssh_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    relayed = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = relayed.sockets[0].getsockname()[1]
    public = (host.state_dir / "ssh_host_ed25519_key.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    settings = rehearsal_settings(host)
    settings = replace(settings, host=replace(settings.host, port=port, known_hosts=known))
    front = HeldAt("new-database")
    run = asyncio.create_task(rehearsal_session(host, tmp_path / "run.jsonl", settings)
                              .run(front))
    try:
        await asyncio.wait_for(front.waiting.wait(), 120)
        relayed.close()  # the host is gone
        host.drop_connections()  # and the connection with it
        await asyncio.sleep(0.5)
        began = time.monotonic()
        front.go.set()
        assert await asyncio.wait_for(run, 120) is Outcome.STOPPED
        took = time.monotonic() - began
    finally:
        relayed.close()
    assert claim_file(host).exists()
    said = [e.message for e in front.events if isinstance(e, JournalNote)
            and Place.of(settings).where in e.message]
    assert len(said) == 1 and "cannot connect" in said[0], said
    assert took < 30, f"the end took {took:.0f}s"


class _SudoGoneAtTheEnd(HeldAt):
    """Answers run to every step; sudo is taken away as the run ends, before
    its claim is let go (operator trial 62, F1: sudo lost as `recreate`
    finished)."""

    def __init__(self, host: RehearsalHost) -> None:
        super().__init__("no such step")
        self.host = host

    def tell(self, event: object) -> None:
        from runbook.events import RunEnded

        if isinstance(event, RunEnded):
            armed.arm(self.host.sandbox, "permission-denied")
        super().tell(event)  # type: ignore[arg-type]


async def test_a_claim_a_finished_cutover_left_behind_is_said_so_and_can_be_taken_over(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """Operator trial 62, F1: a run upgraded the host, and sudo was gone as
    its end let the claim go. The claim, still marked with that cutover,
    refused every run after it as 'a cutover ... has not ended. The stream
    manager may be down', naming a resume and a rollback that both refuse
    (the run ended), and --take-over-host was refused too: only an rm by hand
    freed the host. Where that run's journal is here and says its cutover
    ended, the claim is a finished run's left behind: this machine and login
    take it over as a gone run's, another machine is told so truthfully and
    may take it with --take-over-host. Where the journal is not here, the
    refusal names both ways out: go on with that journal, or, if it ended,
    the command that removes the claim."""
    import dataclasses
    import re

    from runbook.cli import wiring
    from runbook.config import ConfigError
    from tests.rehearsal import as_if_its_process_ended
    from tests.scripted import ScriptedFrontEnd

    host = rehearsal_host
    journal = tmp_path / "upgraded.jsonl"
    front = _SudoGoneAtTheEnd(host)
    try:
        assert await asyncio.wait_for(rehearsal_session(host, journal).run(front), 600) \
            is Outcome.DONE, front.text()[-2000:]
    finally:
        armed.lift(host.sandbox, "permission-denied")
    began = replay(journal).cutover_started
    holder = claim_file(host)
    assert began is not None and f"cutover={began}" in holder.read_text().splitlines()
    as_if_its_process_ended(host)
    left = original = holder.read_text()
    place = Place.of(rehearsal_settings(host))

    def session(name: str, *, over: bool = False) -> object:
        settings = dataclasses.replace(rehearsal_settings(host), take_over_host=over)
        return wiring.session(settings, token=host.api_token,
                              journal_path=tmp_path / name / "run.jsonl",
                              state_dir=tmp_path / name / "state")

    async def refused(name: str, *, over: bool = False) -> str:
        asked = ScriptedFrontEnd()
        with pytest.raises(ConfigError) as refusal:
            await session(name, over=over).run(asked)  # type: ignore[attr-defined]
        assert asked.asked == [] and holder.read_text() == left
        said = str(refusal.value)
        assert "\n" not in said
        return said

    async def taken(name: str, *, over: bool = False) -> None:
        stopped = HeldAt("preflight")
        run = asyncio.create_task(session(name, over=over).run(stopped))  # type: ignore[attr-defined]
        await asyncio.wait_for(stopped.waiting.wait(), 120)
        assert f"journal={(tmp_path / name / 'run.jsonl').resolve()}" in \
            holder.read_text().splitlines()
        stopped.go.set()
        assert await asyncio.wait_for(run, 120) is Outcome.STOPPED
        assert not holder.exists()

    # Another machine's claim whose journal is here (a shared home, a copy):
    # said truthfully, and --take-over-host takes it.
    holder.write_text(re.sub(r"(?m)^machine=.*$", "machine=laptop-2",
                             re.sub(r"(?m)^machine_id=.*\n", "", left)))
    left = holder.read_text()
    said = await refused("b")
    for part in ("ended", "upgraded", "left behind", "--take-over-host", place.removal):
        assert part in said, said
    for wrong in ("has not ended", "may be down", "--resume", "runbook rollback"):
        assert wrong not in said, said
    await taken("c", over=True)

    # The journal is not here: both ways out are named.
    holder.parent.mkdir()
    holder.write_text(left.replace(f"journal={journal.resolve()}",
                                   "journal=/home/colleague/run.jsonl"))
    left = holder.read_text()
    said = await refused("d")
    for part in ("--resume", "runbook rollback", place.removal):
        assert part in said, said
    holder.unlink()
    holder.parent.rmdir()

    # This machine and login, its process gone: a gone run's, taken over.
    holder.parent.mkdir()
    holder.write_text(original)
    await taken("e")
