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
