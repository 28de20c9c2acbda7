"""start-service, and the way back's start (steps/rollback.py StartOld): start a
release's service and prove that the stream manager answering is that release.

Its check finds the service stopped (the run starts it), serving (done), or
running and not serving: then it names the reason to restart it
(Red5Facts.restart_reason), or finds it still booting. Its run starts or
restarts the service and waits for the API (_ApiWait), looking meanwhile at
what says that waiting will not help: red5.log, the new database, systemd
(steps/service_looks.py reads the host). A start that fails shows red5.log's
last lines and says what to do next."""

from __future__ import annotations

import math
import re
import time
from typing import Any, Literal, NamedTuple, NoReturn, TypeAlias

from runbook.model import (
    SERVICE_ANSWERED,
    Action,
    Check,
    Note,
    Phase,
    Shell,
    Wait,
)
from runbook.shell import quote
from runbook.smapi import (
    NoApiServed,
    Redirected,
    SMApiError,
)
from runbook.step import StepFailed
from steps import red5
from steps.common import (
    folder_id,
    install_version,
    java_processes,
    known_answer,
    live_dir,
    mask_licences,
    new_tree,
    old_tree,
    root,
    running_from,
    together,
)
from steps.facts import AnyContext, Ctx, Plan, Red5Step, RestartReason
from steps.service_looks import (
    ControllerClassNotFound,
    NewDatabaseUnusable,
    UsesAnotherDatabase,
    active_controller_class,
    database_host_unset,
    log_may_name_the_database,
    log_names_a_class_not_found,
    log_size,
    logs_the_database,
    look_at_the_database,
    look_at_the_file,
    prove_the_file_names_the_new_database,
    raise_if_the_class_not_found,
    seconds_running,
    start_limit_ran_out,
    the_file_names_the_new_database,
    written_since_it_started,
)
from steps.waiting import POLL_S, GaveUp, wait_until

# --- which release serves: the new one, or the old one on the way back --------

# Which release a step serves: the new one (the way forward) or the old one
# (the way back, steps/rollback.py).
Side: TypeAlias = Literal["new", "old"]


def _other_side(side: Side) -> Side:
    return "old" if side == "new" else "new"


async def _tree_of(ctx: Ctx, side: Side) -> str | None:
    return await (new_tree if side == "new" else old_tree)(ctx)


def release_of(ctx: Ctx, side: Side) -> str | None:
    """The release installed on `side`."""
    return ctx.facts.new_version if side == "new" else ctx.facts.live_version


def api_version_of(p: AnyContext, side: Side) -> str | None:
    """The API version the release on `side` serves."""
    return expected_api_version(p) if side == "new" else old_api_version(p)


def expected_api_version(p: AnyContext) -> str | None:
    """The API version the new release serves: the config's word, else Red5's table."""
    return p.settings.new_api_version or red5.api_version(p.facts.new_version)


def old_api_version(p: AnyContext) -> str | None:
    """The API the old release serves: Red5's table's (FACTS section 2.1),
    else the version preflight heard where the table names none. Not what
    preflight heard first: an earlier run's preflight heard another stream
    manager's 4.0 from a 6.2.0 install, and the way back then took "a process
    runs from the old install" and "API 4.0 answers" for the old release
    answering (trial 54)."""
    return red5.api_version(p.facts.live_version) or p.facts.api_version


async def servers_of(ctx: Ctx, side: Side) -> tuple[list[int], list[int]]:
    """PIDs running from the other install and from `side`'s, from one
    listing: each listing is a root shell walking /proc, in the downtime."""
    other, tree = await _tree_of(ctx, _other_side(side)), await _tree_of(ctx, side)
    listing = await java_processes(ctx)
    return ([proc.pid for proc in running_from(listing, other)],
            [proc.pid for proc in running_from(listing, tree)])


def other_runs(side: Side, pids: list[int]) -> Check:
    """The other side's server runs: on the way back, the new release's
    (review: the check called it the old server)."""
    return Check(False, f"the {_other_side(side)} server (pid {', '.join(map(str, pids))}) "
                 "still runs")


async def serving_proof(ctx: Ctx, api: Any, side: Side) -> Check:
    """The answering stream manager `api` is the release on `side`: nothing
    runs from the other install, something runs from this one, the live
    folder is this tree, and the API speaks this release's version."""
    (other, ours), live = await together(servers_of(ctx, side),
                                         folder_id(ctx, live_dir(ctx)))
    if other:
        return other_runs(side, other)
    tree = await _tree_of(ctx, side)
    if tree is None or live != tree:
        return Check(False, f"{live_dir(ctx)} is not the {side} release")
    if not ours:
        return Check(False, f"no java process runs from the {side} install")
    want = api_version_of(ctx, side)
    if want is not None and api.version != want:
        return Check(False, f"the API answering speaks {api.version}; Red5 Pro "
                     f"{release_of(ctx, side)} speaks {want}")
    return Check(True, f"API {api.version} answers from the {side} install "
                 f"({release_of(ctx, side)})")


# --- how long start-service waits, and for what -------------------------------

# How often a wait for the API also asks systemd whether the service still
# runs: a server that exits as it boots is seen within this, not at the limit.
_SYSTEMD_EVERY_S = 0.25


# The lines of `systemctl status` that describe the unit rather than say why
# it failed; what is left is systemd's (or the journal's) reason.
_STATUS_HEADERS = ("●", "×", "Loaded:", "Active:", "Main PID:", "Docs:", "Process:", "Tasks:",
                   "Memory:", "CPU:", "CGroup:", "Warning:", "Drop-In:", "TriggeredBy:")


# How long the new release's API may stay silent before the new database is
# looked at once, from the host as the new release reaches it.
_DATABASE_LOOK_AFTER_S = 10.0
# After it, how often red5.log is looked at until it names the database its
# webapp uses (a root shell each time, in the downtime), where it can say
# something the file did not (service_looks.log_may_name_the_database).
_LOG_EVERY_S = 2.0


# How long the API may answer 404 before start-service gives up on it. A Red5
# server opens its HTTP port only after Tomcat has started its webapps' contexts
# (5.1.1's log: the ProtocolHandler starts after the streammanager context; Tomcat
# starts its connectors after its container), so the container's 404 means the
# webapp failed, and waiting does not mend it. Not at once: that 6.2 and later
# start in the same order is inferred (data README), and a release that mapped
# its API a little after opening its port would answer within seconds; and the
# new database is looked at first (_DATABASE_LOOK_AFTER_S), which names an
# unreachable one in its own words. 20 s against the two whole limits and a
# restart (10 minutes by default) a failed webapp was waited out before.
_NOT_LOADED_AFTER_S = 20.0


# --- what a look finds, and what ends a wait short ----------------------------

class _ApiAnswer(NamedTuple):
    """The API answering, and what it answered first: its cloud controller
    (asked once; the step records it and refuses the Dummy by it)."""

    api: Any
    controller: str


class _Before(NamedTuple):
    """What start-service looked at before its start: how long a service an
    earlier attempt started has run (0: none, or restarted), whether the
    new install's file names the new database, and red5.log's size (None:
    not known where this start's lines begin)."""

    waited: int
    file_proven: bool
    log_offset: int | None


# What start-service's check finds of a service that runs: the reason to
# restart it (None: none) and the check's answer.
_Found: TypeAlias = "tuple[RestartReason | None, Check]"


class _TokenRefused(StepFailed):
    """The stream manager a service step started answers HTTP 401 to the token."""


class _NoControllerNamed(SMApiError):
    """The API answered its cloud-controller question HTTP 200 with an empty
    body: up, and naming no controller. What that means no source says (FACTS
    lists only the names it answers; data README), so it is said as it is and
    waited on, as any answer that is not a controller's name (review K2, K1:
    it was waited on in silence)."""

    def __init__(self) -> None:
        super().__init__("HTTP 200 to GET admin/debug/cloudcontroller, with an empty body "
                         "where the controller's name belongs", 200)


class _ServiceEnded(Exception):
    """systemd says the service is gone while start-service waits for it."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class _WebappNotLoaded(Exception):
    """The server answers, and its API has answered 404 for _NOT_LOADED_AFTER_S:
    the streammanager webapp did not load."""


# --- what start-service says --------------------------------------------------

# What the plan says of why the service is restarted, unless its API answers
# by the time the operator confirms (FILE_CHANGED_SINCE_START: at once).
_WHY_RESTARTED = {
    RestartReason.TOKEN_REFUSED: "the service refuses the API token, and it reads its "
                                 "rest.administratorToken only as it starts",
    RestartReason.WEBAPP_NOT_LOADED: "the service runs and its streammanager webapp did not "
                                     "load (its API answers HTTP 404), which only a restart "
                                     "changes",
    # Inferred, not in the sources (data README): a webapp that failed to
    # load is not known to retry on its own.
    RestartReason.STARTED_WITHOUT_DATABASE: "the service started while its database could "
                                            "not be reached, and its webapp is not known to "
                                            "load later without a restart",
    RestartReason.HUNG: "the service has run longer than the limit without its API answering",
}


# What the exit lines say of the release's service (Red5Facts.left_running,
# or way_back_left_running for the old one), as its start step last looked,
# or could not look.
def _left_running_not_known(side: str, step: str) -> str:
    return f"whether the {side} release's service runs is not known: {step} ended before it looked"


def _left_running_unanswering(side: str) -> str:
    return f"the {side} release's service runs and does not serve"


def _while_it_boots(error: SMApiError) -> str:
    """What the API answered, said while the service boots. A refused
    connection is a boot under way; a 404 is not: a Red5 server opens its
    HTTP port only once Tomcat has started its webapps, so the container's
    404 means the streammanager webapp did not load (facts audit 59b, H1: the
    rehearsal's answered 404 while loading, and this said "as while the
    webapp loads")."""
    if error.status == 404:
        where = f" at {error.where}" if isinstance(error, NoApiServed) else ""
        return (f"the server answers{where}, but serves no Stream Manager API (HTTP 404): its "
                "streammanager webapp did not load (while a server boots, its port refuses "
                "connections)")
    return str(error)


def _failing_since_its_first_500(errors: list[SMApiError]) -> bool:
    """From its first HTTP 500 of a wait (`errors`) to the end, the API
    answered 500 alone: the webapp is up and failing, which more time is
    unlikely to mend (trial: 500s for both whole waits, then advice to give
    it longer). Before it, a refused connection or a 404 is a server still
    deploying; 502-504, a proxy's or the same."""
    answers = [error.status for error in errors if error.status]
    return 500 in answers and set(answers[answers.index(500):]) == {500}


def _too_slow(why: str, log: str, unit: str, limit: red5.StartLimit, took: float) -> str:
    """A start that ran into `limit` after `took` seconds, its log showing
    no error: the server was still loading, and what to raise."""
    return (f"{why}. The start took {took:.0f}s: the server was still loading when "
            f"{limit.words}, so systemd stopped it. {log} shows no error (its last lines "
            "are above): the release starts too slowly for that limit, and a retry waits "
            f"no longer. Nothing runs now. {_what_to_raise(unit, limit)} and run systemctl "
            "daemon-reload, or find what slows the start; then try the step again")


def _what_to_raise(unit: str, limit: red5.StartLimit) -> str:
    """The setting of `unit` that lets a slow start finish, as `limit` says
    which ended it."""
    if limit.by_systemd:
        # Raising -wait alone would not help: systemd ends it first.
        return (f"Raise TimeoutStartSec past jsvc's {limit.jsvc_s} s, in {unit} "
                "or the drop-in that sets it (systemctl cat red5pro shows which)")
    if math.isinf(limit.systemd_s):
        return f"Raise -wait in {unit} (jsvc waits {limit.jsvc_s} s for -wait {limit.wait})"
    # jsvc waits past its -wait; systemd's own limit must stay past that, or
    # it ends the start first (review 60c, F11).
    return (f"Raise -wait in {unit} (jsvc waits {limit.jsvc_s} s for -wait "
            f"{limit.wait}), keeping TimeoutStartSec ({limit.systemd_s:g} s"
            f"{'' if limit.systemd_set else ' by default'}) past jsvc's wait")


def _what_to_do_now(placeholder: str | None, *, go_on: str, runs: bool, not_loaded: bool,
                    failing: bool) -> str:
    """What a failed start's operator does next, after red5.log's line:
    `placeholder`, the file's config.dbHost left unset, said as such, and
    `go_on`, how the run goes on to the properties step (Settings.goes_on:
    a throwaway rehearsal has nothing to resume); `runs`,
    the service still runs; `not_loaded`, its API answered 404 (the webapp
    did not load); `failing`, its API answered only 500 at the end."""
    if placeholder is not None:
        # Neither a wait nor a restart mends it (re-trial: advice to try
        # again, or to give it longer, with the properties step skipped).
        return (f"{placeholder}: the new release has no database to use, which neither "
                f"waiting nor a restart mends. The properties step ports it: stop, then {go_on} "
                "and let that step run")
    if not_loaded and runs:
        return ("Waiting does not load it, nor is it known to load by itself: once the "
                "log's cause is fixed, try the step again, which restarts the service")
    if failing and runs:
        return ("The service runs, and its API answers HTTP 500: the webapp is up and "
                "failing, which more waiting is unlikely to mend. Once the log's cause is "
                "fixed, try the step again")
    if runs:
        return ("The service still runs without answering (it may still be loading): try "
                "the step again, which restarts it once more unless it answers by the time "
                "you confirm (a release slower than that needs a longer [timeouts] "
                "service_start)")
    return "Nothing runs now: once the log's cause is fixed, try the step again"


class StartService(Red5Step):
    id = "start-service"
    title = "Start the red5pro service"
    phase = Phase.CUTOVER
    # The service can die after this step (a crash during recreate's wait); a
    # resumed run looks again instead of trusting the journal.
    recheck_when_resumed = True
    summary = (
        "Starts the service with systemctl and waits until the Stream Manager API answers "
        "from the new install, speaking the new release's API version."
    )
    # Which release must answer (StartOld: the old one).
    side: Side = "new"

    def plan(self, p: Plan) -> list[Action]:
        limit = p.settings.timeouts.service_start
        return [
            *self._start_planned(p),
            p.api_call("GET", "admin/debug/cloudcontroller", why="until it answers",
                       version=self._speaks(p)),
            Wait("the API to answer", limit),
            Shell(root(p, "systemctl restart red5pro"),
                  f"only if the service runs and its API has not answered within {limit:g}s: "
                  "once, then the same wait"),
        ]

    def _start_planned(self, p: Plan) -> list[Action]:
        """systemctl start, or restart with the reason the check found."""
        reason = p.facts.restart_reason
        if reason is None:
            return [Shell(root(p, "systemctl start red5pro"))]
        restart = Shell(root(p, "systemctl restart red5pro"))
        if reason is RestartReason.FILE_CHANGED_SINCE_START:
            # It answers already: "unless its API answers" would be no condition.
            return [Note(f"the service started before its {red5.PROPERTIES_NAME} "
                         "last changed, and reads its database there only as it starts: it "
                         "is restarted at once"), restart]
        # The reason the check found (operator trial: a start without the
        # database was said to have outlived the limit).
        return [Note(f"{_WHY_RESTARTED[reason]}: it is restarted at once, unless its API "
                     "answers by the time you confirm"), restart]

    # --- the check: does it serve, and if not, why restart it -----------------

    async def check(self, ctx: Ctx) -> Check:
        # Each look decides the reason to restart again, from what it finds.
        ctx.facts.restart_reason = None
        ctx.facts.scratch.serving_proved = None
        ctx.facts.scratch.token_fault_on = False  # a fault is armed only once it runs
        (other_pids, our_pids), active = await together(servers_of(ctx, self.side),
                                                         self._service_active(ctx))
        if other_pids:
            return other_runs(self.side, other_pids)
        if not active:
            self._record_left_running(ctx, None)  # stopped since (by hand, say)
            # Said: it decides, for a step left in doubt, between trying again
            # and the way back (re-trial: "not in place" alone).
            return Check(False, "the red5pro service does not run")
        # Looked: it runs (serving, it is cleared below). A reconnect's
        # look after a drop mid-start says so (review 59c L6).
        self._record_left_running(ctx, _left_running_unanswering(self.side))
        await self._prove_token(ctx)
        ctx.facts.restart_reason, found = await self._look_at_the_running_service(ctx, our_pids)
        return found

    async def _look_at_the_running_service(self, ctx: Ctx, our_pids: list[int]) -> _Found:
        """What the check finds of the service that runs from this install
        (`our_pids`): serving, or why it is to be restarted, or still booting."""
        errors: list[SMApiError] = []
        try:
            answer = await self._ask_api(ctx, errors)
        except _TokenRefused:
            if not await written_since_it_started(ctx, our_pids):
                raise  # a restart would read the same file: the step fails, saying why
            # It read its token as it started: only a restart reads the new one.
            return RestartReason.TOKEN_REFUSED, Check(
                False, "the service refuses the API token, and its "
                f"{red5.PROPERTIES_NAME} was written since it started")
        if answer:
            return await self._look_at_the_answering_service(ctx, answer, our_pids)
        return await self._look_at_the_silent_service(ctx, errors, our_pids)

    async def _look_at_the_answering_service(self, ctx: Ctx, answer: _ApiAnswer,
                                             our_pids: list[int]) -> _Found:
        """The API answers: done where it is this side's release, on the
        database its file names now."""
        proof = await serving_proof(ctx, answer.api, self.side)
        if not proof.done:
            return None, proof
        # It serves: what earlier starts met is mended, and a failure's "left
        # it running" is over (as _prove_and_record_serving has it).
        self._forget_earlier_starts(ctx)
        self._record_left_running(ctx, None)
        # Started by hand (a resumed run): a 6.2+ server logs no word of its
        # database, and one that answers on another would pass as the new
        # stream manager. A file put right while it ran is not what it read:
        # it may use the database the file named at its start (the operator
        # fixed the file and left it up).
        if self.side == "new" and \
                await prove_the_file_names_the_new_database(ctx, running=True) and \
                await written_since_it_started(ctx, our_pids):
            return RestartReason.FILE_CHANGED_SINCE_START, Check(
                False, "the service answers, but it started before its "
                f"{red5.PROPERTIES_NAME} last changed: it may use the database the file "
                "named then")
        self._record_found_serving(ctx, answer, proof)
        return None, proof

    def _record_found_serving(self, ctx: Ctx, answer: _ApiAnswer, proof: Check) -> None:
        """Found serving, the step does not run: what its run would record."""
        # Or the report has not heard the release it proved (operator trial:
        # a way back from before stop-service).
        if self.side == "new":
            ctx.facts.new_api_version = answer.api.version
        # Its controller is proved as a start's is (review 57c, H0: a resume
        # found another cloud's "done").
        self._note_answered(ctx, answer.api, version=release_of(ctx, self.side),
                            controller=answer.controller)
        self._refuse_the_wrong_controller(ctx, answer.controller)
        ctx.facts.scratch.serving_proved = (self.side, proof)

    async def _look_at_the_silent_service(self, ctx: Ctx, errors: list[SMApiError],
                                          our_pids: list[int]) -> _Found:
        """The API does not answer (`errors`: what it said instead): why the
        service is to be restarted, or, booting still, under way."""
        if self.side == "new" and await written_since_it_started(ctx, our_pids):
            # It read its database as it started, and the file has changed
            # since (review 56d F2): `systemctl start` would leave it on the
            # database it read, to answer there as the new stream manager.
            return RestartReason.FILE_CHANGED_SINCE_START, Check(
                False, "the service runs and its API does not answer yet, and it started "
                f"before its {red5.PROPERTIES_NAME} last changed: it may use the database "
                "the file named then")
        if ctx.facts.started_without_database:
            # It loaded without its database, which is back (or the step would
            # fail again): waiting is not known to bring its webapp up.
            return RestartReason.STARTED_WITHOUT_DATABASE, Check(
                False, "the service started while its database could not be reached")
        if errors and errors[-1].status == 404:
            # The port opens once the webapps have started: a 404 is a webapp
            # that did not load, not a boot (facts audit 59b, H1). Whatever
            # the cause (a controller's class not found, a bean key left out),
            # found here again, not kept from the failure that said it: only
            # a restart loads it (review 59c L1, one fact for one state).
            return RestartReason.WEBAPP_NOT_LOADED, Check(
                False, "the service runs, and its streammanager webapp did not load (its API "
                "answers HTTP 404)")
        # What it answers instead, said (re-trial: "does not answer yet"
        # alone, of a webapp that did not load).
        answered = f" ({str(errors[-1]).rstrip('.')})" if errors else ""
        age = await seconds_running(ctx, our_pids)
        if age is not None and age >= ctx.settings.timeouts.service_start:
            # Booting would have answered by now: a service that runs and does
            # not answer is hung, and starting it again changes nothing.
            return RestartReason.HUNG, Check(
                False, f"the service has run for {age}s and its API does not answer{answered}")
        # Running the step again starts nothing twice (systemctl start of a
        # running service does nothing) and waits out what is left of the limit.
        return None, Check(False, f"the service runs; its API does not answer yet{answered}",
                           under_way=True)

    # --- the run: start (or restart) it, and wait for its API -----------------

    async def run(self, ctx: Ctx) -> None:
        ctx.facts.scratch.left_running_looked = False
        # This attempt decides it again; until it has looked, not known
        # (review 59c L6: a drop mid-start left it as "nothing runs").
        self._record_left_running(ctx, _left_running_not_known(self.side, self.id))
        try:
            await self._start(ctx)
        except StepFailed:
            if not ctx.facts.scratch.left_running_looked:  # its failure did not say it
                await self._record_whether_it_runs(ctx)
            raise

    async def _start(self, ctx: Ctx) -> None:
        self._arm_the_rehearsals_token_fault(ctx)
        reason = ctx.facts.restart_reason
        errors: list[SMApiError] = []
        if reason is None:
            before = await self._look_before_starting(ctx)
        else:
            other_pids, our_pids = await servers_of(ctx, self.side)
            self._refuse_the_other_server(other_pids)
            # It runs: proven before its API is asked.
            await self._prove_token(ctx)
            if answer := await self._answering_after_all(ctx, reason, errors):
                # It came up while the question waited (operator trial: a slow
                # release restarted as it answered, and never lived out a limit).
                ctx.info("the API answers now, as it did not when the step was planned: the "
                         "service is not restarted")
                await self._prove_and_record_serving(ctx, answer)
                return
            before = await self._look_before_restarting(ctx, our_pids)
        answer = await self._start_and_wait(ctx, reason, before, errors)
        await self._prove_and_record_serving(ctx, answer)

    def _refuse_the_other_server(self, other_pids: list[int]) -> None:
        if other_pids:
            raise StepFailed(f"the {'old' if self.side == 'new' else 'new'} server (pid "
                             f"{', '.join(map(str, other_pids))}) still runs and answers on "
                             "the same port; stop it first")

    async def _look_before_starting(self, ctx: Ctx) -> _Before:
        """What systemctl start needs looked at first: the servers that run,
        and, asked at the same time, the database the new install's file
        names (each a round trip in the downtime, issue 12; the file's look
        does not depend on the servers, only what its failure says does).
        Judged in the order they were asked one after the other: the other
        server first, then the file, then the time look's own failure (review
        64: a size read cut off hid the file's refusal). Once both have ended
        (review R2)."""
        async def servers_then_their_time(
                ) -> tuple[list[int], list[int], int, int | None, Exception | None]:
            other, ours = await servers_of(ctx, self.side)
            if other:
                return other, ours, 0, None, None
            try:
                if ours:
                    # Started by an earlier attempt: it has had part of its
                    # time already, and has read its file (review 56d F2):
                    # where its start's lines begin in red5.log is not known.
                    return other, ours, await seconds_running(ctx, ours) or 0, None, None
                # What an earlier start logged is not this one's.
                return other, ours, 0, await log_size(ctx), None
            except Exception as failed:  # said after the file is judged
                return other, ours, 0, None, failed

        (other_pids, our_pids, waited, offset, late), looked = await together(
            servers_then_their_time(),
            look_at_the_file(ctx) if self.side == "new" else known_answer(None))
        self._refuse_the_other_server(other_pids)
        # A service found running has read its file (review 56d F2): the
        # mend is to stop it, as `systemctl start` leaves it as it is.
        file_proven = looked is not None and the_file_names_the_new_database(
            ctx, looked, running=bool(our_pids), answers=False)
        if late is not None:
            raise late
        return _Before(waited, file_proven, offset)

    async def _look_before_restarting(self, ctx: Ctx, our_pids: list[int]) -> _Before:
        """What systemctl restart needs looked at first: the database the
        file names, and red5.log's size, read with that look, not after it:
        each is a round trip in the downtime (issue 12)."""
        file_proven, offset = await together(
            prove_the_file_names_the_new_database(ctx, running=bool(our_pids), answers=False)
            if self.side == "new" else known_answer(False),
            log_size(ctx))
        return _Before(0, file_proven, offset)

    def _arm_the_rehearsals_token_fault(self, ctx: Ctx) -> None:
        """A rehearsal's token-rejected fault at this step is armed for its
        first run (as the operator says run) and lifted when it has failed."""
        first = self.id not in ctx.facts.scratch.runs_begun
        ctx.facts.scratch.runs_begun.add(self.id)
        ctx.facts.scratch.token_fault_on = first and ctx.settings.rehearsal and \
            f"token-rejected@{self.id}" in ctx.settings.rehearsal_faults

    async def _answering_after_all(self, ctx: Ctx, reason: RestartReason,
                                   errors: list[SMApiError]) -> _ApiAnswer | None:
        """The API, where it answers now and the restart was only for its
        silence. An answer is what the restart is for where the service read
        an older file: it is restarted all the same."""
        if reason is RestartReason.FILE_CHANGED_SINCE_START:
            return None
        return await self._ask_api_unless_refused(ctx, errors)

    async def _start_and_wait(self, ctx: Ctx, reason: RestartReason | None, before: _Before,
                              errors: list[SMApiError]) -> _ApiAnswer:
        """systemctl start (restart, for `reason`), then the API once it
        answers; the step fails, saying why, where it does not. `before`:
        what was looked at before it (_look_before_starting or _look_before_restarting)."""
        restarting = reason is not None
        limit = ctx.settings.timeouts.service_start
        # Before anything starts: nothing to undo. What an earlier start
        # logged is not this one's; found running, where its start's lines
        # begin is not known (None).
        ctx.facts.scratch.red5_log_start_offset = before.log_offset
        file_proven, waited = before.file_proven, before.waited
        await self._systemctl(ctx, "restart" if restarting else "start")
        # What an earlier attempt's start met is that start's: this one's
        # failure names its own cause (review 59c M2: a jar mended two
        # attempts before was still given as the reason to restart).
        self._forget_earlier_starts(ctx)
        if not restarting:  # started: proven before its API is asked
            await self._prove_token(ctx)
        return await self._wait_or_fail(ctx, max(limit - waited, POLL_S), errors,
                                        restarted=restarting, file_proven=file_proven)

    async def _systemctl(self, ctx: Ctx, verb: str) -> None:
        """systemctl start or restart; where systemd refuses, the step says what
        systemd said, as its own answer only points at `systemctl status`."""
        # Detached: systemd waits for jsvc to fork, which can take a while;
        # a lost connection must not leave the start half-known.
        began = time.monotonic()
        result = await ctx.sh(root(ctx, f"systemctl {verb} red5pro"), check=False, detach=True)
        if result.ok:
            return
        took = time.monotonic() - began
        status = await ctx.probe(root(ctx, "systemctl status red5pro 2>&1"))
        lines = [line.strip() for line in status.stdout.splitlines() if line.strip()]
        for line in lines:
            ctx.info(f"systemctl status: {line}")
        why = [line for line in lines if not line.startswith(_STATUS_HEADERS)][-1:] \
            or [result.last_error_line() or f"exit status {result.exit_status}"]
        failed = f"systemd could not {verb} red5pro: {why[0].rstrip('.')}"
        limit = await start_limit_ran_out(ctx, took)
        if limit is not None:
            # Still loading when jsvc's -wait, or systemd's start timeout,
            # ran out (review 59c L5, 60c F11): no cause in red5.log to send
            # the operator to.
            await self._fail_with_log(ctx, failed, too_slow=(limit, took))
        # Where the server itself ended (a unit with jsvc's -wait fails the
        # start when the JVM does, facts audit 59b M1), what it logged is why:
        # the same account as for a server that exits after the start.
        await self._fail_with_log(ctx, failed)

    async def _wait_or_fail(self, ctx: Ctx, limit: float, errors: list[SMApiError], *,
                            restarted: bool, file_proven: bool) -> _ApiAnswer:
        """The API once it answers within `limit` (restarting once a service
        this step started, not restarted, that runs silent that long); the
        step fails, saying why, where it does not."""
        try:
            answer, last_wait = await self._wait_restarting_once(
                ctx, limit, errors, restarted=restarted, file_proven=file_proven)
        except _ServiceEnded:
            # Not systemd's word for it pasted in (re-trial 57b: "the red5pro
            # service is failed"): the log's tail and "Nothing runs now" follow.
            await self._fail_with_log(ctx, "the red5pro service exited as it started")
        except _WebappNotLoaded:
            await self._fail_with_log(ctx, "the server answers, but its API has answered "
                                      f"HTTP 404 for {_NOT_LOADED_AFTER_S:g}s: the "
                                      "streammanager webapp did not load", not_loaded=True)
        except NewDatabaseUnusable as missing:
            ctx.facts.started_without_database = True
            raise StepFailed(f"the new release's API does not answer, and {missing}. "
                             f"{await self._what_runs_now(ctx)}") from None
        except UsesAnotherDatabase as wrong:
            # Restarted at once when tried again: it reads its file only as it starts.
            ctx.facts.started_without_database = True
            raise StepFailed(f"the new release's API does not answer, and {wrong}. "
                             f"{await self._what_runs_now(ctx)}") from None
        except ControllerClassNotFound as cannot:
            # Restarted at once when tried again: its webapp answers 404, which
            # the check finds (it loads its jars only as it starts).
            await self._fail_controller_class_missing(ctx, cannot)
        if not answer:
            await self._fail_unanswered(ctx, errors, last_wait)
        return answer

    async def _wait_restarting_once(self, ctx: Ctx, limit: float, errors: list[SMApiError], *,
                                    restarted: bool, file_proven: bool
                                    ) -> tuple[_ApiAnswer | None, int]:
        """The API once it answers (None: it did not), and where the last
        wait's answers begin in `errors`."""
        last_wait = len(errors)
        answer = await self._wait_for_api(ctx, limit, errors, file_proven=file_proven)
        if not answer and not restarted and await self._service_active(ctx):
            # Running and silent for the whole limit: a webapp that failed to
            # deploy (its database was unreachable at boot, say) is not known
            # to come back by waiting (inferred: data README). The plan the
            # operator confirmed says so.
            whole = ctx.settings.timeouts.service_start
            ctx.info(f"the service runs but its API has not answered in {whole:g}s: "
                     "restarting it once")
            ctx.facts.scratch.red5_log_start_offset = await log_size(ctx)
            await self._systemctl(ctx, "restart")
            last_wait = len(errors)
            answer = await self._wait_for_api(ctx, whole, errors, file_proven=file_proven)
        return answer, last_wait

    async def _wait_for_api(self, ctx: Ctx, limit: float, errors: list[SMApiError], *,
                            file_proven: bool = False) -> _ApiAnswer | None:
        """The API once it answers; None when the limit passes first.
        _ServiceEnded as soon as systemd says the service is gone: a server
        that exits as it boots (no license key, say) never answers; and the
        other reasons _ApiWait finds that waiting longer would not help."""
        wait = _ApiWait(self, ctx, errors, file_proven=file_proven)
        try:
            answer: _ApiAnswer = await wait_until(ctx, "the Stream Manager API", limit,
                                                  wait.look)
        except GaveUp:  # a refused token is said at once, not waited out (code review)
            return None
        return answer

    # --- the verify -----------------------------------------------------------

    async def verify(self, ctx: Ctx) -> Check:
        # What this process's run or check proved a moment ago, taken once:
        # it asked the API and the host what this would ask again.
        proved, ctx.facts.scratch.serving_proved = ctx.facts.scratch.serving_proved, None
        if proved is not None and proved[0] == self.side:
            return proved[1]
        answer = await self._ask_api(ctx, [])
        if not answer:
            return Check(False, "the API does not answer")
        return await serving_proof(ctx, answer.api, self.side)

    # --- the API, and the token it takes --------------------------------------

    def _speaks(self, p: AnyContext) -> str | None:
        return api_version_of(p, self.side)

    async def _prove_token(self, ctx: Ctx) -> None:
        """Before the API is asked: the token given is the serving install's.
        Nothing here on the way forward: this run's preflight proved [api]
        base_url and the token against the live file (the old one's or the
        new one's, resumed mid-cutover), and the properties step carries that
        token into the new file; the way back's start proves it (rollback)."""

    async def _ask_api(self, ctx: Ctx, errors: list[SMApiError]) -> _ApiAnswer | None:
        """The API and its cloud controller once it answers that; None while
        it does not (why, appended to `errors`)."""
        try:
            api = await ctx.api(fresh=True, old=self.side == "old", expecting=self._speaks(ctx))
            controller = await api.cloud_controller(as_settled=True)
            if not controller.strip():
                errors.append(_NoControllerNamed())  # said by the wait, as any other answer
                return None
            return _ApiAnswer(api, controller)
        except SMApiError as exc:
            if exc.status == 401:
                raise _TokenRefused(self._why_token_refused(ctx)) from None
            if isinstance(exc, Redirected):
                # Not one that passes as it boots: [api] base_url is to change.
                raise StepFailed(str(exc)) from None
            errors.append(exc)  # not up yet: keep waiting, remember why
            return None

    async def _ask_api_unless_refused(self, ctx: Ctx,
                                      errors: list[SMApiError]) -> _ApiAnswer | None:
        """The API if it answers, before a restart: a refusal of the token is
        what the restart is for."""
        try:
            return await self._ask_api(ctx, errors)
        except _TokenRefused:
            return None

    def _why_token_refused(self, ctx: Ctx) -> str:
        """What a 401 from the server this step started means: the token
        runbook was given is not the install's. Where this run's preflight
        saw the live stream manager take it, the file is wrong. Otherwise
        which of the two is wrong it cannot tell (a resumed run's preflight,
        mid-cutover with the service down, could not prove its token, nor has
        a way back one), and
        both mends are said (second review: a wrong token in a resumed run's
        shell was blamed on the file, and the healthy server restarted)."""
        back = "; or roll back to the old stream manager" if self.side == "new" else ""
        where = f"{live_dir(ctx)}/{red5.PROPERTIES}"
        if ctx.facts.scratch.token_fault_on:
            # Neither the file nor the token is wrong (a helper, stop 58: "is
            # not the live one's", of a file that was right).
            return (f"the {self.side} stream manager refuses the API token (HTTP 401): this "
                    f"rehearsal's fault token-rejected@{self.id} has it refuse every token, "
                    f"and is lifted once the step has failed. Try the step again{back}")
        if self.side == "new" and ctx.facts.scratch.token_taken:
            # This run's preflight saw the live stream manager take it (re-trial:
            # "if the file's is" read as a riddle where only the file can be).
            return (f"the new stream manager refuses the API token (HTTP 401) that the live "
                    f"one took at preflight: the rest.administratorToken in {where} is not "
                    "the live one's. Set it to the live one's and try the step again, which "
                    f"restarts the service so that it reads it{back}")
        if ctx.settings.sandboxed:
            # `runbook rehearse` gives its host's own token, the live install's:
            # none to give again, so no "quit and start runbook again" (a
            # resumed rehearsal, whose preflight heard no API, said it).
            return (f"the {self.side} stream manager refuses the API token (HTTP 401): the "
                    "rehearsal gives its host's own token, the live install's, so the "
                    f"rest.administratorToken in {where} is the one that differs. Set it to "
                    "the live install's and try the step again, which restarts the service "
                    f"so that it reads it{back}")
        return (f"the {self.side} stream manager refuses the API token runbook was given (HTTP "
                f"401): it is not the rest.administratorToken in {where}, and this run has "
                "not seen a stream manager take it. If the token is wrong, quit and start "
                "runbook again with the right one (it is read once, at the start; --resume "
                "goes on from here). If the token is right, set the file's to it and try the "
                f"step again, which restarts the service so that it reads it{back}")

    # --- on record: what serves, and what a failure leaves running ------------

    async def _prove_and_record_serving(self, ctx: Ctx, answer: _ApiAnswer) -> None:
        """The answering API is this step's release, put on record (for the
        verify that follows too); fails if not."""
        api, controller = answer
        ctx.facts.restart_reason = None
        self._forget_earlier_starts(ctx)
        self._record_left_running(ctx, None)
        # Looks at the host, together: each is a round trip in the downtime.
        proof, version = await together(serving_proof(ctx, api, self.side),
                                         install_version(ctx, live_dir(ctx)))
        if not proof.done:
            raise StepFailed(f"an API answers, but not the {self.side} release's: "
                             f"{proof.detail}")
        if self.side == "new":
            ctx.facts.new_api_version = api.version
        self._note_answered(ctx, api, version=version, controller=controller)
        self._refuse_the_wrong_controller(ctx, controller)
        ctx.facts.scratch.serving_proved = (self.side, proof)

    def _refuse_the_wrong_controller(self, ctx: Ctx, controller: str | None) -> None:
        """FACTS §5 waits for the expected controller: not the Dummy, which
        launches no node, and (operator trial 57) not another cloud's than
        the live one's, through which recreate would launch the fleet."""
        if controller is not None and controller.strip() == red5.DUMMY_ANSWER:
            raise StepFailed(f"the {self.side} stream manager runs the Dummy cloud controller "
                             f"(its API answers \"{red5.DUMMY_ANSWER}\"), which launches no "
                             "node: carry-over did not make the live install's controller "
                             "the active one")
        live, now = red5.cloud_of(ctx.facts.controller), red5.cloud_of(controller)
        if self.side == "new" and live and now and live != now:
            raise StepFailed(f"the new stream manager runs the {now} cloud controller (its API "
                             f"answers \"{controller}\"), where the live one ran {live}'s "
                             f"(\"{ctx.facts.controller}\"): recreate would launch the fleet "
                             "in the wrong cloud. The new install's applicationContext.xml or "
                             "its cloud-controller jar is another cloud's")

    def _note_answered(self, ctx: Ctx, api: Any, *, version: str | None,
                       controller: str | None) -> None:
        """On record: which release answers, for the report's "after" row."""
        release = f" ({version})" if version else ""
        said = f", cloud controller {controller}" if controller is not None else ""
        ctx.note(SERVICE_ANSWERED,
                 f"the stream manager answers from the {self.side} install {live_dir(ctx)}"
                 f"{release}: API {api.version}{said}",
                 install_version=version, api_version=api.version, controller=controller,
                 side=self.side)

    @staticmethod
    def _forget_earlier_starts(ctx: Ctx) -> None:
        """What earlier starts met (their causes), forgotten: a start made
        since, or found serving, has its own."""
        ctx.facts.started_without_database = ctx.facts.webapp_not_loaded = False

    async def _service_active(self, ctx: Ctx) -> bool:
        return (await ctx.probe(root(ctx, "systemctl is-active red5pro"))).ok

    async def _record_whether_it_runs(self, ctx: Ctx) -> bool:
        """Whether the service runs, as a failure of this step leaves it: on
        record (Red5Facts.left_running) for the exit lines, which say it
        while the stream manager is down (trial 58 L6: a release left up
        without its database, unsaid)."""
        runs = await self._service_active(ctx)
        ctx.facts.scratch.left_running_looked = True
        self._record_left_running(ctx, f"the {self.side} release's service runs: {self.id} "
                                  "failed and left it running" if runs else None)
        return runs

    def _record_left_running(self, ctx: Ctx, said: str | None) -> None:
        """What the exit lines say this step's failure left running: the new
        release's while the stream manager is down; the old one's, started by
        the way back, beside where the way back stands (trial 61, F1: only
        "the last rollback-unit", as if nothing had been started)."""
        if self.side == "new":
            ctx.facts.left_running = said
        else:
            ctx.facts.way_back_left_running = said

    async def _what_runs_now(self, ctx: Ctx) -> str:
        """What runs as this step fails, said at the end of its failure."""
        if await self._record_whether_it_runs(ctx):
            return f"The {self.side} release's service runs meanwhile, its API not answering"
        return "Nothing runs now"

    # --- failing, with what red5.log says -------------------------------------

    async def _fail_unanswered(self, ctx: Ctx, errors: list[SMApiError],
                               last_wait: int) -> NoReturn:
        """Fail for an API that never answered (`errors[last_wait:]`: what it
        said instead in the last wait)."""
        last = str(errors[-1]) if errors else "no answer at all"
        await self._fail_with_log(ctx, "gave up after waiting for the Stream Manager API "
                                  f"(last answer: {last})",
                                  failing=_failing_since_its_first_500(errors[last_wait:]))

    async def _fail_with_log(self, ctx: Ctx, why: str, *, failing: bool = False,
                             not_loaded: bool = False,
                             too_slow: tuple[red5.StartLimit, float] | None = None
                             ) -> NoReturn:
        """Fail, showing the end of the service log: what the server said is
        usually why, and the operator should not have to go and look.
        `too_slow`: the limit the start ran into (jsvc's -wait or systemd's
        start timeout) and how long it took, where it ran out with no error
        in the log."""
        log = f"{live_dir(ctx)}/{red5.SERVICE_LOG}"
        said = await self._show_the_logs_end(ctx, log)
        back = ", or roll back to the old stream manager" if self.side == "new" else ""
        runs = await self._record_whether_it_runs(ctx)
        placeholder = await database_host_unset(ctx) if self.side == "new" else None
        if placeholder is None and too_slow is not None and not runs:
            # No line of the log quoted: its last is the stop systemd asked
            # for, which an operator read as the cause (trial 60, F14).
            raise StepFailed(_too_slow(why, log, ctx.settings.unit_file, *too_slow) + back)
        now = _what_to_do_now(placeholder, go_on=ctx.settings.goes_on, runs=runs,
                              not_loaded=not_loaded, failing=failing)
        raise StepFailed(f"{why}; {log} ends with: {said}. {now}{back}")

    async def _show_the_logs_end(self, ctx: Ctx, log: str) -> str:
        """Show red5.log's last lines; the one to quote (its last ERROR line,
        else its last line; '(nothing)' where it has none)."""
        # Whichever run this is (a resumed one, the way back alone), the key
        # the server wrote near the top of its log is masked before it shows.
        await mask_licences(ctx, live_dir(ctx))
        tail = await ctx.probe(root(ctx, f"tail -n 15 -- {quote(log)}"))
        lines = [line for line in tail.stdout.splitlines() if line.strip()]
        for line in lines:
            ctx.info(f"{red5.SERVICE_LOG}: {line}")
        said = [line for line in lines if " ERROR " in line][-1:] or lines[-1:]
        return said[0] if said else "(nothing)"

    async def _fail_controller_class_missing(self, ctx: Ctx,
                                             cannot: ControllerClassNotFound) -> NoReturn:
        """Fail at once for a webapp whose controller class was not found:
        the log's line, and where the jar goes."""
        await mask_licences(ctx, live_dir(ctx))  # before the log's line shows
        lib = f"{live_dir(ctx)}/{red5.LIB}"
        back = "; or roll back to the old stream manager" if self.side == "new" else ""
        runs = ("The service runs, its API not answering"
                if await self._record_whether_it_runs(ctx) else "Nothing runs now")
        raise StepFailed(
            f"the {self.side} release's webapp did not load, and neither waiting nor a restart "
            f"mends it: {live_dir(ctx)}/{red5.SERVICE_LOG} says {cannot.line}. {runs}. Put the "
            f"cloud controller jar that holds {cannot.bean} in {lib}, then try the step again, "
            f"which restarts the service{back}")


class _ApiWait:
    """One wait of start-service for its release's API. Each look asks the
    API; as the wait goes on, it also looks at what can tell, long before the
    limit, that waiting will not help: red5.log, the new database, systemd.
    It keeps what those looks found, and when each last looked."""

    def __init__(self, step: StartService, ctx: Ctx, errors: list[SMApiError], *,
                 file_proven: bool) -> None:
        self.step, self.ctx, self.errors = step, ctx, errors
        self.began = time.monotonic()
        # When systemd was last asked whether the service still runs.
        self.systemd_asked = -_SYSTEMD_EVERY_S
        # What the API answered instead, each said once.
        self.said: set[str] = set()
        self.database_looked = step.side != "new"  # the way back's old release uses the old one
        self.read_log = not self.database_looked and \
            log_may_name_the_database(ctx, file_proven=file_proven)
        # The new database's login, once looked at; until the red5.log of this
        # start names the database it uses, it is looked at again (a server
        # logs it as its webapp loads, which can be later than the first look).
        self.new_database: Any = None
        self.log_looked = 0.0
        # When red5.log was last read for a start that cannot succeed; only a
        # start runbook made, whose lines it knows where to find. Not at
        # once: a boot that answers within the first look reads nothing.
        self.class_looked = self.began
        # The active bean's class, once read (where red5.log first names a
        # class not found): None where applicationContext.xml names none.
        self.controller_class_read = False
        self.controller_class: str | None = None
        self.not_found_since: float | None = None  # the first of the 404s heard in a row

    async def look(self) -> _ApiAnswer | None:
        """The API once it answers; None while it does not (what it said
        instead is appended to the step's errors)."""
        before = len(self.errors)
        found = await self.step._ask_api(self.ctx, self.errors)
        if found:
            return found
        # Only what this look heard: an answer of before the restart is not now's.
        heard = self.errors[-1] if len(self.errors) > before else None
        if heard is not None and heard.status == 404:
            self.not_found_since = self.not_found_since or time.monotonic()
        elif heard is not None:
            self.not_found_since = None
        await self._look_for_the_controller_class_not_found()
        await self._look_at_the_database_in_use()
        self._say_what_it_answers(heard)
        if self.not_found_since is not None and \
                time.monotonic() - self.not_found_since >= _NOT_LOADED_AFTER_S:
            raise _WebappNotLoaded
        await self._ask_systemd()
        return None

    async def _look_for_the_controller_class_not_found(self) -> None:
        """ControllerClassNotFound, every _LOG_EVERY_S, where red5.log says
        the active bean's class was not found. Until the bean is known, only
        whether any such line is there: applicationContext.xml is read once
        one is."""
        ctx = self.ctx
        if ctx.facts.scratch.red5_log_start_offset is None or \
                time.monotonic() - self.class_looked < _LOG_EVERY_S:
            return
        self.class_looked = time.monotonic()
        if not self.controller_class_read:
            if not await log_names_a_class_not_found(ctx):
                return
            self.controller_class = await active_controller_class(ctx)
            self.controller_class_read = True
        if self.controller_class is not None:
            await raise_if_the_class_not_found(ctx, self.controller_class)

    async def _look_at_the_database_in_use(self) -> None:
        """Once the API has been silent _DATABASE_LOOK_AFTER_S, the new
        database is looked at (NewDatabaseUnusable, UsesAnotherDatabase);
        then, every _LOG_EVERY_S, red5.log, until it names the new one."""
        if not self.database_looked and time.monotonic() - self.began >= _DATABASE_LOOK_AFTER_S:
            # A release that cannot reach its database does not come up by
            # waiting, nor by a restart (operator trial: two whole waits).
            self.database_looked = True
            self.new_database = await look_at_the_database(self.ctx, read_log=self.read_log)
            self.log_looked = time.monotonic()
        elif self.new_database is not None and \
                time.monotonic() - self.log_looked >= _LOG_EVERY_S:
            self.log_looked = time.monotonic()
            if await logs_the_database(self.ctx, self.new_database):
                self.new_database = None  # it names the new one: nothing more to look for

    def _say_what_it_answers(self, heard: SMApiError | None) -> None:
        """What the API answers instead, once each thing it says: the cause
        (a database it cannot log in to, say) is often there from the first
        look, long before the limit (operator trial). The same answer at
        another API version, as the version is looked for, is the same answer."""
        if heard is None:
            return
        answer = re.sub(r"/api/[\d.]+/", "/api/", str(heard))
        if answer in self.said:
            return
        self.said.add(answer)
        # An empty controller is an answer: "does not answer" would not be true.
        lead = ("the API answers, but names no cloud controller yet"
                if isinstance(heard, _NoControllerNamed) else "the API does not answer yet")
        self.ctx.info(f"{lead}: {_while_it_boots(heard)}")

    async def _ask_systemd(self) -> None:
        """_ServiceEnded where systemd says the service is gone. The API is
        asked at every look, systemd only every _SYSTEMD_EVERY_S: its look
        costs several API looks, and would stretch the gaps between looks
        that next_look keeps short."""
        if time.monotonic() - self.systemd_asked < _SYSTEMD_EVERY_S:
            return
        self.systemd_asked = time.monotonic()
        ctx = self.ctx
        state = (await ctx.probe(root(ctx, "systemctl is-active red5pro"))).stdout.strip()
        if state in ("failed", "inactive"):
            raise _ServiceEnded(state)
