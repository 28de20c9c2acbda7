"""The headless front end: plans on stdout, questions on stdin, nothing fancy.

Used before the TUI exists, over a plain SSH session, and by CI. With
``--yes`` every step is answered "run"; otherwise each step's plan is printed
and the operator answers y (run), s (skip, with a reason) or q (stop).
"""

from __future__ import annotations

import asyncio
import dataclasses
import select
import sys
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from runbook.colour import Painter, Style
from runbook.config import once_the_way_back_is_taken
from runbook.events import (
    CutoverEnded,
    CutoverStarted,
    Event,
    JournalNote,
    NoEstimate,
    Output,
    Progress,
    ReconnectGaveUp,
    Reconnecting,
    RunEnded,
    RunStarted,
    StepChanged,
    WayBackStarted,
)
from runbook.executor import Answer, Decision, Recovery
from runbook.model import (
    ALREADY_DONE,
    DESTRUCTIVE_NOW,
    Action,
    Outcome,
    Phase,
    StepCard,
    StepReport,
    StepState,
    after_the_way_back,
    after_the_way_back_said,
    duration,
    outcome_words,
    wall_clock,
    when_and_why,
)
from runbook.visible import visible

if TYPE_CHECKING:
    from runbook.journal_replay import Replay
    from runbook.properties import Review

# The two that call for the operator shout, on any terminal.
_MARK = {
    StepState.DONE: StepState.DONE.words,
    StepState.FAILED: StepState.FAILED.words.upper(),
    StepState.SKIPPED: StepState.SKIPPED.words,
    StepState.IN_DOUBT: StepState.IN_DOUBT.words.upper(),
    StepState.NEEDS_REVIEW: StepState.NEEDS_REVIEW.words,
}
_PREFIX = {"cmd": "  > ", "out": "  | ", "err": "  ! ", "info": "  * "}
# In the order a run goes through them, each headed once.
_PHASES = (Phase.PREPARE, Phase.CUTOVER, Phase.ROLLBACK)
# On a terminal only (runbook.colour), and never the only sign: the words say it too.
_MARK_STYLE: dict[StepState, tuple[Style, ...]] = {
    StepState.DONE: ("green",),
    StepState.FAILED: ("bold", "red"),
    StepState.IN_DOUBT: ("bold", "red"),
    StepState.SKIPPED: ("yellow",),
    StepState.NEEDS_REVIEW: ("bold", "yellow"),
}


def _count(n: int, thing: str) -> str:
    return f"1 {thing}" if n == 1 else f"{n} {thing}s"


def _a_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed, or no file behind it
        return False


class HeadlessFrontEnd:
    def __init__(
        self,
        cards: Sequence[StepCard],
        *,
        assume_yes: bool = False,
        out: TextIO | None = None,
        stdin: TextIO | None = None,
        estimate: tuple[float, Path] | None = None,
        earlier: Replay | None = None,
        journal: Path | None = None,
        throwaway: bool = False,
    ) -> None:
        """`throwaway`: a rehearsal whose host goes as it ends
        (Settings.rehearsal_throwaway), which nothing resumes. `estimate`: the
        last comparable cutover's downtime and its journal
        (Session.downtime_estimate), said at the cutover and against its clock.
        `earlier`: the run this one resumes, for the summary of steps it finished
        that this run did not reach. `journal`: the run's, named once the run
        has begun in it (a run refused before, by another's claim on the host,
        leaves none: named first, it was gone by the time it was read)."""
        self.cards = {card.id: card for card in cards}
        self.journal = journal
        self.earlier = earlier
        self.throwaway = throwaway
        self.assume_yes = assume_yes
        self.out = out or sys.stdout
        self.stdin = stdin or sys.stdin
        # Answers from a pipe or a file come one a question, read in order:
        # nobody reads a refusal there, and after one every answer would land
        # on the question before the one it was meant for (code review).
        self.piped = not _a_terminal(self.stdin)
        # Once a piped answer was refused, the run stops: nothing more is read.
        self._done_reading = False
        self.reports: dict[str, StepReport] = {}
        self._stopped_at: str | None = None  # the step whose question was answered stop
        # Steps that said a warning: their summary row says so, as the TUI's
        # row shows it (re-trial: the way back's nodes left running read "done").
        self._warned: set[str] = set()
        self._last_progress = 0.0
        self._progress_of: str | None = None  # the step whose progress is shown
        self._progress_since = 0.0
        self._progress_done = 0.0
        self._phase: Phase | None = None
        self._headed: str | None = None  # the step whose heading was printed last
        self.estimate = estimate
        # When the stream manager went down (wall clock), while it is down:
        # from the run's start when it continues a cutover, else from its start.
        self.down_since: float | None = None
        # Once the way back has begun, an upgrade's cutover time is no estimate.
        self.going_back = False
        self._way_back: tuple[str, ...] = ()  # its steps, in order, once it began
        self.paint = Painter.for_stream(self.out)

    def _print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def _ask(self, prompt: str) -> str | None:
        if self._done_reading:
            return None  # each question that follows answers stop, as at the end of input
        if not self.piped:
            self._drop_what_was_typed_ahead()
        self.out.write(prompt)
        self.out.flush()
        # A daemon thread, not asyncio.to_thread: ctrl+c must end runbook at
        # once, and the default executor would wait for a line first.
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def deliver(line: str) -> None:
            if not answer.done():
                answer.set_result(line)

        def read() -> None:
            loop.call_soon_threadsafe(deliver, self.stdin.readline())

        threading.Thread(target=read, daemon=True).start()
        line = await answer
        if line == "":
            # Said, not only acted on: the caller stops, and the summary that
            # follows would not say why.
            self._print("\n  no more input (stdin is closed): stopping here")
            return None
        return line.strip()

    def _drop_what_was_typed_ahead(self) -> None:
        """At a terminal, what was typed before the question is shown (during a
        wait, say) was not typed for it: dropped, and said (operator trial: a
        step's id typed during the wait before it confirmed the step before
        its plan was on the screen). A pipe's lines are answers in order."""
        try:
            fd = self.stdin.fileno()
            typed = bool(select.select([fd], [], [], 0)[0])
            termios.tcflush(fd, termios.TCIFLUSH)
        except (OSError, ValueError, termios.error):  # no terminal behind it after all
            return
        if typed:
            self._print("  (what was typed before this question was shown is not taken as "
                        "its answer)")

    def _heading(self, card: StepCard) -> None:
        """The step's heading, under its phase's when that changes: before what
        the step asks or says, so every line stands under its own step."""
        if card.phase is Phase.ROLLBACK:
            self.going_back = True
        # Phases go one way: a step of an earlier one said here (a skipped
        # prepare step looked at again mid-cutover) is named as such, under
        # the phase the run is in (operator trial: "=== PREPARE" came back
        # after the cutover steps done, then "=== CUTOVER" again).
        looked_back = self._phase is not None and \
            _PHASES.index(card.phase) < _PHASES.index(self._phase)
        if card.phase is not self._phase and not looked_back:
            self._phase = card.phase
            self._print("\n" + self.paint(f"=== {self._phase_title(card.phase)} ===", "bold"))
            if card.phase is Phase.CUTOVER and self.estimate is not None:
                took, journal = self.estimate
                self._print(f"the last comparable cutover took {duration(took)} "
                            f"(journal {journal})")
        flag = "  " + self.paint("[DESTRUCTIVE]", "bold", "red") \
            if card.needs_typed_confirmation else ""
        back = "" if not looked_back else "  (a prepare step, looked at again)" \
            if card.phase is Phase.PREPARE else f"  (a {card.phase.value} step)"
        self._print(f"\n[{self.paint(card.id, 'bold')}] {card.title}{flag}{back}")
        self._headed = card.id

    def _phase_title(self, phase: Phase) -> str:
        """A continued cutover's phases say the stream manager is down: a
        resumed run checks prepare again, and its cutover began long ago."""
        if phase is Phase.ROLLBACK:
            return "THE WAY BACK (to the old stream manager; it is down until this ends)"
        if self.down_since is None:
            return {Phase.PREPARE: "PREPARE (the live system keeps running)",
                    Phase.CUTOVER: "CUTOVER (downtime starts with the first change a step makes)",
                    }[phase]
        since = wall_clock(self.down_since)
        if phase is Phase.PREPARE:
            return f"PREPARE (the stream manager is down since {since}: the cutover has begun)"
        return f"CUTOVER (under way; the stream manager is down since {since})"

    def _down_for(self) -> float | None:
        return None if self.down_since is None else time.time() - self.down_since

    def _left(self, down: float) -> str:
        """What is left of the estimate, or how far over it; nothing on the way back."""
        if self.estimate is None or self.going_back:
            return ""
        left = self.estimate[0] - down
        if left >= 0:
            return f"; about {duration(left)} left by the last comparable cutover"
        return f"; {duration(-left)} over the last comparable cutover's " \
            f"{duration(self.estimate[0])}"

    def _under(self, step_id: str, card: StepCard | None = None) -> None:
        """A line of `step_id` follows: its heading first, if it is not the
        last; `card`, the step as it is asked now."""
        card = card or self.cards.get(step_id)
        if card is not None and step_id != self._headed:
            self._heading(card)

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        decision = await self._confirm(step, plan)
        if decision.answer is Answer.STOP:
            self._stopped_at = step.id
        return decision

    async def _confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        card = self.cards[step.id]
        if step.destructive_now:
            card = dataclasses.replace(card, destructive=True)
        self._progress_of = None  # time at the prompt is not time waited
        if card.id == self._headed and not self.cards[card.id].needs_typed_confirmation \
                and card.needs_typed_confirmation:
            # Headed by what it said before asking, from the card: this time
            # its id is asked for, and the flag says why (review 56b F5).
            self._print(f"  {self.paint('[DESTRUCTIVE]', 'bold', 'red')} {DESTRUCTIVE_NOW}")
        self._under(card.id, card)  # once: what it said before asking may have headed it
        down = self._down_for()
        if down is not None:
            # Where the operator looks before answering; steps found done pass without it.
            self._print(self.paint(f"  (down {duration(down)}{self._left(down)})", "yellow"))
        self._print(f"  {card.summary}")
        if card.caution:
            self._print(f"  caution: {card.caution}")
        self._print("  plan:")
        for action in plan:
            if why := when_and_why(action):
                self._print(self.paint(f"    # {why}", "dim"))  # when it runs, if not always
            for line in action.render().splitlines():
                self._print(f"    {line}")
        if self.assume_yes:
            self._print("  -> run (--yes)")
            return Decision(Answer.RUN)
        # With the stream manager down, the way back is an answer too (as r in
        # the TUI), where the engine says it is (review 56b, F4).
        back = step.way_back_open
        others = [choice for choice, offered in (
            ("[s] skip", card.skippable),
            ("[r] roll back to the old stream manager", back)) if offered]
        if card.needs_typed_confirmation:
            # As in the TUI: a step that takes the service down, deletes or moves
            # files runs only on its id typed in full; y alone is too easy to give.
            question = f"  type {card.id} to run it, " + \
                (", ".join(others) + " " if others else "") + "or [q] stop: "
        else:
            question = f"  run it? [y] run  {''.join(c + '  ' for c in others)}[q] stop: "
        while True:
            answer = await self._ask(question)
            if answer is None or answer.lower() == "q":
                return Decision(Answer.STOP)
            if answer == card.id or (answer.lower() == "y"
                                     and not card.needs_typed_confirmation):
                return Decision(Answer.RUN)
            if answer.lower() == "s" and card.skippable:
                return await self._skip()
            if answer.lower() == "r" and back:
                taken = await self._way_back_taken()
                if taken is None:
                    return Decision(Answer.STOP)
                if taken:
                    return Decision(Answer.ROLLBACK)
                continue
            if self._refused(self._not_an_answer(card, answer, back=back), answer):
                return Decision(Answer.STOP)

    async def _way_back_taken(self) -> bool | None:
        """Whether the operator, having answered r, takes the way back: it is
        asked again, with its steps, as the TUI's dialog asks (operator trial:
        one r began it, and it cannot be undone). False: back to the
        question; None: stop (the end of input, a refused piped answer)."""
        steps = [card for card in self.cards.values() if card.phase is Phase.ROLLBACK]
        self._print("  the way back to the old stream manager takes over with these steps: "
                    "each step that has work to do is asked before it runs, and one whose "
                    "check finds its work already done passes without a question:")
        for card in steps:
            self._print(f"    {card.number}. {card.title}")
        self._print(f"  once taken it stands: this run does not return to the upgrade, and "
                    f"{once_the_way_back_is_taken(self.throwaway)}")
        while True:
            answer = await self._ask("  take the way back? [y] roll back  [n] back to the "
                                     "question: ")
            if answer is None:
                return None
            if answer.lower() in ("y", "n"):
                return answer.lower() == "y"
            if self._refused("  answer y or n", answer):
                return None

    async def _skip(self) -> Decision:
        while True:
            reason = await self._ask("  why skip it? (kept in the journal): ")
            if reason is None:
                return Decision(Answer.STOP)
            if reason:
                return Decision(Answer.SKIP, reason)
            if self._refused("  a skip needs a reason", reason):
                return Decision(Answer.STOP)

    def _refused(self, why: str, answer: str) -> bool:
        """Say why `answer` does not answer the question; True when that ends
        the run: from a pipe, the next line was meant for the next question."""
        self._print(why)
        if self.piped:
            self._done_reading = True
            self._print(f"  (the answer {answer!r} came from a pipe, where each line answers "
                        "one question in turn: the next one was written for the question "
                        "after this, so runbook is stopping here. Typing over ssh? `ssh -t` "
                        "gives runbook a terminal, where a refused answer is asked again)")
        return self.piped

    def _not_an_answer(self, card: StepCard, answer: str, *, back: bool) -> str:
        if answer.lower() == "s":
            return f"  {card.id} cannot be skipped: {card.not_skippable_because}; run it, or stop"
        if not card.needs_typed_confirmation:
            # Every answer the question offered (re-trial: r was left out).
            offered = ["y", *(["s"] if card.skippable else []), *(["r"] if back else [])]
            return f"  answer {', '.join(offered)} or q"
        if answer.lower() == "y":
            return f"  y is not enough here: this step is destructive; type {card.id} to run it"
        return f"  that is not {card.id}; type it exactly to run this step"

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        card = self.cards[step.id]
        self._progress_of = None  # a try again is a new wait
        # Said once: its [FAILED] line just above says it whole (trial: twice).
        said = self.reports.get(step.id)
        why = " (as said above)" if said is not None and said.detail == step.detail \
            else f": {step.detail}"
        self._print(f"\n[{card.id}] {card.title} did not end well{why}")
        if self.assume_yes:
            # Nobody to ask: stop where it is, as the journal and the exit say.
            self._print("  -> stop (--yes never retries or rolls back by itself)")
            return Recovery.STOP
        retry = step.retry_helps
        if not retry and not can_roll_back:
            # Nothing to choose: the same refusal would meet a retry, and
            # its message says how to go on.
            self._print("  -> stop (trying it again in this run would be refused the same way)")
            return Recovery.STOP
        # r as in the TUI's dialog; b, this prompt's key before, still works.
        choices = ("[t] try again  " if retry else "") + (
            "[r] roll back to the old stream manager  " if can_roll_back else "") + "[q] stop"
        while True:
            answer = await self._ask(f"  {choices}: ")
            if answer is None or answer.lower() == "q":
                return Recovery.STOP
            if answer.lower() == "t" and retry:
                return Recovery.RETRY
            if answer.lower() in ("r", "b") and can_roll_back:
                taken = await self._way_back_taken()
                if taken is None:
                    return Recovery.STOP
                if taken:
                    return Recovery.ROLLBACK
                continue
            if self._refused("  answer " + ("t, r or q" if retry and can_roll_back else
                                            "t or q" if retry else "r or q"), answer):
                return Recovery.STOP

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        """No editor here: a key without a value is the decisions file's to give
        (the step says so); a value nobody has confirmed, a new default or Red5's
        sample, is listed and taken only on a yes, as `a` takes it in the editor."""
        where = str(decisions_path) if decisions_path else "a decisions file"
        waiting = [k for k in review.open_keys if k not in review.unconfirmed]
        # A reopened key has a value (trial 53: "3 keys still without a value",
        # cluster.password among them): it is to be decided again, and why.
        again = [k for k in waiting if review[k].reopened]
        valueless = [k for k in waiting if not review[k].reopened]
        if valueless:
            self._print(f"  {_count(len(valueless), 'key')} still without a value, which only "
                        f"{where} or `runbook diff` can give:")
            self._keys(review, valueless)
        if again:
            self._print(f"  {_count(len(again), 'key')} to decide again, which only {where} "
                        "or `runbook diff` can settle:")
            self._keys(review, again, why=True)
        if waiting:
            return False
        unconfirmed = review.unconfirmed
        if not unconfirmed:
            return True
        samples = set(review.leftover_samples)
        defaults, renamed, blanks = review.to_confirm
        if blanks:
            self._print(f"  {_count(len(blanks), 'key')} blank in the live file where the new "
                        "template asks for a value, which nobody has confirmed is meant:")
            self._keys(review, blanks)
        if defaults:
            self._print(f"  {_count(len(defaults), 'new default')} nobody has confirmed yet:")
            self._keys(review, defaults)
        if renamed:
            self._print(f"  {_count(len(renamed), 'live value')} under a new key name nobody "
                        "has confirmed yet:")
            self._keys(review, renamed)
        if samples:
            self._print(f"  {_count(len(samples), 'key')} holding Red5's sample value, "
                        "which nobody has confirmed is meant:")
            self._keys(review, [k for k in unconfirmed if k in samples])
        if self.assume_yes:
            self._print("  -> taken as they are (--yes)")
        else:
            # Typed in full, as a destructive step's id: right after "run it?
            # [y]", a y meant for the next step took them (operator trial).
            while True:
                answer = await self._ask(f"  type take to take them as they are, or [n] not "
                                         f"now (decide them in {where}, then try again): ")
                if answer is None or answer.lower() == "n":
                    return False
                if answer.lower() == "take":
                    break
                if self._refused("  type take to take them, or n for not now", answer):
                    return False
        for key in unconfirmed:
            review.confirm(key)
        return not review.open_keys

    def _keys(self, review: Review, keys: Sequence[str], *, why: bool = False) -> None:
        for key in keys:
            kr = review[key]
            shown = kr.show(kr.merged)
            where = f"template line {kr.new_line}" if kr.new_line is not None else \
                f"live line {kr.old_line}"
            if key in review.carried_from:
                where = f"from {review.carried_from[key]}, live line {kr.old_line}"
            value = " (left out of the merged file)" if kr.merged is None else \
                f" = {shown if shown else '(blank)'}"
            said = f": {kr.reopened}" if why and kr.reopened else ""
            self._print(f"    {key}{value}   ({where}){said}")

    def tell(self, event: Event) -> None:
        match event:
            case StepChanged(report=report):
                self.reports[report.id] = report
                if report.state in _MARK:
                    self._under(report.id)
                    took = "" if report.elapsed_s is None else f" in {duration(report.elapsed_s)}"
                    mark = self.paint(_MARK[report.state], *_MARK_STYLE[report.state])
                    self._print(f"  [{mark}{took}] {report.detail}".rstrip())
            case Output(step_id=step_id, stream=stream, line=line, warning=warning):
                if warning:
                    self._warned.add(step_id)
                self._under(step_id)
                prefix = _PREFIX.get(stream, "  | ")
                for part in line.splitlines() or [""]:
                    self._print(prefix + visible(part, keep="\t"))
            case Progress():
                self._progress(event)
            case JournalNote(message=message):
                self._print(f"note: {message}")
            case NoEstimate():
                self.estimate = None
            case Reconnecting():
                self._print(self.paint(f"  ~ {event.said()}", "yellow"))
            case ReconnectGaveUp():
                self._print(self.paint(f"  ~ {event.said()}", "bold", "red"))
            case RunStarted(down_since=since):
                if self.journal is not None:
                    self._print(f"journal: {self.journal}")
                if since is not None:
                    self.down_since = since
                    self._print(self.paint(
                        f"the stream manager has been down since {wall_clock(since)} (for "
                        f"{duration(time.time() - since)}): the cutover began then and has "
                        "not ended", "bold", "yellow"))
            case CutoverStarted(began=began):
                if self.down_since is None:
                    self.down_since = began
                self._print(self.paint("  ! downtime starts now", "bold", "yellow"))
            case CutoverEnded(complete=True, downtime_s=downtime):
                self.down_since = None
                self._print(f"\ndowntime: {duration(downtime)}")
            case CutoverEnded(downtime_s=downtime):
                ends = "a way back completes" if self.going_back else \
                    "a run finishes the cutover or takes the way back"
                self._print(f"\ndowntime so far: {duration(downtime)}; the stream manager is still "
                            f"down until {ends}")
            case RunEnded(journal_failure=str()):
                # Said once, as the command's one-line error (cli.door): the
                # engine raises it on past this front end.
                pass
            case WayBackStarted(steps=steps):
                self.going_back = True
                self._way_back = steps
            case RunEnded(outcome=outcome, not_undone=not_undone, nothing_to_undo=nothing):
                self._summary(outcome, not_undone, nothing)

    def _progress(self, event: Progress) -> None:
        now = time.monotonic()
        done, total = event.done, event.total
        # A new wait (another step's, or this step's next one, whose count
        # starts again) is followed closely again at first (review).
        if event.step_id != self._progress_of or done < self._progress_done:
            self._progress_of, self._progress_since = event.step_id, now
        self._progress_done = done
        # Every 2 s at first, when the end may be near; then further apart, up
        # to every 30 s: a 5-minute wait printed 150 lines.
        gap = min(30.0, max(2.0, (now - self._progress_since) / 10))
        if total and done < total and now - self._last_progress < gap:
            return
        self._last_progress = now
        # A wait's label says the seconds left; a share of its limit is no progress.
        shown = f"{100 * done / total:.0f}%" if total and not event.of_limit else ""
        if total and total > 1 << 20:
            shown = f"{done / (1 << 20):.1f}/{total / (1 << 20):.1f} MiB"
        self._print(f"  ~ {event.label} {shown}".rstrip())

    def _summary(self, outcome: str, not_undone: Sequence[str] = (),
                 nothing_to_undo: Sequence[str] = ()) -> None:
        """Every step of the upgrade (of the way back, run alone), then any of
        the way back that ran: one still running when the run ended was cut
        off, one never reported was not reached (operator trial: after
        SIGTERM it said "running", and left those out)."""
        self._print("\n=== summary ===")
        cards = list(self.cards.values())
        listed = [card.id for card in cards if card.phase is not Phase.ROLLBACK] or \
            [card.id for card in cards]
        # Once the way back began, each of its steps, reached or not, as the
        # report lists them (re-trial 53: a stop part way back ended the list
        # at the last step it reached).
        listed += [step for step in self._way_back if step not in listed]
        listed += [step for step in self.reports if step not in listed]
        # Wide enough for the longest id (trial 53: a way-back step's id ran
        # into its mark).
        width = max([18, *map(len, listed)])
        for step in listed:
            report = self.reports.get(step)
            before = self.earlier.state(step) if self.earlier is not None else None
            if report is None and before in _MARK:
                # Not "not reached" alone: the earlier run left its mark on the
                # host (half-deleted nodegroups do not read as untouched).
                mark = f"{_MARK[before]} in the earlier run"
            elif report is None and step == self._stopped_at:
                mark = "not run: stopped at its question"  # trial: "not reached"
            elif report is None and outcome == Outcome.ROLLED_BACK and self.cards.get(step) \
                    is not None and self.cards[step].phase is Phase.CUTOVER:
                mark = "not run"  # as the README and the TUI's rows say it
            elif report is None:
                mark = "not reached"
            elif report.state is StepState.RUNNING:
                mark = "cut off while running (in doubt)"
            elif report.state is StepState.DONE and report.done_earlier:
                # Trusted from the journal: as its step line says (trial 61,
                # F5: "done", as if this session had done it).
                mark = "done in the earlier run"
            elif report.state is StepState.DONE and report.found_done:
                # As it said when its check found the outcome in place
                # (operator trial: the way back's "already done" steps read
                # "done" here, as if they had acted).
                mark = ALREADY_DONE.removesuffix(": ")
            else:
                mark = _MARK.get(report.state, report.state.value)
            if report is not None and report.state is StepState.DONE and step in self._warned:
                mark += ", with a warning (above, and in the report)"
            card = self.cards.get(step)
            # As the TUI's rows say: done, or left in doubt (trial: read as a
            # step to try again), the way back undid it; a failure stays said.
            # Its work the way back could not touch at all, as the run's end
            # says (operator trial 54: "partly undone" beside the warning
            # that it undid none).
            state = report.state.value if report is not None else \
                before.value if before in _MARK else None
            after = after_the_way_back(step, state, undoes=card.the_way_back_undoes,
                                       not_undone=not_undone, nothing_to_undo=nothing_to_undo) \
                if outcome == Outcome.ROLLED_BACK and card is not None \
                and card.phase is Phase.CUTOVER else None
            if card is not None and after is not None:
                mark += after_the_way_back_said(after, card.the_way_back_did)
            self._print(f"  {step:<{width}} {mark}")
        self._print(f"outcome: {outcome_words(outcome)}")
