"""The main screen's words, rendered from the run state: the status line, the
selected step's detail, and the one-sentence hint. Pure functions (Content
in, Content out), so how the screen reads can be checked without an app."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.content import Content

from runbook.model import (
    PROPERTIES_STEP,
    ApiCall,
    Outcome,
    Phase,
    StepCard,
    StepState,
    wall_clock,
)
from screens.presentation import (
    ALREADY,
    GROUPS,
    NEXT,
    NOT_NEEDED,
    NOT_UNDONE,
    PART_UNDONE,
    PREPARED,
    UNDONE,
    UNDONE_ALL_BUT,
    UNDONE_BUT,
    UNDONE_CUTOVER,
    UPGRADED,
    WENT_BACK,
    clock,
    duration,
    look,
)
from screens.run_state import GAVE_UP, RunState

if TYPE_CHECKING:
    from runbook.config import Settings
    from runbook.standing import WayBack

Parts = list[Content | str | tuple[str, str]]
# Whether a hint fits the lines it has (main: fitted_hint).
Fits = Callable[[Content], bool]


@dataclass(frozen=True)
class Where:
    """What the status line says about where the run goes."""

    rehearsal: bool
    host_label: str
    journal: Path
    # A rehearsal's pace, in words ("at the fast pace"): its times are
    # production's only at the real one.
    pace: str = ""


def pace_shown(settings: Settings) -> str:
    """A rehearsal's pace for the status line ("at the fast pace"; "at an
    unknown pace" for `runbook run` against a rehearsal host, or a rehearsal
    that adopted a service of another pace). Nothing for a production run."""
    if not settings.rehearsal:
        return ""
    if settings.rehearsal_pace is None:
        return "at an unknown pace"
    # Only `runbook rehearse` knows its pace, and it has this module loaded by
    # now (its start says the pace); `runbook run` does not load the report here.
    from runbook.report_format import pace_name

    return f"at {pace_name(settings.rehearsal_pace)}"


def status_host(state: RunState, where: Where, *, narrow: bool = False,
                width: int | None = None) -> Content:
    """The status line's first row: where the run goes and how it is connected.
    Where it would be longer than `width`, "runbook →" goes, and the host key
    comes before the pace and the host's label, each of which then shows only
    where it fits whole (operator trial: the fingerprint cut at 120 columns in
    a rehearsal; README walkthrough: cut at 100 and 110, and the pace cut at
    130). Where even that is too long, the gaps narrow and the "host key" word
    goes, so that the fingerprint is whole from 100 columns where the target
    leaves room for it."""
    full = Content.assemble(*_status_host(state, where, narrow=narrow))
    if width is None or narrow or full.cell_length <= width:
        return full
    for gap, named in (("   ", True), ("  ", False)):
        row = Content.assemble(*_status_host(state, where, narrow=narrow, gap=gap,
                                             named=named, tail=False))
        if row.cell_length <= width:
            break
    # Whole or not at all: a pace cut to "at the fa…" says no pace.
    for part in _host_tail(where, gap):
        longer = Content.assemble(row, *part)
        if longer.cell_length > width:
            break
        row = longer
    return row


def _status_host(state: RunState, where: Where, *, narrow: bool, gap: str = "   ",
                 named: bool = True, tail: bool | None = None) -> Parts:
    """The row's parts; `tail` None: the whole row as it reads with room to
    spare, False: up to the host key (its pace and label follow apart)."""
    host: Parts = []
    if where.rehearsal:
        host += [(" REHEARSAL ", "bold $text on $warning-darken-1"), " "]
    if tail is None and not narrow:
        host += [("runbook ", "bold"), ("→ ", "$text-muted")]
    host.append((state.target, "bold"))
    link_style = {"connected": "$success", "uncertain": "bold $error"}.get(
        state.connection, "bold $error" if state.connection.startswith(GAVE_UP)
        else "$text-muted" if state.connection != "closed" else "")
    host += [f"{gap}ssh ", (state.connection, link_style)]
    if narrow:  # below 100 columns there is no room for more (review)
        return host
    # With room to spare, the pace comes after the connection's state, which
    # matters more when the row is cut.
    if tail is None and where.pace:
        host += [gap, (where.pace, "$warning")]
    host.append(f"{gap}host key " if named else gap)
    host.append((state.fingerprint, "$text") if state.fingerprint
                else ("checked against known_hosts", "$text-muted"))
    if tail is None and where.host_label:
        host += [gap, (where.host_label, "$text-muted")]
    return host


def _host_tail(where: Where, gap: str) -> list[Parts]:
    """What follows the host key on a row without room to spare, in order."""
    parts: list[Parts] = []
    if where.pace:
        parts.append([gap, (where.pace, "$warning")])
    if where.host_label:
        parts.append([gap, (where.host_label, "$text-muted")])
    return parts


def status_clocks(state: RunState, now: float, *, narrow: bool = False,
                  brief: bool = False, least: bool = False) -> Content:
    """The status line's second row, the one that changes by the second:
    downtime, the run's elapsed time, the count of steps, the outcome.
    `brief` leaves out the last cutover's time beside a running downtime;
    `narrow` says each part the short way (below 100 columns); `least`
    leaves out the last cutover's time and the elapsed clock (about 60
    columns: trial 57 F2, the count was cut to "1…" with 10 steps done)."""
    end = state.run_ended if state.run_ended is not None else now
    elapsed = end - state.run_started if state.run_started is not None else None
    clocks: Parts = [*downtime(state, now, narrow=narrow, brief=brief or least,
                               least=least), "   "]
    if not least:
        # A continued run counts from this session's start, beside a downtime
        # that counts from the cutover's (night trial: both read as the run's).
        since = ("session " if narrow else "this session ") if state.continued else "elapsed "
        clocks += [(since, "$text-muted"), clock(elapsed), "   "]
    done = f"{state.finished}/{len(state.counted)}"
    if state.counts_the_way_back:
        clocks += [(f"way back {done} done", "")]
    else:
        # Short, it still says skipped ones are among them (TUI trial: "8/17
        # done" with 3 of the 8 skipped).
        skipped = any(state.states[card.id] == StepState.SKIPPED.value for card in state.counted)
        short = f"{done} done/skip" if skipped else f"{done} done"
        clocks += [(short if narrow else f"steps {done} done or skipped", "")]
    if state.outcome is not None:
        outcome_style = {Outcome.DONE: "bold $success", Outcome.FAILED: "bold $error"}
        words = "refused" if state.refused else state.outcome.words
        clocks += [("   run ", "$text-muted"),
                   (words, outcome_style.get(state.outcome, "bold $warning"))]
    return Content.assemble(*clocks)


def downtime(state: RunState, now: float, *, narrow: bool = False,
             brief: bool = False, least: bool = False) -> Parts:
    """How long the stream manager has been down, counted from the first
    cutover action on record, and what the last run says is left (`least`:
    not before the cutover, where it is only the last one's time)."""
    down = state.down_for(now)
    if down is None:
        if state.downtime_s is not None:
            return [("was down ", "$text-muted"), (clock(state.downtime_s), "bold")]
        if state.estimate_s is not None and not least:
            return [("downtime not started", "$text-muted"), (
                f" (last: {duration(state.estimate_s)})" if narrow
                else f" (the last cutover took {duration(state.estimate_s)})", "$text-muted")]
        return [("downtime not started", "$text-muted")]
    parts: Parts = [("down ", "bold $error"), (clock(down), "bold $error")]
    if state.down_since is not None and not narrow:
        parts.append((f" since {wall_clock(state.down_since)}", "$text-muted"))
    # The way back is not an upgrade's cutover: its time is no estimate for it.
    if state.estimate_s is not None and not state.going_back:
        left = state.estimate_s - down
        if left >= 0:
            parts.append((f" · about {duration(left)} left" if not narrow
                           else f" · ~{duration(left)} left", "$warning"))
        else:
            parts.append((f" · {duration(-left)} over", "bold $warning"))
        if not (narrow or brief):
            parts.append((f" (the last cutover took {duration(state.estimate_s)})",
                          "$text-muted"))
    return parts


def group_titles(state: RunState) -> dict[str, str]:
    """The checklist's phase headings as the run stands: while the stream
    manager is down none says the live system keeps running (operator trial:
    a run continued mid-cutover re-ran preflight under that heading)."""
    titles = dict(GROUPS)
    if state.service_down and state.down_since is not None:
        # Not "down" here: it read as if these steps had taken it down; nor
        # "now under way", which read as the preparation's own (trials).
        titles[Phase.PREPARE] = "PREPARE · before the cutover"
        titles[Phase.CUTOVER] = f"CUTOVER · under way, down since {wall_clock(state.down_since)}"
    if state.outcome is Outcome.DONE:
        titles.update({Phase.PREPARE: PREPARED, Phase.CUTOVER: UPGRADED,
                       Phase.ROLLBACK: NOT_NEEDED})
    elif state.outcome is Outcome.ROLLED_BACK:
        kept = " and ".join(card.id for card in state.part_undone)
        but = UNDONE_ALL_BUT if state.way_back_could_not else UNDONE_BUT
        titles.update({Phase.PREPARE: PREPARED, Phase.ROLLBACK: WENT_BACK,
                       Phase.CUTOVER: but.format(steps=kept) if kept else UNDONE_CUTOVER})
    elif state.going_back:
        titles[Phase.ROLLBACK] = "ROLLBACK · under way: down until it is done"
    return titles


def cutover_goes_on(state: RunState, card: StepCard) -> tuple[StepCard, list[StepCard]] | None:
    """Where a cutover under way stands while a resumed run asks about a
    prepare step (`card`) first: the cutover step it goes on at, and the
    prepare steps asked before it, this one first (those that look at the
    host again, and any the earlier run did not finish). None otherwise.
    Trial 56, F8: the first screen said only "Step 1 · Preflight checks"."""
    if card.phase is not Phase.PREPARE or not state.service_down or state.going_back \
            or state.asking != card.id:
        return None
    settled = (StepState.DONE.value, StepState.SKIPPED.value)
    at = next((c for c in state.cards if c.phase is Phase.CUTOVER
               and state.states[c.id] not in settled), None)
    if at is None:
        return None
    first = state.cards.index(card)
    asked = [c for c in state.cards[first:] if c.phase is Phase.PREPARE and (
        c.id == card.id or state.states[c.id] not in settled or (
            c.looks_again and c.id not in state.reports))]
    return at, asked


def _listed(cards: list[StepCard]) -> str:
    ids = [c.id for c in cards]
    return ", ".join(ids[:-1]) + f" and {ids[-1]}" if len(ids) > 1 else ids[0]


def detail(state: RunState, card: StepCard) -> Content:
    """The selected step in words: what it does, its caution, how it went."""
    shown = look(state.shown_state(card.id), card.the_way_back_word)
    # As it is asked now: a plan that deletes this time wants the id typed.
    kind = "destructive: asks for its id" if state.asks_for_its_id(card) else "asks for y"
    parts: Parts = []
    if (goes_on := cutover_goes_on(state, card)) is not None:
        # First, as the downtime runs: where the cutover stands, and why a
        # prepare step is asked (trial 56, F8).
        at, asked = goes_on
        parts += [(f"The cutover is under way: it goes on at step {at.number}, {at.title}.",
                   "bold $warning"),
                  f" First: {_listed(asked)}. A resumed run looks at the host again; later "
                  "steps rely on what it finds.\n\n"]
    parts += [
        (card.title, "bold"), "  ", (f"{shown.glyph} {shown.word}", shown.style), "\n",
        (f"{card.id} · {card.phase.value} · {kind}", "$text-muted"), "\n",
    ]
    # How it went comes first: after a failure it is what the operator looks for.
    report = state.reports.get(card.id)
    if report is not None and report.detail:
        took = f" after {duration(report.elapsed_s)}" if report.elapsed_s is not None else ""
        # Left in doubt, its advice (try again) was for a host the way back
        # has since put back (re-trial: read beside "undone").
        said = "Left in doubt, before the way back" if state.shown_state(card.id) in (
            UNDONE, PART_UNDONE, NOT_UNDONE) and report.state is StepState.IN_DOUBT else "Result"
        style = f"bold {shown.style}"
        if state.shown_state(card.id) == NEXT and report.state in (
                StepState.FAILED, StepState.IN_DOUBT):
            # Asked again (try again): how the try before ended, not this
            # one's result (operator trial 57, F20: "▶ your turn" over
            # "Result after 0.3s: ... cannot be reached").
            said = "Last try failed" if report.state is StepState.FAILED \
                else "Last try left in doubt"
            style = "bold $text-muted"
        parts += ["\n", (f"{said}{took}: ", style), report.detail, "\n"]
    if (kept_state := state.shown_state(card.id)) in (PART_UNDONE, NOT_UNDONE):
        # In the words of the headless summary and the report (trial 54, F7).
        # What stays, as the engine said it of this step (Step.leaves).
        left = state.before_another_attempt.get(card.id)
        label = "Partly undone by the way back" if kept_state == PART_UNDONE else \
            "Not undone by the way back"
        parts += ["\n", (label, f"bold {shown.style}"),
                  f": {left.stays}\n" if left is not None and left.stays else
                  ": part of what this step made stays after it\n"]
    for warning in state.warnings.get(card.id, []):
        parts += ["\n", ("⚠ ", "bold $warning"), warning, "\n"]
    parts += ["\n", card.summary, "\n"]
    if card.caution:
        parts += ["\n", ("Caution: ", "bold $warning"), card.caution, "\n"]
    history = state.previous.steps.get(card.id) if state.previous else None
    if history is not None:
        earlier = look(history.state.value)
        parts += ["\n", ("Earlier run: ", "bold"), (earlier.word, earlier.style)]
        if history.skip_reason:
            parts.append(f" ({history.skip_reason})")
        elif history.state in (StepState.FAILED, StepState.IN_DOUBT) and history.detail:
            # Why, where the operator looks first on going on (trial: only the
            # full log said it).
            parts.append(f": {history.detail}")
        for action in history.in_flight:
            parts += ["\n", ("  in flight: ", "$error"), action]
        parts.append("\n")
    if card.id == PROPERTIES_STEP:
        parts += ["\n", "When this step runs and keys still need a decision, the properties "
                  "review opens. Leaving it with keys undecided fails the step; trying the "
                  "step again opens the review again.\n"]
    return Content.assemble(*parts)


def deletions(state: RunState, step_id: str, started: Collection[str]) -> str | None:
    """How far a step that deletes nodegroups has got, from the DELETE calls
    of the plan the engine handed over and the ones it has started; None for
    any other step, and before that plan came: a preview's are the plan before
    the snapshot ("{each nodegroup}", one call), not the fleet's (trial 54)."""
    plan = state.plans.get(step_id) if step_id in state.final_plans else None
    calls = [a for a in plan or [] if isinstance(a, ApiCall) and a.method == "DELETE"
             and a.path.startswith("admin/nodegroup/")]
    if not calls:
        return None
    left = [a.path.removeprefix("admin/nodegroup/") for a in calls if a.curl not in started]
    sent = len(calls) - len(left)
    text = f"nodegroups: {sent} of {len(calls)} deletions sent"
    return text + (f", {len(left)} left ({', '.join(left)})" if left else "")


def plan_heading(final: bool) -> Content:
    return Content.assemble(("Plan", "bold"), (
        "  exactly what runs, secrets masked" if final
        else "  as planned now; shown again, final, when its turn comes", "$text-muted"))


def _last_result(state: RunState, brief: bool = False) -> Parts:
    """How the step run last ended, after the question: the view has moved on
    from its page. Last, so a narrow terminal cuts it before the question;
    `brief`, without its detail (night trial: cut to "✓ Step 6 done:").
    Once the way back's checks have found steps done since, those steps
    (trial 56b, F5), as their rows say it."""
    if state.passed:
        shown = look(ALREADY)
        steps = _step_numbers([state.by_id[step_id].number for step_id in state.passed])
        return ["  ", (f"{shown.glyph} {steps} {shown.word}.", shown.style)]
    report = state.reports.get(state.last_ended or "")
    if report is None or not report.detail or report.state is not StepState.DONE:
        return []
    shown = look(state.shown_state(report.id))
    said = f"{shown.glyph} Step {state.by_id[report.id].number} {shown.word}"
    if brief:
        return ["  ", (f"{said}.", shown.style)]
    return ["  ", (f"{said}: ", shown.style), report.detail.rstrip(".") + "."]


def _step_numbers(numbers: list[int]) -> str:
    """Step 3; Steps 3 and 5; Steps 3 to 15 (a resume finds many done in a row)."""
    if len(numbers) == 1:
        return f"Step {numbers[0]}"
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        return f"Steps {numbers[0]} to {numbers[-1]}"
    shown = [str(number) for number in numbers]
    return f"Steps {', '.join(shown[:-1])} and {shown[-1]}"


def _how_it_ended(state: RunState, step_id: str) -> str:
    """A step in trouble's word, as its row says it (operator trial: "failed"
    beside a row's "in doubt")."""
    return "failed" if state.states[step_id] == StepState.FAILED.value else "was left in doubt"


def _ending(body: list[str], keys: str, style: str, fits: Fits | None,
            spare: Collection[str] = ()) -> Content:
    """An ended run's hint: what to know (`body`, its sentences in the order
    they read), then the keys to press next (`keys`: the report's w, q). The
    keys always show (trial 56, F6: at 100x30 the hint was cut to "... left
    in doubt. w", and q never showed): where `fits` says the whole does not
    fit the hint's lines, the sentences in `spare` give way first (the screen
    says them elsewhere), then the body's last ones; the one left loses its
    asides, and is cut short ("…") as a last resort."""
    said = [sentence for sentence in body if sentence]

    def told(sentences: list[str]) -> Content:
        return Content.styled(" ".join([*sentences, keys]), style)

    if fits is None or fits(told(said)):
        return told(said)
    for gone in [*[s for s in spare if s in said], *reversed(said)]:
        if len(said) == 1:
            break
        if gone not in said:  # a spare one, gone already
            continue
        # Without its asides first ("(the report has the command)"): what
        # it says to do stays (trial 58, M1, at 60x20).
        plain = re.sub(r" \([^)]*\)", "", gone)
        if plain != gone and gone not in spare:
            said[said.index(gone)] = plain
            if fits(told(said)):
                return told(said)
            gone = plain
        said.remove(gone)
        if fits(told(said)):
            return told(said)
    # Its asides next ("(the report has the command)": w is beside it).
    if said and fits(told([plain := re.sub(r" \([^)]*\)", "", said[0])])):
        return told([plain])
    words = said[0].split() if said else []
    while words:
        words.pop()
        if fits(told([" ".join(words) + "…"])):
            return told([" ".join(words) + "…"])
    return told([])


def _hint_ended(state: RunState, *, journal: Path, brief: bool, fits: Fits | None
                ) -> Content:
    """The hint once the run has ended (or stopped on an error): how, what to
    see to, and the report's keys."""
    report = (f"The report is in {state.report}." if state.report
              else "w writes the report." if brief
              else "w writes the report for the change ticket.")
    then = f"{report} q quits."
    if state.refused:
        # Whole in the output pane: here, its gist and the one key there is.
        if state.claim_taken:
            # Refused as a step was to start, after others of this run ran
            # under its claim, taken meanwhile (trial 62 F5): those changed
            # the host; it is that step that did not run.
            return _ending(["The run was refused as a step was to start, and nothing of that "
                            "step ran: the output pane says why, and what to do."],
                           "q quits.", "$error", fits)
        ran = state.ran_before_the_refusal()
        # A resumed run's steps done by the earlier run: done, not "only
        # looked", and not "nothing ran" of the host (review 62b, L2).
        before = state.done_before_this_run()
        earlier = [f"{_step_numbers([card.number for card in before])} "
                   f"{'was' if len(before) == 1 else 'were'} done in an earlier run."
                   ] if before else []
        if not ran or state.refused_at is None:
            nothing = "this run" if before else "the run"
            return _ending([*earlier, f"{nothing.capitalize()} was refused, and nothing ran: "
                            "the output pane says why, and what to do."], "q quits.",
                           "$error", fits, spare=earlier)
        # Refused at the first step to change the host, after those that
        # only look (sudo taken away meanwhile): "nothing ran" was said
        # under their rows, done.
        at = state.by_id[state.refused_at].number
        return _ending([*earlier,
                        f"{_step_numbers([card.number for card in ran])} ran and only looked "
                        f"at the host; the run was refused at step {at}, before its first "
                        "change, so this run changed nothing on the host.",
                        "The output pane says why, and what to do."], "q quits.", "$error",
                       fits, spare=earlier)
    if state.run_error is not None:
        return _ending([f"The run stopped on an error: {state.run_error}."], then, "$error",
                       fits)
    if state.outcome is Outcome.DONE:
        # The journal first: at 80 columns the hint's last words can be cut.
        return _ending([f"Every step is done or skipped; the journal is {journal}."], then,
                       "$success", fits)
    trouble = state.in_trouble
    if state.outcome is Outcome.ROLLED_BACK:
        # Not "fix it and run again": that would start the upgrade over.
        # Its word (failed, in doubt), and where to read why: the view
        # beside the hint shows the way back's last step by now (review).
        failed = ""
        if trouble:
            failed = f"Select step {trouble[0].number} to read why it " \
                     f"{_how_it_ended(state, trouble[0].id)}."
        # What the exit lines say once the app closes, said here too
        # (operator trial: only the exit lines named the database to drop):
        # what to do alone, each step's without what stays (Step.leaves), so
        # the hint keeps to its lines; what stays where a step says no more.
        todos = [left.to_do or left.stays for left in state.before_another_attempt.values()]
        # What the way back could not touch, said at once where its step says
        # what to see to (trial 58, M1: recreate's nodes left running, in the
        # exit lines and the report only).
        now = " ".join(f"Step {card.number}: {card.the_way_back_could_not}." for card in
                       state.cards if card.id in state.not_undone and card.the_way_back_could_not)
        if brief:
            # A command cut by the hint's lines is worse than none (re-
            # trial: "(mysql -h … -u smadmin" and no more): what to do
            # and where, up to its first aside; the report has the rest.
            lefts = list(state.before_another_attempt.values())
            cut = [re.split(r", | \(", todo, maxsplit=1)[0] for todo in todos]
            # The command itself where a step gives one, whole, in place of
            # its why and who (trial 61, F3: "the report has the command",
            # a report not written yet, where the README says the hint
            # gives it); else where it is: the exit lines print it.
            given = [f"run on the stream manager host: {left.command}" if left.command
                     else words for words, left in zip(cut, lefts, strict=True)]
            if cut != todos:
                cut[-1] += " (runbook prints the command as it quits)"
            if cut:
                # First, so that lines too few cut what the ROLLBACK
                # heading says already, not where to drop what.
                serves = "The old stream manager serves again."
                with_command = f"Before another attempt, {'; '.join(given)}."
                if fits is None or fits(Content(" ".join(filter(None, [now, with_command,
                                                                       then])))):
                    # Whole or not at all (re-trial 52): the aside gives way
                    # before the command is cut.
                    return _ending([now, with_command, serves, failed], then, "$warning",
                                   fits, spare=(serves, failed))
                return _ending([now, f"Before another attempt, {'; '.join(cut)}.", serves,
                                failed], then, "$warning", fits, spare=(serves,))
        todo = "; ".join(todos)
        after = f"Before another attempt, {todo}." if todo else ""
        return _ending(["The way back is done: the old stream manager serves again.", now,
                        after, failed], then, "$warning", fits)
    # The way on, as the exit lines name it (re-trial 53: "run runbook
    # again", where a cutover refused at a skipped properties step goes
    # on with --resume, which offers it again).
    on = ("go on with --resume" if state.resumable else "rehearse again") + (
        "" if brief else " (its command is printed as runbook quits)" if state.resumable
        else " (this rehearsal's host goes when runbook quits)")
    if trouble and state.service_down and state.going_back:
        # Stopped part way back (trial 58, M3): what goes on is the way back,
        # by the command runbook prints as it quits; r starts nothing more.
        back = [card for card in trouble if card.phase is Phase.ROLLBACK] or trouble
        card, where = back[-1], "." if brief else "; its result is in the Step pane."
        what = f"On the way back, step {card.number} {_how_it_ended(state, card.id)} and " \
               f"the stream manager is down{where}"
        again = "go on back with the command runbook prints as it quits" \
            if state.resumable else on
        return _ending([what, f"Fix the cause, then {again}."], then, "$error", fits,
                       spare=(what,))
    if trouble and state.service_down:
        # The worst moment of the night: both ways on, in one line; brief,
        # without where the result is (re-trial: cut at 100 columns).
        # Where even that is too long, the row and the status line say
        # what the first sentence does; r is in the second.
        where = "." if brief else "; its result is in the Step pane."
        what = f"Step {trouble[0].number} {_how_it_ended(state, trouble[0].id)} and the " \
               f"stream manager is down{where}"
        return _ending([what, f"Fix the cause and {on}, or r says how to go back to the "
                        "old one."], then, "$error", fits, spare=(what,))
    if trouble:
        done = "Done steps are recognised." if state.resumable else ""
        return _ending([f"Step {trouble[0].number} {_how_it_ended(state, trouble[0].id)}; "
                        f"its result is in the Step pane.", f"Fix the cause, then {on}.",
                        done], then, "$error", fits, spare=(done,))
    return _ending(["The run was stopped."], then, "$warning", fits)


def _hint_recovering(state: RunState, step_id: str) -> Content:
    """The hint while a failed step's question waits for its answer."""
    card = state.by_id[step_id]
    last = state.reports.get(card.id)
    ended = "was stopped" if last is not None and last.stopped else "did not end well"
    keys = state.recovery_keys
    if "go" in keys:
        stay = f"; {keys['stay']} goes back to the step's question" if "stay" in keys else ""
        return Content.styled(f"Step {card.number} {ended}: {keys['go']} takes the way back "
                              f"to the old stream manager{stay}.", "$error")
    if keys:
        said = {"retry": "tries it again", "rollback": "takes the way back to the old "
                "stream manager", "stop": "stops the run"}
        offered = ", ".join(f"{keys[choice]} {does}" for choice, does in said.items()
                            if choice in keys)
        aside = f"; {keys['back']} lays the question aside" if "back" in keys else ""
        return Content.styled(f"Step {card.number} {ended}, and the run waits for your "
                              f"answer: {offered}{aside}.", "$error")
    # Re-trial: "try it again" said under a question that does not offer it.
    choices = "try it again, stop, and the way back where offered" if \
        last is None or last.retry_helps else "stop, and the way back where offered"
    return Content.styled(f"Step {card.number} {ended}, and the run waits for your "
                          f"answer: enter shows the choices ({choices}).", "$error")


def _hint_asking(state: RunState, step_id: str, *, selected: str | None,
                 brief: bool) -> Content:
    """The hint while the runbook waits on a step's question."""
    card = state.by_id[step_id]
    if selected == card.id:
        skip: Parts = ["; ", ("s", "bold"), " skips it with a reason."] if card.skippable \
            else ["."]
        # Mid-cutover, where the cutover goes on, first (trial 56, F8).
        lead: Parts = []
        if (goes_on := cutover_goes_on(state, card)) is not None:
            at, asked = goes_on
            lead = [(f"The cutover goes on at step {at.number} after {_listed(asked)}. ",
                     "bold $warning")]
        return Content.assemble(
            *lead, ("enter", "bold"), " shows exactly what ", (card.title, "bold"),
            " will run and asks to confirm", *skip, *_last_result(state, brief))
    return Content.assemble(
        "The runbook waits on step ", (f"{card.number}. {card.title}", "bold"),
        ": select it (↑/↓) and press ", ("enter", "bold"), ".",
        *_last_result(state, brief))


def hint(state: RunState, *, selected: str | None, journal: Path,
         brief: bool = False, fits: Fits | None = None) -> Content:
    """One sentence: what the operator can do right now; `brief` where the
    whole of it would not fit the lines the hint has (main: fitted_hint),
    and `fits` says whether a hint fits them: an ended run's keys then show
    whatever gives way (_ending)."""
    if state.run_error is not None or state.outcome is not None:
        return _hint_ended(state, journal=journal, brief=brief, fits=fits)
    if state.recovering is not None:
        return _hint_recovering(state, state.recovering)
    if state.stop_requested:
        return Content.styled("Stopping once the running step has finished.", "$warning")
    if state.reviewing is not None:
        return Content("The properties step waits for the review: d opens it.")
    if state.stopping is not None and state.stopping == state.running:
        card = state.by_id[state.stopping]
        return Content.styled(f"Stopping {card.title}: what it runs on the host is told to "
                              "stop; its question follows.", "$warning")
    if state.running is not None:
        card = state.by_id[state.running]
        return Content.assemble((card.title, "bold"), " is running. Its output is below "
                                "(l scrolls it); x stops it, q quits, each asking first.")
    if state.asking is not None:
        return _hint_asking(state, state.asking, selected=selected, brief=brief)
    if not state.started:
        if state.offering_resume:
            # Mid-cutover the dialog offers no new run (the stream manager is down).
            choices = "continue it or quit" if state.down_since is not None \
                else "continue it, start a new run, or quit"
            return Content(f"An earlier run did not finish: read what it did, then {choices}.")
        return Content("Not started yet.")
    return Content("Checking the host before the next step…")


def way_back(state: RunState, back: WayBack | None) -> tuple[str, bool]:
    """What `r` says about going back to the old stream manager, and whether
    it is a warning. `back` goes back from outside the app, exactly:
    `runbook rollback` for a real run, a lasting rehearsal's own; None in a
    rehearsal whose host does not outlive the app."""
    if state.outcome is Outcome.ROLLED_BACK:
        return "Rolled back already: the old stream manager serves again.", False
    running = state.by_id.get(state.running or "")
    if state.outcome is None and (state.way_back or (
            running is not None and running.phase is Phase.ROLLBACK)):
        # Only while this run goes on: a way back that failed or was stopped
        # ends the run, and the operator needs the command that goes on from there.
        return "The way back is under way: each of its steps is confirmed.", False
    if not state.service_down:
        if state.downtime_s is not None:
            return ("Nothing to roll back here: the cutover is complete and the new stream "
                    "manager serves."), False
        # Another run's claim taken: what serves is not this run's to say.
        # (Imported here: the first paint needs neither the journal nor the
        # claim's modules; issue 12.)
        from runbook.standing import taken_from, took_over

        whose = state.taken_from or (taken_from(state.previous)
                                     if state.continued and state.previous else None)
        if whose is not None:
            return (f"Nothing to roll back in this run, which began no cutover: "
                    f"{took_over(whose)}."), True
        return ("Nothing to roll back: the cutover has not started, and the live stream "
                "manager serves as before."), False
    # The command last, with nothing after it: it is pasted into a shell (trial:
    # a sentence's full stop, or a note in brackets, went with it).
    aside = f" ({back.note})" if back is not None and back.note else ""
    later = (f"quit (q), then run this{aside}: {back.command}" if back is not None else
             "in a real run, quit (q), then run runbook rollback with the run's config and "
             "--journal. This rehearsal's host ends with the app. To practise that, rehearse "
             "with --sandbox: its exit line names the command that goes back.")
    if state.outcome is None and running is not None:
        # A step that will not end (origins never in service) need not be
        # sat out: its question offers the way back once it is stopped, as
        # the engine says on the running step's report.
        if state.reports[running.id].way_back_open:
            return (f"The stream manager is down, and {running.title} is running.\n"
                    "To go back now, stop it (x): its question offers the way back; so does "
                    f"r at the next question.\nOr, without the app, {later}"), True
        return (f"The stream manager is down, and {running.title} is running. This run "
                f"offers no way back at its question.\nTo go back, {later}"), True
    if state.outcome is None:
        # No step is asked about or running: no report says yet whether the
        # next question offers the way back, so this says it as it goes in
        # a cutover under way (the service down), where it does.
        return ("The stream manager is down, and the runbook is checking the host. Once the "
                "runbook waits on a step (or a step fails), r goes back to the old stream "
                f"manager from there. Or, to go back without the app, {later}"), True
    if state.going_back:
        # Stopped part way back (trial 58, M3): the command goes on from there.
        return ("The stream manager is down, and this run has ended part way back. To go "
                f"on back to the old stream manager, {later}"), True
    return ("The stream manager is down, and this run has ended: the way back cannot start "
            f"from here. To go back to the old stream manager, {later}"), True


def why_not_now(state: RunState) -> str:
    """Why a key that answers the runbook's question does nothing at the moment."""
    if state.outcome is not None:
        return "The run has ended. Start runbook again to run more steps."
    if state.running is not None:
        return f"{state.by_id[state.running].title} is still running."
    if state.recovering is not None:
        # (Trial: s said "checking the host" while the failure's choices waited.)
        return (f"{state.by_id[state.recovering].title} failed: enter shows what can be done "
                "now (try again, or stop; the way back once the stream manager is down).")
    if state.reviewing is not None:
        return "The properties step waits for its review first (d)."
    if not state.started:
        return "The run has not started."
    return "The runbook is checking the host; the next step is ready in a moment."
