"""A run whose claim on the host another machine took meanwhile changes nothing more.

Operator trial 62, F3 and F5: the claim was looked at again only before the
cutover's first change. A colleague's `--take-over-host` from another machine
(`runbook rollback --journal COPY --take-over-host`, or a new run) while the
first run was still live went unnoticed: in the cutover the first run moved
red5pro aside under the colleague's way back; in prepare it unpacked with no
claim of its own, and a third run got in. Before each step that changes the
host, a run now makes sure the claim is still its own; where it is not, that
step does not start and the run stops as a refusal does (exit 2), naming who
took the host.

The colleague is real: a second SSH login on the rehearsal host
(RehearsalHost.let_in), whose claim is taken with the real take-over over its
own connection, as its runbook on laptop-2 would take it."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runbook import claim as host_claim
from runbook.cli import wiring
from runbook.events import Output
from runbook.executor import Decision
from runbook.model import Action, StepReport
from runbook.rehearsal.host import RehearsalHost
from tests.rehearsal import rehearsal_session, rehearsal_settings
from tests.scripted import ScriptedFrontEnd


def holder_of(host: RehearsalHost) -> Path:
    return host.install_dir / host_claim.NAME / "holder"


async def colleague_takes_over(host: RehearsalHost, folder: Path, *, cutover: str = "",
                               then_ends: bool = False) -> None:
    """Another machine's `--take-over-host`: a colleague logged in as its own
    SSH user, its runbook on laptop-2 taking the claim over (`cutover`: the
    cutover under way it goes on with, as `runbook rollback --journal COPY`);
    `then_ends`: and its run ends, letting the claim go (its way back done)."""
    host.let_in("colleague")
    settings = rehearsal_settings(host)
    theirs = dataclasses.replace(settings, host=dataclasses.replace(settings.host,
                                                                    user="colleague"))
    session = wiring.session(theirs, token=host.api_token, journal_path=folder / "run.jsonl",
                             state_dir=folder / "state")
    remote = session.remote()
    claim = host_claim.Claim("colleague", "laptop-2", 4242, str(folder / "run.jsonl"),
                             datetime.now(UTC).isoformat(timespec="seconds"), cutover=cutover)
    place = host_claim.Place.of(theirs)
    try:
        taken, _ = await host_claim.take(remote, claim, place, over=True)
        if then_ends:
            await host_claim.release(remote, taken, place)
            assert not holder_of(host).exists()
    finally:
        await remote.close()


class TakenAt(ScriptedFrontEnd):
    """Answers run to every step; as `step` is asked, the colleague takes the
    host over first (the operator was at the question meanwhile)."""

    def __init__(self, step: str, host: RehearsalHost, folder: Path, *,
                 then_ends: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.step, self.host, self.folder, self.then_ends = step, host, folder, then_ends

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        if step.id == self.step:
            cutover = next((line.removeprefix("cutover=") for line in
                            holder_of(self.host).read_text().splitlines()
                            if line.startswith("cutover=")), "")
            await colleague_takes_over(self.host, self.folder, cutover=cutover,
                                       then_ends=self.then_ends)
        return await super().confirm(step, plan)


def records(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def acted(journal: Path, step: str) -> list[dict[str, Any]]:
    return [r for r in records(journal) if r.get("step") == step
            and r["event"] in ("step-start", "action-start")]


def exit_code_of(refused: BaseException) -> int | None:
    """The exit code the CLI gives a run that ended so (its one line to stderr)."""
    from runbook.cli import door

    return door._refusal(refused)  # type: ignore[arg-type]


async def test_taken_over_in_prepare_the_run_stops_before_its_next_change(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """F5: taken over at unpack's question, the run unpacked with no claim of
    its own, and a third run then got in at once. Now unpack does not start:
    the run stops, naming who took the host, and that nothing of unpack ran;
    the colleague's claim is left to it."""
    journal = tmp_path / "run.jsonl"
    front = TakenAt("unpack", rehearsal_host, tmp_path / "colleague")
    session = rehearsal_session(rehearsal_host, journal)
    with pytest.raises(host_claim.HostClaimed) as refused:
        await session.run(front)
    said = str(refused.value)
    assert "\n" not in said, said
    for part in ("colleague on laptop-2", "taken", "Nothing of unpack was sent"):
        assert part in said, said
    assert front.final_state("upload") == "done", front.text()[-2000:]
    assert acted(journal, "unpack") == [], "unpack did not start"
    holder = holder_of(rehearsal_host).read_text().splitlines()
    assert "machine=laptop-2" in holder, holder
    # Journalled as unpack's warning; the front end says it once, as the refusal.
    warned = [r for r in records(journal) if r["event"] == "output" and r.get("step") == "unpack"
              and r.get("warning") and "colleague on laptop-2" in str(r.get("lines"))]
    assert warned, records(journal)[-5:]
    assert not [e for e in front.events if isinstance(e, Output)
                and "colleague on laptop-2" in e.line], "said twice"
    # The process ends as a refusal does, and the journal says so.
    assert exit_code_of(refused.value) == 2
    assert "colleague on laptop-2" in capsys.readouterr().err
    ended = [r for r in records(journal) if r["event"] == "run-end"]
    assert ended and ended[-1]["exit_code"] == 2, ended
    # The TUI, as its run's events left it, says no less: steps ran before.
    assert isinstance(refused.value, host_claim.ClaimTaken), type(refused.value)
    told = tui_hint(session, front, said, journal)
    assert "nothing ran" not in told and "nothing of that step ran" in told, told


def tui_hint(session: Any, front: ScriptedFrontEnd, said: str, journal: Path) -> str:
    """The TUI's hint once its run ended so, from the run's own events."""
    from runbook.model import Outcome
    from screens.run_state import RunState
    from screens.views import hint

    state = RunState(cards=list(session.cards), target="sm")
    for event in front.events:
        state.apply(event, 0.0)
    # As the app tells it (on_worker_state_changed): a claim taken meanwhile.
    state.ended(Outcome.FAILED, said, refused=True, claim_taken=True)
    return hint(state, selected=None, journal=journal).plain


async def test_taken_over_in_the_cutover_the_run_does_not_move_red5pro_aside(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """F3: the fleet deleted, the colleague's way back (a copy of the journal,
    --take-over-host) took the host while this run waited at backup-live;
    this run then moved red5pro aside under that way back. Now backup-live
    does not start: the run stops, naming who took the host, and the live
    install stays where the way back finds it."""
    journal = tmp_path / "run.jsonl"
    front = TakenAt("backup-live", rehearsal_host, tmp_path / "colleague")
    session = rehearsal_session(rehearsal_host, journal)
    with pytest.raises(host_claim.HostClaimed) as refused:
        await session.run(front)
    said = str(refused.value)
    assert "\n" not in said, said
    for part in ("colleague on laptop-2", "Nothing of backup-live was sent"):
        assert part in said, said
    assert front.final_state("delete-nodegroups") == "done", front.text()[-2000:]
    assert acted(journal, "backup-live") == [], "backup-live did not start"
    assert (rehearsal_host.install_dir / "red5pro").is_dir()
    assert not (rehearsal_host.install_dir / "bak.red5pro").exists()
    holder = holder_of(rehearsal_host).read_text().splitlines()
    assert "machine=laptop-2" in holder and any(
        line.startswith("cutover=") for line in holder), holder
    assert exit_code_of(refused.value) == 2


async def test_a_cutover_claim_let_go_by_the_run_that_took_it_is_not_taken_again(
        rehearsal_host: RehearsalHost, tmp_path: Path) -> None:
    """F3, its other ending: the colleague's way back took the claim, ended,
    and let it go while this run waited at backup-live. A claim found gone
    was taken again as one removed by hand (review 60c, F5), and this run
    went on moving red5pro aside over the old release put back. Kept for the
    cutover under way, a claim gone means that cutover was ended elsewhere,
    or by hand: backup-live does not start, and the run stops saying so."""
    journal = tmp_path / "run.jsonl"
    front = TakenAt("backup-live", rehearsal_host, tmp_path / "colleague", then_ends=True)
    session = rehearsal_session(rehearsal_host, journal)
    with pytest.raises(host_claim.ClaimRefused) as refused:
        await session.run(front)
    said = str(refused.value)
    assert "\n" not in said, said
    for part in ("is gone", "Nothing of backup-live was sent"):
        assert part in said, said
    assert acted(journal, "backup-live") == [], "backup-live did not start"
    assert (rehearsal_host.install_dir / "red5pro").is_dir()
    assert not (rehearsal_host.install_dir / "bak.red5pro").exists()
    assert not holder_of(rehearsal_host).exists(), "not taken again"
    assert exit_code_of(refused.value) == 2


async def test_unattended_each_changing_step_looks_at_its_claim_beside_its_check(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12 (the tool's time in the downtime): under --yes nobody waits at
    a question, so the look at the claim need not wait for the step's check
    and its answer: made beside the check, one short root command less stands
    between two cutover steps (six in the downtime). Each changing step still
    looks once before it starts, and no look is made after its question."""
    import time

    looks: list[float] = []
    for name in ("taken_from_us", "still_mine"):  # the look after, and beside
        made = getattr(host_claim, name)

        async def timed(*args: Any, made: Any = made, **kw: Any) -> Any:
            looks.append(time.monotonic())
            return await made(*args, **kw)

        monkeypatch.setattr(host_claim, name, timed)
    journal = tmp_path / "run.jsonl"
    settings = dataclasses.replace(rehearsal_settings(rehearsal_host), unattended=True)
    front = ScriptedFrontEnd()
    outcome = await rehearsal_session(rehearsal_host, journal, settings).run(front)
    assert outcome.value == "done", front.text()[-2000:]
    changing = [r for r in records(journal) if r["event"] == "step-start"
                and r["step"] in ("delete-nodegroups", "backup-live", "promote-new",
                                  "stop-service", "service-unit", "start-service", "recreate")]
    assert len(changing) == 7, changing
    every = records(journal)
    confirms = {r["step"]: r["mono"] for r in every if r["event"] == "confirm"}
    for start in changing:
        step = start["step"]
        # From the last word of another step on: this step's check began
        # after it (a check's facts records name no step).
        check = next(n for n, r in enumerate(every) if r["event"] == "check" and r["step"] == step)
        since = max(r["mono"] for r in every[:check] if r.get("step") not in (None, "", step))
        before = [at for at in looks if since <= at <= start["mono"]]
        assert before, f"{step}: no look at the claim before it started"
        assert not [at for at in before if at > confirms[step]], \
            f"{step}: its claim was looked at after its question, not beside its check"


async def test_unattended_a_take_over_while_an_earlier_attempt_is_waited_for_is_seen(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The look beside the check (above) is made after any wait for what an
    earlier attempt left running on the host, which may last minutes: made
    before it, a take-over during that wait went unseen and the step ran
    beside the colleague's run. Here the colleague takes the host while
    backup-live's wait for an earlier attempt lasts."""
    from runbook.executor import Executor

    settled = Executor._settled

    async def waits_while_taken(self: Executor[Any], step: Any) -> bool:
        if step.id == "backup-live":
            await colleague_takes_over(rehearsal_host, tmp_path / "colleague",
                                       cutover=self._claim.cutover)
        return await settled(self, step)

    monkeypatch.setattr(Executor, "_settled", waits_while_taken)
    await refused_at_backup_live_unattended(rehearsal_host, tmp_path)


async def test_unattended_a_take_over_during_a_long_check_is_seen(
        rehearsal_host: RehearsalHost, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 64: the look beside the check answered "this run's" at once, and
    was taken as the step started, however long the check had taken since:
    a check held up by a reconnect (the link dropped) let a colleague take
    the host meanwhile, and the step ran beside that run. An early answer
    stands only for a check that took no time to speak of."""
    import asyncio

    from runbook.executor import Executor

    looked_at = Executor._looked_at

    async def slow_check(self: Executor[Any], step: Any, ctx: Any) -> Any:
        if step.id == "backup-live":
            await asyncio.sleep(0.5)  # the early look has answered
            await colleague_takes_over(rehearsal_host, tmp_path / "colleague",
                                       cutover=self._claim.cutover)
            await asyncio.sleep(1.5)  # the check waits on (a reconnect, say)
        return await looked_at(self, step, ctx)

    monkeypatch.setattr(Executor, "_looked_at", slow_check)
    await refused_at_backup_live_unattended(rehearsal_host, tmp_path)


async def refused_at_backup_live_unattended(host: RehearsalHost, folder: Path) -> None:
    """A --yes rehearsal, the colleague taking the host as backup-live comes:
    the run stops there as a refusal does, nothing of backup-live sent."""
    journal = folder / "run.jsonl"
    settings = dataclasses.replace(rehearsal_settings(host), unattended=True)
    with pytest.raises(host_claim.HostClaimed) as refused:
        await rehearsal_session(host, journal, settings).run(ScriptedFrontEnd())
    assert "Nothing of backup-live was sent" in str(refused.value), refused.value
    assert acted(journal, "backup-live") == [], "backup-live did not start"
    assert (host.install_dir / "red5pro").is_dir()
