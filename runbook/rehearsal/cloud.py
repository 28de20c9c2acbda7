"""The rehearsal's fake cloud and its fake Stream Manager databases, kept on disk.

Three kinds of process read and write this state at once: the old stream
manager, the new one (each a ``runbook.rehearsal.service`` process) and the
rehearsal host. Keeping it in small JSON files under ``SANDBOX/.rehearsal/``
lets all of them share it without a server, lets a killed rehearsal resume
against the same "cloud", and lets an operator open the files and look.

Layout::

    SANDBOX/.rehearsal/state.lock          fcntl lock taken around every read-modify-write
    SANDBOX/.rehearsal/cloud.json          {"instances": [Instance, ...]}
    SANDBOX/.rehearsal/db/<host>_<port>.json   one Database per (config.dbHost, config.dbPort)

Node life cycles are not driven by a clock thread: they are worked out from
timestamps whenever the state is read, so a node keeps "booting" even while no
stream manager is running, exactly as a real cloud instance would. Durations
scale with RUNBOOK_REHEARSAL_PACE as seen by the process that launched or
terminated the node (recorded on the instance): "real" (1.0) is the documented
timing, "fast" (the default) runs it forty times faster, and a number is taken
as the multiplier itself.

Product facts shown here come from shared/red5pro/FACTS.md (section 2) and
FACTS-scenarios.md (section 4); what they do not say is marked "Inferred".
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from runbook.model import REAL_PACE
from runbook.rehearsal import STATE_DIRNAME, armed

PACE_ENV = "RUNBOOK_REHEARSAL_PACE"

# Seconds at pace 1.0 ("real").
# "The actual instance boot up may take up to two minutes, depending on the
# environment." (rest-api-v-400 smapi-groups/launch-new-origin.md; FACTS.md
# section 2.2, "Add (launch) origin"). The fake takes the whole two minutes.
RUNNING_UNTIL_S = 120.0
# Inferred: no source splits the boot between the cloud's "pending" and the
# node's "running" (Red5 starting, not yet registered); the instance is
# taken to be pending for its first 45 s.
PENDING_S = 45.0
# Inferred: no source gives a teardown time. A minute, like a cloud
# instance's shutdown; Red5's Terraform script polls node lists 30 s apart
# (FACTS-scenarios section 2, r5p_create_node_group.sh step 6), so a poller at
# that rate still sees the state.
TERMINATING_S = 60.0

# The default: the timing a rehearsal has always had (in service 3 s after
# launch, gone 1.5 s after teardown begins), short enough to feel live and
# long enough that a poller sees every state go by.
FAST_PACE = 3.0 / RUNNING_UNTIL_S
PACE_NAMES = {"fast": FAST_PACE, "real": REAL_PACE}


class Instance(TypedDict):
    """One fake cloud instance as stored in cloud.json."""

    identifier: str
    role: str
    group: str
    region: str
    availabilityZone: str
    address: str
    launchConfig: str
    capacity: int
    created: float
    terminated_at: float | None
    # The pace of the process that caused the current phase (launch, then
    # termination). Stored so every reader sees the same life cycle whatever
    # its own environment says.
    pace: float
    # An origin launched while the rehearsal's origins-stuck fault was armed:
    # it boots but never comes into service until the fault is lifted.
    stuck: NotRequired[bool]


class Database(TypedDict):
    """One fake Stream Manager database (what MySQL's ``cluster`` schema holds for us)."""

    host: str
    port: int
    next_id: int
    nodegroups: dict[str, dict[str, Any]]
    launchconfigs: dict[str, dict[str, Any]]
    scalepolicies: dict[str, dict[str, Any]]
    nodes: dict[str, list[str]]
    # Its rows have been written into the database's cluster tables too
    # (cluster_rows): from then on, tables found empty mean it was dropped.
    mirrored: NotRequired[bool]
    # A role's default scale-out alarm threshold where it is not cluster.sql's
    # 60 (service.get_scaleout_alarm): set by a test or a scenario.
    scaleout_alarms: NotRequired[dict[str, float]]


def parse_pace(text: str) -> float:
    """A pace setting: "real", "fast" or a non-negative multiplier of the
    documented durations. ValueError for anything else."""
    word = text.strip().lower()
    if word in PACE_NAMES:
        return PACE_NAMES[word]
    try:
        value = float(word)
    except ValueError:
        raise ValueError(
            f"pace must be one of {', '.join(PACE_NAMES)} or a number, not {text!r}"
        ) from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"pace must be a finite number of at least 0, not {text!r}")
    return value


def pace(environ: Mapping[str, str] | None = None) -> float:
    """Multiplier for every life-cycle duration, from RUNBOOK_REHEARSAL_PACE
    (in this process's environment, or `environ`): FAST_PACE when unset (or
    unusable: a fake service must still answer)."""
    raw = (os.environ if environ is None else environ).get(PACE_ENV, "")
    try:
        return parse_pace(raw) if raw.strip() else FAST_PACE
    except ValueError:
        return FAST_PACE


def state_dir(sandbox: Path) -> Path:
    return Path(sandbox) / STATE_DIRNAME


def database_path(sandbox: Path, db_host: str, db_port: int) -> Path:
    # Host names go into a file name, so anything outside a safe set is
    # flattened; two hosts that flatten alike would share a database, which a
    # rehearsal's loopback endpoints never do.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", db_host) or "_"
    return state_dir(sandbox) / "db" / f"{safe}_{int(db_port)}.json"


def now_ms(now: float | None = None) -> int:
    return int((time.time() if now is None else now) * 1000)


# --- life cycle ----------------------------------------------------------------


def instance_state(instance: Instance, now: float | None = None) -> str | None:
    """pending, running, inservice or terminating (the lower-case node states of
    the API's examples, FACTS.md section 2.4); None once the instance is gone."""
    now = time.time() if now is None else now
    p = float(instance.get("pace", pace()))
    ended = instance.get("terminated_at")
    if ended is not None:
        return "terminating" if now < ended + TERMINATING_S * p else None
    age = now - instance["created"]
    if age < PENDING_S * p:
        return "pending"
    if age < RUNNING_UNTIL_S * p or instance.get("stuck"):
        return "running"
    return "inservice"


def terminate(instance: Instance, now: float) -> bool:
    """Start tearing an instance down; False when that had already begun."""
    if instance.get("terminated_at") is not None:
        return False
    # An instance still booting is torn down from where it is: its boot no
    # longer matters, only its teardown, which runs at the terminating pace.
    instance["terminated_at"] = now
    instance["pace"] = pace()
    return True


# --- locked, atomic access -------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise ValueError(f"rehearsal state file {path} is not valid JSON: {exc}") from exc


def _write_json_atomic(path: Path, data: Any) -> None:
    # Readers in other processes must never see half a file, so the new
    # content lands in a temporary file beside it and replaces it in one step.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _empty_database(db_host: str, db_port: int) -> Database:
    return {
        "host": db_host,
        "port": int(db_port),
        "next_id": 1,
        "nodegroups": {},
        "launchconfigs": {},
        "scalepolicies": {},
        "nodes": {},
    }


class State:
    """What one locked transaction sees; changed files are written back on exit."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._cloud: dict[str, Any] | None = None
        self._databases: dict[Path, Database] = {}
        self._loaded: dict[Path, str] = {}

    @property
    def root(self) -> Path:
        """The rehearsal's state folder (SANDBOX/.rehearsal)."""
        return self._root

    def _remember(self, path: Path, data: Any) -> None:
        self._loaded[path] = json.dumps(data, sort_keys=True)

    @property
    def cloud(self) -> dict[str, Any]:
        if self._cloud is None:
            path = self._root / "cloud.json"
            if path.exists():
                self._cloud = _read_json(path)
                self._remember(path, self._cloud)
            else:
                self._cloud = {"instances": []}
        return self._cloud

    @property
    def instances(self) -> list[Instance]:
        found: list[Instance] = self.cloud["instances"]
        return found

    def instance(self, identifier: str) -> Instance | None:
        for instance in self.instances:
            if instance["identifier"] == identifier:
                return instance
        return None

    def find_database(self, db_host: str, db_port: int) -> Database | None:
        """The database at that endpoint, or None when nothing ever used it."""
        path = database_path(self._root.parent, db_host, db_port)
        if path not in self._databases:
            if not path.exists():
                return None
            self._databases[path] = _read_json(path)
            self._remember(path, self._databases[path])
        return self._databases[path]

    def database(self, db_host: str, db_port: int) -> Database:
        """The database at that endpoint, created empty (and written) if new,
        as a fresh MySQL instance starts empty."""
        found = self.find_database(db_host, db_port)
        if found is None:
            found = _empty_database(db_host, db_port)
            self._databases[database_path(self._root.parent, db_host, db_port)] = found
        return found

    def flush(self) -> None:
        pending: list[tuple[Path, Any]] = []
        if self._cloud is not None:
            pending.append((self._root / "cloud.json", self._cloud))
        pending.extend(self._databases.items())
        for path, data in pending:
            if json.dumps(data, sort_keys=True) != self._loaded.get(path):
                _write_json_atomic(path, data)
                self._remember(path, data)


@contextmanager
def locked_state(sandbox: Path) -> Iterator[State]:
    """Hold the rehearsal's one state lock; write back what changed if no error."""
    root = state_dir(sandbox)
    root.mkdir(parents=True, exist_ok=True)
    with (root / "state.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = State(root)
            yield state
            state.flush()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- the database's view of the cloud ---------------------------------------------


def forget(db: Database) -> bool:
    """Empty `db` of nodegroups, launch configs and scale policies, as a
    cluster database dropped and made again is; whether it held any."""
    held = bool(db["nodegroups"] or db["launchconfigs"] or db["scalepolicies"])
    db["nodegroups"].clear()
    db["launchconfigs"].clear()
    db["scalepolicies"].clear()
    db["nodes"].clear()
    return held


def known_identifiers(db: Database) -> set[str]:
    return {identifier for members in db["nodes"].values() for identifier in members}


# Nodegroup states (FACTS-scenarios section 4: NEW, ACTIVE, TERMINATING,
# INITIALIZING; lower-case on the wire as in the API's examples). 5.1.1 has
# the first three (AM's commons-1.2.10 InstanceGroupState, read with javap;
# facts audit 57b L1).
GROUP_NEW = "new"
GROUP_ACTIVE = "active"
GROUP_TERMINATING = "terminating"

# The answer 6.2.0 and 5.1.1 give to deleting a group already being deleted
# (FACTS-scenarios section 4, "Delete nodegroup"; status 404).
ALREADY_TERMINATING = "Unable delete node group This group is already being terminated."


def settle(state: State, db: Database, now: float) -> None:
    """Apply what time has done since the last look: forget nodes the cloud no
    longer has, drop groups whose deletion has finished, and call a new group
    active once one of its nodes is in service."""
    for group, members in list(db["nodes"].items()):
        alive = []
        for identifier in members:
            instance = state.instance(identifier)
            if instance is not None and instance_state(instance, now) is not None:
                alive.append(identifier)
        db["nodes"][group] = alive
    for name, record in list(db["nodegroups"].items()):
        # Databases written before groups had a terminating state flagged it.
        if record.pop("deleting", False):
            record["state"] = GROUP_TERMINATING
        members = db["nodes"].get(name, [])
        if record.get("state") == GROUP_TERMINATING and not members:
            del db["nodegroups"][name]
            db["nodes"].pop(name, None)
        elif record.get("state") == GROUP_NEW and any(
            instance_state(inst, now) == "inservice"
            for inst in (state.instance(i) for i in members)
            if inst is not None
        ):
            # Inferred: no source says when a new group turns active; here it
            # is once one of its nodes is in service.
            record["state"] = GROUP_ACTIVE
    for name in list(db["nodes"]):
        if name not in db["nodegroups"]:
            del db["nodes"][name]


def public_group(group: dict[str, Any]) -> dict[str, Any]:
    """A nodegroup as the REST API shows it (fields of the API's examples)."""
    return {key: value for key, value in group.items() if key != "deleting"}


def public_groups(db: Database) -> list[dict[str, Any]]:
    """Every nodegroup, oldest first (inferred: the order of their ids, as a
    table read by primary key gives them; the file keeps them by name)."""
    return [public_group(g) for g in sorted(db["nodegroups"].values(), key=lambda g: g["id"])]


def public_node(instance: Instance, now: float) -> dict[str, Any]:
    return {
        "identifier": instance["identifier"],
        "role": instance["role"],
        "availabilityZone": instance["availabilityZone"],
        "address": instance["address"],
        "state": instance_state(instance, now),
        "launchConfig": instance["launchConfig"],
        "capacity": instance["capacity"],
    }


def group_nodes(state: State, db: Database, group: str, now: float) -> list[dict[str, Any]]:
    nodes = []
    for identifier in db["nodes"].get(group, []):
        instance = state.instance(identifier)
        if instance is not None and instance_state(instance, now) is not None:
            nodes.append(public_node(instance, now))
    return nodes


def _next_id(db: Database) -> int:
    value = db["next_id"]
    db["next_id"] = value + 1
    return value


def new_nodegroup(
    db: Database,
    regions: list[str],
    launch_config: str,
    scale_policy: str,
    now: float,
    *,
    name: str | None = None,
    state: str = GROUP_NEW,
) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": _next_id(db),
        "name": name or f"group-{uuid.uuid4()}",
        "originConnections": 0,
        "regions": list(regions),
        "launchConfig": launch_config,
        "scalePolicy": scale_policy,
        "state": state,
        "timestamp": now_ms(now),
    }
    db["nodegroups"][group["name"]] = group
    db["nodes"].setdefault(group["name"], [])
    return group


class AlreadyTerminating(Exception):
    """The group is being deleted already (the API answers 404)."""


def delete_nodegroup(state: State, db: Database, name: str, now: float) -> dict[str, Any]:
    """Delete a group as 6.2.0 and 5.1.1 do (FACTS-scenarios section 4): an
    empty group goes at once; otherwise it turns "terminating", its nodes are
    terminated in the background, and it goes away in ``settle`` once the
    cloud has let go of them. The answer is the group, with the state it has
    after the call. The 4.0 docs' delete-group.md describes the same
    background delete but names no "terminating" state (its example answer
    says "active"): that 4.0 builds answer so too is inferred (data README)."""
    settle(state, db, now)
    group = db["nodegroups"][name]
    if group.get("state") == GROUP_TERMINATING:
        raise AlreadyTerminating(ALREADY_TERMINATING)
    members = db["nodes"].get(name, [])
    if not members:
        del db["nodegroups"][name]
        db["nodes"].pop(name, None)
        return public_group(copy.deepcopy(group))
    group["state"] = GROUP_TERMINATING
    for identifier in members:
        instance = state.instance(identifier)
        if instance is not None:
            terminate(instance, now)
    answer = public_group(copy.deepcopy(group))
    settle(state, db, now)
    return answer


def role_capacity(launch_config: dict[str, Any] | None, role: str) -> int:
    """A role's connectionCapacity from a launch config (text in the API's
    request examples, numbers in its answers); when absent, the docs' example launch config's
    origin and edge values (inferred: see the data README)."""
    targets = ((launch_config or {}).get("targets") or {}).get("target") or []
    for target in targets:
        if isinstance(target, dict) and target.get("role") == role:
            try:
                return int(str(target.get("connectionCapacity")))
            except (TypeError, ValueError):
                break
    return 30 if role == "origin" else 300


def role_limit(policy: dict[str, Any] | None, role: str, key: str = "maxLimit") -> int | None:
    """A role's limit from a scale policy; both the per-region and the flat
    ``targets`` layouts appear in Red5's material, so both are read. Limits
    come as numbers (80.0 in Red5's Terraform script) or as strings (the
    api-basics page's template)."""
    targets = (policy or {}).get("targets") or {}
    flat = list(targets.get("target") or [])
    for region in targets.get("region") or []:
        flat.extend(region.get("target") or [])
    for target in flat:
        if isinstance(target, dict) and target.get("role") == role and key in target:
            try:
                return int(float(target[key]))
            except (TypeError, ValueError):
                return None
    return None


def max_origins(policy: dict[str, Any] | None) -> int:
    """How many origins a group may have: the policy's origin maxLimit, else 1
    ("If 'origin' is omitted from the scale policy then the default value for
    maximum origins is 1", auto-aws/api-basics.md; FACTS.md section 2.2)."""
    limit = role_limit(policy, "origin")
    return 1 if limit is None else limit


def _address(state: State, role: str) -> str:
    # TEST-NET ranges (RFC 5737): they look real in a listing and are never routed.
    net = "203.0.113" if role == "origin" else "198.51.100"
    used = sum(1 for inst in state.instances if inst["address"].startswith(net + "."))
    return f"{net}.{10 + used % 240}"


def launch_node(
    state: State,
    db: Database,
    group: dict[str, Any],
    role: str,
    region: str,
    prefix: str,
    now: float,
    *,
    created: float | None = None,
    node_pace: float | None = None,
) -> tuple[Instance, int]:
    """Add a node to the cloud and to the database; returns it with its id."""
    created = now if created is None else created
    stamp = now_ms(created)
    # Availability zone "a" of the region (inferred: AWS zone naming).
    zone = f"{region}a"
    taken = {inst["identifier"] for inst in state.instances}
    # <prefix>-<zone>-<ms>, as the API's example node
    # "node-us-central1-a-1452600712264" (sm-api-v4.0-launch-origin.response.json).
    # The prefix is what puts the node under the stream manager's sweep, so
    # the scheme is kept even when stamps collide.
    while f"{prefix}-{zone}-{stamp}" in taken:
        stamp += 1
    instance: Instance = {
        "identifier": f"{prefix}-{zone}-{stamp}",
        "role": role,
        "group": group["name"],
        "region": region,
        "availabilityZone": zone,
        "address": _address(state, role),
        "launchConfig": group["launchConfig"],
        "capacity": role_capacity(db["launchconfigs"].get(group["launchConfig"]), role),
        "created": created,
        "terminated_at": None,
        "pace": pace() if node_pace is None else node_pace,
    }
    state.instances.append(instance)
    db["nodes"].setdefault(group["name"], []).append(instance["identifier"])
    return instance, _next_id(db)


def live_members(state: State, db: Database, group: str, now: float) -> list[Instance]:
    """The group's instances the cloud still has and is not tearing down."""
    found = []
    for identifier in db["nodes"].get(group, []):
        instance = state.instance(identifier)
        if instance is not None and instance_state(instance, now) not in (None, "terminating"):
            found.append(instance)
    return found


def fill_edges(
    state: State, db: Database, group: dict[str, Any], prefix: str, origin: Instance
) -> list[Instance]:
    """Launch edges until the group has its scale policy's edge minLimit, and
    at least one.

    "Creating an origin server will also generate at least one edge, per
    scaling policy min limit" (auto-aws/api-basics.md; one where the minimum
    is 0 or not given: facts audit 59b, L7), and launching an origin "will
    initiate the nodegroup and populate it per the nodegroup's scaling
    policy" (launch-new-origin.md). Inferred: the edges are launched together
    with the origin (same instant and pace), the minimum counts for the whole
    group, and they are spread over its regions in turn."""
    want = max(1, role_limit(db["scalepolicies"].get(group["scalePolicy"]), "edge",
                             "minLimit") or 0)
    have = [i for i in live_members(state, db, group["name"], origin["created"])
            if i["role"] == "edge"]
    regions = group["regions"] or [origin["region"]]
    launched = []
    for index in range(len(have), want):
        edge, _ = launch_node(
            state, db, group, "edge", regions[index % len(regions)], prefix, origin["created"],
            node_pace=origin["pace"],
        )
        launched.append(edge)
    return launched


class LaunchRefused(Exception):
    """The stream manager will not launch that origin; ``str()`` says why."""


def launch_origin(
    state: State, db: Database, group: dict[str, Any], prefix: str, now: float
) -> tuple[Instance, int, list[Instance]]:
    """POST .../node/origin: one more origin (up to the policy's maximum), and
    the edges the policy's minimum asks for. Returns the origin, its id and the
    edges launched with it."""
    settle(state, db, now)
    name = group["name"]
    if group.get("state") == GROUP_TERMINATING:
        # Inferred: the sources give no message for this case.
        raise LaunchRefused(f"Node group {name} is being terminated.")
    origins = [i for i in live_members(state, db, name, now) if i["role"] == "origin"]
    limit = max_origins(db["scalepolicies"].get(group["scalePolicy"]))
    if len(origins) >= limit:
        # Inferred wording; the limit itself is documented (FACTS.md section 2.2).
        raise LaunchRefused(
            f"nodegroup {name} already has {len(origins)} origin(s); its scale policy "
            f"allows at most {limit}"
        )
    regions = group["regions"]
    origin, node_id = launch_node(
        state, db, group, "origin", regions[len(origins) % len(regions)], prefix, now
    )
    if armed.armed(state.root.parent, "origins-stuck") is not None:
        origin["stuck"] = True
    return origin, node_id, fill_edges(state, db, group, prefix, origin)


def unstick(sandbox: Path) -> None:
    """Let the origins the origins-stuck fault held back go on: being past
    their boot time, they are in service at once."""
    with locked_state(Path(sandbox)) as state:
        for instance in state.instances:
            instance.pop("stuck", None)


def sweep_unknown(state: State, db: Database, prefix: str, now: float) -> list[str]:
    """Terminate live instances carrying ``prefix`` that ``db`` does not know.

    This is the stream manager behaviour the upgrade procedure warns about: a
    stream manager started on an empty database tears down the old nodes.
    """
    if not prefix:
        return []
    known = known_identifiers(db)
    swept = []
    for instance in state.instances:
        identifier = instance["identifier"]
        if (
            instance.get("terminated_at") is None
            and identifier.startswith(prefix)
            and identifier not in known
        ):
            terminate(instance, now)
            swept.append(identifier)
    return swept


# --- for the rehearsal host --------------------------------------------------------


@dataclass(frozen=True)
class SeedGroup:
    """One nodegroup of the rehearsal's live fleet, in its own region with its
    own launch config and scale policy, as a fleet whose node images are
    per-region (AWS AMIs are) has them."""

    region: str
    launch_config: str
    scale_policy: str
    origins: int  # the policy's origin minLimit, and how many are seeded
    max_origins: int
    edges: int  # the policy's edge minLimit, and how many are seeded
    max_edges: int


# Names follow Red5's advice "<imagename>-<nodetypes>" for launch configs
# (auto-aws/api-basics.md; FACTS-scenarios section 6) and its Terraform
# script's "...-scale-policy-1o-1e-..." for policies (FACTS-scenarios
# section 2). Regions and counts are the rehearsal's choice.
SEED_GROUPS: tuple[SeedGroup, ...] = (
    SeedGroup("us-east-1", "red5pro-originedge-us-east-1", "scale-policy-1o-2e-us-east-1",
              origins=1, max_origins=2, edges=2, max_edges=10),
    SeedGroup("eu-west-1", "red5pro-originedge-eu-west-1", "scale-policy-1o-1e-eu-west-1",
              origins=1, max_origins=1, edges=1, max_edges=6),
)


def seed_launch_config(seed: SeedGroup) -> dict[str, Any]:
    """A live launch config (the API's inner ``launchconfig`` object), shaped
    like sm-api-v4.0-create-launchconfig.request.json with origin and edge
    targets. One top-level image: per-target images are "an addition with API
    4.0" (FACTS-scenarios section 6) and the live stream manager may be older."""
    return {
        "name": seed.launch_config,
        "description": f"Origins and edges in {seed.region}",
        "image": f"red5pro-node-image-{seed.region}",
        "version": "0.0.3",
        "targets": {
            "target": [
                {"role": "origin", "instanceType": "c5.large", "connectionCapacity": 30},
                {"role": "edge", "instanceType": "c5.large", "connectionCapacity": 300},
            ]
        },
        "properties": {"property": [{"name": "region", "value": seed.region}]},
        "metadata": {"meta": [{"key": "Name", "value": f"red5pro-node-{seed.region}"}]},
    }


def seed_scale_policy(seed: SeedGroup) -> dict[str, Any]:
    """A live scale policy (the API's inner ``policy`` object), shaped like
    sm-api-v4.0-create-scalepolicy.request.json with origin and edge targets."""
    return {
        "name": seed.scale_policy,
        "description": (
            f"{seed.origins} to {seed.max_origins} origins, "
            f"{seed.edges} to {seed.max_edges} edges"
        ),
        "type": "com.red5pro.services.autoscaling.model.ScalePolicyMaster",
        "version": "0.0.3",
        "targets": {
            "region": [
                {
                    "name": "default",
                    "target": [
                        {"role": "edge", "minLimit": seed.edges, "maxLimit": seed.max_edges,
                         "scaleAdjustment": 1},
                        {"role": "origin", "minLimit": seed.origins,
                         "maxLimit": seed.max_origins, "scaleAdjustment": 1},
                    ],
                }
            ]
        },
    }


def sample_launch_config(seed: SeedGroup) -> dict[str, Any]:
    """A live launch config set up from Red5's own sample, the one 5.1.1 ships
    (AM webapps/streammanager/WEB-INF/launchconfigs/aws-default-v2.json;
    FACTS-scenarios section 6), with its name and its image placeholder
    ``{red5pro-image-id}`` filled in as an operator must, and the rest as
    shipped: version 0.0.2, a list as the value of ``vmSizeFallbacks``; its
    connectionCapacity "2000" kept as the stream manager keeps it, a number
    (inferred for 5.1.1: see the data README)."""
    return {
        "name": seed.launch_config,
        "description": "This is a sample version launch configuration for second generation "
                       "autoscaling for aws",
        "image": f"red5pro-node-image-{seed.region}",
        "version": "0.0.2",
        "targets": {
            "target": [
                {"role": "origin", "instanceType": "c4.xlarge", "connectionCapacity": 2000},
                {"role": "edge", "instanceType": "c4.xlarge", "connectionCapacity": 2000},
            ]
        },
        "properties": {
            "property": [{"name": "vmSizeFallbacks", "value": ["m4.xlarge", "c4.4xlarge"]}]
        },
        "metadata": {"meta": [{"key": "meta-name", "value": "meta-value"}]},
    }


def flat_scale_policy(seed: SeedGroup) -> dict[str, Any]:
    """The seed's scale policy as version 0.0.2, its targets flat
    (``targets.target[]``, no regions): how 5.1.1's and 6.2.0's
    ScalePolicyMaster read and write a 0.0.2 policy (their bytecode; facts
    audit 57b, M2), each target with the fields of the 3.1 docs' flat answer
    (rest-api-v-310 create-scale-policy.md)."""
    policy = seed_scale_policy(seed)
    return {**policy, "version": "0.0.2",
            "targets": {"target": policy["targets"]["region"][0]["target"]}}


def seed_bodies(seed: SeedGroup, api_version: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The seed's launch config and scale policy on a live stream manager of
    that API version: a 5.1 fleet (API 3.0) has its last nodegroup set up
    from Red5's sample and a 0.0.2 policy, so that a rehearsal carries a
    0.0.2 body across; the rest are shaped as the 4.0 docs show."""
    if api_version == "3.0" and seed == SEED_GROUPS[-1]:
        return sample_launch_config(seed), flat_scale_policy(seed)
    return seed_launch_config(seed), seed_scale_policy(seed)


def seed_live_database(sandbox: Path, db_host: str, db_port: int, instance_prefix: str,
                       *, api_version: str | None = None) -> None:
    """Give the live database what a running fleet has: per region, a launch
    config, a scale policy and an active nodegroup whose origins and edges
    (as many as the policy's minimums) are in service; their bodies as a
    stream manager of `api_version` (the live release's) may hold them.

    Seeding happens once: a database that already holds a nodegroup or a
    launch config is left alone, so a resumed rehearsal does not grow more.
    """
    now = time.time()
    with locked_state(Path(sandbox)) as state:
        db = state.database(db_host, db_port)
        if db["launchconfigs"] or db["nodegroups"]:
            return
        long_ago = now - 86400.0
        for seed in SEED_GROUPS:
            config, policy = seed_bodies(seed, api_version)
            db["launchconfigs"][seed.launch_config] = config
            db["scalepolicies"][seed.scale_policy] = policy
            group = new_nodegroup(
                db, [seed.region], seed.launch_config, seed.scale_policy, long_ago,
                state=GROUP_ACTIVE,
            )
            for role, count in (("origin", seed.origins), ("edge", seed.edges)):
                for _ in range(count):
                    launch_node(
                        state, db, group, role, seed.region, instance_prefix, now,
                        created=long_ago,
                    )


def list_instances(sandbox: Path) -> list[dict[str, Any]]:
    """Every instance the fake cloud has ever had, each with its current
    ``state`` (None once gone), for reports such as "the old nodes were torn down"."""
    now = time.time()
    with locked_state(Path(sandbox)) as state:
        return [dict(inst, state=instance_state(inst, now)) for inst in state.instances]


def list_nodegroups(sandbox: Path, db_host: str, db_port: int) -> list[dict[str, Any]]:
    """The nodegroups a database holds right now, as the API would list them."""
    now = time.time()
    with locked_state(Path(sandbox)) as state:
        db = state.find_database(db_host, db_port)
        if db is None:
            return []
        settle(state, db, now)
        return public_groups(db)
