"""Before the run is open: the first screen, while what the run needs starts.

A rehearsal starts its fake host after the app's first paint, not before (issue
12): the operator sees the app at once, with a line saying what it waits for.
The wait runs in a worker that touches no widget; it posts Opened (or
OpeningFailed), and the app opens the run and shows the main screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widgets import Footer, Static

from runbook.opening import Opening

# Called once, after the first paint; what it awaits (a rehearsal host) is its
# caller's to stop, also when the app ends before it is done.
Preparing = Callable[[], Awaitable[Opening]]


@dataclass
class Opened(Message):
    """A run is ready to open (a rehearsal's once its host has started)."""
    opening: Opening


@dataclass
class OpeningFailed(Message):
    """The run could not be opened; the app ends and its caller says why."""

    error: Exception


class StartingScreen(Screen[None]):
    DEFAULT_CSS = """
    StartingScreen { align: center middle; }
    StartingScreen #waiting { width: auto; height: 1; }
    """

    def __init__(self, waiting: str) -> None:
        super().__init__()
        self.waiting = waiting

    def compose(self) -> ComposeResult:
        yield Static(self.waiting, id="waiting")
        yield Footer()


async def prepare(app: MessagePump, preparing: Preparing) -> None:
    """The worker's body: await the run, then tell the app."""
    try:
        opening = await preparing()
    except Exception as exc:
        app.post_message(OpeningFailed(exc))
    else:
        app.post_message(Opened(opening))
