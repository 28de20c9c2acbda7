"""A dropped SSH connection during any step: the runbook reconnects, finds out
what the interrupted command did, and the upgrade ends right.

The rehearsal host cuts the connection during the step's next command, after
the command ran and before its exit status goes back (or during the next SFTP
write): the worst case, where the host changed and the runbook never heard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.events import Event, Output, Reconnecting, StepChanged
from runbook.executor import Outcome, Recovery
from runbook.model import StepState
from runbook.rehearsal import cloud
from runbook.rehearsal.host import RehearsalHost
from steps import procedure
from tests.rehearsal import rehearsal_host, rehearse, seeded_nodegroups
from tests.scripted import ScriptedFrontEnd

FORWARD = [step.id for step in procedure()]
# recreate speaks to the API alone, over HTTP: no SSH command of it to cut.
OVER_SSH = [step for step in FORWARD if step != "recreate"]


class DroppingFrontEnd(ScriptedFrontEnd):
    """Arms a drop on the host as each chosen step starts running (once each)."""

    def __init__(self, host: RehearsalHost, steps: list[str]) -> None:
        # A step the check does not find done after the drop is retried.
        super().__init__(recoveries={step: [Recovery.RETRY] * 3 for step in FORWARD})
        self.host = host
        self.waiting = set(steps)

    def tell(self, event: Event) -> None:
        super().tell(event)
        if isinstance(event, StepChanged) and event.report.state is StepState.RUNNING \
                and event.report.id in self.waiting:
            self.waiting.discard(event.report.id)
            self.host.arm_ssh_drop(event.report.id)


def assert_upgraded(host: RehearsalHost) -> None:
    assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()
    pid = host.service_pid()
    assert pid is not None
    assert Path(f"/proc/{pid}/cwd").resolve() == (host.install_dir / "red5pro").resolve()


async def test_a_drop_in_every_step_of_one_run(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = DroppingFrontEnd(host, OVER_SSH)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-4000:]
        assert_upgraded(host)
        drops = host.ssh_drops
    # Every one landed (test audit: three could go missing unseen).
    assert drops == len(OVER_SSH), f"{drops} of {len(OVER_SSH)} drops landed"
    assert "reconnected" in front.text()


@pytest.mark.parametrize("step", OVER_SSH)
async def test_a_drop_in_one_step(tmp_path: Path, step: str) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = DroppingFrontEnd(host, [step])
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-4000:]
        assert_upgraded(host)
        # The drop landed, in this step (test audit: recreate's never did).
        assert host.ssh_drops == 1
    assert any(isinstance(e, Reconnecting) for e in front.events), front.text()[-2000:]


class DropOnCommand(ScriptedFrontEnd):
    """Arms one drop when the runbook shows a command line containing `text`."""

    def __init__(self, host: RehearsalHost, text: str, skip: int = 0) -> None:
        super().__init__()
        self.host, self.text, self.skip = host, text, skip
        self.armed = False

    def tell(self, event: Event) -> None:
        super().tell(event)
        if isinstance(event, Output) and event.stream == "cmd" and self.text in event.line \
                and not self.armed:
            self.armed = True
            self.host.arm_ssh_drop(event.step_id, skip=self.skip)


async def test_an_upload_cut_off_goes_on_from_what_reached_the_host(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path, dist_size=24 << 20) as host:
        # Let 12 MiB through, then cut the connection.
        front = DropOnCommand(host, "sftp put", skip=12 << 20)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert host.ssh_drops == 1
        sent = host.sftp_bytes
        size = host.distribution.stat().st_size
    assert front.recovered == [], "the operator was not asked: the copy went on"
    assert any(isinstance(e, Reconnecting) for e in front.events)
    # About 12 MiB before the cut (what was in flight lands too), then from
    # the last whole 8 MiB chunk on: at most one chunk twice. Starting again
    # would have sent the whole file a second time.
    assert sent <= size + (8 << 20) + (1 << 20), f"{sent} bytes sent for a {size}-byte file"


async def test_an_unzip_outlives_a_lost_connection(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        # The launch goes through; the drop lands while the runbook follows it.
        front = DropOnCommand(host, "unzip -q", skip=1)
        outcome = await rehearse(host, front, journal)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert host.ssh_drops == 1
    assert front.recovered == []
    assert any(isinstance(e, Reconnecting) for e in front.events)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    unzips = [r for r in records if r.get("event") == "action-end" and r["step"] == "unpack"]
    assert [r["status"] for r in unzips] == ["ok"], "one unzip, heard to the end"


def test_the_ssh_drop_fault_is_rehearsed_from_the_command_line(tmp_path: Path) -> None:
    """`rehearse --fault ssh-drop@start-service`: the connection drops as the
    service is started; the run reconnects, finds the service up, and ends
    done with nobody asked."""
    env = {**os.environ, "HOME": str(tmp_path / "home"), "NO_COLOR": "1",
           "XDG_STATE_HOME": str(tmp_path / "home" / "state")}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from runbook.cli import main; sys.exit(main())",
         "rehearse", "--headless", "--yes", "--fault", "ssh-drop@start-service"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-3000:]
    assert "Traceback" not in said
    assert "SSH connection lost" in said and "reconnecting" in said, \
        said[-3000:]
    assert "faults that never came up" not in said
    # Trial 58 (L7): the report said the drop "failed on purpose", though the
    # step recovered from it and nothing failed.
    from runbook.report import build
    from runbook.report_md import markdown

    journals = list((tmp_path / "home").rglob("*.jsonl"))
    assert len(journals) == 1, journals
    row = next(line for line in markdown(build(journals[0])).splitlines()
               if line.startswith("| Faults staged"))
    assert "failed on purpose" not in row and "ssh-drop@start-service" in row, row
    assert "recovered" in row, row
