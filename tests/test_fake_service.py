"""The rehearsal's stand-in stream manager, run as the real subprocess the
systemctl shim starts, against a minimal Red5 Pro install built here.

The helpers at the top (install builder, database listener, service runner)
are also used by tests/test_smapi.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runbook.rehearsal import cloud, mysqlfake, sandbox, service
from runbook.rehearsal.sandbox import data_text, jar_bytes
from runbook.rehearsal.scenarios import R6_2
from tests.polling import DEADLINE_S, until

REPO = Path(__file__).resolve().parents[1]
TOKEN = "rehearsal-admin-9f3c27d1"
PREFIX = "rhnode"
# A two-hundredth of the documented durations: in service 0.6 s after launch,
# gone 0.3 s after teardown begins.
PACE = "0.005"
# Pending for half a day: under this pace a node changes state only when a
# test moves its clock (let_time_pass), so what a test sees never depends on
# how fast the machine is.
STILL = "1000"

AWS_BEAN = "com.red5pro.services.cloud.aws.component.AWSInstanceController"
DUMMY_BEAN = "com.red5pro.services.streammanager.cloud.sample.component.DummyCloudController"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def application_context(active: str) -> str:
    """A Spring context where ``active`` is the live apiBridge bean and the
    other controller sits in a comment, as the shipped file has it."""
    other = DUMMY_BEAN if active != DUMMY_BEAN else AWS_BEAN
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<beans xmlns="http://www.springframework.org/schema/beans">
  <bean id="applicationSettings" class="com.red5pro.services.streammanager.ApplicationSettings">
    <property name="dbName" value="cluster" />
  </bean>
  <bean id="apiBridge" class="{active}" init-method="initialize">
  </bean>
  <!-- <bean id="apiBridge" class="{other}" init-method="initialize"> </bean> -->
</beans>
"""


@dataclass
class Install:
    home: Path
    port: int
    api_version: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, rel: str) -> str:
        return f"{self.base_url}/streammanager/api/{self.api_version}/{rel}"

    @property
    def log(self) -> str:
        path = self.home / "log" / "red5.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""


def make_install(
    sandbox: Path,
    *,
    db_port: int,
    name: str = "red5pro",
    api_version: str = "4.0",
    db_host: str = "127.0.0.1",
    token: str = TOKEN,
    prefix: str = PREFIX,
    controller: str = AWS_BEAN,
    controller_jar: bool = True,
    license_key: bool = True,
    release: str = "11.1.0.b835",
) -> Install:
    home = sandbox / "usr" / "local" / name
    webinf = home / "webapps" / "streammanager" / "WEB-INF"
    (webinf / "lib").mkdir(parents=True)
    (home / "conf").mkdir()
    port = free_port()
    (home / "conf" / "red5.properties").write_text(
        f"http.host=0.0.0.0\nhttp.port={port}\nhttps.port=5443\n"
    )
    (home / f"red5pro-server-{release}-release").write_text("")
    if license_key:
        (home / "LICENSE.KEY").write_text("ABCD-EFGH-IJKL-MNOP\n")
    (webinf / "web.xml").write_text(
        "<web-app><servlet-mapping><servlet-name>api</servlet-name>"
        f"<url-pattern>/api/{api_version}/*</url-pattern></servlet-mapping></web-app>\n"
    )
    (webinf / "applicationContext.xml").write_text(application_context(controller))
    (webinf / "red5-web.properties").write_text(
        "webapp.contextPath=/streammanager\n"
        f"config.dbHost={db_host}\nconfig.dbPort={db_port}\n"
        "config.dbUser=cluster\nconfig.dbPass=db-secret-771\n"
        f"instancecontroller.instanceNamePrefix={prefix}\n"
        f"rest.administratorToken={token}\n"
    )
    # The schema a release ships, which its stream manager loads into an empty
    # cluster database at start (FACTS section 5).
    (webinf / "sql").mkdir()
    (webinf / "sql" / "cluster.sql").write_text(data_text("cluster.sql.6.2.0.b406"))
    if controller_jar:
        (webinf / "lib" / "aws-cloud-controller-11.0.0.jar").write_bytes(
            jar_bytes("aws-cloud-controller", "11.0.0", [AWS_BEAN]))
    return Install(home, port, api_version)


class Service:
    """One ``python -m runbook.rehearsal.service`` process, started as the shim does."""

    def __init__(self, install: Install, sandbox: Path, pace: str = PACE) -> None:
        self.install = install
        env = dict(os.environ)
        env.update(
            RUNBOOK_SANDBOX=str(sandbox),
            RUNBOOK_REHEARSAL_PACE=pace,
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        home = install.home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runbook.rehearsal.service", f"-Dred5.root={home}",
             "-cp", f"{home}/red5-service.jar:{home / 'conf'}",
             "org.red5.server.Bootstrap", "9999"],
            cwd=home, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    async def settled(self, timeout: float = DEADLINE_S) -> None:
        """Wait until the webapp has started or failed, or the process ended."""

        def settled() -> bool:
            log = self.install.log
            return (self.proc.poll() is not None or service.READY_LINE in log
                    or service.UNAVAILABLE_LINE in log)

        try:
            await until(settled, timeout, "the service to settle")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; log so far:\n{self.install.log}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


StartService = Callable[..., Service]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    started: list[Service] = []

    def start(install: Install, pace: str = PACE) -> Service:
        svc = Service(install, tmp_path, pace)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.kill()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[int]:
    """The stand-in MySQL server the installs' red5-web.properties name (on
    127.0.0.1, the account cluster/db-secret-771, the cluster schema imported):
    the service logs in and finds its tables, as it must to start."""
    path = tmp_path / "stand-in-database.json"
    mysqlfake.provision(path, account=("cluster", "db-secret-771"),
                        schema=sandbox.data_text("cluster.sql.6.2.0.b406"))
    server = mysqlfake.StandInServer("test", path)
    await server.start("127.0.0.1", 0)
    yield server.address[1]
    await server.close()


async def started(start: StartService, install: Install, pace: str = PACE) -> Service:
    svc = start(install, pace)
    await svc.settled()
    assert service.READY_LINE in install.log, install.log
    return svc


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"accessToken": token}


def let_time_pass(sandbox: Path, seconds: float, *identifiers: str) -> None:
    """Move the fake cloud's clock for some instances: their life cycle goes on
    as if ``seconds`` (at pace 1, so scaled by each instance's own pace) had
    passed since they were launched or began terminating."""
    with cloud.locked_state(sandbox) as state:
        for identifier in identifiers:
            instance = state.instance(identifier)
            assert instance is not None, identifier
            shift = seconds * instance["pace"]
            instance["created"] -= shift
            if instance["terminated_at"] is not None:
                instance["terminated_at"] -= shift


# --- tests ----------------------------------------------------------------------------


def test_a_node_life_cycle_follows_its_clock_and_its_own_pace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pending -> running -> inservice, then terminating -> gone, each phase as
    long as the pace of the process that began it (not of whoever looks)."""
    p = 0.5
    node = cloud.Instance(
        identifier=f"{PREFIX}-us-east-1-1", role="origin", group="g", region="us-east-1",
        availabilityZone="us-east-1a", address="203.0.113.10", launchConfig="lc", capacity=30,
        created=1000.0, terminated_at=None, pace=p,
    )  # fmt: skip
    ages = [0, cloud.PENDING_S * p - 0.01, cloud.PENDING_S * p,
            cloud.RUNNING_UNTIL_S * p - 0.01, cloud.RUNNING_UNTIL_S * p, 86400]
    states = [cloud.instance_state(node, now=1000.0 + age) for age in ages]
    assert states == ["pending", "pending", "running", "running", "inservice", "inservice"]

    monkeypatch.setenv(cloud.PACE_ENV, "2")  # the pace of the process that terminates it
    assert cloud.terminate(node, now=5000.0)
    assert not cloud.terminate(node, now=5001.0), "teardown begins only once"
    assert (node["terminated_at"], node["pace"]) == (5000.0, 2.0)
    monkeypatch.setenv(cloud.PACE_ENV, "0.01")  # a reader's own pace changes nothing
    ends = 5000.0 + cloud.TERMINATING_S * 2
    states = [cloud.instance_state(node, now=now) for now in (5000.0, ends - 0.01, ends)]
    assert states == ["terminating", "terminating", None]


async def test_serves_only_its_own_api_version(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    await started(start_service, install)
    async with httpx.AsyncClient(base_url=install.base_url) as http:
        ok = await http.get("/streammanager/api/3.1/admin/debug/cloudcontroller", params=auth())
        other = await http.get("/streammanager/api/4.0/admin/debug/cloudcontroller", params=auth())
        root = await http.get("/")
    assert (ok.status_code, ok.text) == (200, "Amazon Web Services")
    # No servlet is mapped there: the container's 404, not the API's JSON error.
    assert other.status_code == 404 and "json" not in other.headers["content-type"]
    assert root.status_code == 200
    assert "6.2.0.b406" in install.log
    assert f"jdbc:mysql://127.0.0.1:{database}/cluster" in install.log
    # The red5.properties says 0.0.0.0; a rehearsal must still stay on loopback.
    assert f"127.0.0.1:{install.port}" in install.log


async def test_admin_calls_need_the_configured_token(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database)
    no_token = make_install(tmp_path, db_port=database, name="red5pro-empty", token="")
    await started(start_service, install)
    await started(start_service, no_token)
    async with httpx.AsyncClient() as http:
        missing = await http.get(install.api("admin/nodegroup"))
        wrong = await http.get(install.api("admin/nodegroup"), params=auth("guess"))
        right = await http.get(install.api("admin/nodegroup"), params=auth())
        empty = await http.get(no_token.api("admin/nodegroup"), params=auth(""))
    assert [missing.status_code, wrong.status_code, right.status_code, empty.status_code] == [
        401, 401, 200, 401,
    ]  # fmt: skip
    # The filter answers with sendError(401): the container's own error page,
    # not the API's JSON error body (FACTS-scenarios section 0).
    for refused in (missing, wrong, empty):
        assert "json" not in refused.headers["content-type"]
        assert "errorMessage" not in refused.text and TOKEN not in refused.text
    # The real line (FACTS, section 3: 6.2.0's red5.log), not words of our own,
    # in the real log's layout: logback's WARN padded to five (facts audit
    # 59b, L5: Python's WARNING, which a grep of a production log never finds).
    assert re.search(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[[^]]+\] WARN  "
                     r"c\.r\.s\.s\.r\.s\.RestTokenAuthenticator - No administrator "
                     "authentication token set in configuration. All authentication requests "
                     "will be denied by default$", no_token.log), no_token.log
    assert " WARNING " not in no_token.log and "] INFO  " in no_token.log, no_token.log


async def test_a_token_ending_in_blanks_is_taken_only_as_the_file_holds_it(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """6.2.0 reads rest.administratorToken through Properties (trailing blanks
    kept) and compares with equals(), no trim (facts audit 61, F5): the fake
    took the trimmed token and refused the exact one."""
    install = make_install(tmp_path, db_port=database, token=TOKEN + "  ")
    await started(start_service, install)
    async with httpx.AsyncClient() as http:
        exact = await http.get(install.api("admin/nodegroup"), params=auth(TOKEN + "  "))
        trimmed = await http.get(install.api("admin/nodegroup"), params=auth(TOKEN))
    assert [exact.status_code, trimmed.status_code] == [200, 401]


async def test_a_3x_stream_manager_answers_a_roles_scaleout_threshold(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """5.1.1's and 6.2.0's AlarmController read a role's default scale-out
    alarm (GET admin/alarm/scaleout/default?type=ROLE; javap of AM and AS):
    export-config can keep it (facts audit 61, F13). The database's value;
    an unknown role is the controller's 404; 4.0 maps no GET there."""
    from runbook.smapi import StreamManagerAPI

    old = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    new = make_install(tmp_path, db_port=database, name="red5pro-new")
    await started(start_service, old)
    await started(start_service, new)
    with cloud.locked_state(tmp_path) as state:
        state.database("127.0.0.1", database)["scaleout_alarms"] = {"edge": 75.0}
    async with StreamManagerAPI(old.base_url, TOKEN, "3.1") as api:
        assert [await api.scaleout_threshold(role) for role in ("edge", "origin")] == \
            [75.0, 60.0]
        assert await api.scaleout_threshold("bogus") is None
    async with httpx.AsyncClient() as http:
        wrong = await http.get(old.api("admin/alarm/scaleout/default"),
                               params={**auth(), "type": "bogus"})
    assert wrong.status_code == 404 and "Invalid node type" in wrong.json()["errorMessage"]
    async with StreamManagerAPI(new.base_url, TOKEN, "4.0") as api:
        assert await api.scaleout_threshold("edge") is None


async def test_a_3x_refusal_answered_404_is_said_as_refused_not_as_not_found(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """5.1.1 and 6.2.0 answer every controller error 404 (FACTS-scenarios
    §0): a POST they will not take read "Not found (HTTP 404)" (facts audit
    61, F3). A 404 with the API's errorMessage on a change is a refusal; the
    container's bare 404 is still "not found"."""
    from runbook.smapi import SMApiError, StreamManagerAPI

    install = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    await started(start_service, install)
    async with StreamManagerAPI(install.base_url, TOKEN, "3.1") as api:
        with pytest.raises(SMApiError) as refused:
            await api.create_nodegroup([], "no-such-config", "no-such-policy")
        with pytest.raises(SMApiError) as missing:
            await api.launch_origin("no-such-group")
        with pytest.raises(SMApiError) as bare:
            await api._call("POST", "admin/no-such-thing")
    said = str(refused.value)
    assert refused.value.status == 404 and said.startswith(
        "The stream manager refused POST /streammanager/api/3.1/admin/nodegroup (HTTP 404): "), said
    assert "Not found" not in said, said
    assert str(bare.value).startswith("Not found (HTTP 404)"), str(bare.value)
    assert missing.value.status == 404


async def test_a_webapp_on_the_dummy_controller_sweeps_no_cloud_node(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """The sweep is a cloud controller's: the Dummy launches no node and
    reaches no cloud, so it tears none of the fleet's nodes down (facts
    audit 61, F6: the rehearsal's Dummy webapp terminated them)."""
    old_db = free_port()
    cloud.seed_live_database(tmp_path, "127.0.0.1", old_db, PREFIX)
    install = make_install(tmp_path, db_port=database, controller=DUMMY_BEAN,
                           controller_jar=False)
    await started(start_service, install, pace=STILL)
    states = {i["state"] for i in cloud.list_instances(tmp_path)
              if i["identifier"].startswith(PREFIX)}
    assert states == {"inservice"}, states
    assert "Terminating" not in install.log


async def test_launched_origin_boots_pending_running_inservice(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)
    seed = cloud.SEED_GROUPS[1]
    lc = cloud.seed_launch_config(seed)
    sp = cloud.seed_scale_policy(seed)
    async with httpx.AsyncClient() as http:
        created_lc = await http.post(
            install.api("admin/configurations/launchconfig"),
            params=auth(),
            json={"launchconfig": lc},
        )
        created_sp = await http.post(
            install.api("admin/configurations/scalepolicy"), params=auth(), json={"policy": sp}
        )
        assert (created_lc.status_code, created_sp.status_code) == (201, 201)
        assert created_lc.json() == lc  # API 4.0 answers the bare launch config
        group = await http.post(
            install.api("admin/nodegroup"),
            params=auth(),
            json={"regions": ["eu-west-1"], "launchConfig": lc["name"], "scalePolicy": sp["name"]},
        )
        assert group.status_code == 201
        name = group.json()["name"]
        assert name.startswith("group-") and group.json()["state"] == "new"
        origin = await http.post(install.api(f"admin/nodegroup/{name}/node/origin"), params=auth())
        assert origin.status_code == 201
        identifier = origin.json()["identifier"]
        # Named after its availability zone, as the API's example node is.
        assert identifier.startswith(f"{PREFIX}-eu-west-1a-")

        # The node's life cycle runs at the pace of the service that launched it.
        [instance] = [i for i in cloud.list_instances(tmp_path) if i["identifier"] == identifier]
        assert instance["pace"] == float(STILL)

        async def look() -> tuple[str, str]:
            nodes = (
                await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())
            ).json()
            [origin_node] = [n for n in nodes if n["role"] == "origin"]
            assert origin_node["identifier"] == identifier
            assert origin_node["capacity"] == 30
            assert origin_node["address"].startswith("203.0.113.")
            group = (await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())).json()
            return origin_node["state"], group["state"]

        everyone = [i["identifier"] for i in cloud.list_instances(tmp_path)]
        seen = [await look()]
        let_time_pass(tmp_path, (cloud.PENDING_S + cloud.RUNNING_UNTIL_S) / 2, *everyone)
        seen.append(await look())
        let_time_pass(tmp_path, cloud.RUNNING_UNTIL_S, *everyone)
        seen.append(await look())
    # The group turns active once its origin is in service, not before.
    assert seen == [("pending", "new"), ("running", "new"), ("inservice", "active")]


async def test_delete_nodegroup_terminates_its_nodes_then_the_group_goes(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)
    install = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    await started(start_service, install, pace=STILL)
    async with httpx.AsyncClient() as http:
        groups = (await http.get(install.api("admin/nodegroup"), params=auth())).json()
        assert [g["state"] for g in groups] == ["active"] * len(cloud.SEED_GROUPS)
        name, other = groups[0]["name"], groups[1]["name"]
        nodes = (await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())).json()
        assert {n["role"] for n in nodes} == {"edge", "origin"}
        assert {n["state"] for n in nodes} == {"inservice"}

        deleted = await http.delete(install.api(f"admin/nodegroup/{name}"), params=auth())
        assert deleted.status_code == 200
        assert (deleted.json()["name"], deleted.json()["state"]) == (name, "terminating")
        # Accepted at once, but the group stays listed while its nodes go.
        still = await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())
        listed = (await http.get(install.api("admin/nodegroup"), params=auth())).json()
        going = (await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())).json()
        assert still.status_code == 200 and still.json()["state"] == "terminating"
        assert {g["name"]: g["state"] for g in listed} == {name: "terminating", other: "active"}
        assert {n["state"] for n in going} == {"terminating"}
        assert len(going) == len(nodes)
        again = await http.delete(install.api(f"admin/nodegroup/{name}"), params=auth())
        assert again.status_code == 404
        assert again.json()["errorMessage"] == (
            "Unable delete node group This group is already being terminated."
        )

        # The cloud lets go of the nodes once their teardown time has passed.
        let_time_pass(tmp_path, cloud.TERMINATING_S, *(n["identifier"] for n in going))
        gone = await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())
        assert gone.status_code == 404, gone.text
        listed = (await http.get(install.api("admin/nodegroup"), params=auth())).json()
        assert [g["name"] for g in listed] == [other]
    states = {i["identifier"]: i["state"] for i in cloud.list_instances(tmp_path)}
    assert {states[n["identifier"]] for n in going} == {None}
    assert [g["name"] for g in cloud.list_nodegroups(tmp_path, "127.0.0.1", database)] == [other]


async def test_deleting_an_empty_nodegroup_removes_it_at_once(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)
    seed = cloud.SEED_GROUPS[0]
    async with httpx.AsyncClient() as http:
        for path, body in (("launchconfig", {"launchconfig": cloud.seed_launch_config(seed)}),
                           ("scalepolicy", {"policy": cloud.seed_scale_policy(seed)})):
            made = await http.post(install.api(f"admin/configurations/{path}"), params=auth(),
                                   json=body)
            assert made.status_code == 201, made.text
        created = await http.post(install.api("admin/nodegroup"), params=auth(), json={
            "regions": [seed.region], "launchConfig": seed.launch_config,
            "scalePolicy": seed.scale_policy})
        name = created.json()["name"]
        deleted = await http.delete(install.api(f"admin/nodegroup/{name}"), params=auth())
        gone = await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())
    assert deleted.status_code == 200 and deleted.json()["name"] == name
    assert deleted.json()["state"] == "new"
    assert gone.status_code == 404


async def test_startup_sweep_tears_down_prefixed_nodes_unknown_to_its_database(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    old_db = free_port()  # never connected to: only the new database must answer
    cloud.seed_live_database(tmp_path, "127.0.0.1", old_db, PREFIX)
    cloud.seed_live_database(tmp_path, "127.0.0.1", old_db + 1, "other-team")
    ours = [
        i["identifier"]
        for i in cloud.list_instances(tmp_path)
        if i["identifier"].startswith(PREFIX)
    ]
    assert len(ours) == sum(s.origins + s.edges for s in cloud.SEED_GROUPS)
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)

    for identifier in ours:
        assert f"Terminating cloud node {identifier}" in install.log
    assert install.log.count("not in this database") == len(ours)
    states = {i["identifier"]: i["state"] for i in cloud.list_instances(tmp_path)}
    assert {states[i] for i in ours} == {"terminating"}
    assert {s for i, s in states.items() if i.startswith("other-team")} == {"inservice"}

    let_time_pass(tmp_path, cloud.TERMINATING_S, *ours)
    states = {i["identifier"]: i["state"] for i in cloud.list_instances(tmp_path)}
    assert {states[i] for i in ours} == {None}
    assert {s for i, s in states.items() if i.startswith("other-team")} == {"inservice"}
    # The old database still lists its groups, now with no nodes behind them.
    old_groups = cloud.list_nodegroups(tmp_path, "127.0.0.1", old_db)
    assert len(old_groups) == len(cloud.SEED_GROUPS)
    async with httpx.AsyncClient() as http:
        listed = await http.get(install.api("admin/nodegroup"), params=auth())
    assert listed.json() == []  # the new database starts empty


# The lines 5.1.1's red5.log has as its webapp loads (amanaviral/red5pro:
# log/red5.log) and 6.2.0's has not (andrelsouto/red5:log/red5.log), which
# maps the context instead, as 5.1.1's does too (facts audit 56a H1).
MAPPED = "org.red5.server.Server - Add mapping global: default host:  context: streammanager"
DB_URL_5_1 = "c.r.s.s.ApplicationSettings - dbURL = jdbc:mysql://127.0.0.1:{port}/cluster"
STARTED_5_1 = "c.r.s.streammanager.Application - Stream manager application started"


async def test_only_a_5_1_webapp_logs_its_database_url_and_that_it_started(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """The fake wrote dbURL and "Stream manager application started" for
    every release, so the rehearsal taught a 6.2 or 11.x operator to look for
    lines their release is not known to write."""
    installs = {version: make_install(tmp_path, name=f"red5pro-{version}", db_port=database,
                                      api_version=version)
                for version in ("3.0", "3.1", "4.0")}
    for install in installs.values():
        await start_service(install).settled()
    logs = {version: install.log for version, install in installs.items()}
    for version, log in logs.items():
        assert MAPPED in log, (version, log)
    assert DB_URL_5_1.format(port=database) in logs["3.0"], logs["3.0"]
    assert STARTED_5_1 in logs["3.0"], logs["3.0"]
    assert logs["3.0"].index(MAPPED) < logs["3.0"].index(STARTED_5_1), logs["3.0"]
    for version in ("3.1", "4.0"):
        assert "dbURL" not in logs[version], (version, logs[version])
        assert "application started" not in logs[version], (version, logs[version])


async def test_missing_license_key_stops_the_server(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database, license_key=False)
    svc = start_service(install)
    assert await asyncio.to_thread(svc.proc.wait, DEADLINE_S) == 1
    assert "LICENSE.KEY" in install.log
    with pytest.raises(httpx.ConnectError):
        httpx.get(install.base_url, timeout=1)


async def test_a_webapp_that_did_not_load_answers_as_one_still_deploying(
    tmp_path: Path, start_service: StartService
) -> None:
    """Facts audit 56a (M3): no source says a webapp that failed to load
    answers with its cause; the fake gave 503 and the cause. It answers now as
    the container does for a context it does not serve, as while it deploys:
    its bare 404 page. The cause is in red5.log alone."""
    closed = make_install(tmp_path, db_port=free_port())
    await start_service(closed).settled()
    async with httpx.AsyncClient() as http:
        refused = await http.get(closed.api("admin/nodegroup"), params=auth())
        alive = await http.get(closed.base_url + "/")
    assert refused.status_code == 404, refused
    assert refused.text == service.container_page(404), refused.text
    assert alive.status_code == 200  # the server runs; only the webapp is down
    assert "cannot reach the database" in closed.log
    assert service.READY_LINE not in closed.log


def _with_the_aws_bean(install: Install, db_port: int, *, commented: tuple[str, ...]) -> None:
    """The install's 6.2.0 webapp as an operator leaves it: the shipped
    template with the AWS keys and the database filled in, except `commented`,
    left as the template ships them; the AWS bean active in 6.2.0's wiring."""
    webinf = install.home / "webapps" / "streammanager" / "WEB-INF"
    aws = {"aws.defaultzone": "us-east-1a", "aws.operationTimeoutMilliseconds": "200000",
           "aws.accessKey": "AKIAEXAMPLE", "aws.accessSecret": "example-secret",
           "aws.ec2KeyPairName": "pair", "aws.ec2SecurityGroup": "sg",
           "aws.defaultVPC": "false", "aws.vpcName": "vpc",
           "aws.faultZoneBlockMilliseconds": "3600000", "aws.forUsGovRegions": "false"}
    values = {"config.dbHost": "127.0.0.1", "config.dbPort": str(db_port),
              "config.dbUser": "cluster", "config.dbPass": "db-secret-771",
              "instancecontroller.instanceNamePrefix": PREFIX,
              "rest.administratorToken": TOKEN,
              **{key: value for key, value in aws.items() if key not in commented}}
    (webinf / "red5-web.properties").write_text(
        sandbox.fill_properties(data_text("red5-web.properties.6.2.0.b406"), values))
    (webinf / "applicationContext.xml").write_text(sandbox.application_context(sandbox.AWS, R6_2))


async def test_a_controller_key_the_file_leaves_commented_out_keeps_the_webapp_down(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """Facts audit 57b H1: 6.2.0's AWS bean wires ${aws.forUsGovRegions}, which
    its template ships commented out, and its PropertyPlaceholderConfigurer
    does not ignore what it cannot resolve (shared applicationContext.xml):
    Spring then refuses the context (PlaceholderConfigurerSupport javadoc).
    The fake loaded such a webapp, so a merge that left the key commented out
    passed the rehearsal. The same install with the key set loads."""
    down = make_install(tmp_path, name="red5pro-down", db_port=database, api_version="3.1",
                        release="6.2.0.b406", controller_jar=True)
    _with_the_aws_bean(down, database, commented=("aws.forUsGovRegions",))
    up = make_install(tmp_path, name="red5pro-up", db_port=database, api_version="3.1",
                      release="6.2.0.b406", controller_jar=True)
    _with_the_aws_bean(up, database, commented=())
    await start_service(down).settled()
    await started(start_service, up)
    async with httpx.AsyncClient() as http:
        refused = await http.get(down.api("admin/debug/cloudcontroller"), params=auth())
        served = await http.get(up.api("admin/debug/cloudcontroller"), params=auth())
    assert (refused.status_code, refused.text) == (404, service.container_page(404))
    assert service.READY_LINE not in down.log
    assert ("BeanDefinitionStoreException: Invalid bean definition with name 'apiBridge'"
            in down.log), down.log
    assert "Could not resolve placeholder 'aws.forUsGovRegions'" in down.log, down.log
    assert (served.status_code, served.text) == (200, "Amazon Web Services")


def test_a_placeholder_with_a_default_needs_no_key(tmp_path: Path) -> None:
    """${key:default} resolves without the key (Spring's value separator, ':'
    by default: PlaceholderConfigurerSupport); only the active bean's
    placeholders count, not a commented-out bean's."""
    webinf = tmp_path / "WEB-INF"
    webinf.mkdir()
    (webinf / "applicationContext.xml").write_text(
        '<beans xmlns="http://www.springframework.org/schema/beans">\n'
        f'<bean id="apiBridge" class="{AWS_BEAN}">'
        '<property name="a" value="${aws.a}"/><property name="b" value="${aws.b:x}"/>'
        '<property name="c"><value>${aws.c}</value></property></bean>\n'
        f'<!-- <bean id="apiBridge" class="{DUMMY_BEAN}"><property name="d" value="${{aws.d}}"/>'
        '</bean> -->\n</beans>\n')
    assert service.unresolved_placeholders(webinf, {"aws.a": ""}) == ["aws.c"]
    assert service.unresolved_placeholders(webinf, {"aws.c": "1"}) == ["aws.a"]
    assert service.unresolved_placeholders(webinf, {"aws.a": "1", "aws.c": "2"}) == []


@pytest.mark.parametrize("api_version", ["3.0", "3.1", "4.0"])
async def test_a_placeholder_database_host_is_skipped_and_the_webapp_loads(
    tmp_path: Path, start_service: StartService, api_version: str
) -> None:
    """Facts audit 56a M2: with config.dbHost={host}, 5.1.1 and 6.2.0 log
    that they skip the database check, and go on (AM and AS red5.log); the
    fake refused to load, with a reason of its own in the API's answer. What
    the API then answers for what needs the database is not known: the fake's
    error is inferred (data README)."""
    install = make_install(tmp_path, name="red5pro-template", db_port=3306, db_host="{host}",
                           api_version=api_version)
    await start_service(install).settled()
    async with httpx.AsyncClient() as http:
        controller = await http.get(install.api("admin/debug/cloudcontroller"), params=auth())
        groups = await http.get(install.api("admin/nodegroup"), params=auth())
    assert ("c.r.s.s.database.jdbc.sql.SQLTest - Skipping database check since connection "
            "details have not been provided correctly") in install.log, install.log
    assert service.READY_LINE in install.log and service.UNAVAILABLE_LINE not in install.log
    assert (controller.status_code, controller.text) == (200, "Amazon Web Services")
    assert groups.status_code == 500 and groups.json()["errorMessage"], groups.text
    assert "Terminating" not in install.log  # no database to sweep the cloud against


async def test_cloud_controller_answer_follows_the_active_bean(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    dummy = make_install(tmp_path, db_port=database, controller=DUMMY_BEAN, controller_jar=False)
    aws = make_install(tmp_path, name="red5pro-aws", db_port=database)
    aws_no_jar = make_install(
        tmp_path, name="red5pro-nojar", db_port=database, controller_jar=False
    )
    await started(start_service, dummy)
    await started(start_service, aws)
    await start_service(aws_no_jar).settled()
    async with httpx.AsyncClient() as http:
        answers = [
            await http.get(i.api("admin/debug/cloudcontroller"), params=auth())
            for i in (dummy, aws, aws_no_jar)
        ]
    assert [a.status_code for a in answers] == [200, 200, 404]
    # What Stream Manager's commons CloudPlatform names the Dummy controller
    # (FACTS-scenarios, section 5, from the 6.2.0 bytecode).
    assert answers[0].text == "Streammanager Placebo"
    assert answers[1].text == "Amazon Web Services"
    assert answers[2].text == service.container_page(404)  # the cause: in red5.log only
    assert f"ClassNotFoundException: {AWS_BEAN}" in aws_no_jar.log


@pytest.mark.parametrize(("api", "bean", "answer"), [
    ("3.0", "GenericSimulatedCloudController", "Simulated-Cloud-Platform"),
    ("3.1", "TerraformCloudController", "Terraform-Cloud-Platform"),
    ("4.0", "TerraformCloudController", "Terraform Cloud Service"),
    ("4.0", "AzureComputeController", "Microsoft Azure"),
    # 5.1.1 has no Terraform controller (its CloudPlatform names no such
    # platform, its template no terra.* keys: FACTS-scenarios §5): the class
    # does not load there.
    ("3.0", "TerraformCloudController", None),
    # Azure is there in both: 6.2.0's applicationContext.xml has the bean,
    # both templates its az.* section (shared/red5pro).
    ("3.0", "AzureComputeController", "Microsoft Azure"),
    ("3.1", "AzureComputeController", "Microsoft Azure"),
])
def test_a_release_answers_only_the_controllers_it_has(
    tmp_path: Path, api: str, bean: str, answer: str | None
) -> None:
    webinf = tmp_path / "WEB-INF"
    (webinf / "lib").mkdir(parents=True)
    bean_class = f"com.red5pro.services.example.{bean}"
    # Its class in a jar, so that only the release decides.
    (webinf / "lib" / "controller-1.jar").write_bytes(
        sandbox.jar_bytes("controller", "1", [bean_class]))
    if answer is None:
        with pytest.raises(service.WebappError, match=f"ClassNotFoundException: {bean_class}"):
            service.load_controller(webinf, bean_class, api)
    else:
        assert service.load_controller(webinf, bean_class, api) == answer


def test_the_controller_bean_loads_from_the_jar_holding_its_class_whatever_its_name(
    tmp_path: Path,
) -> None:
    """The fake loaded the active bean when a jar of its cloud's NAME sat in
    WEB-INF/lib: a jar named aws-cloud-controller holding another class
    passed, where Red5 (Spring) loads the class the bean names from the jars
    in WEB-INF/lib, whatever they are called. It now goes by the class inside,
    as preflight's jar check reads a jar (a `com/…/X.class` entry, inferred:
    data README)."""
    lib = tmp_path / "WEB-INF" / "lib"
    lib.mkdir(parents=True)
    named_aws = lib / "aws-cloud-controller-11.0.0.jar"
    named_aws.write_bytes(sandbox.jar_bytes("aws-cloud-controller", "11.0.0", [sandbox.GOOGLE]))
    webinf = lib.parent
    with pytest.raises(service.WebappError, match=f"ClassNotFoundException: {AWS_BEAN}"):
        service.load_controller(webinf, AWS_BEAN)
    assert service.load_controller(webinf, sandbox.GOOGLE) == "Google Compute"
    (lib / "controller.jar").write_bytes(sandbox.jar_bytes("controller", "1", [AWS_BEAN]))
    assert service.load_controller(webinf, AWS_BEAN) == "Amazon Web Services"
    # A file that is no zip holds no class (nor does another package's class
    # of the same simple name).
    named_aws.write_bytes(b"not a zip")
    (lib / "google.jar").write_bytes(sandbox.jar_bytes(
        "google", "1", ["com.example.ComputeInstanceController"]))
    with pytest.raises(service.WebappError, match=f"ClassNotFoundException: {sandbox.GOOGLE}"):
        service.load_controller(webinf, sandbox.GOOGLE)


async def test_bad_requests_are_refused_with_reasons(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install)
    seed = cloud.SEED_GROUPS[0]
    async with httpx.AsyncClient() as http:
        groups = (await http.get(install.api("admin/nodegroup"), params=auth())).json()
        group = groups[0]["name"]
        assert groups[0]["regions"] == [seed.region]
        bad_json = await http.post(
            install.api("admin/nodegroup"), params=auth(), content=b"{not json",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        no_lc = await http.post(
            install.api("admin/nodegroup"), params=auth(),
            json={"regions": ["us-east-1"], "launchConfig": "gone",
                  "scalePolicy": seed.scale_policy},
        )  # fmt: skip
        no_group = await http.get(install.api("admin/nodegroup/group-nope/node"), params=auth())
        no_policy = await http.get(
            install.api("admin/configurations/scalepolicy/nope"), params=auth()
        )
        unwrapped_lc = await http.post(
            install.api("admin/configurations/launchconfig"), params=auth(), json={"name": "x"}
        )
        # The seeded policy allows two origins and the group already has one.
        assert (seed.origins, seed.max_origins) == (1, 2)
        second = await http.post(install.api(f"admin/nodegroup/{group}/node/origin"), params=auth())
        third = await http.post(install.api(f"admin/nodegroup/{group}/node/origin"), params=auth())
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["errorMessage"]
    assert no_lc.status_code == 400 and "'gone'" in no_lc.json()["errorMessage"]
    assert no_group.status_code == 404 and "group-nope" in no_group.json()["errorMessage"]
    assert no_policy.status_code == 404
    assert unwrapped_lc.status_code == 400
    assert second.status_code == 201 and second.json()["identifier"].startswith(PREFIX)
    assert second.json()["availabilityZone"] == f"{seed.region}a"
    assert third.status_code == 400 and "at most 2" in third.json()["errorMessage"]


async def test_sigterm_stops_the_service_cleanly(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database)
    svc = await started(start_service, install)
    # A kept-alive connection must not hold the shutdown up: the process ends
    # while the client still holds its connection open.
    async with httpx.AsyncClient() as http:
        assert (await http.get(install.base_url + "/")).status_code == 200
        svc.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(svc.proc.wait, DEADLINE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "SIGTERM did not stop the service while a kept-alive connection was open"
            ) from None
    assert code == 0
    assert "Shutdown requested" in install.log


# --- issue 9: closer to the real stream manager ----------------------------------------


def test_pace_is_fast_by_default_and_the_documented_durations_at_real(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pace 1.0 ("real") is the documented timing: an origin boots in "up to
    two minutes" (launch-new-origin.md); the default is the fast pace a
    rehearsal has always had (in service 3 s after launch)."""
    monkeypatch.delenv(cloud.PACE_ENV, raising=False)
    assert cloud.pace() == cloud.FAST_PACE
    assert round(cloud.RUNNING_UNTIL_S * cloud.FAST_PACE, 9) == 3.0
    for given, meant in (("real", 1.0), ("fast", cloud.FAST_PACE), ("0.5", 0.5)):
        monkeypatch.setenv(cloud.PACE_ENV, given)
        assert cloud.pace() == meant
        assert cloud.parse_pace(given) == meant
    with pytest.raises(ValueError):
        cloud.parse_pace("reel")

    assert cloud.RUNNING_UNTIL_S == 120.0
    node = cloud.Instance(
        identifier=f"{PREFIX}-us-east-1a-1", role="edge", group="g", region="us-east-1",
        availabilityZone="us-east-1a", address="198.51.100.10", launchConfig="lc",
        capacity=300, created=0.0, terminated_at=None, pace=1.0,
    )  # fmt: skip
    ages = (0.0, cloud.PENDING_S, 119.9, 120.0)
    states = [cloud.instance_state(node, now=age) for age in ages]
    assert states == ["pending", "running", "running", "inservice"]
    monkeypatch.setenv(cloud.PACE_ENV, "real")
    assert cloud.terminate(node, now=1000.0) and node["pace"] == 1.0
    ends = 1000.0 + cloud.TERMINATING_S
    assert [cloud.instance_state(node, now=t) for t in (ends - 0.1, ends)] == ["terminating", None]


async def test_api_errors_follow_the_api_version(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """6.2.0 (API 3.1) answers every controller error with 404; the 4.0 docs
    give 400 or 404. Both use the {errorMessage, timestamp} body."""
    old = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    new = make_install(tmp_path, name="red5pro-new", db_port=database)
    await started(start_service, old)
    await started(start_service, new)
    body = {"regions": ["us-east-1"], "launchConfig": "never-made", "scalePolicy": "nor-this"}
    async with httpx.AsyncClient() as http:
        answers = [await http.post(i.api("admin/nodegroup"), params=auth(), json=body)
                   for i in (old, new)]
        unwrapped = [await http.post(i.api("admin/configurations/scalepolicy"), params=auth(),
                                     json={"name": "x"}) for i in (old, new)]
        missing = [await http.get(i.api("admin/nodegroup/group-nope"), params=auth())
                   for i in (old, new)]
    assert [a.status_code for a in answers] == [404, 400]
    assert [a.status_code for a in unwrapped] == [404, 400]
    assert [a.status_code for a in missing] == [404, 404]
    for answer in (*answers, *unwrapped, *missing):
        error = answer.json()
        assert set(error) == {"errorMessage", "timestamp"}, error
        assert isinstance(error["timestamp"], int) and error["errorMessage"]


async def test_the_port_refuses_connections_until_the_webapp_has_deployed(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """Facts audit 59b (H1): a real Red5's Tomcat starts its connectors after
    its contexts, so while the streammanager webapp deploys the port refuses
    connections; once it listens, the API answers. The fake opened its
    listener at once and answered the container's 404 while it deployed,
    which taught that a 404 is how every boot begins."""
    install = make_install(tmp_path, db_port=database)
    url = install.api("admin/debug/cloudcontroller")
    async with httpx.AsyncClient() as http:
        # The webapp's start-up sweep needs the cloud's state lock: holding it
        # keeps the webapp deploying for as long as this test needs.
        with cloud.locked_state(tmp_path):
            svc = start_service(install)
            await until(lambda: "Cloud controller:" in install.log, what="the webapp loading")
            with pytest.raises(httpx.ConnectError):
                await http.get(url, params=auth())
            assert "HTTP listening" not in install.log
        await svc.settled()
        ready = await http.get(url, params=auth())
    assert (ready.status_code, ready.text) == (200, "Amazon Web Services")
    # Listening before the context is mapped, as the real log has the
    # ProtocolHandler started before its Loader maps the scopes.
    assert install.log.index("HTTP listening") < install.log.index(service.READY_LINE)


async def test_launch_configs_answer_bare_on_4_0_and_wrapped_on_3_1(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """The 4.0-era Terraform script reads .name at the top of the create
    answer, and FACTS-scenarios infers 11.x answers an unwrapped launch
    config: so a 4.0 build answers a read bare too (facts audit, stop 50; it
    wrapped reads). 6.2.0 wraps launch configs whenever it shows one. Scale
    policies stay wrapped in both, as the Terraform script reads .policy.name."""
    old = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    new = make_install(tmp_path, name="red5pro-new", db_port=database,
                       prefix="rhnew")
    await started(start_service, old)
    await started(start_service, new)
    seed = cloud.SEED_GROUPS[0]
    lc = cloud.seed_launch_config(seed)
    async with httpx.AsyncClient() as http:
        created = [await http.post(i.api("admin/configurations/launchconfig"), params=auth(),
                                   json={"launchconfig": {**lc, "name": f"lc-{i.api_version}"}})
                   for i in (old, new)]
        read = [await http.get(i.api(f"admin/configurations/launchconfig/lc-{i.api_version}"),
                               params=auth()) for i in (old, new)]
    assert [c.status_code for c in created] == [201, 201]
    assert created[0].json() == {"launchconfig": {**lc, "name": "lc-3.1"}}
    assert created[1].json() == {**lc, "name": "lc-4.0"}
    assert read[0].json() == {"launchconfig": {**lc, "name": "lc-3.1"}}
    assert read[1].json() == {**lc, "name": "lc-4.0"}
    sp = cloud.seed_scale_policy(seed)
    async with httpx.AsyncClient() as http:
        for i in (old, new):
            await http.post(i.api("admin/configurations/scalepolicy"), params=auth(),
                            json={"policy": {**sp, "name": f"sp-{i.api_version}"}})
        policies = [await http.get(i.api(f"admin/configurations/scalepolicy/sp-{i.api_version}"),
                                   params=auth()) for i in (old, new)]
    assert [p.json() for p in policies] == [{"policy": {**sp, "name": f"sp-{v}"}}
                                            for v in ("3.1", "4.0")]


async def test_launching_an_origin_fills_edges_up_to_the_policy_minimum(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """"Creating an origin server will also generate at least one edge, per
    scaling policy min limit" (auto-aws/api-basics.md)."""
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)
    seed = cloud.SEED_GROUPS[0]
    lc, sp = cloud.seed_launch_config(seed), cloud.seed_scale_policy(seed)
    edge_min = cloud.role_limit(sp, "edge", "minLimit")
    assert edge_min is not None and edge_min >= 2
    no_origin = {**sp, "name": "edges-only", "targets": {"region": [{"name": "default", "target": [
        t for t in sp["targets"]["region"][0]["target"] if t["role"] == "edge"]}]}}
    no_edge_min = {**sp, "name": "edge-min-0", "targets": {"region": [{"name": "default",
                                                                        "target": [
        {**t, "minLimit": 0} if t["role"] == "edge" else t
        for t in sp["targets"]["region"][0]["target"]]}]}}
    async with httpx.AsyncClient() as http:
        for policy in (sp, no_origin, no_edge_min):
            await http.post(install.api("admin/configurations/scalepolicy"), params=auth(),
                            json={"policy": policy})
        await http.post(install.api("admin/configurations/launchconfig"), params=auth(),
                        json={"launchconfig": lc})

        async def group(policy: str) -> str:
            made = await http.post(install.api("admin/nodegroup"), params=auth(), json={
                "regions": [seed.region], "launchConfig": lc["name"], "scalePolicy": policy})
            assert made.status_code == 201, made.text
            return str(made.json()["name"])

        async def nodes(name: str) -> list[dict[str, object]]:
            found = await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())
            return list(found.json())

        name = await group(sp["name"])
        assert await nodes(name) == []  # a new group is empty until it has an origin
        first = await http.post(install.api(f"admin/nodegroup/{name}/node/origin"), params=auth())
        assert first.status_code == 201
        launched = await nodes(name)
        assert sorted(n["role"] for n in launched) == ["edge"] * edge_min + ["origin"]
        assert {n["state"] for n in launched} == {"pending"}
        edges = [n for n in launched if n["role"] == "edge"]
        assert {n["capacity"] for n in edges} == {300}
        assert all(str(n["address"]).startswith("198.51.100.") for n in edges)
        # A second origin finds the edges already at their minimum.
        second = await http.post(install.api(f"admin/nodegroup/{name}/node/origin"), params=auth())
        assert second.status_code == 201
        assert len(await nodes(name)) == edge_min + 2
        let_time_pass(tmp_path, cloud.RUNNING_UNTIL_S,
                      *(str(n["identifier"]) for n in await nodes(name)))
        assert {n["state"] for n in await nodes(name)} == {"inservice"}

        # With no origin target the maximum is one origin ("If 'origin' is
        # omitted from the scale policy then the default value for maximum
        # origins is 1", api-basics.md).
        lone = await group("edges-only")
        once = await http.post(install.api(f"admin/nodegroup/{lone}/node/origin"), params=auth())
        twice = await http.post(install.api(f"admin/nodegroup/{lone}/node/origin"), params=auth())
        # "At least one edge": one where the policy's edge minimum is 0 (facts
        # audit 59b, L7: the fake launched none).
        bare = await group("edge-min-0")
        assert (await http.post(install.api(f"admin/nodegroup/{bare}/node/origin"),
                                params=auth())).status_code == 201
        assert sorted(n["role"] for n in await nodes(bare)) == ["edge", "origin"]
    assert once.status_code == 201
    assert twice.status_code == 400 and "at most 1" in twice.json()["errorMessage"]


async def test_the_seeded_live_fleet_looks_like_a_production_one(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)  # seeding happens once
    install = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    await started(start_service, install, pace=STILL)
    async with httpx.AsyncClient() as http:
        async def get(rel: str) -> object:
            answer = await http.get(install.api(rel), params=auth())
            assert answer.status_code == 200, answer.text
            return answer.json()

        groups = await get("admin/nodegroup")
        lcs = await get("admin/configurations/launchconfig")
        sps = await get("admin/configurations/scalepolicy")
        assert isinstance(groups, list) and len(groups) >= 2
        assert len({g["regions"][0] for g in groups}) == len(groups), "one region per group"
        assert len({g["launchConfig"] for g in groups}) == len(groups), "own launch configs"
        assert len({g["scalePolicy"] for g in groups}) == len(groups), "own scale policies"
        assert sorted(lcs) == sorted(g["launchConfig"] for g in groups)  # type: ignore[arg-type]
        assert sorted(sps) == sorted(g["scalePolicy"] for g in groups)  # type: ignore[arg-type]
        for group in groups:
            assert group["state"] == "active"
            lc = await get(f"admin/configurations/launchconfig/{group['launchConfig']}")
            sp = await get(f"admin/configurations/scalepolicy/{group['scalePolicy']}")
            assert isinstance(lc, dict) and isinstance(sp, dict)
            inner_lc, inner_sp = lc["launchconfig"], sp["policy"]
            # Shaped like the docs' create requests, with origin and edge targets.
            assert {"name", "description", "image", "version", "targets", "properties",
                    "metadata"} <= set(inner_lc)
            assert {t["role"] for t in inner_lc["targets"]["target"]} == {"origin", "edge"}
            assert inner_sp["type"] == "com.red5pro.services.autoscaling.model.ScalePolicyMaster"
            [region] = inner_sp["targets"]["region"]
            assert {t["role"] for t in region["target"]} == {"origin", "edge"}
            nodes = await get(f"admin/nodegroup/{group['name']}/node")
            assert isinstance(nodes, list)
            roles = sorted(n["role"] for n in nodes)
            want = {t["role"]: t["minLimit"] for t in region["target"]}
            assert roles.count("origin") == want["origin"] >= 1
            assert roles.count("edge") == want["edge"] >= 1
            assert {n["state"] for n in nodes} == {"inservice"}
            assert {n["availabilityZone"] for n in nodes} == {group["regions"][0] + "a"}


async def test_systemctl_start_returns_once_the_service_runs(tmp_path: Path) -> None:
    """Type=forking: systemd's start job ends when the daemon has forked. The
    shim must not add a pause of its own to the downtime it is rehearsing."""
    sandbox = tmp_path / "sandbox"
    run, libexec = sandbox / "run", sandbox / ".rehearsal" / "libexec"
    home = sandbox / "usr" / "local" / "red5pro"
    unit = sandbox / "lib" / "systemd" / "system" / "red5pro.service"
    stubs = tmp_path / "stubs"
    for folder in (run, libexec, home, unit.parent, stubs):
        folder.mkdir(parents=True)
    unit.write_text("[Unit]\nDescription=Red5 Pro\n[Service]\nType=forking\n")
    events = tmp_path / "events"
    # The sleep every wait uses, recording each pause in order with the
    # supervisor's own milestones.
    (stubs / "sleep").write_text('#!/bin/bash\necho "sleep $*" >> "$EVENTS"\n'
                                 'exec /bin/sleep "$@"\n')
    (libexec / "red5pro-run").write_text(
        "#!/bin/bash\n"
        '"$RUNBOOK_PYTHON" -c "import time; time.sleep(600)" "$RUNBOOK_RUN_DIR" &\n'
        "pid=$!\n"
        'echo "service running" >> "$EVENTS"\n'
        'echo "$pid" > "$RUNBOOK_RUN_DIR/red5pro.pid"\n'
        "trap 'kill -TERM \"$pid\"' TERM\n"
        'wait "$pid"; wait "$pid"\n'
        'echo "$pid exit-code 0" > "$RUNBOOK_RUN_DIR/red5pro.exit"\n'
    )
    for script in (stubs / "sleep", libexec / "red5pro-run"):
        script.chmod(0o755)
    shim = REPO / "runbook" / "rehearsal" / "data" / "shim-systemctl"
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin", "RUNBOOK_SANDBOX": str(sandbox),
        "RUNBOOK_PYTHON": sys.executable, "EVENTS": str(events),
    }  # fmt: skip

    def systemctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(shim), *args], env=env, capture_output=True,
                              text=True, timeout=DEADLINE_S)

    started_ = systemctl("start", "red5pro")
    try:
        assert started_.returncode == 0, started_.stderr
        assert systemctl("is-active", "red5pro").stdout == "active\n"
        happened = events.read_text().splitlines()
        after = happened[happened.index("service running") + 1 :]
        assert not [e for e in after if e.startswith("sleep")], happened
    finally:
        stopped = systemctl("stop", "red5pro")
    assert stopped.returncode == 0, stopped.stderr
    assert systemctl("is-active", "red5pro").stdout == "inactive\n"


async def test_a_launch_configs_capacity_is_answered_as_a_number_as_it_was_given_as_text(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    """Facts audit 58b F2: the 3.1 and 4.0 docs' create requests send
    connectionCapacity as text ("2000"), and their create, read and update
    answers give it as a number (6.2.0 reads it with getInt); the fake
    answered the text back, and its seeded fleets held text, so the
    rehearsal's snapshots had a shape no real one has."""
    old = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    new = make_install(tmp_path, name="red5pro-new", db_port=database, prefix="rhnew")
    await started(start_service, old)
    await started(start_service, new)
    lc = {**cloud.seed_launch_config(cloud.SEED_GROUPS[0]), "targets": {"target": [
        {"role": "origin", "instanceType": "c5.large", "connectionCapacity": "2000"}]}}
    async with httpx.AsyncClient() as http:
        for i in (old, new):
            created = await http.post(i.api("admin/configurations/launchconfig"), params=auth(),
                                      json={"launchconfig": {**lc, "name": f"lc-{i.api_version}"}})
            assert created.status_code == 201, created.text
            read = await http.get(i.api(f"admin/configurations/launchconfig/lc-{i.api_version}"),
                                  params=auth())
            body = read.json().get("launchconfig", read.json())
            assert body["targets"]["target"][0]["connectionCapacity"] == 2000, body
    for seed in cloud.SEED_GROUPS:
        for made in (cloud.seed_launch_config(seed), cloud.sample_launch_config(seed)):
            capacities = [t["connectionCapacity"] for t in made["targets"]["target"]]
            assert all(type(c) is int for c in capacities), made
