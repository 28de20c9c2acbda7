"""Faults on purpose: the failures an upgrade window can bring, rehearsed on cue.

``runbook rehearse --fault NAME[@STEP]`` arms a fault on the rehearsal host
just before STEP runs (after the operator said yes to it), so the step meets
it the way it would meet it in production. Each fault acts where it belongs:
the fake stream manager answers 500 or 401, starts slowly or not at all
(service.py); the fake cloud leaves origins short of in service (cloud.py);
the sudo shim refuses; the host's SFTP server runs out of disk or permission;
the new database goes away or stops taking the live login (databases.py);
the host's SSH key changes (host.py). The flags the other processes read are
files in the sandbox (``armed.py``).

A step-timed fault lasts for its step's first attempt: when the step has
failed it is lifted before the operator is asked what to do next, so a retry
(or the way back) shows what happens once the cause is fixed. A fault whose
step succeeded anyway is lifted before the next step. ``host-key-changed`` is
not lifted: the host keeps its new key until the operator trusts it.

The registry is plain data so ``--list-faults`` and the tests read the same
thing; it names steps by id only (the engine never imports the procedure), and
a test holds those ids to the procedure's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.config import Settings
from runbook.events import Event
from runbook.executor import Answer, Decision, FrontEnd, Outcome, Recovery
from runbook.model import StepReport
from runbook.rehearsal import armed, cloud
from runbook.session import Session

if TYPE_CHECKING:
    from runbook.model import Action
    from runbook.properties import Review
    from runbook.rehearsal.host import RehearsalHost

# Steps that talk to the Stream Manager API.
API_STEPS = ("preflight", "export-config", "delete-nodegroups", "start-service", "recreate",
             "rollback-nodegroups", "rollback-start", "rollback-recreate")
# Steps that run commands on the host (sudo for anything of root's) or write
# files over SFTP: every step but the API-only ones.
HOST_STEPS = ("preflight", "new-database", "upload", "unpack", "cloud-controller",
              "strip-autoscale", "carry-over", "properties", "schema", "backup-live",
              "promote-new", "stop-service", "service-unit", "start-service",
              "rollback-stop-new", "rollback-set-aside", "rollback-restore", "rollback-unit",
              "rollback-start")
# Steps that reach the new database, directly or through the new stream
# manager's start.
DATABASE_STEPS = ("new-database", "schema", "start-service")
# How much longer than start-service's wait a slow start takes: each start
# outlasts the wait, the restart start-service makes after it too.
SLOW_START_FACTOR = 2.0


class FaultError(ValueError):
    """A --fault the rehearsal cannot arm; ``str()`` is one line for the operator."""


@dataclass(frozen=True)
class Context:
    """What arming a fault may touch."""

    host: RehearsalHost
    settings: Settings

    @property
    def sandbox(self) -> Path:
        return self.host.sandbox


Act = Callable[[Context, str], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    """A failure the rehearsal host can bring about, for the operator to practise."""
    name: str
    rehearses: str  # what it rehearses, in the operator's words
    how: str  # how the rehearsal host brings it about
    steps: tuple[str, ...]  # where @STEP may point; () when it is not step-timed
    default: str | None  # the step it hits without @STEP; None: @STEP is required
    arm: Act
    lift: Act | None = None  # None: it stays (or ends by itself)
    # A method the host must have for this fault (another part of the host
    # may not provide it yet).
    needs: str | None = None

    @property
    def timed(self) -> bool:
        return bool(self.steps)

    def usage(self) -> str:
        if not self.timed:
            return self.name
        return f"{self.name}@STEP" if self.default is None else f"{self.name}[@STEP]"


# --- how each fault is brought about -----------------------------------------------


def _flag(name: str, **params: Any) -> Act:
    async def arm(ctx: Context, step: str) -> None:
        armed.arm(ctx.sandbox, name, step=step, **params)
    return arm


def _unflag(name: str) -> Act:
    async def lift(ctx: Context, step: str) -> None:
        armed.lift(ctx.sandbox, name)
    return lift


async def _slow_start(ctx: Context, step: str) -> None:
    limit = ctx.settings.timeouts.service_start
    armed.arm(ctx.sandbox, "slow-start", step=step, delay=round(limit * SLOW_START_FACTOR, 1))


async def _database_down(ctx: Context, step: str) -> None:
    await ctx.host.databases.new.stop()


async def _database_up(ctx: Context, step: str) -> None:
    await ctx.host.databases.new.launch(*ctx.host.new_db)


async def _wrong_password(ctx: Context, step: str) -> None:
    user, _password = ctx.host.db_account
    await ctx.host.databases.new.set_password(user, secrets.token_urlsafe(18))


async def _right_password(ctx: Context, step: str) -> None:
    await ctx.host.databases.new.set_password(*ctx.host.db_account)


async def _origins_stuck(ctx: Context, step: str) -> None:
    armed.arm(ctx.sandbox, "origins-stuck", step=step)


async def _origins_free(ctx: Context, step: str) -> None:
    armed.lift(ctx.sandbox, "origins-stuck")
    await asyncio.to_thread(cloud.unstick, ctx.sandbox)


async def _new_host_key(ctx: Context, step: str) -> None:
    await ctx.host.change_host_key()


async def _ssh_drop(ctx: Context, step: str) -> None:
    # The host's drop comes with SSH reconnection; parse() refuses the fault
    # on a host without it.
    drop: Callable[..., None] | None = getattr(ctx.host, "arm_ssh_drop", None)
    if drop is None:
        raise FaultError("this rehearsal host cannot drop its SSH connection on cue")
    # In the first command that changes the host (operator trial: a drop in
    # a look before the move changed nothing and was simply looked at again);
    # for the upload, half way through sending the distribution, as its
    # listing says (trial: it landed in the mkdir before any byte went).
    if step == "upload":
        drop(step, in_a_write=True, skip=ctx.host.distribution.stat().st_size // 2)
    else:
        drop(step, in_a_change=True)


FAULTS: dict[str, Fault] = {f.name: f for f in (
    # Said as what it does (facts audit 60b, L7): a stopped server refuses
    # at once; a security group drops, and the client waits out its
    # --connect-timeout=10 (shared/notes/mariadb.md section 5). A silent
    # listener would act that out, at ten seconds a look in every test of it.
    Fault("db-unreachable",
          "the new database server is down: the stream manager host's connections to it "
          "are refused at once. A security group that was never opened drops them "
          "instead; there each look first waits out the client's 10 s connect timeout",
          "the rehearsal's new database server is stopped; its address stays",
          DATABASE_STEPS, "new-database", _database_down, _database_up),
    Fault("db-auth-fails",
          "the new database refuses the live install's login (the user was not created "
          "with the live password)",
          "the login's password on the new database server is changed to another one",
          DATABASE_STEPS, "new-database", _wrong_password, _right_password),
    Fault("api-error",
          "the stream manager answers every API call with HTTP 500",
          "the fake stream manager (old or new, whichever runs) answers 500",
          API_STEPS, None, _flag("api-error"), _unflag("api-error")),
    Fault("token-rejected",
          "the stream manager refuses the API token (HTTP 401): the token given is not its "
          "rest.administratorToken",
          "the fake stream manager's admin filter refuses every token",
          API_STEPS, "preflight", _flag("token-rejected"), _unflag("token-rejected")),
    Fault("slow-start",
          "the new stream manager takes longer to start than start-service waits",
          f"each start of the fake stream manager loads its webapp {SLOW_START_FACTOR:g} "
          "times [timeouts] service_start late; under the unit's jsvc -wait 60, systemctl "
          "start waits for it and fails after jsvc's 70 s, as in production",
          ("start-service",), "start-service", _slow_start, _unflag("slow-start")),
    Fault("start-fails",
          "the new server does not stay up: it stops over its LICENSE.KEY, the first "
          "thing Red5's docs have you check when the service fails to start",
          "the fake server logs a licence error and exits at start",
          ("start-service",), "start-service", _flag("start-fails"), _unflag("start-fails")),
    Fault("disk-full",
          "the host's disk fills up while files are written to it",
          "the host's SFTP server writes half of the next block, then answers Failure, "
          "as OpenSSH's does for a full disk",
          ("upload", "carry-over", "properties"), "upload", _flag("disk-full"),
          _unflag("disk-full")),
    Fault("host-key-changed",
          "the host answers SSH with a key known_hosts does not trust (a reinstalled host, "
          "or someone in between)",
          "the host gets a new SSH key before the run connects; the rehearsal's "
          "known_hosts (SANDBOX/.rehearsal/known_hosts) keeps trusting the old one, and the "
          "host's own is SANDBOX/.rehearsal/ssh_host_ed25519_key.pub",
          (), None, _new_host_key),
    Fault("origins-stuck",
          "recreated origins never reach inservice (a bad node image, no cloud capacity)",
          "the fake cloud keeps the origins launched meanwhile in the running state (they go "
          "on once the fault is lifted); the step waits [timeouts] origins_inservice for them, "
          "or until you stop it (x)",
          ("recreate", "rollback-recreate"), "recreate", _origins_stuck, _origins_free),
    Fault("permission-denied",
          "the host refuses the step's privileged commands and file writes (password-less "
          "sudo taken away, a file the SSH user may not write)",
          "the sudo shim answers 'a password is required' and the SFTP server refuses "
          "writes with Permission denied",
          HOST_STEPS, None, _flag("permission-denied"), _unflag("permission-denied")),
    Fault("ssh-drop",
          "the SSH connection is cut while the step's first command that changes the host "
          "runs (for upload, while the file is sent)",
          "the rehearsal host drops the connection when that command starts, so its end "
          "is not known",
          HOST_STEPS, None, _ssh_drop, needs="arm_ssh_drop"),
)}


# --- what the operator asked for ------------------------------------------------------


@dataclass(frozen=True)
class Requested:
    """A fault asked for on the command line, and the step it is timed to."""
    fault: Fault
    step: str | None  # None: not step-timed

    def __str__(self) -> str:
        return self.fault.name if self.step is None else f"{self.fault.name}@{self.step}"


def parse(values: Sequence[str], host_type: type[Any] | None = None) -> list[Requested]:
    """The faults ``--fault`` names, each checked; FaultError says what is wrong.

    ``host_type``: the rehearsal host class, asked whether it can do what a
    fault needs."""
    found: list[Requested] = []
    for value in values:
        name, at, step = value.partition("@")
        fault = FAULTS.get(name)
        if fault is None:
            raise FaultError(f"--fault {value}: there is no fault {name!r}; choose one of "
                             f"{', '.join(FAULTS)} (--list-faults says what each does)")
        if fault.needs and host_type is not None and not hasattr(host_type, fault.needs):
            raise FaultError(f"--fault {value}: this rehearsal host cannot bring about "
                             f"{name} yet ({fault.needs} is missing); leave it out")
        if not fault.timed:
            if at:
                raise FaultError(f"--fault {value}: {name} takes no @STEP; it is in place "
                                 "before the run connects")
            chosen = None
        elif not at:
            if fault.default is None:
                raise FaultError(f"--fault {value}: {name} needs @STEP, one of "
                                 f"{', '.join(fault.steps)}")
            chosen = fault.default
        elif step not in fault.steps:
            raise FaultError(f"--fault {value}: {name} cannot hit {step or 'an empty step'}; "
                             f"it can hit {', '.join(fault.steps)}")
        else:
            chosen = step
        asked = Requested(fault, chosen)
        if asked not in found:
            found.append(asked)
    return found


def listing() -> list[str]:
    """What ``--list-faults`` prints: each fault, what it rehearses, where it hits."""
    lines = [
        "A fault is armed as its step starts (once you have said run) and lifted when the "
        "step has failed, so trying again or rolling back shows the way on; host-key-changed "
        "stays until known_hosts trusts the new key.",
        "",
    ]
    for fault in FAULTS.values():
        lines.append(f"{fault.usage()}: {fault.rehearses}")
        if not fault.timed:
            lines.append("    when: before the run connects")
        else:
            default = f" (default {fault.default})" if fault.default else ""
            lines.append(f"    steps: {', '.join(fault.steps)}{default}")
        lines.append(f"    how: {fault.how}")
    return lines


# --- arming them as the run goes ---------------------------------------------------------


@dataclass
class FaultSwitch:
    """Arms the requested faults on the host as their steps come up, and lifts them."""

    host: RehearsalHost
    requested: list[Requested]
    settings: Settings
    fired: list[Requested] = field(default_factory=list)
    _armed: list[Requested] = field(default_factory=list)

    @property
    def _context(self) -> Context:
        return Context(self.host, self.settings)

    async def at_start(self) -> None:
        """The faults that are in place before the run connects."""
        for asked in self.requested:
            if not asked.fault.timed:
                await self._arm(asked)

    async def before(self, step_id: str) -> None:
        """The operator said run: lift what earlier steps left armed, arm this
        step's faults (each once)."""
        for asked in [a for a in self._armed if a.step != step_id]:
            await self._lift(asked)
        for asked in self.requested:
            if asked.step == step_id and asked not in self.fired:
                await self._arm(asked)

    async def after_failure(self, step_id: str) -> None:
        """The step failed: lift its faults before anyone decides what next."""
        for asked in [a for a in self._armed if a.step == step_id]:
            await self._lift(asked)

    async def lift_all(self) -> None:
        for asked in list(self._armed):
            await self._lift(asked)

    async def _arm(self, asked: Requested) -> None:
        self.fired.append(asked)
        await asked.fault.arm(self._context, asked.step or "")
        if asked.fault.lift is not None:
            self._armed.append(asked)

    async def _lift(self, asked: Requested) -> None:
        self._armed.remove(asked)
        if asked.fault.lift is not None:
            await asked.fault.lift(self._context, asked.step or "")

    def wrap(self, front: FrontEnd) -> FrontEnd:
        return _Tap(front, self)

    def tapped(self, session: Session[Any]) -> Session[Any]:
        """The session, with every front end it is run with tapped by this switch."""
        return _TappedSession(session, self)


class _Tap:
    """A front end in front of the operator's: it arms a step's faults once the
    operator has said run, and lifts them when the step has failed."""

    def __init__(self, front: FrontEnd, switch: FaultSwitch) -> None:
        self.front = front
        self.switch = switch

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        decision = await self.front.confirm(step, plan)
        if decision.answer is Answer.RUN:
            await self.switch.before(step.id)
        return decision

    def tell(self, event: Event) -> None:
        self.front.tell(event)

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        return await self.front.review(step_id, review, decisions_path=decisions_path)

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        await self.switch.after_failure(step.id)
        return await self.front.recover(step, can_roll_back=can_roll_back)


class _TappedSession(Session[Any]):
    """The session runbook.cli built, run through a FaultSwitch's tap.

    Only ``run`` differs (the TUI and the headless prompt both hand their
    front end to it). Every other attribute is the built session's own, read
    and written there, so whoever holds the built session (the signal handler
    that detaches it, say) sees the run this one starts."""

    def __init__(self, built: Session[Any], switch: FaultSwitch) -> None:
        vars(self)["_built"] = built
        vars(self)["_switch"] = switch

    def __getattr__(self, name: str) -> Any:
        return getattr(vars(self)["_built"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(vars(self)["_built"], name, value)

    async def run(self, front: FrontEnd) -> Outcome:
        switch: FaultSwitch = vars(self)["_switch"]
        return await super().run(switch.wrap(front))
