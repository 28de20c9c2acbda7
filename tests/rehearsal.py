"""Shared set-up for tests that drive the procedure against the rehearsal host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from runbook.cli import wiring
from runbook.config import Settings
from runbook.executor import FrontEnd, Outcome
from runbook.journal_replay import Replay
from runbook.rehearsal import cloud
from runbook.rehearsal.host import RehearsalHost
from runbook.session import Session


def seeded_nodegroups() -> int:
    """How many nodegroups the rehearsal's live database starts with (and a
    finished upgrade rebuilds)."""
    return len(cloud.SEED_GROUPS)


def rehearsal_settings(host: RehearsalHost, **values: str) -> Settings:
    return wiring.rehearsal_settings(host, **values)


@asynccontextmanager
async def rehearsal_host(tmp_path: Path, **options: Any) -> AsyncIterator[RehearsalHost]:
    host = RehearsalHost(tmp_path / "sandbox", **options)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


def rehearsal_session(host: RehearsalHost, journal: Path, settings: Settings | None = None,
                      resume: Replay | None = None) -> Session[Any]:
    """The session `runbook rehearse` would open on this host."""
    return wiring.session(settings or rehearsal_settings(host), token=host.api_token,
                          journal_path=journal, state_dir=host.sandbox / ".operator",
                          isolated=True, resume=resume)


async def rehearse(host: RehearsalHost, front: FrontEnd, journal: Path,
                   settings: Settings | None = None, resume: Replay | None = None) -> Outcome:
    return await rehearsal_session(host, journal, settings, resume).run(front)


def as_if_its_process_ended(host: RehearsalHost) -> None:
    """The host's claim, held by a run of this test's own process, made to name
    a process that has ended, as a run cut off before another starts leaves
    it: this machine's next run then takes it over (runbook.claim)."""
    import os
    import re

    holder = host.install_dir / ".runbook-claim" / "holder"
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    holder.write_text(re.sub(r"(?m)^pid=\d+$", f"pid={dead}", holder.read_text()))
