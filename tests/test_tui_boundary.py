"""The engine and the procedure stay Textual-free: the TUI is one front end of several."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_and_steps_import_without_textual() -> None:
    # A fresh interpreter, so nothing imported by other tests can hide an import.
    engine = sorted(f"runbook.{p.stem}" for p in (ROOT / "runbook").glob("*.py")
                    if p.stem != "__init__")
    script = (
        "import importlib, sys\n"
        f"for name in {engine!r} + ['steps', 'steps.prepare', 'steps.cutover',"
        " 'steps.properties_step']:\n"
        "    importlib.import_module(name)\n"
        "from steps import procedure\n"
        "procedure()\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m == 'screens' or m.startswith('screens.'))\n"
        "print(','.join(leaked))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "", f"the engine imported: {done.stdout.strip()}"
