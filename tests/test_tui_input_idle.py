"""The TUI's keyboard, on a real terminal, costs nothing while no key comes
(issue 12: idle CPU). Textual's own driver looks at the terminal ten times a
second whether or not a key came; the app's waits for a key, or for the end
of an escape sequence already begun, or for the app to end.

Run on a pseudo-terminal, as the operator's terminal: Pilot's headless driver
reads no terminal, so it could not tell."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# An app as small as can be, given the driver RunbookApp chooses; it counts
# the input thread's looks at the terminal while nothing is typed.
CHILD = r"""
import selectors, sys, threading, time
from pathlib import Path
from textual.app import App
from textual.widgets import Static
from screens.app import RunbookApp

said = Path(sys.argv[1])
looks = []
real_select = selectors.SelectSelector.select

def counted(self, timeout=None):
    if threading.current_thread().name == "textual-input":
        looks.append(time.monotonic())
    return real_select(self, timeout)

selectors.SelectSelector.select = counted

class Small(App):
    get_driver_class = RunbookApp.get_driver_class
    BINDINGS = [("escape", "escaped"), ("x", "bye"), ("s", "away")]

    def compose(self):
        yield Static("hello")

    def on_mount(self):
        self.set_timer(1.0, self.start_counting)

    def start_counting(self):
        self.counted_from = len(looks)
        self.set_timer(2.0, self.done_counting)

    def done_counting(self):
        said.write_text(f"idle {len(looks) - self.counted_from}\n")

    def action_escaped(self):
        with said.open("a") as out:
            out.write("escape\n")

    def action_away(self):
        # As for an editor: the driver stops reading, and reads again after.
        with self.suspend():
            pass
        with said.open("a") as out:
            out.write("back\n")

    def action_bye(self):
        self.exit()

Small().run()
"""


def _drain_until(fd: int, done, seconds: float) -> None:
    until = time.monotonic() + seconds
    while not done() and (left := until - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(left, 0.05))
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def test_no_look_at_the_terminal_while_no_key_comes_and_keys_still_arrive(tmp_path: Path) -> None:
    said = tmp_path / "said"
    ended = 0
    pid, fd = pty.fork()
    if pid == 0:  # the child, on the terminal's far side
        os.chdir(ROOT)
        os.environ.update(TERM="xterm-256color", TEXTUAL_ANIMATIONS="none")
        os.execv(sys.executable, [sys.executable, "-c", CHILD, str(said)])
    try:
        _drain_until(fd, lambda: said.exists() and "idle" in said.read_text(), 30)
        idle = said.read_text()
        # Textual's driver: twenty looks in those two seconds.
        assert idle.startswith("idle ") and int(idle.split()[1]) <= 1, idle
        # A lone escape is told from the start of a sequence by a pause after
        # it: it still arrives, with no key after it.
        os.write(fd, b"\x1b")
        _drain_until(fd, lambda: "escape" in said.read_text(), 10)
        assert "escape" in said.read_text()
        # Reading stops and starts again around a suspension (an editor run
        # from the app): the stopped thread was woken, the new one reads.
        os.write(fd, b"s")
        _drain_until(fd, lambda: "back" in said.read_text(), 10)
        assert "back" in said.read_text()
        os.write(fd, b"\x1b")
        _drain_until(fd, lambda: said.read_text().count("escape") == 2, 10)
        assert said.read_text().count("escape") == 2
        # And the app still ends: the waiting thread is woken to stop.
        os.write(fd, b"x")
        until = time.monotonic() + 10
        while time.monotonic() < until and not ended:
            _drain_until(fd, lambda: False, 0.1)
            ended, _ = os.waitpid(pid, os.WNOHANG)
        assert ended == pid, "the app did not end"
    finally:
        if ended != pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
