"""Where runbook keeps what outlives a run on this machine: journals and the key
that tags masked secrets."""

from __future__ import annotations

import os
from pathlib import Path


def default_dir() -> Path:
    """The user's state dir (XDG), where journals live unless --journal says otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "runbook"


def rehearsals_dir() -> Path:
    """Where throwaway rehearsals keep their journals (and the snapshots their
    runs took), which outlive the sandbox."""
    return default_dir() / "rehearsals"
