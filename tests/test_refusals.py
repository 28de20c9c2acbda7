"""What the procedure refuses, and how the new database's problems end: each with
one clear message and the host left safe."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import asyncssh
import javaproperties
import pytest

from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.rehearsal import cloud, sandbox, scenarios
from runbook.rehearsal.host import RehearsalHost
from steps import database
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse
from tests.scripted import ScriptedFrontEnd

ROOT = Path(__file__).parents[1]
PROPS = "webapps/streammanager/WEB-INF/red5-web.properties"
STOP = Decision(Answer.STOP)


def detail(front: ScriptedFrontEnd, step_id: str) -> str:
    return [d for sid, _state, d in front.states if sid == step_id][-1]


def write_config(tmp_path: Path, distribution: Path) -> Path:
    example = (ROOT / "sample-configs/production.example.toml").read_text()
    controller = tmp_path / "aws-cloud-controller-11.0.0.jar"
    controller.write_bytes(b"PK\x05\x06" + bytes(18))
    text = example.replace('"~/Downloads/red5pro-server-11.1.0.b835-release.zip"',
                           f'"{distribution}"')
    text = text.replace('"~/Downloads/aws-cloud-controller-11.0.0.jar"', f'"{controller}"')
    config = tmp_path / "sm.toml"
    config.write_text(text)
    return config


def runbook(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), SM_API_TOKEN="t0ken")
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env)


def test_a_stream_manager_2_distribution_is_refused_before_anything_connects(
    tmp_path: Path,
) -> None:
    # A distribution without the streammanager webapp (a Stream Manager 2.0
    # release, say): a separate product this procedure cannot install.
    zip_path = tmp_path / "red5pro-server-15.0.0-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("red5pro-server-15.0.0/conf/red5.properties", "http.port=5080\n")
        archive.writestr("red5pro-server-15.0.0/webapps/root/index.html", "<html/>")
    config = write_config(tmp_path, zip_path)
    for args in (["plan", str(config)], ["run", str(config), "--headless", "--yes"]):
        result = runbook(*args, tmp_path=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "Stream Manager 2.0" in result.stderr and "artifacts.distribution" in result.stderr
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.jsonl"))


@pytest.mark.parametrize("release", ["11.1.0", "15.0.0"])
@pytest.mark.parametrize("webapp", [True, False])
def test_a_distribution_is_refused_for_what_it_is_in_one_message(
    tmp_path: Path, release: str, webapp: bool
) -> None:
    """Facts audit 56a (M6): a release 14 zip that had webapps/streammanager
    was refused as having none, and "from Red5 Pro 14 the stream manager is
    Stream Manager 2.0" was said as fact, which no source gives (the brief's
    word). What the zip lacks is said as a fact about it; the release 14 line
    with its doubt."""
    from steps import red5

    zip_path = tmp_path / f"red5pro-server-{release}-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"red5pro-server-{release}/conf/red5.properties", "http.port=5080\n")
        if webapp:
            archive.writestr(f"red5pro-server-{release}/{PROPS}", "config.dbHost={host}\n")
    refused = red5.not_for_this_procedure(zip_path)
    if webapp and release == "11.1.0":
        assert refused is None
        return
    assert refused is not None
    assert ("has no webapps/streammanager" in refused) is not webapp, refused
    assert "from Red5 Pro 14 the stream manager is" not in refused, refused
    if webapp:
        assert "14" in refused and "no public source" in refused, refused


@pytest.mark.parametrize("missing", ["distribution", "cloud_controller"])
def test_a_local_artifact_that_is_not_there_is_refused_before_anything_connects(
    tmp_path: Path, missing: str
) -> None:
    """Trial 55, F7: a distribution path with a typo was found by preflight,
    after connecting (exit 1, a journal begun), in words that named no
    setting; a missing identity is refused before, exit 2. The zip and the
    jar are this machine's files too: refused so, with the key and what to
    do; `plan`, which may be made elsewhere, says it in a note."""
    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"red5pro-server-11.1.0.b835/{PROPS}", "proxy.enabled=false\n")
    config = write_config(tmp_path, zip_path)
    gone = zip_path if missing == "distribution" else tmp_path / "aws-cloud-controller-11.0.0.jar"
    gone.unlink()
    result = runbook("run", str(config), "--headless", "--yes", tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"runbook: {config}: "), line
    assert f"artifacts.{missing} {gone} is not on this machine" in line, line
    assert "download" in line, line
    assert "journal:" not in result.stdout, "refused before any run began"
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.jsonl"))
    plan = runbook("plan", str(config), tmp_path=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert f"artifacts.{missing} {gone} is not on this machine" in plan.stderr, plan.stderr
    assert plan.stderr.startswith("runbook: note: "), plan.stderr
    # The way back uploads nothing: it is not refused for them.
    back = runbook("rollback", str(config), "--headless", "--yes", tmp_path=tmp_path)
    assert back.returncode == 2 and "artifacts." not in back.stderr, back.stderr


@pytest.mark.parametrize(("value", "refused"), [("yes", True), ("30s", True), ("true", False)],
                         ids=["word-for-boolean", "unit-for-number", "right-kind"])
def test_a_config_set_of_another_kind_than_the_template_is_refused_before_anything_connects(
    tmp_path: Path, value: str, refused: bool
) -> None:
    """Review and operator trial: `[properties] set` passed the config, plan
    and the first eight steps, and the properties step then refused it in
    --set's words, which the operator never typed (exit 1, in the window).
    The template is in the distribution on this machine: its kinds are known
    before anything connects."""
    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"red5pro-server-11.1.0.b835/{PROPS}",
                         "proxy.enabled=false\ninstancecontroller.httptimeout=30000\n"
                         "#later.flag=true\nconfig.dbPass={password}\n")
    config = write_config(tmp_path, zip_path)
    key = "proxy.enabled" if value != "30s" else "instancecontroller.httptimeout"
    text = config.read_text().replace("# set = {", f'set = {{ "{key}" = "{value}" }}\n# set = {{')
    config.write_text(text)
    for args in (["plan", str(config)], ["run", str(config), "--headless", "--yes"]):
        result = runbook(*args, tmp_path=tmp_path)
        if not refused:
            assert key not in result.stderr, result.stderr
            continue
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "properties.set" in result.stderr and key in result.stderr, result.stderr
        assert "--set" not in result.stderr, result.stderr
    if refused:
        assert not (tmp_path / "state").exists() or \
            not list((tmp_path / "state").rglob("*.jsonl"))


def test_plan_says_a_config_set_is_not_checked_without_the_distribution_here(
    tmp_path: Path
) -> None:
    """README walkthrough: with the distribution zip not on this machine,
    `plan` passed a `[properties] set` of the wrong kind in silence (exit 0),
    though the README says plan refuses it: the day-before check must say it
    did not look."""
    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"  # never written
    config = write_config(tmp_path, zip_path)
    config.write_text(config.read_text().replace(
        "# set = {", 'set = { "proxy.enabled" = "yes" }\n# set = {'))
    result = runbook("plan", str(config), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    # And, a line of its own (trial 55, F7), that `run` refuses the zip not here.
    notes = result.stderr.splitlines()
    assert len(notes) == 2 and "artifacts.distribution" in notes[1], result.stderr
    assert "[properties] set" in notes[0] and "not checked" in notes[0], result.stderr
    assert str(zip_path) in notes[0], result.stderr
    # Nothing to check, nothing said of it.
    config.write_text(config.read_text().replace('set = { "proxy.enabled" = "yes" }\n', ""))
    result = runbook("plan", str(config), tmp_path=tmp_path)
    assert result.returncode == 0 and "[properties] set" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "artifacts.distribution" in result.stderr


def _damaged(zip_path: Path, how: str) -> None:
    """A distribution whose red5-web.properties Python's zipfile cannot read,
    though its listing reads (and the host's unzip may read it whole)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"red5pro-server-11.1.0.b835/{PROPS}",
                         "proxy.enabled=false\nx=" + "a" * 5000 + "\n")
    data = bytearray(zip_path.read_bytes())
    if how == "corrupt":  # the packed data, just after the local header's name
        at = data.index(b"red5-web.properties") + len("red5-web.properties")
        for k in range(at + 2, at + 12):
            data[k] ^= 0x5A
    for signature, flags, method in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.index(signature)
        if how == "encrypted":
            data[at + flags] |= 1
        elif how == "deflate64":
            data[at + method] = 9
    zip_path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["corrupt", "encrypted", "deflate64"])
def test_a_template_that_cannot_be_read_here_is_left_to_the_steps(
    tmp_path: Path, how: str
) -> None:
    """Second review: with [properties] set given, a distribution whose
    template zipfile cannot read (corrupt, encrypted, Deflate64, which the
    host's unzip takes) crashed plan with a traceback."""
    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    _damaged(zip_path, how)
    config = write_config(tmp_path, zip_path)
    config.write_text(config.read_text().replace(
        "# set = {", 'set = { "proxy.enabled" = "yes" }\n# set = {'))
    result = runbook("plan", str(config), tmp_path=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr


def test_the_way_back_is_not_refused_over_a_properties_set(tmp_path: Path) -> None:
    """Second review: rollback shares run's refusals, and was refused for a
    [properties] set value it never uses."""
    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"red5pro-server-11.1.0.b835/{PROPS}", "proxy.enabled=false\n")
    config = write_config(tmp_path, zip_path)
    config.write_text(config.read_text().replace(
        "# set = {", 'set = { "proxy.enabled" = "yes" }\n# set = {'))
    result = runbook("rollback", str(config), "--headless", "--yes", tmp_path=tmp_path)
    assert "properties.set" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


async def test_an_older_release_is_refused_before_anything_changes(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        older = scenarios.scenario("5.1-to-6.2").old
        zip_path = host.sandbox / ".operator" / older.zip_name
        sandbox.build_distribution(zip_path, older, host.sandbox, api_port=5080)
        settings = dataclasses.replace(rehearsal_settings(host), distribution=zip_path)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.FAILED
        assert front.asked == ["preflight"], "nothing ran after preflight"
        assert "older than the live 6.2.0.b406" in detail(front, "preflight")
        assert host.service_pid() is not None, "the live stream manager still runs"


async def test_a_live_release_before_5_1_is_refused_saying_why(tmp_path: Path) -> None:
    """Facts audit 57b (L2): Red5's v3.1 API page sends releases "4.5 or
    earlier" to API 2.0, and the procedure (step 7) says launch configs and
    scale policies were files before API 3.0; runbook knows APIs from 3.0
    (5.1.1) on. Such a live release went through preflight, which knew no
    API version for it and compared none."""
    async with rehearsal_host(tmp_path) as host:
        ini = host.install_dir / "red5pro" / "conf" / "red5.ini"
        ini.write_text("server.version=4.5.0.b100-release\n")
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.FAILED, front.text()[-2000:]
        assert front.asked == ["preflight"], "nothing ran after preflight"
        said = detail(front, "preflight")
        assert "Red5 Pro 4.5.0.b100" in said and "older than 5.1" in said, said
        assert "API 2.0" in said and "files" in said, said
        assert host.service_pid() is not None, "the live stream manager still runs"


async def test_a_live_stream_manager_on_postgresql_is_refused_at_preflight(
        tmp_path: Path) -> None:
    """Facts audit 60b (M3): 6.2.0's template offers
    `#config.dbDriver=org.postgresql.Driver` (and ships postgreSQL_cluster.sql).
    A live stream manager set so went through preflight; new-database and
    schema then talked MySQL to a PostgreSQL server, and its failures read as
    network or login trouble. Preflight reads the driver and refuses, before
    anything changes."""
    async with rehearsal_host(tmp_path) as host:
        live = host.install_dir / "red5pro" / PROPS
        live.write_text(live.read_text() + "\nconfig.dbDriver=org.postgresql.Driver\n")
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        assert outcome is Outcome.FAILED, front.text()[-2000:]
        assert front.asked == ["preflight"], "nothing ran after preflight"
        said = detail(front, "preflight")
        assert "MySQL-backed stream managers only" in said, said
        assert "org.postgresql.Driver" in said and "Nothing was changed" in said, said
        assert host.service_pid() is not None, "the live stream manager still runs"


@pytest.mark.parametrize("driver", ["com.mysql.jdbc.Driver", "com.mysql.cj.jdbc.Driver"])
async def test_a_live_stream_manager_on_a_mysql_driver_passes_preflight(
        tmp_path: Path, driver: str) -> None:
    """The same look lets MySQL's drivers through: the webapp's default
    (applicationContext.xml), and the name Connector/J 8.0 gave it
    (dev.mysql.com, "Changes in the Connector/J API")."""
    from tests.test_steps import run_only

    async with rehearsal_host(tmp_path) as host:
        live = host.install_dir / "red5pro" / PROPS
        live.write_text(live.read_text() + f"\nconfig.dbDriver={driver}\n")
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "run.jsonl", front)
    assert outcome is Outcome.DONE, front.text()[-2000:]


async def test_a_wrong_database_password_stops_new_database(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        live = host.install_dir / "red5pro" / PROPS
        values = javaproperties.loads(live.read_text())
        live.write_text(live.read_text().replace(
            f"config.dbPass={javaproperties.escape(values['config.dbPass'])}",
            "config.dbPass=not-the-password"))
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
    assert outcome is Outcome.FAILED and front.final_state("new-database") == "failed"
    assert "refuses the live login smadmin" in detail(front, "new-database")
    assert "create that user" in detail(front, "new-database")
    assert "not-the-password" not in front.text(), "the password is never shown"


async def test_an_unreachable_new_database_stops_new_database(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        settings = dataclasses.replace(rehearsal_settings(host), new_db_host="127.0.0.9")
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
    assert outcome is Outcome.FAILED
    assert "cannot be reached from the stream manager host" in detail(front, "new-database")


async def run_on_host(host: RehearsalHost, command: str, input: str = "") -> str:
    async with asyncssh.connect("127.0.0.1", host.ssh_port, username=host.user,
                                known_hosts=str(host.known_hosts),
                                client_keys=[str(host.client_key)], config=None,
                                agent_path=None) as conn:
        result = await conn.run(command, input=input)
    assert result.exit_status == 0, result.stderr
    return str(result.stdout)


@pytest.mark.parametrize(("table", "said_of_it"), [
    ("stray_table", "not in the release stray_table"),
    # One of the release's own: an unfinished import of schema's is done again
    # (test_steps), but tables found before schema ever ran are someone else's.
    ("node", "missing"),
])
async def test_a_new_database_with_tables_schema_did_not_make_is_never_overwritten(
        tmp_path: Path, table: str, said_of_it: str) -> None:
    async with rehearsal_host(tmp_path) as host:
        user, password = host.state["db_account"]
        login = database.Login(user, password, *host.new_db)
        await run_on_host(host, database.client(host.new_db[0], host.new_db[1],
                                                "-e 'CREATE DATABASE IF NOT EXISTS cluster'"),
                          login.option_file())
        theirs = host.sandbox / "tmp" / "theirs.sql"
        theirs.write_text(f"CREATE TABLE `{table}` (`id` int(11) NOT NULL);\n")
        await run_on_host(host, database.client(host.new_db[0], host.new_db[1],
                                                f"cluster < {theirs}"), login.option_file())
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
        tables = await run_on_host(host, database.client(
            host.new_db[0], host.new_db[1], "-N -B -e 'SHOW TABLES FROM cluster'"),
            login.option_file())
    assert outcome is Outcome.FAILED and front.final_state("schema") == "failed"
    said = detail(front, "schema")
    assert said_of_it in said and "does not overwrite" in said, said
    assert tables.split() == [table], "the database was left as it was"


async def test_rows_already_in_the_new_database_may_be_another_stream_managers(
        tmp_path: Path) -> None:
    """Facts audit 60b (M4): Red5's own installer lets several stream managers
    share one `cluster` database ("configured by another StreamManager. Skip.").
    Launch configs found in the new database before the cutover were said to
    be an earlier attempt's, and new-database and schema both handed over a
    DROP DATABASE: run, it could drop another live stream manager's database.
    Both causes are said, with what to do in each; no command is given."""
    from runbook.rehearsal import databases as rehearsal_databases
    from tests.test_steps import run_only, step_ids_through

    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("schema"), tmp_path / "one.jsonl",
                                    first)
        assert outcome is Outcome.DONE, first.text()[-2000:]
        # Another stream manager, already on this database, keeps its config there.
        await asyncio.to_thread(
            rehearsal_databases.run_in_cluster, *host.new_db, *host.db_account,
            "INSERT INTO launch_configs (id, name, data, updated) "
            "VALUES (1, 'their-config', '{}', 0)", 5.0)
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["new-database", "schema"], tmp_path / "two.jsonl",
                                    front)
    assert outcome is Outcome.FAILED and front.final_state("schema") == "failed"
    early = " ".join(line for step, _, line in front.lines if step == "new-database")
    said = detail(front, "schema")
    for text in (early, said):
        assert "1 launch config" in text, text
        said_low = text.lower()
        assert "an earlier attempt" in said_low and "another stream manager" in said_low, text
        assert "find out which" in said_low, text
    # What to do in each case, at schema's refusal.
    assert "do not drop it" in said and "its own" in said, said
    assert "DROP DATABASE" not in front.text(), front.text()[-3000:]


class _NoMysqlClient(RehearsalHost):
    """A host whose PATH has every command but a mysql client."""

    missing: tuple[str, ...] = ("mysql", "mariadb")

    def command_env(self) -> dict[str, str]:
        env = super().command_env()
        tools = self.sandbox / "usr-bin-without"
        if not tools.is_dir():
            tools.mkdir()
            for entry in Path("/usr/bin").iterdir():
                if not entry.name.startswith(self.missing):
                    (tools / entry.name).symlink_to(entry)
        shim = sandbox.bin_dir(self.sandbox)
        env["PATH"] = f"{shim}:{tools}"  # /bin is /usr/bin on merged-usr hosts
        return env


async def test_a_host_without_a_mysql_client_is_told_how_to_get_one(tmp_path: Path) -> None:
    host = _NoMysqlClient(tmp_path / "sandbox", databases="mariadb" if shutil.which(
        "mariadbd") else None)
    await host.start()
    try:
        for name in ("mysql", "mariadb"):
            (sandbox.bin_dir(host.sandbox) / name).unlink(missing_ok=True)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
    finally:
        await host.stop()
    assert outcome is Outcome.FAILED and front.asked == ["preflight"]
    assert "no mysql client" in detail(front, "preflight")
    assert "apt-get install default-mysql-client" in detail(front, "preflight")


class _NoUnzip(_NoMysqlClient):
    """A host whose PATH has every command but unzip (a minimal image)."""

    missing = ("unzip",)


async def test_a_host_without_unzip_is_told_before_anything_is_sent(tmp_path: Path) -> None:
    """Facts audit 60b: unpack runs unzip as root, and preflight did not look
    for it, so a minimal host failed at unpack, after the uploads."""
    host = _NoUnzip(tmp_path / "sandbox")
    await host.start()
    try:
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
    finally:
        await host.stop()
    assert outcome is Outcome.FAILED and front.asked == ["preflight"]
    said = detail(front, "preflight")
    assert "no unzip" in said and "apt-get install unzip" in said, said


async def test_without_its_schema_the_new_service_does_not_start_and_says_why(
    tmp_path: Path,
) -> None:
    """The schema step skipped: the new stream manager refuses to start, start-service
    shows the service log's reason, and the way back gives the old one back whole."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        before = cloud.list_nodegroups(host.sandbox, *host.old_db)
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=4))
        front = ScriptedFrontEnd(
            {"schema": Decision(Answer.SKIP, "the DBA imports it")},
            recoveries={"start-service": [Recovery.ROLLBACK]})
        outcome = await rehearse(host, front, journal, settings)
        after = cloud.list_nodegroups(host.sandbox, *host.old_db)
        pid = host.service_pid()
        serving = Path(f"/proc/{pid}/cwd").resolve() if pid is not None else None
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    said = detail(front, "start-service")
    assert "red5.log ends with" in said and "schema" in said.lower()
    assert ("start-service", True) in front.recovered
    assert serving == (host.install_dir / "red5pro").resolve(), "the old tree serves again"
    old_top = scenarios.scenario(scenarios.DEFAULT).old.top
    assert (host.install_dir / "red5pro" / old_top).is_symlink()
    assert len(after) == len(before), "the nodegroups are back on the old database"


async def test_a_new_release_left_on_the_dummy_controller_does_not_pass_start_service(
    tmp_path: Path,
) -> None:
    """Facts audit: start-service looked for "dummy" in the cloud controller's
    name, but the Dummy controller calls itself "Streammanager Placebo"
    (FACTS-scenarios §5): a new stream manager left on the controller it
    ships with (here: its applicationContext.xml put back as shipped after
    carry-over), unable to launch a node, passed the step."""
    from runbook.model import Action, StepReport
    from steps import red5

    journal = tmp_path / "run.jsonl"
    shipped: dict[str, bytes] = {}
    async with rehearsal_host(tmp_path) as host:
        new_top = scenarios.scenario(scenarios.DEFAULT).new.top

        def undo_the_controller(step: StepReport, plan: list[Action]) -> None:
            if step.id == "carry-over":
                shipped["xml"] = (host.install_dir / new_top / red5.APP_CONTEXT).read_bytes()
            if step.id == "start-service":
                (host.install_dir / "red5pro" / red5.APP_CONTEXT).write_bytes(shipped["xml"])

        front = ScriptedFrontEnd(on_confirm=undo_the_controller,
                                 recoveries={"start-service": [Recovery.STOP]})
        outcome = await rehearse(host, front, journal, rehearsal_settings(host))
    assert outcome is not Outcome.DONE, front.text()[-3000:]
    assert front.final_state("start-service") == "failed", front.text()[-3000:]
    said = detail(front, "start-service")
    assert "Streammanager Placebo" in said and "carry-over" in said, said


async def test_a_new_release_on_another_clouds_controller_does_not_pass_start_service(
    tmp_path: Path,
) -> None:
    """Operator trial 57 (F10, its addendum): start-service refused only the
    Dummy's answer. FACTS §5 waits for "the expected controller string": a new
    stream manager answering "Google Compute" where the live one answered
    "Amazon Web Services" passed, and recreate would have launched the fleet
    through another cloud's controller. (Here its applicationContext.xml names
    the Google bean, its jar beside it, after carry-over.)"""
    from runbook.model import Action, StepReport
    from steps import red5

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        def another_cloud(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service":
                webapp = host.install_dir / "red5pro" / red5.APP_CONTEXT
                xml = webapp.read_text()
                # The bean classes as FACTS §5 names them.
                assert "com.red5pro.services.cloud.aws.component.AWSInstanceController" in xml
                webapp.write_text(xml.replace(
                    "com.red5pro.services.cloud.aws.component.AWSInstanceController",
                    "com.red5pro.services.cloud.google.component.ComputeInstanceController"))
                lib = webapp.parent / "lib"
                jar = next(lib.glob("aws-cloud-controller*.jar"))
                jar.unlink()
                (lib / "google-cloud-controller-11.0.0.jar").write_bytes(sandbox.jar_bytes(
                    "google-cloud-controller", "11.0.0", [GOOGLE]))

        front = ScriptedFrontEnd(on_confirm=another_cloud,
                                 recoveries={"start-service": [Recovery.STOP]})
        outcome = await rehearse(host, front, journal, rehearsal_settings(host))
    assert outcome is not Outcome.DONE, front.text()[-3000:]
    assert front.final_state("start-service") == "failed", front.text()[-3000:]
    said = detail(front, "start-service")
    assert "Google Compute" in said and "Amazon Web Services" in said, said


async def test_a_kept_unit_naming_what_the_new_release_lacks_is_refused_at_preflight(
    tmp_path: Path,
) -> None:
    """Facts audit: 6.2.0 ships no unit, so the 5.1.1 one stays. Its
    commons-daemon jar runbook points at 6.2.0's (preflight says so); any other
    classpath entry the new release lacks would keep it from starting in the
    downtime, so preflight refuses before anything changes."""
    async with rehearsal_host(tmp_path, scenario="5.1-to-6.2") as host:
        front = ScriptedFrontEnd({"new-database": STOP})
        settings = rehearsal_settings(host)
        outcome = await rehearse(host, front, tmp_path / "first.jsonl", settings)
        assert front.final_state("preflight") == "done", front.text()[-2000:]
        assert "point the installed unit's classpath at commons-daemon-1.1.0.jar" in front.text()
        unit = sandbox.unit_file(host.sandbox)
        unit.write_text(unit.read_text().replace(
            "${RED5_HOME}/conf", "${RED5_HOME}/conf:${RED5_HOME}/lib/site-extras.jar"))
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "second.jsonl", settings)
        assert outcome is Outcome.FAILED
        assert front.asked == ["preflight"], "nothing ran after preflight"
        said = detail(front, "preflight")
        assert "lib/site-extras.jar" in said and "would not start" in said
        assert host.service_pid() is not None, "the live stream manager still runs"


async def test_a_shipped_unit_that_runs_another_install_folder_is_refused_at_preflight(
    tmp_path: Path,
) -> None:
    """A real zip's red5pro.service names /usr/local/red5pro outright (FACTS
    §3); installed where [install] dir puts red5pro elsewhere, it would start
    nothing, found only by start-service in the downtime (facts audit 61,
    F11). The rehearsal's zip, its unit made to name /usr/local/red5pro as a
    real one does, is refused by preflight before anything changes."""
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        original = settings.distribution.read_bytes()
        with zipfile.ZipFile(settings.distribution) as zipped:
            members = [(info, zipped.read(info)) for info in zipped.infolist()]
        with zipfile.ZipFile(settings.distribution, "w") as zipped:
            for info, data in members:
                if info.filename.endswith("/red5pro.service"):
                    data = data.replace(f"{host.sandbox}/usr/local/red5pro".encode(),
                                        b"/usr/local/red5pro")
                zipped.writestr(info, data)
        try:
            front = ScriptedFrontEnd()
            outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        finally:
            settings.distribution.write_bytes(original)
        assert outcome is Outcome.FAILED
        assert front.asked == ["preflight"], "nothing ran after preflight"
        said = detail(front, "preflight")
        assert "/usr/local/red5pro" in said and f"{settings.live_dir}" in said, said
        assert host.service_pid() is not None, "the live stream manager still runs"


# FACTS section 4: the Google Compute bean's class, which a Google jar holds.
GOOGLE = "com.red5pro.services.cloud.google.component.ComputeInstanceController"


@pytest.mark.parametrize(("name", "holds"), [
    ("google-cloud-controller-0.0.0.jar", [GOOGLE]),
    ("aws-cloud-controller-11.0.0.jar", None),
], ids=["another-clouds-jar", "not-a-zip"])
async def test_a_controller_jar_of_another_cloud_is_refused_at_preflight(
    tmp_path: Path, name: str, holds: list[str] | None,
) -> None:
    """Trial 57, F10: a jar of another cloud (or any file) passed every
    prepare step; the bean carry-over activates would not load, and
    start-service would fail after the nodegroups were deleted. Preflight
    refuses a jar that holds another cloud's controller class and not the
    live install's, and a file that is no zip."""
    jar = tmp_path / name
    jar.write_bytes(b"not a zip\n" if holds is None else
                    sandbox.jar_bytes(name.rsplit("-", 1)[0], "0.0.0", holds))
    async with rehearsal_host(tmp_path) as host:
        settings = dataclasses.replace(rehearsal_settings(host), cloud_controller=jar,
                                       rehearsal_scenario=None)  # a config file of one's own
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        assert outcome is Outcome.FAILED
        assert front.asked == ["preflight"], "nothing ran after preflight"
        said = detail(front, "preflight")
        assert f"{jar} " in said and "[artifacts] cloud_controller" in said, said
        if holds is None:
            assert "is not a jar" in said, said
        else:
            assert f"holds {GOOGLE}" in said and f"not {sandbox.AWS}" in said, said
        # Re-trial 57b, F1: [t] after editing the config read the old jar
        # again (the config is read once): the line says how a change is read.
        assert "--resume" in said and "try the step again" in said, said
        assert host.service_pid() is not None, "the live stream manager still runs"


async def test_a_controller_jar_holding_no_known_controller_is_warned_of_not_refused(
    tmp_path: Path,
) -> None:
    """Review 57c, M2: that a controller jar holds its bean's class as a
    plain entry is inferred, no source lists a jar's entries. A jar holding
    none of the controller classes FACTS names may be laid out otherwise:
    refused, every run of that cloud would stop at preflight with nothing to
    set. Preflight passes, and warns once, naming the class it looked for."""
    from runbook.journal import read
    from tests.test_steps import run_only

    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    jar.write_bytes(sandbox.jar_bytes("aws-cloud-controller", "11.0.0",
                                      ["org.red5.example.NotAController"]))
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], journal, front, cloud_controller=jar)
    assert outcome is Outcome.DONE, front.text()[-2000:]
    warned = [r["text"] for r in read(journal) if r["event"] == "note"
              and r.get("step") == "preflight" and sandbox.AWS in r.get("text", "")]
    assert len(warned) == 1, warned
    assert warned[0].startswith("warning:") and str(jar) in warned[0], warned
    assert "start-service" in warned[0] and "\n" not in warned[0], warned


async def test_a_jar_holding_no_controller_passes_preflight_and_start_service_tells(
    tmp_path: Path,
) -> None:
    """Preflight only warns of a jar holding no known controller class, and
    says start-service will tell. In the rehearsal it did not: its stand-in
    stream manager loaded the bean because a jar of its cloud's name sat in
    WEB-INF/lib, so the new release started on a jar without the class. It
    loads the class the bean names from the jars that hold it, as Red5 does."""
    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    jar.write_bytes(sandbox.jar_bytes("aws-cloud-controller", "11.0.0",
                                      ["org.red5.example.NotAController"]))
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        # A webapp that did not load is waited for, twice: not for long here.
        settings = dataclasses.replace(settings, cloud_controller=jar, timeouts=dataclasses.replace(
            settings.timeouts, service_start=4))
        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]})
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
    assert outcome is not Outcome.DONE, front.text()[-3000:]
    assert front.final_state("preflight") == "done", front.text()[-3000:]
    assert front.final_state("start-service") == "failed", front.text()[-3000:]
    said = detail(front, "start-service")
    assert "ClassNotFoundException" in said and sandbox.AWS in said, said


async def test_a_live_install_on_the_dummy_controller_is_refused_at_preflight(
    tmp_path: Path,
) -> None:
    """The Dummy bean's class ships with the release (streammanager-commons),
    in no controller jar: its absence from the jar is not what is said. But a
    live install on the Dummy launches no node, and carry-over keeps its bean:
    start-service refuses a new release on it, after the nodegroups were
    deleted (hJ, trial 57 F10, left it: nothing before the window said so).
    Preflight refuses it, before anything changes."""
    from tests.test_steps import run_only

    async with rehearsal_host(tmp_path) as host:
        context = host.install_dir / "red5pro" / "webapps/streammanager/WEB-INF" \
            / "applicationContext.xml"
        context.write_text(sandbox.application_context(sandbox.DUMMY, host.scenario.old))
        jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
        jar.write_bytes(sandbox.jar_bytes("aws-cloud-controller", "11.0.0", []))
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "run.jsonl", front,
                                    cloud_controller=jar)
        assert outcome is Outcome.FAILED, front.text()[-2000:]
    said = detail(front, "preflight")
    assert "Dummy" in said and "[artifacts] cloud_controller" not in said, said


def test_a_controller_jar_that_is_no_zip_is_refused_before_anything_connects(
    tmp_path: Path,
) -> None:
    """Trial 57, F10: any file named .jar passed until the window. A jar is a
    zip; one that does not open as one is refused here, as a jar not here is
    (`plan` says it in a note)."""
    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"red5pro-server-11.1.0.b835/{PROPS}", "proxy.enabled=false\n")
    config = write_config(tmp_path, zip_path)
    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    jar.write_text("<html>the download page, saved under the jar's name</html>\n")
    result = runbook("run", str(config), "--headless", "--yes", tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert f"artifacts.cloud_controller {jar} is not a jar" in line, line
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.jsonl"))
    plan = runbook("plan", str(config), tmp_path=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert f"{jar} is not a jar" in plan.stderr and plan.stderr.startswith("runbook: note: ")


async def test_a_resume_keeps_the_live_cloud_start_service_compares_with(
    tmp_path: Path,
) -> None:
    """Review 57c, H0: after start-service refused a new release on another
    cloud's controller, a resume's preflight heard that release answer the
    API version the live one spoke (4.0 on both sides, 10.9 to 11.1) and
    recorded its controller as the live one's: start-service then compared
    Google with Google and passed, and recreate went on. The live cloud, on
    record before the cutover, stands."""
    from runbook.journal_replay import replay
    from runbook.model import Action, StepReport
    from steps import red5

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, scenario="10.9-to-11.1") as host:
        def another_cloud(step: StepReport, plan: list[Action]) -> None:
            webapp = host.install_dir / "red5pro" / red5.APP_CONTEXT
            if step.id != "start-service" or "AWSInstanceController" not in webapp.read_text():
                return
            webapp.write_text(webapp.read_text().replace(
                "com.red5pro.services.cloud.aws.component.AWSInstanceController",
                "com.red5pro.services.cloud.google.component.ComputeInstanceController"))
            lib = webapp.parent / "lib"
            next(lib.glob("aws-cloud-controller*.jar")).unlink()
            (lib / "google-cloud-controller-11.0.0.jar").write_bytes(sandbox.jar_bytes(
                "google-cloud-controller", "11.0.0", [GOOGLE]))

        front = ScriptedFrontEnd(on_confirm=another_cloud,
                                 recoveries={"start-service": [Recovery.STOP]})
        await rehearse(host, front, journal, rehearsal_settings(host))
        assert front.final_state("start-service") == "failed", front.text()[-3000:]
        # Quit and resumed, nothing changed on the host.
        again = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP],
                                             "recreate": [Recovery.STOP]})
        await rehearse(host, again, journal, rehearsal_settings(host), resume=replay(journal))
    assert again.final_state("start-service") == "failed", again.text()[-3000:]
    assert "Amazon Web Services" in detail(again, "start-service")
    assert again.final_state("recreate") is None or \
        again.final_state("recreate") == "pending", again.final_state("recreate")
