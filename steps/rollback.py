"""The way back: from any point of the cutover (or after it) to the old stream
manager on the old database.

Each step looks at where the host is before it acts, so the same steps serve
a cutover that failed at any point: the nodegroups the new stream manager made
(recreate's) are deleted through its API while it still serves, the new
service is stopped, the new tree
set aside as red5pro.failed-TIMESTAMP, bak.red5pro restored as red5pro, the
old unit put back, the old service started (and proven to be the old release)
and the nodegroups rebuilt from the snapshot taken before the cutover,
through the old API, into the old database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from runbook.model import (
    AFTER_WAY_BACK,
    NODEGROUP_RECREATED,
    Action,
    Check,
    Note,
    Phase,
    Shell,
    Wait,
)
from runbook.shell import quote
from runbook.smapi import (
    NoApiAnswer,
    NoApiServed,
    NoConnection,
    SMApiError,
    SMApiOutcomeUnknown,
)
from runbook.step import StepFailed
from steps.common import (
    JavaProcess,
    backup_dir,
    being_deleted,
    copy_whole,
    exists,
    folder_id,
    install_dir,
    java_processes,
    java_processes_command,
    live_dir,
    load_snapshot,
    mask_install_secrets,
    new_tree,
    old_tree,
    prove_token,
    root,
    sha256_remote,
    started_after_promote,
    trees,
    unit_not_loaded,
)
from steps.cutover import (
    GroupStateUnknown,
    Recreate,
    ServiceUnit,
    delete_nodegroup,
    made_like,
)
from steps.database import DATABASE, names_the_live_database, new_database_drop
from steps.facts import AnyContext, Ctx, Plan, Red5Step
from steps.start_service import (
    StartService,
    expected_api_version,
    old_api_version,
    servers_of,
    serving_proof,
)
from steps.waiting import GaveUp, wait_until, wait_until_gone

if TYPE_CHECKING:
    from runbook.journal_replay import Replay


def failed_dir(p: AnyContext) -> str:
    return f"{live_dir(p)}.failed-{p.facts.rollback_stamp or '<timestamp>'}"


async def _new_servers(ctx: Ctx) -> list[JavaProcess]:
    """The servers running from the new install (started_after_promote)."""
    return await started_after_promote(ctx, await java_processes(ctx), await new_tree(ctx))


# Before the way back changes anything: nothing of the live stream manager has
# changed, and "rolling back" would only restart it and rebuild nodegroups that
# were never deleted, beside themselves.
NO_CUTOVER = ("no cutover began on this host, so there is nothing to roll back: the live "
              "stream manager still runs as it did, with its nodegroups")

# Why the new stream manager's nodegroups go before it stops (FACTS section 3):
# the old one, started on the old database, tears down every node whose name
# has its prefix and that its database does not know. That it drains none,
# and that it looks each cleanup interval, FACTS has as inferences only: said
# as likely, as delete-nodegroups' caution does (facts audit 56a, M4).
SWEEP = ("the old stream manager, started on the old database, tears down the nodes it "
         "does not know whose names start with its prefix, probably without a drain")

# How the way back is taken up again once [api] and the token are put right.
AGAIN = ("take the way back up again (`runbook rollback CONFIG`, which goes on from here; the "
         "token is read once, as runbook starts)")


async def _old_install(ctx: Ctx) -> str:
    """Where the install preflight found live is now: red5pro, or bak.red5pro
    while the cutover has it set aside; as trees() finds it where its
    identity is not known."""
    known = await old_tree(ctx)
    for folder in (live_dir(ctx), backup_dir(ctx)):
        if known is not None and await folder_id(ctx, folder) == known:
            return folder
    old, _new = await trees(ctx)
    return old


def _journals(ctx: Ctx) -> list[Replay]:
    """This run's journal and the one the cutover began in (`runbook rollback`
    writes its own), as read now. One that cannot be read is passed over: the
    host's look is what decides, these only say what recreate did."""
    # Here, not at the top: the first paint imports the steps for their
    # cards and none of the journal's readers (test_cli_imports).
    from runbook.journal import JournalError
    from runbook.journal_replay import replay

    paths = {ctx.journal_path}
    under_way = ctx.host_state.cutover()
    if under_way is not None:
        paths.add(Path(under_way.journal))
    found = []
    for path in paths:
        try:
            found.append(replay(path))
        except (JournalError, OSError):
            continue
    return found


def _recreate_began(ctx: Ctx) -> bool:
    """Whether recreate changed anything in this cutover (an action on record)."""
    for journal in _journals(ctx):
        history = journal.steps.get("recreate")
        if history is not None and history.acted:
            return True
    return False


def _recreates(ctx: Ctx, listed: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The names of the nodegroups in `listed` (the new API's) that this run's
    recreate made, so the way back's to delete, and those it cannot tell of.
    Where the journal does not record them (an older runbook's), every one,
    as the way back did then: left, the old stream manager would tear their
    nodes down undrained. Else those it names, those its notes name, and, for
    a saved nodegroup whose POST recreate sent with no group on record (a
    kill -9 or a lost answer right after it), the one group not on record
    made like it (review 57c H1). Two or more such are not told apart: one
    may be made by hand, so none is deleted (review 58a L2); nor is one made
    like a saved nodegroup whose POST the API refused."""
    names = {group["name"] for group in listed}
    made = ctx.facts.recreated_nodegroups
    if made is None:
        return (names if _recreate_began(ctx) else set()), set()
    known = set(made) | {str(note.get("new")) for journal in _journals(ctx)
                         for note in journal.notes
                         if note.get("kind") == NODEGROUP_RECREATED
                         and note.get("step") == Recreate.id}
    ours = {name for name in names if name in known}
    made_alike: set[str] = set()
    posted = ctx.facts.nodegroups_posted  # None: a journal from before the fact
    unmatched = [group for group in listed if group["name"] in ours]
    for old in (load_snapshot(ctx) or {}).get("nodegroups", []):
        standing = next((g for g in unmatched if made_like(old, g)), None)
        if standing is not None:
            unmatched.remove(standing)
            continue
        if posted is not None and old.get("name") not in posted:
            continue
        like = [g["name"] for g in listed if g["name"] not in ours and made_like(old, g)]
        if len(like) == 1:
            ours.add(like[0])
        else:
            made_alike.update(like)
    return ours, made_alike - ours


def _made_alike_left(names: Iterable[str]) -> str:
    """Groups made alike, one of which may be recreate's: said, not deleted."""
    return (f"made alike, and recreate's making of one such was not recorded: runbook cannot "
            f"tell recreate's from one made by hand, so none is deleted: {', '.join(names)}")


def _this_group(exc: SMApiError) -> bool:
    """A DELETE's failure that is the group's own: the API answered, with an
    error for that one call. One that is the API's as a whole (nothing
    answers, the token refused, no API served) stops the deleting."""
    return exc.status is not None and exc.status != 401 and not isinstance(exc, NoApiServed)


def _not_answering(exc: SMApiError) -> str:
    """Why the new release's API gave this step nothing to act on. A refused
    token is said in a few words: the API's own advice (start runbook again
    with the right one) is wrong here, where the token is the old install's
    and the way back goes on (review 56c F3)."""
    if exc.status == 401:
        return "the new release refuses the API token given, the old install's (HTTP 401)"
    return f"the new release's API does not answer ({str(exc).rstrip('.')})"


T = TypeVar("T")

# The new API failing once (a 5xx from a stream manager busy launching, a
# connection reset) is asked again before recreate's nodegroups are left to
# the old stream manager (review 58a, M1): this many tries in all, this pause
# between them, each try bounded as a whole (the client's own timeout bounds
# each phase of an exchange only, not a trickling answer).
API_TRIES = 3
API_PAUSE_S = 2.0
API_TRY_S = 30.0


def _may_pass(exc: SMApiError) -> bool:
    """A failure that may not repeat a moment later: the stream manager's own
    error (HTTP 5xx), or an exchange that broke off (a reset, no answer in
    time). A refused token or a path it does not serve (4xx) would only be
    answered the same again; and where no connection can be made at all,
    nothing serves there to ask again (a server that exits as it starts)."""
    if isinstance(exc, NoConnection):
        return False
    return exc.status is None or exc.status >= 500


async def _bounded(call: Callable[[], Awaitable[T]], what: str, *, reads: bool) -> T:
    """`call` (one exchange with the new API) within API_TRY_S. One cut off
    there is a read that got no answer, or a change whose outcome is unknown."""
    try:
        async with asyncio.timeout(API_TRY_S):
            return await call()
    except TimeoutError:
        pass  # raised below, outside the handler
    said = f"the new stream manager gave no whole answer within {API_TRY_S:g} s to {what}"
    if reads:
        raise NoApiAnswer(f"{said}.")
    raise SMApiOutcomeUnknown(f"{said}; it may or may not have taken effect.")


async def _tried(ctx: Ctx, what: str, call: Callable[[], Awaitable[T]], *, again: str,
                 look: Callable[[], Awaitable[T | None]] | None = None) -> T:
    """`call` (one exchange with the new API), made again after a short pause
    where it failed in a way that may pass; the last failure raised. `look`,
    where given, is asked after each pause first: an answer from it ends the
    tries, none makes the call again."""
    for attempt in range(1, API_TRIES + 1):
        try:
            return await call()
        except SMApiError as exc:
            if attempt == API_TRIES or not _may_pass(exc):
                raise
            ctx.info(f"{what}: {str(exc).rstrip('.')}; {again} (try {attempt + 1} of "
                     f"{API_TRIES})")
        await asyncio.sleep(API_PAUSE_S)
        if look is not None and (found := await look()) is not None:
            return found
    raise AssertionError("unreachable: the last try returns or raises")


async def _read(ctx: Ctx, what: str, call: Callable[[], Awaitable[T]]) -> T:
    """A read of the new API, asked again where it failed in a way that may pass."""
    return await _tried(ctx, what, partial(_bounded, call, what, reads=True),
                        again=f"asked again in {API_PAUSE_S:g} s")


async def _listing(ctx: Ctx, api: Any) -> list[dict[str, Any]]:
    return await _read(ctx, "GET admin/nodegroup", api.list_nodegroups)


async def _delete(ctx: Ctx, api: Any, name: str) -> str:
    """DELETE one of recreate's nodegroups; what to say of it. Where it fails
    in a way that may pass, or its outcome is unknown, the listing is looked
    at before another is sent: one gone or being deleted is sent no other
    (the first took effect, whatever its answer said); one still standing
    and not being deleted is (the first did not take). Even two crossing
    each other harm nothing: the API answers a DELETE of a nodegroup being
    terminated with a 404 "already being terminated", and takes no force
    from it (FACTS-scenarios, delete nodegroup). The listing that tells a
    404 apart is a read like the others, asked again (review 59c L2)."""
    path = f"admin/nodegroup/{name}"
    send = partial(_bounded, partial(api.delete_nodegroup, name), f"DELETE {path}",
                   reads=False)
    deleted = partial(delete_nodegroup, api, name, send=send,
                      listing=partial(_listing, ctx, api))

    async def took_effect() -> str | None:
        group = next((g for g in await _listing(ctx, api) if g["name"] == name), None)
        if group is None or being_deleted(group):
            how = "gone" if group is None else "being deleted"
            return f"{name}: {how}, the listing shows: its DELETE took effect"
        return None

    return await _tried(ctx, name, partial(ctx.act, api.api_call("DELETE", path), deleted),
                        again=f"looked for in the listing in {API_PAUSE_S:g} s, and sent "
                        "again only if it still stands", look=took_effect)


# Said where the journal does not record recreate's nodegroups (an older
# runbook's): every one listed is deleted, as the way back did then.
UNRECORDED = ("this run's journal does not record which nodegroups recreate made (an earlier "
              "runbook wrote it): every one the new stream manager lists is taken for "
              "recreate's and deleted")


def _not_recreates_kept(names: tuple[str, ...] | list[str]) -> str:
    """The new stream manager's nodegroups this run's recreate did not make,
    which the way back keeps: said once, by name."""
    return f"not made by this run's recreate, so kept: {', '.join(names)}"


def _warn_of_groups_kept(ctx: Ctx, names: list[str]) -> None:
    """Warn, once per name, of the nodegroups kept on the new stream manager:
    not the way back's to delete, but not harmless either (trial 61, F2: an
    info line only, and the exit line said nothing of them)."""
    new = [name for name in names if name not in ctx.facts.new_nodegroups_kept]
    if not new:
        return
    ctx.facts.new_nodegroups_kept = sorted({*ctx.facts.new_nodegroups_kept, *new})
    ctx.note("new-nodegroups-kept",
             f"warning: {_not_recreates_kept(new)}, on the new stream manager: it stays in the new "
             "database, and the next attempt's schema step refuses a database that holds "
             f"a nodegroup; its nodes, if any, are left running, and {SWEEP}. Once the old "
             "release serves, look in the cloud's console that none of them still runs",
             warning=True, groups=new)


class DeleteNewNodegroups(Red5Step):
    id = "rollback-nodegroups"
    title = "Delete recreate's nodegroups"
    phase = Phase.ROLLBACK
    destructive = True
    summary = ("While the new release still serves, deletes through its API the nodegroups "
               "this run's recreate made and waits until they are gone: their nodes are "
               "terminated by the stream manager that launched them, not torn down by the "
               "old one once it runs. Any other nodegroup it lists is kept.")
    caution = ("Left, they would not stay: once the old stream manager runs, it finds nodes "
               "its database does not know and tears them down, probably without a drain.")
    # Done with some left (the new API failed it once), a resume looks again:
    # the API may answer now (review 58a, M1); done with none left, trusted.
    recheck_when_resumed = True

    def plan(self, p: Plan) -> list[Action]:
        listed, going = p.facts.scratch.new_groups_listed, p.facts.scratch.new_groups_going
        version = p.facts.scratch.new_groups_api or expected_api_version(p)
        names = [name for name in listed if name not in going] if listed is not None \
            else ["{each nodegroup this run's recreate made}"]
        actions: list[Action] = [Note(f"before the new release stops: {SWEEP}")]
        if p.facts.scratch.new_groups_not_recreates:
            actions.append(Note(_not_recreates_kept(p.facts.scratch.new_groups_not_recreates)))
        if p.facts.scratch.new_groups_made_alike:
            actions.append(Note(_made_alike_left(p.facts.scratch.new_groups_made_alike)))
        if listed and p.facts.recreated_nodegroups is None:
            actions.append(Note(UNRECORDED))
        actions += [Note(f"{name}: being deleted already (a DELETE sent earlier); waited for, "
                         "not sent another") for name in going]
        actions += [p.api_call("DELETE", f"admin/nodegroup/{name}", version=version)
                    for name in names]
        actions.append(Wait("GET admin/nodegroup lists none of them",
                            p.settings.timeouts.nodegroups_gone))
        actions.append(Note(f"a call the new API fails (an HTTP 5xx, no answer) is asked "
                            f"again, up to {API_TRIES} times {API_PAUSE_S:g} s apart; a "
                            "deletion only where the listing shows that nodegroup still "
                            "standing. A nodegroup the new API still will not delete is "
                            "left, and the others are deleted. If the new API still fails "
                            "as a whole, or they are not gone by then, nothing more is "
                            "sent: the way "
                            "back goes on, and says which nodegroups are left to the old "
                            "stream manager"))
        return actions

    async def check(self, ctx: Ctx) -> Check:
        facts = ctx.facts
        facts.scratch.new_groups_listed, facts.scratch.new_groups_going = None, ()
        facts.scratch.new_groups_not_recreates = facts.scratch.new_groups_made_alike = ()
        facts.scratch.new_groups_api = facts.scratch.new_groups_said = None
        if not ctx.cutover_under_way:
            raise StepFailed(NO_CUTOVER)
        if facts.new_nodegroups_looked_at and not facts.new_nodegroups_left:
            return Check(True, "done earlier on this way back: recreate's nodegroups are gone, "
                         "or it made none")
        other, ours = await servers_of(ctx, "new")
        new_runs = bool(ours) and not other
        if facts.new_nodegroups_looked_at and not new_runs:
            # Resumed with the new release stopped since (by the way back,
            # most likely): nothing can be deleted, what was left has been
            # warned of by name, and the token is proved where it is used
            # (review 59a F5: the names were lost and the warning said
            # twice; F10: a wrong token here said nothing had changed).
            return Check(True, f"left earlier, as warned: {facts.new_nodegroups_left}; the "
                         "new release no longer runs, so nothing more can be deleted")
        # Before the way back acts: the token given is the old install's,
        # which rollback-start proves once that runs again (trial 56 F3: a
        # wrong one was found only there, after `systemctl start` and three
        # steps of the way back).
        # The only proof of the token on the way back (review 56c F3): the
        # old install is what must take it. The new release's file is not
        # asked: the server reads its token as it starts, so only its answer
        # tells; and where it refuses the token (start-service's 401), this
        # step has nothing it can delete, which is no reason to stop.
        await prove_token(ctx, await _old_install(ctx), "the way back has changed nothing on "
                          "the host yet", AGAIN)
        if not new_runs:
            # Never the old release's API: its nodegroups are the old database's.
            return self._none_to_delete(ctx, "the new release does not run")
        try:
            api = await _read(ctx, "the new API's version", partial(
                ctx.api, fresh=True, expecting=expected_api_version(ctx)))
            proof = await serving_proof(ctx, api, "new")
            if not proof.done:
                return self._none_to_delete(ctx, f"the new release does not serve: "
                                            f"{proof.detail}")
            listed = await _listing(ctx, api)
        except SMApiError as exc:
            return self._none_to_delete(ctx, _not_answering(exc))
        facts.new_nodegroups_left = None
        if not listed:
            facts.new_nodegroups_looked_at = True
            return Check(True, "the new stream manager has no nodegroups")
        # Only recreate's: one made there by hand, or there before this run,
        # is not the way back's to delete.
        made, made_alike = _recreates(ctx, listed)
        recreated = [g for g in listed if g["name"] in made]
        facts.scratch.new_groups_not_recreates = tuple(sorted(
            g["name"] for g in listed if g["name"] not in made | made_alike))
        facts.scratch.new_groups_made_alike = tuple(sorted(made_alike))
        if not recreated:
            facts.new_nodegroups_looked_at = True
            _warn_of_groups_kept(ctx, list(facts.scratch.new_groups_not_recreates))
            if made_alike:
                self._leave(ctx, "runbook cannot tell which is recreate's", sorted(made_alike))
            kept = facts.scratch.new_groups_not_recreates
            return Check(True, "; ".join(
                [_not_recreates_kept(kept)] * bool(kept)
                + [_made_alike_left(sorted(made_alike))] * bool(made_alike)))
        facts.scratch.new_groups_listed = tuple(sorted(g["name"] for g in recreated))
        facts.scratch.new_groups_going = tuple(sorted(g["name"] for g in recreated
                                                      if being_deleted(g)))
        facts.scratch.new_groups_api = api.version
        return Check(False, f"the new stream manager has {len(recreated)} nodegroup(s) this run's "
                     f"recreate made: {', '.join(facts.scratch.new_groups_listed)}")

    def _none_to_delete(self, ctx: Ctx, why: str) -> Check:
        """Nothing this step can delete; where recreate began, what that leaves."""
        ctx.facts.new_nodegroups_looked_at = True
        if not _recreate_began(ctx):
            ctx.facts.new_nodegroups_left = None
            return Check(True, f"nothing to delete: {why}, and recreate made nothing in this "
                         "cutover")
        self._leave(ctx, why, None)
        return Check(True, f"nothing deleted: {why}; what recreate launched is left to the old "
                     "stream manager (see the warning)")

    def _leave(self, ctx: Ctx, why: str, names: list[str] | None) -> None:
        """Say, as a warning the report lists, what the way back leaves behind."""
        which = f"nodegroups {', '.join(names)}" if names else \
            "whatever nodegroups recreate made"
        ctx.facts.new_nodegroups_left = which
        ctx.note("new-nodegroups-left",
                 f"warning: the way back could not delete the new stream manager's nodegroups "
                 f"({why}): the nodes of {which} are left running, and {SWEEP}. Once the old "
                 "release serves, look in the cloud's console that none of them is still "
                 "running (and billing)", warning=True, groups=names or [])

    async def run(self, ctx: Ctx) -> None:
        facts = ctx.facts
        listed = set(facts.scratch.new_groups_listed or ())
        going = set(facts.scratch.new_groups_going)
        waiting: list[str] = sorted(listed)
        since: list[str] = []
        failed: list[str] = []  # those whose DELETE failed for good, the others sent theirs
        # Those whose DELETE was refused where the listing that tells could not
        # be had: the wait's listing tells whether they go (review 60c, F7).
        unknown: list[str] = []
        try:
            api = await _read(ctx, "the new API's version", partial(
                ctx.api, fresh=True, expecting=expected_api_version(ctx)))
            now = {g["name"]: g for g in await _listing(ctx, api)}
            made, made_alike = _recreates(ctx, list(now.values()))
            if facts.recreated_nodegroups is None:
                ctx.info(UNRECORDED)
            # Only what the plan showed is deleted; one of recreate's that it
            # did not show is left, and warned of; any other is kept, and said.
            deleting = [name for name in sorted(listed) if name in now and name not in going
                        and not being_deleted(now[name])]
            since = sorted(name for name in set(now) - listed if name in made)
            kept = sorted(name for name in set(now) - listed if name not in made | made_alike)
            _warn_of_groups_kept(ctx, kept)
            if made_alike:
                ctx.info(_made_alike_left(sorted(made_alike)))
            if since:
                ctx.info(f"made since the plan was shown, so not deleted: {', '.join(since)}")
            for name in deleting:
                try:
                    ctx.info(await _delete(ctx, api, name))
                except GroupStateUnknown as exc:
                    unknown.append(name)
                    ctx.info(f"{str(exc).rstrip('.')}; the listing is looked at again as "
                             "the deleted ones are waited for")
                except SMApiError as exc:
                    if not _this_group(exc):
                        raise
                    # This group's own trouble: the others still get theirs
                    # (review 60a F8: the loop ended here, and those after
                    # it were left to the old stream manager's sweep).
                    failed.append(name)
                    ctx.info(f"{name}: not deleted, its DELETE still fails "
                             f"({str(exc).rstrip('.')}): left to the old stream manager")
            sent = listed - set(failed)

            async def listing() -> list[dict[str, Any]]:
                # Each look also tells what became of a refused DELETE whose
                # group's state was not known (review 60c, F7).
                groups = await _listing(ctx, api)
                now = {g["name"]: g for g in groups}
                for name in [n for n in unknown if n in now and not being_deleted(now[n])]:
                    # Standing, and not being deleted: its DELETE did not take.
                    unknown.remove(name)
                    failed.append(name)
                    sent.discard(name)
                    ctx.info(f"{name}: not deleted, the listing shows it standing after its "
                             "DELETE was refused: left to the old stream manager")
                unknown[:] = [name for name in unknown if name in now]
                return groups

            await wait_until_gone(ctx, listing, ctx.settings.timeouts.nodegroups_gone,
                                  of=sent, still=waiting)
        except (SMApiError, GaveUp) as exc:
            # The way back goes on: the downtime lasts until the old release
            # serves, and the old stream manager takes the nodes down anyway.
            why = _not_answering(exc) if isinstance(exc, SMApiError) else str(exc).rstrip(".")
            facts.new_nodegroups_looked_at = True
            # Those the check could not tell apart are left too (review 59c M3).
            left = sorted({*waiting, *failed, *since, *facts.scratch.new_groups_made_alike})
            self._leave(ctx, why, left)
            facts.scratch.new_groups_said = (f"not all deleted ({why}): left to the old stream "
                                             f"manager: {', '.join(left) or 'see the warning'}")
            return
        facts.new_nodegroups_looked_at = True
        facts.new_nodegroups_left = None
        if failed:
            self._leave(ctx, "the new API fails their DELETE", failed)
        if made_alike:
            self._leave(ctx, "runbook cannot tell which is recreate's", sorted(made_alike))
        if since:
            self._leave(ctx, "made after its plan was shown, so not deleted", since)
        left = sorted({*failed, *made_alike, *since})
        if len(left) > max(len(failed), len(made_alike), len(since)):  # from more than one cause
            facts.new_nodegroups_left = f"nodegroups {', '.join(left)}"
        deleted = sorted(sent)
        said = [f"deleted through the new API, their nodes terminated by the new stream "
                f"manager: {', '.join(deleted)}"] if deleted else []
        if failed:
            said.append(f"not all deleted (the new API fails their DELETE): left to the old "
                        f"stream manager: {', '.join(failed)}")
        facts.scratch.new_groups_said = "; ".join(said)
        if deleted:
            ctx.note("new-nodegroups-deleted", f"the new stream manager's nodegroups are "
                     f"deleted ({', '.join(deleted)})", groups=deleted)

    async def verify(self, ctx: Ctx) -> Check:
        said = ctx.facts.scratch.new_groups_said
        return Check(True, said) if said else await self.check(ctx)


class StopNew(Red5Step):
    id = "rollback-stop-new"
    title = "Stop the new release"
    phase = Phase.ROLLBACK
    # Nothing keeps the new service stopped: a host that boots (or an
    # operator who starts it) brings it back while the way back is under way.
    recheck_when_resumed = True
    summary = ("Stops the service and kills what still runs from the new install, so the "
               "old release can have the port and the name back.")

    def plan(self, p: Plan) -> list[Action]:
        shown = p.facts.red5_processes
        # Which of them systemctl stop leaves is known only then: under jsvc
        # its controlling process can outlive the JVM by a moment.
        return [Shell(root(p, "systemctl stop red5pro")),
                Shell(java_processes_command(p), "what still runs from the new install"),
                *[Note(f"pid {pid}: {args}") for pid, args in shown.items()],
                Shell(root(p, "kill -9 <PIDs still running>"),
                      "those of the new install's processes that systemctl stop left")]

    async def check(self, ctx: Ctx) -> Check:
        if not ctx.cutover_under_way:
            raise StepFailed(NO_CUTOVER)
        found = await _new_servers(ctx)
        ctx.facts.red5_processes = {str(proc.pid): proc.args for proc in found}
        if not found:
            return Check(True, "nothing runs from the new install")
        return Check(False, f"running: {', '.join(str(proc.pid) for proc in found)}")

    async def run(self, ctx: Ctx) -> None:
        # systemd's lines of the stop can quote what the server said: the
        # way back alone has read none of the installs' secrets (review 61, F4).
        await mask_install_secrets(ctx, *dict.fromkeys(await trees(ctx)))
        await ctx.sh(root(ctx, "systemctl stop red5pro"), check=False)
        left = sorted({int(pid) for pid in ctx.facts.red5_processes}
                      & {proc.pid for proc in await _new_servers(ctx)})
        if left:
            await ctx.sh(root(ctx, "kill -9 " + " ".join(map(str, left))), check=False)

    async def verify(self, ctx: Ctx) -> Check:
        async def none_left() -> bool:
            return not await _new_servers(ctx)

        await wait_until(ctx, "the new release's processes to exit",
                         ctx.settings.timeouts.service_stop, none_left)
        return Check(True, "nothing runs from the new install")


class SetAsideNew(Red5Step):
    id = "rollback-set-aside"
    title = "Set the new tree aside"
    phase = Phase.ROLLBACK
    destructive = True
    summary = "Moves the new release out of red5pro, as red5pro.failed-TIMESTAMP, for a look later."

    def plan(self, p: Plan) -> list[Action]:
        return [Shell(root(p, f"mv -T -- {quote(live_dir(p))} {quote(failed_dir(p))}"))]

    async def _aside(self, ctx: Ctx, new: str | None) -> str | None:
        """The red5pro.failed-* folder that holds the new tree, if one does."""
        if new is None:
            return None
        found = await ctx.probe(f"find {quote(install_dir(ctx))} -mindepth 1 -maxdepth 1 "
                                f"-type d -name {quote(live_dir(ctx).rsplit('/', 1)[-1])}"
                                "'.failed-*'")
        for folder in (line.strip() for line in found.stdout.splitlines()):
            if folder and await folder_id(ctx, folder) == new:
                return folder
        return None

    async def check(self, ctx: Ctx) -> Check:
        new = await new_tree(ctx)
        if new is not None and await folder_id(ctx, live_dir(ctx)) == new:
            if not ctx.facts.rollback_stamp:
                ctx.facts.rollback_stamp = time.strftime("%Y%m%dT%H%M%S")
            return Check(False, f"{live_dir(ctx)} is the new release")
        aside = await self._aside(ctx, new)
        if aside is not None:
            # Set aside by an attempt whose end went unrecorded: the journal
            # and the report name the folder it is really in.
            ctx.facts.rollback_stamp = aside.rsplit(".failed-", 1)[-1]
            _tree_left(ctx, aside)
            return Check(True, f"the new release is set aside as {aside}"
                         f"{await _where_the_old_waits(ctx)}")
        return Check(True, f"the new release never went live as {live_dir(ctx)}; it stays "
                     f"where unpack put it{await _where_the_old_waits(ctx)}")

    async def run(self, ctx: Ctx) -> None:
        await ctx.sh(root(ctx, f"mv -T -- {quote(live_dir(ctx))} {quote(failed_dir(ctx))}"))

    async def verify(self, ctx: Ctx) -> Check:
        if await folder_id(ctx, failed_dir(ctx)) != await new_tree(ctx):
            return Check(False, f"{failed_dir(ctx)} does not hold the new release")
        _tree_left(ctx, failed_dir(ctx))
        return Check(True, f"the new release is set aside as {failed_dir(ctx)}, for a look "
                     f"later{await _where_the_old_waits(ctx)}")


async def _where_the_old_waits(ctx: Ctx) -> str:
    """Where no install is live, where the old one waits (trial 58, L3: the
    way back stopped here, and its exit line named the new release's folder
    alone); nothing where one is live (put back by an earlier attempt)."""
    if await exists(ctx, live_dir(ctx)):
        return ""
    old = await old_tree(ctx)
    if old is not None and await folder_id(ctx, backup_dir(ctx)) == old:
        return f"; there is no {live_dir(ctx)} until the old install, {backup_dir(ctx)}, " \
               "is moved back"
    return f"; there is no {live_dir(ctx)} now"


def _tree_left(ctx: Ctx, aside: str) -> None:
    """For the report's list of what the way back left: the failed tree."""
    ctx.note(AFTER_WAY_BACK, f"the new release's tree is set aside as {aside}, as the way back "
             f"found it: look in it if need be, then delete it: "
             f"{root(ctx, 'rm -r -- ' + quote(aside))}")


class RestoreOld(Red5Step):
    id = "rollback-restore"
    title = "Put bak.red5pro back as red5pro"
    phase = Phase.ROLLBACK
    destructive = True
    summary = "Moves the old install back into place, unchanged since backup-live moved it."

    def plan(self, p: Plan) -> list[Action]:
        return [Shell(root(p, f"mv -T -- {quote(backup_dir(p))} {quote(live_dir(p))}"))]

    async def check(self, ctx: Ctx) -> Check:
        old = await old_tree(ctx)
        if old is not None and await folder_id(ctx, live_dir(ctx)) == old:
            return Check(True, f"{live_dir(ctx)} is the old install")
        if await exists(ctx, live_dir(ctx)):
            raise StepFailed(f"{live_dir(ctx)} is there and is not the old install; move it "
                             "aside before putting the old one back")
        if old is None or await folder_id(ctx, backup_dir(ctx)) != old:
            raise StepFailed(f"{backup_dir(ctx)} is not the old install preflight found; "
                             "the way back needs it")
        return Check(False)

    async def run(self, ctx: Ctx) -> None:
        await ctx.sh(root(ctx, f"mv -T -- {quote(backup_dir(ctx))} {quote(live_dir(ctx))}"))


class RestoreUnit(Red5Step):
    id = "rollback-unit"
    title = "Put the old service unit back"
    phase = Phase.ROLLBACK
    summary = ("Where service-unit replaced red5pro.service, puts the old one (kept as "
               "red5pro.service.bak) back and reloads systemd.")

    def plan(self, p: Plan) -> list[Action]:
        unit = p.settings.unit_file
        return [Shell(copy_whole(p, unit + ".bak", unit, keep_times=True)),
                Shell(root(p, "systemctl daemon-reload"))]

    async def check(self, ctx: Ctx) -> Check:
        unit = ctx.settings.unit_file
        replaced = await exists(ctx, unit + ".bak", "-f", as_root=True)
        left = [step for step in ctx.facts.nothing_to_undo if step != ServiceUnit.id]
        ctx.facts.nothing_to_undo = left if replaced else [*left, ServiceUnit.id]
        if not replaced:
            return Check(True, "service-unit did not replace the unit")
        kept = await sha256_remote(ctx, unit + ".bak", as_root=True)
        # A hash it could not have proves nothing (code review: two unreadable
        # units were found the same, and the old release started under the new).
        same = kept is not None and kept == await sha256_remote(ctx, unit, as_root=True)
        if same and await unit_not_loaded(ctx) is None:
            # The copy stays: another attempt's service-unit keeps it as it is.
            ctx.note(AFTER_WAY_BACK, f"{unit}.bak stays, the same as the old unit now back in "
                     "place: another attempt keeps it as the old unit's copy; if none is "
                     f"made, delete it: {root(ctx, 'rm -- ' + quote(unit + '.bak'))}")
            return Check(True, "the old unit is in place and loaded")
        return Check(False)

    async def run(self, ctx: Ctx) -> None:
        unit = ctx.settings.unit_file
        await ctx.sh(copy_whole(ctx, unit + ".bak", unit, keep_times=True))
        await ctx.sh(root(ctx, "systemctl daemon-reload"))


class StartOld(StartService):
    id = "rollback-start"
    title = "Start the old release"
    phase = Phase.ROLLBACK
    recheck_when_resumed = True
    summary = ("Starts the service, proves the API token is the old install's "
               "rest.administratorToken, and waits until the Stream Manager API answers from "
               "the old install, speaking the old release's API version, on the old database.")
    side = "old"

    async def check(self, ctx: Ctx) -> Check:
        await self._mask(ctx)
        # What the new release's starts met is not the old one's (review 59c
        # L1: its class not found was said of the old release, restarted at
        # once). The old one's own webapp that did not load answers 404,
        # which the check finds again.
        self._forget_earlier_starts(ctx)
        return await super().check(ctx)

    async def run(self, ctx: Ctx) -> None:
        await self._mask(ctx)
        await super().run(ctx)

    async def _mask(self, ctx: Ctx) -> None:
        """The old install's LICENSE.KEY and its properties' secrets are masked
        before anything can show its red5.log, or systemd's status of it
        (review 56d F1, review 61 F4): `runbook rollback` runs none of the
        upgrade's steps that read them, and an old release that exits as it
        starts leaves the key in its log's last lines."""
        await mask_install_secrets(ctx, *dict.fromkeys((live_dir(ctx), backup_dir(ctx))))

    async def _prove_token(self, ctx: Ctx) -> None:
        """The token given is the old install's, back in place, before its API
        is asked: an API of the old release's version at [api] base_url can be
        another stream manager's (a staging copy, with its own token), which
        says nothing of this host's old install."""
        await prove_token(ctx, live_dir(ctx), "the old release was started here, but whether "
                          "it is the stream manager answering at [api] base_url is not proven",
                          AGAIN)


    def _note_answered(self, ctx: Ctx, api: Any, *, version: str | None,
                  controller: str | None) -> None:
        super()._note_answered(ctx, api, version=version, controller=controller)
        if not _recreate_began(ctx):  # else recreate's leaves say it, with more to drop
            ctx.note(AFTER_WAY_BACK, _new_database_left(ctx))


def _new_database_left(ctx: Ctx) -> str:
    """The new database, which the way back does not touch (as Recreate.leaves
    names it, with the same guard: never a command to drop the live one)."""
    where, drop = new_database_drop(ctx.settings, ctx.facts)
    if drop is None:
        return (f"{names_the_live_database(where)}: the old release runs on it again. If the "
                f"upgrade used another database, its {DATABASE} database there is as the "
                "upgrade left it (the way back does not touch a database)")
    return (f"the new database on {where} is as the upgrade left it (the way back does not "
            f"touch a database): another attempt's schema step takes the release's tables in "
            f"its {DATABASE} database as they are; if none is made, drop it from the stream "
            f"manager host: {drop}")


class RecreateOld(Recreate):
    id = "rollback-recreate"
    title = "Recreate nodegroups on the old database"
    phase = Phase.ROLLBACK
    summary = ("Rebuilds, through the old API, the launch configs, scale policies, "
               "nodegroups and origins of the snapshot taken before the cutover, as they "
               "were, and waits until they are in service.")
    side = "old"

    def _speaks(self, p: AnyContext) -> str | None:
        return old_api_version(p)

    def _image(self, p: AnyContext) -> str | None:
        return None  # the old release's nodes keep the images they had

    def _alarms(self, p: Plan) -> list[Action]:
        return []  # the old database kept its own

    async def _prove(self, ctx: Ctx) -> None:
        """The token given is the old release's, back in place (review 54b H1:
        a staging copy of the old release would have A's snapshot rebuilt in it)."""
        await prove_token(ctx, live_dir(ctx), "the old release serves again, with nothing "
                          "rebuilt by this step", AGAIN)


def way_back() -> list[Red5Step]:
    return [DeleteNewNodegroups(), StopNew(), SetAsideNew(), RestoreOld(), RestoreUnit(),
            StartOld(), RecreateOld()]
