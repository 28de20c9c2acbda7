"""The main screen's words, rendered from the run state: the status line, the
selected step's detail, and the one-sentence hint. Pure functions (Content
in, Content out), so how the screen reads can be checked without an app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.content import Content

from runbook.executor import Outcome
from runbook.model import StepCard
from screens.presentation import clock, duration, look
from screens.run_state import RunState

PROPERTIES_STEP = "properties"
Parts = list[Content | str | tuple[str, str]]


@dataclass(frozen=True)
class Where:
    """What the status line says about where the run goes."""

    rehearsal: bool
    host_label: str
    journal: Path


def status(state: RunState, where: Where, now: float) -> tuple[Content, Content]:
    """(host and connection, clocks and counts)."""
    host: Parts = []
    if where.rehearsal:
        host += [(" REHEARSAL ", "bold $text on $warning-darken-1"), " "]
    host += [("runbook ", "bold"), ("→ ", "$text-muted"), (state.target, "bold")]
    link_style = {"connected": "$success", "uncertain": "bold $error"}.get(
        state.connection, "$text-muted")
    host += ["   ssh ", (state.connection, link_style), "   host key "]
    host.append((state.fingerprint, "$text") if state.fingerprint
                else ("checked against known_hosts", "$text-muted"))
    if where.host_label:
        host += ["   ", (where.host_label, "$text-muted")]

    end = state.run_ended if state.run_ended is not None else now
    elapsed = end - state.run_started if state.run_started is not None else None
    clocks: Parts = [("elapsed ", "$text-muted"), clock(elapsed), ("   downtime ", "$text-muted")]
    if state.downtime_s is not None:
        clocks.append((f"{clock(state.downtime_s)} (ended)", "bold"))
    elif state.cutover_started is not None:
        clocks.append((clock(end - state.cutover_started), "bold $error"))
    else:
        clocks.append(("not started", "$text-muted"))
    if state.estimate_s is not None:
        clocks.append((f"   last run's cutover took {duration(state.estimate_s)}",
                       "$text-muted"))
    clocks += [("   steps ", "$text-muted"),
               f"{state.finished}/{len(state.forward)} done or skipped"]
    if state.outcome is not None:
        outcome_style = {Outcome.DONE: "bold $success", Outcome.FAILED: "bold $error"}
        clocks += [("   run ", "$text-muted"),
                   (state.outcome.value, outcome_style.get(state.outcome, "bold $warning"))]
    return Content.assemble(*host), Content.assemble(*clocks)


def detail(state: RunState, card: StepCard) -> Content:
    """The selected step in words: what it does, its caution, how it went."""
    shown = look(state.states[card.id])
    kind = "destructive: asks for its id" if card.needs_typed_confirmation else "asks for y"
    parts: Parts = [
        (card.title, "bold"), "  ", (f"{shown.glyph} {shown.word}", shown.style), "\n",
        (f"{card.id} · {card.phase.value} · {kind}", "$text-muted"), "\n\n",
        card.summary, "\n",
    ]
    if card.caution:
        parts += ["\n", ("Caution: ", "bold $warning"), card.caution, "\n"]
    report = state.reports.get(card.id)
    if report is not None and report.detail:
        took = f" after {duration(report.elapsed_s)}" if report.elapsed_s is not None else ""
        parts += ["\n", (f"Result{took}: ", f"bold {shown.style}"), report.detail, "\n"]
    history = state.previous.steps.get(card.id) if state.previous else None
    if history is not None:
        earlier = look(history.state.value)
        parts += ["\n", ("Earlier run: ", "bold"), (earlier.word, earlier.style)]
        if history.skip_reason:
            parts.append(f" ({history.skip_reason})")
        for action in history.in_flight:
            parts += ["\n", ("  in flight: ", "$error"), action]
        parts.append("\n")
    if card.id == PROPERTIES_STEP:
        parts += ["\n", ("d", "bold"), " opens the properties review while this step "
                  "waits for decisions on keys.\n"]
    return Content.assemble(*parts)


def plan_heading(final: bool) -> Content:
    return Content.assemble(("Plan", "bold"), (
        "  exactly what runs, secrets masked" if final
        else "  as planned now; shown again, final, when its turn comes", "$text-muted"))


def hint(state: RunState, *, selected: str | None, journal: Path) -> Content:
    """One sentence: what the operator can do right now."""
    if state.run_error is not None:
        return Content.styled(f"The run stopped on an error: {state.run_error}. q quits.",
                              "$error")
    if state.outcome is not None:
        if state.outcome is Outcome.DONE:
            return Content.styled("Every step is done or skipped. q quits; the journal "
                                  f"is {journal}.", "$success")
        trouble = state.in_trouble
        if trouble:
            return Content.styled(
                f"Step {trouble[0].number} failed; its result is on the right. Fix the cause, "
                "then run runbook again (done steps are recognised). q quits.", "$error")
        return Content.styled("The run was stopped. q quits.", "$warning")
    if state.stop_requested:
        return Content.styled("Stopping once the running step has finished.", "$warning")
    if state.reviewing is not None:
        return Content("The properties step waits for the review: d opens it.")
    if state.running is not None:
        card = state.by_id[state.running]
        return Content.assemble((card.title, "bold"), " is running. Its output is below "
                                "(l to scroll it); q asks before stopping anything.")
    if state.asking is not None:
        card = state.by_id[state.asking]
        if selected == card.id:
            return Content.assemble(
                ("enter", "bold"), " shows exactly what ", (card.title, "bold"),
                " will run and asks to confirm; ", ("s", "bold"), " skips it with a reason.")
        return Content.assemble(
            "The runbook waits on step ", (f"{card.number}. {card.title}", "bold"),
            ": select it (↑/↓) and press ", ("enter", "bold"), ".")
    if not state.started:
        if state.offering_resume:
            return Content("An earlier run did not finish: read what it did, then continue "
                           "it, start a new run, or quit.")
        return Content("Not started yet.")
    return Content("Checking the host before the next step…")


def why_not_now(state: RunState) -> str:
    """Why a key that answers the runbook's question does nothing at the moment."""
    if state.outcome is not None:
        return "The run has ended. Start runbook again to run more steps."
    if state.running is not None:
        return f"{state.by_id[state.running].title} is still running."
    if state.reviewing is not None:
        return "The properties step waits for its review first (d)."
    if not state.started:
        return "The run has not started."
    return "The runbook is checking the host; the next step is ready in a moment."
