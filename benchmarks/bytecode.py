"""Start-up benchmarks measure what an operator's second run costs: Python's
bytecode cache written and used. A PYTHONDONTWRITEBYTECODE=1 environment (this
project's sandboxes set it) would make every run compile runbook's sources
again, about 40 ms here, while the baselines use the installed libraries'
cached bytecode: an unfair race."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# For every measured child process: bytecode may be written and read.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def compile_sources() -> None:
    """Write the bytecode cache of runbook, screens and steps once, up front."""
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(str(ROOT / name) for name in ("runbook", "screens", "steps"))],
                   env=ENV, check=True, stdout=subprocess.DEVNULL)
