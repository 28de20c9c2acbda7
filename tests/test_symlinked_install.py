"""A live install reached through a symlink must be upgraded like any other.

The old runbook matched Red5 processes by the text of `-Dred5.root=`: with the
configured path going through a symlink it found no process to stop, took the
still-running old stream manager for the new one and recreated the nodegroups
in the OLD database. Identity is now by the real folder on the host.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook.executor import Outcome
from runbook.rehearsal import cloud
from runbook.rehearsal.host import RehearsalHost
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse, seeded_nodegroups
from tests.scripted import ScriptedFrontEnd

NEW = "red5pro-server-11.1.0.b835-release"
OLD = "red5pro-server-6.2.0.b406-release"


def assert_upgraded(host: RehearsalHost, front: ScriptedFrontEnd, outcome: Outcome) -> None:
    assert outcome is Outcome.DONE, front.text()[-4000:]
    real = host.install_dir
    assert (real / "red5pro" / NEW).is_symlink(), "the new release is live"
    assert (real / "bak.red5pro" / OLD).is_symlink(), "the old install is kept aside"
    assert cloud.list_nodegroups(host.sandbox, *host.old_db) == []
    assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups(), \
        "the nodegroups are rebuilt in the NEW database"
    pid = host.service_pid()
    assert pid is not None
    assert Path(f"/proc/{pid}/cwd").resolve() == (real / "red5pro").resolve(), \
        "the service that runs is the new install"


async def test_install_dir_through_a_symlink(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        link = host.sandbox / "srv"
        link.symlink_to(host.install_dir, target_is_directory=True)
        settings = rehearsal_settings(host, install_dir=str(link))
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, settings=settings)
        assert_upgraded(host, front, outcome)


async def test_live_folder_is_a_symlink_to_the_real_install(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        # A common layout: red5pro -> the versioned folder it was unpacked as.
        live = host.install_dir / "red5pro"
        real = host.install_dir / "red5pro-6.2.0"
        live.rename(real)
        live.symlink_to(real.name, target_is_directory=True)
        await host._boot_service()
        assert host.service_pid() is not None, host.boot_error
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal)
        assert outcome is Outcome.DONE, front.text()[-4000:]
        assert (live / NEW).is_symlink() and not live.is_symlink()
        assert (host.install_dir / "bak.red5pro" / OLD).is_symlink()
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()
        pid = host.service_pid()
        assert pid is not None
        assert Path(f"/proc/{pid}/cwd").resolve() == live.resolve()


class _StartedThroughALink(RehearsalHost):
    """The unit starts Red5 from a path that goes through a symlink, as a unit
    written as /opt/red5/red5pro while the runbook config says /usr/local."""

    @property
    def red5_home(self) -> Path:
        return self.sandbox / "opt" / "red5" / "red5pro"


async def test_service_started_through_a_symlinked_path(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    sandbox = tmp_path / "sandbox"
    (sandbox / "opt").mkdir(parents=True)
    (sandbox / "opt" / "red5").symlink_to(sandbox / "usr" / "local", target_is_directory=True)
    host = _StartedThroughALink(sandbox)
    await host.start()
    try:
        pid = host.service_pid()
        assert pid is not None, host.boot_error
        assert f"-Dred5.root={sandbox}/opt/red5/red5pro" in Path(
            f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal)
        assert_upgraded(host, front, outcome)
    finally:
        await host.stop()


async def test_a_dangling_bak_red5pro_link_is_refused_before_anything_changes(
        tmp_path: Path) -> None:
    """Safety review: preflight asked `test -e`, which a symlink to nothing
    answers no; backup-live's rename then failed on it once every nodegroup
    was deleted, in the downtime."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        leftover = host.install_dir / "bak.red5pro"
        leftover.symlink_to("/nonexistent/red5pro-old", target_is_directory=True)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal)
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
    assert outcome is not Outcome.DONE
    assert front.final_state("preflight") == "failed", front.text()[-3000:]
    assert f"{leftover} already exists" in front.detail("preflight")
    assert len(groups) == seeded_nodegroups(), "nothing was deleted"


@pytest.mark.parametrize("locked", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(
        os.geteuid() != 0, reason="a plain SSH user is modelled from root"))])
async def test_a_unit_file_linked_into_the_install_is_refused_before_anything_changes(
        tmp_path: Path, locked: bool) -> None:
    """Safety review: a unit that is a symlink into the live install (as
    `systemctl link` makes) leads into the NEW install once promote-new has
    run: service-unit then kept the new unit as the .bak, the old one was lost
    to the way back, and installing the new one failed as a copy onto itself.
    `locked`: in a folder the SSH user cannot enter, where its own `test -L`
    did not see the link (code review)."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, plain_user=locked) as host:
        unit = host.sandbox / "lib/systemd/system/red5pro.service"
        inside = host.install_dir / "red5pro" / "red5pro.service.local"
        inside.write_bytes(unit.read_bytes())
        unit.unlink()
        unit.symlink_to(inside)
        if locked:
            unit.parent.chmod(0o700)
            os.chown(unit.parent, 65534, 65534)  # nobody's
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal)
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
        still_a_link = unit.is_symlink()
    assert outcome is not Outcome.DONE
    assert front.final_state("preflight") == "failed", front.text()[-3000:]
    said = front.detail("preflight")
    assert f"{unit} is a symlink to {inside}" in said, said
    assert len(groups) == seeded_nodegroups() and still_a_link, "nothing was changed"
