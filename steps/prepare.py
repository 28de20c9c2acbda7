"""Prepare: everything that can be done while the live stream manager keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import os
import re
from functools import partial
from pathlib import Path
from typing import Any

from runbook.claim import sudo_trouble
from runbook.model import UPLOADED, Action, Check, EditFile, Note, Phase, Shell, Upload
from runbook.rehearsal import ON_A_REHEARSAL_HOST, SANDBOX_ENV
from runbook.shell import (
    AS_IT_WAS,
    OTHERS_CAN_WRITE,
    CommandResult,
    OutcomeUnknown,
    RemoteError,
    landing_sha256_command,
    others_can_write,
    private_folder,
    privileged_script,
    quote,
    sha256_command,
)
from runbook.smapi import (
    SCALEOUT_ALARM,
    SCALEOUT_ROLES,
    NoApiAnswer,
    Redirected,
    SMApiError,
    SMApiOutcomeUnknown,
    reads_alarms,
)
from runbook.step import CommandFailed, NotInThisRun, StepFailed
from steps import database, fleet, red5
from steps.common import (
    backup_dir,
    being_deleted,
    exists,
    folder_id,
    install_dir,
    install_version,
    java_processes,
    java_processes_command,
    kept_otherwise,
    live_dir,
    mask_licences,
    new_dir,
    new_folder,
    origins_of,
    planned_trees,
    read_bytes_command,
    read_properties,
    read_remote,
    read_remote_bytes,
    register_secrets,
    root,
    run_shell,
    running_from,
    server_folders,
    sha256_local,
    sha256_remote,
    size_remote,
    snapshot,
    standing_origins,
    stood_in_for,
    token_refusal,
    tokens_of,
    trees,
    trees_unpacked,
    uploaded,
)
from steps.facts import AnyContext, Ctx, Plan, Red5Step
from steps.fleet import fleet_now

# A rehearsal host's sessions carry its sandbox's folder (runbook.rehearsal);
# a real host's none, and this prints nothing there.
_REHEARSAL_HOST_LOOK = f'printf "%s" "${{{SANDBOX_ENV}:-}}"'

# Room for the zip (upload_dir may share the filesystem) and the tree it
# unpacks to, taken as at most twice the zip. Inferred, not a source's: no
# source gives a release's zip size beside its unpacked size (data README;
# facts audit 61, L2). Most of a release's bytes are jars, which zip cannot
# shrink again, so the tree is likely not much bigger than the zip.
_DISK_FACTOR = 3


def _upgraded_already(ctx: Ctx, version: str, live_props: dict[str, str]) -> str:
    """Said where the live install runs the zip's release already: on the
    new database, the host looks upgraded (by another run or by hand)."""
    s = ctx.settings
    live_host, live_port = database.live_address(live_props)
    if database.same_database(s.new_db_host, s.new_db_port, live_host, live_port):
        at = f"{live_host}:{live_port}" if live_port is not None else live_host
        said = (f"the live install already runs {version}, the release you are upgrading to, "
                f"on the new database ({at}): this host looks upgraded already, by another run "
                "or by hand. There is nothing to do, unless a run's cutover there has not "
                "finished (its nodegroups not recreated yet): then go on with that run's "
                "journal. Nothing was changed")
    else:
        said = (f"the live install already runs {version}, the release you are upgrading to: "
                "there is nothing to upgrade with this distribution. Nothing was changed")
    if s.sandboxed:
        said += ". To rehearse again, start a fresh rehearsal: give --sandbox a new folder, or " \
                "leave it out"
    return said


class Preflight(Red5Step):
    id = "preflight"
    title = "Preflight checks"
    phase = Phase.PREPARE
    read_only = True
    can_skip = False
    summary = (
        "Looks, and changes nothing: SSH with the trusted key, sudo without a prompt, the "
        "live install and its version, disk for the new release, a new database that is "
        "not the live one, the live stream manager's token and API version, the live "
        "controller's class in the cloud-controller jar, and the Java the new release needs."
    )

    def plan(self, p: Plan) -> list[Action]:
        s = p.settings
        live = live_dir(p)
        actions: list[Action] = [Shell("true", "SSH answers and the host key is known"),
                                 Shell(_REHEARSAL_HOST_LOOK,
                                       "a rehearsal host? (its times stand for no real run's)")]
        if s.host.sudo:
            actions.append(Shell("sudo -n true", "sudo works without a password prompt"))
        actions += [
            Shell(f"realpath -e -- {quote(s.install_dir)}",
                  "the install folder as the host resolves it; later steps use this path"),
            Shell(f"ls -1 -- {quote(live)}", "the live install exists"),
            Shell(f"cat -- {quote(live + '/conf/red5.ini')}",
                  "its version, where Red5's installer reads it (server.version)"),
            Shell(f"ls -1 -- {quote(live + '/lib')}",
                  "its version, where red5.ini gives none: the root marker, else the lib jar"),
            Shell(f"stat -L -c %d:%i -- {quote(live)}",
                  "the live folder's identity, to know its processes by"),
            Shell(java_processes_command(p), "the java processes running from it"),
            Shell(read_bytes_command(p, f"{live}/{red5.PROPERTIES}"),
                  "the live properties (secrets masked from here on)"),
            Shell(root(p, f"cat -- {quote(live + '/' + red5.APP_CONTEXT)}"),
                  "the live cloud-controller bean: its class the jar must hold, and any key "
                  "the new release's wiring of it reads that the live file does not set"),
            Shell(root(p, f"cat -- {quote(live + '/LICENSE.KEY')}"),
                  "the licence key, masked from here on: the server writes it into its log"),
            Shell(f"df -Pk -- {quote(install_dir(p))}", "free disk for the new distribution"),
            Shell(_upload_df(p), "free disk in the upload folder (or the nearest folder above "
                  "it, before upload makes it)"),
            Shell(_upload_sizes(p), "what of the files to upload is there already, where the "
                  "upload folder is on a filesystem of its own"),
            Shell("java -version 2>&1", "the Java on the PATH"),
            Shell("command -v mysql || command -v mariadb",
                  "a mysql client, for the new database"),
            Shell("command -v unzip", "unzip, for the new distribution"),
            Shell(root(p, f"cat -- {quote(s.unit_file)}"),
                  "the installed red5pro.service (a look: its lines are not journalled)"),
            Shell("<the unit's JAVA_HOME>/bin/java -version 2>&1",
                  "the Java the service will start: the new release's unit's, else the "
                  "installed one's"),
            p.api_call("GET", "admin/debug/cloudcontroller",
                       why="the API answers with the token; its version is detected"),
        ]
        return actions

    async def run(self, ctx: Ctx) -> None:
        # Each look in the plan's order; what can be put right before the
        # window is gathered and said together, what stops the look at once
        # (no host, no install, no version) raises where it is found.
        await self._reach(ctx)
        await self._rehearsal_host(ctx)
        await self._sudo(ctx)
        problems: list[str] = []
        await self._install_folder(ctx)
        folder, found = await self._live_install(ctx)
        await self._live_servers(ctx, folder)
        live_props = await self._live_properties(ctx, folder)
        self._mysql_driver(ctx, live_props, f"{folder}/{red5.PROPERTIES}")
        # Mid-cutover the install folder holds the new release, whose server
        # writes its key into the red5.log a failed start shows.
        await mask_licences(ctx, *dict.fromkeys((folder, live_dir(ctx))))
        problems += await self._new_release(ctx, found, live_props)
        live_xml = await self._live_context(ctx, folder)
        problems += self._controller_jar(ctx, live_xml)
        await self._keys_the_new_bean_reads(ctx, folder, live_xml)
        # Once a finished upgrade or an older zip is said (after one, the
        # live database is the one a config names as new), before any request.
        self._not_the_live_database(ctx, live_props, f"{folder}/{red5.PROPERTIES}")
        await self._same_token(ctx, live_props, f"{folder}/{red5.PROPERTIES}")
        problems += await self._disk(ctx)
        problems += await self._java_and_client(ctx)
        await self._live_api(ctx)
        problems += await self._compare_unit(ctx)
        if problems:
            raise StepFailed("; ".join(problems))

    async def _reach(self, ctx: Ctx) -> None:
        try:
            await ctx.sh("true", why="SSH answers")
        except OutcomeUnknown:
            raise
        except RemoteError as exc:
            # Not even connected (a refused host key, say): the host is as it
            # was, which mid-cutover is half changed, the stream manager down
            # (operator trial: "nothing there has changed", said then too).
            stands = ("the cutover begun earlier is still under way, the stream manager "
                      "down" if ctx.cutover_under_way else "nothing there has changed")
            # A refused host key ends with the known_hosts line to write, on
            # a line of its own: nothing is put after it on that line.
            said = str(exc).rstrip(".")
            then = "\n" if "\n" in said else ". "
            raise StepFailed(f"{said}{then}Nothing ran on the host, and {stands}. Once the "
                             "connection is settled, try the step again") from None

    async def _rehearsal_host(self, ctx: Ctx) -> None:
        """A run not started as a rehearsal that is on a rehearsal host (a
        config filled from the rehearsal's by hand, as the README has it):
        journalled so, for its pace is not known and its cutover's time must
        not stand for a real one's (trial 59 F5: a two-minute fake cutover
        was the next production run's estimate)."""
        found = await ctx.sh(_REHEARSAL_HOST_LOOK, check=False)
        sandbox = found.stdout.strip()
        if ctx.settings.rehearsal or not found.ok or not sandbox:
            return
        ctx.note(ON_A_REHEARSAL_HOST,
                 f"this host is a rehearsal host (sandbox {sandbox}): its fake cloud's pace is "
                 "not known here, so this run's times are no estimate for any other run",
                 sandbox=sandbox)
        ctx.no_estimate("a run on a rehearsal host, at a pace not known")

    async def _sudo(self, ctx: Ctx) -> None:
        """sudo, in the words the claim uses (claim.sudo_trouble). The claim
        meets sudo first as a rule; this look is reached with sudo failing
        where the run's claim was cut off (a look goes on unclaimed), or sudo
        went after it. It stops preflight at once: every look after it is
        root's, and the first to fail said "sudo refused" without the fix
        (review 61b, F9)."""
        if not ctx.settings.host.sudo:
            return
        result = await ctx.sh("sudo -n true", check=False)
        if result.ok:
            return
        what, to_do = sudo_trouble(result) or (
            f"sudo -n true failed ({result.last_error_line().strip() or 'no answer'})",
            "allow the SSH user password-less sudo, or set host.sudo = false if it is root")
        raise StepFailed(f"{what}: {to_do}, then try the step again. Every look after this "
                         "one is root's, so preflight stopped here; nothing was changed")

    async def _install_folder(self, ctx: Ctx) -> None:
        s = ctx.settings
        real = await ctx.sh(f"realpath -e -- {quote(s.install_dir)}", check=False, quiet=True)
        if not real.ok or not real.stdout.strip().startswith("/"):
            raise StepFailed(f"{s.install_dir} is not a folder on the host; check install.dir "
                             "in the config")
        ctx.facts.install_real = real.stdout.strip()
        if ctx.facts.install_real != s.install_dir:
            ctx.info(f"{s.install_dir} is {ctx.facts.install_real} on the host; every step "
                     "works on that path")

    async def _live_install(self, ctx: Ctx) -> tuple[str, str | None]:
        """The live install's folder (bak.red5pro, resumed mid-cutover), its
        version and identity, into the facts; with the version found there
        now (None where none is written), which a resumed run's facts may
        not be."""
        resumed = ctx.resumed
        # Only a cutover this run's journal (or this machine's record of the
        # host) began may have moved the live install aside: a resumed run
        # that began none took another run's bak.red5pro for its own (review).
        ours = ctx.cutover_under_way
        folder = live_dir(ctx)
        if ours and not await exists(ctx, folder, "-d") and await exists(
            ctx, backup_dir(ctx), "-d"
        ):
            folder = backup_dir(ctx)  # resumed mid-cutover: the old install was moved aside
        listing = await ctx.sh(f"ls -1 -- {quote(folder)}", check=False, quiet=True)
        if not listing.ok and not ours and await exists(ctx, backup_dir(ctx), "-d"):
            # A cutover begun by a run this one knows nothing of (another
            # journal, another machine): not a config mistake (operator trial).
            config = quote(os.path.abspath(ctx.settings.source))
            raise StepFailed(
                f"no live install at {live_dir(ctx)}, but {backup_dir(ctx)} is there: a cutover "
                "looks under way, begun by another run (another journal, or another machine). "
                f"Go on with that run's journal: runbook run {config} --resume --journal "
                f"JOURNAL; or go back: runbook rollback {config} --journal JOURNAL. Nothing "
                "was changed")
        if not listing.ok:
            raise StepFailed(f"no live install at {live_dir(ctx)}; check install.dir in the "
                             "config")
        if not ours and folder == live_dir(ctx) and await exists(ctx, backup_dir(ctx), "-d"):
            # Trial 59, F1: a colleague's cutover, half done, read as a
            # finished upgrade; said before anything is refused or asked.
            ctx.warn(f"{backup_dir(ctx)} is beside the live install: an earlier upgrade left "
                     "it, or another run (another machine or journal) has a cutover half done "
                     "here. Find out which before you go on")
        ini = await ctx.sh(f"cat -- {quote(folder + '/conf/red5.ini')}", check=False,
                           quiet=True)
        lib = await ctx.sh(f"ls -1 -- {quote(folder + '/lib')}", check=False, quiet=True)
        found = red5.installed_version(listing.stdout.splitlines(), lib.stdout.splitlines(),
                                       ini.stdout if ini.ok else None)
        # A resumed run keeps the version the first run saw before anything moved.
        live_version = (ctx.facts.live_version if resumed else None) or found
        if live_version is None:
            raise StepFailed(f"{folder} has no conf/red5.ini with a server.version, no "
                             "red5pro-server-*-release marker and no "
                             "lib/red5pro-X.Y.Z.N-RELEASE.jar, so its version is unknown; every "
                             "later check compares versions, so runbook stops")
        if red5.before_api_3(live_version):
            raise StepFailed(
                f"the live install is Red5 Pro {live_version}, older than 5.1, the first "
                "release whose Stream Manager API runbook knows (3.0). Releases up to 4.5 "
                "serve API 2.0, and before API 3.0 launch configs and scale policies were "
                "files, not API objects (the procedure's step 7): runbook does not carry them "
                "over. Nothing was changed; upgrade this stream manager by hand")
        ctx.facts.live_version = live_version
        if found in (None, live_version):
            ctx.info(f"live install: {folder}, version {live_version}")
        else:  # resumed mid-cutover: the new release went live there
            ctx.info(f"{folder} holds {found} now; the old release, recorded before the "
                     f"cutover, is {live_version}")
        if not (resumed and ctx.facts.live_tree):
            identity = await ctx.sh(f"stat -L -c %d:%i -- {quote(folder)}", check=False,
                                    quiet=True)
            if not identity.ok:
                raise StepFailed(f"cannot read the identity of {folder}: "
                                 f"{identity.last_error_line()}")
            ctx.facts.live_tree = identity.stdout.strip()
        return folder, found

    async def _live_servers(self, ctx: Ctx, folder: str) -> None:
        """Which java processes run from the live install now: what
        stop-service will stop in the cutover (it looks again then). Not once
        a cutover is under way: the live install has moved aside, and the
        folder holds the new release (second review)."""
        if ctx.cutover_under_way:
            return
        found = running_from(await java_processes(ctx), ctx.facts.live_tree)
        if found:
            pids = ", ".join(str(process.pid) for process in found)
            ctx.info(f"running from {folder}: pid {pids}")
        else:
            # Trial 59, F1: the old java killed by another run's cutover.
            ctx.warn(f"no java process runs from {folder} now: the live stream manager is not "
                     "running. If nobody stopped it on purpose, another run may have a "
                     "cutover half done here; find out before you go on")

    async def _live_properties(self, ctx: Ctx, folder: str) -> dict[str, str]:
        live_props = await read_properties(ctx, f"{folder}/{red5.PROPERTIES}")
        register_secrets(ctx, live_props)
        ctx.facts.instance_prefix = live_props.get("instancecontroller.instanceNamePrefix", "")
        return live_props

    async def _live_context(self, ctx: Ctx, folder: str) -> str | None:
        """The live install's applicationContext.xml, read once for the two
        looks at its controller bean; None mid-cutover (the install folder
        may hold the new release) or where it cannot be read (carry-over,
        which needs it, says why)."""
        if ctx.cutover_under_way:
            return None
        looked = await ctx.probe(root(ctx, f"cat -- {quote(f'{folder}/{red5.APP_CONTEXT}')}"))
        return looked.stdout if looked.ok else None

    async def _keys_the_new_bean_reads(self, ctx: Ctx, folder: str,
                                       live_xml: str | None) -> None:
        """Ahead of the window, what the properties step will ask for beyond
        the usual (facts audit 57b H1): keys the new release's cloud-controller
        bean reads (the live install's bean, as the zip's applicationContext.xml
        wires it) that neither the live file nor the template sets, and whether
        the decisions file decides them. Said only; the properties step asks.
        Where a file cannot be read, nothing: the steps that need it say why."""
        from runbook.properties import (
            Decisions,
            DecisionsError,
            PropertiesError,
            decode_properties,
            names,
            review,
        )
        from steps.properties_step import added_for_the_bean, overrides

        s = ctx.settings
        if live_xml is None or not s.distribution.is_file():
            return
        template = red5.shipped_template(s.distribution)
        shipped_xml = red5.shipped_template(s.distribution, red5.APP_CONTEXT)
        if template is None or shipped_xml is None:
            return
        new_xml = shipped_xml[0].decode("utf-8", "replace")
        needs, read_before = red5.new_bean_reads(live_xml, new_xml)
        if not needs:
            return
        live_path = f"{folder}/{red5.PROPERTIES}"
        try:
            result = review(decode_properties(await read_remote_bytes(ctx, live_path), live_path),
                            decode_properties(*template), needs=needs, overrides=overrides(ctx),
                            read_before=read_before)
        except (PropertiesError, StepFailed):
            return
        said = added_for_the_bean(result)
        if not said:
            return
        added = result.unset_in_the_live_file
        if s.decisions is not None:
            try:
                Decisions.load(s.decisions).apply(result)
            except DecisionsError:
                pass  # said where the run reads it
            else:
                left = [key for key in added if result[key].is_open]
                said += (f"; {s.decisions} decides {'them' if len(added) > 1 else 'it'}"
                         if not left else
                         f"; {s.decisions} does not decide {names(left)}, so the properties "
                         "step will ask (`runbook diff ... --contexts LIVE_XML NEW_XML` writes "
                         "the decision ahead)")
        ctx.info(said)

    def _mysql_driver(self, ctx: Ctx, live_props: dict[str, str], where: str) -> None:
        """The live stream manager uses MySQL, which runbook's client and
        cluster.sql speak (facts audit 60b, M3: one on PostgreSQL failed in
        new-database, worded as network or login trouble). Not looked at
        mid-cutover: one that got that far began on MySQL."""
        if ctx.cutover_under_way:
            return
        refused = database.driver_refusal(live_props, where)
        if refused:
            raise StepFailed(refused)

    def _not_the_live_database(self, ctx: Ctx, live_props: dict[str, str], where: str) -> None:
        """[new_database] is not the live stream manager's database (trial 54:
        its fleet was taken for an earlier attempt's leftovers, and a DROP
        DATABASE printed for production's)."""
        if ctx.cutover_under_way:
            # The folder may hold the new release's file by now, which names
            # the new database; database.login looks at the old one's.
            return
        ctx.facts.live_db_host, ctx.facts.live_db_port = database.live_address(live_props)
        refused = database.live_database_refusal(
            ctx.settings.new_db_host, ctx.settings.new_db_port, live_props, where,
            database.config_file(ctx.settings))
        if refused:
            raise StepFailed(refused)

    async def _same_token(self, ctx: Ctx, live_props: dict[str, str], where: str) -> None:
        """The token given is the live file's rest.administratorToken, before
        any request carries it (trial 54: another stream manager's base_url
        and token passed, and its fleet was deleted). Compared in constant
        time; neither is shown."""
        given = "at its prompt" if ctx.settings.token_typed else f"in ${ctx.settings.token_env}"
        tokens = tokens_of(live_props)
        if ctx.cutover_under_way:
            # Resumed mid-cutover: the old release's file or the new one's,
            # whichever serves (the merge copies the live token across).
            other = backup_dir(ctx) if where.startswith(live_dir(ctx) + "/") else live_dir(ctx)
            try:
                more = tokens_of(await read_properties(ctx, f"{other}/{red5.PROPERTIES}"))
            except (StepFailed, RemoteError):
                more = []  # not there (yet, or any more): the one read decides
            for token in more:
                ctx.add_secret(token, name="rest.administratorToken")
            tokens += more
        if not tokens:
            raise StepFailed(
                f"rest.administratorToken is blank in the live {where}: the stream manager "
                "then refuses every admin call, so runbook could not save, delete or rebuild "
                "its nodegroups. Nothing on the host has changed; set a token there and "
                "restart the stream manager before the window (it reads it only as it "
                f"starts), then give runbook the same one {given}")
        if ctx.cutover_under_way:
            stands = "the cutover begun earlier is still under way"
            again = ("start runbook again (the token is read once, as it starts; --resume "
                     "goes on from here)")
        else:
            stands = "nothing on the host has changed"
            again = "start runbook again (the token is read once, as it starts)"
        refused = token_refusal(ctx, tokens, where, stands, again)
        if refused:
            # Read once, as runbook starts, as [api] base_url is: only a new
            # start mends it, so no try again is offered (trial 56 F3).
            raise NotInThisRun(refused)

    async def _new_release(self, ctx: Ctx, found: str | None,
                           live_props: dict[str, str]) -> list[str]:
        """The zip and jar on this machine: there, readable, a newer release
        this procedure upgrades to; and nothing of an earlier upgrade in the
        way on the host. `found`: the version the live install runs now."""
        s = ctx.settings
        resumed, live_version = ctx.resumed, ctx.facts.live_version
        # Read inside the zip when its name does not say it (an account
        # download's red5pro-server-us-<uuid>.zip); a zip not here yet is
        # said below, with what else is missing.
        for local in (s.distribution, s.cloud_controller):
            try:
                local.open("rb").close()
            except FileNotFoundError:
                pass  # said below, with what else is missing
            except OSError as exc:
                # Bad-input trial: an unreadable zip was said to hold no release.
                raise StepFailed(f"{local} cannot be read on this machine "
                                 f"({exc.strerror or exc}); give runbook read access to "
                                 "it") from None
        new_version = red5.zip_version(s.distribution)
        if new_version is None and s.distribution.is_file():
            raise StepFailed(f"{s.distribution} says no release: not in its name, and it holds "
                             "no conf/red5.ini, root marker or lib/red5pro-*-RELEASE.jar; is it "
                             "the Red5 Pro server distribution?")
        ctx.facts.new_version = new_version
        # Before its cutover a resumed run looks at the host as it is now:
        # another run may have upgraded it since (trial 60, F15: told to give
        # [new_database] another address, the live one's being it).
        if new_version is not None and not ctx.cutover_under_way and found == new_version:
            raise NotInThisRun(_upgraded_already(ctx, new_version, live_props))
        if not resumed and red5.older(new_version, live_version):
            raise StepFailed(f"{s.distribution.name} is {new_version}, older than the live "
                             f"{live_version}: this procedure upgrades, it does not go back")
        # Until the cutover begins, a resumed run looks too: something left in
        # backup-live's way since the first run was found only once every
        # nodegroup was gone (operator trial). From then on, they are its own.
        problems = [] if ctx.cutover_under_way else await self._leftovers(ctx)
        for local in (s.distribution, s.cloud_controller):
            if not local.is_file():
                problems.append(f"{local} is not on this machine; download it first")
        if s.distribution.is_file() and s.distribution.stat().st_size:
            try:
                ctx.facts.new_top, ctx.facts.new_flat = red5.layout(s.distribution)
            except ValueError as exc:
                problems.append(str(exc))
            refused = red5.not_for_this_procedure(s.distribution)
            if refused:
                problems.append(refused)
        return problems

    def _controller_jar(self, ctx: Ctx, live_xml: str | None) -> list[str]:
        """The jar is not another cloud's: the bean the live install runs,
        which carry-over activates in the new release, is in it, or at least
        no other cloud's is (trial 57, F10: a jar of another cloud passed
        until start-service, after the nodegroups were deleted; review 57c M2:
        where it holds no known controller, warned of, not refused). Not once
        a cutover is under way (no `live_xml`): the jar is in place by then,
        and the install folder may hold the new release."""
        jar = ctx.settings.cloud_controller
        if live_xml is None or not jar.is_file():
            return []  # a jar not here is said with the distribution
        bean = red5.active_controller(live_xml)
        if bean == red5.DUMMY_CONTROLLER:
            # Carry-over keeps it, and start-service refuses a release on it:
            # the run could only fail, in the downtime.
            return [f"the live install runs the Dummy cloud controller ({red5.APP_CONTEXT}), "
                    "which launches no node: carried over, the new stream manager could not "
                    "rebuild the fleet, and start-service refuses it. Put the live install on "
                    "its cloud's controller first, or upgrade it by hand"]
        found = red5.jar_check(jar, bean, database.config_file(ctx.settings))
        if found is None:
            return []
        if found.refuses:
            return [found.text]
        ctx.note("controller-jar-unread", found.text, warning=True)
        return []

    async def _disk(self, ctx: Ctx) -> list[str]:
        s = ctx.settings
        size = s.distribution.stat().st_size if s.distribution.is_file() else 0
        df = await ctx.sh(f"df -Pk -- {quote(install_dir(ctx))}", check=False)
        free_kb = _free_kb(df.stdout)
        need_kb = size * _DISK_FACTOR // 1024
        if free_kb is None:
            return [f"could not read the free disk space of {s.install_dir}"]
        if not need_kb:  # no zip here (a problem already), no size to speak of
            return []
        room = (f"{s.install_dir} has {free_kb // 1024} MiB free; the new distribution "
                f"needs about {-(-need_kb // 1024)} MiB")  # rounded up: never "0 MiB"
        upload = await self._upload_disk(ctx, _mount_of(df.stdout))
        # The same words either way: a refusal, or what preflight found.
        if free_kb < need_kb:
            return [room, *upload]
        ctx.info(room)
        return upload

    async def _upload_disk(self, ctx: Ctx, install_mount: str | None) -> list[str]:
        """Room for the files upload sends in [install] upload_dir, where that
        is a filesystem apart from [install] dir's, which _disk counted both
        on (trial 59 F11: /tmp a small tmpfs, preflight passed and upload
        failed on a full disk). What is there of them already counts as sent."""
        files = _uploaded_files(ctx)
        if len(files) < 2:  # a file missing here: a problem said already
            return []
        folder = ctx.settings.upload_dir
        df = await ctx.sh(_upload_df(ctx), check=False)
        free_kb = _free_kb(df.stdout)
        if free_kb is None:
            return [f"could not read the free disk space of {folder}"]
        if _mount_of(df.stdout) == install_mount:
            return []
        there = await ctx.sh(_upload_sizes(ctx), check=False)
        had = [int(n) for n in there.stdout.split() if n.isdigit()] if there.ok else []
        sizes = [f.stat().st_size for f in files]
        need_kb = max(0, sum(sizes) - (sum(had) if len(had) == len(sizes) else 0)) // 1024
        if not need_kb:
            return []
        room = (f"{folder} has {free_kb // 1024} MiB free; upload sends about "
                f"{-(-sum(sizes) // (1 << 20))} MiB there")
        if free_kb < need_kb:
            return [room]
        ctx.info(room)
        return []

    async def _java_and_client(self, ctx: Ctx) -> list[str]:
        java = await ctx.sh("java -version 2>&1", check=False)
        ctx.facts.java = red5.java_major(java.stdout)
        client = await ctx.sh("command -v mysql || command -v mariadb", check=False)
        # (Facts audit 60b: without unzip a minimal host failed at unpack, after
        # both uploads.)
        unzip = await ctx.sh("command -v unzip", check=False)
        missing = []
        if not client.ok:
            missing.append("the host has no mysql client, which new-database and schema use: "
                           "install one (Debian/Ubuntu: apt-get install default-mysql-client)")
        if not unzip.ok:
            missing.append("the host has no unzip, which unpack uses: install it (Debian/Ubuntu: "
                           "apt-get install unzip)")
        return missing

    async def _live_api(self, ctx: Ctx) -> None:
        """The live API answers the token; its version and controller, into
        the facts. Mid-cutover it may be down, or be the new release's."""
        ctx.facts.scratch.api_silent = False
        ctx.facts.scratch.api_answering = None
        ctx.facts.scratch.api_failing = None
        # The version the live release serves (FACTS section 2.1's table):
        # one that answers another is another stream manager (trial 54).
        serves = red5.api_version(ctx.facts.live_version)
        try:
            api = await ctx.api(expecting=serves)
            controller = await ctx.act(
                api.api_call("GET", "admin/debug/cloudcontroller"),
                api.cloud_controller)
        except Exception as exc:
            if not ctx.cutover_under_way:
                if isinstance(exc, SMApiError) and not isinstance(exc, SMApiOutcomeUnknown):
                    raise StepFailed(_api_refused(exc, rehearsal=ctx.settings.rehearsal,
                                                  config=os.path.abspath(ctx.settings.source))) \
                        from None
                raise
            if not isinstance(exc, SMApiError):
                raise  # runbook's own fault, not the stream manager's silence
            if isinstance(exc, NoApiAnswer):
                # Resumed during cutover: the stream manager is expected to be down.
                ctx.info(f"the Stream Manager API does not answer, as expected mid-cutover "
                         f"({exc})")
                ctx.facts.scratch.api_silent = True
                return
            # An answer, with an error: something serves there (code review:
            # an HTTP 500 was said as the silence of a stopped stream manager).
            ctx.facts.scratch.api_failing = f"HTTP {exc.status}" if exc.status else "an error"
            ctx.info(f"the Stream Manager API answers with an error, where a stopped one would "
                     f"not answer at all: {str(exc).rstrip('.')}. If it is this host's stream "
                     "manager, starting or failing, the steps ahead stop or restart it as they "
                     "go on (start-service waits for the new release to answer); if [api] "
                     f"base_url in {os.path.abspath(ctx.settings.source)} names another stream "
                     "manager, quit, give it this host's, and start runbook again with --resume")
            return
        self._the_live_release_answers(ctx, api.version, serves)
        recorded = ctx.facts.api_version if ctx.resumed and ctx.cutover_under_way else None
        if recorded and recorded != api.version:
            ctx.facts.scratch.api_answering = api.version
            # Resumed mid-cutover with the new release serving: the old
            # release's API, recorded before anything moved, is the one
            # the way back must hear again (operator trial: this run's
            # answer replaced it, and the way back waited for an old
            # release speaking the new API).
            ctx.info(f"the API answering now speaks {api.version}, the new release's; "
                     f"the old release's {recorded}, recorded before the cutover, stands")
            return
        # The live stream manager took the token: mid-cutover too, resumed
        # before the old release was stopped (operator trial: a 401 from the
        # new one then said no stream manager had taken it, and to quit).
        ctx.facts.scratch.token_taken = True
        ctx.facts.api_version = api.version
        if not (ctx.cutover_under_way and ctx.facts.controller):
            # Mid-cutover the answer may be the new release's, at the same API
            # version: the live controller, recorded before, is what
            # start-service compares with (review 57c, H0: a resume took the
            # new release's other cloud for the live one's, and passed it).
            ctx.facts.controller = controller
        ctx.note("live-api", f"Stream Manager API {api.version} answers; cloud "
                 f"controller: {controller}", api_version=api.version)

    def _the_live_release_answers(self, ctx: Ctx, answers: str | None,
                                  serves: str | None) -> None:
        """The API answering speaks the version the live release serves (mid-
        cutover, the new release's may answer instead); where Red5's table
        names none (5.2.0), there is nothing to compare."""
        s = ctx.settings
        allowed = {serves}
        if ctx.cutover_under_way:
            allowed.add(red5.api_version(ctx.facts.new_version))
        if serves is None or answers in allowed:
            return
        config = os.path.abspath(s.source)
        stands = "the cutover begun earlier is still under way" if ctx.cutover_under_way \
            else "nothing on the host has changed"
        raise StepFailed(
            f"the Stream Manager API at {s.api_base_url} answers version {answers}, and the "
            f"live install here, Red5 Pro {ctx.facts.live_version}, serves {serves}: [api] "
            f"base_url in {config} is another stream manager's (or [api] version is not the "
            f"live release's). Only read-only calls were sent, and {stands}; give [api] "
            "base_url this host's stream manager, then start runbook again")

    async def _leftovers(self, ctx: Ctx) -> list[str]:
        """Folders from an earlier upgrade that cutover would trip over, found
        now rather than after every nodegroup is gone."""
        problems = []
        # Anything by that name, a symlink to nothing too: `test -e` follows a
        # link, and backup-live's rename fails on a dangling one as on a folder
        # (safety review: found only once every nodegroup was deleted).
        if await exists(ctx, backup_dir(ctx)) or await exists(ctx, backup_dir(ctx), "-L"):
            problems.append(f"{backup_dir(ctx)} already exists (an earlier backup?); backup-live "
                            "needs that name: move it elsewhere before the window")
        ours = new_dir(ctx)
        others = [folder for folder in await server_folders(ctx) if folder != ours]
        if others:
            problems.append(f"other red5pro-server-* folders are in {install_dir(ctx)} "
                            f"({', '.join(others)}); promote-new needs exactly one: move them")
        # service-unit keeps the installed unit as .bak only where no .bak is
        # there yet (a retry must not save the new unit over the old one), and
        # the way back puts back whatever .bak holds: one left by an earlier
        # upgrade would give the old release that upgrade's unit, not its own.
        unit = ctx.settings.unit_file
        kept = unit + ".bak"
        # service-unit runs after promote-new, when a link into the live
        # install (as `systemctl link` makes) leads into the new one: it would
        # keep the new unit as the .bak and lose the old one (safety review).
        # Root's look: the unit's folder may be closed to the SSH user (code review).
        link = await ctx.probe(privileged_script(
            f"test -L {quote(unit)} && readlink -f -- {quote(unit)}", ctx.settings.host.sudo))
        if link.ok and link.stdout.strip():
            target = link.stdout.strip()
            problems.append(f"{unit} is a symlink to {target}; service-unit keeps the installed "
                            "unit beside it as .bak and puts the release's in its place, which "
                            "a link would lead elsewhere: make it a plain file before the window "
                            f"(sudo cp --remove-destination -- {quote(target)} {quote(unit)}, "
                            "then sudo systemctl daemon-reload)")
        if await exists(ctx, kept, as_root=True) and (
                (backup := await sha256_remote(ctx, kept, as_root=True)) is None
                or backup != await sha256_remote(ctx, unit, as_root=True)):
            problems.append(f"{kept} already exists and is not the installed unit (an earlier "
                            "upgrade's?); service-unit keeps the installed one under that name "
                            "and a rollback puts it back from there: move it elsewhere before "
                            "the window")
        return problems

    async def _unit_changes(self, ctx: Ctx, installed: str, shipped: str) -> list[str] | None:
        """What the host changed in its unit that the new release's drops,
        set against the unit the old release ships at its root; None where
        it ships none (before 9.0 the operator writes it: nothing tells a
        line added from one the install page gave)."""
        old, _new = await trees(ctx)
        released = await ctx.probe(root(ctx, f"cat -- {quote(old + '/red5pro.service')}"))
        if not released.ok:
            return None
        return red5.unit_changes_left(installed, released.stdout, shipped)

    async def _compare_unit(self, ctx: Ctx) -> list[str]:
        """The Java the service will start once cutover installs the new release's
        unit (or keeps the installed one, when the release ships none) must be
        on the host already: installing a JDK is no job for the window."""
        s = ctx.settings
        if not s.distribution.is_file() or not ctx.facts.new_top:
            # Which unit the release brings, so which Java it starts, is in the
            # zip: judging the installed unit instead gave wrong advice (operator
            # trial). A zip missing or unreadable is a problem of its own already.
            return []
        # A look as root, not a journalled command: a unit may keep a secret
        # in its Environment= that no setting names to mask (second review),
        # and root's to read alone (0600).
        installed = await ctx.probe(root(ctx, f"cat -- {quote(s.unit_file)}"))
        inside = "" if ctx.facts.new_flat else f"{ctx.facts.new_top}/"
        shipped = red5.zip_member(s.distribution, f"{inside}red5pro.service")
        if shipped is not None:
            unit, which = shipped.decode("utf-8", errors="replace"), "the new release's unit"
            # service-unit installs it as shipped (but the host's tuning), and a
            # real zip's unit names /usr/local/red5pro (FACTS §3): with another
            # [install] dir the new server would not start, found only in the
            # downtime (facts audit 61, F11). The configured path or the one
            # it resolves to.
            ours = {s.live_dir.rstrip("/"), live_dir(ctx)}
            if elsewhere := [path for path in red5.unit_install_paths(unit)
                             if path.rstrip("/") not in ours]:
                return [f"the new release's red5pro.service runs the server from "
                        f"{' and '.join(elsewhere)}, but [install] dir puts red5pro at "
                        f"{s.live_dir}: installed as it ships, it would not start the new "
                        "release. Before the window, edit those paths in the zip's unit, or "
                        "set [install] dir to the folder it names"]
            # What Red5's installers tune in it, the installed unit's values.
            tuning = red5.unit_tuning(installed.stdout, unit) if installed.ok else []
            tuned = ", ".join(map(str, tuning))
            if installed.ok and installed.stdout == red5.tuned_unit(unit, tuning):
                # A run resumed after service-unit (operator trial: "will
                # install"), or a unit the same but for this host's tuning
                # (re-trial: said to be the release's, untrue in those).
                kept = f", with this host's {tuned} in it" if tuning else ""
                ctx.info(f"{s.unit_file} already is the red5pro.service the new release ships"
                         f"{kept}")
            else:
                carried = f", this host's {tuned} carried into it" if tuning else ""
                ctx.info(f"service-unit will install the red5pro.service the new release "
                         f"ships{carried} (the installed one is kept as red5pro.service.bak)")
                if installed.ok and (left := red5.tuning_left_behind(installed.stdout, unit)):
                    # Before the window, and in the report (second review:
                    # a heap the release's unit does not set went unsaid).
                    ctx.note("unit-tuning-left", f"warning: the installed unit sets "
                             f"{', '.join(left)}, which the new release's unit does not set "
                             "(once) for service-unit to carry: plan to set it for the new "
                             "release by hand after the cutover", warning=True)
                changed = await self._unit_changes(ctx, installed.stdout, unit) \
                    if installed.ok else []
                if changed is None:
                    # Said, not warned: every install before 9.0 is so (second
                    # review: the README promised what preflight cannot tell).
                    ctx.info("the old release ships no red5pro.service to set the installed "
                             "one against, so runbook cannot tell what was added to it by hand "
                             "(an Environment= or a -D flag): compare it, kept as "
                             "red5pro.service.bak, with the new one after the cutover")
                elif changed:
                    ctx.note("unit-changes-left", f"warning: the installed unit has "
                             f"{', '.join(changed)}, which its release did not ship and the "
                             "new release's unit does not have. service-unit does not carry "
                             "them (the old unit stays as red5pro.service.bak): plan to set "
                             "again by hand after the cutover those the new release needs",
                             warning=True)
        elif installed.ok:
            unit, which = installed.stdout, f"the installed {s.unit_file}"
            ctx.info("the new release ships no red5pro.service: the installed unit stays")
            fit = red5.fit_classpath(unit, (s.live_dir, live_dir(ctx)),
                                     red5.zip_names(s.distribution, inside))
            if fit.unread:
                ctx.note("unit-classpath-unread", f"warning: the installed unit starts jsvc, "
                         "but runbook cannot read its classpath: make sure it names the "
                         f"commons-daemon jar Red5 Pro {ctx.facts.new_version} ships before "
                         "the window", warning=True)
            if fit.missing:
                return [f"the new release ships no red5pro.service, and the installed unit's "
                        f"classpath names {', '.join(fit.missing)} in {s.live_dir}, which "
                        f"Red5 Pro {ctx.facts.new_version} does not have: under that unit the "
                        "new release would not start, and runbook mends only the commons-daemon "
                        "jar of a classpath. Upgrade to a release that ships its own "
                        "red5pro.service, or by hand"]
            if fit.swap is not None:
                ctx.info(f"service-unit will point the installed unit's classpath at "
                         f"{fit.swap.ours}, which Red5 Pro {ctx.facts.new_version} ships in "
                         f"place of {fit.swap.named} (the unit as it was is kept as "
                         "red5pro.service.bak)")
        else:
            return [f"there is no {s.unit_file} and the new release ships none"]
        home = red5.unit_java_home(unit)
        want = red5.required_java(red5.major(ctx.facts.new_version))
        if not home:
            ctx.note("unit-java-unknown", f"warning: {which} sets no JAVA_HOME; Red5 Pro "
                     f"{ctx.facts.new_version} needs Java {want}", warning=True)
            return []
        result = await ctx.sh(f"{quote(home + '/bin/java')} -version 2>&1", check=False,
                              quiet=True)
        have = red5.java_major(result.stdout) if result.ok else None
        if want is not None and have != want:
            found = f"Java {have}" if have else "no Java"
            return [f"{which} starts Java from JAVA_HOME={home}, and the host has {found} "
                    f"there; Red5 Pro {ctx.facts.new_version} needs Java {want}: install "
                    f"Java {want} at {home} before the window"]
        ctx.info(f"{which} starts Java {have} from {home}, as {ctx.facts.new_version} needs")
        return []

    async def verify(self, ctx: Ctx) -> Check:
        # Mid-cutover red5pro may hold the new release already: the release
        # kept for the way back is the old one, not the live one (operator trial).
        old = "old" if ctx.cutover_under_way else "live"
        versions = f"{old} {ctx.facts.live_version}, new {ctx.facts.new_version}"
        if ctx.facts.scratch.api_silent:
            # The version the earlier run saw is no proof the API answers now
            # (operator trial: "API 3.1" with the stream manager down).
            return Check(True, f"{versions}; the API does not answer, as expected mid-cutover")
        if ctx.facts.scratch.api_failing:
            return Check(True, f"{versions}; the API answers with an error "
                               f"({ctx.facts.scratch.api_failing}), mid-cutover")
        answering = ctx.facts.scratch.api_answering
        if answering:  # the new release's, mid-cutover: not the version kept (review)
            return Check(True, f"{versions}; API {answering} answers (the new release's), "
                               f"{ctx.facts.api_version} kept for the way back")
        return Check(True, f"{versions}, API {ctx.facts.api_version}")


def _api_refused(exc: SMApiError, *, rehearsal: bool, config: str) -> str:
    said = f"{str(exc).rstrip('.')}. Nothing on the host has changed (preflight only looks)"
    if isinstance(exc, NoApiAnswer) and not rehearsal:
        # Before the window the live stream manager serves: no answer there is
        # most often the config's address (operator trial 57, F12: one port
        # off, told to wait for an API that answered elsewhere).
        return (f"{said}; check [api] base_url in {config} and that the live stream "
                "manager runs there. The config is read once: after changing it, quit and "
                "start again with --resume")
    if isinstance(exc, Redirected):
        # It says what to set (review 61, F2); the config is read once.
        return (f"{said}; after changing {config}, quit and start again with --resume")
    if exc.status == 401 and rehearsal:
        # Its own token, made by the rehearsal host: nothing to export.
        return f"{said}; try the step again"
    if exc.status == 401:
        return (f"{said}; once the token is right, try the step again (a token from the "
                "environment is read when runbook starts: for another one, quit and start "
                "again with --resume)")
    return f"{said}; once the API answers, try the step again"


def _upload_df(p: AnyContext) -> str:
    """df of [install] upload_dir: before upload has made it, of the nearest
    folder above it that is there."""
    return (f'd={quote(p.settings.upload_dir)}; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); '
            'done; df -Pk -- "$d"')


def _uploaded_files(p: AnyContext) -> list[Path]:
    return [f for f in (p.settings.distribution, p.settings.cloud_controller) if f.is_file()]


def _upload_sizes(p: AnyContext) -> str:
    """The sizes of the files upload sends as the host has them (none: not there)."""
    return ("stat -c %s -- " + " ".join(quote(uploaded(p.settings, f))
                                         for f in (p.settings.distribution,
                                                   p.settings.cloud_controller))
            + " 2>/dev/null")


def _mount_of(df_output: str) -> str | None:
    """Where the filesystem `df -P` looked at is mounted (its last column)."""
    lines = df_output.strip().splitlines()
    return lines[-1].split()[-1] if len(lines) > 1 and lines[-1].split() else None


def _room(size: int) -> str:
    """A size as df's room is said: KiB below one MiB (never "0 MiB" for some)."""
    if size < 1 << 20:
        return f"{-(-size // 1024)} KiB"
    return f"{-(-size // (1 << 20))} MiB"


def _free_kb(df_output: str) -> int | None:
    lines = df_output.strip().splitlines()
    try:
        return int(lines[-1].split()[3])
    except (IndexError, ValueError):
        return None


class NewDatabase(Red5Step):
    id = "new-database"
    title = "Reach the new database"
    phase = Phase.PREPARE
    read_only = True
    summary = (
        "Logs in to the new autoscaling database from the stream manager host, with the "
        "live install's config.dbUser and config.dbPass (the new instance has the same "
        "credentials), and says whether its cluster database exists and is empty, and "
        "whether it allows as many connections as the live one (max_connections). The "
        "password reaches the client on its stdin, as an option file read from that pipe: "
        "never on a command line, never on the host's disk."
    )

    def plan(self, p: Plan) -> list[Action]:
        return [
            Shell(database.query(p, "SELECT 1"), "the live login is accepted"),
            Shell(database.query(p, f"SHOW DATABASES LIKE '{database.DATABASE}'"),
                  "does the cluster database exist"),
            Shell(database.query(p, _MAX_CONNECTIONS),
                  "before the cutover: how many connections the new database allows"),
            Shell(self._live_connections(p),
                  "and the live database, with the same login: the new one should allow "
                  "as many"),
            Shell(database.query(p, _LIST_TABLES), "and which tables it has"),
            Shell(database.query(p, _COUNT_NODEGROUPS),
                  "before the cutover, when node_group is one of them: nodegroups, launch "
                  "configs and scale policies already in it"),
        ]

    def _live_connections(self, p: AnyContext) -> str:
        """The query of the live database's max_connections (read only)."""
        host = p.facts.live_db_host or "<the live config.dbHost>"
        port = p.facts.live_db_port or "<the live config.dbPort>"
        return database.client(host, port, f"-N -B -e {quote(_MAX_CONNECTIONS)}")

    async def run(self, ctx: Ctx) -> None:
        where = await database.login(ctx)
        port = where.port
        await database.run_sql(ctx, where, database.query(ctx, "SELECT 1", port=port))
        found = await database.run_sql(ctx, where, database.query(
            ctx, f"SHOW DATABASES LIKE '{database.DATABASE}'", port=port))
        at = where.address
        await self._compare_connections(ctx, where)
        if not found.stdout.strip():
            ctx.note("new-database", f"{at} accepts the live login; it has no cluster database "
                     "yet (the schema step creates it)", tables=None)
            return
        # One listing says how many tables, and whether node_group is one.
        listed = await database.run_sql(ctx, where, database.query(ctx, _LIST_TABLES,
                                                                     port=port))
        have = _tables(listed.stdout)
        state = "is empty (the schema step imports the release's)" if not have else \
            f"has {len(have)} tables (the schema step compares them with the release's)"
        ctx.note("new-database", f"{at} accepts the live login; its cluster database {state}",
                 tables=len(have))
        left = await self._nodegroups_left(ctx, where) if _NODEGROUPS in have else None
        if left:
            # Said here, eight steps before schema refuses the database (trial).
            ctx.note("new-database-nodegroups",
                     f"warning: the new database's cluster tables already hold "
                     f"{_left_said(left)}. {_WHOSE_ROWS} Find out which before the window: "
                     "the schema step refuses this database while they are there, and says "
                     "what to do in each case",
                     nodegroups=left[0], warning=True)

    async def _compare_connections(self, ctx: Ctx, where: database.Login) -> None:
        """Warn where the new database allows fewer connections than the live
        one (facts audit 61, L8): the procedure asks for the new instance to
        have "the same instance configuration" as the live one, and Red5's
        database pages raise max_connections for the stream manager, which
        needs 3 connections a node (data README). Only a warning: a value
        that cannot be read says so in one line and the step goes on."""
        if ctx.cutover_under_way or ctx.facts.live_db_host is None or \
                ctx.facts.live_db_port is None:
            return  # mid-cutover the live database is no longer the comparison
        new = await ctx.sh(database.query(ctx, _MAX_CONNECTIONS, port=where.port),
                           input=where.option_file(), check=False, quiet=True)
        live_login = dataclasses.replace(where, host=ctx.facts.live_db_host,
                                         port=ctx.facts.live_db_port)
        live = await ctx.sh(self._live_connections(ctx), input=live_login.option_file(),
                            check=False, quiet=True)
        allowed, live_allowed = _count_of(new), _count_of(live)
        if allowed is None or live_allowed is None:
            ctx.info("could not read max_connections of the new and the live database to "
                     "compare them; the new instance should allow as many connections as "
                     "the live one")
            return
        if allowed < live_allowed:
            ctx.note("new-database-connections",
                     f"warning: the new database at {where.address} allows {allowed} "
                     "connections at once (max_connections), and the live one at "
                     f"{live_login.address} allows {live_allowed}. Red5's upgrade page asks "
                     "for the new instance to have the live one's configuration, and the "
                     "stream manager takes 3 connections for each node: raise "
                     f"max_connections on the new instance to {live_allowed} or more before "
                     "the window",
                     allowed=allowed, live=live_allowed, warning=True)

    async def _nodegroups_left(self, ctx: Ctx, where: database.Login) -> tuple[int, ...] | None:
        """Nodegroups, launch configs and scale policies in the new database
        before the cutover (None: none): an earlier attempt's cutover, which the
        way back leaves there, or another stream manager that already uses this
        database (Red5's installer lets several share one) put them in."""
        if ctx.cutover_under_way:
            return None  # this attempt's own
        # Only for a warning, so it never fails the step (review): an import
        # cut short has node_group and not scale_policies (cluster.sql makes
        # it later), and a resume that stopped here never reached schema,
        # which drops what that import made and imports the file whole.
        counted = await ctx.sh(database.query(ctx, _COUNT_NODEGROUPS, port=where.port),
                               input=where.option_file(), check=False, quiet=True)
        counts = _left_counts(counted.stdout) if counted.ok else None
        if counts is None:
            ctx.info("could not count what an earlier attempt may have left in the new "
                     "database's cluster tables (an import cut short leaves some out); the "
                     "schema step looks at them again")
        return counts if counts and any(counts) else None

    async def verify(self, ctx: Ctx) -> Check:
        return Check(True, f"{ctx.settings.new_db_host} accepts the live login")


_MAX_CONNECTIONS = "SELECT @@max_connections"


def _count_of(result: CommandResult) -> int | None:
    """The one number a query printed, if it ran and printed one."""
    words = result.stdout.split() if result.ok else []
    return int(words[0]) if len(words) == 1 and words[0].isdigit() else None


_LIST_TABLES = ("SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema='{database.DATABASE}'")


def _tables(listing: str) -> set[str]:
    """The table names a _LIST_TABLES query printed, as cluster.sql names them."""
    return {line.strip().lower() for line in listing.splitlines() if line.strip()}


# Where a stream manager keeps its nodegroups (5.1.1's and 6.2.0's cluster.sql;
# the 4.0 API releases' schema is inferred to be 6.2.0's, data README).
_NODEGROUPS = "node_group"
# What a cutover's recreate writes there, besides the nodegroups: cluster.sql
# seeds neither table (FACTS section 5), so rows in them before the cutover
# were written by a stream manager: an earlier attempt's (its way back deletes
# the nodegroups through the new API, trial 53, and leaves these), or another
# one's that already uses this database (Red5's installer lets several share
# one `cluster` database: FACTS-scenarios section 2, r5p_config_stream_manager.sh).
# They are counted as well, or a second attempt's recreate would take the
# first one's launch configs as they are.
_LEFT_TABLES = (_NODEGROUPS, "launch_configs", "scale_policies")
_LEFT_NAMES = (("nodegroup", "nodegroups"), ("launch config", "launch configs"),
               ("scale policy", "scale policies"))
# Both causes, said alike by new-database and schema (facts audit 60b, M4).
_WHOSE_ROWS = ("An earlier attempt's cutover may have left them, or another stream manager "
               "may already use this database.")
_COUNT_NODEGROUPS = "; ".join(f"SELECT COUNT(*) FROM {database.DATABASE}.{table}"
                              for table in _LEFT_TABLES)


def _left_counts(stdout: str) -> tuple[int, ...] | None:
    """The rows of each of _LEFT_TABLES, as _COUNT_NODEGROUPS printed them."""
    words = stdout.split()
    if len(words) != len(_LEFT_TABLES) or not all(word.isdigit() for word in words):
        return None
    return tuple(int(word) for word in words)


def _left_said(counts: tuple[int, ...]) -> str:
    """`2 nodegroups, 2 launch configs and 2 scale policies`: those not none."""
    parts = [f"{n} {one if n == 1 else many}"
             for n, (one, many) in zip(counts, _LEFT_NAMES, strict=True) if n]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else "".join(parts)


class Schema(Red5Step):
    id = "schema"
    title = "Create the new database's schema"
    phase = Phase.PREPARE
    summary = (
        "Imports the new release's webapps/streammanager/WEB-INF/sql/cluster.sql into the "
        "new database's cluster schema, and proves every table of that file is there. A "
        "database that already has tables is never overwritten: it is accepted when its "
        "tables are the file's, otherwise the step stops and says which differ. The one "
        "exception is this step's own import that did not finish (stopped, cut off, failed "
        "at a statement) in the same database, before the cutover: the file's tables it "
        "made, which running the step again drops (its id typed) before it imports the "
        "file whole. Before the cutover, the release's tables with nodegroups, launch configs "
        "or scale policies in them are refused: an earlier attempt's cutover, which the way "
        "back leaves there, or another stream manager that already uses this database, put "
        "them there."
    )

    def _sql(self, p: AnyContext, tree: str) -> str:
        return f"{tree}/{red5.WEB_INF}/sql/cluster.sql"

    def plan(self, p: Plan) -> list[Action]:
        sql = self._sql(p, planned_trees(p)[1])
        return [
            Shell(root(p, f"cat -- {quote(sql)}"), "the tables the release needs"),
            Shell(database.query(p, _LIST_TABLES), "the tables the new database has"),
            Shell(database.query(p, _COUNT_NODEGROUPS),
                  "when it has the release's: nodegroups, launch configs and scale policies "
                  "already in it"),
            Shell(database.query(p, f"CREATE DATABASE IF NOT EXISTS {database.DATABASE}")),
            *([Shell(database.query(p, _drop(p.facts.scratch.partial_schema)),
                     "the tables of this step's import that did not finish")]
              if p.facts.scratch.partial_schema else []),
            Shell(database.import_file(p, sql), "only into an empty cluster database"),
        ]

    async def _compare(self, ctx: Ctx) -> tuple[set[str], set[str], str, database.Login]:
        _old, tree = await trees(ctx)
        sql = self._sql(ctx, tree)
        wanted = database.tables_in(await read_remote(ctx, sql))
        if not wanted:
            raise StepFailed(f"{sql} creates no tables; the distribution looks damaged")
        where = await database.login(ctx)
        listed = await database.probe_sql(ctx, where, database.query(
            ctx, _LIST_TABLES, port=where.port))
        return wanted, _tables(listed.stdout), sql, where

    def destructive_now(self, p: Plan) -> bool:
        return bool(p.facts.scratch.partial_schema)

    async def check(self, ctx: Ctx) -> Check:
        wanted, have, _sql, where = await self._compare(ctx)
        ctx.facts.scratch.partial_schema = ()
        if have and have <= wanted and _began_here(ctx, where) and not ctx.cutover_under_way:
            # Its own import, into this very database, never ended well: the
            # tables it made (all of them, when it stopped in the keys that
            # follow) go, and the file is imported whole. Before the cutover
            # nothing else writes to the new database.
            ctx.facts.scratch.partial_schema = tuple(sorted(have))
            return Check(False, f"{len(have)} of the release's {len(wanted)} tables, made by "
                         "this step's import, which did not finish. Running the step again "
                         "drops them and imports the file whole")
        if have == wanted:
            await self._refuse_earlier_nodegroups(ctx, where, wanted)
            # A rehearsal's list is its stand-in's (trial 56, F10).
            release = stood_in_for(ctx)
            aside = "" if release is None else \
                f" (the rehearsal's stand-in list, not the one {release} ships)"
            return Check(True, f"the cluster database has the release's {len(wanted)} "
                         f"tables{aside}")
        if have:
            missing, extra = sorted(wanted - have), sorted(have - wanted)
            raise StepFailed(
                "the new database's cluster schema is not the release's, and runbook does not "
                "overwrite a database that has tables: "
                + "; ".join(part for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"not in the release {', '.join(extra)}" if extra else "") if part)
                + ". Give the upgrade an empty cluster database")
        return Check(False, "the cluster database is empty or not there")

    async def _refuse_earlier_nodegroups(self, ctx: Ctx, where: database.Login,
                                         wanted: set[str]) -> None:
        """Before the cutover, a new database with the release's tables and
        nodegroups, launch configs or scale policies in them holds another
        attempt's cutover (the way back leaves them, but the nodegroups it can
        delete), or another stream manager's fleet. Upgrading onto it would start
        the new stream manager with nodegroups that are not its own, and
        recreate would take them for its own. Nothing here tells the two apart,
        so no command to drop it is given: it may be a live one's."""
        if ctx.cutover_under_way or _NODEGROUPS not in wanted:
            return  # mid-cutover, they are this attempt's
        counted = await database.probe_sql(ctx, where, database.query(
            ctx, _COUNT_NODEGROUPS, port=where.port))
        left = _left_counts(counted.stdout)
        if left is None:
            raise StepFailed(f"could not count the nodegroups, launch configs and scale "
                             f"policies in the new database at {where.address}: it answered "
                             f"{counted.stdout.strip()!r}")
        if any(left):
            # Where, with what this step knows (operator trial: a rehearsal's
            # port and login had to be dug out), but no DROP command (facts
            # audit 60b, M4): the database may be another stream manager's.
            raise StepFailed(
                f"the new database at {where.address} already holds {_left_said(left)} in its "
                f"{database.DATABASE} tables. runbook does not upgrade onto them. "
                f"{_WHOSE_ROWS} Find out which first. Another stream manager's: do not "
                "drop it; give this upgrade an empty database of its own (runbook upgrades "
                "one stream manager with its own database). An earlier attempt's (its way "
                "back deletes only the nodegroups it can): drop the "
                f"{database.DATABASE} database on {where.address} as the live login "
                f"({where.user}; README, \"Before another attempt\", has the command), then "
                "run this step again, which creates it")

    async def run(self, ctx: Ctx) -> None:
        where = await database.login(ctx)
        _old, tree = await trees(ctx)
        sql = self._sql(ctx, tree)
        # Said before the first change: what this database holds of the
        # file's tables from here on is this step's, until it ends well.
        ctx.facts.schema_import_into = where.address
        await database.run_sql(ctx, where, database.query(
            ctx, f"CREATE DATABASE IF NOT EXISTS {database.DATABASE}", port=where.port))
        if ctx.facts.scratch.partial_schema:
            await database.run_sql(ctx, where, database.query(
                ctx, _drop(ctx.facts.scratch.partial_schema), port=where.port))
        await database.run_sql(ctx, where, database.import_file(ctx, sql, port=where.port),
                               quiet=False)
        ctx.facts.schema_import_into = None


def _began_here(ctx: Ctx, where: database.Login) -> bool:
    """This step's import began in this database and has not ended well."""
    return ctx.facts.schema_import_into == where.address


def _drop(tables: tuple[str, ...]) -> str:
    """Drop the tables an unfinished import made, whatever references them."""
    names = ", ".join(f"{database.DATABASE}.`{name}`" for name in tables)
    return f"SET FOREIGN_KEY_CHECKS=0; DROP TABLE IF EXISTS {names}"


# Said of each 3.x shape no source says API 4.0 takes (facts audit 57b, M2;
# the rehearsal's data README gives the sources).
_UNCONFIRMED = ("no source confirms API 4.0 takes it: try it on a staging stream manager of "
                "the new release first, or check it after recreate and re-create it in the "
                "4.0 shape")


def _targets(body: dict[str, Any]) -> dict[str, Any]:
    targets = body.get("targets")
    return targets if isinstance(targets, dict) else {}


def _entries(holder: Any, key: str) -> list[dict[str, Any]]:
    found = holder.get(key) if isinstance(holder, dict) else None
    return [entry for entry in found if isinstance(entry, dict)] \
        if isinstance(found, list) else []


def unconfirmed_on_api_4(saved: dict[str, Any], new_api: str | None) -> list[str]:
    """Warnings, one line per kind, for bodies read from API 3.x whose shape no
    source says API 4.0 takes, which recreate will post to it as they are:
    version 0.0.2 (5.1.1's sample and its default), a scale policy's flat
    `targets.target` (how 5.1.1 and 6.2.0 keep a 0.0.2 policy), a launch
    config property whose value is not text (the sample's list). A number as
    connectionCapacity is not among them: the 4.0 docs' update example sends
    numbers and is answered 200 (facts audit 58b F3). Nothing when the new
    release does not serve 4.0 or the snapshot came from 4.0."""
    if new_api != "4.0" or not str(saved.get("api_version") or "").startswith("3."):
        return []
    configs = {str(name): body for name, body in (saved.get("launchconfigs") or {}).items()
               if isinstance(body, dict)}
    policies = {str(name): body for name, body in (saved.get("scalepolicies") or {}).items()
                if isinstance(body, dict)}
    old = [f"launch config {name}" for name, body in configs.items()
           if str(body.get("version")) == "0.0.2"]
    old += [f"scale policy {name}" for name, body in policies.items()
            if str(body.get("version")) == "0.0.2"]
    flat = [name for name, body in policies.items()
            if "target" in _targets(body) and "region" not in _targets(body)]
    values = {name: sorted({str(entry.get("name")) for entry
                            in _entries(body.get("properties"), "property")
                            if "value" in entry and not isinstance(entry["value"], str)})
              for name, body in configs.items()}
    lines = []
    if old:
        lines.append(f"{', '.join(old)}: version 0.0.2 (the 4.0 docs show 0.0.3)")
    if flat:
        lines.append(f"scale policy {', '.join(flat)}: targets flat (targets.target), not under "
                     "regions as in the 4.0 docs")
    if any(values.values()):
        lines.append("launch config " + ", ".join(f"{name} ({', '.join(keys)})"
                                                  for name, keys in values.items() if keys)
                     + ": a property value that is not text")
    return [f"warning: {line}; {_UNCONFIRMED}" for line in lines]


NO_FLEET = ("warning: the live stream manager has no nodegroups, so there is nothing to "
            "recreate after the cutover. If another run's cutover deleted them, the fleet is "
            "gone: stop here, and go on with that run's journal instead")


class ExportConfig(Red5Step):
    id = "export-config"
    title = "Export nodegroups and policies"
    phase = Phase.PREPARE
    # Its snapshot is what recreate and the way back rebuild from: skipped,
    # the cutover could only refuse later (operator trial).
    can_skip = False
    # The fleet can change between the prepare day and the window.
    recheck_until_cutover = True
    summary = (
        "Saves every nodegroup with its launch config, scale policy, regions and origins, "
        "and the launch configs and scale policies themselves, from the live API to the "
        "host's state folder on this machine. The new database starts empty; this is what "
        "gets rebuilt."
    )

    def plan(self, p: Plan) -> list[Action]:
        where = p.host_state.path / "snapshots" if p.host_state else "the host's state folder"
        shrink, changed = p.facts.scratch.export_shrink, p.facts.scratch.export_changed
        return [
            *([Note(changed)] if changed else []),
            *([Note(f"WARNING: {shrink}")] if shrink else []),
            p.api_call("GET", "admin/nodegroup"),
            p.api_call("GET", "admin/nodegroup/{name}/node", why="for each nodegroup"),
            p.api_call("GET", "admin/configurations/launchconfig"),
            p.api_call("GET", "admin/configurations/launchconfig/{name}",
                       why="for each launch config"),
            p.api_call("GET", "admin/configurations/scalepolicy"),
            p.api_call("GET", "admin/configurations/scalepolicy/{name}",
                       why="for each scale policy"),
            *self._alarm_reads(p),
            Note(f"saved in {where} (mode 600)"),
        ]

    @staticmethod
    def _alarm_reads(p: Plan) -> list[Action]:
        """The thresholds' GET, where run sends it: a 3.x live API. By the API
        preflight heard, else Red5's table for the live release; shown with
        its condition where neither is known yet (`runbook plan`). A 4.0 live
        is not asked (facts audit 61 follow-up: its plan listed the GET all
        the same)."""
        live_api = p.facts.api_version or red5.api_version(p.facts.live_version)
        if live_api is not None and not reads_alarms(live_api):
            return []
        where = f"(API {live_api})" if live_api else "where the live API is 3.x (5.1, 6.2)"
        return [p.api_call("GET", SCALEOUT_ALARM + "?type={role}",
                           why=f"for each of {', '.join(SCALEOUT_ROLES)}, {where}: the "
                               "scale-out alarm threshold, for recreate to name where it "
                               "differs from the new database's")]

    async def check(self, ctx: Ctx) -> Check:
        state = ctx.host_state
        under_way = state.cutover()
        if under_way is not None:
            # The live system is being emptied or already is: exporting it
            # again would replace the fleet with nothing.
            pinned = state.before_cutover()
            if pinned is None:
                # The file its record names, where it names one (review 58a, L7).
                missing = state.snapshot_missing()
                where = f"its snapshot, {missing}, is not there" if missing is not None else \
                    f"no snapshot taken before it is in {state.path}/snapshots"
                raise StepFailed(f"a cutover began on this host at {under_way.began} and "
                                 f"{where}; runbook will not export the emptied system. Put "
                                 "the snapshot file back there")
            ctx.facts.snapshot = str(pinned.path)
            return Check(True, f"a cutover began at {under_way.began}; every run rebuilds from "
                         f"{pinned.describe()}")
        mine = snapshot(ctx)
        earlier = mine or state.latest()
        if earlier is None:
            return Check(False)
        now = await fleet_now(await ctx.api())
        if mine is not None:
            # Taken days before the window, perhaps: what cutover rebuilds is
            # the fleet as it is now (review: a nodegroup retired in between
            # came back with the new release).
            changed = fleet.changes(mine.data, now) + fleet.origins_changed(mine.data, now)
            if not changed:
                ctx.facts.snapshot = str(mine.path)
                self._shapes(ctx, str(mine.path), mine.data)
                return Check(True, mine.describe())
        groups = len(now["nodegroups"])
        origins = sum(len(standing_origins(group["nodes"])) for group in now["nodegroups"])
        if groups < len(earlier.nodegroups) or origins < earlier.origins:
            ctx.facts.scratch.export_shrink = (
                f"the live stream manager now has {groups} nodegroup(s) and {origins} "
                f"origin(s), fewer than {earlier.describe()}. Run this only if the fleet "
                "was made smaller on purpose: the new snapshot is what cutover rebuilds")
        if mine is None:
            return Check(False)
        # Said in the plan too: the confirmation is where the operator asks
        # why a step done days ago is asked again.
        why = ctx.facts.scratch.export_changed = (
            f"the fleet changed since {mine.describe()}: {fleet.said(changed)}; the snapshot "
            "is taken again, and the cutover rebuilds the fleet as it is now")
        # A warning, so the change ticket has it (re-trial: the report said
        # nothing of a fleet changed and taken again).
        ctx.warn(f"warning: {why}")
        return Check(False, why)

    @staticmethod
    def _shapes(ctx: Ctx, path: str, saved: dict[str, Any]) -> None:
        """Said ahead of the window, and kept in the report (warning lines):
        what recreate will post to API 4.0 that no source says it takes. Said
        by the check that finds the snapshot current, which also runs as the
        verify of a fresh export, once per snapshot and process. The new
        release's API as recreate takes it: the config's word, else Red5's
        table (start_service.expected_api_version)."""
        if ctx.facts.scratch.export_shapes_said == path:
            return
        ctx.facts.scratch.export_shapes_said = path
        new_api = ctx.settings.new_api_version or red5.api_version(ctx.facts.new_version)
        for line in unconfirmed_on_api_4(saved, new_api):
            ctx.warn(line)

    async def run(self, ctx: Ctx) -> None:
        api = await ctx.api()
        listing = api.api_call("GET", "admin/nodegroup")
        groups = await ctx.act(listing, api.list_nodegroups)
        for group in groups:
            if being_deleted(group):
                ctx.info(f"{group['name']} is being deleted (state terminating): left out of "
                         "the snapshot, so cutover does not bring it back")
        groups = [group for group in groups if not being_deleted(group)]
        if not groups:
            # Before it is kept (trial 60 F5/F7): a snapshot of no nodegroups
            # is also what another run's half-done cutover leaves.
            ctx.warn(NO_FLEET)
        snapshot: dict[str, Any] = {"api_version": api.version, "nodegroups": [],
                                    "launchconfigs": {}, "scalepolicies": {}}
        for group in groups:
            name = group["name"]
            nodes = await ctx.act(
                api.api_call("GET", f"admin/nodegroup/{name}/node"),
                partial(api.list_nodes, name))
            snapshot["nodegroups"].append({**group, "nodes": nodes})
            # Counted as recreate rebuilds them (review 61, F3).
            leaving = len(origins_of(nodes)) - len(standing_origins(nodes))
            going = f" (and {leaving} on its way out, not rebuilt)" if leaving else ""
            zones = {str(node.get("availabilityZone")) for node in nodes} & \
                {str(region) for region in group.get("regions", [])}
            if zones:
                # recreate posts the listed regions as create's: 6.2.0 lists
                # what create stored, but the 4.0 docs' list example shows zone
                # names where create posts region names (facts audit 61, F1).
                ctx.warn(f"warning: nodegroup {name} lists as its region "
                         f"{', '.join(sorted(zones))}, an availabilityZone its nodes run in; "
                         "recreate posts it as a region, which the new stream manager may "
                         "refuse: have the group's region names at hand to make it by hand")
            if group.get("originConnections") not in (None, 0):
                # 5.1.1's and 6.2.0's create takes it (FACTS-scenarios §4), but
                # recreate posts regions, launch config and scale policy only
                # (facts audit 61, F9).
                ctx.warn(f"warning: nodegroup {name} has originConnections "
                         f"{group['originConnections']}, which recreate does not post: the "
                         "rebuilt group gets the new release's default, so set it again by "
                         "hand after the cutover")
            ctx.info(f"{name}: regions {', '.join(group.get('regions', []))}, launch config "
                     f"{group.get('launchConfig')}, scale policy {group.get('scalePolicy')}, "
                     f"{len(standing_origins(nodes))} origin(s){going}, "
                     f"{len(nodes)} node(s)")
        names = await api.list_launchconfigs()
        for name in names:
            snapshot["launchconfigs"][name] = await ctx.act(
                api.api_call("GET", f"admin/configurations/launchconfig/{name}"),
                partial(api.get_launchconfig, name))
        for name in await api.list_scalepolicies():
            snapshot["scalepolicies"][name] = await ctx.act(
                api.api_call("GET", f"admin/configurations/scalepolicy/{name}"),
                partial(api.get_scalepolicy, name))
        if reads_alarms(api.version):
            # 5.1.1 and 6.2.0 read them (AlarmController, javap; facts audit
            # 61, F13); the 4.0 docs only set them, so a 4.0 live keeps none.
            alarms: dict[str, float] = {}
            for role in SCALEOUT_ROLES:
                threshold = await ctx.act(
                    api.api_call("GET", f"{SCALEOUT_ALARM}?type={role}"),
                    partial(api.scaleout_threshold, role))
                if threshold is not None:
                    alarms[role] = threshold
            if alarms:
                snapshot["scaleout_alarms"] = alarms
                ctx.info("scale-out alarm thresholds: " + ", ".join(
                    f"{role} {value:g} %" for role, value in alarms.items()))
        referred = {str(g[key]) for g in groups for key in ("launchConfig", "scalePolicy")
                    if g.get(key)}
        missing = referred - set(snapshot["launchconfigs"]) - set(snapshot["scalepolicies"])
        if missing:
            raise StepFailed(f"nodegroups refer to {', '.join(sorted(missing))}, which "
                             "the API does not list; the snapshot would be incomplete")
        saved = ctx.host_state.save_snapshot(snapshot, journal=ctx.journal_path)
        ctx.facts.snapshot = str(saved.path)
        # Taken now: what the plan said of the snapshot before is past.
        ctx.facts.scratch.export_changed = ctx.facts.scratch.export_shrink = None
        ctx.note("snapshot", f"saved to {saved.path}: nodegroups {len(groups)}, launch configs "
                 f"{len(names)}, scale policies {len(snapshot['scalepolicies'])}",
                 path=str(saved.path), nodegroups=[g["name"] for g in groups])


def _left_in_upload(ctx: Ctx, path: str, said: str) -> None:
    """`said` of a file in the upload folder, on record for the report's lists
    of what is left on the host (re-trial 56b, F3)."""
    ctx.note(UPLOADED, said, path=path, folder=ctx.settings.upload_dir)


class UploadArtifacts(Red5Step):
    id = "upload"
    title = "Upload distribution and controller"
    phase = Phase.PREPARE
    summary = (
        "Copies the new server distribution and the cloud-controller jar from this machine "
        "to the stream manager over SFTP, hashing each as it is sent, while the host hashes "
        "each part as it lands; the two sha256 must agree. A file already there with the "
        "same checksum is not sent again; one an earlier attempt left half-way goes on from "
        "where it stopped."
    )

    def plan(self, p: Plan) -> list[Action]:
        s = p.settings
        actions: list[Action] = [Shell(self._prepare_dir(p), "a folder only we can write")]
        for local in (s.distribution, s.cloud_controller):
            path = uploaded(s, local)
            actions.append(Upload(str(local), path))
            actions.append(Shell(landing_sha256_command(path),
                                 "beside the copy, below the live service's priority: the "
                                 "host's sha256 of the file, read as each 16 MiB lands "
                                 "(openssl where installed), against ours of the bytes sent"))
            actions.append(Shell(sha256_command(path),
                                 "only if the two differ: the host reads the whole file again"))
        return actions

    def _prepare_dir(self, p: AnyContext) -> str:
        return private_folder(p.settings.upload_dir)

    @staticmethod
    def _local(local: Path) -> tuple[int, str]:
        """The file's size and its identity on this machine: the key its hash
        is kept under, and what tells that it changed."""
        if not local.is_file():
            raise StepFailed(f"{local} is not on this machine")
        info = local.stat()
        # A file changed on this machine since it was hashed is another file.
        # ctime too: a copy that keeps the old mtime (cp -p, touch -r) still
        # moves it, and nothing can set it back.
        return info.st_size, (f"{local}|{info.st_dev}:{info.st_ino}|{info.st_size}|"
                              f"{info.st_mtime_ns}|{info.st_ctime_ns}")

    async def _on_host(self, ctx: Ctx, local: Path) -> bool:
        """Whether the host has `local` whole: the size first (no hashing at
        all for a file that is missing or short), then the sha256 of both
        copies, taken at once."""
        size, key = self._local(local)
        remote = uploaded(ctx.settings, local)
        if await size_remote(ctx, remote) != size:
            return False
        sums = ctx.facts.local_sha256
        ours = None if key in sums else asyncio.create_task(sha256_local(local))
        try:
            theirs = await sha256_remote(ctx, remote)
        finally:
            digest = await ours if ours is not None else sums[key]
        # Changed while hashed: the hash is of no one file, and not kept.
        if self._local(local)[1] != key:
            return False
        sums[key] = digest
        return theirs == digest

    async def check(self, ctx: Ctx) -> Check:
        for local in (ctx.settings.distribution, ctx.settings.cloud_controller):
            if not await self._on_host(ctx, local):
                return Check(False)
        # Sent by an earlier run: still this one's to clear away.
        for local in (ctx.settings.distribution, ctx.settings.cloud_controller):
            _left_in_upload(ctx, uploaded(ctx.settings, local),
                            f"{local.name} is on the host in {ctx.settings.upload_dir}")
        return Check(True, "both files are on the host with matching sha256")

    async def run(self, ctx: Ctx) -> None:
        s = ctx.settings
        made = await ctx.sh(self._prepare_dir(ctx), check=False)
        if made.exit_status == OTHERS_CAN_WRITE:
            raise StepFailed(others_can_write(s.upload_dir, s.host.user))
        if not made.ok:
            raise StepFailed(f"{s.upload_dir} is not a folder owned by {s.host.user}; another "
                             "account could swap the zip before it is unzipped as root. Choose "
                             "another install.upload_dir")
        ctx.facts.scratch.proven.clear()  # only what this run proves counts for its verify
        for local in (s.distribution, s.cloud_controller):
            remote = uploaded(s, local)
            if await self._on_host(ctx, local):
                _left_in_upload(ctx, remote, f"{local.name} is already on the host with the "
                                "same sha256; not sent")
                size, key = self._local(local)
                # A file changed since _on_host looked has no sha256 here yet:
                # then verify reads both copies again.
                if (proven := ctx.facts.local_sha256.get(key)) is not None:
                    ctx.facts.scratch.proven[remote] = (size, proven)
                continue
            size, key = self._local(local)
            try:
                copied = await ctx.upload(local, remote)
            except OutcomeUnknown:
                raise
            except RemoteError as exc:
                # Refused by the host (full, not ours to write): what arrived stays.
                full = await self._disk_full(ctx, local, remote)
                if full is not None:
                    raise StepFailed(full) from None
                raise StepFailed(f"{str(exc).rstrip('.')}; part of {local.name} may be left in "
                                 f"{s.upload_dir}. The live stream manager is untouched: free "
                                 "the space or fix the permission on the host, then try the "
                                 "step again (it goes on from what arrived)") from None
            # The host's copy is checked against the bytes sent; whether those
            # were one file, only this machine can say.
            if self._local(local)[1] != key:
                raise StepFailed(f"{local} changed on this machine while it was sent, so the "
                                 "host has part of each version. Wait until nothing writes "
                                 "to it, then try the step again (it sends what differs)")
            # The host hashed the file as it landed; only an answer that does
            # not agree (or none) is worth reading the whole file again.
            got = copied.host_sha256
            if got != copied.sha256:
                got = await sha256_remote(ctx, remote)
            if got != copied.sha256:
                raise StepFailed(f"{remote} arrived with sha256 {got}, expected "
                                 f"{copied.sha256} (the bytes sent); run the step again")
            ctx.facts.local_sha256[key] = copied.sha256
            ctx.facts.scratch.proven[remote] = (size, got)
            _left_in_upload(ctx, remote, f"{local.name}: sha256 {got} matches")

    async def _disk_full(self, ctx: Ctx, local: Path, remote: str) -> str | None:
        """After a write the host refused: the failure in operator words when
        the upload folder's filesystem has less room than the file still needs
        (df, as preflight looks), else None. SFTP gives no reason for a full
        disk (OpenSSH answers "Failure"), so the room itself is looked at."""
        folder = ctx.settings.upload_dir
        df = await ctx.probe(f"df -Pk -- {quote(folder)}")
        free_kb = _free_kb(df.stdout) if df.ok else None
        have = await size_remote(ctx, remote) or 0
        left = max(0, local.stat().st_size - have)
        if free_kb is None or free_kb * 1024 >= left:
            return None
        mount = _mount_of(df.stdout) or folder
        return (f"the host's disk is full: {folder} has {_room(free_kb * 1024)} free, and "
                f"{local.name} needs about {_room(left)} more. Part of it is there. The live "
                f"stream manager is untouched. Free room on {mount} (df -h {folder}), or set "
                "install.upload_dir to a folder with room; then try the step again (it goes "
                "on from what arrived)")

    async def verify(self, ctx: Ctx) -> Check:
        """What the run proved a moment ago is not read again (300 MiB read
        on the host is a sixth of the step's time): a file whose sha256 the
        run took, still its size there, stands. Anything else is checked as
        check does.

        So a change made on the host between the run's hash and this look,
        keeping the size, is not seen here; the upload folder is the SSH
        user's alone (mode 700, checked by run), so only that account could."""
        for local in (ctx.settings.distribution, ctx.settings.cloud_controller):
            remote = uploaded(ctx.settings, local)
            proven = ctx.facts.scratch.proven.pop(remote, None)
            size, key = self._local(local)
            if (proven is not None and proven == (size, ctx.facts.local_sha256.get(key))
                    and await size_remote(ctx, remote) == size):
                continue
            if not await self._on_host(ctx, local):
                return Check(False)
        return Check(True, "both files are on the host with matching sha256")


# unzip's exit status when the disk is (or was) full during extraction
# (Info-ZIP unzip(1), DIAGNOSTICS).
UNZIP_DISK_FULL = 50


class Unpack(Red5Step):
    id = "unpack"
    title = "Unpack beside the live install"
    phase = Phase.PREPARE
    summary = (
        "Unzips the new distribution into the install directory, next to the live "
        "red5pro folder, which is not touched."
    )

    def _marker(self, p: AnyContext) -> str:
        # Beside the zip, not in the tree: the distribution stays as shipped.
        return uploaded(p.settings, p.settings.distribution) + ".unpacked"

    def plan(self, p: Plan) -> list[Action]:
        s = p.settings
        zip_path = uploaded(s, s.distribution)
        # One command: an unzip that outlives a dropped connection still
        # leaves the marker when it finishes, so a resumed run finds it done.
        creates = new_dir(p)
        # A flat zip holds the install's folders at its top: into a folder of
        # its own, never loose beside red5pro.
        into = creates if p.facts.new_flat else install_dir(p)
        unzip = root(p, f"unzip -q -o {quote(zip_path)} -d {quote(into)}")
        # A zip sent again is unzipped over the tree: the copies runbook kept of
        # the files it replaced are the earlier zip's, not this one's, and the
        # properties step would merge into that template (review).
        kept = root(p, f"find {quote(creates)} -name {quote('*' + AS_IT_WAS)} -type f -delete")
        forget = f"if [ -d {quote(creates)} ]; then {kept}; fi"
        # Without the zip here its folder's name is a guess (FACTS: it cannot
        # be assumed), said as one until preflight reads it from the zip.
        if not p.facts.new_top:
            creates += " (the folder the zip holds; named so until the zip is on this machine)"
        # An earlier unzip's marker goes first: left there, it vouched for a
        # tree this unzip, cut short, left half written (review: the way back
        # sets the tree aside, not the marker).
        marker = quote(self._marker(p))
        return [Shell(f"rm -f -- {marker} && {forget} && {unzip} && touch -- {marker}",
                      f"creates {creates}; over an earlier unzip, the copies runbook kept of "
                      "that zip's files go first; the marker, made again as the unzip "
                      "finishes, records that it finished")]

    async def check(self, ctx: Ctx) -> Check:
        target = new_dir(ctx)
        # An unzip cut off half-way leaves some files; only the marker, newer
        # than the zip, says it went to the end.
        zip_path = uploaded(ctx.settings, ctx.settings.distribution)
        marker = quote(self._marker(ctx))
        finished = await ctx.probe(f"test -e {marker} && ! test {quote(zip_path)} -nt {marker}")
        if finished.ok and await exists(ctx, f"{target}/{red5.PROPERTIES}", "-f"):
            # Its identity is how cutover tells the new server from the old.
            ctx.facts.new_tree = await folder_id(ctx, target)
            _left_in_upload(ctx, self._marker(ctx), f"{self._marker(ctx)} records that the "
                            "unzip finished")
            return Check(True, f"{target} is unpacked")
        live = await install_version(ctx, live_dir(ctx))
        if live is not None and live == ctx.facts.new_version:
            return Check(True, "the live folder already is the new release")
        ctx.facts.scratch.unpack_over = await exists(ctx, target, "-d")
        if ctx.facts.scratch.unpack_over:
            why = f"it lacks {red5.PROPERTIES}" if finished.ok else \
                "no unzip of this zip finished into it"
            return Check(False, f"{target} is there, but {why}; it is unzipped again over "
                         "that tree")
        return Check(False, f"{target} is not there")

    def destructive_now(self, p: Plan) -> bool:
        # Over the tree, it deletes the copies runbook kept and writes over
        # what the steps after it made there: asked as any step that deletes
        # (operator trial: only y).
        return p.facts.scratch.unpack_over

    async def run(self, ctx: Ctx) -> None:
        new_folder(ctx.settings, ctx.facts)
        # Detached: a large distribution takes a while, and a dropped
        # connection must not cut the unzip short.
        try:
            await run_shell(ctx, self.plan(ctx.plan_context()),
                            timeout=ctx.settings.timeouts.upload, detach=True)
        except CommandFailed as exc:
            if exc.exit_status != UNZIP_DISK_FULL:
                raise
            # Trial 59 F11: said as unzip's status means it, not as its last
            # line ("probably truncated") after the whole command again.
            into = install_dir(ctx)
            raise StepFailed(f"the host's disk filled during the unzip into {into} (unzip: "
                             f"write error); free space on that filesystem (df -h {new_dir(ctx)}), "
                             "then try the step again (it unzips again over what arrived)"
                             ) from None


class CloudController(Red5Step):
    id = "cloud-controller"
    title = "Place the cloud-controller jar"
    phase = Phase.PREPARE
    summary = "Copies the cloud-controller jar into the new streammanager webapp's WEB-INF/lib."

    def _target(self, p: AnyContext, tree: str) -> str:
        return f"{tree}/{red5.LIB}/{p.settings.cloud_controller.name}"

    def _copy(self, p: AnyContext, tree: str) -> str:
        source = uploaded(p.settings, p.settings.cloud_controller)
        return root(p, f"cp -- {quote(source)} {quote(self._target(p, tree))}")

    def plan(self, p: Plan) -> list[Action]:
        return [Shell(self._copy(p, planned_trees(p)[1]))]

    async def check(self, ctx: Ctx) -> Check:
        _old, tree = await trees(ctx)
        source = await sha256_remote(ctx, uploaded(ctx.settings, ctx.settings.cloud_controller))
        target = await sha256_remote(ctx, self._target(ctx, tree))
        if source and source == target:
            return Check(True, f"{self._target(ctx, tree)} is in place")
        return Check(False, "the jar is not in WEB-INF/lib")

    async def run(self, ctx: Ctx) -> None:
        _old, tree = await trees_unpacked(ctx)
        await ctx.sh(self._copy(ctx, tree))


# What a stream manager does without, in plugins/: the node-side autoscale
# plugin (the procedure's step 5) and the WebRTC plugin, which every release
# ships (5.1.1 and 6.2.0 as red5pro-webrtc-plugin-<version>-RELEASE.jar) and
# which Red5's general stream manager upgrade page removes from the new
# distribution with it, as its stream manager install pages and installers
# delete it (data README; facts audit 61, M1).
_NOT_ON_A_STREAM_MANAGER = ("red5pro-autoscale-plugin-*.jar", "red5pro-webrtc-plugin-*.jar")


def _plugin_names(*more: str) -> str:
    """find's test for those plugins (and `more` names): one -name each, or'd."""
    names = " -o ".join(f"-name {quote(glob)}" for glob in (*more, *_NOT_ON_A_STREAM_MANAGER))
    return f"\\( {names} \\)"


class StripAutoscale(Red5Step):
    id = "strip-autoscale"
    title = "Remove the autoscale plugin"
    phase = Phase.PREPARE
    destructive = True
    summary = (
        "Deletes conf/autoscale.xml, plugins/red5pro-autoscale-plugin-*.jar and "
        "plugins/red5pro-webrtc-plugin-*.jar from the NEW distribution: Red5 removes them "
        "from a stream manager (they serve nodes)."
    )

    def _find(self, base: str) -> str:
        return (f"find {quote(base + '/conf')} {quote(base + '/plugins')} -maxdepth 1 "
                f"{_plugin_names('autoscale.xml')} -print")

    def plan(self, p: Plan) -> list[Action]:
        return self._removals(p, planned_trees(p)[1])

    def _removals(self, p: AnyContext, base: str) -> list[Action]:
        return [
            Shell(root(p, f"rm -f -- {quote(base + '/conf/autoscale.xml')}")),
            Shell(root(p, f"find {quote(base + '/plugins')} -maxdepth 1 {_plugin_names()} "
                          "-delete")),
        ]

    async def check(self, ctx: Ctx) -> Check:
        _old, tree = await trees(ctx)
        if not await exists(ctx, tree, "-d"):
            return Check(False, f"{tree} is not there")
        found = await ctx.probe(self._find(tree))
        if found.ok and not found.stdout.strip():
            return Check(True, "no autoscale.xml, autoscale plugin or WebRTC plugin in the new "
                         "tree")
        # On one line: a warning that spans two loses its step's name on the
        # second in `runbook log` (TUI trial).
        left = [line.strip() for line in found.stdout.splitlines() if line.strip()]
        return Check(False, f"still in the new tree: {', '.join(left)}" if left else "")

    async def run(self, ctx: Ctx) -> None:
        _old, tree = await trees_unpacked(ctx)
        await run_shell(ctx, self._removals(ctx, tree))


_XML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BEAN = re.compile(r"<bean[\s/>]")


def _refuse_cut_short(path: str, xml: str, remedy: str) -> None:
    """A Spring context without a single bean is a file cut short: merging the
    controller into it would write a context that starts nothing."""
    if not _BEAN.search(_XML_COMMENT.sub("", xml)):
        what = "is empty" if not xml.strip() else "has no <bean> outside comments"
        raise StepFailed(f"{path} {what}; it may have been cut short. Carry-over will not "
                         f"merge into it: {remedy}, then run carry-over again")


def _compare_script(old: str, new: str) -> str:
    """One look, as root, at what Red5's upgrade page leaves to the operator:
    each named file the live install has, against the new tree's (cmp -s, no
    content printed), and the folders under webapps/ of each side."""
    looks = []
    for rel in red5.EDITED_BY_HAND:
        live, fresh = quote(f"{old}/{rel}"), quote(f"{new}/{rel}")
        looks.append(f"if [ -f {live} ]; then if [ ! -f {fresh} ]; then echo "
                     f"{quote('lacks ' + rel)}; elif ! cmp -s -- {live} {fresh}; then echo "
                     f"{quote('differs ' + rel)}; fi; fi")
    for side, tree in (("live", old), ("new", new)):
        each = quote(side + " %f\\n")  # find's own \n: one folder a line
        looks.append(f"find {quote(tree + '/' + red5.WEBAPPS)} -mindepth 1 -maxdepth 1 "
                     f"-type d -printf {each} 2>/dev/null")
    return "; ".join([*looks, "echo compared"])


def _named(paths: list[str]) -> str:
    return paths[0] if len(paths) == 1 else f"{', '.join(paths[:-1])} and {paths[-1]}"


def not_carried_said(differ: list[str], lacking: list[str], webapps: list[str],
                     base_url: str, *, cors_lost: bool = False) -> list[tuple[str, str]]:
    """(kind, warning) for what carry-over found and does not carry: the
    files of red5.EDITED_BY_HAND that differ between the live install and
    the new tree or that the new tree lacks, the live install's webapps the
    new tree lacks, a CorsFilter the live streammanager web.xml has and the
    new one lacks (`cors_lost`), and, where [api] base_url is https, the
    start-service that would fail on a conf/red5.properties left as shipped."""
    said = []
    if differ or lacking:
        found = []
        if differ:
            verb = "differs" if len(differ) == 1 else "differ"
            found.append(f"{_named(differ)} {verb} between the live install and the new tree")
        if lacking:
            found.append(f"the new tree has no {_named(lacking)}, which the live install has")
        one = len(differ) + len(lacking) == 1
        them, files = ("it", "file") if one else ("them", "files")
        said.append(("edits-to-redo", (
            f"warning: {'; '.join(found)} (the release's own changes can do that too). "
            f"runbook carries no edit of {them}: Red5's upgrade page asks you to make your own "
            f"edits again in the new tree, by hand, not by copying the live {files}. Do that "
            "before the window")))
    if webapps:
        said.append(("webapps-to-copy", (
            f"warning: the live install has webapps the new tree lacks: {', '.join(webapps)}. "
            "If they are your own, Red5's upgrade page says to copy them into the new tree; "
            "runbook does not. Do that before the window")))
    if cors_lost:
        said.append(("cors-to-redo", (
            f"warning: the live install's {red5.WEB_XML} has a CorsFilter, which lets web "
            "pages on other sites call the stream manager API, and the new tree's has none "
            "active. runbook does not carry it: add that <filter> and its <filter-mapping> to "
            "the new tree's web.xml again, by hand (Red5's CORS page), before the window, or "
            "those pages lose the API at the cutover")))
    if red5.RED5_PROPERTIES in differ + lacking and base_url.lower().startswith("https:"):
        said.append(("https-at-risk", (
            f"warning: [api] base_url is https ({base_url}), and the new tree's "
            f"{red5.RED5_PROPERTIES} is not the live one. If the live file holds your SSL "
            "settings, the new release serves no HTTPS until you make them again there, and "
            "start-service, which reaches the API by that address, would fail in the downtime")))
    return said


async def _cors_lost(ctx: Ctx, old: str, new: str) -> bool:
    """Whether the live streammanager web.xml has a CorsFilter the new tree's
    lacks (facts audit 61, M2). Compared by what the filter is, not byte for
    byte: the file's servlet mappings change with the API version, so every
    upgrade across one would differ. A file that cannot be read says
    nothing here; the steps after carry-over read the new tree anyway."""
    def look(tree: str) -> str:
        path = quote(f"{tree}/{red5.WEB_XML}")
        return privileged_script(f"if [ -f {path} ]; then cat -- {path}; fi",
                                 ctx.settings.host.sudo)

    live = await ctx.probe(look(old))
    if not live.ok or not red5.has_cors_filter(live.stdout):
        return False
    fresh = await ctx.probe(look(new))
    return fresh.ok and not red5.has_cors_filter(fresh.stdout)


async def _say_not_carried(ctx: Ctx, old: str, new: str) -> None:
    """Warn, before the cutover, of what runbook does not carry (review 60b,
    H1). Only a warning: it never fails the step."""
    looked = await ctx.probe(privileged_script(_compare_script(old, new),
                                               ctx.settings.host.sudo))
    lines = looked.stdout.splitlines()
    if not looked.ok or "compared" not in lines:
        why = looked.last_error_line() or "the look printed nothing"
        said = [("edits-unread", (
            f"warning: runbook could not compare {_named(list(red5.EDITED_BY_HAND))} and the "
            f"webapps of the live install and the new tree ({why}). Red5's upgrade page asks "
            "you to make your own edits to them again in the new tree, by hand, before the "
            "window"))]
    else:
        found: dict[str, list[str]] = {"differs": [], "lacks": [], "live": [], "new": []}
        for line in lines:
            word, _, rest = line.partition(" ")
            if word in found and rest:
                found[word].append(rest)
        webapps = sorted(set(found["live"]) - set(found["new"]))
        said = not_carried_said(found["differs"], found["lacks"], webapps,
                                ctx.settings.api_base_url,
                                cors_lost=await _cors_lost(ctx, old, new))
    text = "\n".join(text for _, text in said)
    if text == ctx.facts.scratch.not_carried_said:
        return
    ctx.facts.scratch.not_carried_said = text
    for kind, warning in said:
        ctx.note(kind, warning, warning=True)


class CarryOver(Red5Step):
    id = "carry-over"
    title = "Carry over licence and controller"
    phase = Phase.PREPARE
    summary = (
        "Copies LICENSE.KEY from the live install and activates, in the new "
        "applicationContext.xml, the same cloud-controller bean the live install uses: "
        "a fresh distribution has no licence and runs the dummy controller. It also "
        "compares conf/red5.properties, jee-container.xml, cluster.xml, the webapps and the "
        "streammanager web.xml's CorsFilter with the live install's and warns of what "
        "differs: those edits are yours to make again, by hand."
    )
    caution = "Without LICENSE.KEY the new server does not start."
    # As properties: the live install may change before the window (a licence
    # renewed, its context kept closer), and the copies must follow (re-trial).
    recheck_until_cutover = True

    def _copy(self, p: AnyContext, old: str, target: str) -> str:
        return root(p, f"cp -p -- {quote(old + '/LICENSE.KEY')} {quote(target + '/LICENSE.KEY')}")

    def _edit(self, p: AnyContext, old: str, target: str) -> EditFile:
        # The live bean may hold the cloud's credentials as written values:
        # as private as the live file, as LICENSE.KEY's `cp -p` is.
        return EditFile(f"{target}/{red5.APP_CONTEXT}",
                        "activate the live install's cloud-controller bean, comment out the "
                        "dummy", p.facts.scratch.carry_over_diff,
                        private_as=f"{old}/{red5.APP_CONTEXT}")

    def plan(self, p: Plan) -> list[Action]:
        old, target = planned_trees(p)
        return [Shell(self._copy(p, old, target)), self._edit(p, old, target)]

    async def check(self, ctx: Ctx) -> Check:
        old, target = await trees(ctx)
        if not await exists(ctx, target, "-d"):
            return Check(False, f"{target} is not there")
        await _say_not_carried(ctx, old, target)
        live_path, new_path = f"{old}/{red5.APP_CONTEXT}", f"{target}/{red5.APP_CONTEXT}"
        live_xml = await read_remote(ctx, live_path)
        new_xml = await read_remote(ctx, new_path)
        _refuse_cut_short(live_path, live_xml, "restore it from your backup of the live install")
        _refuse_cut_short(new_path, new_xml, (
            f"put the shipped file back ({red5.APP_CONTEXT} in {ctx.settings.distribution.name}; "
            "if runbook edited it, the file as it was is beside it as "
            "applicationContext.xml.runbook-bak)"))
        try:
            merged = red5.carry_controller(live_xml, new_xml)
        except ValueError as exc:
            raise StepFailed(f"{exc} (live: {live_path}; new: {new_path})") from None
        ctx.facts.scratch.carry_over_xml = merged
        ctx.facts.scratch.carry_over_diff = "\n".join(difflib.unified_diff(
            new_xml.splitlines(), merged.splitlines(), "shipped", "with live controller",
            lineterm=""))
        await mask_licences(ctx, old, target)
        licence = await sha256_remote(ctx, f"{target}/LICENSE.KEY")
        live_licence = await sha256_remote(ctx, f"{old}/LICENSE.KEY")
        if merged == new_xml and licence is not None and licence == live_licence:
            otherwise = await kept_otherwise(ctx, new_path, live_path)
            if otherwise is not None:
                return Check(False, otherwise)
            return Check(True, f"LICENSE.KEY and {red5.active_controller(new_xml)} in place")
        # What is missing, named: said of a skipped carry-over before the
        # cutover, where "not done" did not say the new release will not start
        # (TUI trial).
        missing = []
        if licence is None:
            missing.append(f"{target}/LICENSE.KEY is not there, and the new release will not "
                           "start without it")
        elif licence != live_licence:
            missing.append(f"{target}/LICENSE.KEY is not the live install's")
        if merged != new_xml:
            missing.append(f"the new {red5.APP_CONTEXT} does not activate the live install's "
                           f"{red5.active_controller(merged)} (the release as shipped runs the "
                           "dummy controller)")
        return Check(False, "; ".join(missing))

    async def run(self, ctx: Ctx) -> None:
        old, target = await trees_unpacked(ctx)
        await mask_licences(ctx, old)
        if not await exists(ctx, f"{old}/LICENSE.KEY", "-f"):
            raise StepFailed(f"{old}/LICENSE.KEY is missing; the new server would not "
                             "start without a licence")
        await ctx.sh(self._copy(ctx, old, target))
        merged = ctx.facts.scratch.carry_over_xml
        if merged is not None and (ctx.facts.scratch.carry_over_diff or await kept_otherwise(
                ctx, f"{target}/{red5.APP_CONTEXT}", f"{old}/{red5.APP_CONTEXT}")):
            await ctx.write_file(self._edit(ctx, old, target), merged)

    async def verify(self, ctx: Ctx) -> Check:
        old, target = await trees(ctx)
        xml = await read_remote(ctx, f"{target}/{red5.APP_CONTEXT}")
        wanted = red5.active_controller(await read_remote(ctx, f"{old}/{red5.APP_CONTEXT}"))
        if wanted is None or red5.active_controller(xml) != wanted:
            return Check(False, f"the new applicationContext.xml does not activate {wanted}")
        if not await exists(ctx, f"{target}/LICENSE.KEY", "-f"):
            return Check(False, "LICENSE.KEY is not in the new tree")
        otherwise = await kept_otherwise(ctx, f"{target}/{red5.APP_CONTEXT}",
                                         f"{old}/{red5.APP_CONTEXT}")
        if otherwise is not None:
            return Check(False, otherwise)
        return Check(True, f"LICENSE.KEY copied; {wanted.rsplit('.', 1)[-1]} active")
