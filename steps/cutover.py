"""Cutover: the stream manager is down from the first of these steps to the last."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from runbook.config import Settings
from runbook.hoststate import Snapshot
from runbook.model import (
    AFTER_UPGRADE,
    NODEGROUP_RECREATED,
    WAY_BACK_COULD_NOT,
    Action,
    Check,
    Leaves,
    Note,
    Phase,
    Shell,
    Wait,
)
from runbook.redact import MASKED_FIELD, secret_fields_masked
from runbook.shell import privileged_script, quote
from runbook.smapi import (
    SCALEOUT_ALARM,
    SCALEOUT_ROLES,
    NoApiAnswer,
    SMApiError,
    SMApiOutcomeUnknown,
    StreamManagerAPI,
)
from runbook.step import NotInThisRun, StepFailed
from steps import fleet, red5
from steps.common import (
    JavaProcess,
    backup_dir,
    being_deleted,
    copy_whole,
    exists,
    find_server_folders,
    folder_id,
    host_boot_clock,
    install_dir,
    install_version,
    java_processes,
    java_processes_command,
    known_answer,
    live_dir,
    load_snapshot,
    new_dir,
    new_tree,
    no_snapshot,
    old_tree,
    origins_of,
    origins_to_rebuild,
    read_remote,
    root,
    run_shell,
    running_from,
    server_folders,
    snapshot,
    standing_origins,
    started_after_promote,
    state_of,
    together,
    unit_not_loaded,
)
from steps.database import (
    DATABASE,
    names_the_live_database,
    new_database_drop,
)
from steps.facts import AnyContext, Ctx, Plan, Red5Facts, Red5Step
from steps.fleet import fleet_now
from steps.start_service import expected_api_version
from steps.waiting import wait_until, wait_until_gone

# Said in the plan where nothing is listed to delete and no cutover is on
# record here: the fleet may be another run's, emptied by its cutover.
DELETES_NONE = ("it deletes none: the live stream manager lists no nodegroups, and no cutover "
                "is on record here. If another run's cutover deleted them, stop: go on with "
                "that run's journal instead")


class DeleteNodegroups(Red5Step):
    id = "delete-nodegroups"
    title = "Delete the nodegroups"
    phase = Phase.CUTOVER
    destructive = True
    summary = (
        "Deletes every nodegroup through the live API and waits until they are gone; "
        "their nodes are terminated. They are rebuilt from the snapshot after the upgrade."
    )
    caution = (
        "Leaving the nodegroups would not keep their nodes: the upgraded stream manager finds "
        "nodes its new database does not know and tears them down itself, probably "
        "without a drain."
    )
    # The way back does not undo the delete: rollback-recreate makes new
    # nodegroups from the snapshot (the API names them anew) and launches
    # their origins; their edges come back by autoscaling (operator trial:
    # the row read "undone").
    the_way_back_word = "recreated"
    the_way_back_did = ("recreated by the way back as new nodegroups (new names), "
                        "their origins launched; edges come back by autoscaling")

    def plan(self, p: Plan) -> list[Action]:
        saved = load_snapshot(p)
        names = [g["name"] for g in saved["nodegroups"]] if saved else ["{each nodegroup}"]
        listed, going = p.facts.scratch.nodegroups_listed, p.facts.scratch.nodegroups_going
        actions: list[Action] = []
        if listed is not None:
            # As run() will send them, once the check has looked: a group gone
            # or going already gets no DELETE (operator trial: a resumed step
            # listed every DELETE to confirm, then sent none).
            names = [name for name in names if name in listed and name not in going]
            actions += [Note(f"{name}: being deleted already (a DELETE sent earlier); "
                             "waited for, not sent another") for name in going]
        # Named by what the operator knows them by, beside their ids (TUI
        # trial: the irreversible step showed ids alone).
        known = {g["name"]: g for g in saved["nodegroups"]} if saved else {}
        actions += [p.api_call("DELETE", f"admin/nodegroup/{name}", why=_known_as(known.get(name)))
                    for name in names]
        # Looked at (its check): what it found; else the snapshot and this
        # machine's record.
        none = p.facts.scratch.nodegroups_none if listed is not None else \
            saved is not None and not names and (p.host_state is None
                                                 or p.host_state.cutover() is None)
        if none and not names and not going:
            # Trial 60 F5/F7: another run's cutover may have emptied the fleet.
            actions.append(Note(DELETES_NONE))
        actions.append(Wait("GET admin/nodegroup lists none",
                            p.settings.timeouts.nodegroups_gone))
        return actions

    async def check(self, ctx: Ctx) -> Check:
        found = snapshot(ctx)
        if found is None:
            raise StepFailed("refusing to delete nodegroups: export-config has saved no "
                             "snapshot to rebuild them from")
        api = await ctx.api()
        live, going, unsaved = _as_listed(await _fleet_as_saved(ctx, api, found), found)
        ctx.facts.scratch.nodegroups_listed = tuple(sorted(live))
        ctx.facts.scratch.nodegroups_going = tuple(going)
        ctx.facts.scratch.nodegroups_none = not live and not ctx.cutover_under_way
        if unsaved:
            # Only once the cutover has begun (before, the fleet's look above
            # refuses it): no new snapshot can be taken of a fleet being
            # emptied, and a new run is refused while this cutover stands
            # (review: the advice was to start one).
            raise StepFailed(
                f"nodegroups {', '.join(sorted(unsaved))} are not in the snapshot the cutover "
                "rebuilds from, so runbook will not delete them: deleted, they would be lost. "
                "Delete them through the API yourself if they should go, then try again; or "
                "go back to the old stream manager")
        if not live:
            return Check(True, "the live stream manager has no nodegroups")
        return Check(False, f"{len(live)} nodegroup(s) exist" +
                     (f", {len(going)} of them being deleted already" if going else ""))

    async def run(self, ctx: Ctx) -> None:
        api = await ctx.api()
        saved = snapshot(ctx)
        if saved is None:
            raise StepFailed("refusing to delete nodegroups: there is no snapshot to rebuild "
                             "them from")
        # Looked at again as the plan is answered: someone could have retired
        # a nodegroup while it was read, and recreate would bring it back.
        listed = await _fleet_as_saved(ctx, api, saved, looked=True)
        ctx.info(f"deleting what {saved.describe()} can rebuild")
        live, going, unsaved = _as_listed(listed, saved)
        # Only what the snapshot can rebuild is deleted, and only what the
        # plan showed (review: the groups listed again here could differ).
        deleting = [g["name"] for g in saved.nodegroups
                    if g["name"] in live and g["name"] not in going]
        self._refuse_groups_changed_since(ctx, unsaved, deleting)
        if going:
            ctx.info(f"being deleted already (a DELETE sent earlier): {', '.join(going)}")
        for name in deleting:
            said = await ctx.act(api.api_call("DELETE", f"admin/nodegroup/{name}"),
                                 partial(delete_nodegroup, api, name))
            ctx.info(said)

        await wait_until_gone(ctx, api.list_nodegroups, ctx.settings.timeouts.nodegroups_gone,
                              still=sorted(live))
        ctx.note("nodegroups-deleted", "every nodegroup is deleted on the live database")

    def _refuse_groups_changed_since(self, ctx: Ctx, unsaved: set[str],
                                     deleting: list[str]) -> None:
        """Nothing is sent unless the groups are as the plan showed them: one
        made since (which the snapshot cannot rebuild), or one to delete that
        the plan did not show (its delete failed in the cloud), is refused."""
        listed = ctx.facts.scratch.nodegroups_listed
        planned = set(listed or ()) - set(ctx.facts.scratch.nodegroups_going)
        changed = sorted(unsaved) + [name for name in deleting
                                     if listed is not None and name not in planned]
        if changed:
            raise StepFailed(f"the nodegroups changed since the step's plan was shown "
                             f"({', '.join(changed)}); nothing was sent. Run the step again "
                             "to see them as they are now")


def _known_as(group: dict[str, Any] | None) -> str:
    """A saved nodegroup as its plan names it: regions, launch config, origins."""
    if group is None:
        return ""
    origins = origins_to_rebuild(group)
    return (f"regions {', '.join(group.get('regions') or []) or '(none)'}, launch config "
            f"{group.get('launchConfig')}, {origins} origin(s)")


async def _fleet_as_saved(ctx: Ctx, api: StreamManagerAPI, saved: Snapshot, *,
                          looked: bool = False) -> list[dict[str, Any]]:
    """The API's listing of the nodegroups, once the fleet is found still the
    snapshot's. Before the first DELETE, the fleet must still be the
    snapshot's, which is what recreate rebuilds (review: a nodegroup retired
    after the export came back). Once a cutover has begun, by this run's
    journal or the host's record (a killed run's), the live fleet is being
    emptied and no longer compares (second review: a record lost, every resume
    was refused), and the listing alone is read. One read either way: the
    fleet's listing is the one the step deletes by (it was listed twice).
    `looked`: the check has said what of the origins differs already."""
    if ctx.host_state is None or ctx.cutover_under_way or ctx.host_state.cutover() is not None:
        return await api.list_nodegroups()
    now = await fleet_now(api)
    for line in [] if looked else fleet.origins_changed(saved.data, now):
        # Their number moves on its own (autoscaling, a replacement): said,
        # not refused; the new stream manager's policies take it from there.
        ctx.info(f"{line}: recreate launches as many as the snapshot holds")
    changed = fleet.changes(saved.data, now)
    if changed:
        raise NotInThisRun(
            f"the fleet changed since {saved.describe()}: {fleet.said(changed)}. Nothing was "
            f"deleted. To rebuild the fleet as it is now, stop, then {ctx.settings.goes_on}: "
            "export-config takes the snapshot again before this step")
    return list(now["listed"])


def _as_listed(listed: list[dict[str, Any]],
               saved: Snapshot) -> tuple[set[str], list[str], set[str]]:
    """The API's listing against the snapshot, as check and run both read it:
    the live groups' names; those being deleted already (an earlier attempt's
    DELETE, before a crash or a drop), waited for and not sent another, as
    the API answers that one 404 (FACTS-scenarios section 4); and those the
    snapshot cannot rebuild (one being deleted at export time is not in it,
    and is no loss: review)."""
    live = {g["name"] for g in listed}
    going = sorted(g["name"] for g in listed if being_deleted(g))
    return live, going, live - {g["name"] for g in saved.nodegroups} - set(going)


# The one answer of the API read by its words: what 5.1.1 and 6.2.0 answer
# (404, errorMessage "Unable delete node group This group is already being
# terminated.") to a DELETE of a nodegroup whose delete is under way
# (FACTS-scenarios section 4, "Delete nodegroup", read from their bytecode).
# The listing's "terminating" state says the same as data, but the 4.0 docs
# never show that state (their delete answer says "active"; facts audit), so
# there the words may be all that tells; that 4.0 says them too is inferred,
# with either of the statuses its docs give a failed DELETE, 400 or 404
# (facts audit 59b, L4).
ALREADY_TERMINATING = "this group is already being terminated"
_REFUSED = (400, 404)


class GroupStateUnknown(SMApiError):
    """A nodegroup's DELETE refused (400, 404), and the listing that tells
    whether it is gone or going failed: what became of it is unknown, which
    is not its DELETE failing (review 60c, F7). Its status is the DELETE's."""


async def delete_nodegroup(
        api: StreamManagerAPI, name: str, *,
        send: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        listing: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None) -> str:
    """DELETE one nodegroup; what to say of it. A 404 is looked into before it
    fails the step (review 58a L3): a group the listing no longer has is gone
    already (an empty group goes at once: a first DELETE whose answer was
    lost), and one it lists as terminating, or that the API's answer says is
    being deleted, is on its way out (an earlier DELETE, before a crash or a
    drop): the step waits for it as for the others. `send` and `listing`,
    where given, stand for the API's own DELETE and listing (the way back
    bounds the one and asks the other again where it fails, review 59c L2)."""
    try:
        group = await (send or partial(api.delete_nodegroup, name))()
    except SMApiError as exc:
        if exc.status not in _REFUSED:
            raise
        try:
            listed = {g["name"]: g for g in await (listing or api.list_nodegroups)()}
        except SMApiError as looked:
            if ALREADY_TERMINATING in exc.detail.lower():
                # The API's own answer says it, listing or not.
                return f"{name}: being deleted already, the API says (a DELETE sent earlier)"
            raise GroupStateUnknown(
                f"{name}: its DELETE was refused ({str(exc).rstrip('.')}), and the listing "
                f"that tells whether it is gone failed ({str(looked).rstrip('.')}): its state "
                "is unknown", exc.status, detail=exc.detail) from None
        if name not in listed:
            return f"{name}: gone already, the API lists it no more"
        if being_deleted(listed[name]) or ALREADY_TERMINATING in exc.detail.lower():
            return f"{name}: being deleted already, the API says (a DELETE sent earlier)"
        raise
    # The answer is the group as it stood, not how the delete went: the 4.0
    # docs' says "active" and an empty group keeps its last state (facts
    # audit 61, F2). Only terminating tells something more.
    said = f"{name}: DELETE taken; the stream manager takes its nodes down in the background"
    if str(group.get("state", "")).lower() == "terminating":
        said += " (it lists the group as terminating)"
    return said


class BackupLive(Red5Step):
    id = "backup-live"
    title = "Rename red5pro to bak.red5pro"
    phase = Phase.CUTOVER
    destructive = True
    summary = "Moves the live install aside as bak.red5pro; it is the way back if needed."

    def plan(self, p: Plan) -> list[Action]:
        return [Shell(root(p, f"mv -T -- {quote(live_dir(p))} {quote(backup_dir(p))}"))]

    async def check(self, ctx: Ctx) -> Check:
        backup = backup_dir(ctx)
        if (found := await folder_id(ctx, backup)) is not None:
            if found == await old_tree(ctx):
                return Check(True, f"{backup} is the old install")
            version = await install_version(ctx, backup)
            raise StepFailed(f"{backup} already exists and holds {version or 'something'} "
                             "that is not the install preflight found (an earlier backup?); "
                             "move it elsewhere first")
        return Check(False)

    async def run(self, ctx: Ctx) -> None:
        if not await exists(ctx, live_dir(ctx), "-d"):
            raise StepFailed(f"{live_dir(ctx)} is not there to move")
        await run_shell(ctx, self.plan(ctx.plan_context()))
        ctx.note(AFTER_UPGRADE, f"the old install stays as {backup_dir(ctx)}: the way back "
                 "puts it in place again while the cutover is under way; once the upgrade is "
                 "done, it is what a return to the old release by hand would use: remove it "
                 "once the new release has served well enough not to go back")


class PromoteNew(Red5Step):
    id = "promote-new"
    title = "Rename the new tree to red5pro"
    phase = Phase.CUTOVER
    destructive = True
    summary = "Moves the unpacked red5pro-server-* folder into place as red5pro."

    def plan(self, p: Plan) -> list[Action]:
        return [Shell(find_server_folders(p), "exactly the unpacked folder, or stop"),
                Shell(root(p, f"mv -T -- {quote(new_dir(p))} {quote(live_dir(p))}"))]

    async def check(self, ctx: Ctx) -> Check:
        live = live_dir(ctx)
        # The looks at once: the second is wanted only when the first finds
        # nothing, which is the usual case in the downtime; so is the host's
        # boot clock (below), asked with them while none is on record. Not
        # once one is: this check runs again as the step's verify, after the
        # rename, which wants no clock (issue 12).
        clock = host_boot_clock(ctx) if ctx.facts.promoted_boot is None else known_answer(None)
        found, matches, boot = await together(folder_id(ctx, live), server_folders(ctx),
                                               clock)
        if found is not None:
            if found == await new_tree(ctx):
                return Check(True, f"{live} is the new release")
            version = await install_version(ctx, live)
            raise StepFailed(f"{live} exists and holds {version or 'an unknown version'}; "
                             "backup-live has not moved it aside")
        if matches != [new_dir(ctx)]:
            listed = ", ".join(matches) or "none"
            raise StepFailed(f"expected exactly one red5pro-server-* folder in "
                             f"{install_dir(ctx)}, the unpacked {new_dir(ctx)}; found {listed}")
        # The host's boot clock, journalled with the rename's action: a server
        # the way back finds by its -Dred5.root path alone is the new release
        # only if it started after (steps.common.started_after_promote). Read here,
        # before the question: earlier only errs to the safe side (a server
        # started meanwhile is stopped), and run's first look is the rename.
        ctx.facts.promoted_boot, ctx.facts.promoted_uptime = \
            boot if boot is not None else await host_boot_clock(ctx)
        return Check(False)

    async def run(self, ctx: Ctx) -> None:
        await run_shell(ctx, self.plan(ctx.plan_context())[1:])


class StopService(Red5Step):
    id = "stop-service"
    title = "Kill the running Red5 Pro"
    phase = Phase.CUTOVER
    destructive = True
    summary = (
        "Finds the server processes of the old install (it still runs from the renamed "
        "folder): by command line, and every process in the red5pro unit's control group "
        "whatever its command line; kills them with kill -9, as the procedure does."
    )
    caution = "Under jsvc there are two processes; both go."

    def plan(self, p: Plan) -> list[Action]:
        shown = p.facts.red5_processes
        unit_only = p.facts.scratch.unit_only
        actions: list[Action] = [Shell(java_processes_command(p, unit=True),
                                       "server processes (a command line naming java, "
                                       "jsvc.exec or -Dred5.root=, and every process in the "
                                       "red5pro unit's control group, systemctl show -p "
                                       "ControlGroup) and the folder each runs from")]
        actions += [Note(f"pid {pid}: {args}" + (
            f" (in the red5pro unit's control group {unit_only[pid]}; its command line names "
            "none of java, jsvc.exec, -Dred5.root=)" if pid in unit_only else ""))
            for pid, args in shown.items()]
        if left := p.facts.scratch.unit_left:
            actions.append(Note(_unit_runs_the_new_release(
                [f"pid {pid}: {args}" for pid, args in left.items()])))
        pids = list(shown) or ["<PID>"]
        actions.append(Shell(root(p, "kill -9 " + " ".join(pids))))
        return actions

    async def _look(self, ctx: Ctx) -> tuple[list[JavaProcess], list[JavaProcess]]:
        """The old install's servers, found after the renames; and the red5pro
        unit's control group when it is left because it runs the new release.

        By working directory, which follows the old folder to bak.red5pro. A
        server whose working directory says nothing (/: started by hand, or by
        a jsvc without -cwd) has only its -Dred5.root path, which names the new
        tree once promote-new has run; but nothing has started the new tree
        before start-service, so a server placed there by its path is the old
        one too (review: it was left running, and the upgrade ended done).

        And every process in the red5pro unit's control group, whatever its
        command line: the unit started it, and the unit has run the old
        release only (facts audit 61, F12 follow-up: a server the unit ran
        under another name was left running). Unless the group runs the new
        release: the enabled unit started it when the host rebooted after
        promote-new. The group is one server, decided whole: if any of it runs
        from the new tree (as the way back tells a new server), all of it is
        left (review 62b, L1: deciding process by process spared the new JVM
        and killed the rest of its group).

        The listing, the live folder's identity and the old tree are asked at
        once: this runs three times in the downtime (check, run, verify), and
        each look is a round trip (issue 12)."""
        listing, promoted, old = await together(
            java_processes(ctx, unit=True), folder_id(ctx, live_dir(ctx)), old_tree(ctx))
        slash = listing[1]
        group = [proc for proc in listing[0] if proc.unit_group]
        if group and await started_after_promote(ctx, (group, slash), promoted):
            kept = [proc for proc in listing[0] if not proc.unit_group]
            return self._outside_the_unit((kept, slash), promoted, old), group
        found = self._outside_the_unit(listing, promoted, old)
        return found + [proc for proc in group if proc not in found], []

    @staticmethod
    def _outside_the_unit(listing: tuple[list[JavaProcess], str | None],
                          promoted: str | None, old: str | None) -> list[JavaProcess]:
        """The old install's servers known by their folders (see _look)."""
        found = running_from(listing, old)
        found += [proc for proc in running_from(listing, promoted)
                  if proc.cwd in (None, listing[1]) and proc not in found]
        return found

    async def _old_servers(self, ctx: Ctx) -> list[JavaProcess]:
        return (await self._look(ctx))[0]

    async def _old_pids(self, ctx: Ctx) -> set[int]:
        return {proc.pid for proc in await self._old_servers(ctx)}

    async def check(self, ctx: Ctx) -> Check:
        found, left = await self._look(ctx)
        ctx.facts.red5_processes = {str(proc.pid): proc.args for proc in found}
        ctx.facts.scratch.unit_only = {str(proc.pid): str(proc.unit_group) for proc in found
                                       if proc.unit_group and not proc.named}
        ctx.facts.scratch.unit_left = {str(proc.pid): proc.args for proc in left}
        if left:
            ctx.info(_unit_runs_the_new_release(left))
        if not found:
            return Check(True, "no java process runs from the old install")
        return Check(False, f"running: {', '.join(str(proc.pid) for proc in found)}")

    async def run(self, ctx: Ctx) -> None:
        # Only processes the operator saw in the plan, and that still run now:
        # a PID freed in the meantime may belong to something else.
        shown = {int(pid) for pid in ctx.facts.red5_processes}
        pids = sorted(shown & await self._old_pids(ctx))
        if not pids:
            ctx.info("the processes shown in the plan have already exited")
            return
        for pid, group in ctx.facts.scratch.unit_only.items():
            if int(pid) in pids:
                ctx.info(f"pid {pid} runs in the red5pro unit's control group {group}, though "
                         "its command line names none of java, jsvc.exec, -Dred5.root=: "
                         "killed with the rest")
        result = await ctx.sh(root(ctx, "kill -9 " + " ".join(map(str, pids))), check=False)
        if not result.ok and set(pids) & await self._old_pids(ctx):
            raise StepFailed(f"kill failed: {result.last_error_line()}")

    async def verify(self, ctx: Ctx) -> Check:
        async def none_left() -> bool:
            return not await self._old_pids(ctx)

        await wait_until(ctx, "the java processes to exit", ctx.settings.timeouts.service_stop,
                         none_left)
        return Check(True, "no java process of the old install remains")


def _unit_runs_the_new_release(left: list[JavaProcess] | list[str]) -> str:
    """What stop-service says of the red5pro unit's control group it leaves."""
    named = "; ".join(item if isinstance(item, str) else f"pid {item.pid}: {item.args}"
                      for item in left)
    return ("the red5pro unit runs the new release already (the host restarted after "
            "promote-new, and the enabled unit started it): its control group is left "
            f"whole, none of it is killed ({named})")


def _origins_waited_for(ctx: Ctx) -> str:
    """The origins recreate waits for, with how many are in service of how
    many it wants, once a look has counted them (operator trial: no count)."""
    counted = ctx.facts.scratch.origins_counted
    if counted is None:
        return "the origins to be in service"
    return f"the origins to be in service ({counted[0]} of {counted[1]})"


def _left_behind(left: list[str]) -> str:
    """What the installed unit sets that the release's unit cannot take."""
    return (f"the installed unit sets {', '.join(left)}, which the release's unit does not "
            "set (once) for service-unit to carry: set it for the new release by hand (the "
            "old unit stays as red5pro.service.bak)")


def _carrying(tuning: list[red5.Tuned] | None) -> str:
    """The host's tuning carried into the release's unit, as a clause."""
    if not tuning:
        return ""
    return f", with this host's {', '.join(map(str, tuning))} carried into it"


class ServiceUnit(Red5Step):
    id = "service-unit"
    title = "Install the new service unit"
    phase = Phase.CUTOVER
    summary = (
        "Installs the red5pro.service the new release ships (the old one stays beside it as "
        "red5pro.service.bak), reloads systemd, and proves the unit starts the Java the "
        "release needs (8 up to 8.x, 11 for 9 to 13). A release that ships no unit keeps "
        "the installed one, which must already name that Java; where its classpath names "
        "a commons-daemon jar the release does not have, it is pointed at the release's."
    )

    def _shipped(self, p: AnyContext) -> str:
        return f"{live_dir(p)}/red5pro.service"

    def _refit(self, p: AnyContext, swap: red5.Swap | None) -> str:
        """The root script that points the unit's classpath at the release's
        commons-daemon jar: edited beside, then one rename, as copy_whole."""
        unit = p.settings.unit_file
        beside = quote(unit + ".runbook-copy")
        edit = quote(red5.classpath_sed(swap)) if swap else "<the classpath edit>"
        return privileged_script(
            f"cp -p -- {quote(unit)} {beside} && sed -i -e {edit} -- {beside} && "
            f"mv -f -- {beside} {quote(unit)}", p.settings.host.sudo)

    def _install(self, p: AnyContext, tuning: list[red5.Tuned]) -> str:
        """The root script that puts the release's unit in place, with the
        host's tuning carried into it: edited beside, then one rename."""
        unit = p.settings.unit_file
        if not tuning:
            return copy_whole(p, self._shipped(p), unit)
        beside = quote(unit + ".runbook-copy")
        edits = " ".join(f"-e {quote(edit)}" for edit in red5.tuning_sed(tuning))
        return privileged_script(
            f"cp -- {quote(self._shipped(p))} {beside} && sed -i {edits} -- {beside} && "
            f"mv -f -- {beside} {quote(unit)}", p.settings.host.sudo)

    def plan(self, p: Plan) -> list[Action]:
        unit = p.settings.unit_file
        tuning = p.facts.scratch.unit_tuning
        return [
            Shell(f"test -f {quote(self._shipped(p))}", "does the release ship a unit"),
            Shell(copy_whole(p, unit, unit + ".bak", keep_times=True, unless_there=True),
                  "the old unit, kept beside; not again where a .bak is there already (an "
                  "earlier attempt's: preflight found it the same as the installed unit)"),
            Shell(self._install(p, tuning or []),
                  "where the release ships one" + (
                      _carrying(tuning) if tuning is not None
                      else "; where the installed unit's heap or open-file limit differs, "
                           "sed carries it into the copy before the rename")),
            Shell(self._refit(p, p.facts.scratch.unit_swap),
                  "where it ships none and the unit's classpath names a commons-daemon jar "
                  "the release does not have"),
            Shell(root(p, "systemctl daemon-reload")),
            Shell("<the unit's JAVA_HOME>/bin/java -version 2>&1",
                  "the Java the unit starts is the release's"),
        ]

    async def _java(self, ctx: Ctx, unit: str) -> tuple[int | None, int | None, str]:
        """(the unit's Java, the Java the release needs, its JAVA_HOME)."""
        home = red5.unit_java_home(unit) or ""
        want = red5.required_java(red5.major(ctx.facts.new_version))
        if not home:
            return None, want, home
        result = await ctx.probe(f"{quote(home + '/bin/java')} -version 2>&1")
        have = red5.java_major(result.stdout) if result.ok else None
        return have, want, home

    async def _classpath(self, ctx: Ctx, unit: str) -> red5.Classpath:
        """The installed unit set against what the new release has (red5pro
        is the new tree from promote-new on)."""
        homes = (ctx.settings.live_dir, live_dir(ctx))
        entries = red5.unit_classpath(unit, homes)
        if not entries:
            return red5.fit_classpath(unit, homes, set())
        tests = " ".join(quote(entry.inside) for entry in entries)
        listing = await ctx.probe(
            f"cd -- {quote(live_dir(ctx))} || exit 1; for f in {tests}; do "
            '[ -e "$f" ] && printf "%s\\n" "$f"; done; ls -1d commons-daemon-*.jar 2>/dev/null; '
            "true")
        if not listing.ok:
            raise StepFailed(f"cannot look into {live_dir(ctx)} for what the unit's classpath "
                             f"names: {listing.last_error_line() or 'no answer'}")
        return red5.fit_classpath(unit, homes, set(listing.stdout.split()))

    async def check(self, ctx: Ctx) -> Check:
        return await self._looked(ctx, after_run=False)

    async def _looked(self, ctx: Ctx, *, after_run: bool) -> Check:
        shipped, unit_file = self._shipped(ctx), ctx.settings.unit_file

        async def installed() -> tuple[str, tuple[int | None, int | None, str] | None]:
            """The installed unit; after the run, with the Java it starts,
            asked the moment the unit is read while the other looks go on."""
            unit = await read_remote(ctx, unit_file)
            return unit, await self._java(ctx, unit) if after_run else None

        # The looks at once: each is a round trip, and this runs twice in the
        # downtime (check, verify). The release's unit is read whole, to set
        # against the installed one up to the host's tuning. Before the run,
        # the installed unit's Java (a `java -version`, which starts a JVM) is
        # asked only where the answer decides: not where the release's unit
        # is still to install, the downtime's case (issue 12). The kept
        # unit's classpath is looked at only where the release ships none:
        # the usual case pays nothing for it.
        (unit, java), ships, release, not_loaded = await together(
            installed(), exists(ctx, shipped, "-f"),
            ctx.probe(root(ctx, f"cat -- {quote(shipped)}")), unit_not_loaded(ctx))
        if java is None and not ships:
            java = await self._java(ctx, unit)
        have, want, home = java or (None, None, "")
        if after_run and have != want:
            return Check(False, f"the unit starts {'Java ' + str(have) if have else 'no Java'} "
                         f"(JAVA_HOME={home or 'unset'}); the release needs Java {want}")
        if ships:
            if not release.ok:
                # Not installed blind: the host's tuning would be lost unsaid.
                raise StepFailed(f"cannot read {shipped} on the host: "
                                 f"{release.last_error_line() or 'no answer'}")
            # The release's unit with the host's tuning in it: before the run,
            # the installed unit's (what the run carries); after, what it carried.
            if after_run and ctx.facts.scratch.unit_tuning is not None:
                tuning = ctx.facts.scratch.unit_tuning
            else:
                tuning = red5.unit_tuning(unit, release.stdout)
                if not after_run:
                    ctx.facts.scratch.unit_tuning = tuning
            same = unit == red5.tuned_unit(release.stdout, tuning)
            if same and not after_run:
                have, want, home = await self._java(ctx, unit)
            if same and not_loaded is None and have == want:
                return Check(True, f"the release's unit is installed and loaded"
                                   f"{_carrying(tuning)}; Java {have}")
            if same and have == want and after_run:
                return Check(False, str(not_loaded))
            if tuning and not after_run:
                ctx.info(f"the installed unit sets {', '.join(map(str, tuning))}, where the "
                         "release's has "
                         f"{', '.join(t.setting + t.release for t in tuning)}: this host's "
                         "values are carried into the release's unit")
            if not after_run and (left := red5.tuning_left_behind(unit, release.stdout)):
                ctx.info(_left_behind(left))
            return Check(False)
        if have != want:
            raise StepFailed(
                f"the new release ships no red5pro.service and the installed one starts "
                f"{'Java ' + str(have) if have else 'no Java'} (JAVA_HOME={home or 'unset'}); "
                f"Red5 Pro {ctx.facts.new_version} needs Java {want}: point the unit's "
                f"JAVA_HOME at a Java {want} and run systemctl daemon-reload")
        fit = await self._classpath(ctx, unit)
        if fit.missing:
            raise StepFailed(
                f"the installed unit's classpath names {', '.join(fit.missing)} in "
                f"{ctx.settings.live_dir}, which Red5 Pro {ctx.facts.new_version} does not have: "
                "the new release would not start under it. Give the unit a classpath the "
                "release has and run systemctl daemon-reload, or go back to the old stream "
                "manager")
        if fit.unread and not after_run:
            ctx.info("the installed unit starts jsvc, but runbook cannot read its classpath: "
                     "it is kept as it is")
        edited, ctx.facts.scratch.unit_swap = ctx.facts.scratch.unit_swap, fit.swap
        if fit.swap is not None:
            if after_run:
                return Check(False, f"the unit's classpath still names {fit.swap.named}")
            ctx.info(f"the unit's classpath names {fit.swap.named}, which the new release does "
                     f"not have: it is pointed at {fit.swap.ours}")
            return Check(False)
        if not_loaded is not None:
            return Check(False, not_loaded if after_run else "")
        if after_run and edited is not None:
            kept = ctx.settings.unit_file.rsplit("/", 1)[-1] + ".bak"
            return Check(True, f"the release ships no unit; the installed one now names "
                         f"{edited.ours} and starts Java {have}; the old unit, naming "
                         f"{edited.named}, is kept as {kept}")
        return Check(True, f"the release ships no unit; the installed one starts Java {have}")

    async def run(self, ctx: Ctx) -> None:
        unit = ctx.settings.unit_file
        # A look: taken again after a drop, not an action left in doubt
        # (operator trial: the rehearsal's ssh-drop landed in it).
        ships = await ctx.probe(f"test -f {quote(self._shipped(ctx))}")
        swap = ctx.facts.scratch.unit_swap
        if ships.ok or swap is not None:
            await ctx.sh(copy_whole(ctx, unit, unit + ".bak", keep_times=True,
                                    unless_there=True))
            await ctx.sh(self._install(ctx, ctx.facts.scratch.unit_tuning or []) if ships.ok
                         else self._refit(ctx, swap))
            ctx.note(AFTER_UPGRADE, f"the old service unit stays as {unit}.bak: remove it "
                     "with the old install")
        # Also alone: a kept unit edited by hand and not reloaded yet.
        await ctx.sh(root(ctx, "systemctl daemon-reload"))

    async def verify(self, ctx: Ctx) -> Check:
        return await self._looked(ctx, after_run=True)


def _images(launch_config: dict[str, Any]) -> set[str]:
    """Every node image a launch config names: its own, and (API 4.0) each target's."""
    found = {str(launch_config["image"])} if launch_config.get("image") else set()
    targets = (launch_config.get("targets") or {}).get("target") or []
    found |= {str(t["image"]) for t in targets if isinstance(t, dict) and t.get("image")}
    return found


def _with_image(launch_config: dict[str, Any], image: str | None) -> dict[str, Any]:
    """The launch config naming `image` wherever it names one (the operator's
    [nodes] image: the upgrade docs say nothing of node images, so it is never
    assumed); unchanged without one."""
    if not image:
        return launch_config
    changed = copy.deepcopy(launch_config)
    changed["image"] = image
    for target in (changed.get("targets") or {}).get("target") or []:
        if isinstance(target, dict) and "image" in target:
            target["image"] = image
    return changed


def made_like(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """`new` is made the way the saved group `old` was: its regions, launch
    config and scale policy (what recreate's POST gives it)."""
    return (sorted(old.get("regions", [])) == sorted(new.get("regions", []))
            and old.get("launchConfig") == new.get("launchConfig")
            and old.get("scalePolicy") == new.get("scalePolicy"))


def _same_group(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """`new` stands for the saved group `old`: made the same way, and not on
    its way out (a group being deleted would take its origins with it)."""
    return not being_deleted(new) and made_like(old, new)


# What the rebuild's plan shows where it learns a value only as it runs, the way
# it shows <api-version>: the new nodegroup's name comes from the API's answer
# (operator trial: `{new}` read as a template left unfilled).
NEW_ORIGIN = "admin/nodegroup/<new nodegroup>/node/origin"
FROM_SNAPSHOT = "<from the snapshot>"


def _if_absent(name: str) -> str:
    """A launch config or scale policy is created only where the database has
    none of its name: run() keeps one that is there (operator trial 53: the
    way back's plan showed the POSTs its run skipped as "already exists")."""
    return f"{name}: only if absent (one of that name already there is kept)"


# The default scale-out threshold, every role: 5.1.1's and 6.2.0's cluster.sql
# seed 60 (FACTS §5); for 4.0 releases, whose cluster.sql no source gives,
# the AWS page's default (FACTS §1.4).
DEFAULT_THRESHOLD = 60.0


def _old_database_left(ctx: Ctx) -> str:
    """The old release's database, which nothing uses once the new stream
    manager serves from its own: what to do with it."""
    facts = ctx.facts
    port = facts.db_port or ctx.settings.new_db_port
    new = facts.new_database_at or ctx.settings.new_db_host + (f":{port}" if port else "")
    old = (f"on {facts.old_database_at}" if facts.old_database_at else
           f"named by config.dbHost and config.dbPort in {backup_dir(ctx)}/{red5.PROPERTIES}")
    return (f"the stream manager now uses the {DATABASE} database on {new} (config.dbHost and "
            f"config.dbPort of its red5-web.properties); the old release's database, {old}, "
            "is no longer used: keep it until the new release has served well enough not to "
            "go back to the old one, then remove it")


# What recreate's check, and its verify, say of a rebuild that is done.
_IN_SERVICE = "every saved nodegroup has its origins in service"


class Recreate(Red5Step):
    id = "recreate"
    title = "Recreate nodegroups and origins"
    phase = Phase.CUTOVER
    summary = (
        "Rebuilds, through the new API, the launch configs, scale policies and nodegroups "
        "saved by export-config, launches as many origins per nodegroup as before, and "
        "waits until they are in service."
    )

    # Through which release's API, with which node image: the new one's (the
    # way back rebuilds the snapshot as it was, through the old API).
    side = "new"
    # The new stream manager keeps what it creates in the new database: the
    # way back deletes its nodegroups through the new API (their nodes are
    # drained), and leaves its launch configs and scale policies; Schema
    # refuses a database that still holds nodegroups.
    after_the_way_back = (
        "the launch configs and scale policies recreate made in the new database stay there "
        "after the way back (it deletes recreate's nodegroups)")
    # Trial 58, M1: the TUI's last hint said only to drop the new database.
    the_way_back_could_not = "its nodes were left running; check the cloud's console"

    def untouched_by_the_way_back(self, facts: Red5Facts) -> bool:
        # The way back could not delete the nodegroups it made (leaves says
        # what stays then, in WAY_BACK_COULD_NOT's words).
        return bool(facts.new_nodegroups_left)

    def leaves(self, settings: Settings, facts: Red5Facts) -> Leaves:
        # Which database, as the config names it (operator trial: "drop its
        # cluster database", and not which); its port, where the config gives
        # one or a step has read it; and how, as the schema step says it, from
        # the host that reaches it with the live login, once new-database has
        # read that (README walkthrough: no command was given). -p asks for
        # the password, which is never shown.
        where, drop = new_database_drop(settings, facts)
        login = f"the live login {facts.db_user}" if facts.db_user else \
            "the live login (USER is config.dbUser of the live red5-web.properties)"
        kept = self.after_the_way_back
        if facts.new_nodegroups_left:
            # The way back could not delete them (operator trial 53): they
            # are in the new database as well, and their nodes were left.
            # Their nodes too: the old stream manager tears them down,
            # probably without a drain, or they run on (re-trial: only the step's
            # warning, long scrolled away, said to look in the cloud).
            kept = (f"{facts.new_nodegroups_left}, with the launch configs and scale "
                    "policies recreate made, stay in the new database after the way back, "
                    f"{WAY_BACK_COULD_NOT}, and the schema step refuses a "
                    "database that holds nodegroups; their nodes were left running, so once "
                    "the old release serves, look in the cloud's console that none of them "
                    "still runs")
        if facts.new_nodegroups_kept:
            # Not recreate's, so kept by the way back (trial 61, F2): in the
            # new database too, which schema refuses while it holds them.
            kept += (f"; nodegroup(s) {', '.join(facts.new_nodegroups_kept)}, not made by this "
                     "run's recreate, were kept by the way back: they stay in the new "
                     "database too, and the schema step refuses a database that holds "
                     "nodegroups; their nodes, if any, are left to the old stream manager, so "
                     "once the old release serves, look in the cloud's console")
        if drop is None:  # trial 54: never the live one
            return Leaves(f"{kept}; {names_the_live_database(where)}",
                          f"drop the {DATABASE} database of the new instance the upgrade used "
                          "first")
        return Leaves(kept, f"drop the {DATABASE} database on {where} first, "
                            f"from the stream manager host, as {login} ({drop})", drop)

    def _speaks(self, p: AnyContext) -> str | None:
        return expected_api_version(p)

    def _image(self, p: AnyContext) -> str | None:
        return p.settings.node_image

    def plan(self, p: Plan) -> list[Action]:
        found = snapshot(p)
        actions: list[Action] = []
        if found is None:
            return [Note("rebuilds what export-config saved (no snapshot yet)"),
                    p.api_call("POST", "admin/configurations/launchconfig",
                               {"launchconfig": FROM_SNAPSHOT}, why=_if_absent("each")),
                    p.api_call("POST", "admin/configurations/scalepolicy",
                               {"policy": FROM_SNAPSHOT}, why=_if_absent("each")),
                    p.api_call("POST", "admin/nodegroup", {
                        "regions": [FROM_SNAPSHOT], "launchConfig": FROM_SNAPSHOT,
                        "scalePolicy": FROM_SNAPSHOT}),
                    p.api_call("POST", NEW_ORIGIN),
                    Wait("origins in service", p.settings.timeouts.origins_inservice),
                    *self._alarms(p)]
        saved = found.data
        masked = sorted(name for kind in ("launchconfigs", "scalepolicies")
                        for name, body in saved[kind].items()
                        if secret_fields_masked(body) != body)
        if masked:
            # A line pasted by hand would post the stand-in (second review).
            actions.append(Note(f"secret fields of {', '.join(masked)} read {MASKED_FIELD} in "
                                f"these lines; runbook sends their values from {found.path}: "
                                "a line sent by hand needs them put back"))
        for name, body in saved["launchconfigs"].items():
            image = self._image(p)
            if image and _images(body) != {image}:
                actions.append(Note(f"launch config {name}: node image "
                                    f"{', '.join(sorted(_images(body))) or '(none)'} -> {image}"))
            body = _with_image(body, image)
            actions.append(p.api_call("POST", "admin/configurations/launchconfig",
                                      {"launchconfig": body}, why=_if_absent(name)))
        for name, body in saved["scalepolicies"].items():
            actions.append(p.api_call("POST", "admin/configurations/scalepolicy",
                                      {"policy": body}, why=_if_absent(name)))
        for group in saved["nodegroups"]:
            actions.append(p.api_call("POST", "admin/nodegroup", {
                "regions": group.get("regions", []), "launchConfig": group.get("launchConfig"),
                "scalePolicy": group.get("scalePolicy")}, why=f"replaces {group['name']}"))
            for _ in range(origins_to_rebuild(group)):
                actions.append(p.api_call("POST", NEW_ORIGIN))
        actions.append(Wait("origins in service", p.settings.timeouts.origins_inservice))
        return actions + self._not_carried() + self._alarms(p)

    def _not_carried(self) -> list[Action]:
        """What a nodegroup had that its rebuild does not: 5.1.1's and 6.2.0's
        create also takes type and meta, which no listing shows, so the
        snapshot has neither (FACTS-scenarios §4; facts audit 61, F9);
        export-config warns of a group's originConnections."""
        return [Note("a nodegroup's type and meta, which the API's listing does not show, "
                     "are not carried: a group made with them comes back without")]

    def _alarms(self, p: Plan) -> list[Action]:
        """The scale-out alarm thresholds, which recreate does not post: the
        new database starts with the default (DEFAULT_THRESHOLD). Where the live
        API was 3.x, export-config read them (5.1.1's and 6.2.0's
        AlarmController; facts audit 61, F13), and those that differ are
        named with the line that sets them again; a 4.0 live's docs only set
        them (FACTS §2.2), so its thresholds are the operator's to know."""
        found = snapshot(p)
        alarms = found.data.get("scaleout_alarms") if found is not None else None
        if not alarms:
            # Shown as every call is, a curl line at the new release's API
            # (facts audit 61, F7: a bare relative path before).
            line = p.curl("POST", f"{SCALEOUT_ALARM}?type=<{'|'.join(SCALEOUT_ROLES)}>"
                                  "&threshold=<percent>", version=self._speaks(p))
            return [Note("scale-out alarm thresholds stay behind: the new database starts at "
                         f"the default {DEFAULT_THRESHOLD:g} %; set a custom one again with "
                         + line)]
        differ = {role: value for role, value in alarms.items() if value != DEFAULT_THRESHOLD}
        if not differ:
            return [Note("scale-out alarm thresholds: the old stream manager had the default "
                         f"{DEFAULT_THRESHOLD:g} % for every role, as the new database has: "
                         "none to set again")]
        return [Note(f"scale-out alarm threshold of {role}: {value:g} % on the old stream "
                     f"manager, {DEFAULT_THRESHOLD:g} % in the new database; set it again "
                     "after the cutover with "
                     + p.curl("POST", f"{SCALEOUT_ALARM}?type={role}&threshold={value:g}",
                              version=self._speaks(p)))
                for role, value in differ.items()]

    def _snapshot(self, ctx: Ctx) -> dict[str, Any]:
        found = load_snapshot(ctx)
        if found is None:
            raise StepFailed(no_snapshot(ctx))
        return found

    async def _matches(self, ctx: Ctx, api: Any) -> dict[str, dict[str, Any]]:
        """Old nodegroup name -> the new nodegroup that stands for it."""
        current = await api.list_nodegroups()
        taken: set[str] = set()
        found: dict[str, dict[str, Any]] = {}
        for old in self._snapshot(ctx)["nodegroups"]:
            for new in current:
                if new["name"] not in taken and _same_group(old, new):
                    taken.add(new["name"])
                    found[old["name"]] = new
                    break
        return found

    async def _in_service(self, ctx: Ctx, api: Any) -> bool:
        """Every launch config, scale policy, nodegroup and origin of the snapshot
        exists on the new stream manager, the origins in service."""
        saved = self._snapshot(ctx)
        # The questions go out together: this runs at every look of the
        # downtime's longest wait, and how long a look takes is overshoot too.
        configs, policies, matches = await together(
            api.list_launchconfigs(), api.list_scalepolicies(), self._matches(ctx, api))
        if set(saved["launchconfigs"]) - set(configs):
            return False
        if set(saved["scalepolicies"]) - set(policies):
            return False
        if len(matches) < len(saved["nodegroups"]):
            return False
        groups = saved["nodegroups"]
        listed = await together(*(api.list_nodes(matches[old["name"]]["name"])
                                  for old in groups))
        have = want = 0
        for old, nodes in zip(groups, listed, strict=True):
            need = origins_to_rebuild(old)
            up = sum(1 for n in origins_of(nodes) if state_of(n) == "inservice")
            have, want = have + min(up, need), want + need
        ctx.facts.scratch.origins_counted = (have, want)
        return have >= want

    async def _prove(self, ctx: Ctx) -> None:
        """Before any request: the token is the serving install's (the way
        back's recreate proves it; the cutover's was proven by preflight)."""

    async def check(self, ctx: Ctx) -> Check:
        ctx.facts.scratch.origins_proved = None
        await self._prove(ctx)
        api = await ctx.api(fresh=True, old=self.side == "old")
        if await self._in_service(ctx, api):
            return Check(True, _IN_SERVICE)
        return Check(False)

    async def verify(self, ctx: Ctx) -> Check:
        # What the run's wait found a moment ago, taken once: its last look
        # asked the API just what the check would ask again, at the end of
        # the downtime (issue 12).
        proved, ctx.facts.scratch.origins_proved = ctx.facts.scratch.origins_proved, None
        if proved == self.id:
            return Check(True, _IN_SERVICE)
        return await self.check(ctx)

    def _next(self, ctx: Ctx, *, answered: bool = True) -> str:
        """Where a failed rebuild leaves the operator, and what they can do.
        `answered`: whether the API answered at all; one that did not (its
        service stopped under the step: trial 59 F10) is not said to run."""
        back = ", or roll back to the old stream manager" if self.side == "new" else ""
        if not answered:
            return (f"the {self.side} stream manager does not answer (its service may have "
                    f"stopped): look at it on the host (systemctl status red5pro, and "
                    f"{live_dir(ctx)}/log/red5.log), start it again if it stopped, then try "
                    f"the step again{back}; what this step rebuilt so far stays, and trying "
                    "again creates nothing twice")
        # Said as it is (review): a retry waits again for the origins already
        # launched rather than replacing them, and does not change a launch
        # config it finds (a corrected [nodes] image reaches only new ones).
        return (f"the {self.side} stream manager runs, and what this step rebuilt so far stays "
                "(trying again creates nothing twice: it waits again for the origins already "
                "launched, and leaves the launch configs and scale policies it made as they "
                f"are): try the step again{back}")

    async def _late_origins(self, ctx: Ctx, api: Any) -> str:
        """The saved nodegroups whose origins are not in service, and how they are."""
        matches = await self._matches(ctx, api)
        late = []
        for old in self._snapshot(ctx)["nodegroups"]:
            group = matches.get(old["name"])
            if group is None:
                late.append(f"{old['name']} has not been recreated")
                continue
            origins = origins_of(await api.list_nodes(group["name"]))
            states = [f"{n.get('identifier')} {n.get('state')}" for n in origins
                      if state_of(n) != "inservice"]
            if states or not origins:
                late.append(f"{group['name']}: {', '.join(states) or 'no origin'}")
        return "; ".join(late)

    async def run(self, ctx: Ctx) -> None:
        await self._prove(ctx)
        try:
            await self._rebuild(ctx)
        except SMApiOutcomeUnknown:
            raise
        except SMApiError as exc:
            answered = not isinstance(exc, NoApiAnswer)
            raise StepFailed(f"{str(exc).rstrip('.')}; "
                             f"{self._next(ctx, answered=answered)}") from None

    async def _rebuild(self, ctx: Ctx) -> None:
        found = snapshot(ctx)
        if found is None:
            raise StepFailed(no_snapshot(ctx))
        ctx.info(f"rebuilding from {found.describe()}")
        if self.side == "new" and ctx.facts.recreated_nodegroups is None:
            ctx.facts.recreated_nodegroups = []  # known from here on: none yet
        if self.side == "new" and ctx.facts.nodegroups_posted is None:
            ctx.facts.nodegroups_posted = []
        posted = ctx.facts.nodegroups_posted if self.side == "new" else []
        saved = found.data
        speaks = self._speaks(ctx)
        api = await ctx.api(fresh=True, old=self.side == "old")
        if speaks is not None and api.version != speaks:
            raise StepFailed(f"the stream manager answering speaks API {api.version}, not the "
                             f"{self.side} release's {speaks}; nothing is rebuilt in the wrong "
                             "database")
        if saved.get("api_version") != api.version:
            ctx.info(f"the snapshot came from API {saved.get('api_version')}; rebuilding "
                     f"through API {api.version}")
        have = set(await api.list_launchconfigs())
        for name, body in saved["launchconfigs"].items():
            if name in have:
                ctx.info(f"launch config {name} already exists")
                continue
            body = _with_image(body, self._image(ctx))
            await ctx.act(api.api_call("POST", "admin/configurations/launchconfig",
                                       {"launchconfig": body}),
                partial(api.create_launchconfig, body))
        have = set(await api.list_scalepolicies())
        for name, body in saved["scalepolicies"].items():
            if name in have:
                ctx.info(f"scale policy {name} already exists")
                continue
            await ctx.act(api.api_call("POST", "admin/configurations/scalepolicy",
                                       {"policy": body}),
                partial(api.create_scalepolicy, body))

        matches = await self._matches(ctx, api)
        for old in saved["nodegroups"]:
            group = matches.get(old["name"])
            if group is None:
                body = {"regions": old.get("regions", []), "launchConfig": old["launchConfig"],
                        "scalePolicy": old["scalePolicy"]}
                if posted is not None and old["name"] not in posted:
                    posted.append(old["name"])  # journalled as the POST's action begins
                try:
                    group = await ctx.act(
                        api.api_call("POST", "admin/nodegroup", body),
                        partial(api.create_nodegroup, old.get("regions", []),
                                old["launchConfig"], old["scalePolicy"]))
                except SMApiOutcomeUnknown:
                    raise  # made or not: the way back may find it by its making
                except SMApiError:
                    if posted is not None and old["name"] in posted:
                        posted.remove(old["name"])  # refused: nothing made
                    raise
            new_name = group["name"]
            made = ctx.facts.recreated_nodegroups
            if self.side == "new" and made is not None and new_name not in made:
                made.append(new_name)
            if posted is not None and old["name"] in posted:
                posted.remove(old["name"])
            want = origins_to_rebuild(old)
            # An origin on its way out (terminating, say) is not one launched:
            # waiting for it would wait the whole limit for nothing.
            have_origins = len(standing_origins(await api.list_nodes(new_name)))
            launched = max(0, want - have_origins)
            for _ in range(launched):
                path = f"admin/nodegroup/{new_name}/node/origin"
                await ctx.act(api.api_call("POST", path),
                              partial(api.launch_origin, new_name))
            ctx.note(NODEGROUP_RECREATED,
                     f"{old['name']} -> {new_name}: regions {', '.join(old.get('regions', []))}, "
                     f"launch config {old['launchConfig']}, scale policy {old['scalePolicy']}, "
                     f"{launched} origin(s) launched"
                     + (f", {want - launched} already there" if launched < want else ""),
                     old=old["name"], new=new_name, regions=old.get("regions", []),
                     launch_config=old["launchConfig"], scale_policy=old["scalePolicy"],
                     origins=want)

        limit = ctx.settings.timeouts.origins_inservice
        try:
            ctx.facts.scratch.origins_counted = None
            await wait_until(ctx, lambda: _origins_waited_for(ctx), limit,
                             lambda: self._in_service(ctx, api))
        except StepFailed:
            raise StepFailed(f"gave up after {limit:g}s waiting for the origins to be in "
                             f"service; not in service yet: {await self._late_origins(ctx, api)}"
                             f". {self._next(ctx).capitalize()}") from None
        ctx.note("origins-in-service", "every recreated nodegroup has its origins in service")
        # The way back's rebuild, into the old database, has none to say.
        if alarms := self._alarms(ctx.plan_context()):
            for said in alarms:
                if isinstance(said, Note):
                    ctx.note(AFTER_UPGRADE, said.text)
            # Said once the new stream manager serves, not by properties at
            # prepare time: the report keeps it for an upgrade that finished
            # only (operator trial 54, F4).
            ctx.note(AFTER_UPGRADE, _old_database_left(ctx))
        # Last: the verify that follows takes it (a note that could not be
        # journalled above ends the run before it is on record).
        ctx.facts.scratch.origins_proved = self.id
