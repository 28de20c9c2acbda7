"""Each rehearsal scenario upgrades a real Red5 Pro release to another, end to end:
the new release live on its own Java and unit, its schema in the new database,
the fleet rebuilt there with the new node image, the old install kept aside."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import asyncssh
import pytest

from runbook.executor import Outcome
from runbook.rehearsal import cloud, scenarios
from runbook.rehearsal.host import RehearsalHost
from runbook.rehearsal.sandbox import unit_file
from runbook.smapi import StreamManagerAPI
from steps import database
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse
from tests.scripted import ScriptedFrontEnd

IMAGE = "red5pro-node-image-after-upgrade"


async def new_database_tables(host: RehearsalHost) -> set[str]:
    """The tables of the new database's cluster schema, asked as the runbook asks:
    the host's mysql client, the live login in an option file on stdin."""
    user, password = host.state["db_account"]
    login = database.Login(user, password, *host.new_db)
    settings = rehearsal_settings(host)
    command = database.client(settings.new_db_host, host.new_db[1],
                              "-N -B -e " + "'SHOW TABLES FROM cluster'")
    async with asyncssh.connect("127.0.0.1", host.ssh_port, username=host.user,
                                known_hosts=str(host.known_hosts),
                                client_keys=[str(host.client_key)], config=None,
                                agent_path=None) as conn:
        result = await conn.run(command, input=login.option_file())
    assert result.exit_status == 0, result.stderr
    return {line.strip().lower() for line in str(result.stdout).splitlines() if line.strip()}


def schema_tables(release: scenarios.Release) -> set[str]:
    text = (Path(__file__).parents[1] / "runbook/rehearsal/data" / release.schema).read_text()
    return database.tables_in(text)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
async def test_each_scenario_upgrades_end_to_end(tmp_path: Path, name: str) -> None:
    scenario = scenarios.scenario(name)
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, scenario=name) as host:
        before = cloud.list_nodegroups(host.sandbox, *host.old_db)
        installed = unit_file(host.sandbox).read_text()
        settings = dataclasses.replace(rehearsal_settings(host), node_image=IMAGE)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, settings)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        # The rehearsal's own decisions file decides only keys its path has
        # (operator trial: 5.1-to-6.2 began with a warning of stale ones).
        assert "neither file has" not in front.text(), front.text()[-3000:]
        tables = await new_database_tables(host)
        after = cloud.list_nodegroups(host.sandbox, *host.new_db)
        instances = cloud.list_instances(host.sandbox)
        async with StreamManagerAPI(host.api_base_url, host.api_token,
                                    scenario.new.api) as api:
            images = [await api.get_launchconfig(name)
                      for name in await api.list_launchconfigs()]
            policies = [await api.get_scalepolicy(name)
                        for name in await api.list_scalepolicies()]
    install = host.install_dir
    # The versions: the new release live, the old one kept aside.
    live_marker = install / "red5pro" / scenario.new.top
    assert live_marker.is_symlink() or (install / "red5pro/lib" / scenario.new.lib_jar).exists()
    assert (install / "bak.red5pro/lib" / scenario.old.lib_jar).is_file()
    # The unit: the new release's own where it ships one, with its Java.
    unit = (host.sandbox / "lib/systemd/system/red5pro.service").read_text()
    assert f"java-{scenario.new.java}-openjdk" in unit
    # A unit kept from before 5.6.0 names the commons-daemon jar of its time,
    # which the new release does not ship: its classpath is pointed at the new
    # release's, the old unit kept for the way back (facts audit).
    replaced = scenario.new.unit == "shipped" and scenario.old.unit != scenario.new.unit
    daemon = scenario.old.daemon_jar != scenario.new.daemon_jar and scenario.new.unit == "page"
    assert (host.sandbox / "lib/systemd/system/red5pro.service.bak").exists() is (
        replaced or daemon)
    assert f"${{RED5_HOME}}/{scenario.new.daemon_jar}:" in unit
    if daemon:
        # Trial 54 (F22): "now names commons-daemon-1.1.0.jar (as it was:
        # red5pro.service.bak)" read as if 1.1.0 was what it named before.
        said = front.last_report("service-unit").detail
        assert "as it was" not in said, said
        assert f"the old unit, naming {scenario.old.daemon_jar}, is kept as " \
            "red5pro.service.bak" in said, said
    # A release that ships its unit was installed by Red5's installer, which
    # tunes its heap and open-file limit; the rehearsal shows them kept in the
    # new release's unit (trial, stop 53: with the stock unit in place no
    # rehearsal ever said a word of the host's tuning). 10.9 and 11.1 ship the
    # same unit, so service-unit finds it already done, tuning and all.
    if scenario.old.unit == "shipped":
        assert "-Xms5g -Xmx5g" in installed and "LimitNOFILE=1000000" in installed, installed
        assert "-Xms5g -Xmx5g" in unit and "LimitNOFILE=1000000" in unit, unit
        kept = [line for line in front.text().splitlines()
                if "with this host's -Xms5g, -Xmx5g, LimitNOFILE=1000000" in line]
        assert len(kept) >= 2, "preflight and service-unit each say the tuning is kept"
    # The new release's AWS bean reads aws.forUsGovRegions (6.2.0 and, inferred,
    # 10.9/11.1); its real webapp, like the fake, does not start while the
    # merge leaves it commented out (facts audit 57b H1). From 5.1, whose file
    # has no such key, the review set it: the template's value, confirmed in
    # the rehearsal's decisions; from the others, the live value is carried.
    merged = (install / "red5pro" / "webapps/streammanager/WEB-INF/red5-web.properties")
    assert "\naws.forUsGovRegions=false\n" in merged.read_text(encoding="latin-1")
    review_shown = "\n".join(action.render() for action in front.plans["properties"])
    if scenario.old.wiring == "5.1.1":
        assert "aws.forUsGovRegions = false" in review_shown, review_shown[-3000:]
        assert "the new release's AWSInstanceController bean reads a key the live file " \
            "does not set" in front.text()
    else:
        assert "the new release's AWSInstanceController bean reads" not in front.text()
    # The schema of the new release, in the new database.
    assert tables == schema_tables(scenario.new)
    # Trial 56, F10: only a release whose template and tables the rehearsal
    # stands in for says so (6.2.0's are its own).
    assert ("stand-in list" in front.detail("schema")) is scenario.new.stand_in
    assert ("the rehearsal's stand-in" in front.text()) is scenario.new.stand_in
    # The fleet: every nodegroup back with as many origins, on the new image.
    assert len(before) >= 2, "the rehearsal's fleet has several nodegroups"
    assert cloud.list_nodegroups(host.sandbox, *host.old_db) == []
    groups = {g["name"] for g in after}
    origins = [i for i in instances if i["group"] in groups and i["role"] == "origin"]
    assert origins and all(i["state"] == "inservice" for i in origins)
    snapshot = json.loads(next((host.sandbox / ".operator").rglob("snapshots/*.json"))
                          .read_text())
    saved = sum(1 for g in snapshot["nodegroups"] for n in g["nodes"] if n["role"] == "origin")
    assert len(origins) == saved
    assert len(after) == len(snapshot["nodegroups"])
    assert images and all(config["image"] == IMAGE for config in images)
    # A 5.1 fleet set up from Red5's own sample carries 0.0.2 bodies, which
    # 6.2.0 (API 3.1) reads (facts audit 57b, M2): the rehearsal carries one
    # of each across. No scenario posts a 3.x body to API 4.0, so none warns.
    carried = [body["name"] for body in (*images, *policies) if body.get("version") == "0.0.2"]
    assert len(carried) == (2 if scenario.old.api == "3.0" else 0), carried
    assert "no source confirms API 4.0" not in front.text()


def test_one_scenario_rehearses_a_zip_named_as_the_red5_account_names_downloads(
        tmp_path: Path) -> None:
    """Facts audit 56a, L1: every rehearsal zip was named by its release, so the
    name an account download has (red5pro-server-us-<uuid>.zip, FACTS-scenarios
    section 2), whose release preflight must read inside it, was never rehearsed.
    The 10.9-to-11.1 scenario's download has that name; the end-to-end test
    above upgrades it like the others."""
    import re

    from runbook.rehearsal import sandbox
    from steps import red5

    scenario = scenarios.scenario("10.9-to-11.1")
    assert re.fullmatch(r"red5pro-server-us-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.zip",
                        scenario.zip_name), scenario.zip_name
    assert red5.distribution_version(scenario.zip_name) is None, "the name says no release"
    # The others keep Red5's published names (TA's variables name them).
    assert scenarios.scenario(scenarios.DEFAULT).zip_name == scenarios.R11_1.zip_name
    root = tmp_path / "sb"
    sandbox.create_sandbox(root, scenario, user="ops", api_port=5080,
                           old_db=("127.0.0.2", 3306), secrets_=sandbox.LiveSecrets.generate())
    download = sandbox.operator_dir(root) / scenario.zip_name
    assert red5.zip_version(download) == scenario.new.version


# Red5's own sample launch config as 5.1.1 ships it, its "launchconfig" object
# (AM webapps/streammanager/WEB-INF/launchconfigs/aws-default-v2.json).
AWS_DEFAULT_V2 = {
    "name": "aws-default-v2",
    "description": "This is a sample version launch configuration for second generation "
                   "autoscaling for aws",
    "image": "{red5pro-image-id}",
    "version": "0.0.2",
    "targets": {"target": [
        {"role": "origin", "instanceType": "c4.xlarge", "connectionCapacity": "2000"},
        {"role": "edge", "instanceType": "c4.xlarge", "connectionCapacity": "2000"}]},
    "properties": {"property": [{"name": "vmSizeFallbacks",
                                 "value": ["m4.xlarge", "c4.4xlarge"]}]},
    "metadata": {"meta": [{"key": "meta-name", "value": "meta-value"}]},
}


def seeded(tmp_path: Path, release: scenarios.Release) -> tuple[dict[str, dict], dict[str, dict]]:
    """The live fleet's launch configs and scale policies, seeded for `release`."""
    sandbox = tmp_path / release.version
    cloud.seed_live_database(sandbox, "127.0.0.1", 3306, "pfx", api_version=release.api)
    with cloud.locked_state(sandbox) as state:
        db = state.database("127.0.0.1", 3306)
        return dict(db["launchconfigs"]), dict(db["scalepolicies"])


def test_the_5_1_fleet_has_a_nodegroup_set_up_from_red5s_own_sample(tmp_path: Path) -> None:
    """Facts audit 57b, M2: every live fleet, 5.1.1's too, was seeded with 4.0-shaped
    0.0.3 bodies, so no rehearsal carried a 0.0.2 one. 5.1.1's fleet now has one
    nodegroup whose launch config is Red5's shipped sample (its name and image
    placeholder filled in) and whose scale policy is 0.0.2 with flat targets, as
    5.1.1's and 6.2.0's ScalePolicyMaster keep one; the others stay 0.0.3."""
    configs, policies = seeded(tmp_path, scenarios.R5_1)
    sample = [seed for seed in cloud.SEED_GROUPS
              if configs[seed.launch_config]["version"] == "0.0.2"]
    assert len(sample) == 1, configs
    (seed,) = sample
    # Kept as the stream manager keeps a launch config: its capacity a number.
    kept = {**AWS_DEFAULT_V2["targets"], "target": [  # type: ignore[dict-item]
        {**target, "connectionCapacity": int(target["connectionCapacity"])}
        for target in AWS_DEFAULT_V2["targets"]["target"]]}  # type: ignore[index]
    assert configs[seed.launch_config] == {**AWS_DEFAULT_V2, "name": seed.launch_config,
                                           "image": f"red5pro-node-image-{seed.region}",
                                           "targets": kept}
    flat = policies[seed.scale_policy]
    assert flat["version"] == "0.0.2" and set(flat["targets"]) == {"target"}, flat
    assert cloud.role_limit(flat, "origin") == seed.max_origins
    assert cloud.role_limit(flat, "edge", "minLimit") == seed.edges
    for other in cloud.SEED_GROUPS:
        if other != seed:
            assert configs[other.launch_config] == cloud.seed_launch_config(other)
            assert policies[other.scale_policy] == cloud.seed_scale_policy(other)
    for release in (scenarios.R6_2, scenarios.R10_9):
        configs, policies = seeded(tmp_path, release)
        assert {body["version"] for body in (*configs.values(), *policies.values())} == {"0.0.3"}


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_the_sample_decisions_used_as_they_are_decide_every_path(name: str) -> None:
    """Found by `cutover_overhead.py --host-apart` (stop 57): `runbook run`
    against a rehearsal host, with sample-configs/rehearsal-decisions.toml as
    it is (README), stopped at properties on 6.2-to-11.1: its accept-new for
    aws.forUsGovRegions, meant for 5.1's file, would take the template's
    commented line over the live value, which the review refuses."""
    from runbook.properties import Decisions, review
    from runbook.rehearsal import sandbox
    from steps import red5

    path = scenarios.scenario(name)
    live = sandbox.old_properties(path.old, sandbox.LiveSecrets.generate(),
                                  ("127.0.0.1", 3306))
    needs = red5.keys_the_new_bean_reads(sandbox.application_context(sandbox.AWS, path.old),
                                         sandbox.application_context(sandbox.DUMMY, path.new))
    result = review(live, sandbox.data_text(path.new.properties), needs=needs,
                    overrides={"config.dbHost": "127.0.0.3"})
    Decisions.load(Path(__file__).parents[1] / "sample-configs" / "rehearsal-decisions.toml"
                   ).apply(result)
    needed = [key for key in needs if key in result and result[key].is_open]
    assert needed == [], needed
