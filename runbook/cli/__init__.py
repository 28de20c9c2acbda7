"""`runbook` on the command line: plan, run, rehearse, rollback, diff, report,
log. This package is the one place that wires the engine (runbook), the
procedure (steps) and a front end (screens) together; door.py is where a
command comes in."""

from runbook.cli.door import main

__all__ = ["main"]
