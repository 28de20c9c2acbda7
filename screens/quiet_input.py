"""Textual's Linux driver, waiting for the operator's keys instead of
looking for them ten times a second (issue 12: idle CPU).

Textual's input thread selects on the terminal with a 0.1 s timeout, for two
reasons: to see whether the app asked it to stop, and to end an escape
sequence begun (a lone Esc is told from the start of an arrow key by the
pause after it). Ten wake-ups a second, each taking the GIL, were a third of
the idle app's CPU (about 0.1 % of a core of 0.3 %, measured per thread) and
the only wake-ups while no clock ticks. Here the thread waits with no
timeout, unless an escape sequence is under way, when it waits just until
that sequence's deadline; a stop request wakes it through a pipe.

Textual 8.2's run_input_thread, with only the wait changed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
from codecs import getincrementaldecoder
from threading import Event, Lock
from typing import Any

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver


class _WakingEvent(Event):
    """The driver's stop request, which also wakes the input thread's wait.

    The pipe is the running input thread's: Textual closes the driver on a
    suspension (an editor run from the app) and starts a new thread after.
    The lock keeps a late write off a pipe closed meanwhile, whose number
    may already be another file's."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = Lock()
        self._pipe: tuple[int, int] | None = None

    def open_pipe(self) -> int:
        """A new pipe for the thread starting; its end to wait on."""
        woken, wake = os.pipe()
        os.set_blocking(wake, False)
        with self._lock:
            self._pipe = (woken, wake)
        return woken

    def close_pipe(self) -> None:
        with self._lock:
            if self._pipe is not None:
                for end in self._pipe:
                    os.close(end)
            self._pipe = None

    def set(self) -> None:
        super().set()  # first: the thread, woken, must see it set
        with self._lock, contextlib.suppress(OSError):
            if self._pipe is not None:
                os.write(self._pipe[1], b".")


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose input thread sleeps until a key, a deadline of its
    parser's, or a stop request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event = self._stop = _WakingEvent()

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events."""
        # Before the first look at the stop request: one made from here on
        # wakes the wait below; one made before is seen by that look.
        woken = self._stop.open_pipe()
        selector = selectors.SelectSelector()
        try:
            selector.register(self.fileno, selectors.EVENT_READ, "terminal")
            selector.register(woken, selectors.EVENT_READ, "wake")
        except BaseException:  # the pipe is not left open behind the failure
            selector.close()
            self._stop.close_pipe()
            raise
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def wait() -> float | None:
            # The parser's deadline: set while a sequence is begun, else none.
            # Private to Textual: should a release rename it, Textual's own
            # 0.1 s looks, rather than a lone Esc that never arrives.
            deadline: float | None = getattr(parser, "_timeout_time", get_time() + 0.1)
            return None if deadline is None else max(0.0, deadline - get_time())

        def process(events: list[tuple[selectors.SelectorKey, int]],
                    final: bool = False) -> None:
            for last, (key, mask) in loop_last(events):
                if key.data == "wake":
                    continue  # the loop's test sees the stop request
                if mask & selectors.EVENT_READ:
                    unicode_data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        break  # stdin piped, and ended
                    for event in parser.feed(unicode_data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(wait()))
            selector.unregister(self.fileno)
            selector.unregister(woken)  # Textual's last look waits its 0.1 s
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            self._stop.close_pipe()
            with contextlib.suppress(EOFError, ParseError):
                for _ in parser.feed(""):
                    pass
