"""The properties step's review, handed from the running step to the editor and
its answer handed back.

The step waits (on a future) while the operator decides keys in the
properties editor; this module opens the editor for the waiting request,
tells the operator what the decisions file will need, and answers the step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from runbook.model import PROPERTIES_STEP, EditFile, StepState
from screens.messages import ReviewRequested
from screens.run_state import RunState

if TYPE_CHECKING:
    from textual.app import App


def load_review_screen() -> type[Screen[bool]] | None:
    """The properties diff editor, when this build has it (tests swap it)."""
    try:
        from screens.properties_review import PropertiesReviewScreen
    except ModuleNotFoundError as exc:
        if exc.name == "screens.properties_review":
            return None
        raise
    return PropertiesReviewScreen


class ReviewHandoff:
    def __init__(self, app: App[Any], state: RunState,
                 redraw: Callable[[str], None],
                 load: Callable[[], type[Screen[bool]] | None] = load_review_screen,
                 throwaway: Callable[[], bool] = lambda: False) -> None:
        """`throwaway`: whether the run is a rehearsal whose sandbox (its
        decisions file with it) goes as it ends, which nothing resumes."""
        self.app = app
        self.throwaway = throwaway
        self.state = state
        self.redraw = redraw
        self.load = load
        self.pending: ReviewRequested | None = None

    def requested(self, request: ReviewRequested) -> None:
        self.pending = request
        self.state.reviewing = request.step_id
        self.state.states[request.step_id] = StepState.NEEDS_REVIEW.value
        self.redraw(request.step_id)
        self.open()

    def open(self) -> None:
        request = self.pending
        if request is None:
            self.app.notify(self._none_open(), markup=False)
            return
        screen_class = self.load()
        if screen_class is None:
            self.app.notify("This build has no properties editor. Decide the keys in the "
                            "decisions file named in the config, then run again.",
                            severity="warning", timeout=15, markup=False)
            self.done(request, False)
            return
        if any(isinstance(s, screen_class) for s in self.app.screen_stack):
            return
        review = request.review
        # Where the step writes the merge once the review ends: its plan's edit.
        host_file = next((action.path for action in self.state.plans.get(request.step_id, [])
                          if isinstance(action, EditFile)), None)
        screen = screen_class(review, decisions_path=request.decisions_path,  # type: ignore[call-arg,arg-type]
                              old_name=review.old_name, new_name=review.new_name, in_run=True,
                              host_file=host_file, throwaway=self.throwaway())

        def closed(finished: bool | None) -> None:
            # Secrets typed in the editor serve this run; the decisions file
            # only names a variable for them, which a later run will need.
            needed = getattr(screen, "env_needed", [])
            if needed:
                names = ", ".join(f"{var} ({key})" for key, var in needed)
                self.app.notify(f"The decisions file names these variables instead of the "
                                f"secrets you typed; export them before another run: {names}",
                                title="Secrets by name", severity="warning", timeout=20,
                                markup=False)
            self.done(request, bool(finished))

        self.app.push_screen(screen, closed)

    def _none_open(self) -> str:
        """What `d` says with no review to open, as the properties step stands."""
        if self.state.running == PROPERTIES_STEP:
            return ("No properties review is open now: the step opens one when keys need a "
                    "decision, and goes on with the keys as decided once it is closed.")
        ended = self.state.states.get(PROPERTIES_STEP)
        diff = "To read two properties files side by side: runbook diff OLD NEW."
        if ended == StepState.DONE.value:
            return f"The properties step is done: its review is over. {diff}"
        if ended == StepState.NEEDS_REVIEW.value:
            # Left with keys open (trial 55 F5): the step waits for it.
            later = ("this rehearsal's sandbox, its decisions file with it, goes as it ends: "
                     "a new rehearsal (rehearse again) reviews afresh") if self.throwaway() \
                else "and so does --resume once the run stops"
            return ("The properties review was left with keys open: trying the step again "
                    f"opens it with the decisions saved; {later}. {diff}")
        if ended == StepState.SKIPPED.value:
            return f"The properties step was skipped: no keys were reviewed or written. {diff}"
        return ("The properties review opens when the properties step runs and keys still "
                "need a decision. To read the two files side by side before then: runbook "
                "diff OLD NEW.")

    def done(self, request: ReviewRequested, finished: bool) -> None:
        if not request.finished.done():
            request.finished.set_result(finished)
        if self.pending is request:
            self.pending = None
            self.state.reviewing = None
            if self.state.states.get(request.step_id) == StepState.NEEDS_REVIEW.value:
                self.state.states[request.step_id] = StepState.RUNNING.value
            self.redraw(request.step_id)

    def cancel(self) -> None:
        """The run ended while the step waited."""
        if self.pending is not None and not self.pending.finished.done():
            self.pending.finished.cancel()
        self.pending = None
