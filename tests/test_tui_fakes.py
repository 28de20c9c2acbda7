"""Shared pieces for the TUI tests, and tests of the pure presentation helpers.

The data here is deterministic on purpose: snapshot tests feed it to the app's
front end instead of running a live host, so the pictures never move.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console

from runbook.cli import wiring
from runbook.cli.wiring import plan_settings
from runbook.config import Settings
from runbook.events import Event
from runbook.executor import Decision
from runbook.facts import Facts
from runbook.journal_replay import Replay, replay
from runbook.model import Action, Check, Note, Phase, Shell, StepCard, StepReport, StepState
from runbook.remote import Remote
from runbook.session import Session
from runbook.standing import WayBack
from runbook.step import PlanContext, Step, StepContext
from screens.app import RunbookApp, create_app
from screens.messages import ConfirmRequested
from screens.presentation import clock, duration, fit, legend, output_lines, step_row
from screens.wrap import wrap_text
from tests.scripted import HostlessRemote

SNAPSHOT_JOURNAL = Path("/nonexistent/runbook-snapshots/run.jsonl")
TOKEN = "not-a-real-token"


class FakeClock:
    """A clock the test moves by hand, so every elapsed time on screen is fixed."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings() -> Settings:
    """The rehearsal config filled with fixed values: the same paths on every machine."""
    return plan_settings(None)


class _Hostless(Session[Facts]):
    """A session of steps that never touch a host, which claims the host as
    a free one: the cutover begins only under a marked claim (review 61b, F7)."""

    def remote(self) -> Remote:
        return HostlessRemote(self.settings.host)


def make_app(*, clock_: FakeClock | None = None, journal: Path = SNAPSHOT_JOURNAL,
             resume: Path | None = None, settings_: Settings | None = None,
             going_back: Callable[[Path], WayBack | None] | None = None,
             steps: list[Step[Facts]] | None = None,
             rollback: list[Step[Facts]] | None = None) -> RunbookApp:
    """The app built by the one factory, not started: over the real procedure
    (cards, plans), whose front end tests feed engine events; or, given
    `steps` (and `rollback`), over a real Session of those steps (the real
    executor, journal and redactor, and no host: the steps never touch one),
    which `app.start_run()` runs once the app is drawn. Either way the cards,
    the checklist and the run state are those of the session that runs.
    `settings_`: another run's settings (a production run's, say)."""

    def open_session(continuing: Replay | None) -> Session[Any]:
        path = continuing.path if continuing is not None and continuing.path else journal
        if steps is not None:
            return _Hostless(settings_ or settings(), steps, Facts(), token=TOKEN,
                           journal_path=path, state_dir=journal.parent, resume=continuing,
                           rollback=rollback or ())
        return wiring.session(settings_ or settings(), token=TOKEN, state_dir=journal.parent,
                              journal_path=path, resume=continuing)

    return create_app(open_session, rehearsal=True, clock=clock_ or FakeClock(),
                      start_run=False, previous=replay(resume) if resume else None,
                      going_back=going_back)


def screen_text(app: RunbookApp) -> str:
    """What the terminal shows now, as plain text: one string per row, joined."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def report(step_id: str, state: StepState = StepState.PENDING, detail: str = "",
           elapsed: float | None = None) -> StepReport:
    return StepReport(step_id, state, detail, elapsed)


def question(step_id: str, plan: list[Action] | None = None) -> ConfirmRequested:
    """The executor's question about a step, unanswered (in a running loop)."""
    return ConfirmRequested(report(step_id), plan or [],
                            asyncio.get_running_loop().create_future())


def tell(app: RunbookApp, *events: Event) -> None:
    """What the executor would tell the app's front end."""
    for event in events:
        app.front.tell(event)


async def plan_of(step_id: str) -> list[Action]:
    """The step's real plan, as the executor would hand it to confirm()."""
    plans = wiring.session(settings(), token=TOKEN, journal_path=SNAPSHOT_JOURNAL,
                           state_dir=SNAPSHOT_JOURNAL.parent).preview()
    return plans[step_id] or []


def ask(app: RunbookApp, step_id: str, plan: list[Action], *,
        way_back_open: bool = False) -> asyncio.Task[Decision]:
    """Make the app's front end ask about a step, as the executor does;
    `way_back_open`: the engine says the way back can be the answer."""
    return asyncio.ensure_future(app.front.confirm(
        StepReport(step_id, way_back_open=way_back_open), plan))


# Sentences short enough to read at 3 a.m. (review 56b F12); a line ends one too.
WORDS_A_SENTENCE = 20


def longest_sentence(text: str) -> str:
    """The sentence of `text` with the most words."""
    sentences = re.split(r"(?<=[.!?])\s+|\n", text)
    return max(sentences, key=lambda sentence: len(sentence.split()))


# --- a real Session over steps that need no host --------------------------------------


async def _nothing() -> None:
    return None


class Talk(Step[Facts]):
    """A step that only talks (or waits on an event, like a long remote command)."""

    phase: ClassVar[Phase] = Phase.PREPARE
    summary = "talks to the operator"

    def __init__(self, step_id: str, *, phase: Phase = Phase.PREPARE,
                 gate: asyncio.Event | None = None, lines: int = 1) -> None:
        self.id = step_id  # type: ignore[misc]
        self.title = f"Step {step_id}"  # type: ignore[misc]
        self.phase = phase  # type: ignore[misc]
        self.gate = gate
        self.lines = lines

    def plan(self, p: PlanContext[Facts]) -> list[Action]:
        return [Shell(f"echo {self.id}"), Note("nothing on any host")]

    async def check(self, ctx: StepContext[Facts]) -> Check:
        return Check(False)

    async def run(self, ctx: StepContext[Facts]) -> None:
        for n in range(self.lines):
            ctx.info(f"{self.id} says {n}")
        if self.phase is not Phase.PREPARE:
            # As a real cutover step does, it changes something first: the
            # cutover, and its downtime, begin with that change.
            await ctx.act(Note(f"{self.id} changes nothing on any host"), _nothing)
        if self.gate is not None:
            await self.gate.wait()

    async def verify(self, ctx: StepContext[Facts]) -> Check:
        return Check(True, f"{self.id} talked")


# --- the presentation helpers ----------------------------------------------------------


def test_durations_and_clocks_read_naturally() -> None:
    assert duration(None) == ""
    assert duration(4.25) == "4.2s"
    assert duration(725) == "12m05s"
    assert duration(3720) == "1h02m"
    assert clock(None) == "--:--:--"
    assert clock(3723.9) == "01:02:03"


def test_rows_keep_their_columns() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdefgh", 5) == "abcd…"
    short = step_row(1, "Preflight checks", "done", 1.5).plain
    long = step_row(15, "Recreate nodegroups and origins", "needs-review", 125).plain
    assert len(short) == len(long)
    assert "✓" in short and "done" in short and "1.5s" in short
    assert "?" in long and "needs review" in long


def test_every_state_has_a_glyph_and_a_word_in_the_legend() -> None:
    text = legend().plain
    for word in ("pending", "your turn", "running", "done", "failed", "skipped",
                 "needs review", "in doubt"):
        assert word in text


def test_the_legend_names_the_looks_rows_can_have_as_the_run_stands() -> None:
    """Once the run has ended, rows can read undone or not run, and none reads
    running or your turn: the legend says so in the same number of rows."""
    live, ended = legend().plain, legend(ended=True).plain
    assert "undone" not in live and "not run" not in live
    assert "undone" in ended and "not run" in ended
    assert "running" not in ended and "your turn" not in ended
    # A step in doubt then reads undone or, one the way back undoes in part
    # (recreate: its nodegroups deleted, the rest left), part undone.
    assert "in doubt" in live and "in doubt" not in ended and "part undone" in ended
    assert "not undone" not in ended
    assert ended.count("\n") == live.count("\n")
    assert legend(3, ended=True).plain.count("\n") == legend(3).plain.count("\n")


def test_output_lines_tell_the_streams_apart_in_the_text() -> None:
    assert output_lines("cmd", "$ ls -l") == ["$ ls -l"]
    assert output_lines("cmd", "curl -X GET x") == ["$ curl -X GET x"]
    assert output_lines("out", "a\nb") == ["  a", "  b"]
    assert output_lines("err", "boom") == ["! boom"]
    assert output_lines("info", "") == ["* "]


CURL = ("curl -sS -H 'X-Token: •••••• [0a1b2c3d]' -X DELETE 'http://127.0.0.1:5080/"
        "streammanager/api/4.0/admin/nodegroup/a-nodegroup-with-a-long-name?"
        "accessToken=•••••• [9f8e7d6c]'")


def test_lines_wrap_between_words_and_after_separators_never_inside_a_mask() -> None:
    for width in range(20, 90):
        rows = wrap_text(CURL, width, indent=3)
        assert all(len(row) <= width for row in rows if "••" not in row), (width, rows)
        joined = "\n".join(rows)
        assert "•••••• [0a1b2c3d]" in joined and "•••••• [9f8e7d6c]" in joined, (width, rows)
        assert "".join(row.strip() for row in rows).replace(" ", "") == CURL.replace(" ", "")
        assert all(row.startswith("   ") for row in rows[1:])
    rows = wrap_text(CURL, 60)
    # A URL breaks after a slash, a name after a hyphen: never inside a word.
    assert rows[0].endswith("'http://") and rows[1].endswith("nodegroup/a-"), rows
    assert wrap_text("short", 10) == ["short"]
    assert wrap_text("x" * 25, 10, indent=2) == ["x" * 10, "  " + "x" * 8, "  " + "x" * 7]


def test_a_dotted_name_wider_than_its_row_folds_after_a_dot() -> None:
    """Operator trial: a Java class name wider than the row was cut wherever
    the row ended (`...cloud.sample.c` / `omponent.DummyCloudController`). A
    piece too wide for any row still folds, but after a dot when one is near."""
    name = "com.red5pro.services.streammanager.cloud.sample.component.DummyCloudController"
    line = f'<bean class="{name}" />'
    for width in (30, 40, 50):
        rows = wrap_text(line, width)
        assert "".join(rows).replace(" ", "") == line.replace(" ", ""), rows
        # Every row the name runs on but its last ends after a dot.
        inner = [row for row in rows if "." in row and "Dummy" not in row]
        assert inner and all(row.endswith(".") for row in inner), (width, rows)
        assert all(len(row) <= width for row in rows), (width, rows)
    assert wrap_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]  # no dot: as before
    # Review: a row's trailing space took room in the fold, and the text
    # carried past a dot was not held to the narrower continuation rows.
    assert wrap_text("aaaaaaaaaaaaaaa.bbbb next", 10) == ["aaaaaaaaaa", "aaaaa.bbbb", "next"]
    assert all(len(row) <= 10 for row in wrap_text("aaaa." + "b" * 17, 10, indent=8))


def test_a_tab_takes_the_cells_it_is_drawn_in() -> None:
    """Textual draws a tab to the next stop of 8 cells; measured as no cell, a
    line of XML indented with tabs ran over its row, and Textual broke it
    again at the widget's left edge, in front of the plan's indent."""
    from textual.content import Content

    from screens.wrap import wrap_content

    text = Content('edit f: x\n\t\t\t<property name="accessSecret" value="${aws.accessSecret}" />')
    # From where a row holds the line's indentation (32 cells) and first word.
    for width in range(42, 80):
        rows = wrap_content(text, width, indent=11, hang=True)
        assert all(row.expand_tabs(8).cell_length <= width for row in rows), \
            (width, [row.plain for row in rows])
        assert all(row.plain.startswith(" " * 11) for row in rows[1:]), (width, rows)


def test_a_diff_line_whose_first_word_is_wider_than_its_row_starts_on_its_own_row() -> None:
    """Review: a break was allowed in the pad before the marker, so a line
    whose first word (a hash, a class name) did not fit left its own row empty
    and its next row read `-  -AAA…`: a removed line whose text began with -."""
    from textual.content import Content

    from screens.wrap import wrap_content

    for first_word in ("A" * 50, "設定値説明" * 6):
        diff = Content(" 2. [edit] edit f: x\n-" + first_word + " tail")
        rows = [row.plain for row in wrap_content(diff, 40, indent=11, hang=True, marks="-+")]
        assert rows[1] == " " * 11 + "-" + first_word[:len(rows[1]) - 12], rows
        assert all(row.strip() and "-  -" not in row for row in rows), rows
        assert all(row[11] == "-" for row in rows[1:]), rows


def test_a_diff_lines_next_rows_keep_its_marker_and_hang_under_its_text() -> None:
    """The layout chosen for a wrapped diff line: its marker again, in its
    style, then two cells past the line's own indentation; a context line's
    rows hang the same way behind a blank marker; a tab is 8 cells wide, and
    the hang never takes more than half the row."""
    from textual.content import Content

    from screens.wrap import wrap_content

    diff = Content("\n").join([
        Content("edit f: x"),
        Content.styled("-  alpha beta gamma delta", "red"),
        Content("   alpha beta gamma delta"),
        Content.styled("+\tone two three", "green"),
    ])
    rows = wrap_content(diff, 16, indent=2, hang=True, marks="-+")
    assert [row.plain for row in rows] == [
        "edit f: x",
        "  -  alpha beta",
        "  -    gamma",
        "  -    delta",
        "     alpha beta",
        "       gamma",
        "       delta",
        "  +     one two",
        "  +      three",  # held to half the room past the marker: 6 of 13
    ]
    assert all(row.spans[0].style == "red" and row.spans[0].start == 2 for row in rows[1:4])
    assert [row.spans[0].style for row in rows[7:]] == ["green", "green"]


def test_every_phase_heading_fits_the_checklist_on_one_row() -> None:
    """Review: "ROLLBACK · under way: the stream manager is down until it ends"
    was 62 cells in a 61-cell checklist, and wrapped at every wide size. From
    100 to 119 columns the checklist is 48 cells inside, and two headings took
    a second row there (stop 21's trial): each fits that too."""
    from itertools import product

    from runbook.model import Outcome
    from screens.presentation import GROUPS, NOT_NEEDED, WENT_BACK
    from screens.run_state import RunState
    from screens.views import group_titles

    inside = 50 - 2  # #left's width in app.tcss from 100 to 119 columns, less its border
    headings = {*GROUPS.values(), NOT_NEEDED, WENT_BACK}
    back = StepCard(18, "stop-new", "Stop the new release", Phase.ROLLBACK, "Stops it.")
    # After the way back, the heading names the step it does not undo, once run.
    kept = StepCard(17, "recreate", "Recreate", Phase.CUTOVER, "Recreates.",
                    the_way_back_undoes=False)
    for down, step, outcome, made in product((None, 1e9), ("pending", "running"),
                                             (None, Outcome.DONE, Outcome.ROLLED_BACK),
                                             ("pending", "done", "in-doubt")):
        state = RunState(cards=[back, kept], target="u@h:22",
                         states={back.id: step, kept.id: made}, down_since=down,
                         outcome=outcome)
        headings |= set(group_titles(state).values())
    assert any("recreate" in title for title in headings), headings
    assert all(len(title) <= inside for title in headings), \
        [title for title in headings if len(title) > inside]


def test_a_step_left_in_doubt_and_undone_says_its_retry_advice_was_before_the_way_back(
        ) -> None:
    """Re-trial (stop 49): the row read "undone", and beside it the step's
    result still invited a retry ("retry runs the step again") on a host the
    way back had put back."""
    from runbook.model import Outcome, StepReport
    from screens.run_state import RunState
    from screens.views import detail

    stop = StepCard(13, "stop-service", "Stop the live service", Phase.CUTOVER, "Stops it.")
    said = "the connection dropped. Reconnected: not in place; retry runs the step again"
    state = RunState(cards=[stop], target="u@h:22", states={stop.id: "in-doubt"},
                     reports={stop.id: StepReport(stop.id, StepState.IN_DOUBT, said)},
                     outcome=Outcome.ROLLED_BACK)
    shown = detail(state, stop).plain
    assert "undone" in shown and said in shown, shown
    assert "Result:" not in shown and "before the way back" in shown, shown


def test_the_short_step_count_does_not_call_skipped_steps_done() -> None:
    """TUI trial (stop 49): at 80 columns the count read "8/17 done" where 3
    of the 8 were skipped; from 100 it says "done or skipped"."""
    from screens.run_state import RunState
    from screens.views import status_clocks

    cards = [StepCard(n, f"s{n}", f"S{n}", Phase.PREPARE, "Does.") for n in range(1, 18)]
    states = {c.id: "skipped" if c.number < 4 else "done" if c.number < 9 else "pending"
              for c in cards}
    state = RunState(cards=cards, target="u@h:22", states=states, run_started=0.0)
    short = status_clocks(state, 60.0, narrow=True).plain
    assert short.endswith("8/17 done/skip"), short
    state.states = {**states, "s1": "done", "s2": "done", "s3": "done"}
    assert status_clocks(state, 60.0, narrow=True).plain.endswith("8/17 done")


def test_the_status_line_says_a_rehearsals_pace_known_or_not_and_not_at_80_columns() -> None:
    """Review: a rehearsal of unknown pace (`runbook run` against a rehearsal
    host; an adopted service of another pace) showed no pace at all, though it
    is the one the operator most needs told of; and at 80 columns the pace
    pushed the connection's state off the row."""
    from dataclasses import replace

    from screens.run_state import RunState
    from screens.views import Where, pace_shown, status_host

    rehearsal = settings()
    assert pace_shown(replace(rehearsal, rehearsal_pace=None)) == "at an unknown pace"
    assert pace_shown(replace(rehearsal, rehearsal_pace=1.0)) == "at the real pace"
    assert pace_shown(replace(rehearsal, rehearsal=False)) == ""
    state = RunState(cards=[], target="red5admin@127.0.0.1:2222", connection="connected")
    where = Where(True, "sandbox /tmp/x", Path("run.jsonl"), "at the fast pace")
    wide = status_host(state, where).plain
    assert "at the fast pace" in wide
    # After the connection's state: a cut row keeps that first (review).
    assert wide.index("ssh connected") < wide.index("at the fast pace"), wide
    narrow = status_host(state, where, narrow=True).plain
    assert "at the fast pace" not in narrow and "ssh connected" in narrow, narrow


def test_the_way_back_alone_shows_the_downtime_it_continues_and_counts_its_own_steps() -> None:
    """Operator trial (`runbook rollback`, the TUI): the clocks row said
    "downtime not started ... steps 0/0 done or skipped" for the whole way
    back, with the stream manager down all along: the run's start said when
    it went down, and the TUI took no note; and a way back alone has no
    upgrade steps to count."""
    from runbook.events import RunStarted, StepChanged
    from screens.run_state import RunState
    from screens.views import status_clocks

    back = [StepCard(n, f"rollback-{n}", f"Back {n}", Phase.ROLLBACK, "Goes back.")
            for n in (1, 2, 3)]
    state = RunState(cards=back, target="u@h:22")
    # As `runbook rollback` starts: no upgrade steps of its own.
    state.apply(RunStarted("sm.toml", "u@h:22", False, (), True, down_since=1000.0), 1030.0)
    state.apply(StepChanged(StepReport("rollback-1", StepState.DONE, "ok", 1.0)), 1031.0)
    row = status_clocks(state, 1090.0).plain
    assert "down 00:01:30" in row, row
    assert "way back 1/3 done" in row and "0/0" not in row, row
    assert "way back 1/3 done" in status_clocks(state, 1090.0, narrow=True).plain


def test_a_continued_runs_clock_says_it_counts_this_session_only() -> None:
    """Night trial (stop 44): resumed mid-cutover, "elapsed" began again at 0
    beside a downtime that went on from the first run: two clocks, one row,
    and nothing said they count from different moments."""
    from runbook.events import RunStarted
    from screens.run_state import RunState
    from screens.views import status_clocks

    cards = [StepCard(1, "rename", "Rename", Phase.CUTOVER, "Renames.")]
    fresh = RunState(cards=cards, target="u@h:22")
    fresh.apply(RunStarted("sm.toml", "u@h:22", False, ("rename",), False), 1000.0)
    assert "elapsed 00:00:30" in status_clocks(fresh, 1030.0).plain
    resumed = RunState(cards=cards, target="u@h:22")
    resumed.apply(RunStarted("sm.toml", "u@h:22", False, ("rename",), True, down_since=400.0),
                  1000.0)
    for narrow in (False, True):
        row = status_clocks(resumed, 1030.0, narrow=narrow).plain
        assert "elapsed" not in row, row
        # (A way back alone continues the cutover's journal too: "session"
        # fits it as well as a resume.)
        assert ("session 00:00:30" if narrow else "this session 00:00:30") in row, row


def test_the_link_reads_connected_again_once_a_reconnect_opened_it() -> None:
    """Trial: after a drop and a reconnect, the step left in doubt set the
    status to "ssh uncertain", which stayed through minutes of steps that
    succeeded over the re-opened connection. A step in doubt says the link is
    uncertain only when no connection opened after it was lost."""
    from runbook.events import Connected, Reconnecting, StepChanged
    from screens.run_state import RunState

    for reopened, expected in ((True, "connected"), (False, "uncertain")):
        state = RunState(cards=[], target="u@h:22")
        state.apply(Connected("u@h:22", "SHA256:x"), 0.0)
        state.apply(StepChanged(StepReport("upload", StepState.RUNNING)), 1.0)
        state.apply(Reconnecting("u@h:22", 1, 0.0, "the connection was lost"), 2.0)
        if reopened:
            state.apply(Connected("u@h:22", "SHA256:x"), 3.0)
        state.apply(StepChanged(StepReport("upload", StepState.IN_DOUBT)), 4.0)
        assert state.connection == expected, (reopened, state.connection)


def test_a_reconnect_given_up_reads_lost_not_reconnecting() -> None:
    """Review 62, G8: the reconnect gave up after 120 s and the step whose look
    met it failed; the status line still said "lost, reconnecting (attempt 4,
    in 3s)" while its question waited, though nothing reconnects until the
    operator answers. Told the give-up, it reads lost, and stays so through
    a step left in doubt, until a connection opens again."""
    from runbook.events import Connected, ReconnectGaveUp, Reconnecting, StepChanged
    from screens.run_state import RunState

    state = RunState(cards=[], target="u@h:22")
    state.apply(Connected("u@h:22", "SHA256:x"), 0.0)
    state.apply(StepChanged(StepReport("preflight", StepState.RUNNING)), 1.0)
    for attempt, wait in ((1, 0.0), (2, 0.7), (3, 1.5), (4, 3.1)):
        state.apply(Reconnecting("u@h:22", attempt, wait, "connection refused"), 2.0)
    state.apply(ReconnectGaveUp("u@h:22", 120.0, "connection refused"), 130.0)
    state.apply(StepChanged(StepReport(
        "preflight", StepState.FAILED, "the SSH connection was lost and could not be "
        "re-opened in 120s (connection refused)")), 130.0)
    assert state.connection == "lost (gave up after 120s)", state.connection
    state.apply(StepChanged(StepReport("preflight", StepState.IN_DOUBT)), 131.0)
    assert state.connection == "lost (gave up after 120s)", state.connection
    state.apply(Connected("u@h:22", "SHA256:x"), 140.0)
    assert state.connection == "connected"


def test_with_a_failures_choices_put_aside_s_says_they_wait() -> None:
    """Trial: a step failed, the operator put its choices aside (Esc), and s
    said "the runbook is checking the host; the next step is ready in a
    moment", while the run waited on the operator's answer to the failure."""
    from screens.run_state import RunState
    from screens.views import why_not_now

    card = StepCard(11, "delete-nodegroups", "Delete the nodegroups", Phase.CUTOVER, "Deletes.")
    state = RunState(cards=[card], target="u@h:22", states={card.id: "failed"},
                     recovering=card.id, run_started=1.0)
    said = why_not_now(state)
    assert "Delete the nodegroups failed" in said and "enter shows" in said, said


def test_a_step_that_failed_in_the_earlier_run_says_why() -> None:
    """Operator trial: resumed after a failure, the step's detail said only
    "Earlier run: failed"; why it failed was in the full log alone."""
    from runbook.journal_replay import Replay, StepHistory
    from screens.run_state import RunState
    from screens.views import detail

    card = StepCard(9, "start-service", "Start the service", Phase.CUTOVER, "Starts it.")
    why = "the service did not answer within 300s: no licence key"
    earlier = Replay(steps={card.id: StepHistory(state=StepState.FAILED, detail=why)})
    state = RunState(cards=[card], target="u@h:22", previous=earlier)
    assert f"Earlier run: failed: {why}" in detail(state, card).plain


def test_the_output_pane_says_the_reconnect_attempts_as_headless_does() -> None:
    """Trial 59 F7: with the connection lost as a cutover step began, the
    Output pane showed its command as if sent and nothing more for two
    minutes; only the status bar said it was reconnecting. Headless prints
    each attempt in the step's output: the pane does too."""
    from runbook.events import Reconnecting, StepChanged
    from screens.frontend import TuiFrontEnd
    from screens.output_store import OutputStore

    class Posted:
        def post_message(self, message: object) -> bool:
            return True

    store = OutputStore()
    front = TuiFrontEnd(Posted(), store)  # type: ignore[arg-type]
    front.tell(StepChanged(StepReport("promote-new", StepState.RUNNING)))
    front.tell(Reconnecting("u@h:22", 9, 9.0, "connection refused"))
    said = "\n".join(store.of("promote-new"))
    assert "reconnecting" in said and "attempt 9" in said and "connection refused" in said, said
