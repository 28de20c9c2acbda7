"""The rehearsal's stand-in stream manager, run as the real subprocess the
systemctl shim starts, against a minimal Red5 Pro install built here.

The helpers at the top (install builder, database listener, service runner)
are also used by tests/test_smapi.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runbook.rehearsal import cloud, service
from tests.polling import DEADLINE_S, until

REPO = Path(__file__).resolve().parents[1]
TOKEN = "rehearsal-admin-9f3c27d1"
PREFIX = "rhnode"
PACE = "0.2"  # pending 0.3 s, running until 0.6 s, terminating 0.3 s
# Pending for 25 minutes: under this pace a node changes state only when a test
# moves its clock (let_time_pass), so what a test sees never depends on how
# fast the machine is.
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
    release: str = "14.2.0.b1105",
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
    if controller_jar:
        (webinf / "lib" / "aws-cloud-controller-14.2.0.jar").write_bytes(b"PK\x05\x06" + bytes(18))
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
             f"-Dred5.config_root={home / 'conf'}", "-cp", f"{home}/red5-service.jar",
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
async def database() -> AsyncIterator[int]:
    """A TCP listener standing in for MySQL: the service only checks it answers."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


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
    assert other.status_code == 404
    assert "4.0" in other.json()["errorMessage"]
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
    body = wrong.json()
    assert set(body) == {"errorMessage", "timestamp"} and isinstance(body["timestamp"], int)
    assert "no administrator token" in empty.json()["errorMessage"]
    assert "No administrator authentication token" in no_token.log


async def test_launched_origin_boots_pending_running_inservice(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)
    lc = cloud.rehearsal_launch_config()
    sp = cloud.rehearsal_scale_policy()
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
        assert created_lc.json() == {"launchconfig": lc}
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
        assert identifier.startswith(f"{PREFIX}-eu-west-1-")

        # The node's life cycle runs at the pace of the service that launched it.
        [instance] = [i for i in cloud.list_instances(tmp_path) if i["identifier"] == identifier]
        assert instance["pace"] == float(STILL)

        async def look() -> tuple[str, str]:
            nodes = (
                await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())
            ).json()
            assert [n["identifier"] for n in nodes] == [identifier]
            assert nodes[0]["capacity"] == 30 and nodes[0]["address"].startswith("203.0.113.")
            group = (await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())).json()
            return nodes[0]["state"], group["state"]

        seen = [await look()]
        let_time_pass(tmp_path, (cloud.PENDING_S + cloud.RUNNING_UNTIL_S) / 2, identifier)
        seen.append(await look())
        let_time_pass(tmp_path, cloud.RUNNING_UNTIL_S, identifier)
        seen.append(await look())
    # The group turns active once its origin is in service, not before.
    assert seen == [("pending", "new"), ("running", "new"), ("inservice", "active")]


async def test_delete_nodegroup_terminates_its_nodes_then_the_group_goes(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)
    async with httpx.AsyncClient() as http:
        groups = (await http.get(install.api("admin/nodegroup"), params=auth())).json()
        assert [g["state"] for g in groups] == ["active"]
        name = groups[0]["name"]
        nodes = (await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())).json()
        assert sorted(n["role"] for n in nodes) == ["edge", "origin"]
        assert {n["state"] for n in nodes} == {"inservice"}

        deleted = await http.delete(install.api(f"admin/nodegroup/{name}"), params=auth())
        assert deleted.status_code == 200 and deleted.json()["name"] == name
        # Accepted at once, but the group stays listed while its nodes go.
        still = await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())
        going = (await http.get(install.api(f"admin/nodegroup/{name}/node"), params=auth())).json()
        assert still.status_code == 200
        assert {n["state"] for n in going} == {"terminating"}
        assert len(going) == 2

        # The cloud lets go of the nodes once their teardown time has passed.
        let_time_pass(tmp_path, cloud.TERMINATING_S, *(n["identifier"] for n in going))
        gone = await http.get(install.api(f"admin/nodegroup/{name}"), params=auth())
        assert gone.status_code == 404, gone.text
        assert (await http.get(install.api("admin/nodegroup"), params=auth())).json() == []
    assert {i["state"] for i in cloud.list_instances(tmp_path)} == {None}
    assert cloud.list_nodegroups(tmp_path, "127.0.0.1", database) == []


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
    assert len(ours) == 2
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install, pace=STILL)

    for identifier in ours:
        assert f"Terminating cloud node {identifier}" in install.log
    assert install.log.count("not in this database") == 2
    states = {i["identifier"]: i["state"] for i in cloud.list_instances(tmp_path)}
    assert {states[i] for i in ours} == {"terminating"}
    assert {s for i, s in states.items() if i.startswith("other-team")} == {"inservice"}

    let_time_pass(tmp_path, cloud.TERMINATING_S, *ours)
    states = {i["identifier"]: i["state"] for i in cloud.list_instances(tmp_path)}
    assert {states[i] for i in ours} == {None}
    assert {s for i, s in states.items() if i.startswith("other-team")} == {"inservice"}
    # The old database still lists its group, now with no nodes behind it.
    old_groups = cloud.list_nodegroups(tmp_path, "127.0.0.1", old_db)
    assert len(old_groups) == 1
    async with httpx.AsyncClient() as http:
        listed = await http.get(install.api("admin/nodegroup"), params=auth())
    assert listed.json() == []  # the new database starts empty


async def test_missing_license_key_stops_the_server(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    install = make_install(tmp_path, db_port=database, license_key=False)
    svc = start_service(install)
    assert await asyncio.to_thread(svc.proc.wait, DEADLINE_S) == 1
    assert "LICENSE.KEY" in install.log
    with pytest.raises(httpx.ConnectError):
        httpx.get(install.base_url, timeout=1)


async def test_unusable_database_makes_the_api_answer_503(
    tmp_path: Path, start_service: StartService
) -> None:
    closed = make_install(tmp_path, db_port=free_port())
    placeholder = make_install(tmp_path, name="red5pro-template", db_port=3306, db_host="{host}")
    for install in (closed, placeholder):
        await start_service(install).settled()
    async with httpx.AsyncClient() as http:
        refused = await http.get(closed.api("admin/nodegroup"), params=auth())
        skipped = await http.get(placeholder.api("admin/debug/cloudcontroller"), params=auth())
        alive = await http.get(closed.base_url + "/")
    assert refused.status_code == 503 and "database" in refused.json()["errorMessage"]
    assert skipped.status_code == 503 and "{host}" in skipped.json()["errorMessage"]
    assert alive.status_code == 200  # the server runs; only the webapp is down
    assert "cannot reach the database" in closed.log
    assert "Skipping database check" in placeholder.log
    assert service.READY_LINE not in closed.log + placeholder.log


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
    assert [a.status_code for a in answers] == [200, 200, 503]
    assert answers[0].text == service.DUMMY_CONTROLLER
    assert answers[1].text == "Amazon Web Services"
    assert "ClassNotFoundException" in answers[2].json()["errorMessage"]
    assert f"ClassNotFoundException: {AWS_BEAN}" in aws_no_jar.log


async def test_bad_requests_are_refused_with_reasons(
    tmp_path: Path, database: int, start_service: StartService
) -> None:
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)
    install = make_install(tmp_path, db_port=database)
    await started(start_service, install)
    async with httpx.AsyncClient() as http:
        groups = (await http.get(install.api("admin/nodegroup"), params=auth())).json()
        group = groups[0]["name"]
        bad_json = await http.post(
            install.api("admin/nodegroup"), params=auth(), content=b"{not json",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        no_lc = await http.post(
            install.api("admin/nodegroup"), params=auth(),
            json={"regions": ["us-east-1"], "launchConfig": "gone", "scalePolicy": "rehearsal-sp"},
        )  # fmt: skip
        no_group = await http.get(install.api("admin/nodegroup/group-nope/node"), params=auth())
        no_policy = await http.get(
            install.api("admin/configurations/scalepolicy/nope"), params=auth()
        )
        unwrapped_lc = await http.post(
            install.api("admin/configurations/launchconfig"), params=auth(), json={"name": "x"}
        )
        # The seeded policy allows two origins and the group already has one.
        second = await http.post(install.api(f"admin/nodegroup/{group}/node/origin"), params=auth())
        third = await http.post(install.api(f"admin/nodegroup/{group}/node/origin"), params=auth())
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["errorMessage"]
    assert no_lc.status_code == 400 and "'gone'" in no_lc.json()["errorMessage"]
    assert no_group.status_code == 404 and "group-nope" in no_group.json()["errorMessage"]
    assert no_policy.status_code == 404
    assert unwrapped_lc.status_code == 400
    assert second.status_code == 201 and second.json()["identifier"].startswith(PREFIX)
    assert second.json()["availabilityZone"] == "us-west-2a"  # origins spread over regions
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
