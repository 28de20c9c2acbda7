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
terminated the node (recorded on the instance).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

STATE_DIRNAME = ".rehearsal"
PACE_ENV = "RUNBOOK_REHEARSAL_PACE"

# Seconds at pace 1.0. Short enough for a rehearsal to feel live, long enough
# that a poller sees every state go by.
PENDING_S = 1.5
RUNNING_UNTIL_S = 3.0
TERMINATING_S = 1.5

SEED_LAUNCH_CONFIG = "rehearsal-lc"
SEED_SCALE_POLICY = "rehearsal-sp"
SEED_REGIONS = ["us-east-1", "us-west-2"]


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


class Database(TypedDict):
    """One fake Stream Manager database (what MySQL's ``cluster`` schema holds for us)."""

    host: str
    port: int
    next_id: int
    nodegroups: dict[str, dict[str, Any]]
    launchconfigs: dict[str, dict[str, Any]]
    scalepolicies: dict[str, dict[str, Any]]
    nodes: dict[str, list[str]]


def pace() -> float:
    """Multiplier for every life-cycle duration; tests set it small to run fast."""
    raw = os.environ.get(PACE_ENV, "")
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        return 1.0
    return value if value >= 0 else 1.0


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
    """pending, running, inservice or terminating; None once the instance is gone."""
    now = time.time() if now is None else now
    p = float(instance.get("pace", pace()))
    ended = instance.get("terminated_at")
    if ended is not None:
        return "terminating" if now < ended + TERMINATING_S * p else None
    age = now - instance["created"]
    if age < PENDING_S * p:
        return "pending"
    if age < RUNNING_UNTIL_S * p:
        return "running"
    return "inservice"


def terminate(instance: Instance, now: float) -> bool:
    """Start tearing an instance down; False when that had already begun."""
    if instance.get("terminated_at") is not None:
        return False
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


def known_identifiers(db: Database) -> set[str]:
    return {identifier for members in db["nodes"].values() for identifier in members}


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
        members = db["nodes"].get(name, [])
        if record.get("deleting") and not members:
            del db["nodegroups"][name]
            db["nodes"].pop(name, None)
        elif record.get("state") == "new" and any(
            instance_state(inst, now) == "inservice"
            for inst in (state.instance(i) for i in members)
            if inst is not None
        ):
            record["state"] = "active"
    for name in list(db["nodes"]):
        if name not in db["nodegroups"]:
            del db["nodes"][name]


def public_group(group: dict[str, Any]) -> dict[str, Any]:
    """A nodegroup as the REST API shows it (the deleting flag is ours)."""
    return {key: value for key, value in group.items() if key != "deleting"}


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
    state: str = "new",
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
        "deleting": False,
    }
    db["nodegroups"][group["name"]] = group
    db["nodes"].setdefault(group["name"], [])
    return group


def delete_nodegroup(state: State, db: Database, name: str, now: float) -> dict[str, Any]:
    """Mark a group for deletion and start terminating its nodes; the group
    itself goes away in ``settle`` once the cloud has let go of them."""
    group = db["nodegroups"][name]
    answer = public_group(copy.deepcopy(group))
    group["deleting"] = True
    for identifier in db["nodes"].get(name, []):
        instance = state.instance(identifier)
        if instance is not None:
            terminate(instance, now)
    settle(state, db, now)
    return answer


def role_capacity(launch_config: dict[str, Any] | None, role: str) -> int:
    """A role's connectionCapacity from a launch config (strings in the API's
    examples, numbers elsewhere); a plausible default when absent."""
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
    ``targets`` layouts appear in Red5's material, so both are read."""
    targets = (policy or {}).get("targets") or {}
    flat = list(targets.get("target") or [])
    for region in targets.get("region") or []:
        flat.extend(region.get("target") or [])
    for target in flat:
        if isinstance(target, dict) and target.get("role") == role and key in target:
            try:
                return int(target[key])
            except (TypeError, ValueError):
                return None
    return None


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
) -> tuple[Instance, int]:
    """Add a node to the cloud and to the database; returns it with its id."""
    created = now if created is None else created
    stamp = now_ms(created)
    taken = {inst["identifier"] for inst in state.instances}
    # The naming scheme <prefix>-<region>-<ms> is what puts the node under the
    # stream manager's prefix sweep, so it is kept even when stamps collide.
    while f"{prefix}-{region}-{stamp}" in taken:
        stamp += 1
    instance: Instance = {
        "identifier": f"{prefix}-{region}-{stamp}",
        "role": role,
        "group": group["name"],
        "region": region,
        "availabilityZone": f"{region}a",
        "address": _address(state, role),
        "launchConfig": group["launchConfig"],
        "capacity": role_capacity(db["launchconfigs"].get(group["launchConfig"]), role),
        "created": created,
        "terminated_at": None,
        "pace": pace(),
    }
    state.instances.append(instance)
    db["nodes"].setdefault(group["name"], []).append(instance["identifier"])
    return instance, _next_id(db)


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


def rehearsal_launch_config() -> dict[str, Any]:
    """The live cluster's launch config (the API's inner ``launchconfig`` object)."""
    return {
        "name": SEED_LAUNCH_CONFIG,
        "description": "Origins and edges for the rehearsal cluster",
        "image": "red5pro-rehearsal-image",
        "version": "0.0.3",
        "targets": {
            "target": [
                {"role": "origin", "instanceType": "c5.large", "connectionCapacity": "30"},
                {"role": "edge", "instanceType": "c5.large", "connectionCapacity": "300"},
            ]
        },
        "properties": {"property": [{"name": "rehearsal", "value": "true"}]},
        "metadata": {"meta": [{"key": "environment", "value": "rehearsal"}]},
    }


def rehearsal_scale_policy() -> dict[str, Any]:
    """The live cluster's scale policy (the API's inner ``policy`` object)."""
    return {
        "name": SEED_SCALE_POLICY,
        "description": "One to two origins, one to ten edges",
        "type": "com.red5pro.services.autoscaling.model.ScalePolicyMaster",
        "version": "0.0.3",
        "targets": {
            "region": [
                {
                    "name": "default",
                    "target": [
                        {"role": "edge", "minLimit": 1, "maxLimit": 10, "scaleAdjustment": 1},
                        {"role": "origin", "minLimit": 1, "maxLimit": 2, "scaleAdjustment": 1},
                    ],
                }
            ]
        },
    }


def seed_live_database(sandbox: Path, db_host: str, db_port: int, instance_prefix: str) -> None:
    """Give the live database what a running cluster has: a launch config, a
    scale policy, an active nodegroup and an origin and an edge in service.

    Seeding happens once: a database that already holds the rehearsal launch
    config is left alone, so a resumed rehearsal does not grow a second group.
    """
    now = time.time()
    with locked_state(Path(sandbox)) as state:
        db = state.database(db_host, db_port)
        if SEED_LAUNCH_CONFIG in db["launchconfigs"]:
            return
        db["launchconfigs"][SEED_LAUNCH_CONFIG] = rehearsal_launch_config()
        db["scalepolicies"][SEED_SCALE_POLICY] = rehearsal_scale_policy()
        long_ago = now - 86400.0
        group = new_nodegroup(
            db, SEED_REGIONS, SEED_LAUNCH_CONFIG, SEED_SCALE_POLICY, long_ago, state="active"
        )
        launch_node(
            state, db, group, "origin", SEED_REGIONS[0], instance_prefix, now, created=long_ago
        )
        launch_node(
            state, db, group, "edge", SEED_REGIONS[1], instance_prefix, now, created=long_ago
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
        return [public_group(group) for group in db["nodegroups"].values()]
