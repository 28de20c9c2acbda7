"""Going on with a cutover from another machine: a copy of its journal, and its snapshot.

Operator trial 62, F4: the refusals send a colleague to go on "here with a
copy of that journal". The fleet snapshot export-config saved stays in the
first machine's state folder (hosts/.../snapshots), which the journal names
by its path there; without it recreate and the way back's rollback-recreate
failed in the downtime with "there is no snapshot from export-config to
rebuild from", naming no file. Now the refusal names both files, on the
first machine, and where to put them; a run with a journal copy looks for the
snapshot beside the copy too; where it is not there, the run says so as it
begins, and the step that rebuilds the fleet names the file and where to put
it.

The first machine is this test's own run, its claim made another machine's
(laptop-2) and its state folder's snapshots moved aside, as on a machine the
colleague cannot reach; the colleague's run has a state folder of its own."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from runbook import claim as host_claim
from runbook.cli import wiring
from runbook.config import ConfigError
from runbook.events import JournalNote
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.journal_replay import replay
from runbook.model import StepReport
from runbook.rehearsal.host import RehearsalHost
from tests.rehearsal import rehearsal_session, rehearsal_settings
from tests.scripted import ScriptedFrontEnd

STOP = Decision(Answer.STOP)


def holder_of(host: RehearsalHost) -> Path:
    return host.install_dir / host_claim.NAME / "holder"


async def first_machines_cutover(host: RehearsalHost, tmp_path: Path,
                                 config: Path | None = None) -> tuple[Path, Path]:
    """The first operator's run (of `config`, else the rehearsal's), stopped at
    backup-live with the fleet deleted, its claim named as laptop-2's: its
    journal, and the snapshot it rebuilds from (in its state folder)."""
    from runbook import config as config_mod

    journal = tmp_path / "a" / "run.jsonl"
    journal.parent.mkdir()
    session = rehearsal_session(host, journal) if config is None else wiring.session(
        config_mod.load(config), token=host.api_token, journal_path=journal,
        state_dir=journal.parent / "state", isolated=True)
    first = ScriptedFrontEnd({"backup-live": STOP})
    assert await session.run(first) is Outcome.STOPPED
    snapshot = Path(replay(journal).facts["snapshot"])
    assert snapshot.is_file(), snapshot
    holder = holder_of(host)
    holder.write_text(re.sub(r"(?m)^machine=.*$", "machine=laptop-2", holder.read_text()))
    return journal, snapshot


async def test_a_new_run_refused_by_a_cutover_under_way_is_told_both_files_to_copy(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """The refusal of a colleague's new run names the journal and the fleet
    snapshot, each by its path on the machine that holds them, and where to
    put them here."""
    journal, snapshot = await first_machines_cutover(rehearsal_host, tmp_path)
    session = wiring.session(rehearsal_settings(rehearsal_host), token=rehearsal_host.api_token,
                             journal_path=tmp_path / "b" / "run.jsonl",
                             state_dir=tmp_path / "b" / "state")
    with pytest.raises(ConfigError) as refused:
        await session.run(ScriptedFrontEnd())
    said = str(refused.value)
    assert "\n" not in said, said
    for part in (str(journal.resolve()), str(snapshot), "laptop-2", "one folder",
                 "--journal"):
        assert part in said, said


async def test_the_way_back_from_a_journal_copy_finds_the_snapshot_beside_it(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """`runbook rollback --journal COPY --take-over-host` on the colleague's
    machine, the snapshot not brought over: the run says so as it begins,
    naming the file and where to put it; rollback-recreate fails naming them
    too. Put beside the copy, the try again rebuilds the fleet, and the way
    back ends."""
    journal, snapshot = await first_machines_cutover(rehearsal_host, tmp_path)
    # The first machine's state folder, out of the colleague's reach.
    snapshots = snapshot.parent
    shutil.move(snapshots, snapshots.with_name("on-laptop-2"))
    elsewhere = snapshots.with_name("on-laptop-2") / snapshot.name
    copy = tmp_path / "b" / "copy.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(journal.read_bytes())
    beside = copy.parent / snapshot.name

    class Front(ScriptedFrontEnd):
        async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
            if step.id == "rollback-recreate" and not beside.exists():
                shutil.copy(elsewhere, beside)  # the colleague copies it over
                return Recovery.RETRY
            return await super().recover(step, can_roll_back=can_roll_back)

    settings = dataclasses.replace(rehearsal_settings(rehearsal_host), take_over_host=True)
    back = wiring.session(settings, token=rehearsal_host.api_token, journal_path=copy,
                          state_dir=tmp_path / "b" / "state", resume=replay(copy),
                          only_back=True)
    front = Front()
    outcome = await back.run(front)
    notes = [e.message for e in front.events if isinstance(e, JournalNote)]
    told = [note for note in notes if snapshot.name in note]
    assert told and str(beside) in told[0], notes
    failed = [detail for step, state, detail in front.states
              if step == "rollback-recreate" and state == "failed"]
    assert failed, front.text()[-3000:]
    assert str(snapshot) in failed[0] and str(beside) in failed[0], failed[0]
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]


def production_config(host: RehearsalHost, folder: Path) -> Path:
    """The rehearsal host's config as a production host's (run and rollback
    take no rehearsal's), as the README has `runbook run` against it."""
    text = wiring.rehearsal_config_text()
    for name, value in {**wiring.rehearsal_values(host.config_values()),
                        "decisions": str(rehearsal_settings(host).decisions)}.items():
        text = text.replace("{" + name + "}", value)
    marked = "[rehearsal]\nenabled = true\n"
    assert marked in text
    config = folder / "sm.toml"
    config.write_text(text.replace(marked, ""))
    return config


async def test_a_refused_resume_says_the_refusal_first_then_the_command_that_works(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """F6: a resume (and a way back) from a copy of the journal, refused by
    the first machine's claim on its cutover, printed its exit lines' "to go
    on: COMMAND" first, the very command just refused, then the refusal,
    which said to add --take-over-host. The refusal comes first now, and the
    commands the exit lines give are the ones that work: with
    --take-over-host, said to be for a run that is surely gone."""
    import asyncio
    import os
    import subprocess
    import sys

    config = production_config(rehearsal_host, tmp_path)
    journal, _snapshot = await first_machines_cutover(rehearsal_host, tmp_path, config)
    folder = tmp_path / "b"
    folder.mkdir()
    copy = folder / "copy.jsonl"
    copy.write_bytes(journal.read_bytes())
    env = {**os.environ, "XDG_STATE_HOME": str(folder / "state"), "HOME": str(folder),
           "SM_API_TOKEN": rehearsal_host.api_token}
    root = Path(__file__).parents[1]
    for command in (["run", str(config), "--resume", "--journal", str(copy)],
                    ["rollback", str(config), "--journal", str(copy)]):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "runbook.cli", *command, "--headless"],
            cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=300)
        said = done.stdout
        assert done.returncode == 2, said[-3000:]
        lines = [line for line in said.splitlines() if line.startswith("runbook: ")]
        refusal = next(n for n, line in enumerate(lines) if "has not ended" in line)
        going_on = [n for n, line in enumerate(lines) if "to go" in line]
        assert going_on and refusal < going_on[0], "\n".join(lines)
        for n in going_on:
            assert lines[n].endswith("--take-over-host"), lines[n]
            assert "surely gone" in lines[n].split(": runbook ")[0], lines[n]
        assert said.count("has not ended") == 1, said[-3000:]
        assert "Traceback" not in said and rehearsal_host.api_token not in said
