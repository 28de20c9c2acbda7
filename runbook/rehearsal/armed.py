"""Which rehearsal faults are armed on a rehearsal host, as files in its sandbox.

A fault is armed by a file ``SANDBOX/.rehearsal/faults/NAME`` (its parameters
as JSON) and lifted by removing it. Files, not memory, because the parts that
act on a fault run in other processes: the fake stream manager (a service
process), the fake cloud (inside that process), the sudo shim (bash). Each
looks at the moment it acts, so a fault armed while a step runs takes effect
at the step's next request, command or launch.

Standard library only: the fake service imports this at every start.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from runbook.rehearsal import STATE_DIRNAME

FAULTS_DIRNAME = "faults"


def folder(sandbox: Path) -> Path:
    return Path(sandbox) / STATE_DIRNAME / FAULTS_DIRNAME


def arm(sandbox: Path, name: str, **params: Any) -> None:
    where = folder(sandbox)
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = where / f".{name}.new"
    tmp.unlink(missing_ok=True)
    # Owner-only from birth, like the rest of the rehearsal's state.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(params, sort_keys=True) + "\n")
    # In one step: a reader in another process never sees half the parameters.
    os.replace(tmp, where / name)


def lift(sandbox: Path, name: str) -> None:
    (folder(sandbox) / name).unlink(missing_ok=True)


def armed(sandbox: Path | None, name: str) -> dict[str, Any] | None:
    """The fault's parameters while it is armed, else None."""
    if sandbox is None:
        return None
    try:
        text = (folder(sandbox) / name).read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        params = json.loads(text)
    except json.JSONDecodeError:
        params = {}
    return params if isinstance(params, dict) else {}


def lift_all(sandbox: Path) -> None:
    """Forget every armed fault (a rehearsal that was killed leaves its files)."""
    with contextlib.suppress(FileNotFoundError):
        for path in folder(sandbox).iterdir():
            path.unlink(missing_ok=True)
