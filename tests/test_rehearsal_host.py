"""The rehearsal host over real SSH on loopback: real bash, real files, real processes."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import httpx
import javaproperties
import pytest

from runbook.hoststate import HostState
from runbook.rehearsal import armed, cloud, sandbox, scenarios
from runbook.rehearsal.host import RehearsalHost
from runbook.rehearsal.sandbox import owned_processes, processes_mentioning
from tests.conftest import SSHConnect
from tests.polling import DEADLINE_S, until

WEBINF = "webapps/streammanager/WEB-INF"
DEFAULT = scenarios.scenario(scenarios.DEFAULT)
TOP = DEFAULT.new.top


def running_commands(root: Path) -> set[str]:
    """The command lines of the processes running for the sandbox at ``root``."""
    return {sandbox.proc_cmdline(pid) for pid in owned_processes(root)}


@pytest.fixture
async def bare_host(tmp_path: Path) -> AsyncIterator[RehearsalHost]:
    """A host whose live service is left down, for tests of SSH and the shims."""
    host = RehearsalHost(tmp_path / "sandbox", boot_service=False)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()
    assert processes_mentioning(host.sandbox) == []


async def test_commands_run_in_real_bash(bare_host: RehearsalHost, ssh_connect: SSHConnect) -> None:
    conn = await ssh_connect(bare_host)
    result = await conn.run("echo out; echo err >&2; exit 7")
    assert (result.exit_status, result.stdout, result.stderr) == (7, "out\n", "err\n")

    result = await conn.run("printf '%s\\n' c a b | sort | tr a-z A-Z && echo \"it's $USER\"")
    assert result.stdout == f"A\nB\nC\nit's {bare_host.user}\n"
    assert (await conn.run("false && echo never")).exit_status == 1
    assert (await conn.run("no-such-command-here")).exit_status == 127

    # Input from the client reaches the command; bytes come back unchanged.
    result = await conn.run("wc -c && pwd", input="12345\n")
    assert result.stdout.split() == ["6", str(bare_host.home)]
    payload = bytes(range(256)) * 64
    result = await conn.run("cat", input=payload, encoding=None)
    assert result.stdout == payload


async def test_unknown_host_key_is_refused(bare_host: RehearsalHost, tmp_path: Path) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    other = tmp_path / "other_known_hosts"
    other.write_text(f"[127.0.0.1]:{bare_host.ssh_port} {stranger}")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(
            "127.0.0.1", bare_host.ssh_port, username=bare_host.user,
            known_hosts=str(other), client_keys=[str(bare_host.client_key)],
            config=None, agent_path=None, keepalive_interval=5,
        )


async def test_wrong_client_key_or_user_is_refused(bare_host: RehearsalHost) -> None:
    intruder = asyncssh.generate_private_key("ssh-ed25519")
    for user, key in ((bare_host.user, intruder), ("root", bare_host.client_key)):
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(
                "127.0.0.1", bare_host.ssh_port, username=user,
                known_hosts=str(bare_host.known_hosts), client_keys=[key],
                config=None, agent_path=None, keepalive_interval=5,
            )


async def test_client_signal_ends_the_command_and_its_children(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    proc = await conn.create_process("sleep 300 & echo $!; wait", stdin=asyncssh.DEVNULL)
    child = int(await asyncio.wait_for(proc.stdout.readline(), DEADLINE_S))
    assert sandbox.is_running(child)
    proc.send_signal("TERM")
    result = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    assert result.exit_signal is not None and result.exit_signal[0] == "TERM"
    await until(lambda: not sandbox.is_running(child),
                what="the background child to get the signal too and end")


async def test_sftp_upload_agrees_with_sha256sum(
    bare_host: RehearsalHost, ssh_connect: SSHConnect, tmp_path: Path
) -> None:
    local = tmp_path / "payload.bin"
    local.write_bytes(os.urandom(300_000))
    remote = bare_host.upload_dir / "payload.bin"
    conn = await ssh_connect(bare_host)
    async with conn.start_sftp_client() as sftp:
        await sftp.makedirs(str(bare_host.upload_dir), exist_ok=True)
        await sftp.put(str(local), str(remote))
        assert await sftp.realpath(".") == str(bare_host.home)
    result = await conn.run(f"sha256sum '{remote}'", check=True)
    assert result.stdout.split()[0] == hashlib.sha256(local.read_bytes()).hexdigest()


async def test_sftp_refuses_paths_outside_the_sandbox(
    bare_host: RehearsalHost, ssh_connect: SSHConnect, tmp_path: Path
) -> None:
    local = tmp_path / "x.txt"
    local.write_text("x")
    outside = tmp_path / "outside.txt"
    (bare_host.home / "escape").symlink_to(tmp_path)
    conn = await ssh_connect(bare_host)
    async with conn.start_sftp_client() as sftp:
        for target in (str(outside), "../../../outside.txt", "escape/outside.txt"):
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await sftp.put(str(local), target)
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.listdir("/etc")
    assert not outside.exists()


async def test_interactive_shell_is_refused_with_a_reason(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    proc = await conn.create_process(stdin=asyncssh.DEVNULL)
    result = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    assert result.exit_status == 1
    assert "commands only" in str(result.stderr)


def test_live_install_is_a_filled_in_6_2_install(tmp_path: Path) -> None:
    secrets_ = sandbox.LiveSecrets.generate()
    root = tmp_path / "sb"
    sandbox.create_sandbox(
        root, DEFAULT, user="ops", api_port=5080, old_db=("127.0.0.2", 3306), secrets_=secrets_
    )
    home = sandbox.red5_home(root)
    props = javaproperties.loads((home / WEBINF / "red5-web.properties").read_text())
    assert props["config.dbHost"] == "127.0.0.2" and props["config.dbPort"] == "3306"
    assert props["config.dbPass"] == secrets_.db_password
    assert props["rest.administratorToken"] == secrets_.api_token
    assert props["aws.accessSecret"] == secrets_.aws_access_secret
    assert props["aws.defaultzone"] == "us-east-1a"
    assert props["instancecontroller.recycleDeadNodes"] == "true"
    assert not any("{" in value for value in props.values()), "no placeholder may remain"
    context = (home / WEBINF / "applicationContext.xml").read_text()
    assert sandbox.active_controllers(context) == [sandbox.AWS]
    assert "/api/3.1/*" in (home / WEBINF / "web.xml").read_text()
    # Installed by the page, not by Red5's 10.9-11.x installer: no CorsFilter.
    assert "CorsFilter" not in (home / WEBINF / "web.xml").read_text()
    for rel in ("LICENSE.KEY", "log",
                "lib/red5pro-6.2.0.406-RELEASE.jar", "conf/red5.ini", "red5.service",
                f"{WEBINF}/lib/aws-cloud-controller.jar",
                f"{WEBINF}/lib/streammanager-commons-6.2.0.jar", f"{WEBINF}/sql/cluster.sql"):
        assert (home / rel).exists(), rel
    # The root marker is a symlink to its own name (FACTS-scenarios §0: mode
    # 120000 in AS), which anything that follows it meets as a loop.
    marker = home / "red5pro-server-6.2.0.b406-release"
    assert marker.is_symlink() and os.readlink(marker) == marker.name
    # A stream manager is installed without the node-side autoscale pieces,
    # and without the WebRTC plugin, as Red5's stream manager install pages
    # have it deleted (facts audit 61, M1).
    assert not (home / "conf/autoscale.xml").exists()
    assert not list((home / "plugins").glob("red5pro-autoscale-plugin-*"))
    assert not list((home / "plugins").glob("red5pro-webrtc-plugin-*"))
    assert "http.port=5080" in (home / "conf/red5.properties").read_text()
    # 6.2.0 runs on Java 8 under jsvc, from a unit the install page had written.
    unit = sandbox.unit_file(root).read_text()
    assert "jsvc" in unit and f"JAVA_HOME={root}/usr/lib/jvm/java-8-openjdk-amd64" in unit
    assert not (home / "red5pro.service").exists()
    assert os.access(root / ".rehearsal/bin/systemctl", os.X_OK)
    assert (root / "home/ops").is_dir() and (root / "tmp").is_dir()


def test_the_live_install_has_an_ssl_edit_the_new_tree_lacks(tmp_path: Path) -> None:
    """Review 60b, H1: the live and new conf/red5.properties were the same,
    so no rehearsal ever showed carry-over's word on the edits Red5's upgrade
    page asks to be made again by hand. The live one now has the SSL page's
    edit (https.port 443, the keystore and truststore it names); the zip's is
    as shipped, with the page's original values."""
    root = tmp_path / "sb"
    sandbox.create_sandbox(
        root, DEFAULT, user="ops", api_port=5080, old_db=("127.0.0.2", 3306),
        secrets_=sandbox.LiveSecrets.generate(),
    )
    live = javaproperties.loads(
        (sandbox.red5_home(root) / "conf/red5.properties").read_text())
    with zipfile.ZipFile(sandbox.operator_dir(root) / DEFAULT.new.zip_name) as archive:
        shipped = javaproperties.loads(archive.read(f"{TOP}/conf/red5.properties").decode())
    assert shipped["https.port"] == "5443" and live["https.port"] == "443"
    assert shipped["rtmps.keystorefile"] == "conf/keystore.jks"
    assert live["rtmps.keystorefile"].startswith("/etc/letsencrypt/live/")
    # The fake service binds http.host:http.port, which the edit leaves alone.
    for key in ("http.host", "http.port", "rtmp.port"):
        assert live[key] == shipped[key], key


def test_a_10_9_live_install_has_the_installers_cors_filter_the_new_tree_lacks(
        tmp_path: Path) -> None:
    """Facts audit 61, M2: Red5's 10.9.2-11.x installer, which set up the live
    10.9 stream manager (data README), adds a CorsFilter to the streammanager
    webapp's web.xml; the release's own web.xml has none, so no rehearsal
    showed what the cutover loses there."""
    root = tmp_path / "sb"
    ten_nine = scenarios.scenario("10.9-to-11.1")
    sandbox.create_sandbox(
        root, ten_nine, user="ops", api_port=5080, old_db=("127.0.0.2", 3306),
        secrets_=sandbox.LiveSecrets.generate(),
    )
    live = (sandbox.red5_home(root) / WEBINF / "web.xml").read_text()
    with zipfile.ZipFile(sandbox.operator_dir(root) / ten_nine.zip_name) as archive:
        shipped = archive.read(f"{ten_nine.new.top}/{WEBINF}/web.xml").decode()
    filter_class = "<filter-class>org.apache.catalina.filters.CorsFilter</filter-class>"
    assert filter_class in live and "CorsFilter" not in shipped
    # Inserted before </web-app>, as the installer's sed does; the rest as shipped.
    assert live.rstrip().endswith("</filter-mapping>\n</web-app>")
    # Both API 4.0: the same file as shipped, but for the filter.
    assert live.replace(sandbox.data_text("web.xml.cors"), "") == shipped


def test_5_1_keeps_its_version_in_lib_only(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    sandbox.create_sandbox(root, scenarios.scenario("5.1-to-6.2"), user="ops", api_port=5080,
                           old_db=("127.0.0.2", 3306), secrets_=sandbox.LiveSecrets.generate())
    home = sandbox.red5_home(root)
    assert not list(home.glob("red5pro-server-*"))
    assert (home / "lib/red5pro-5.1.1.236-RELEASE.jar").is_file()
    # Its plugins are AM's: no restreamer (6.2.0 has one, AS).
    assert not list((home / "plugins").glob("red5pro-restreamer-plugin-*"))
    assert "/api/3.0/*" in (home / WEBINF / "web.xml").read_text()


def _bean_keys(context: str) -> dict[str, list[str]]:
    """Each controller bean's class (simple name) -> the keys of its ${...},
    active or commented out."""
    import re

    beans = re.findall(r'<bean id="apiBridge"\s+class="[\w.]*\.(\w+)".*?</bean>', context,
                       re.DOTALL)
    bodies = re.split(r'<bean id="apiBridge"\s+class="[\w.]*\.\w+"', context)[1:]
    return {name: re.findall(r"\$\{([^}:]+)\}", body.split("</bean>", 1)[0])
            for name, body in zip(beans, bodies, strict=True)}


def test_each_release_wires_its_controllers_as_its_own_file_does(tmp_path: Path) -> None:
    """Facts audit 57b H1: one wiring, 6.2.0's, served every release, so the
    5.1 live install's AWS bean named aws.forUsGovRegions, which 5.1.1's
    template lacks. 5.1.1's applicationContext.xml (AM, f652853:
    webapps/streammanager/WEB-INF/applicationContext.xml) ends its AWS bean
    at faultZoneBlockMilliseconds, has no compute.network and no Terraform
    bean, and wires the Simulated bean's recycleDeadNodes to
    instancecontroller.recycleDeadNodes; 6.2.0's is the shared file's."""
    old = sandbox.old_install_files(scenarios.R5_1, tmp_path, sandbox.LiveSecrets.generate(),
                                    api_port=5080, old_db=("127.0.0.2", 3306))
    live = _bean_keys(str(old[f"{WEBINF}/applicationContext.xml"][0]))
    aws_5_1 = ["aws.accessKey", "aws.accessSecret", "aws.ec2KeyPairName", "aws.ec2SecurityGroup",
               "aws.defaultzone", "aws.defaultVPC", "aws.vpcName",
               "aws.operationTimeoutMilliseconds", "aws.faultZoneBlockMilliseconds"]
    assert live["AWSInstanceController"] == aws_5_1
    assert "compute.network" not in live["ComputeInstanceController"]
    assert "TerraformCloudController" not in live
    assert live["GenericSimulatedCloudController"][-1] == "instancecontroller.recycleDeadNodes"
    # What the live 5.1 stream manager resolves: every key of its active bean is set.
    props = javaproperties.loads(str(old[f"{WEBINF}/red5-web.properties"][0]))
    assert [key for key in aws_5_1 if key not in props] == []

    shipped = sandbox.release_files(scenarios.R6_2, tmp_path, api_port=5080)
    new = _bean_keys(str(shipped[f"{WEBINF}/applicationContext.xml"][0]))
    assert new["AWSInstanceController"] == [*aws_5_1, "aws.forUsGovRegions"]
    assert new["ComputeInstanceController"][-1] == "compute.network"
    assert new["GenericSimulatedCloudController"][-1] == "managed.recycleDeadNodes"
    assert new["TerraformCloudController"] == [
        "terra.operationTimeoutMilliseconds", "terra.regionNames", "terra.regionNames",
        "terra.instanceName", "terra.token", "terra.sshkey", "terra.parallelism"]
    assert len(new["AzureComputeController"]) == 15


def test_operator_downloads_have_the_real_layout(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    sandbox.create_sandbox(
        root, DEFAULT, user="ops", api_port=5080, old_db=("127.0.0.2", 3306),
        secrets_=sandbox.LiveSecrets.generate(),
    )
    dist = sandbox.operator_dir(root) / DEFAULT.new.zip_name
    assert dist.name == "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(dist) as archive:
        names = archive.namelist()
        assert {name.split("/")[0] for name in names} == {TOP}
        # The WebRTC plugin ships as 5.1.1's and 6.2.0's do (AM, AS plugins/;
        # facts audit 61, M1).
        for rel in ("conf/autoscale.xml", "plugins/red5pro-autoscale-plugin-11.1.0.835-RELEASE.jar",
                    "plugins/red5pro-webrtc-plugin-11.1.0.835-RELEASE.jar",
                    "plugins/red5pro-restreamer-plugin-11.1.0.835-RELEASE.jar",
                    "red5pro.service", "commons-daemon-1.2.4.jar",
                    f"{WEBINF}/red5-web.properties", f"{WEBINF}/applicationContext.xml",
                    f"{WEBINF}/web.xml", f"{WEBINF}/sql/cluster.sql", "log/", TOP):
            assert f"{TOP}/{rel}" in names, rel
        assert f"{TOP}/LICENSE.KEY" not in names
        # The marker travels as a symlink to its own name, as unzip restores one.
        link = archive.getinfo(f"{TOP}/{TOP}")
        assert stat.S_ISLNK(link.external_attr >> 16) and archive.read(link) == TOP.encode()
        assert not any("aws-cloud-controller" in name for name in names)
        template = javaproperties.loads(archive.read(f"{TOP}/{WEBINF}/red5-web.properties")
                                        .decode())
        context = archive.read(f"{TOP}/{WEBINF}/applicationContext.xml").decode()
        assert "/api/4.0/*" in archive.read(f"{TOP}/{WEBINF}/web.xml").decode()
        # The unit it ships is still jsvc's, as FACTS-scenarios §1 infers from
        # Red5's 10.9-11.x installer: it seds -Xms2g -Xmx2g and LimitNOFILE=65536
        # in it and installs the jsvc package; the 9.x status sample's classpath
        # starts with commons-daemon-1.2.4.jar.
        unit = archive.read(f"{TOP}/red5pro.service").decode()
        assert "java-11-openjdk" in unit and "LimitNOFILE=65536" in unit
        assert "ExecStart=/usr/bin/jsvc " in unit and " -Xms2g -Xmx2g " in unit
        assert "-cp ${RED5_HOME}/commons-daemon-1.2.4.jar:" in unit
        # jsvc's output goes to /dev/null, as in Red5's own unit text, where
        # log files are a change for debugging (facts audit 57b, M1); its
        # ExecStart runs over continued lines, as the pages write it.
        assert "\n    -outfile /dev/null -errfile /dev/null \\\n" in unit, unit
        # The 9.x status sample's journal has jsvc's umask NOTICE, which it
        # writes only for a -umask that lets group or other write, and 8 s from
        # Starting to Started, jsvc's -wait (inferred): the JDK 8 page's two
        # (facts audit 59b, M1).
        assert "\n    -wait 60 \\\n    -umask 011 \\\n" in unit, unit
        assert "jsvc-error.log" not in unit and "jsvc-service.log" not in unit, unit
        assert f"{TOP}/red5pro.sh" not in names
    assert template["config.dbHost"] == "{host}"
    assert template["spring.jackson.default-property-inclusion"] == "non_null"
    assert template["default.server.application"] == ""
    assert "instancecontroller.recycleDeadNodes" not in template
    assert "aws.accessKey" not in template, "cloud keys ship commented out"
    assert sandbox.active_controllers(context) == [sandbox.DUMMY]
    jar = sandbox.operator_dir(root) / "aws-cloud-controller-11.0.0.jar"
    with zipfile.ZipFile(jar) as archive:
        assert "Implementation-Version: 11.1.0" in archive.read("META-INF/MANIFEST.MF").decode()


def test_dist_size_pads_the_zip(tmp_path: Path) -> None:
    path = tmp_path / "dist.zip"
    sandbox.build_distribution(path, DEFAULT.new, tmp_path, api_port=5080, dist_size=3_000_000)
    assert 2_900_000 <= path.stat().st_size <= 3_100_000
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    small = tmp_path / "small.zip"
    sandbox.build_distribution(small, DEFAULT.new, tmp_path, api_port=5080)
    assert small.stat().st_size < 1_000_000


async def test_distribution_unzips_on_the_host(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    result = await conn.run(
        f"cd '{bare_host.install_dir}' && unzip -q '{bare_host.distribution}' && ls -d red5pro*"
        f" && test -f {TOP}/red5pro.service && test -d {TOP}/log"
    )
    assert result.exit_status == 0, result.stderr
    assert result.stdout.split() == ["red5pro", TOP]


async def test_shims_sudo_java_and_database_endpoints(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    assert (await conn.run("sudo -n true")).exit_status == 0
    result = await conn.run("sudo -S -p '' -u root -- sh -c 'echo \"$0\" ran'")
    assert result.stdout == "sh ran\n"
    result = await conn.run("java -version")
    assert result.exit_status == 0 and 'openjdk version "11.' in result.stderr
    assert (await conn.run("java -jar x.jar")).exit_status == 1
    for host, port in (bare_host.new_db, bare_host.old_db):
        # Reachable, and a server greets (MariaDB's handshake or the stand-in's
        # line; what they answer is tests/test_rehearsal_databases.py's).
        result = await conn.run(
            f"timeout 5 bash -c 'exec 3<>/dev/tcp/{host}/{port}; head -c 4 <&3 | wc -c'"
        )
        assert result.exit_status == 0, result.stderr
        assert result.stdout.strip() == "4"
    assert (await conn.run("timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.3/1'")).exit_status != 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a plain SSH user is modelled from root")
async def test_a_plain_ssh_user_gets_roots_powers_only_through_sudo(
    tmp_path: Path, ssh_connect: SSHConnect
) -> None:
    """A host whose SSH user is not root: a folder of another owner's, 0700,
    is closed to the user's own commands and open to sudo's, as on a real
    host (a unit in such a folder went unseen by a plain `test -e`). Nothing
    of the way back to root's powers is left once the host stops."""
    host = RehearsalHost(tmp_path / "sandbox", boot_service=False, plain_user=True)
    await host.start()
    try:
        locked = host.sandbox / "locked"
        locked.mkdir(mode=0o700)
        (locked / "unit").write_text("kept\n")
        os.chown(locked, 65534, 65534)
        conn = await ssh_connect(host)
        mine = await conn.run(f"test -e {locked}/unit")
        assert mine.exit_status == 1, "the user cannot see into the folder"
        result = await conn.run(f"cat {locked}/unit")
        assert result.exit_status == 1 and "Permission denied" in result.stderr, result
        result = await conn.run(f"sudo -n sh -c 'test -e {locked}/unit && cat {locked}/unit'")
        assert (result.exit_status, result.stdout) == (0, "kept\n"), result.stderr
        result = await conn.run(f"sudo -n cat {locked}/unit")
        assert (result.exit_status, result.stdout) == (0, "kept\n"), result.stderr
        # Nothing the user runs afterwards keeps root's powers.
        assert (await conn.run(f"test -e {locked}/unit")).exit_status == 1
        conn.close()
    finally:
        await host.stop()
    assert processes_mentioning(host.sandbox) == []
    assert not (host.sandbox / ".rehearsal" / sandbox.ROOT_HELPER).exists()


async def test_systemctl_runs_the_service_like_systemd(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    inactive = await conn.run("systemctl is-active red5pro")
    assert (inactive.stdout, inactive.exit_status) == ("inactive\n", 3)
    assert (await conn.run("sudo systemctl start red5pro")).exit_status == 0
    pid = bare_host.service_pid()
    assert pid is not None
    # Under jsvc, as FACTS §3 shows: two jsvc.exec processes, each with the
    # unit's jsvc arguments (its JVM home, -Dred5.root, EngineLauncher 9999),
    # and `ps aux | grep java` finds both. (The JVM's stand-in names its
    # Python module too: that is the rehearsal's own.)
    ps = await conn.run("ps aux | grep [j]ava")
    lines = [line for line in ps.stdout.splitlines() if str(bare_host.sandbox) in line]
    assert len(lines) == 2, ps.stdout
    assert any(f" {pid} " in line for line in lines)
    java_home = f"{bare_host.sandbox}/usr/lib/jvm/java-8-openjdk-amd64"
    for line in lines:
        shown = line.split(None, 10)[10]
        assert shown.startswith("jsvc.exec "), shown
        assert f"-home {java_home} -cwd {bare_host.red5_home} " in shown, shown
        assert f"-Dred5.root={bare_host.red5_home} " in shown, shown
        assert shown.endswith("org.red5.daemon.EngineLauncher 9999"), shown
    active = await conn.run("systemctl is-active red5pro.service")
    assert (active.stdout, active.exit_status) == ("active\n", 0)
    running = await conn.run("systemctl status red5pro")
    assert running.exit_status == 0 and running.stderr == ""
    assert running.stdout.startswith("● red5pro.service - Red5 Pro\n")
    assert "Active: active (running) since " in running.stdout
    # The main process is jsvc's, as in the docs' sample (FACTS §3: "Main PID:
    # 7748 (jsvc)", DC checking-service-status.md).
    assert f"Main PID: {pid} (jsvc)" in running.stdout, running.stdout
    assert (await conn.run("systemctl start red5pro")).exit_status == 0
    assert bare_host.service_pid() == pid, "starting a running unit changes nothing"

    assert (await conn.run(f"sudo kill -9 {pid}")).exit_status == 0
    # The kill is sent, not done, when kill returns: on a loaded machine the
    # process can still be running for a moment (seen in a full suite run).
    deadline = time.monotonic() + 10
    while (failed := await conn.run("systemctl is-active red5pro")).stdout == "active\n" \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert (failed.stdout, failed.exit_status) == ("failed\n", 3)
    status = await conn.run("systemctl status red5pro")
    # In systemd's words (facts audit 59b, L2: "Result: signal KILL" and
    # "(jsvc) ended" were the rehearsal's).
    assert status.exit_status == 3 and "Active: failed (Result: signal)\n" in status.stdout
    assert f"Main PID: {pid} (code=killed, signal=KILL)" in status.stdout, status.stdout
    zombies = await conn.run(f"ps -o stat= -p {pid} || true")
    assert "Z" not in zombies.stdout, "a killed service is reaped at once"

    assert (await conn.run("systemctl restart red5pro")).exit_status == 0
    assert bare_host.service_pid() not in (None, pid)
    assert (await conn.run("systemctl stop red5pro")).exit_status == 0
    assert bare_host.service_pid() is None
    assert (await conn.run("systemctl is-active red5pro")).stdout == "inactive\n"
    unknown = await conn.run("systemctl start nginx")
    assert unknown.exit_status == 5 and "nginx.service not found" in unknown.stderr
    assert (await conn.run("systemctl frobnicate red5pro")).exit_status == 1
    cat = await conn.run("systemctl cat red5pro")
    assert "ExecStart=/usr/bin/jsvc" in cat.stdout and "java-8-openjdk" in cat.stdout
    assert (await conn.run("systemctl daemon-reload && systemctl enable red5pro")).exit_status == 0


async def test_a_jsvc_unit_whose_exec_start_runs_over_continued_lines_starts(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit 57b (M1, L5): every unit Red5's pages write runs its
    ExecStart over lines ended by a backslash (DC "Linux Install - JDK 8"),
    which systemd joins (systemd.syntax(7)). The systemctl shim read the first
    line alone, so such a unit started a jsvc without its classpath."""
    unit = sandbox.unit_file(bare_host.sandbox)
    home = bare_host.red5_home
    assert "ExecStart=/usr/bin/jsvc -debug \\\n    -home " in unit.read_text()
    conn = await ssh_connect(bare_host)
    result = await conn.run("sudo systemctl start red5pro")
    assert result.exit_status == 0, (result.stderr, await conn.run("systemctl status red5pro"))
    pid = bare_host.service_pid()
    assert pid is not None
    shown = sandbox.proc_cmdline(pid)
    assert f"-cp {home}/commons-daemon-1.1.0.jar:" in shown, shown
    assert "-Xms2g -Xmx2g -Xverify:none " in shown, shown
    assert shown.endswith("-wait 60 -umask 011 -pidfile /var/run/red5pro.pid "
                          "org.red5.daemon.EngineLauncher 9999"), shown
    assert "\\" not in shown, shown
    assert (await conn.run("systemctl stop red5pro")).exit_status == 0


async def test_a_jsvc_unit_with_wait_returns_from_start_once_the_server_serves(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit 59b (M1): jsvc's -wait (the JDK 8 unit's -wait 60) keeps its
    launching process, and so systemd's start job, until the JVM's start()
    has returned, which for Red5 is once Tomcat has started its webapps and
    opened its port (AM log/jsvc-error.log: Starting ProtocolHandler, then
    Daemon started successfully, then the jsvc_up file). The fake returned
    as soon as the PID file was written, before the server served."""
    assert "\n    -wait 60 \\\n" in sandbox.unit_file(bare_host.sandbox).read_text()
    conn = await ssh_connect(bare_host)
    started = await conn.run("sudo systemctl start red5pro")
    assert started.exit_status == 0, started.stderr
    async with httpx.AsyncClient() as http:
        served = await http.get(f"{bare_host.api_base_url}/")
    assert served.status_code == 200
    assert (await conn.run("systemctl stop red5pro")).exit_status == 0


async def test_a_jsvc_unit_with_wait_fails_the_start_when_the_jvm_ends_as_it_starts(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit 59b (M1): under -wait, a JVM that ends before its start()
    has returned makes jsvc's launcher exit with its status, and systemd
    fails the start job: `systemctl start` itself fails. Here the server
    finds no LICENSE.KEY and exits."""
    (bare_host.red5_home / "LICENSE.KEY").unlink()
    conn = await ssh_connect(bare_host)
    result = await conn.run("sudo systemctl start red5pro")
    assert result.exit_status == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("Job for red5pro.service failed because the control "
                                    "process exited with error code."), result.stderr
    assert (await conn.run("systemctl is-active red5pro")).stdout == "failed\n"
    status = await conn.run("systemctl status red5pro")
    # systemd's own words for it (systemctl status, its journal lines).
    assert "Active: failed (Result: exit-code)" in status.stdout, status.stdout
    assert "Control process exited, code=exited, status=1/FAILURE" in status.stdout


async def test_a_jsvc_unit_with_wait_fails_a_boot_longer_than_jsvc_waits(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit 59b (M1): jsvc's wait_child looks ten times, a second and
    then a tenth of -wait apart (Apache Commons Daemon jsvc-unix.c), and then
    gives up: "It takes more than the wait time to start, something must be
    wrong". Its launcher exits 1, systemd fails the start job and stops what
    the unit left running. -wait 10 here: 20 s."""
    unit = sandbox.unit_file(bare_host.sandbox)
    unit.write_text(unit.read_text().replace("-wait 60", "-wait 10"))
    armed.arm(bare_host.sandbox, "slow-start", step="start-service", delay=40)
    conn = await ssh_connect(bare_host)
    began = time.monotonic()
    result = await conn.run("sudo systemctl daemon-reload && sudo systemctl start red5pro")
    took = time.monotonic() - began
    assert result.exit_status == 1 and "Job for red5pro.service failed" in result.stderr, \
        result.stderr
    assert 19 <= took < 30, took
    assert bare_host.service_pid() is None, "systemd stopped the unit's processes"
    assert (await conn.run("systemctl is-active red5pro")).stdout == "failed\n"


async def test_a_unit_without_jsvc_runs_one_java_as_red5_sh_starts_it(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit (stop 50): a unit that starts no jsvc runs one plain ``java``,
    with the arguments red5.sh gives it (FACTS §3, AS ``red5.sh``: -Dred5.root,
    the classpath, Bootstrap 9999) and none the sources do not have (the shim
    added -Dred5.config_root). systemctl status names that process java."""
    unit = sandbox.unit_file(bare_host.sandbox)
    home = bare_host.red5_home
    # The page's ExecStart, continued lines and all, becomes red5pro.sh's.
    text = re.sub(r"(?m)^ExecStart=(?:.*\\\n)*.*$",
                  "ExecStart=/usr/local/red5pro/red5pro.sh start", unit.read_text())
    assert "-Dred5.root" not in text, text
    unit.write_text(text)
    conn = await ssh_connect(bare_host)
    assert (await conn.run("sudo systemctl daemon-reload && sudo systemctl start red5pro")
            ).exit_status == 0
    pid = bare_host.service_pid()
    assert pid is not None
    ps = await conn.run("ps aux | grep [j]ava")
    lines = [line for line in ps.stdout.splitlines() if str(bare_host.sandbox) in line]
    assert len(lines) == 1, ps.stdout
    shown = lines[0].split(None, 10)[10]
    assert shown.startswith("java "), shown
    assert shown.endswith(f"-Dred5.root={home} -cp {home}/red5-service.jar:{home}/conf "
                          "org.red5.server.Bootstrap 9999"), shown
    assert "config_root" not in shown, shown
    status = await conn.run("systemctl status red5pro")
    assert f"Main PID: {pid} (java)" in status.stdout, status.stdout
    assert (await conn.run("systemctl stop red5pro")).exit_status == 0


async def test_systemctl_start_counts_a_service_caught_mid_exec_as_started(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Operator trial: under load, start-service failed ("Job for red5pro.service
    failed") while status showed it running. The supervisor writes the PID as
    its child execs the service, and for that instant the child's command line
    is empty, so the check that it names the sandbox failed. systemd counts a
    forking unit started once its PID file names a live process. Here the
    child's command line names no sandbox for a whole second."""
    supervisor = bare_host.sandbox / ".rehearsal/libexec/red5pro-run"
    supervisor.write_text(
        "#!/bin/bash\n"
        "( exec -a early bash -c 'sleep 1; exec -a java \"$RUNBOOK_JVM\" "
        "-m runbook.rehearsal.service -Dred5.root=\"$RED5_HOME\" "
        "-cp \"$RED5_HOME/red5-service.jar:$RED5_HOME/conf\" org.red5.server.Bootstrap 9999' ) &\n"
        "pid=$!\n"
        "echo \"$pid\" > \"$RUNBOOK_RUN_DIR/red5pro.pid\"\n"
        "wait \"$pid\"\n")
    conn = await ssh_connect(bare_host)
    started = await conn.run("sudo systemctl start red5pro")
    assert started.exit_status == 0, started.stderr
    await until(lambda: bare_host.service_pid() is not None, what="the service")
    active = await conn.run("systemctl is-active red5pro")
    assert active.stdout == "active\n"
    assert (await conn.run("systemctl stop red5pro")).exit_status == 0


async def test_systemctl_fails_like_systemd_without_unit_or_install(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    home, unit = bare_host.red5_home, sandbox.unit_file(bare_host.sandbox)
    result = await conn.run(f"mv '{home}' '{home}.away' && systemctl start red5pro")
    assert result.exit_status == 1 and "Job for red5pro.service failed" in result.stderr
    assert (await conn.run("systemctl is-active red5pro")).stdout == "failed\n"
    result = await conn.run(f"mv '{home}.away' '{home}' && rm '{unit}' && systemctl start red5pro")
    assert result.exit_status == 5 and "not found" in result.stderr
    assert bare_host.service_pid() is None
    # systemctl(1): status exits 4 for a unit that does not exist.
    status = await conn.run("systemctl status red5pro")
    assert (status.exit_status, status.stdout, status.stderr) == (
        4, "", "Unit red5pro.service could not be found.\n")


async def test_jsvc_without_its_daemon_jar_fails_to_start_as_jsvc_does(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit: a unit kept from 5.1.1 names commons-daemon-1.0.15.jar, which
    6.2.0 does not ship (it has 1.1.0), and the rehearsal started it anyway.
    jsvc cannot find its DaemonLoader then (Apache Commons Daemon's java.c)."""
    conn = await ssh_connect(bare_host)
    home = bare_host.red5_home
    assert (home / "commons-daemon-1.1.0.jar").is_file(), "6.2.0 ships it at its root"
    (home / "commons-daemon-1.1.0.jar").unlink()
    result = await conn.run("sudo systemctl start red5pro")
    assert result.exit_status == 1 and "Job for red5pro.service failed" in result.stderr
    assert bare_host.service_pid() is None
    said = (home / "log/jsvc-error.log").read_text()
    assert "Cannot find daemon loader org/apache/commons/daemon/support/DaemonLoader" in said
    assert "Service exit with a return value of 1" in said
    # The hint names the file this unit's -errfile points to, not one every
    # host has (facts audit, stop 50: the public unit sends it to /dev/null).
    status = await conn.run("systemctl status red5pro")
    assert ("see where the unit's -errfile and -outfile point: "
            f"{home}/log/jsvc-error.log and {home}/log/jsvc-service.log") in status.stdout, (
        status.stdout)


async def test_a_jvm_too_old_for_the_release_fails_in_the_rehearsals_own_words(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit 56a (L5): a Java 8 unit starting a release that needs Java
    11 failed with the Java 11+ launcher's "Error: LinkageError occurred ...",
    which neither a Java 8 JVM nor jsvc writes, and no source gives what they
    do write. The start still fails, in words marked as the rehearsal's."""
    home = bare_host.red5_home
    markers = list(home.glob("red5pro-server-*-release"))
    assert markers, "6.2.0 has its root marker"
    for marker in markers:
        marker.unlink()
    (home / "red5pro-server-11.1.0.b835-release").write_text("")
    conn = await ssh_connect(bare_host)
    result = await conn.run("sudo systemctl start red5pro")
    assert result.exit_status == 1 and "Job for red5pro.service failed" in result.stderr
    said = (home / "log/jsvc-service.log").read_text()
    assert "LinkageError" not in said and "UnsupportedClassVersionError" not in said, said
    assert "rehearsal" in said and "needs Java 11" in said and "Java 8" in said, said


async def test_a_jsvc_unit_sending_its_output_to_dev_null_keeps_no_jsvc_log(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit (stop 50): the public JDK 8 unit the sources cite
    (okadath/config_files_red5@5ce692d:red5pro.service) has `-outfile /dev/null
    -errfile /dev/null`; FACTS §3: the jsvc logs "exist only if the unit's
    -outfile/-errfile are pointed there". A failed start then says so, and
    points at no log/jsvc-error.log."""
    unit = sandbox.unit_file(bare_host.sandbox)
    home = bare_host.red5_home
    text = unit.read_text()
    for name in ("jsvc-error.log", "jsvc-service.log"):
        assert f"${{RED5_HOME}}/log/{name}" in text
        text = text.replace(f"${{RED5_HOME}}/log/{name}", "/dev/null")
    unit.write_text(text)
    (home / "commons-daemon-1.1.0.jar").unlink()
    conn = await ssh_connect(bare_host)
    result = await conn.run("sudo systemctl daemon-reload && sudo systemctl start red5pro")
    assert result.exit_status == 1 and "Job for red5pro.service failed" in result.stderr
    assert not (home / "log/jsvc-error.log").exists()
    status = await conn.run("systemctl status red5pro")
    assert "jsvc-error.log" not in status.stdout, status.stdout
    assert ("the unit's -errfile and -outfile are /dev/null: jsvc kept no output"
            in status.stdout), status.stdout


async def test_systemctl_status_reads_a_description_on_the_unit_files_last_line(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    unit = sandbox.unit_file(bare_host.sandbox)
    text = unit.read_text()
    kept = [line for line in text.splitlines() if not line.startswith("Description=")]
    unit.write_text("\n".join([*kept, "Description=Red5 Pro, last"]))  # no newline at the end
    conn = await ssh_connect(bare_host)
    status = await conn.run("sudo systemctl daemon-reload && systemctl status red5pro")
    assert status.stdout.startswith("● red5pro.service - Red5 Pro, last\n"), status.stdout


async def test_changed_unit_file_warns_until_daemon_reload(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    conn = await ssh_connect(bare_host)
    unit = sandbox.unit_file(bare_host.sandbox)
    await conn.run(f"cd '{bare_host.install_dir}' && unzip -q '{bare_host.distribution}'"
                   f" && sudo cp {TOP}/red5pro.service '{unit}'", check=True)
    warned = await conn.run("systemctl status red5pro")
    assert "Run 'systemctl daemon-reload'" in warned.stderr
    show = "systemctl show -p NeedDaemonReload --value red5pro"
    assert (await conn.run(show, check=True)).stdout == "yes\n"
    assert (await conn.run("systemctl show --property=NeedDaemonReload red5pro",
                           check=True)).stdout == "NeedDaemonReload=yes\n"
    quiet = await conn.run("sudo systemctl daemon-reload && systemctl status red5pro")
    assert quiet.stderr == "" and "inactive (dead)" in quiet.stdout
    assert (await conn.run(show, check=True)).stdout == "no\n"
    assert "java-11-openjdk" in (await conn.run("systemctl cat red5pro")).stdout


async def test_booted_host_serves_the_live_api(
    rehearsal_host: RehearsalHost, host_ssh: asyncssh.SSHClientConnection
) -> None:
    assert rehearsal_host.boot_error is None
    assert rehearsal_host.service_pid() is not None
    url = (f"{rehearsal_host.api_base_url}/streammanager/api/3.1/admin/nodegroup"
           f"?accessToken={rehearsal_host.api_token}")
    result = await host_ssh.run(f"curl -sf '{url}'")
    groups = json.loads(result.stdout)
    assert len(groups) == len(cloud.SEED_GROUPS)
    assert {g["state"] for g in groups} == {"active"}
    values = rehearsal_host.config_values()
    assert values["ssh_port"] == str(rehearsal_host.ssh_port)
    assert values["new_db_host"] == rehearsal_host.new_db[0]
    assert values["new_db_port"] == str(rehearsal_host.new_db[1])
    assert cloud.list_nodegroups(rehearsal_host.sandbox, *rehearsal_host.new_db) == []


async def test_stop_leaves_no_process_and_removes_a_temporary_sandbox(
    ssh_connect: SSHConnect,
) -> None:
    host = RehearsalHost()
    await host.start()
    root = host.sandbox
    try:
        assert host.service_pid() is not None
        conn = await ssh_connect(host)
        await conn.run("nohup sleep 300 >/dev/null 2>&1 &", check=True)
        await conn.create_process("sleep 301", stdin=asyncssh.DEVNULL)
        await until(lambda: {"sleep 300", "sleep 301"} <= running_commands(root),
                    what="both sleeps to run on the host")
        host.drop_connections()
        await asyncio.wait_for(conn.wait_closed(), DEADLINE_S)
        # The second command now runs on, orphaned, beside the first and the service.
        assert {"sleep 300", "sleep 301"} <= running_commands(root)
        assert len(owned_processes(root)) >= 3
    finally:
        await host.stop()
    assert processes_mentioning(root) == []
    assert owned_processes(root) == []
    assert not root.exists()


async def killed_outright(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """A rehearsal host in its own process on `root`, killed outright once up
    (as kill -9 or a crash would): its service runs on. The values it printed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "runbook.rehearsal.host", "--sandbox", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    values: dict[str, str] = json.loads(line)
    return values


async def test_reused_sandbox_keeps_its_identity_and_adopts_the_service(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    first = await killed_outright(root)
    state = json.loads((root / ".rehearsal/state.json").read_text())
    orphan = int((root / "run/red5pro.pid").read_text())
    assert sandbox.is_running(orphan), "the killed rehearsal's service runs on"
    key = (root / ".rehearsal/id_ed25519").read_bytes()

    async with RehearsalHost(root) as host:
        assert host.adopted_service == orphan and host.service_pid() == orphan
        assert not host.created
        assert str(host.ssh_port) == first["ssh_port"]
        assert host.config_values() == {key: first[key] for key in host.config_values()}
        assert host.api_token == state["api_token"]
        assert host.client_key.read_bytes() == key
        async with asyncssh.connect(
            "127.0.0.1", host.ssh_port, username=host.user, known_hosts=str(host.known_hosts),
            client_keys=[str(host.client_key)], config=None, agent_path=None,
            keepalive_interval=5,
        ) as conn:
            assert (await conn.run("systemctl is-active red5pro")).stdout == "active\n"
    assert not sandbox.is_running(orphan)
    assert processes_mentioning(root) == []
    assert root.is_dir(), "a sandbox given by the caller is kept"


async def test_a_service_adopted_at_another_pace_leaves_the_pace_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: the journal took this process's pace, but an adopted service
    tears the deleted nodegroups down at the pace it was started with, inside
    the downtime. A cutover timed at two paces stands for no other run."""
    root = tmp_path / "sandbox"
    await killed_outright(root, env={**os.environ, cloud.PACE_ENV: "2"})
    monkeypatch.delenv(cloud.PACE_ENV, raising=False)
    async with RehearsalHost(root) as host:
        assert host.adopted_service is not None
        assert host.pace is None
    monkeypatch.setenv(cloud.PACE_ENV, "2")
    async with RehearsalHost(root) as host:  # its service stopped: a fresh boot
        assert host.adopted_service is None and host.pace == 2.0
    assert processes_mentioning(root) == []


@pytest.mark.parametrize("how", ["systemctl stop red5pro", "sudo kill -9 $(cat run/red5pro.pid)"])
async def test_a_service_down_when_a_rehearsal_ended_stays_down_in_the_next(
        tmp_path: Path, ssh_connect: SSHConnect, how: str) -> None:
    """Operator trial (stop 23, item 6): the next rehearsal on a sandbox
    booted the host afresh and started the enabled unit, so a service the
    cutover had left down (killed, or failed to start) came back by itself
    and start-service found itself "already done". A real host does not
    reboot because runbook was restarted: its service stays down."""
    root = tmp_path / "sandbox"
    async with RehearsalHost(root) as host:
        cutover_under_way(root, host)
        conn = await ssh_connect(host)
        await conn.run(f"cd {root} && {how}", check=True)
        await until(lambda: host.service_pid() is None, what="the service to end")
        said = (await conn.run("systemctl is-active red5pro")).stdout
    async with RehearsalHost(root) as host:
        assert host.service_pid() is None and host.adopted_service is None
        assert host.kept_down
        conn = await ssh_connect(host)
        assert (await conn.run("systemctl is-active red5pro")).stdout == said
        # Started again by the operator, it is up in the rehearsal after.
        assert (await conn.run("sudo systemctl start red5pro")).exit_status == 0
    async with RehearsalHost(root) as host:
        assert host.service_pid() is not None and not host.kept_down
    assert processes_mentioning(root) == []


def cutover_under_way(root: Path, host: RehearsalHost) -> None:
    """As runbook records it in the sandbox's own state dir once a cutover begins."""
    HostState(root / ".operator", "127.0.0.1", host.ssh_port).begin_cutover(root / "run.jsonl")


async def test_a_service_that_died_before_the_cutover_is_up_in_the_next_rehearsal(
        tmp_path: Path, ssh_connect: SSHConnect) -> None:
    """Operator trial: the live service killed during prepare (a laptop that
    slept, processes killed) stayed down in every later rehearsal, whose
    preflight then failed for ever: the fake host runs only while a
    rehearsal does, so nobody could start it. Before the cutover nothing of
    the procedure is down; the host comes up with its live stream manager."""
    root = tmp_path / "sandbox"
    async with RehearsalHost(root) as host:
        conn = await ssh_connect(host)
        await conn.run("sudo systemctl stop red5pro", check=True)
    async with RehearsalHost(root) as host:
        assert host.service_pid() is not None and not host.kept_down
    assert processes_mentioning(root) == []


async def test_a_sandbox_from_before_boots_its_service_as_it_did(tmp_path: Path) -> None:
    """Review: a sandbox made by an earlier runbook has no mark of a service
    its last rehearsal stopped on the way out; it is booted as before, not
    said to have been down."""
    root = tmp_path / "sandbox"
    async with RehearsalHost(root):
        pass
    (root / "run" / "red5pro.stopped-at-teardown").unlink()
    state = json.loads((root / ".rehearsal/state.json").read_text())
    state.pop("keeps_the_service_state", None)
    (root / ".rehearsal/state.json").write_text(json.dumps(state))
    async with RehearsalHost(root) as host:
        assert host.service_pid() is not None and not host.kept_down
    assert processes_mentioning(root) == []


async def test_an_adopted_service_forgets_the_last_teardowns_mark(
        tmp_path: Path, ssh_connect: SSHConnect) -> None:
    """Review: a mark left beside a service that ran on (its rehearsal killed
    as it ended, after marking) outlived the rehearsal that adopted the
    service, and a service that rehearsal left down was booted by the next."""
    root = tmp_path / "sandbox"
    await killed_outright(root)
    (root / "run" / "red5pro.stopped-at-teardown").touch()  # marked, then killed
    async with RehearsalHost(root) as host:
        assert host.adopted_service is not None
        cutover_under_way(root, host)
        conn = await ssh_connect(host)
        await conn.run("sudo systemctl stop red5pro", check=True)
    async with RehearsalHost(root) as host:
        assert host.kept_down and host.service_pid() is None
    assert processes_mentioning(root) == []


def test_sandbox_helpers_reject_a_template_missing_keys() -> None:
    with pytest.raises(ValueError, match=r"no\.such\.key"):
        sandbox.fill_properties("a=1\n", {"no.such.key": "x"})
    filled = sandbox.fill_properties("#a.b={x}\nc=2\n", {"a.b": "v:1"}, {"d": ("c", "3")})
    assert javaproperties.load(io.StringIO(filled)) == {"a.b": "v:1", "c": "2", "d": "3"}


def test_a_page_written_unit_is_the_jdk_8_pages_whole_unit(tmp_path: Path) -> None:
    """Facts audit 57b (L5): the 5.1 and 6.2 installs' unit kept about ten of the
    JDK 8 page's arguments on one line, where the page (DC "Linux Install - JDK
    8", "Defining Red5 Pro as a Service") writes ExecStart over 18 continued
    lines. The rehearsal keeps one change, said in its data README: jsvc's
    output goes to the log files the page's NOTE gives for debugging, so a
    rehearsed failed start leaves jsvc's lines to read."""
    for release in (scenarios.R5_1, scenarios.R6_2):
        unit = sandbox.unit_text(release, tmp_path)
        start = unit[unit.index("ExecStart="):unit.index("\n\nExecStop=") + 1]
        assert start.count(" \\\n") == 17, start
        for line in ("ExecStart=/usr/bin/jsvc -debug \\\n",
                     "\n    -Djava.library.path=${RED5_HOME}/lib/amd64-Linux-gpp/jni \\\n",
                     "\n    -Dcatalina.home=${RED5_HOME} -Dcatalina.useNaming=true \\\n",
                     "\n    -Xms2g -Xmx2g -Xverify:none \\\n",
                     "\n    -XX:CMSInitiatingOccupancyFraction=60 \\\n",
                     "\n    -wait 60 \\\n    -umask 011 \\\n",
                     "\n    -pidfile ${PID} org.red5.daemon.EngineLauncher 9999\n"):
            assert line in start, (line, start)
        # The page's NOTE's debugging line, in place of its /dev/null one.
        assert ("\n    -outfile ${RED5_HOME}/log/jsvc-service.log "
                "-errfile ${RED5_HOME}/log/jsvc-error.log \\\n") in start, start
        assert "/dev/null" not in start, start
        assert f"Environment=JAVA_HOME={tmp_path}/usr/lib/jvm/java-8-openjdk-amd64\n" in unit


def test_a_5_1_installs_unit_names_the_commons_daemon_of_its_time(tmp_path: Path) -> None:
    """The JDK 8 install page's unit named commons-daemon 1.0.15 before 5.6.0
    (FACTS, section 3); the 5.1.1 rehearsal's unit said 1.1.0."""
    from runbook.rehearsal import scenarios

    old = sandbox.unit_text(scenarios.R5_1, tmp_path)
    assert "commons-daemon-1.0.15.jar" in old and "1.1.0.jar" not in old
    assert "commons-daemon-1.1.0.jar" in sandbox.unit_text(scenarios.R6_2, tmp_path)
    # Each release ships the jar its era's unit names (AM and AS, FACTS-scenarios).
    assert "commons-daemon-1.0.15.jar" in sandbox.release_files(scenarios.R5_1, tmp_path,
                                                                api_port=5080)
    assert "commons-daemon-1.1.0.jar" in sandbox.release_files(scenarios.R6_2, tmp_path,
                                                               api_port=5080)



def _ephemeral_ports() -> range:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return range(int(low), int(high) + 1)


@pytest.mark.skipif(not Path("/proc/sys/net/ipv4/ip_local_port_range").exists(),
                    reason="the kernel's ephemeral range is read from /proc (Linux)")
async def test_listeners_take_ports_no_outgoing_connection_can_hold(
    bare_host: RehearsalHost,
) -> None:
    # The service listens again on its port after the cutover's kill: a port in
    # the ephemeral range can meanwhile be the local end of any SSH or database
    # connection on the machine, and the start then fails to listen.
    ephemeral = _ephemeral_ports()
    api_port = int(bare_host.api_base_url.rsplit(":", 1)[1])
    assert api_port not in ephemeral
    assert bare_host.old_db[1] not in ephemeral
    assert bare_host.new_db[1] not in ephemeral


async def test_systemctl_show_gives_the_start_timeout_in_effect_as_systemd_writes_it(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Review 61b, F8: start-service reads the start timeout in effect with
    `systemctl show -p TimeoutStartUSec red5pro` (drop-ins and all), which
    the fake systemctl answers as systemd does: `TimeoutStartUSec=1min 30s`
    for the default, a drop-in's value over the unit's."""
    conn = await ssh_connect(bare_host)
    unit = sandbox.unit_file(bare_host.sandbox)
    show = "systemctl show -p TimeoutStartUSec red5pro"
    assert (await conn.run(show, check=True)).stdout == "TimeoutStartUSec=1min 30s\n"
    unit.write_text(unit.read_text().replace("[Service]\n", "[Service]\nTimeoutSec=2min\n"))
    await conn.run("sudo systemctl daemon-reload", check=True)  # the unit loaded, as systemd's
    assert (await conn.run(show, check=True)).stdout == "TimeoutStartUSec=2min\n"
    drop_in = unit.parent / "red5pro.service.d"
    drop_in.mkdir()
    (drop_in / "timeout.conf").write_text("[Service]\nTimeoutStartSec=15\n")
    assert (await conn.run(show + " --value", check=True)).stdout == "15s\n"
    (drop_in / "timeout.conf").write_text("[Service]\nTimeoutStartSec=infinity\n")
    assert (await conn.run(show, check=True)).stdout == "TimeoutStartUSec=infinity\n"


async def test_systemctl_answers_the_units_control_group_the_way_systemd_does(
    bare_host: RehearsalHost, ssh_connect: SSHConnect
) -> None:
    """Facts audit 61, F12 follow-up: stop-service asks systemd for the unit's
    control group (`systemctl show -p ControlGroup red5pro`) and reads the
    processes in it from the cgroup tree. systemd answers a service's path
    below system.slice while the unit runs and the empty string for a unit
    with no control group (its dbus-unit.c); the rehearsal's host keeps a
    stand-in of the tree in its sandbox (data README), whose cgroup.procs
    lists the JVM and jsvc's controlling process while they run."""
    conn = await ssh_connect(bare_host)
    asked = "systemctl show -p ControlGroup red5pro"
    assert (await conn.run(asked)).stdout == "ControlGroup=\n"
    assert (await conn.run("sudo systemctl start red5pro")).exit_status == 0
    pid = bare_host.service_pid()
    assert pid is not None
    shown = await conn.run(asked)
    assert (shown.stdout, shown.exit_status) == ("ControlGroup=/system.slice/red5pro.service\n", 0)
    value = await conn.run("systemctl show -p ControlGroup --value red5pro.service")
    assert value.stdout == "/system.slice/red5pro.service\n"
    procs = sandbox.cgroup_root(bare_host.sandbox) / "system.slice/red5pro.service/cgroup.procs"
    listed = [int(line) for line in procs.read_text().split()]
    jsvc = [p for p in owned_processes(bare_host.sandbox)
            if sandbox.proc_cmdline(p).startswith("jsvc.exec ")]
    assert pid in listed and sorted(listed) == sorted(jsvc), (listed, jsvc)
    assert (await conn.run("systemctl stop red5pro")).exit_status == 0
    assert (await conn.run(asked)).stdout == "ControlGroup=\n"
    await until(lambda: procs.read_text() == "", what="the stopped unit's group to empty")
    other = await conn.run("systemctl show -p ControlGroup nginx")
    assert other.stdout == "ControlGroup=\n"
