"""What the upgrade's steps learn and hand to later steps.

Journalled after every step (masked, unless plain) and loaded back by a
resumed run, so a later step (or a later process) never has to ask the host
again. What a step keeps for itself only is in ``scratch``: rebuilt by its
check, never journalled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, TypeAlias

from runbook.facts import Facts, not_journalled, plain
from runbook.model import Check
from runbook.step import PlanContext, Step, StepContext

if TYPE_CHECKING:
    from runbook.properties import Review
    from steps.red5 import Swap, Tuned


class RestartReason(Enum):
    """Why start-service (or the way back's start) restarts the service where
    it would start it, as its check found: each time the service runs and
    read what is wrong as it started, which waiting does not mend.
    Red5Facts.restart_reason holds it (None: the service is started)."""

    # Its red5-web.properties changed since it started (put right while it
    # ran): restarted at once, answering or not, as it may use the database
    # the file named then.
    FILE_CHANGED_SINCE_START = "file-changed-since-start"
    # It refuses the API token, and its file was written since it started.
    TOKEN_REFUSED = "token-refused"
    # Its API answers 404: the streammanager webapp did not load.
    WEBAPP_NOT_LOADED = "webapp-not-loaded"
    # An earlier start met no database (Red5Facts.started_without_database),
    # which is back: its webapp is not known to load later by itself.
    STARTED_WITHOUT_DATABASE = "started-without-database"
    # It has run longer than [timeouts] service_start, its API silent: hung.
    HUNG = "hung"


@dataclass
class Red5Scratch:
    """What the steps keep for this process only, each for its own plan, run
    and verify or for a later step's: never journalled, rebuilt by the checks."""

    # start-service: the byte offset in the new install's red5.log where the
    # lines of the service's last start begin (its size just before runbook
    # started or restarted it), so that a restart after a fix is not judged by
    # the dbURL line an earlier start wrote. None when runbook found the
    # service running and did not start it (after a resume, say): where that
    # start's lines begin is not known, and the log is read from the top.
    # Its run sets it before it reads it: nothing for a later process.
    red5_log_start_offset: int | None = None
    # start-service: the side (new, or old for the way back) and the proof
    # that it serves, as its run or check just made it, for its verify to
    # take once instead of asking the API and the host again
    serving_proved: tuple[str, Check] | None = None
    carry_over_xml: str | None = None
    carry_over_diff: str = ""
    # carry-over: what it last said of the files and webapps it does not
    # carry (its check runs again at a skipped step's look): said once
    not_carried_said: str | None = None
    export_shrink: str | None = None
    # export-config, resumed: how the fleet differs from this run's snapshot
    export_changed: str | None = None
    # export-config: the snapshot whose 3.x-shape warnings this process said
    # (its check runs again as its verify: said once)
    export_shapes_said: str | None = None
    # (old install, new tree) as the last look found them (common.trees): a
    # plan shows the paths its run will use, after promote-new too
    trees: tuple[str, str] | None = None
    # the red5pro-server-* folder found beside the promoted install, once
    # warned of (common.trees): said once, not at every step that looks
    stray_said: str | None = None
    # service-unit: the kept unit's commons-daemon jar, to point at the release's
    unit_swap: Swap | None = None
    # recreate: origins in service, of those wanted, at its last look
    origins_counted: tuple[int, int] | None = None
    # recreate (or the way back's): the step whose run's wait has just found
    # every origin in service, for its verify to take once instead of asking
    # the API again
    origins_proved: str | None = None
    # service-unit: the installed unit's tuning, carried into the release's unit
    unit_tuning: list[Tuned] | None = None
    # The tables an unfinished import of schema left (its retry drops them
    # and imports the file whole).
    partial_schema: tuple[str, ...] = ()
    # delete-nodegroups: the groups its check found listed, and those of them
    # being deleted already (None: not looked yet, as in `runbook plan`)
    nodegroups_listed: tuple[str, ...] | None = None
    nodegroups_going: tuple[str, ...] = ()
    # delete-nodegroups: its check found none listed, and no cutover on
    # record here (this machine's record, this run's journal): it deletes none.
    nodegroups_none: bool = False
    # rollback-nodegroups: the same, of the new stream manager, the API
    # version it speaks, and what its run ended with (for its verify)
    new_groups_listed: tuple[str, ...] | None = None
    new_groups_going: tuple[str, ...] = ()
    new_groups_api: str | None = None
    # ... and those it listed that recreate did not make, which it keeps,
    # and those of which it cannot tell (made alike, one perhaps recreate's)
    new_groups_not_recreates: tuple[str, ...] = ()
    new_groups_made_alike: tuple[str, ...] = ()
    new_groups_said: str | None = None
    # unpack: the new tree is there already, so the unzip goes over it
    unpack_over: bool = False
    properties_review: Review | None = None
    # properties: the digest of the decisions file its review applied
    properties_decided_by: str | None = None
    # properties: the sha256 of the new file as its review read it (once
    # written, the merge, which the review's template digest does not cover)
    properties_file_read: str | None = None
    # preflight: the API did not answer this time (mid-cutover), so its
    # version is the earlier run's, not one this run saw
    api_silent: bool = False
    # preflight: resumed mid-cutover, the API answering is the new release's
    # (its version), not the old one's the facts keep for the way back
    api_answering: str | None = None
    # preflight: resumed mid-cutover, the API answered with an error (an HTTP
    # status, said as such): something serves there, up and failing
    api_failing: str | None = None
    # preflight: the stream manager serving then took this process's API
    # token, so a release that refuses it later has another in its file
    token_taken: bool = False
    # start-service (and the way back's start): the steps that have begun a
    # run in this process, and whether this run is the one a rehearsal's
    # token-rejected fault at the step is armed for (its first)
    runs_begun: set[str] = field(default_factory=set)
    token_fault_on: bool = False
    # start-service: this run's failure has looked whether the service runs
    left_running_looked: bool = False
    # stop-service: pid -> the red5pro unit's control group, of each process
    # it found there whose command line the match missed (its plan says so)
    unit_only: dict[str, str] = field(default_factory=dict)
    # stop-service: pid -> command line of each process of the red5pro unit's
    # control group it left because the group runs the new release (a reboot
    # after promote-new started it); its plan and its look say so
    unit_left: dict[str, str] = field(default_factory=dict)
    # upload: host path -> (size, sha256) its run just proved on the host, for
    # its verify to take instead of reading the file again; never carried on
    proven: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Red5Facts(Facts):
    """What the steps learn about the host as they go, for the steps after them."""

    # plain(): journalled unmasked (safety review: a secret of digits matched
    # inside live_tree, and a resumed run found no process of the old install).
    # What may hold a secret (the processes' command lines) is not among them.

    # preflight: the host as found before anything changed
    install_real: str | None = plain(None)  # install.dir resolved on the host
    live_version: str | None = plain(None)
    new_version: str | None = plain(None)
    live_tree: str | None = plain(None)  # device:inode of the live install folder
    api_version: str | None = plain(None)
    controller: str | None = None
    instance_prefix: str = ""
    java: int | None = plain(None)
    db_port: int | None = plain(None)  # the new database's, once a step has read the login
    db_user: str | None = plain(None)  # the live login's user (config.dbUser), never its password
    # the live database (config.dbHost, config.dbPort of the old install's
    # file): no command to drop a database is ever given for it
    live_db_host: str | None = plain(None)
    live_db_port: int | None = plain(None)
    # the new release
    new_top: str | None = plain(None)  # the folder the distribution unpacks into
    new_flat: bool = plain(False)  # the zip holds no top folder: unzipped into new_top
    new_tree: str | None = plain(None)  # device:inode of the unpacked folder
    local_sha256: dict[str, str] = plain(factory=dict)
    snapshot: str | None = plain(None)  # path of the fleet snapshot this run uses
    # properties: the databases (host:port, no login) the merged file and the
    # live one name, for what recreate leaves to do after the upgrade
    new_database_at: str | None = plain(None)
    old_database_at: str | None = plain(None)
    # schema: the database (host:port) its import began in, until it ends
    # well; what that database holds of the release's tables is its own.
    # Plain as new_database_at: masked, a resume no longer knew its own import.
    schema_import_into: str | None = plain(None)
    # cutover
    red5_processes: dict[str, str] = field(default_factory=dict)  # pid -> command line
    # start-service: why the service is restarted (restart_reason, below),
    # journalled as these five booleans, as runbook has always journalled it:
    # a journal of an earlier runbook resumes as it did. Read and written as
    # restart_reason, but for two that are also what an earlier start met: a
    # start that met no database sets started_without_database, and
    # StartService._forget_earlier_starts clears it and webapp_not_loaded.
    restart_service: bool = plain(False)
    # The new release was started while its database could not be reached: it
    # is restarted at once when the step is tried again.
    started_without_database: bool = plain(False)
    # The service runs and refuses the API token: it reads its token only as
    # it starts, so it is restarted at once.
    token_refused: bool = plain(False)
    # The service runs and its API answers 404: its streammanager webapp did
    # not load, which only a restart changes, so it is restarted at once.
    # Found by each check, whatever the cause (its controller's class not
    # found, say), which the failure before it said.
    webapp_not_loaded: bool = plain(False)
    # The service answers, and started before its red5-web.properties last
    # changed (put right while it ran): it reads its database there only as
    # it starts, so it is restarted at once, answering or not.
    file_changed_since_start: bool = plain(False)
    new_api_version: str | None = plain(None)
    # start-service failed and left the new release's service running (its
    # words for it), which the exit lines say while the stream manager is
    # down (model.LEFT_RUNNING); None when it left nothing running, or serves.
    # Set as each attempt begins to words saying it is not known, until the
    # step looks (review 59c L6: a drop mid-start left it None, "nothing runs")
    left_running: str | None = plain(None)
    # rollback-start's the same, of the old release it started
    # (model.WAY_BACK_LEFT_RUNNING): said beside where the way back stands
    way_back_left_running: str | None = plain(None)
    # recreate: the new stream manager's nodegroups it made or took to stand
    # for a saved one, each as soon as the API named it (journalled at its next
    # action). None until recreate begins, and in a journal from before the
    # fact: not known, so the way back takes every listed nodegroup for
    # recreate's. Known, it takes these, its nodegroup-recreated notes', and
    # one made like a saved nodegroup none of those stands for (its making
    # not recorded: a kill -9 or a lost answer right after the POST).
    recreated_nodegroups: list[str] | None = plain(None)
    # recreate: the saved nodegroups whose POST admin/nodegroup it sent and
    # whose group is not on record yet: journalled before the POST, cleared
    # once the group is recorded or the API refused it. Only for these may the
    # way back take a group made like one, not recorded, for recreate's
    # (review 58a L2: a POST refused, one made by hand the same way was
    # deleted). None until recreate begins, or in a journal from before it.
    nodegroups_posted: list[str] | None = plain(None)
    # promote-new: when it moved the new tree into place, on the host's boot
    # clock (the boot's id, seconds since it), read before the rename; None
    # until then, where the host did not say, or from an older journal (whose
    # promoted_at was this machine's clock: review 58a L4)
    promoted_boot: str | None = plain(None)
    promoted_uptime: float | None = plain(None)
    # the way back: when the new tree was set aside (its folder's name)
    rollback_stamp: str | None = plain(None)
    # the way back: the new stream manager's nodegroups it could not delete
    # (names, or words for them when they could not be listed), whose nodes
    # the old stream manager tears down once it runs; None when none are left
    new_nodegroups_left: str | None = plain(None)
    # the way back: the new stream manager's nodegroups this run's recreate
    # did not make, which it kept (made by hand in the window): they stay in
    # the new database and their nodes go to the old stream manager's sweep,
    # so they are warned of and named before another attempt (trial 61, F2)
    new_nodegroups_kept: list[str] = plain(factory=list)
    # the way back: rollback-nodegroups came to an end (all gone, none made,
    # or some left): a resume trusts it unless it left some (review 58a, M1)
    new_nodegroups_looked_at: bool = plain(False)
    # the way back: the cutover steps it found nothing of to put back
    # (rollback-unit: service-unit had not replaced the unit), which the
    # report does not call undone (operator re-trial 57b, F-G)
    nothing_to_undo: list[str] = plain(factory=list)
    # what the steps keep for this process only
    scratch: Red5Scratch = not_journalled(Red5Scratch)

    def snapshot_in_use(self) -> str | None:
        # export-config's, which delete-nodegroups deletes by (common.snapshot).
        return self.snapshot

    @property
    def restart_reason(self) -> RestartReason | None:
        """Why start-service restarts the service; None where it starts it.
        Where a journal holds more than one of the booleans, the first in
        this order is the reason, as the plan has always said it."""
        if not self.restart_service:
            return None
        if self.file_changed_since_start:
            return RestartReason.FILE_CHANGED_SINCE_START
        if self.token_refused:
            return RestartReason.TOKEN_REFUSED
        if self.webapp_not_loaded:
            return RestartReason.WEBAPP_NOT_LOADED
        if self.started_without_database:
            return RestartReason.STARTED_WITHOUT_DATABASE
        return RestartReason.HUNG

    @restart_reason.setter
    def restart_reason(self, reason: RestartReason | None) -> None:
        self.restart_service = reason is not None
        self.file_changed_since_start = reason is RestartReason.FILE_CHANGED_SINCE_START
        self.token_refused = reason is RestartReason.TOKEN_REFUSED
        self.webapp_not_loaded = reason is RestartReason.WEBAPP_NOT_LOADED
        # Not cleared by another reason: it is an earlier start's failure,
        # which stays on record until a start is made or found serving.
        if reason is RestartReason.STARTED_WITHOUT_DATABASE:
            self.started_without_database = True


Ctx: TypeAlias = StepContext[Red5Facts]
Plan: TypeAlias = PlanContext[Red5Facts]
Red5Step: TypeAlias = Step[Red5Facts]
AnyContext: TypeAlias = "PlanContext[Red5Facts] | StepContext[Red5Facts]"
