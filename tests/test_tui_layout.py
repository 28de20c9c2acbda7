"""The TUI at the sizes an on-call engineer meets: an 80x24 terminal (a laptop
split, a jump host's console) and a wide 200x60 one. The checklist gives way
on narrow screens, dialogs scroll and keep their buttons, plan lines wrap
between words, output wraps and follows its newest line."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Static

from runbook.events import Output, Progress, StepChanged
from runbook.executor import Decision
from runbook.model import StepReport, StepState
from screens.app import RunbookApp, create_app
from screens.dialogs import (
    BUSY,
    ENDED,
    IDLE,
    ConfirmDialog,
    Leaving,
    QuitDialog,
    RecoverDialog,
    ResumeDialog,
    SkipDialog,
    Target,
)
from screens.presentation import title_lines
from screens.widgets import Checklist
from tests.polling import until
from tests.test_tui_fakes import (
    SNAPSHOT_JOURNAL,
    TOKEN,
    FakeClock,
    ask,
    make_app,
    plan_of,
    report,
    screen_text,
    settings,
    tell,
)
from tests.test_tui_pilot import started, unfinished_journal

NARROW = (80, 24)
WIDE = (200, 60)
PREPARE = ["preflight", "new-database", "export-config", "upload", "unpack",
           "cloud-controller", "strip-autoscale", "carry-over", "properties"]
TARGET = Target("127.0.0.1", 2222, "red5admin", True, True)


async def test_below_100_columns_the_checklist_gives_way_and_a_key_brings_it_back() -> None:
    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        left = app.main.query_one("#left")
        assert not left.display, "the checklist must collapse at 80 columns"
        assert app.main.detail.region.width >= 70
        await pilot.press("c")
        await pilot.pause()
        assert left.display and left.region.width >= 60
        await pilot.press("c")
        await pilot.pause()
        assert not left.display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert left.display, "from 100 columns on the checklist is back by itself"


def in_view(widget: Widget | None) -> bool:
    """Shown: it and every container around it are displayed."""
    return widget is not None and all(
        node.display for node in widget.ancestors_with_self if isinstance(node, Widget))


async def test_the_checklist_hidden_beside_stays_hidden_when_the_terminal_narrows() -> None:
    """Review 56b F3: hidden with c at 120 columns, then the terminal narrowed
    (a tmux split mid-cutover): the checklist took the whole width and the step
    and its output went, with nothing focused. `c` meant "the other way from
    this width's default", and the default flipped at the breakpoint."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        left, right = app.main.query_one("#left"), app.main.query_one("#right")
        await pilot.press("c")
        await pilot.pause()
        assert not left.display and right.display
        await pilot.resize_terminal(*NARROW)
        await pilot.pause()
        await pilot.pause()
        assert right.display and not left.display, "the step and its output stay"
        assert in_view(app.focused), app.focused
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not left.display, "hidden, as the operator left it"
        await pilot.press("c")
        await pilot.pause()
        assert left.display and right.display
        # Shown in the step's place at 80 columns; wider, both stand as usual,
        # and narrower again the checklist has focus where it shows.
        await pilot.resize_terminal(*NARROW)
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert left.display and not right.display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert left.display and right.display
        await pilot.resize_terminal(*NARROW)
        await pilot.pause()
        await pilot.pause()
        assert in_view(app.focused), app.focused


@pytest.mark.parametrize("width", [100, 110, 119])
async def test_from_100_to_119_columns_the_step_pane_keeps_room_for_its_plan(width: int) -> None:
    """Operator trial: at 100 to 119 columns the checklist kept its 63 columns
    and left the step and its plan 37 to 56, where every command wrapped into a
    column of fragments. There the rows go without the state's word (the glyph
    stays; the legend below names each one), and the step pane gets the room."""
    app = make_app()
    async with app.run_test(size=(width, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        assert app.main.query_one("#left").display
        assert app.main.detail.region.width >= width - 50, app.main.detail.region

        def first_row() -> str:
            return next(row for row in screen_text(app).splitlines()
                        if row.startswith("│ 1 · Preflight checks"))

        checklist = screen_text(app).splitlines()
        for card in app.cards:  # every title as wide rows show it, beside its number
            shown = title_lines(card.title)[0]
            assert any(f"{card.number:>2} · {shown}" in row for row in checklist), card.title
        assert "pending" not in first_row().split("│")[1], first_row()
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert "pending" in first_row().split("│")[1], "from 120 columns the word is back"
        assert app.main.detail.region.width == 120 - 63


@pytest.mark.parametrize("size", [(120, 40), (100, 40), (80, 24)])
async def test_every_step_title_is_whole_in_the_checklist(size: tuple[int, int]) -> None:
    """Operator trial: at 120x40 the checklist cut the longest title,
    "Recreate nodegroups on the old da…". A title too long for its column
    goes on under itself; the columns beside it stay where they are."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        if size[0] < 100:
            await pilot.press("c")
            await pilot.pause()
        await pilot.press("end")  # the checklist has the focus: its last rows in view
        await pilot.pause()
        rows = [row.split("│")[1] for row in screen_text(app).splitlines()
                if row.startswith("│") and row.count("│") >= 2]
        assert not any("…" in row for row in rows), rows
        card = app.by_id["rollback-recreate"]
        at = next(n for n, row in enumerate(rows) if row.startswith(f"{card.number} "))
        shown = " ".join(" ".join(rows[at:at + 2]).split())
        for word in card.title.split():
            assert word in shown, (word, rows[at:at + 2])


async def test_a_resize_behind_a_dialog_leaves_the_rows_fit_for_the_new_width() -> None:
    """Review: the screen's own resize handler ran before Textual changed its
    breakpoint class, and a screen under a dialog gets that one resize only:
    closed again, the dialog left 59-cell rows cut to 48, or rows without the
    word at full width."""
    app = make_app()
    async with app.run_test(size=(130, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        for width, words in ((110, False), (130, True), (105, False), (125, True)):
            dialog = SkipDialog(app.by_id["export-config"])
            app.push_screen(dialog)
            await until(lambda d=dialog: app.screen is d, what="the dialog")
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
            dialog.dismiss(None)
            await until(lambda d=dialog: app.screen is not d, what="the dialog to close")
            await pilot.pause()
            assert app.main.checklist.words is words, (width, app.main.classes)


@pytest.mark.parametrize(("size", "breakpoint"), [(NARROW, "-narrow"), (WIDE, "-wide")])
async def test_the_widgets_are_first_styled_for_the_width_the_terminal_has(
        size: tuple[int, int], breakpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The breakpoint class is on the screen before its widgets mount. Left to
    the first resize, it came after them and every widget was styled again
    before the first paint (issue 12)."""
    seen: list[set[str]] = []
    mounted = Checklist._on_mount

    def on_mount(self: Checklist, event: Any) -> None:
        seen.append(set(self.screen.classes))
        mounted(self, event)

    monkeypatch.setattr(Checklist, "_on_mount", on_mount)
    app = make_app()
    async with app.run_test(size=size):
        await until(lambda: app.drawn, what="the first paint")
        assert seen, "the checklist never mounted"
        assert breakpoint in seen[0], f"the screen had {seen[0] or 'no classes'} as it mounted"


async def test_at_80x24_the_status_and_hint_keep_the_essentials() -> None:
    app = make_app()
    async with app.run_test(size=NARROW):
        await until(lambda: app.drawn, what="the first paint")
        answer = ask(app, "delete-nodegroups", await plan_of("delete-nodegroups"))
        await until(lambda: app.asking is not None, what="the question")
        await until(lambda: "Run" in screen_text(app).splitlines()[-1], what="the footer")
        rows = screen_text(app).splitlines()
        assert "REHEARSAL" in rows[0] and "127.0.0.1" in rows[0]
        assert "downtime" in rows[1] or "down" in rows[1]
        # With the checklist away, the screen still says which step waits.
        assert any("11" in row and "Delete the nodegroups" in row for row in rows[:3])
        footer = rows[-1]
        # Operator trial: the last key's word was cut ("d Prop▏"); the keys
        # stand closer together below 100 columns.
        for key in ("Run", "Steps", "Quit", "Full log", "Copy", "Output"):
            assert key in footer, f"{key!r} is missing from the footer: {footer!r}"
        # No cutover step can be skipped: its key would only say so.
        assert "Skip" not in footer, footer
        answer.cancel()


async def test_at_80x24_mid_cutover_the_footer_holds_the_way_back_whole() -> None:
    """Operator trial: during the cutover the 80-column footer showed "s Skip"
    for steps that refuse a skip, and ran over its end; the way back's key
    must stay whole."""
    from runbook.events import CutoverStarted

    app = make_app()
    async with app.run_test(size=NARROW):
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        answer = ask(app, "stop-service", await plan_of("stop-service"))
        await until(lambda: app.asking is not None, what="the question")
        await until(lambda: "Roll back" in screen_text(app).splitlines()[-1],
                    what="the way back in the footer")
        footer = screen_text(app).splitlines()[-1]
        assert "Skip" not in footer, footer
        # Below 100 columns the command palette's key leaves the footer (^p
        # still opens it): it sat over the last key, "d Proper▏^p Commandst".
        for key in ("Run", "Quit", "Roll back", "Full log", "Copy", "l Output"):
            assert key in footer, f"{key!r} is missing from the footer: {footer!r}"
        assert "Commands" not in footer, footer
        answer.cancel()


async def test_at_80x24_a_running_step_leaves_run_and_skip_out_of_the_footer() -> None:
    """Trial: while a cutover step ran, the 80-column footer offered "Run step"
    and "Skip", which nothing could be then, and cut "Output" off."""
    from runbook.events import CutoverStarted

    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        tell(app, StepChanged(StepReport("start-service", StepState.RUNNING)))
        await until(lambda: app.run_state.running == "start-service", what="the running step")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "Run step" not in footer and "Skip" not in footer, footer
        assert "Roll back" in footer and "l Output" in footer, footer
        await pilot.press("enter")  # still says why, out of the footer
        await pilot.pause()
        assert any("still running" in str(n.message) for n in app._notifications), \
            [n.message for n in app._notifications]


async def test_the_footer_follows_a_step_from_running_to_its_end() -> None:
    """The footer's keys were worked out again only when the service went down
    or up or the run ended: a prepare step that started running kept "Run
    step" in the footer all through (the mid-cutover snapshot had it too)."""
    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await until(lambda: "Run step" in screen_text(app).splitlines()[-1],
                    what="Run step in the footer")
        tell(app, StepChanged(StepReport("preflight", StepState.RUNNING)))
        await until(lambda: app.run_state.running == "preflight", what="the running step")
        await pilot.pause()
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "Run step" not in footer, footer
        tell(app, StepChanged(StepReport("preflight", StepState.DONE, "ok")))
        await until(lambda: "Run step" in screen_text(app).splitlines()[-1],
                    what="Run step back in the footer")


async def notices_after(pilot: Any, app: Any, key: str) -> list[str]:
    """Every notice on screen once `key` has been pressed."""
    await pilot.press(key)
    await pilot.pause()
    return [str(n.message) for n in app._notifications]


async def test_the_properties_key_is_in_the_footer_only_while_a_review_waits() -> None:
    """Operator trial: "d Properties" stood in the footer at every step, and
    after the run, where it only ever said the review was not open; d still
    says so, out of the footer."""
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "Properties" not in footer, footer
        said = await notices_after(pilot, app, "d")
        assert any("properties review opens when" in m for m in said), said
        app.run_state.reviewing = "properties"
        app.refresh_bindings()
        await until(lambda: "Properties" in screen_text(app).splitlines()[-1],
                    what="the key while a review waits")


async def test_on_the_way_back_r_says_so_and_leaves_the_footer() -> None:
    """Trial: while the way back waited on one of its steps, r said "once the
    runbook waits on a step, r goes back", and the footer offered it."""
    from runbook.events import CutoverStarted, WayBackStarted

    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        tell(app, WayBackStarted())
        answer = ask(app, "rollback-restore", await plan_of("rollback-restore"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "Roll back" not in footer, footer
        said = await notices_after(pilot, app, "r")
        assert any("way back is under way" in m for m in said), said
        assert not any("Once the runbook waits" in m for m in said), said
        answer.cancel()


async def test_after_a_way_back_that_failed_r_says_how_to_go_back_from_here() -> None:
    """Review: once the way back had failed and the run ended with the stream
    manager down, r still said "the way back is under way", and not the one
    thing the operator needs then: the command that goes back."""
    from runbook.events import CutoverStarted, RunEnded, WayBackStarted
    from runbook.model import Outcome

    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        tell(app, WayBackStarted())
        tell(app, StepChanged(StepReport("rollback-restore", StepState.FAILED, "no")))
        tell(app, RunEnded(Outcome.FAILED.value, 1))
        await until(lambda: app.run_state.outcome is not None, what="the run's end")
        await pilot.press("r")
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert not any("under way" in m for m in said), said
        assert any("this run has ended" in m and "runbook rollback" in m for m in said), said


async def test_a_step_that_can_be_skipped_shows_the_skip_key() -> None:
    app = make_app()
    async with app.run_test(size=NARROW):
        await until(lambda: app.drawn, what="the first paint")
        answer = ask(app, "upload", await plan_of("upload"))
        await until(lambda: app.asking is not None, what="the question")
        await until(lambda: "Skip" in screen_text(app).splitlines()[-1], what="the skip key")
        answer.cancel()


async def test_at_80x24_notices_take_few_rows_and_leave_the_plan_in_view() -> None:
    """Operator trial: at 80x24 a notice took Textual's half width, padded a
    row above and below, so two of them stood 14 rows high over the step's
    plan. Below 100 columns they span the screen, a row each per line."""
    app = make_app()
    async with app.run_test(size=NARROW, notifications=True) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        answer = ask(app, "delete-nodegroups", await plan_of("delete-nodegroups"))
        await until(lambda: app.asking is not None, what="the question")
        said = ("Copied the commands of step 11 to the clipboard (secrets stay masked). "
                "If nothing arrives, this terminal does not pass the clipboard on.")
        app.notify(said, markup=False)
        app.notify(said, markup=False)
        await until(lambda: len(app.main.query("Toast")) == 2, what="both notices")
        await pilot.pause()
        toasts = [toast.region for toast in app.main.query("Toast")]
        assert all(region.width >= NARROW[0] - 2 for region in toasts), toasts
        # Two lines of text each at this width, and nothing around them.
        assert sum(region.height for region in toasts) <= 4, toasts
        assert said[:60] in screen_text(app)
        answer.cancel()


async def test_at_80x24_the_footer_of_an_ended_run_offers_the_report() -> None:
    """Once the run has ended there is no step to run or skip (the hint says to
    start runbook again): those keys leave the footer, and the report, which
    the change ticket wants now, fits at 80 columns."""
    from runbook.events import RunEnded, RunStarted
    from runbook.model import Outcome

    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.front.tell(RunStarted("rehearsal.toml", "x", True, (), False))
        await until(lambda: "Run" in screen_text(app).splitlines()[-1], what="the footer")
        app.front.tell(RunEnded(Outcome.FAILED.value, 1))
        await until(lambda: app.outcome is Outcome.FAILED, what="the end of the run")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for key in ("Report", "Quit", "Full log"):
            assert key in footer, f"{key!r} is missing from the footer: {footer!r}"
        assert "Run step" not in footer and "Skip" not in footer, footer
        await pilot.press("enter")  # nothing to run: still nothing breaks


async def dialogs(app: Any) -> list[ModalScreen[Any]]:
    """Every dialog the main screen opens, filled with its longest content."""
    cards = app.by_id
    plan = await plan_of("delete-nodegroups")
    earlier = app.offered
    found: list[ModalScreen[Any]] = [
        ConfirmDialog(cards["delete-nodegroups"], 15, TARGET, plan * 3),
        ConfirmDialog(cards["preflight"], 15, TARGET, (await plan_of("preflight")) * 2),
        SkipDialog(cards["export-config"]),
        QuitDialog(Leaving(BUSY, what="step 13. Stop the running server is running.",
                           down=True)),
        QuitDialog(Leaving(IDLE, next_step="14. Install the service unit", down=True)),
        QuitDialog(Leaving(ENDED, ended="stopped by the operator", down=True)),
        RecoverDialog(cards["promote-new"], "no red5pro-server-* directory to promote: "
                      "run unpack first " * 6, can_roll_back=True),
    ]
    if earlier is not None:
        found.append(ResumeDialog(earlier.path, earlier, app.cards))
    return found


async def each_dialog(app: Any, *, first: Callable[[], object] = lambda: None
                      ) -> AsyncIterator[ModalScreen[Any]]:
    """Past the resume dialog (and `first`, on the main screen), every dialog
    (dialogs()) in turn, open on top; each is closed again once the caller has
    looked at it."""
    await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
    app.pop_screen()
    first()
    for dialog in await dialogs(app):
        name = type(dialog).__name__
        app.push_screen(dialog)
        await until(lambda d=dialog: app.screen is d and d.is_attached, what=name)
        yield dialog
        dialog.dismiss(None)
        await until(lambda d=dialog: app.screen is not d, what=f"{name} to close")


async def test_every_dialog_at_80x24_scrolls_and_keeps_its_buttons_in_reach(
        tmp_path: Any) -> None:
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    async with app.run_test(size=NARROW) as pilot:
        async for dialog in each_dialog(app):
            name = type(dialog).__name__
            await pilot.pause()
            screen = app.screen.region
            buttons = list(dialog.query(Button))
            assert buttons, name
            for button in buttons:
                shown = button.region.intersection(button.parent.region)  # type: ignore[union-attr]
                assert shown == button.region and screen.contains_region(button.region), \
                    f"{name}: {button.id} is cut off at 80x24 ({button.region})"
            # Tab reaches every button from wherever the focus starts.
            reached = set()
            for _ in range(len(buttons) + 4):
                await pilot.press("tab")
                if isinstance(app.focused, Button):
                    reached.add(app.focused.id)
            enabled = {b.id for b in buttons if not b.disabled}
            assert enabled <= reached, f"{name}: tab never reaches {enabled - reached}"
            # The body scrolls from the keyboard to its end and back.
            body = dialog.query_one(".dialog-body", VerticalScroll)
            if body.max_scroll_y:
                await pilot.press("pagedown")
                await pilot.press("end")
                await until(lambda b=body: b.scroll_y == b.max_scroll_y,
                            what=f"{name} to scroll to its end")
                await pilot.press("home")
                await until(lambda b=body: b.scroll_y == 0, what=f"{name} back at its top")


async def confirmation_of(app: RunbookApp, pilot: Pilot[Any], step_id: str
                          ) -> asyncio.Task[Decision]:
    """The step asked with its real plan, and its confirmation opened; the
    question's answer, to cancel."""
    await until(lambda: app.drawn, what="the first paint")
    answer = ask(app, step_id, await plan_of(step_id))
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
    await pilot.pause()
    return answer


async def test_at_80x24_the_nodegroups_confirmation_shows_its_whole_plan() -> None:
    """Operator trial (stop 23, item 10): at 80x24 the confirmation of the
    first cutover step showed one of its two actions above the id field;
    the wait that follows the deletes was below the fold."""
    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        answer = await confirmation_of(app, pilot, "delete-nodegroups")
        body = app.screen.query_one(".dialog-body", VerticalScroll)
        shown = screen_text(app)
        assert body.max_scroll_y == 0, f"the plan scrolls by {body.max_scroll_y}:\n{shown}"
        assert "1. [api] curl" in shown and "2. [wait] wait up to" in shown, shown
        assert "Run it" in shown and "Back" in shown
        answer.cancel()


@pytest.mark.parametrize("size", [NARROW, (120, 40)], ids=["80x24", "120x40"])
async def test_a_notice_on_a_dialog_is_a_line_of_its_own_that_covers_nothing(
        tmp_path: Any, size: tuple[int, int]) -> None:
    """Operator trial: a notice lay over the dialog's buttons (bottom right);
    moved to a band across the top, it covered the clocks row and, stacked,
    the dialog's title and DESTRUCTIVE line (review, trial). A notice said
    while a dialog is up is now a line of the dialog's own, below its box;
    notices said before it opened wait on the main screen."""
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    async with app.run_test(size=size, notifications=True) as pilot:
        said_first = partial(app.notify, "Said on the main screen before the dialog opened.",
                             markup=False)
        async for dialog in each_dialog(app, first=said_first):
            name = type(dialog).__name__
            for _ in range(2):  # a second one takes the first's place, not another row
                app.notify("The quit dialog is still open, under this screen: leave this "
                           "screen (escape; q in the properties review) to answer it.",
                           title="Roll back", markup=False)
            await pilot.pause()
            await pilot.pause()
            assert not dialog.query("Toast"), f"{name}: a toast over the dialog"
            text = screen_text(app)
            assert text.count("The quit dialog is still open") == 1, text
            assert "Said on the main screen" not in text, text
            notice = dialog.query_one("#dialog-notice").region
            covered = [dialog.query_one(".dialog-box").region,
                       dialog.query_one("#dialog-clocks").region,
                       *(button.region for button in dialog.query(Button))]
            assert not any(notice.overlaps(region) for region in covered), (name, notice)


WORD = re.compile(r"[A-Za-z]{3,}")


async def test_the_typed_confirmation_prompt_wraps_on_a_narrow_terminal() -> None:
    """At 60 columns the prompt of a step whose id is typed was cut: "Type
    service-unit and press enter to run it. Escape g" (operator trial, stop
    47). It wraps, whole."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        answer = await confirmation_of(app, pilot, "service-unit")
        prompt = app.screen.query_one("#confirm-prompt")
        box = app.screen.query_one("#confirm").content_region
        assert prompt.region.right <= box.right and prompt.region.height >= 2, \
            (prompt.region, box)
        answer.cancel()


def test_a_note_in_a_plan_says_note_once() -> None:
    """Operator trial: plans read "[note] note: ..."."""
    from runbook.model import Note
    from screens.presentation import action_content

    shown = action_content(Note("the service is restarted at once")).plain
    assert shown == "[note] the service is restarted at once", shown


def test_a_diff_edit_in_a_plan_says_whose_owner_and_mode_it_takes() -> None:
    """The screen built a diff's heading by hand, without the owner and mode
    render() says the file takes (second review, stop 47): what is shown is
    what runs."""
    from runbook.model import EditFile
    from screens.presentation import action_content

    edit = EditFile("/new/applicationContext.xml", "activate the bean",
                    "--- shipped\n+++ with live controller\n-a\n+b",
                    private_as="/live/applicationContext.xml")
    heading = action_content(edit).plain.split("\n")[0]
    assert heading == "[edit] " + edit.render().split("\n")[0], heading


async def test_plan_lines_wrap_between_words_and_never_inside_a_mask() -> None:
    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        plan = await plan_of("delete-nodegroups")
        masked = "curl -sS -H 'X-Token: •••••• [0a1b2c3d]' -X DELETE " \
                 "'http://127.0.0.1:5080/streammanager/api/4.0/admin/nodegroup/" \
                 "a-nodegroup-with-a-rather-long-name?accessToken=•••••• [9f8e7d6c]'"
        from runbook.model import ApiCall
        plan = [*plan, ApiCall("DELETE", "admin/nodegroup/x", masked)]
        answer = ask(app, "delete-nodegroups", plan)
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.pause()
        dialog = app.screen
        body = dialog.query_one(".dialog-body", VerticalScroll)
        await until(lambda: body.max_scroll_y > 0, what="a plan taller than the dialog")
        words = {w for action in plan for w in WORD.findall(action.render())}
        rows: list[str] = []
        for _ in range(20):
            # The dialog's rows: what lies between its thick side borders.
            rows += [row[row.index("█") + 1:row.rindex("█")].strip()
                     for row in screen_text(app).splitlines() if row.count("█") >= 2]
            if body.scroll_y >= body.max_scroll_y:
                break
            body.scroll_down(animate=False)
            await pilot.pause()
        seen = "\n".join(rows)
        assert "•••••• [0a1b2c3d]" in seen and "•••••• [9f8e7d6c]" in seen, \
            f"a secret mask is split across rows:\n{seen}"
        assert "a-nodegroup-" in seen and "streammanager/" in seen, seen
        # Every word on screen is a whole word of the plan or of the dialog's sentences.
        dialog_words = set(WORD.findall(text_of_dialog(dialog)))
        cut = {w for w in WORD.findall(seen) if w not in words | dialog_words}
        assert not cut, f"words cut in two: {cut}\n{seen}"
        answer.cancel()


def carry_over_diff() -> str:
    """The diff the carry-over step shows, of the rehearsal's own files: the
    live install on AWS, the new release shipping the dummy controller. XML
    indented with tabs, and bean lines longer than any dialog is wide."""
    import difflib

    from runbook.rehearsal.sandbox import AWS, DUMMY, application_context
    from runbook.rehearsal.scenarios import R6_2, R11_1
    from steps import red5

    shipped = application_context(DUMMY, R11_1)
    merged = red5.carry_controller(application_context(AWS, R6_2), shipped)
    return "\n".join(difflib.unified_diff(shipped.splitlines(), merged.splitlines(),
                                          "shipped", "with live controller", lineterm=""))


async def test_a_wrapped_diff_line_keeps_its_marker_and_colour_on_every_row() -> None:
    """Operator trial: in the carry-over confirmation a long removed line of
    applicationContext.xml wrapped, and its tail read like context. Every row
    of a removed or added line has its - or + in the marker column, in the
    line's colour; every row fits (a tab is as wide as Textual draws it, or
    the row runs over and Textual breaks it again at the left edge)."""
    from runbook.model import EditFile, Shell
    from screens.widgets import Wrapped

    diff = carry_over_diff()
    edit = EditFile("/usr/local/red5pro-server-11.1.0.b835-release/webapps/streammanager/"
                    "WEB-INF/applicationContext.xml", "activate the live install's "
                    "cloud-controller bean, comment out the dummy", diff)
    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        answer = ask(app, "carry-over", [Shell("cp -p LICENSE.KEY new/"), edit])
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.pause()
        row = list(app.screen.query(".plan-row").results(Wrapped))[-1]
        assert row.content.plain == " 2. [edit] " + edit.render()
        width = row.content_size.width
        rows = row.render().split("\n", allow_blank=True)
        assert all(r.expand_tabs(8).cell_length <= width for r in rows), \
            [r.plain for r in rows if r.expand_tabs(8).cell_length > width]
        at = next(n for n, r in enumerate(rows) if r.plain.strip() == "--- shipped")
        column = rows[at].plain.index("-")

        def style(r: Content) -> list[str]:
            return [str(span.style) for span in r.spans if span.start <= column < span.end]

        colours: dict[str, list[str]] = {}
        wrapped = 0
        lines = iter(rows[at:])
        for line in diff.split("\n"):
            first = next(lines)
            mark, want = line[0], "".join(line[1:].split())
            assert first.plain[column] == mark, (line, first.plain)
            got = "".join(first.plain[column + 1:].split())
            colour = style(first)
            if mark in "-+" and not line.startswith(("--- ", "+++ ")):
                assert colour, f"a {mark} line in no colour: {first.plain!r}"
                assert colours.setdefault(mark, colour) == colour, (line, colour)
            while len(got) < len(want):
                more = next(lines)
                wrapped += 1
                shown = more.plain
                assert not shown[:column].strip(), f"a row left of the marker: {shown!r}"
                assert shown[column] == (mark if mark in "-+" else " "), \
                    f"the row after {first.plain!r} reads {shown!r}"
                assert style(more) == colour, (shown, style(more), colour)
                got += "".join(shown[column + 1:].split())
            assert got == want, (line, got)
        assert wrapped >= 4, "no line of the diff wrapped: the test shows nothing"
        assert colours["-"] != colours["+"]
        answer.cancel()


def text_of_dialog(dialog: Any) -> str:
    from textual.widgets import Label, Static

    from screens.widgets import Wrapped

    parts = [w.content.plain for w in dialog.query(Wrapped)]
    parts += [str(getattr(w.content, "plain", w.content)) for w in dialog.query(Static)]
    parts += [str(getattr(w.label, "plain", w.label)) for w in dialog.query(Button)]
    parts += [str(getattr(w.content, "plain", w.content)) for w in dialog.query(Label)]
    return "\n".join(parts) + "\nthe step id"


async def test_output_wraps_and_the_pane_follows_its_newest_line() -> None:
    for size in (NARROW, WIDE):
        app = make_app(clock_=FakeClock())
        async with app.run_test(size=size) as pilot:
            await until(lambda a=app: a.drawn, what="the first paint")
            tell(app, StepChanged(report("upload", StepState.RUNNING)))
            app.main.checklist.select_step("upload")
            long = " ".join(f"word{n:03d}" for n in range(60))  # 479 characters
            for n in range(300):
                app.front.tell(Output("upload", "out", f"line {n:03d} {long}"))
                if n % 50 == 0:
                    await asyncio.sleep(0)
            app.front.tell(Output("upload", "err", "the very last line"))
            await until(lambda a=app: "the very last line" in screen_text(a),
                        what=f"the newest line on screen at {size}")
            shown = screen_text(app)
            # Wrapped, not cut: the end of a long line is on screen too.
            assert "word059" in shown, f"long lines are cut at {size}"
            await pilot.press("l")  # the operator's way into the output
            await until(lambda a=app: a.focused is a.main.log_widget, what="the output's focus")
            await pilot.press("home")
            await until(lambda a=app: "the very last line" not in screen_text(a),
                        what="the top")
            await pilot.press("end")
            await until(lambda a=app: "the very last line" in screen_text(a),
                        what=f"End to reach the last line at {size}")


async def run_with_output(app: Any, step_id: str, word: str) -> None:
    """`step_id` running and selected, 200 lines of it told; its newest line
    must come on screen: the pane follows it."""
    tell(app, StepChanged(report(step_id, StepState.RUNNING)))
    app.main.checklist.select_step(step_id)
    for n in range(200):
        app.front.tell(Output(step_id, "out", f"{word} {n:03d}"))
    await until(lambda: f"{word} 199" in screen_text(app), what=f"{step_id}'s newest line")


async def test_the_output_still_follows_after_the_progress_line_takes_a_row() -> None:
    """Operator trial: at the end of recreate the pane stopped short of the
    last lines until l and End. The progress line appearing above the output
    made the pane shorter; the view, at the end a moment before, was then a
    row above it, and new lines were no longer followed."""
    app = make_app(clock_=FakeClock())
    async with app.run_test(size=WIDE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await run_with_output(app, "recreate", "line")
        app.front.tell(Progress("recreate", 1, 30, "waiting for the origins: 29s left"))
        await until(lambda: "29s left" in screen_text(app), what="the progress line")
        await pilot.pause()
        app.front.tell(Output("recreate", "info", "done: every nodegroup has its origins"))
        await until(lambda: "every nodegroup has its origins" in screen_text(app),
                    what="the last line, followed")


async def test_the_next_steps_output_is_followed_after_the_last_was_read_from_its_top(
) -> None:
    """Review: clearing the pane scrolled to the top, which the view was at
    already after Home, so nothing said "follow" again and the next step's
    output stayed at its first line."""
    app = make_app(clock_=FakeClock())
    async with app.run_test(size=WIDE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await run_with_output(app, "start-service", "start")
        await pilot.press("l")
        await until(lambda: app.focused is app.main.log_widget, what="the output's focus")
        await pilot.press("home")
        await until(lambda: "start 000" in screen_text(app), what="the top")
        tell(app, StepChanged(report("start-service", StepState.DONE, "ok", 1.0)))
        await run_with_output(app, "recreate", "recreate")


async def test_a_line_that_comes_later_shows_below_the_first() -> None:
    # The rows under the last line were drawn blank once; a later line must not
    # stay hidden behind that blank.
    app = make_app(clock_=FakeClock())
    async with app.run_test(size=WIDE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, StepChanged(report("upload", StepState.RUNNING)))
        app.front.tell(Output("upload", "out", "the first line"))
        await until(lambda: "the first line" in screen_text(app), what="the first line")
        await pilot.pause()
        app.front.tell(Output("upload", "out", "the second line"))
        await until(lambda: "the second line" in screen_text(app), what="the second line")


async def test_a_host_s_control_characters_show_as_escapes_in_the_output() -> None:
    """A line holding ESC [2J showed as a replacement mark, and an 8-bit CSI
    (U+009B) went to the terminal raw, as the terminal's to act on."""
    import re

    app = make_app(clock_=FakeClock())
    async with app.run_test(size=WIDE):
        await until(lambda: app.drawn, what="the first paint")
        tell(app, StepChanged(report("upload", StepState.RUNNING)))
        app.front.tell(Output("upload", "err", "inflating: \x1b[2J \x9b31m red"))
        await until(lambda: "inflating:" in screen_text(app), what="the line")
        row = next(r for r in screen_text(app).splitlines() if "inflating:" in r)
        assert "\\u001b[2J \\u009b31m red" in row, row
        assert not re.search("[\x00-\x1f\x7f-\x9f]", row), row


def clocks_form(row: str) -> int:
    """Which form a clocks row is in: 0 whole, 1 without the last cutover's
    time, 2 the short form of below 100 columns."""
    return 0 if "the last cutover took" in row else 1 if "done or skipped" in row else 2


@pytest.mark.parametrize("width", [100, 110, 119, 120, 121, 127, 130])
async def test_the_clocks_row_keeps_the_step_count_and_its_form_as_the_estimate_runs_out(
        width: int) -> None:
    """Stop 21's trial: from 100 columns up, mid-cutover with the last
    cutover's time to go by, the clocks row ran past the edge of the screen
    and lost the count of steps. Then (review) it took its short form by the
    second's length: long and short by turns as the time left ran out. Now
    it drops what matters least first (the last cutover's time, then the
    long words), keeps every clock and the count, and, at a width, never
    goes back to a longer form it once had to leave."""
    from tests.test_tui_snapshots import mid_cutover

    clock = FakeClock(1_773_450_000.0)
    app = make_app(clock_=clock)
    async with app.run_test(size=(width, 30)) as pilot:
        await mid_cutover(pilot, clock)  # 2 min 5 s down
        app.run_state.estimate_s = 300.0
        forms = []
        for _ in range(22):  # 2:05 to 5:20 down, across the estimate's end
            app.main.tick()
            await pilot.pause()
            row = screen_text(app).splitlines()[1].rstrip()
            assert "10/17 done" in row and "…" not in row, row
            assert ("left" in row) or ("over" in row), row
            assert width < 110 or "since 01:00:00" in row, row
            forms.append(clocks_form(row))
            clock.now += 9
        assert forms == sorted(forms), f"the row changed its form back and forth: {forms}"


async def test_the_rebuild_plan_says_what_it_learns_only_as_it_runs() -> None:
    """Operator trial (stop 26): the rebuild's plan showed
    `admin/nodegroup/{new}/node/origin`, which read as a template left unfilled;
    the new nodegroup's name comes from the API's answer, and the plan says so
    the way it shows <api-version>."""
    shown = "\n".join(action.render() for action in await plan_of("recreate"))
    assert "{new}" not in shown and "{saved}" not in shown, shown
    assert "admin/nodegroup/<new nodegroup>/node/origin" in shown, shown


async def test_the_process_listing_reads_as_one_quoted_script() -> None:
    """Operator trial (stop 26): the preflight's listing of java processes
    showed as `sudo -n sh -c '...'"'"'[j]ava'"'"'...'`, its quotes escaped a
    dozen times: the script keeps to double quotes, so the one pair around
    it is the only single quotes the operator reads."""
    shown = [action.render() for action in await plan_of("preflight")]
    listing = next(line for line in shown if "cmdline" in line)
    assert "'\"'\"'" not in listing, listing
    assert listing.count("'") == 2, listing


async def test_the_hint_at_the_runs_end_shows_whole_at_80x24(tmp_path: Any) -> None:
    """Operator trial: at 80x24 the finished run's hint stopped at "q quits;
    the journal is": the path the operator needs next was cut off."""
    from runbook.events import RunEnded
    from runbook.model import Outcome

    journal = tmp_path / "sm1.example.com-20261204T021407Z.jsonl"
    app = make_app(journal=journal)
    async with app.run_test(size=NARROW) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunEnded(Outcome.DONE.value, 0))
        await until(lambda: app.run_state.outcome is not None, what="the run's end")
        await pilot.pause()
        shown = "".join(line.strip() for line in screen_text(app).splitlines())
    assert journal.name in shown, shown[-600:]


@pytest.mark.parametrize("size", [(120, 40), NARROW])
async def test_the_hint_says_the_last_result_whole_or_briefly_never_cut_mid_phrase(
        size: tuple[int, int]) -> None:
    """Night trial (stop 44): at 120x40 the hint ended "✓ Step 6 done:", the
    result itself cut off below its last line."""
    from runbook.events import RunStarted, StepChanged

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await started(app)
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False))
        long = ("kept 41 keys, took 9 new defaults, carried config.dbHost over to the new "
                "database, and left out the autoscale plugin's 3 keys, as decided") * 2
        tell(app, StepChanged(report("carry-over", StepState.RUNNING)),
             StepChanged(report("carry-over", StepState.DONE, long)))
        asking = ask(app, "properties", await plan_of("properties"))
        shown = app.main.query_one("#hint", Static)
        await until(lambda: "asks to confirm" in str(shown.render()), what="the question")
        await pilot.pause()
        # As drawn: the hint's lines, above the footer (its max-height cuts).
        drawn = screen_text(app).splitlines()
        lines = [line.strip() for line in drawn[-1 - shown.size.height:-1]]
        text = " ".join(lines)
        assert "asks to confirm" in text, lines
        assert not text.endswith(":"), lines
        assert "done." in text or long[-20:] in text, lines
        asking.cancel()


@pytest.mark.parametrize("real", [False, True], ids=["rehearsal", "run"])
@pytest.mark.parametrize("size", [(100, 30), NARROW])
async def test_the_hint_after_a_failed_cutover_fits_its_lines(size: tuple[int, int],
                                                              real: bool) -> None:
    """Re-trial (stop 47): after Stop at a failed cutover step, the hint at
    100x30 ended "... w writes the", its brief form still three lines. A real
    run's names --resume (re-trial 53), and fits as well."""
    from dataclasses import replace

    from runbook.events import CutoverStarted, RunEnded
    from tests.test_tui_fakes import settings

    app = make_app(settings_=replace(settings(), rehearsal=False) if real else None)
    async with app.run_test(size=size) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(report("start-service", StepState.RUNNING)),
             StepChanged(report("start-service", StepState.FAILED, "the API never answered")),
             RunEnded("failed", 1))
        shown = app.main.query_one("#hint", Static)
        await until(lambda: "quits" in str(shown.render()), what="the run's end")
        await pilot.pause()
        drawn = screen_text(app).splitlines()
        text = " ".join(line.strip() for line in drawn[-1 - shown.size.height:-1])
        assert "failed" in text and text.endswith("q quits."), text
        assert ("--resume" in text) is real, text


@pytest.mark.parametrize("size", [NARROW, (100, 30), (120, 40)])
async def test_the_failed_steps_question_leaves_the_hint_under_it_readable(
        size: tuple[int, int]) -> None:
    """Re-trial: at 80x24 the failure dialog's bottom border lay over the
    hint's first line, the one naming the dialog's keys. Its box, and the
    way back's asked from it, end above the hint, whose lines show whole."""
    from runbook.executor import Recovery
    from screens.dialogs import RollBackDialog

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await started(app)
        failed = report("start-service", StepState.FAILED, "the API never answered " * 4, 0.1)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        shown = app.main.query_one("#hint", Static)
        for key, dialog, box in ((None, RecoverDialog, "#recover"),
                                 ("r", RollBackDialog, "#rollback")):
            if key:
                await pilot.press(key)
            await until(lambda d=dialog: isinstance(app.screen, d)  # type: ignore[misc]
                        and bool(app.screen.query(".dialog-foot")), what=dialog.__name__)
            await pilot.pause()
            region = app.screen.query_one(box).region
            assert region.bottom <= shown.region.y, (dialog.__name__, region, shown.region)
            drawn = screen_text(app).splitlines()
            lines = drawn[shown.region.y:shown.region.bottom]
            said = " ".join(str(shown.render()).split())
            assert " ".join(" ".join(lines).split()) == said, (dialog.__name__, lines)
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.press("q")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.STOP


@pytest.mark.parametrize("size", [NARROW, (90, 30)])
async def test_below_100_columns_a_notice_leaves_the_status_rows_and_the_clock_in_view(
        size: tuple[int, int]) -> None:
    """Re-trial: below 100 columns a notice (the journal's warning, 30 s; the
    resume's) lay over the status rows, the downtime clock among them, for
    as long as it showed. It lies under them."""
    from runbook.events import CutoverStarted, JournalNote

    clock = FakeClock()
    app = make_app(clock_=clock)
    async with app.run_test(size=size, notifications=True) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", clock() - 75))
        await until(lambda: "down" in screen_text(app).splitlines()[1], what="the clock")
        await pilot.pause()
        status = screen_text(app).splitlines()[:2]
        tell(app, JournalNote("The journal could not be written to its disk: the run goes "
                              "on, and what it did is said here and in the output only."))
        app.notify("Resumed from the journal of the earlier run: steps 1 to 10 are done.",
                   markup=False)
        await until(lambda: len(app.main.query("Toast")) == 2, what="both notices")
        await pilot.pause()
        assert screen_text(app).splitlines()[:2] == status, screen_text(app)
        rows = app.main.query_one("#status").region
        for toast in app.main.query("Toast"):
            assert not toast.region.overlaps(rows), (toast.region, rows)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_below_100_columns_the_arrows_read_the_step_not_a_hidden_list(
        size: tuple[int, int]) -> None:
    """Operator trial 57, F18: below 100 columns the checklist gives way, yet
    it kept the focus: Down, pressed to read on in the Step pane, moved the
    hidden list's selection to another step, under a hint and a footer that
    still spoke of the one waiting. The Step pane has the focus there."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        asked = ask(app, "preflight", await plan_of("preflight"))
        await pilot.pause()
        assert not app.main.query_one("#left").display
        await pilot.press("down", "down")
        await pilot.pause()
        assert app.main.checklist.selected_step == "preflight", \
            app.main.checklist.selected_step
        assert app.focused is app.main.detail, app.focused
        asked.cancel()


async def test_hiding_the_checklist_brings_back_the_step_the_run_waits_on() -> None:
    """Operator trial 57, F1: `c`, PgDn, `c` at 60 columns left step 19 in the
    Step pane, while the hint said enter shows the waiting step's plan, and
    enter refused. Hidden, the checklist's selection goes back to that step."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        asked = ask(app, "preflight", await plan_of("preflight"))
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.main.query_one("#left").display
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.main.checklist.selected_step != "preflight"
        await pilot.press("c")
        await pilot.pause()
        assert not app.main.query_one("#left").display
        assert app.main.checklist.selected_step == "preflight", \
            app.main.checklist.selected_step
        asked.cancel()


async def test_enter_on_another_step_selects_the_one_the_run_waits_on() -> None:
    """Operator trial 57, F1 (at 100x30 too): enter on a step browsed to said
    "Steps run in order ... Select it and press enter"; the runbook knows
    which: it selects it, and the next enter opens its confirmation."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        asked = ask(app, "preflight", await plan_of("preflight"))
        await pilot.pause()
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert app.main.checklist.selected_step != "preflight"
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.checklist.selected_step == "preflight"
        assert not isinstance(app.screen, ModalScreen), "nothing asked yet"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ModalScreen), what="the confirmation")
        asked.cancel()


async def test_at_60_columns_the_clocks_row_keeps_the_step_count_whole() -> None:
    """Operator trial 57, F2: at 60x20 the clocks row read "downtime not
    started (last: 52.5s)   elapsed 00:01:39   1…" with 10 steps done: the
    count, the number a newcomer follows, read as 1. The row drops what
    matters less (the last cutover's time, then the elapsed clock) first."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.run_state.estimate_s = 52.5
        for card in app.cards[:10]:
            tell(app, StepChanged(report(card.id, StepState.DONE)))
        await pilot.pause()
        row = app.main.clocks().plain
        width = app.main.status.content_region.width
        assert len(row) <= width, (row, width)
        assert f"10/{len(app.run_state.counted)} done" in row, row


@pytest.mark.parametrize("width", [60, 70])
async def test_a_narrow_checklist_keeps_each_step_on_one_row(width: int) -> None:
    """Operator trials 57 F3 and 57b F-E: at 60 columns the checklist, shown
    with `c`, put each step's time on a row of its own ("│0.1s    │"): half
    its rows were times and five steps filled the pane. Where the row does not
    fit whole, the time goes (the step pane says how long a step took)."""
    app = make_app()
    async with app.run_test(size=(width, 20)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        for card in app.cards[:6]:
            tell(app, StepChanged(report(card.id, StepState.DONE, elapsed=0.1)))
        await pilot.press("c")
        await pilot.pause()
        assert app.main.query_one("#left").display
        rows = [row.split("│")[1] for row in screen_text(app).splitlines()
                if row.startswith("│") and row.count("│") >= 2]
        assert not any(row.strip() and row.strip() == "0.1s" for row in rows), rows
        for card in app.cards[:6]:
            assert any(re.match(rf"\s*{card.number} ✓ \S", row) and "done" in row
                       for row in rows), (card.title, rows)
        # The legend under it, too: each glyph beside its word ("⚠" / "warnings").
        for look in re.split(r"\s{3,}|\n", app.main.legend().plain):
            assert any(look in row for row in rows), (look, rows[-4:])
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        rows = screen_text(app).splitlines()
        assert any("done" in row and "0.1s" in row for row in rows), \
            "with room, the time is back"


@pytest.mark.parametrize("size", [(60, 20), NARROW, (120, 40)])
async def test_the_opening_notes_are_in_the_output_and_leave_the_step_title_in_view(
        size: tuple[int, int]) -> None:
    """Operator trial 57, F5: `runbook rehearse`'s notes (its host, sandbox
    and pace) lay over the Step pane's title and first rows for ten seconds
    at 80x24 and 60x20, then went: the sandbox path, wanted mid-run, was in
    no pane. They are the first lines of the output, at every width; below
    100 columns no notice lies over the step's title."""
    from runbook.cli import wiring

    said = ("rehearsal host: red5admin@127.0.0.1:2222, sandbox /tmp/runbook-rehearsal-abcdefgh",
            "rehearsal pace fast; RUNBOOK_REHEARSAL_PACE sets it")
    journal = SNAPSHOT_JOURNAL
    app = create_app(lambda _: wiring.session(settings(), token=TOKEN, state_dir=journal.parent,
                                              journal_path=journal),
                     rehearsal=True, clock=FakeClock(), start_run=False, notes=said)
    async with app.run_test(size=size, notifications=True) as pilot:
        await started(app)
        await pilot.pause()
        await pilot.pause()
        shown = "\n".join(app.main.log_widget.lines)
        for note in said:
            assert note in shown, shown
        title = app.main.detail.region._replace(height=1)  # its border, with the title
        for toast in app.main.query("Toast"):
            assert not toast.region.overlaps(title), (toast.region, title, screen_text(app))
        assert "sandbox" in "\n".join(app.store.of(app.cards[0].id))
        assert "/tmp/runbook-rehearsal-abcdefgh" in "\n".join(
            line for _, line in app.store.history)


@pytest.mark.parametrize(("journal", "size", "whole"), [
    ("/tmp/hAhome/state/runbook/runs/127.0.0.1-20261206T180751Z.jsonl", (60, 20), True),
    ("/tmp/hAhome/state/runbook/runs/127.0.0.1-20261206T180751Z.jsonl", NARROW, True),
    # Whole, the name would take a fourth row at 60 columns: its hyphen breaks.
    ("/tmp/hNhome/state/runbook/sandbox-runs/127.0.0.1-20261206T192322Z.jsonl", (60, 20),
     False),
    ("/tmp/hNhome/state/runbook/sandbox-runs/127.0.0.1-20261206T192322Z.jsonl", NARROW, True),
])
async def test_the_end_hint_breaks_the_journal_path_at_its_slashes(
        journal: str, size: tuple[int, int], whole: bool) -> None:
    """Operator trials 57 F4 and 57b F-F: at 60 columns the end hint broke the
    journal's path inside its name ("...180751Z." / "jsonl.", "...20261206T" /
    "192322Z.jsonl"), and a mouse copy of it broke too. Rows break after a
    slash (or the name's hyphen), and the journal's name stays whole on its
    row where the hint's lines allow. Nothing is written there (no run starts)."""
    from runbook.events import RunEnded
    from runbook.model import Outcome

    path = Path(journal)
    app = make_app(journal=path)
    async with app.run_test(size=size) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunEnded(Outcome.DONE.value, 0))
        await until(lambda: app.run_state.outcome is not None, what="the run's end")
        await pilot.pause()
        shown = app.main.query_one("#hint", Static)
        drawn = screen_text(app).splitlines()
        rows = [row.strip() for row in drawn[-1 - shown.size.height:-1]]
    assert journal in "".join(rows), rows
    assert any(path.name in row for row in rows) is whole, rows
    for row, after in pairwise(rows):
        if f"{row.split()[-1]}{after.split()[0]}" in f"{journal}.":
            assert row.endswith(("/", "-")), (row, after)
