"""What a front end is handed to open a run, apart from the session itself.

Light on purpose: the TUI's first screen is drawn before the engine is
imported (issue 12), and this is all that screen needs to know of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from runbook.journal_replay import Replay
    from runbook.session import SessionFactory


@dataclass(frozen=True)
class Opening:
    """A run ready to open: `open_session(None)` starts a new run,
    `open_session(previous)` continues the unfinished earlier run `previous`
    (offered first). `host_label` says where it runs; `notes`, what getting it
    ready found worth saying (the rehearsal host's address, an unfinished
    run), to show and to print on the way out. `new_journal`: the journal
    claimed for a new run, removed on the way out if no run wrote it;
    `claimed`, those claimed as a new run was chosen where an earlier one
    was offered first (none before the choice), removed so too. `named`:
    the operator named `previous` as the run to go on with (--resume
    --journal), so it goes on without the question whether to.

    A front end may be handed one after it has started (a rehearsal host
    starts after the first paint), so it is a value of its own."""

    open_session: SessionFactory
    previous: Replay | None = None
    host_label: str = ""
    notes: tuple[str, ...] = ()
    new_journal: Path | None = None
    claimed: list[Path] = field(default_factory=list)
    named: bool = False

    def drop_unwritten(self) -> None:
        """Remove the journals claimed for a new run that no run wrote."""
        from runbook.journal import drop_if_unwritten

        for path in (self.new_journal, *self.claimed):
            drop_if_unwritten(path)
