"""`runbook` on the command line. This package is the one place that wires the
engine (runbook), the procedure (steps) and a front end (screens) together.

door.py is where a command comes in. Then one module a command: plan.py
(`plan`), run.py (`run`), rehearse.py (`rehearse`), rollback.py (`rollback`),
review.py (`diff`), records.py (`report`, `log`). What they share: lifecycle.py
(a run made ready, handed to a front end, and its exit lines), refusals.py,
wiring.py (sessions and the rehearsal config) and terminal.py.
"""

from runbook.cli.door import main

__all__ = ["main"]
