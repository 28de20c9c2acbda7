"""Dialogs: confirm a step, skip it with a reason, leave (how, while
something runs), answer a failed step (try again, the way back, stop), take
the way back, stop the running step, and what to do with an unfinished
earlier run (continue it, start a new run, or quit).

Each returns its answer through ``dismiss``; none of them knows the executor.
Each has its own footer, so the keys that work right now are always on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Footer, Input, Label, Static

from runbook.config import once_the_way_back_is_taken
from runbook.journal_replay import Replay
from runbook.model import DESTRUCTIVE_NOW, Action, Phase, StepCard, StepState
from screens.presentation import look
from screens.widgets import ClocksRow, PlanView, Wrapped

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A box over the dimmed main screen: a body that scrolls, and the answer
    (buttons, a field) docked below it, in view at any terminal size.

    Above the dimmed main screen, where it shows its clocks row, the dialog
    shows that row undimmed, and the app ticks it (`show_clocks`) in place of
    the main screen's: the operator watches the downtime while deciding, and
    a change beneath a dialog makes Textual draw the whole dimmed screen again,
    which once a second costs some 2 % of a core."""

    CSS_PATH = "dialogs.tcss"
    # Below 30 rows the answer takes less room (dialogs.tcss: Dialog.-short), so
    # that at 80x24 the plan being confirmed shows whole (operator trial).
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # noqa: RUF012 (Textual's own)
    # The main screen's hint has a third line below 100 columns (app.tcss:
    # Screen.-narrow #hint; main.BESIDE_FROM): the room a dialog keeps for it.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-beside")]  # noqa: RUF012 (Textual's own)
    # Priority: the answer field (a step id, a reason) has no use for them.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pagedown", "body('scroll_page_down')", "Page down", id="dialog-page-down",
                show=False, priority=True),
        Binding("pageup", "body('scroll_page_up')", "Page up", id="dialog-page-up",
                show=False, priority=True),
        Binding("home", "body('scroll_home')", "Top", id="dialog-top", show=False,
                priority=True),
        Binding("end", "body('scroll_end')", "End", id="dialog-end", show=False,
                priority=True),
        Binding("down", "body('scroll_down')", "Down", id="dialog-down", show=False),
        Binding("up", "body('scroll_up')", "Up", id="dialog-up", show=False),
    ]

    def __init__(self, *, keeps_hint: bool = False) -> None:
        # keeps_hint: the hint under it names this dialog's keys (RunState.
        # recovery_keys), and its box ends above the hint's lines (dialogs.tcss:
        # Dialog.-keeps-hint; re-trial: at 80x24 its border lay over the first).
        super().__init__(classes="dialog -keeps-hint" if keeps_hint else "dialog")
        self.clocks = Content()
        self._notice_ends: Timer | None = None
        self._notice_early: tuple[str, bool, float] | None = None

    def compose(self) -> ComposeResult:
        clocks = ClocksRow(id="dialog-clocks")
        clocks.rows[0] = self.clocks
        yield clocks
        yield from self.compose_box()
        # Below the box, above the footer: what a key pressed here said (say).
        yield Static(id="dialog-notice")

    def on_mount(self) -> None:
        # No toasts over a dialog: at the bottom right they lay over its
        # buttons, in a band at the top over its clocks, title and DESTRUCTIVE
        # line (operator trial, review). What is said while it is up is its
        # own line; what was said before waits on the main screen.
        self.query("ToastRack").remove()
        if self._notice_early is not None:
            self.say(*self._notice_early)

    def say(self, message: str, warning: bool, seconds: float) -> None:
        """A notice while this dialog is up, for `seconds`; the newest only."""
        notice = next(iter(self.query("#dialog-notice").results(Static)), None)
        if notice is None:  # said as it opens, before it is composed: shown on mount
            self._notice_early = (message, warning, seconds)
            return
        self._notice_early = None
        notice.update(Content(message))
        notice.set_class(warning, "-warning")
        notice.display = True
        if self._notice_ends is not None:
            self._notice_ends.stop()
        self._notice_ends = self.set_timer(seconds, lambda: setattr(notice, "display", False))

    def compose_box(self) -> ComposeResult:
        """The box, its body and its answer: each dialog's own."""
        yield from ()

    def dismiss(self, result: T | None = None) -> AwaitComplete:
        """Answered only while on top: Textual's dismiss pops whatever screen is.
        An answer that comes after this dialog gave way (a click queued as a
        step failed, and its question took the place) popped that question
        unanswered, and the run hung with no dialog to answer (review)."""
        if self.app.screen is not self:
            done: AwaitComplete = AwaitComplete.nothing()  # type: ignore[no-untyped-call]
            return done
        return super().dismiss(result)

    def show_clocks(self, clocks: Content) -> None:
        # The app may call this as the dialog opens, before it is composed.
        self.clocks = clocks
        for row in self.query("#dialog-clocks").results(ClocksRow):
            row.show_row(0, clocks)

    def keys_for(self, action: str) -> str:
        """The keys that do `action` here as its bindings stand, a keymap's
        moves included ("n or esc"), said as the footer says them (review:
        a keymap to question_mark read "question_mark tries it again"); empty
        where none may now."""
        keys = [self.app.get_key_display(active.binding)
                for active in self.active_bindings.values()
                if active.node is self and active.binding.action == action]
        return " or ".join(sorted(dict.fromkeys(keys), key=len))

    def key_of(self, binding_id: str) -> str:
        """The key of the binding `binding_id` as it stands (a keymap moves
        it), said as the footer says it; empty where it may not now."""
        return next((self.app.get_key_display(active.binding)
                     for active in self.active_bindings.values()
                     if active.node is self and active.binding.id == binding_id), "")

    def keys_said(self) -> dict[str, str]:
        """What the hint under it names, by choice: the keys of each."""
        return {}

    def action_body(self, method: str) -> None:
        getattr(self.query_one(".dialog-body", VerticalScroll), method)(animate=False)


@dataclass(frozen=True)
class Target:
    """Where a step's commands go, as the confirmation shows it."""

    address: str
    port: int
    user: str
    sudo: bool
    rehearsal: bool


class ConfirmDialog(Dialog[bool]):
    """Shows exactly what will run where, and asks for y or the typed step id."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "run", "Run it", id="confirm-yes"),
        Binding("n", "no", "Don't run", id="confirm-no"),
        Binding("escape", "back", "Back", id="confirm-back"),
    ]

    def __init__(self, step: StepCard, total: int, target: Target, plan: list[Action],
                 warnings: Sequence[str] = (), *, destructive_now: bool = False) -> None:
        super().__init__()
        self.step = step
        self.total = total
        self.target = target
        self.plan = plan
        self.warnings = list(warnings)
        # Its plan as asked now deletes where it usually does not (schema over
        # its own unfinished import): its id typed, and the badge says why.
        self.destructive_now = destructive_now and not step.needs_typed_confirmation
        self.typed = step.needs_typed_confirmation or destructive_now

    def compose_box(self) -> ComposeResult:
        step = self.step
        with Vertical(id="confirm", classes="dialog-box" + (" -destructive" if self.typed else "")):
            with VerticalScroll(classes="dialog-body"):
                yield from self._body()
            with Vertical(classes="dialog-foot"):
                if self.typed:
                    yield Label(Content.assemble("Type ", (step.id, "bold"), " and press enter "
                                                 "to run it. Escape goes back."),
                                id="confirm-prompt")
                    typed = Input(placeholder="the step id", id="confirm-input", compact=True)
                    typed.cursor_blink = False
                    yield typed
                    yield Label("", id="confirm-error", classes="error")
                else:
                    yield Label(Content.assemble("Press ", ("y", "bold"), " to run it, ",
                                                 ("n", "bold"), " or escape to go back."),
                                id="confirm-prompt")
                with Horizontal(classes="buttons"):
                    yield Button("Run it", id="confirm-run", variant="error" if self.typed
                                 else "primary", disabled=self.typed)
                    yield Button("Back", id="confirm-cancel")
        yield Footer()

    def _body(self) -> ComposeResult:
        step, target = self.step, self.target
        yield Wrapped(Content.assemble(
            (f"Step {step.number} of {self.total}: " if step.phase != "rollback"
             else f"The way back, step {step.number}: ", "$text-muted"),
            (step.title, "bold"), (f"   ({step.id})", "$text-muted")), id="confirm-title")
        if self.typed:
            why = ("cutover: the stream manager is down from the first change a cutover "
                   "step makes until the nodegroups are back" if step.phase == "cutover"
                   else "the way back: the stream manager is down until it ends"
                   if step.phase == "rollback"
                   else DESTRUCTIVE_NOW if self.destructive_now
                   else "it deletes or moves files on the host")
            yield Wrapped(Content.assemble((" DESTRUCTIVE ", "bold $text on $error"),
                                           "  ", (why, "$error")), id="confirm-badge")
        else:
            yield Wrapped(Content.styled("Not destructive: it reads, copies or adds, "
                                         "and changes nothing the live service uses.",
                                         "$text-muted"), id="confirm-badge")
        for warning in self.warnings:
            # In full, every time: the operator may not have read it the first time.
            yield Wrapped(Content.assemble(("⚠ ", "bold $warning"), warning),
                          indent=2, classes="confirm-warning")
        sudo = "as root through sudo -n" if target.sudo else "as that user, without sudo"
        where = "the rehearsal host on this machine" if target.rehearsal else "the host"
        yield Wrapped(Content.assemble(
            ("Host  ", "bold"), f"{target.address} port {target.port} ({where})\n",
            ("User  ", "bold"), f"{target.user}, commands run {sudo}"),
            indent=6, id="confirm-target")
        yield Label("What runs, in order:", classes="section")
        yield PlanView(self.plan, id="confirm-plan")

    @property
    def AUTO_FOCUS(self) -> str:  # type: ignore[override]
        # The id field, where a destructive step's answer is typed; else Back,
        # as every dialog's stays: an enter pressed twice must not run a step
        # (trial 55), and y says it outright.
        return "#confirm-input" if self.typed else "#confirm-cancel"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only the untyped confirmation takes a bare y or n (and the typed one
        # keeps them out of the footer): a destructive step needs its id typed.
        if action in ("run", "no"):
            return not self.typed
        return True

    def action_run(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    def action_back(self) -> None:
        self.dismiss(False)

    @on(Input.Changed, "#confirm-input")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-run", Button).disabled = event.value.strip() != self.step.id
        self.query_one("#confirm-error", Label).update("")
        self.query_one("#confirm-error", Label).display = False

    @on(Input.Submitted, "#confirm-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.step.id:
            self.dismiss(True)
        else:
            error = self.query_one("#confirm-error", Label)
            error.update(f"That is not it: type {self.step.id} exactly to run this step.")
            error.display = True
            # Left in view to see the slip, selected so that what is typed
            # next takes its place (trial: it went on the end of it).
            event.input.select_all()

    @on(Button.Pressed, "#confirm-run")
    def _run(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def _cancel(self) -> None:
        self.dismiss(False)


class SkipDialog(Dialog[str | None]):
    """A skip needs a reason: it goes into the journal and the report."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="skip-back"),
    ]

    def __init__(self, step: StepCard, *, cutover_needs: str = "",
                 offers_again: str = "--resume") -> None:
        super().__init__()
        self.step = step
        # What its check found the cutover cannot work without (the engine's
        # StepReport.cutover_needs): skipped, the cutover is refused.
        self.cutover_needs = cutover_needs
        # What offers it again (Settings.offers_again): a throwaway
        # rehearsal's host is gone once it ends, so not --resume there.
        self.offers_again = offers_again

    def compose_box(self) -> ComposeResult:
        with Vertical(id="skip", classes="dialog-box"):
            with VerticalScroll(classes="dialog-body"):
                yield Wrapped(Content.assemble(("Skip step ", "$text-muted"), (
                    f"{self.step.number}: {self.step.title}", "bold")))
                note = ("Skipping a cutover step leaves the procedure incomplete; later steps "
                        "may fail or behave differently." if self.step.phase == "cutover"
                        else "Cutover only begins once every prepare step is done or skipped "
                        "with a reason.")
                if self.cutover_needs:
                    # Before the skip, not first after it (re-trial 53), in
                    # the words the engine says it in once skipped.
                    yield Wrapped(Content.assemble(
                        ("⚠ The cutover will not begin ", "bold $warning"),
                        "while this step's check does not find its outcome in place (begun "
                        f"so, {self.cutover_needs}): do by hand what it does before then, or "
                        f"run it ({self.offers_again} offers it again)."), id="skip-refused")
                if self.step.caution:  # as the step's page says it (operator trial)
                    yield Wrapped(Content.assemble(("The step's caution: ", "bold $warning"),
                                                   self.step.caution))
                yield Wrapped(Content.styled(note, "$text-muted"))
            with Vertical(classes="dialog-foot"):
                yield Label("Why skip it? It goes into the journal and the report.")
                reason = Input(placeholder="for example: done by hand, see ticket",
                               id="skip-reason", compact=True)
                reason.cursor_blink = False
                yield reason
                yield Label("", id="skip-error", classes="error")
                with Horizontal(classes="buttons"):
                    yield Button("Skip it (enter)", id="skip-save", variant="warning")
                    # Its own key's button, as the keymap leaves it.
                    yield Button(f"Back ({self.key_of('skip-back') or 'esc'})",
                                 id="skip-cancel")
        yield Footer()

    AUTO_FOCUS = "#skip-reason"

    @on(Input.Submitted, "#skip-reason")
    def _submitted(self) -> None:
        self._save()

    @on(Button.Pressed, "#skip-save")
    def _save(self) -> None:
        reason = self.query_one("#skip-reason", Input).value.strip()
        if reason:
            self.dismiss(reason)
        else:
            error = self.query_one("#skip-error", Label)
            error.update("A reason is required to skip a step.")
            error.display = True

    @on(Button.Pressed, "#skip-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_back(self) -> None:
        self.dismiss(None)


# What the operator chose when asked about leaving.
WAIT, ABORT, DETACH, STOP, STAY = "wait", "abort", "detach", "stop", "stay"
QUITTING = (WAIT, ABORT, DETACH, STOP)
# What leaving means now: a step (or a check) runs, the runbook waits on the
# operator, or the run has ended.
BUSY, IDLE, ENDED = "busy", "idle", "ended"


@dataclass(frozen=True)
class Leaving:
    """What the quit dialog says, taken from the run as it is now."""

    kind: str
    what: str = ""  # busy: what runs
    next_step: str = ""  # idle: the step the runbook waits on
    ended: str = ""  # ended: how the run ended, in words
    down: bool = False  # the stream manager is down (the cutover has not ended)
    waiting: bool = False  # busy: a quit already waits for the running step (w)
    # The way back has begun: where it stands ("" before any step of it is
    # done), said in place of a cutover's "down" (trial 61, F4)
    going_back: bool = False
    back: str = ""
    # A rehearsal whose host goes as it ends (Settings.rehearsal_throwaway):
    # no later run goes on with it.
    throwaway: bool = False


class QuitDialog(Dialog[str]):
    """Leaving while the runbook is busy, between steps, or after the run.

    Busy: wait (stop before the next step), detach (quit, leaving the command
    running on the host), abort (ask the host to stop it, then quit) or stay.
    Idle (waiting for the operator): stop here, or stay. Ended: quit, or stay.
    The run goes on behind the dialog: the app tells it what is so now
    (`show`), and it says that instead (operator trial: it said a finished
    step was running). A key of what it said a moment ago that quits (w, d,
    a) still quits: the app does what the run allows by then.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "choose('wait')", "Wait", id="quit-wait"),
        Binding("d", "choose('detach')", "Detach", id="quit-detach"),
        Binding("a", "choose('abort')", "Abort", id="quit-abort"),
        Binding("y", "choose('stop')", "Stop and quit", id="quit-stop"),
        Binding("y", "leave", "Quit", id="quit-leave"),
        Binding("n", "choose('stay')", "Stay", id="quit-stay-n"),
        Binding("escape", "choose('stay')", "Stay", id="quit-stay"),
        # The busy dialog's keys once it no longer is: out of the footer, and
        # they quit as y does (each said "and quit").
        Binding("w", "late('wait')", "Quit", id="quit-wait-late", show=False),
        Binding("d", "late('detach')", "Quit", id="quit-detach-late", show=False),
        Binding("a", "late('abort')", "Quit", id="quit-abort-late", show=False),
    ]

    def __init__(self, leaving: Leaving) -> None:
        super().__init__()
        self.leaving = leaving
        self._redrawing = False

    @property
    def busy(self) -> bool:
        return self.leaving.kind == BUSY

    def show(self, leaving: Leaving) -> None:
        """The run moved on: say what is so now."""
        if leaving != self.leaving:
            self.leaving = leaving
            if not self._redrawing:
                self._redrawing = True
                self.call_later(self._redraw)

    async def _redraw(self) -> None:
        # One at a time: a step's end, the run's end and its worker's come
        # together, and two recomposes at once leave the box empty.
        try:
            drawn = None
            while drawn != self.leaving:
                drawn = self.leaving
                await self.recompose()
        finally:
            self._redrawing = False
        for button in self.query("#quit-stay").results(Button):
            button.focus()
        self.refresh_bindings()

    def compose_box(self) -> ComposeResult:
        leaving = self.leaving
        with Vertical(id="quit", classes="dialog-box"):
            with VerticalScroll(classes="dialog-body"):
                if leaving.down and leaving.going_back:
                    # Part way back the old release may answer already (trial
                    # 61, F4): where the way back stands, as the exit line says.
                    where = f" ({leaving.back})" if leaving.back else ""
                    then = ("the rehearsal ends here, and its host goes as runbook quits"
                            if leaving.throwaway else
                            "it stays so after you leave, until a run goes on with the way back")
                    yield Wrapped(Content.styled(
                        f"The stream manager is down, on the way back to the old one{where}: "
                        f"{then}.", "bold $error"))
                elif leaving.down:
                    # What leaving costs, first: in the cutover it is downtime.
                    # A throwaway rehearsal's host goes with it: no run goes on.
                    then = ("the rehearsal ends here with it down, and its host goes as "
                            "runbook quits" if leaving.throwaway else
                            "it stays down after you leave, until a run goes on from here or "
                            "takes the way back")
                    yield Wrapped(Content.styled(f"The stream manager is down: {then}.",
                                                 "bold $error"))
                if leaving.kind == BUSY:
                    yield Wrapped(Content.assemble(("Busy: ", "bold $warning"), leaving.what))
                    if leaving.waiting:
                        yield Wrapped(Content.assemble(
                            ("A quit already waits for it to finish", "bold"),
                            ": Stay (n) calls it off, and the run goes on."))
                    yield Wrapped(Content.assemble(
                        ("w  Wait", "bold"), ": let it finish, then stop before the next step "
                        "and quit. Nothing is cut off.\n",
                        ("d  Detach", "bold"), ": quit now. What the step started goes on "
                        "without runbook.\n"
                        "   It ends on its own: a command on the host at its time limit there, "
                        "at the latest.\n",
                        ("a  Abort", "bold"), ": stop the step and quit.\n"
                        "   A command on the host is told to stop: TERM, then KILL.\n"
                        "   A root SSH session may ignore both; the host's time limit ends it.\n"
                        "   An API request already sent stands. A wait just ends."),
                        indent=3, id="quit-text")
                    # Not one of the choices: not indented as one (operator trial).
                    next_run = ("this rehearsal's host goes as runbook quits: to practise "
                                "it again, rehearse again") if leaving.throwaway else (
                        "the next run (--resume) checks the host before doing it again")
                    yield Wrapped("After detach or abort the journal records the step as in "
                                  f"doubt; {next_run}.")
                elif leaving.kind == IDLE:
                    yield Wrapped(Content.assemble(("Stop the run here?", "bold")))
                    where = f" before {leaving.next_step}" if leaving.next_step else ""
                    yield Wrapped(
                        f"Nothing is running. The journal records that you stopped{where}. "
                        "As it quits, runbook says how to go on from here; "
                        "steps whose outcome is already in place are recognised as done.",
                        id="quit-text")
                else:
                    yield Wrapped(Content.assemble(("The run has ended", "bold"),
                                                   f": {leaving.ended}." if leaving.ended
                                                   else "."))
                    yield Wrapped("Nothing is running, and leaving stops nothing. As it quits, "
                                  "runbook says where the stream manager stands and how to go "
                                  "on from here.", id="quit-text")
            with Horizontal(classes="buttons dialog-foot"):
                if leaving.kind == BUSY:
                    yield Button("Wait (w)", id="quit-wait", variant="primary")
                    yield Button("Detach (d)", id="quit-detach")
                    yield Button("Abort (a)", id="quit-abort", variant="error")
                else:
                    yield Button("Quit (y)" if leaving.kind == ENDED else "Stop and quit (y)",
                                 id="quit-stop", variant="warning")
                yield Button("Stay (n)", id="quit-stay")
        yield Footer()

    AUTO_FOCUS = "#quit-stay"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        kind = self.leaving.kind
        if action == "choose" and parameters:
            allowed = {BUSY: (WAIT, DETACH, ABORT), IDLE: (STOP,)}.get(kind, ())
            return parameters[0] in (*allowed, STAY)
        if action == "leave":
            return kind == ENDED
        if action == "late":
            return kind != BUSY
        return True

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_leave(self) -> None:
        self.dismiss(STOP)

    def action_late(self, choice: str) -> None:
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choice = (event.button.id or "").removeprefix("quit-")
        if choice in (*QUITTING, STAY):
            self.dismiss(choice)


class RecoverDialog(Dialog[str | None]):
    """A step failed: try it again (its check looks first), roll back to the old
    stream manager (cutover only), or stop here. Escape only lays the question
    aside (None), to read the output first: it stopped the run once, and with
    it the way back (operator trial)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "choose('retry')", "Try again", id="recover-retry"),
        Binding("r", "choose('rollback')", "Roll back", id="recover-rollback"),
        Binding("q", "choose('stop')", "Stop", id="recover-stop"),
        Binding("escape", "back", "Back", id="recover-back"),
        # Where the failure says a known_hosts line to add (a refused host key).
        Binding("y", "copy_line", "Copy line", id="recover-copy-line"),
    ]

    def __init__(self, step: StepCard, detail: str, *, can_roll_back: bool,
                 stopped: bool = False, retry_helps: bool = True,
                 copy: Callable[[str, str], None] | None = None,
                 known_line: str | None = None) -> None:
        super().__init__(keeps_hint=True)
        self.step = step
        self.detail = detail
        # The line a refused host key says to add to known_hosts: shown
        # unwrapped, and copied whole (re-trial: wrapped at 80 columns, its key
        # on a row of its own, copying it off the screen took the break along).
        # Carried on the step's report from the refusal itself (review: parsed
        # out of any detail, host output of that shape offered a copy); shown
        # on its own row only where the detail has it on a line of its own.
        self.known_line = known_line if known_line and f"\n{known_line}" in detail else None
        # The app's clipboard copy (Records.copy): it says what it sent.
        self.copy = copy
        self.can_roll_back = can_roll_back
        # Not offered where a retry would meet the same refusal (re-trial).
        self.retry_helps = retry_helps
        # The operator stopped it (x): nothing failed.
        self.stopped = stopped

    def compose_box(self) -> ComposeResult:
        ended = (" was stopped", "bold $warning") if self.stopped else \
            (" did not end well", "bold $error")
        # Its keys as its bindings stand: a keymap moves them (re-trial).
        keys = self.keys_said()
        with Vertical(id="recover", classes="dialog-box -destructive"):
            with VerticalScroll(classes="dialog-body"):
                yield Wrapped(Content.assemble((f"Step {self.step.number}: {self.step.title}",
                                                "bold"), ended))
                if self.known_line is None:
                    yield Wrapped(self.detail, id="recover-detail")
                else:
                    yield from self._with_known_line(keys.get("copy", "y"))
                text: list[Content | str | tuple[str, str]] = [
                    (f"{keys.get('retry', 't')}  Try again", "bold"), ": its check looks at the "
                    "host first, and it runs again only where its outcome is not in place.\n"
                ] if self.retry_helps else []
                if self.can_roll_back:
                    text += [(f"{keys.get('rollback', 'r')}  Roll back", "bold"), ": back to the "
                             "old stream manager on the old database (each step of the way "
                             "back is confirmed).\n"]
                # Not "--resume picks it up": a throwaway rehearsal's sandbox goes
                # with it (operator trial); the way out names what does.
                text += [(f"{keys.get('stop', 'q')}  Stop", "bold"), ": end the run here; what "
                         "is done stays done, and runbook says on its way out how to go on "
                         "from here.\n",
                         (keys.get("back", "escape"), "bold"), ": read the output first; the run "
                         "waits, and enter brings these choices back."]
                yield Wrapped(Content.assemble(*text), indent=3, id="recover-text")
            with Horizontal(classes="buttons dialog-foot"):
                if self.retry_helps:
                    yield Button(f"Try again ({keys.get('retry', 't')})", id="recover-retry",
                                 variant="primary")
                if self.can_roll_back:
                    yield Button(f"Roll back ({keys.get('rollback', 'r')})",
                                 id="recover-rollback", variant="warning")
                yield Button(f"Stop ({keys.get('stop', 'q')})", id="recover-stop")
        yield Footer()

    # No button has the focus: the question opens by itself as a step fails,
    # and an enter typed ahead (meant for the next step's question) pressed
    # "Try again" and journalled another failed attempt (re-trial 53). Its
    # keys choose, as its buttons and the hint under it say; tab reaches a button.
    AUTO_FOCUS = None

    def _with_known_line(self, copy_key: str) -> ComposeResult:
        """The detail with its known_hosts line on a row of its own, unwrapped,
        and what copies it."""
        line = self.known_line or ""
        before, _, after = self.detail.partition(f"\n{line}")
        with Vertical(id="recover-detail"):
            yield Wrapped(before)
            with HorizontalScroll(id="known-hosts-row"):
                yield Static(Content(line), id="known-hosts-line")
            yield Wrapped(Content.assemble(
                (copy_key, "bold"), " copies this line, whole, to the clipboard. It does not "
                "wrap: scroll its row sideways to read its end."), classes="known-hosts-how")
            yield Wrapped(after.strip("\n"))

    def keys_said(self) -> dict[str, str]:
        said = {choice: self.keys_for(action) for choice, action in (
            ("retry", "choose('retry')"), ("rollback", "choose('rollback')"),
            ("stop", "choose('stop')"), ("back", "back"), ("copy", "copy_line"))}
        return {choice: keys for choice, keys in said.items() if keys}

    def action_copy_line(self) -> None:
        if self.known_line is None:
            return
        what = f"the known_hosts line for {self.known_line.split(' ', 1)[0]}"
        if self.copy is not None:
            self.copy(self.known_line, what)
        else:
            self.app.copy_to_clipboard(self.known_line)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_line":
            return self.known_line is not None
        if action == "choose" and parameters == ("rollback",):
            return self.can_roll_back
        if action == "choose" and parameters == ("retry",):
            return self.retry_helps
        return True

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_back(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("recover-"))


class RollBackDialog(Dialog[bool]):
    """The way back to the old stream manager, instead of the step the runbook
    waits on (nothing failed: `r` on the main screen) or instead of trying a
    failed one again (`r` in its question). Asked once, escape and n (and
    enter, on Back) keeping the step; y takes the way back. Not r, the key that opened
    it: a double tap chose the way back unasked, and a run that has chosen it
    does not return to the upgrade (operator trial)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Roll back", id="rollback-now"),
        Binding("escape", "choose(False)", "Back", id="rollback-back"),
        # n, as headless's y/n and the quit dialog's Stay (re-trial).
        Binding("n", "choose(False)", "Back", show=False, id="rollback-back-n"),
    ]

    def __init__(self, step: StepCard, way_back: list[StepCard], *,
                 failed: bool = False, cutover_next: StepCard | None = None,
                 throwaway: bool = False) -> None:
        # Asked from a failed step's question: the hint names its keys too.
        super().__init__(keeps_hint=failed)
        self.step = step
        self.way_back = way_back
        self.failed = failed
        # A rehearsal whose host goes as it ends (Settings.rehearsal_throwaway):
        # nothing resumes it.
        self.throwaway = throwaway
        # Asked at a prepare step a resumed cutover looks at again first: the
        # cutover step it would go on at, which is what the way back replaces
        # (operator trial: "instead of step 1: Preflight checks?").
        self.cutover_next = cutover_next if step.phase is Phase.PREPARE else None

    def compose_box(self) -> ComposeResult:
        instead = "Roll back instead of trying step " if self.failed else \
            "Roll back instead of step "
        then = "This step does not run."
        if self.cutover_next is not None:
            instead = "Roll back instead of going on with the cutover at step "
            then = (f"Step {self.step.number}: {self.step.title}, which a resumed cutover "
                    "looks at again first, does not run, nor does the rest of the cutover.")
        asked = self.cutover_next or self.step
        with Vertical(id="rollback", classes="dialog-box -destructive"):
            with VerticalScroll(classes="dialog-body"):
                yield Wrapped(Content.assemble((instead, "bold"), (
                    f"{asked.number}: {asked.title}", "bold $warning"),
                    (" again?" if self.failed else "?", "bold")))
                yield Wrapped(Content.styled(
                    f"{then} The way back takes over with these steps: each step that has "
                    "work to do is asked before it runs, and one whose check finds its work "
                    "already done passes without a question.", "$text-muted"))
                yield Wrapped("\n".join(f"{card.number}. {card.title}" for card in self.way_back),
                              indent=3, id="rollback-steps")
                yield Wrapped(Content.styled(
                    "Once chosen it stands: this run does not return to the upgrade, and "
                    f"{once_the_way_back_is_taken(self.throwaway)}.", "$text-muted"))
            keys = self.keys_said()  # as its bindings stand: a keymap moves them
            with Horizontal(classes="buttons dialog-foot"):
                yield Button(f"Roll back ({keys.get('go', 'y')})", id="rollback-go",
                             variant="warning")
                # Its own key's button, as the keymap leaves it (review).
                yield Button(f"Back ({self.key_of('rollback-back') or 'esc'})",
                             id="rollback-stay")
        yield Footer()

    # Enter keeps the step: going back is chosen with y, as it was asked for.
    AUTO_FOCUS = "#rollback-stay"

    def keys_said(self) -> dict[str, str]:
        said = {"go": self.keys_for("choose(True)"), "stay": self.keys_for("choose(False)")}
        return {choice: keys for choice, keys in said.items() if keys}

    def action_choose(self, go: bool) -> None:
        self.dismiss(go)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "rollback-go")


class StopStepDialog(Dialog[bool]):
    """The step running now will not end soon enough (origins that never come
    into service, a wait sat out with the stream manager down): stop it, and
    answer its question. Asked once; escape lets it run; y stops it. Not x,
    the key that opened it: a double tap stopped the step unasked (operator
    trial)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Stop the step", id="stop-step-now"),
        Binding("escape", "choose(False)", "Let it run", id="stop-step-back"),
    ]

    def __init__(self, step: StepCard, *, way_back: bool) -> None:
        super().__init__()
        self.step = step
        self.way_back = way_back

    def compose_box(self) -> ComposeResult:
        then = ("try it again, take the way back to the old stream manager, or stop the run"
                if self.way_back else "try it again, or stop the run")
        with Vertical(id="stop-step", classes="dialog-box -destructive"):
            with VerticalScroll(classes="dialog-body"):
                yield Wrapped(Content.assemble(("Stop step ", "bold"), (
                    f"{self.step.number}: {self.step.title}", "bold $warning"), ("?", "bold")))
                yield Wrapped(Content.styled(
                    "A command it runs on the host is told to stop, and a wait it is in "
                    "ends. A request it has already sent stands, and so does whatever it has "
                    "done so far: the step ends in doubt.", "$text-muted"))
                yield Wrapped(f"Its question follows: {then}. Trying again looks at the host "
                              "before it runs anything.")
            with Horizontal(classes="buttons dialog-foot"):
                yield Button("Stop the step (y)", id="stop-step-go", variant="warning")
                yield Button("Let it run (esc)", id="stop-step-stay")
        yield Footer()

    # Enter lets it run: stopping is chosen with y.
    AUTO_FOCUS = "#stop-step-stay"

    def action_choose(self, stop: bool) -> None:
        self.dismiss(stop)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stop-step-go")


# What the operator chose about an unfinished earlier run.
CONTINUE, START_OVER, QUIT = "continue", "start-over", "quit"


class ResumeDialog(Dialog[str]):
    """What an unfinished earlier run did, before anything starts, and whether to
    continue it, start a new run, or leave.

    `mid_cutover`: that run's cutover began and has not ended (the stream
    manager is down). A new run is then not offered, and the dialog says why:
    the CLI refuses one for the same reason (operator trial: offered there,
    "New run" went on in the same journal and showed its done steps as to
    do again)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "choose('continue')", "Continue it", id="resume-continue"),
        # Not n: every other dialog, and headless, takes n for "no", and a
        # reflex n here began a new run from preflight (review 56b F7).
        Binding("s", "choose('start-over')", "New run", id="resume-new"),
        Binding("escape", "choose('quit')", "Quit", id="resume-quit"),
        # q, the main screen's quit key, quits here too: nothing has started
        # yet, and the exit lines say how to go on (trial 56b F1: it did
        # nothing, and said nothing).
        Binding("q", "choose('quit')", "Quit", id="resume-quit-q", show=False),
        Binding("n", "not_an_answer('n')", "", id="resume-n", show=False),
        # s mid-cutover, where New run is not offered: said why (trial 56b F1).
        Binding("s", "not_an_answer('s')", "", id="resume-new-refused", show=False),
    ]

    def __init__(self, journal: Path, replay: Replay, steps: list[StepCard], *,
                 mid_cutover: bool = False, rollback_after: str | None = None,
                 faults_again: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.journal = journal
        self.replay = replay
        self.steps = steps
        self.mid_cutover = mid_cutover
        # A rehearsal's faults that never came up, which continuing stages again.
        self.faults_again = faults_again
        # The step after which this run was asked to take the way back.
        self.rollback_after = rollback_after

    def _summary(self) -> Content:
        parts: list[Content | str | tuple[str, str]] = []
        # The longest title (the way back's) still leaves a space before its state.
        width = max((len(step.title) + 1 for step in self.steps), default=0)
        for step in self.steps:
            history = self.replay.steps.get(step.id)
            state = history.state.value if history else StepState.PENDING.value
            shown = look(state)
            parts += [(f"{step.number:>2} {shown.glyph} ", shown.style),
                      f"{step.title:<{width}}", (shown.word, shown.style)]
            if history and history.skip_reason:
                parts.append((f"  ({history.skip_reason})", "$text-muted"))
            parts.append("\n")
            for action in history.in_flight if history else []:
                parts += [("      in flight when it stopped: ", "$error"), action, "\n"]
        return Content.assemble(*parts).rstrip()

    def _down(self) -> str:
        """What matters most, before the rows of done steps (operator trial:
        the failed step and the downtime were below the fold): the stream
        manager is down, since when, and the steps that did not end well."""
        began = self.replay.cutover_started
        if not self.mid_cutover or began is None:
            return ""
        from runbook.standing import said_time

        said = f"The stream manager is down since {said_time(began)}: the cutover has not ended."
        trouble = [f"{step.number}, {step.title}, {look(state).word}" for step in self.steps
                   if (state := self.replay.state(step.id)) in (StepState.FAILED,
                                                                 StepState.IN_DOUBT)]
        said = f"{said} Step {'; step '.join(trouble)}." if trouble else said
        if self.replay.way_back_chosen(card.id for card in self.steps
                                       if card.phase is Phase.ROLLBACK):
            # First, with the downtime (TUI trial: said only after scrolling).
            said += " The way back to the old stream manager was begun: continued, it goes on."
            return said
        after = next((card for card in self.steps if card.id == self.rollback_after), None)
        if after is not None and self.replay.state(after.id) is StepState.DONE:
            return said  # continued, the way back begins at once (said below)
        # Where it goes on, as the main screen says it once continued (trial
        # 56b F2: at 80x24 that step's row was two pages down).
        settled = (StepState.DONE, StepState.SKIPPED)
        at = next((card for card in self.steps if card.phase is Phase.CUTOVER
                   and self.replay.state(card.id) not in settled), None)
        if at is not None:
            named = f", {at.title}" if self.replay.state(at.id) not in (
                StepState.FAILED, StepState.IN_DOUBT) else ""
            said += f" It goes on at step {at.number}{named}."
        return said

    def compose_box(self) -> ComposeResult:
        with Vertical(id="resume", classes="dialog-box"):
            with VerticalScroll(classes="dialog-body"):
                how = self.replay.how_it_ended()
                yield Wrapped(Content.assemble(("An earlier run did not finish", "bold"),
                                               f" ({how})\n", (str(self.journal), "$text-muted")))
                down = self._down()
                if down:
                    yield Wrapped(Content.styled(down, "bold $error"), id="resume-down")
                yield Static(self._summary(), id="resume-steps")
                # (Operator trial: "done steps stay done", and then preflight
                # asked again. The way back's own are named once it began.)
                went_back = self.replay.way_back_chosen(
                    card.id for card in self.steps if card.phase is Phase.ROLLBACK)
                # Continued, a run on its way back runs the way back's steps
                # alone (operator trial: preflight was said to look again).
                looks = [card.id for card in self.steps
                         if (card.looks_again or (card.looks_again_until_cutover
                             and not self.mid_cutover))
                         and (card.phase is Phase.ROLLBACK) == went_back]
                again = f", except {_listed(looks)}, which look at the host again" if looks \
                    else ""
                # Mid-cutover the prepare steps skipped before it stay so
                # (the executor's _keep_skipped): the cutover went ahead on them.
                skips = ("A step skipped before the cutover began stays skipped; what its "
                         "check finds is said once." if self.mid_cutover else
                         "A skipped step is offered again with its reason.")
                go_on: list[Content | str | tuple[str, str]] = [
                    ("c  Continue it", "bold"), ": the same journal goes on.\n"
                    f"   Done steps stay done{again}.\n   {skips}\n"
                    "   A step in doubt is checked on the host first, and offered again only "
                    "if its outcome is not there."]
                if self.faults_again:
                    its = "their steps have" if len(self.faults_again) > 1 else "its step has"
                    go_on += [f"\n   It stages again --fault {' --fault '.join(self.faults_again)}"
                              f": {its} not run yet."]
                if not self.mid_cutover:
                    go_on += ["\n", ("s  New run", "bold"), ": a journal of its own from the "
                              "first step; the earlier one is kept as it is.\n"
                              "   Each step checks the host again, and counts as done when its "
                              "outcome is already there."]
                after = next((card for card in self.steps if card.id == self.rollback_after),
                             None)
                if after is not None and not went_back:
                    # (Operator trial: asked for, and not said.)
                    go_on += ["\n", ("As asked", "bold"), ", the way back to the old stream "
                              f"manager begins once step {after.number}, {after.title}, is "
                              "done" + (" (it is done: at once)." if self.replay.state(after.id)
                                        is StepState.DONE else ".")]
                yield Wrapped(Content.assemble(*go_on), indent=3, id="resume-text")
                if self.mid_cutover:
                    # Continued, a run that took the way back goes on back
                    # (the executor's rule); and whether the host's record
                    # also refuses a new run is not this dialog's to know.
                    then = ("Continued, it goes on with the way back it began." if went_back
                            else "Continued, it takes the way back, as asked." if after
                            else "Continue it to finish the cutover; at any step it asks "
                                 "about, r takes the way back instead.")
                    yield Wrapped(Content.assemble(
                        ("New run is not offered: ", "bold $warning"),
                        "this run's cutover began and has not ended, so the stream manager is "
                        "down and the host is half changed. A cutover belongs to the run that "
                        "began it: a new run would begin again at preflight on that host. "
                        f"{then}"), id="resume-no-new-run")
            with Horizontal(classes="buttons dialog-foot"):
                yield Button("Continue it (c)", id="resume-continue", variant="primary")
                if not self.mid_cutover:
                    yield Button("New run (s)", id="resume-start-over")
                yield Button("Quit (esc)", id="resume-quit")
        yield Footer()

    AUTO_FOCUS = "#resume-continue"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == (START_OVER,):
            return not self.mid_cutover
        if action == "not_an_answer" and parameters == ("s",):
            return self.mid_cutover
        return True

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_not_an_answer(self, key: str) -> None:
        if self.mid_cutover:
            why = "A new run is not offered while the cutover is under way" if key == "s" \
                else f"{key} is no answer here"
            self.say(f"{why}: c continues it, escape quits.", True, 8)
        else:
            self.say(f"{key} is no answer here: c continues it, s starts a new run, "
                     "escape quits.", True, 8)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("resume-"))


def _listed(names: list[str]) -> str:
    """a, b and c."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
