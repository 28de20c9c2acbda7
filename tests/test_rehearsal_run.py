"""The whole procedure, end to end, over real SSH against the rehearsal host."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import javaproperties
import pytest

from runbook import config
from runbook.executor import Answer, Decision, Outcome
from runbook.rehearsal import cloud
from runbook.rehearsal.host import RehearsalHost
from runbook.step import PlanContext
from steps.facts import Red5Facts
from steps.properties_step import overrides
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse, seeded_nodegroups
from tests.scripted import ScriptedFrontEnd

PROPS = "webapps/streammanager/WEB-INF/red5-web.properties"
NEW = "red5pro-server-11.1.0.b835-release"
OLD = "red5pro-server-6.2.0.b406-release"


def notes(journal: Path, kind: str) -> list[dict]:
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    return [r for r in records if r["event"] == "note" and r["kind"] == kind]


def live_secrets(host: RehearsalHost) -> dict[str, str]:
    old = javaproperties.loads((host.install_dir / "red5pro" / PROPS).read_text())
    return {k: old[k] for k in ("config.dbPass", "rest.administratorToken", "aws.accessKey",
                                "aws.accessSecret", "cluster.password")}


async def test_full_rehearsal_upgrades_the_host(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        secrets = live_secrets(host)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal)
        assert outcome is Outcome.DONE, front.text()[-4000:]
        new_groups = cloud.list_nodegroups(host.sandbox, *host.new_db)
        old_groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
        instances = cloud.list_instances(host.sandbox)
    live = host.install_dir / "red5pro"
    backup = host.install_dir / "bak.red5pro"

    # The new release is live, the old one is kept aside.
    assert (live / NEW).is_symlink() and not (live / OLD).is_symlink()
    assert (backup / OLD).is_symlink()
    assert not list(host.install_dir.glob("red5pro-server-*"))
    # Prepared as the procedure says.
    assert (live / "webapps/streammanager/WEB-INF/lib/aws-cloud-controller-11.0.0.jar").is_file()
    assert not (live / "conf/autoscale.xml").exists()
    assert not list((live / "plugins").glob("red5pro-autoscale-plugin-*.jar"))
    assert list((live / "plugins").glob("*.jar")), "other plugins must survive"
    assert (live / "LICENSE.KEY").read_bytes() == (backup / "LICENSE.KEY").read_bytes()
    # Properties: the new database, the old secrets and AWS keys carried.
    merged = javaproperties.loads((live / PROPS).read_text())
    assert merged["config.dbHost"] == host.new_db[0]
    assert merged["config.dbPort"] == str(host.new_db[1])
    for key, value in secrets.items():
        assert merged[key] == value, key
    assert merged["default.server.application"] == "live"
    # The live SSL edit is named, not carried (review 60b, H1): the new
    # release runs on its conf/red5.properties as shipped.
    [edits] = notes(journal, "edits-to-redo")
    assert edits["warning"] and "conf/red5.properties" in edits["text"], edits
    assert "https.port=443" in (backup / "conf/red5.properties").read_text()
    assert "https.port=5443" in (live / "conf/red5.properties").read_text()

    # The journal shows the new install answered, and the nodegroups came back.
    answered = notes(journal, "service-answered")
    assert answered and answered[0]["api_version"] == "4.0"
    assert answered[0]["install_version"] == "11.1.0.b835"
    recreated = notes(journal, "nodegroup-recreated")
    assert len(recreated) == seeded_nodegroups()
    assert notes(journal, "origins-in-service")
    # ... and the fake host agrees: new database has the groups, old has none.
    assert old_groups == []
    assert len(new_groups) == seeded_nodegroups()
    for group in new_groups:
        [made] = [r for r in recreated if r["new"] == group["name"]]
        assert group["launchConfig"] == made["launch_config"]
        assert group["scalePolicy"] == made["scale_policy"]
        assert sorted(group["regions"]) == sorted(made["regions"])
        origins = [i for i in instances if i["group"] == group["name"] and i["role"] == "origin"]
        assert origins and all(i["state"] == "inservice" for i in origins)

    # Secrets never reach the journal or what the operator was shown.
    text = journal.read_text() + front.text()
    for value in secrets.values():
        assert value not in text
    assert host.api_token not in text


@pytest.mark.parametrize("step", ["delete-nodegroups", "backup-live"])
async def test_a_cutover_step_cannot_be_skipped(tmp_path: Path, step: str) -> None:
    """Skipping backup-live once made promote-new fail on every resume, and a
    later run then exported the emptied system as its snapshot."""
    journal = tmp_path / "run.jsonl"
    answers = {step: [Decision(Answer.SKIP, "in a hurry"), Decision(Answer.STOP)]}
    async with rehearsal_host(tmp_path) as host:
        before = cloud.list_nodegroups(host.sandbox, *host.old_db)
        front = ScriptedFrontEnd(answers)
        outcome = await rehearse(host, front, journal)
        after = cloud.list_nodegroups(host.sandbox, *host.old_db)
    assert outcome is Outcome.STOPPED
    assert front.asked.count(step) == 2, "refused, then asked again"
    assert f"{step} cannot be skipped" in front.text()
    assert "stream manager is down until cutover ends" in front.text()
    assert front.final_state(step) != "skipped"
    assert (host.install_dir / "red5pro" / OLD).is_symlink()
    if step == "delete-nodegroups":
        assert after == before and before, "nothing was deleted"


async def test_the_operators_properties_set_reaches_the_live_file(tmp_path: Path) -> None:
    """Test audit (stop 39): nothing checked that a value of [properties]
    set ends up in the red5-web.properties the new release runs with."""
    async with rehearsal_host(tmp_path) as host:
        settings = dataclasses.replace(rehearsal_settings(host),
                                       property_overrides={"streammanager.ip": "10.9.9.9"})
        outcome = await rehearse(host, ScriptedFrontEnd(), tmp_path / "run.jsonl", settings)
        merged = javaproperties.loads((host.install_dir / "red5pro" / PROPS).read_text())
    assert outcome is Outcome.DONE
    assert merged["streammanager.ip"] == "10.9.9.9"
    assert merged["config.dbHost"] == host.new_db[0], "the run's own value stands beside it"


def test_the_new_databases_port_is_the_one_the_config_gives() -> None:
    """Test audit (stop 39): the rehearsal's two databases share a port, so
    the full run cannot tell config.dbPort set from config.dbPort kept."""
    example = config.load(Path(__file__).parents[1] / "sample-configs/production.example.toml")
    settings = dataclasses.replace(example, new_db_port=3307, property_overrides={"a.b": "c"})
    values = overrides(PlanContext(settings, lambda *a, **k: "", Red5Facts()))
    assert values["config.dbPort"] == "3307"
    assert values["config.dbHost"] == settings.new_db_host and values["a.b"] == "c"
