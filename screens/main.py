"""The screen the operator lives in: checklist left, the step and its output right.

It draws itself from the run state (screens/run_state.py) and the output
store; the app decides when something changed and calls the matching
``refresh_*``. The operator's keys are the app's actions (``app.run_step``):
this screen shows, the app acts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Resize, ScreenResume
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, OptionList, Static

from runbook.model import Phase, StepCard
from screens.output_log import OutputLog
from screens.output_store import OutputStore
from screens.presentation import UNDONE, legend
from screens.run_state import RunState
from screens.views import (
    Where,
    deletions,
    detail,
    group_titles,
    hint,
    plan_heading,
    status_clocks,
    status_host,
)
from screens.widgets import Checklist, OutputPane, StatusBar, StepDetail
from screens.wrap import wrap_content

# The clocks row's forms, longest first: whole; without the last cutover's
# time; each part the short way, as below 100 columns.
CLOCKS_FORMS: tuple[dict[str, bool], ...] = (
    {}, {"brief": True}, {"narrow": True}, {"narrow": True, "least": True})
# Below 100 columns the row starts from the short way of saying it.
NARROW_FORMS = 2

# From this many columns the checklist stands beside the step (app.tcss);
# from WIDE_FROM its rows say each state's word too.
BESIDE_FROM = 100
WIDE_FROM = 120


def breakpoint_for(width: int) -> str:
    return "-wide" if width >= WIDE_FROM else "-medium" if width >= BESIDE_FROM else "-narrow"


class MainScreen(Screen[None]):
    # Below 100 columns the checklist gives way to the step and its output
    # (app.tcss: Screen.-narrow); `c` brings it back, or hides it when beside.
    # Up to 119 its rows leave out the state's word, keeping the glyph (the
    # legend names them): with it, the step and its plan had 37 to 56 columns
    # (operator trial).
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual's own)
        (0, "-narrow"), (BESIDE_FROM, "-medium"), (WIDE_FROM, "-wide")]
    # The footer shows these in this order and cuts what does not fit at the
    # right: what the operator needs in the window comes first.
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority, so enter means "run this step" even while the checklist
        # (whose own enter only selects) has the focus.
        Binding("enter", "app.run_step", "Run step", id="run-step", priority=True,
                tooltip="Open the confirmation for the step the runbook is waiting on"),
        # In its place while a failed step's question is laid aside (escape):
        # enter brings that question back, and the footer says so (operator
        # trial 57, F20: it said "Run step").
        Binding("enter", "app.show_choices", "Choices", id="show-choices", priority=True,
                tooltip="The failed step's question again: try again, stop, or the way back"),
        Binding("s", "app.skip_step", "Skip", id="skip-step",
                tooltip="Skip the step the runbook is waiting on (asks for a reason)"),
        # While a step runs, where run and skip were.
        Binding("x", "app.stop_step", "Stop step", id="stop-step",
                tooltip="Stop the step running now; its question follows (asks first)"),
        Binding("c", "toggle_steps", "Steps", id="toggle-steps",
                tooltip="Show or hide the checklist of steps"),
        # The app's own q, placed here so the footer keeps it at 80 columns.
        Binding("q", "app.request_quit", "Quit", id="quit-main", key_display="q/^c",
                tooltip="Leave; asks first when something is running"),
        # Shown while the stream manager is down, where an 80-column footer
        # keeps it (operator trial: it was cut off all through the cutover).
        Binding("r", "app.rollback", "Roll back", id="rollback",
                tooltip="The way back to the old stream manager, instead of the step waiting"),
        Binding("L", "app.show_log", "Full log", id="show-log",
                tooltip="Every line of the run with its step; / searches it"),
        Binding("y", "app.copy_commands", "Copy", id="copy-commands",
                tooltip="Copy the selected step's commands to the clipboard"),
        Binding("w", "app.write_report", "Report", id="write-report",
                tooltip="Write the report for the change ticket beside the journal"),
        Binding("d", "app.review_properties", "Properties", id="review-properties",
                tooltip="Open the properties review of the properties step"),
        Binding("l", "focus_log", "Output", id="focus-log",
                tooltip="Move the focus to the output, to scroll it"),
        # The rest of the time r still says where the way back stands (nothing
        # to go back from yet, or any more), out of the footer.
        Binding("r", "app.where_the_way_back_stands", "Roll back", id="rollback-where",
                show=False),
        # Out of the footer while the step asked refuses a skip, or a step
        # runs, s still says why; and enter, while a step runs.
        Binding("s", "app.why_no_skip", "Skip", id="skip-step-why", show=False),
        Binding("enter", "app.why_no_run", "Run step", id="run-step-why", show=False,
                priority=True),
        Binding("x", "app.why_no_stop", "Stop step", id="stop-step-why", show=False),
        # Out of the footer until the run ends, w says when it writes the
        # report (operator trial: it did nothing, unsaid).
        Binding("w", "app.when_the_report_is_written", "Report", id="write-report-when",
                show=False),
        # In the footer only while a review waits; the rest of the time d
        # says when it opens (operator trial: shown at every step, it did nothing).
        Binding("d", "app.when_the_review_opens", "Properties", id="review-properties-when",
                show=False),
    ]

    def __init__(self, state: RunState, store: OutputStore, *, max_lines: int,
                 clock: Callable[[], float], where: Where) -> None:
        super().__init__()
        self.state = state
        self.store = store
        self.cards: list[StepCard] = state.cards
        self.max_lines = max_lines
        self.clock = clock
        self.where = where
        self.shown_output: str | None = None
        self.ready = False
        # The breakpoint class of the last width seen (set again as it composes).
        self.width_class = "-wide"
        # The width the clocks row was last fitted to and the form it took.
        self.clocks_fit = (0, 0)

    def compose(self) -> ComposeResult:
        # The breakpoint class the first resize would give, given now while the
        # screen is still empty: set by that resize, it restyled every widget
        # of the screen once more before the first paint (issue 12).
        self.width_class = breakpoint_for(self.app.size.width)
        self.add_class(self.width_class)
        yield StatusBar(id="status")
        # One container for all below the status bar: a repaint draws every child
        # of the screen whose clip it touches, so the clocks' tick draws its
        # background alone, not the body, the hint and the footer.
        with Vertical(id="page"):
            with Horizontal(id="body"):
                # Titles are set here, not in on_mount: a screen's Mount can come
                # before its children are in the DOM.
                with Vertical(id="left") as left:
                    left.border_title = "Procedure"
                    now = self.clock()
                    yield Checklist(self.cards, words=self.words, id="checklist",
                                    shown={card.id: self.row_now(card.id, now)
                                           for card in self.cards},
                                    titles=group_titles(self.state))
                    yield Static(self.legend(), id="legend")
                with Vertical(id="right"):
                    step = StepDetail(id="detail")
                    step.border_title = "Step"
                    yield step
                    output = OutputPane(max_lines=self.max_lines, id="output")
                    output.border_title = "Output"
                    yield output
            yield Static(id="hint")
            yield Footer()

    def on_screen_resume(self, event: ScreenResume) -> None:
        # Shown for the first time, the screen has just been styled widget by
        # widget as each mounted: Textual's resume would style all of them once
        # more before the first paint, changing nothing (about 10 ms; issue 12).
        # Any later resume (back from a dialog) restyles as usual.
        if not self.ready:
            event.refresh_styles = False

    @property
    def checklist(self) -> Checklist:
        return self.query_one("#checklist", Checklist)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def detail(self) -> StepDetail:
        return self.query_one("#detail", StepDetail)

    @property
    def output(self) -> OutputPane:
        return self.query_one("#output", OutputPane)

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one("#output-log", OutputLog)

    @property
    def can_draw(self) -> bool:
        # Not before the first paint, and not while shutting down: a timer can still
        # fire after the widgets are gone.
        return self.ready and self.is_attached and self.app.is_running

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_id and event.option_id in self.checklist.steps:
            self.refresh_detail()
            self.sync_output()

    def action_focus_log(self) -> None:
        self.log_widget.focus()

    def action_toggle_steps(self) -> None:
        """Show the checklist, or hide it: at this width's default again the
        choice is dropped (shown beside from 100 columns, hidden below)."""
        show = not self.query_one("#left").display
        self.remove_class("-checklist-shown", "-checklist-hidden")
        if show != (self.width_class != "-narrow"):
            self.add_class("-checklist-shown" if show else "-checklist-hidden")
        self.call_after_refresh(self.focus_what_shows, prefer_checklist=True)

    def focus_what_shows(self, prefer_checklist: bool = False) -> None:
        """The checklist where it shows (and is preferred, or nothing shown
        has the focus), else the Step pane: never a widget out of view.

        Hidden, the checklist's selection goes back to the step the run is on:
        the Step pane shows the selected step, and the hint and enter speak of
        the one asked about (operator trial 57, F1: browsed to step 19, then
        hidden, it showed 19 under a hint about 11). The Step pane takes the
        focus, so the arrows read on in its plan (F18: the hidden list kept the
        focus, and the arrows moved its selection unseen)."""
        if not self.query_one("#left").display:
            self.follow_the_run()
        focused = self.focused
        shown = focused is not None and all(
            node.display for node in focused.ancestors_with_self if isinstance(node, Widget))
        if shown and not prefer_checklist:
            return
        if self.query_one("#left").display:
            self.checklist.focus()
        else:
            self.detail.focus()

    def follow_the_run(self) -> None:
        """Select the step the runbook waits on, else the one running."""
        state = self.state
        step = state.recovering or state.asking or state.running
        if step is not None and self.checklist.selected_step != step:
            self.checklist.select_step(step)

    # --- drawing from the run state -------------------------------------------------

    def refresh_view(self) -> None:
        if not self.can_draw:
            return
        self.refresh_status()
        self.refresh_detail()
        self.refresh_hint()

    def row_now(self, step_id: str, now: float) -> tuple[str, float | None]:
        """A checklist row's state and time as the run stands at `now`."""
        return self.state.shown_state(step_id), self.state.elapsed(step_id, now)

    def refresh_step(self, step_id: str) -> None:
        # Whether it can draw first: its widgets are gone as the app closes.
        if not self.can_draw or step_id not in self.checklist.steps:
            return
        self.checklist.show_state(step_id, *self.row_now(step_id, self.clock()))
        if self.checklist.selected_step == step_id:
            self.refresh_detail()
        self.refresh_status()
        self.refresh_hint()

    def refresh_rows(self) -> None:
        """Every row as the run stands: its end changes rows no step report
        touched (the way back's after an upgrade, the cutover's after the way
        back; RunState.shown_state)."""
        if not self.can_draw:
            return
        now = self.clock()
        for step_id in self.checklist.steps:
            self.checklist.show_state(step_id, *self.row_now(step_id, now))
        self.query_one("#legend", Static).update(self.legend())

    def tick(self) -> None:
        """Once a second: the running step's elapsed time and the clocks row;
        nothing else on the screen changes with the time."""
        if not self.can_draw:
            return
        running = self.state.running
        if running is not None and running in self.checklist.steps:
            self.checklist.show_state(running, *self.row_now(running, self.clock()))
        self.status.show_row(1, self.clocks())

    def clocks(self) -> Content:
        """The clocks row as it reads now (a dialog and the full log show it
        too), in the longest of its forms that fits (CLOCKS_FORMS): the count
        of steps stays in view (stop 21's trial: with the last cutover's time
        beside the downtime, it ran off the row). Once a form did not fit at
        this width, the row keeps a shorter one: its numbers change width by
        the second, and it changed form by turns as the time left ran out
        (review)."""
        now = self.clock()
        width = self.status.content_region.width
        fitted_width, fitted = self.clocks_fit
        first = NARROW_FORMS if self.narrow else 0
        for form in range(max(first, fitted) if fitted_width == width else first,
                          len(CLOCKS_FORMS)):
            row = status_clocks(self.state, now, **CLOCKS_FORMS[form])
            if row.cell_length <= width:
                break
        self.clocks_fit = (width, form)
        return row

    def refresh_detail(self) -> None:
        if not self.can_draw:
            return
        step_id = self.checklist.selected_step
        if step_id is None:
            return
        card = self.state.by_id[step_id]
        self.detail.show(step_id, detail(self.state, card),
                         plan_heading(step_id in self.state.final_plans),
                         self.state.plans.get(step_id),
                         empty="(worked out when its turn comes)"
                         if step_id not in self.state.plans else "(nothing to run)")
        # The title too: below 100 columns no checklist says which step this is.
        self.detail.border_title = (
            f"Step {card.number} of {len(self.state.forward)} · {card.title}"
            if card.phase is not Phase.ROLLBACK
            else f"The way back: step {card.number} · {card.title}")

    def refresh_status(self) -> None:
        if self.can_draw:
            self.status.show(status_host(self.state, self.where, narrow=self.narrow,
                                         width=self.status.content_region.width or None),
                             self.clocks())
            # The phase headings say what the status says: down or not, going back.
            for phase, title in group_titles(self.state).items():
                self.checklist.retitle_group(phase, title)

    # The lines the hint may take when the run stopped on an error: what to
    # do about it is said whole (operator trial 59, F8: cut at "make…").
    ERROR_LINES = 6

    def refresh_hint(self) -> None:
        if self.can_draw:
            shown = self.query_one("#hint", Static)
            # Inline, over app.tcss's max-height; None gives it back.
            shown.styles.max_height = self.ERROR_LINES if self.state.run_error else None
            shown.update(self.fitted_hint())

    def fitted_hint(self) -> Content:
        """The hint whole where it fits its lines (app.tcss: #hint's max-height,
        within its padding across the screen), else said the brief way."""
        said = partial(hint, self.state, selected=self.checklist.selected_step,
                       journal=self.where.journal)
        whole = said()
        width = self.size.width - 2
        lines = self.ERROR_LINES if self.state.run_error else 3 if self.narrow else 2
        if width <= 0:
            return whole
        journal = str(self.where.journal)

        # A hint naming the journal is broken as plans are (screens.wrap):
        # its path after a slash or a hyphen, never inside a word, and its
        # name whole on its row where the lines allow (operator trial 57, F4:
        # folded at the line's end, "...127.0.0.1-20261206T18" / "0751Z.jsonl").
        def rows(hint: Content) -> list[Content]:
            if journal not in hint.plain:
                return hint.wrap(width)
            kept = wrap_content(hint, width, whole=(self.where.journal.name,))
            return kept if len(kept) <= lines else wrap_content(hint, width)

        shown = whole
        if len(rows(whole)) > lines:
            # Brief, and told the lines it has: the keys to press next show
            # whatever else gives way (trial 56, F6).
            shown = said(brief=True, fits=lambda hint: len(rows(hint)) <= lines)
        return Content("\n").join(rows(shown)) if journal in shown.plain else shown

    # --- output ----------------------------------------------------------------------

    def flush_output(self) -> None:
        """Move newly arrived lines onto the screen in one write."""
        if not self.can_draw:
            return
        pending = self.store.take_pending()
        if not pending:
            return
        if self._wanted_output() != self.shown_output:
            self.sync_output()
        elif self.shown_output in pending:
            self.log_widget.write_lines(pending[self.shown_output])

    def _wanted_output(self) -> str | None:
        selected = self.checklist.selected_step
        if selected is not None and self.store.of(selected):
            return selected
        if self.state.running is not None and self.store.of(self.state.running):
            return self.state.running
        return self.store.last_step

    def sync_output(self) -> None:
        """Show the selected step's output, or the latest step's when it has none."""
        if not self.can_draw:
            return
        wanted = self._wanted_output()
        if wanted != self.shown_output:
            self.shown_output = wanted
            self.output.show_lines(self.store, wanted, self.max_lines)
        card = self.state.by_id.get(wanted or "")
        self.output.name_step(f"{card.number}. {card.title}" if card else wanted,
                              running=wanted is not None and wanted == self.state.running)
        self.sync_progress()

    def sync_progress(self) -> None:
        if not self.can_draw:
            return
        step_id = self.shown_output or ""
        shown = self.state.progress.get(step_id)
        if shown is None and self.state.running is not None:
            step_id = self.state.running
            shown = self.state.progress.get(step_id)
        note = deletions(self.state, step_id, self.store.commands.get(step_id, ()))
        if shown is None and note is None:
            self.output.hide_progress()
        elif shown is None:
            self.output.show_progress(note or "", 0, None, bar=False)
        else:
            label = f"{note} · {shown.label}" if note else shown.label
            self.output.show_progress(label, shown.done, shown.total, share=not shown.of_limit)

    @property
    def narrow(self) -> bool:
        """Below 100 columns: the status line keeps to what matters there."""
        return self.width_class == "-narrow"

    @property
    def words(self) -> bool:
        """The checklist's rows say each state's word (all but 100 to 119)."""
        return self.width_class != "-medium"

    def legend(self) -> Content:
        """The legend, three looks to a row beside the narrower checklist."""
        state = self.state
        # A row that shows its glyph alone is named by the legend only.
        undone = [] if self.words else [card.the_way_back_word for card in state.cards
                                        if state.shown_state(card.id) == UNDONE]
        # Below 100 columns the list spans the screen, less its border and
        # padding: as many looks to a row as fit there, each glyph beside
        # its word (operator trial 57 F3: at 60 columns "⚠" ended a row and
        # "warnings" began the next).
        room = self.app.size.width - 4 if self.narrow else None
        for per_row in (5, 4, 3) if self.words else (3,):
            drawn = legend(per_row, ended=state.finished_either_way, undone_words=undone,
                           not_undone=state.way_back_could_not)
            if room is None or max(map(cell_len, drawn.plain.splitlines())) <= room:
                break
        return drawn

    def on_resize(self, event: Resize) -> None:
        # From the new size, not the breakpoint class: Textual sets that after
        # this handler, and a screen under a dialog hears of one resize only
        # (review: closing the dialog left rows cut, or without their word).
        was, self.width_class = self.width_class, breakpoint_for(event.size.width)
        self.refresh_status()
        self.refresh_hint()
        # Keys closer together: at 80 columns the last one's word was cut. The
        # command palette's key, docked at the right, covered the last keys
        # there: it leaves the footer below 100 columns (^p still opens it).
        for footer in self.query(Footer):
            footer.compact = self.narrow
            footer.show_command_palette = not self.narrow
        for checklist in self.query("#checklist").results(Checklist):
            if checklist.words != self.words:
                checklist.show_words(self.words)
        for shown in self.query("#legend").results(Static):
            drawn = self.legend()
            if drawn.plain != str(shown.content):
                shown.update(drawn)
        if self.ready and was != self.width_class:
            # A pane gone out of view with the width took the focus with it.
            self.call_after_refresh(self.focus_what_shows)
