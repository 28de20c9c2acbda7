"""The properties review against real Red5 files: statuses, merge, secrets, decisions."""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path

import javaproperties
import pytest

from runbook.properties import (
    Choice,
    DecisionError,
    Decisions,
    DecisionsError,
    Duplicate,
    PropertiesError,
    Review,
    Status,
    decode_properties,
    encode_properties,
    read_properties,
    render_review,
    review,
    review_files,
    review_to_json,
)
from runbook.redact import fingerprint

DATA = Path(__file__).parent / "data" / "properties"
TEMPLATE = DATA / "red5-web.properties.6.2.0.b406"
DOCS_SAMPLE = DATA / "red5-web.properties.docs-aws-sample"
LIVE = DATA / "red5-web.properties.live"

NEW_DB = "sm-db-new.c9akciq32xyz.us-east-1.rds.amazonaws.com"
RUNBOOK_OVERRIDES = {"config.dbHost": NEW_DB, "config.dbPort": "3306"}

# Every secret value in the live file; none may appear in a rendering without reveal.
LIVE_SECRETS = [
    "Xk9#live-db-pass",
    "cl-9f2e-live",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "live-admin-7f3k",
]


def live_review(**options: object) -> Review:
    return review(
        LIVE.read_text(encoding="latin-1"),
        TEMPLATE.read_text(encoding="latin-1"),
        old_name="live",
        new_name="template",
        overrides=RUNBOOK_OVERRIDES,
        **options,  # type: ignore[arg-type]
    )


def template_lines() -> list[str]:
    return TEMPLATE.read_text().splitlines(keepends=True)


# --- statuses --------------------------------------------------------------------------

EXPECTED = {
    "webapp.contextPath": Status.UNCHANGED,
    "webapp.virtualHosts": Status.UNCHANGED,
    "config.dbHost": Status.OVERRIDDEN,
    "config.dbPort": Status.OVERRIDDEN,
    "config.dbUser": Status.CARRIED,
    "config.dbPass": Status.CARRIED,
    "store.usageStatsDiscardThresholdDays": Status.NEW_DEFAULT,
    "instancecontroller.newNodePingTimeThreshold": Status.UNCHANGED,
    "instancecontroller.replaceDeadClusters": Status.UNCHANGED,
    "instancecontroller.deleteDeadGroupNodesOnCleanUp": Status.UNCHANGED,
    "instancecontroller.recycleDeadNodes": Status.REMOVED,
    "instancecontroller.instanceNamePrefix": Status.CARRIED,
    "instancecontroller.nodeGroupStateToleranceTime": Status.UNCHANGED,
    "instancecontroller.nodeStateToleranceTime": Status.UNCHANGED,
    "instancecontroller.cloudCleanupInterval": Status.UNCHANGED,
    "instancecontroller.blackListCleanUpTime": Status.UNCHANGED,
    "instancecontroller.pathMonitorInterval": Status.UNCHANGED,
    "instancecontroller.minimumNodeFreeMemory": Status.UNCHANGED,
    "instancecontroller.checkCorruptedNodes": Status.NEW_DEFAULT,
    "instancecontroller.corruptedNodeCheckInterval": Status.NEW_DEFAULT,
    "instancecontroller.corruptedNodesEndPoint": Status.NEW_DEFAULT,
    "instancecontroller.httptimeout": Status.NEW_DEFAULT,
    "instanceevaluator.streams.metricweight": Status.UNCHANGED,
    "instanceevaluator.connections.metricweight": Status.UNCHANGED,
    "instanceevaluator.subscribers.metricweight": Status.UNCHANGED,
    "instanceevaluator.memory.metricweight": Status.UNCHANGED,
    "instanceevaluator.restreamer.metricweight": Status.UNCHANGED,
    "cluster.password": Status.CARRIED,
    "cluster.publicPort": Status.UNCHANGED,
    "cluster.accessPort": Status.UNCHANGED,
    "cluster.reportingSpeed": Status.UNCHANGED,
    "cluster.retryDuration": Status.UNCHANGED,
    "cluster.mode": Status.UNCHANGED,
    "cluster.idleClusterPathThreshold": Status.UNCHANGED,
    "streammanager.ip": Status.CARRIED,
    "location.region": Status.UNCHANGED,
    "location.geozone": Status.UNCHANGED,
    "location.strict": Status.UNCHANGED,
    "aws.defaultzone": Status.UNCOMMENTED,
    "aws.operationTimeoutMilliseconds": Status.UNCOMMENTED,
    "aws.accessKey": Status.UNCOMMENTED,
    "aws.accessSecret": Status.UNCOMMENTED,
    "aws.ec2KeyPairName": Status.UNCOMMENTED,
    "aws.ec2SecurityGroup": Status.UNCOMMENTED,
    "aws.defaultVPC": Status.UNCOMMENTED,
    "aws.vpcName": Status.UNCOMMENTED,
    "aws.faultZoneBlockMilliseconds": Status.UNCOMMENTED,
    "serverapi.port": Status.UNCHANGED,
    "serverapi.protocol": Status.UNCHANGED,
    "serverapi.version": Status.UNCHANGED,
    "serverapi.accessToken": Status.NEEDS_VALUE,
    "rest.administratorToken": Status.CARRIED,
    "debug.logaccess": Status.UNCHANGED,
    "debug.logcachexpiretime": Status.UNCHANGED,
    "proxy.enabled": Status.CARRIED,
}


def test_every_key_of_the_live_file_and_the_template_gets_the_expected_status() -> None:
    result = live_review()
    assert {kr.key: kr.status for kr in result} == EXPECTED
    # In the template's order, the dropped key where it stood in the live file.
    assert [kr.key for kr in result] == list(EXPECTED)
    assert result.summary == {
        Status.UNCHANGED: 30,
        Status.CARRIED: 7,
        Status.UNCOMMENTED: 9,
        Status.NEEDS_VALUE: 1,
        Status.NEW_DEFAULT: 5,
        Status.REMOVED: 1,
        Status.OVERRIDDEN: 2,
        Status.EDITED: 0,
    }


def test_only_the_placeholder_key_needs_a_decision_and_new_defaults_await_acknowledgement() -> None:
    result = live_review()
    assert result.undecided == ["serverapi.accessToken"]
    assert result.unacknowledged == [
        "store.usageStatsDiscardThresholdDays",
        "instancecontroller.checkCorruptedNodes",
        "instancecontroller.corruptedNodeCheckInterval",
        "instancecontroller.corruptedNodesEndPoint",
        "instancecontroller.httptimeout",
        "serverapi.accessToken",
    ]
    token = result["serverapi.accessToken"]
    assert (token.old, token.new, token.merged) == (None, "{node api security token}", token.new)
    assert not token.decided and token.secret
    default = result["store.usageStatsDiscardThresholdDays"]
    assert default.decided and not default.acknowledged and default.merged == "7"


def test_key_details_lines_and_sections() -> None:
    result = live_review()
    host = result["config.dbHost"]
    assert host.old == "sm-db-live.c9akciq32xyz.us-east-1.rds.amazonaws.com"
    assert (host.new, host.merged, host.decided) == ("{host}", NEW_DB, True)
    assert (host.old_line, host.new_line, host.section) == (6, 6, "DATABASE CONFIGURATION SECTION")
    secret = result["aws.accessSecret"]
    assert secret.section == "AWS CLOUD CONTROLLER CONFIGURATION"
    assert (secret.new, secret.new_commented) == (None, "{account-accessSecret}")
    # The removed key's section and line come from the live file.
    gone = result["instancecontroller.recycleDeadNodes"]
    assert (gone.old_line, gone.new_line, gone.merged) == (15, None, None)
    assert gone.section == "NODE CONTROLLER CONFIGURATION SECTION - MILLISECONDS"
    # Template line of the REST token; the live file used the older heading.
    assert result["rest.administratorToken"].section == "STREAM MANAGER REST SECURITY SECTION"
    assert result["config.dbPass"].secret and not result["config.dbUser"].secret


def test_duplicate_in_the_live_file_is_reported_and_the_last_line_wins() -> None:
    result = live_review()
    assert result.duplicates == [Duplicate("live", "proxy.enabled", (121, 124))]
    assert result["proxy.enabled"].old == "true"
    assert result["proxy.enabled"].old_line == 124


# --- the merged file -------------------------------------------------------------------


def changed_lines(result: Review) -> dict[int, tuple[str, str]]:
    before = template_lines()
    after = result.merged_text().splitlines(keepends=True)
    assert len(after) == len(before)
    return {n: (a, b) for n, (a, b) in enumerate(zip(before, after, strict=True), 1) if a != b}


def test_merged_file_changes_only_the_decided_lines_of_the_template() -> None:
    result = live_review()
    changes = changed_lines(result)
    assert {n: b for n, (_, b) in changes.items()} == {
        6: f"config.dbHost={NEW_DB}\n",
        8: "config.dbUser=smadmin\n",
        9: "config.dbPass=Xk9#live-db-pass\n",  # as the live file spells it
        19: "instancecontroller.instanceNamePrefix=prodsm\n",
        39: "cluster.password=cl-9f2e-live\n",
        48: "streammanager.ip=10.0.1.15\n",
        58: "aws.defaultzone=us-east-1a\n",
        59: "aws.operationTimeoutMilliseconds=200000\n",
        60: "aws.accessKey=AKIAIOSFODNN7EXAMPLE\n",
        61: "aws.accessSecret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        62: "aws.ec2KeyPairName=red5pro-prod\n",
        63: "aws.ec2SecurityGroup=red5pro-nodes-sg\n",
        64: "aws.defaultVPC=false\n",
        65: "aws.vpcName=red5pro-vpc\n",
        66: "aws.faultZoneBlockMilliseconds=3600000\n",
        123: "rest.administratorToken=live-admin-7f3k\n",
        130: "proxy.enabled=true\n",
    }
    # What the stream manager will read is the decided value of every key.
    merged = javaproperties.loads(result.merged_text())
    for kr in result:
        assert merged.get(kr.key) == kr.merged, kr.key
    assert "instancecontroller.recycleDeadNodes" not in merged
    # A review told nothing of the bean the new release runs (no needs) has no
    # word on the template's commented-out aws.forUsGovRegions: it stays so.
    # The properties step always tells it (facts audit 57b H1; below).
    assert "#aws.forUsGovRegions=false\n" in result.merged_text()


# 6.2.0's AWS bean (shared applicationContext.xml.6.2.0.b406), as the properties
# step reads it from the new tree once carry-over has activated it.
AWS_BEAN = "AWSInstanceController"
AWS_6_2 = dict.fromkeys(
    ["aws.accessKey", "aws.accessSecret", "aws.ec2KeyPairName", "aws.ec2SecurityGroup",
     "aws.defaultzone", "aws.defaultVPC", "aws.vpcName", "aws.operationTimeoutMilliseconds",
     "aws.faultZoneBlockMilliseconds", "aws.forUsGovRegions"], AWS_BEAN)


def test_a_key_the_new_bean_reads_is_uncommented_with_the_templates_value_once_confirmed(
) -> None:
    """Facts audit 57b H1: 6.2.0's AWS bean reads ${aws.forUsGovRegions}, which
    its template ships commented out (#aws.forUsGovRegions=false) and a 5.1.1
    live file lacks. The merge kept the line commented, and the new stream
    manager would not start (Spring refuses an unresolved placeholder). Now
    it is a new key the new release needs, its value from the template's
    line, which the operator confirms like any new default."""
    result = live_review(needs=AWS_6_2)
    kr = result["aws.forUsGovRegions"]
    assert (kr.status, kr.old, kr.new, kr.merged) == (Status.NEW_DEFAULT, None, "false", "false")
    assert kr.new_commented == "false" and kr.decided and not kr.acknowledged
    assert kr.new_line == 67 and kr.section == "AWS CLOUD CONTROLLER CONFIGURATION"
    assert "aws.forUsGovRegions" in result.unconfirmed and "aws.forUsGovRegions" in (
        result.open_keys)
    # Where the template has it, uncommented with its value, nothing else moved.
    changes = changed_lines(result)
    assert changes[67] == ("#aws.forUsGovRegions=false\n", "aws.forUsGovRegions=false\n")
    assert set(changes) == set(changed_lines(live_review())) | {67}
    # The rest of the bean's keys the live file sets already: nothing more to ask.
    assert [key for key in AWS_6_2 if result[key].is_open] == ["aws.forUsGovRegions"]
    said = render_review(result)
    assert any(line.startswith("6 new defaults nobody has confirmed yet")
               and line.endswith(", aws.forUsGovRegions") for line in said.splitlines()), said
    assert "note: the new release's AWSInstanceController bean reads it" in said, said
    assert review_to_json(result)["keys"][[k.key for k in result].index(
        "aws.forUsGovRegions")]["needed_by"] == AWS_BEAN
    # Confirmed (the editor's a, a decisions file's accept-new): no longer open.
    result.accept_new("aws.forUsGovRegions")
    assert not result["aws.forUsGovRegions"].is_open
    result.set_value("aws.forUsGovRegions", "true")
    assert javaproperties.loads(result.merged_text())["aws.forUsGovRegions"] == "true"
    with pytest.raises(DecisionError, match="true or false"):
        result.set_value("aws.forUsGovRegions", "yes")


def test_the_decisions_file_keeps_a_needed_keys_confirmation() -> None:
    """Written by `runbook diff` or the editor, replayed in the window: the
    same accept-new as any new default; a file without it leaves it open."""
    result = live_review(needs=AWS_6_2)
    result.confirm("aws.forUsGovRegions")
    saved = Decisions.from_review(result)
    assert saved.entries["aws.forUsGovRegions"].action is Choice.ACCEPT_NEW
    again = live_review(needs=AWS_6_2, decisions=Decisions.loads(saved.dumps()))
    assert not again["aws.forUsGovRegions"].is_open
    assert again.decision_result is not None and again.decision_result.stale == []
    assert live_review(needs=AWS_6_2, decisions=Decisions.loads(
        Decisions.from_review(live_review()).dumps()))["aws.forUsGovRegions"].is_open
    # A review without the bean (runbook diff told no contexts) reads the
    # decision as one for a key neither file has.
    unaware = live_review(decisions=Decisions.loads(saved.dumps()))
    assert unaware.decision_result is not None
    assert unaware.decision_result.stale == ["aws.forUsGovRegions"]


def _renamed_review(value: str = "false", **options: object) -> Review:
    """5.1.1's live file (the shipped template filled in) with
    instancecontroller.recycleDeadNodes={value}, reviewed against 6.2.0's with
    the Simulated bean read as the two releases wire it: 5.1.1 read
    recycleDeadNodes from that key (AM's applicationContext.xml, the
    rehearsal's 5.1.1 wiring), 6.2.0 from managed.recycleDeadNodes."""
    from runbook.rehearsal import sandbox
    from runbook.rehearsal.scenarios import R5_1
    from steps import red5

    live_xml = sandbox.application_context(sandbox.SIMULATED, R5_1)
    new_xml = (DATA.parent / "applicationContext.xml.6.2.0.b406").read_text()
    live = sandbox.data_text("red5-web.properties.5.1.1.236").replace(
        "instancecontroller.recycleDeadNodes=true", f"instancecontroller.recycleDeadNodes={value}")
    return review(live, TEMPLATE.read_text(encoding="latin-1"),
                  needs=red5.keys_the_new_bean_reads(live_xml, new_xml),
                  read_before=red5.keys_read_before(live_xml, new_xml),
                  **options)  # type: ignore[arg-type]


def test_a_needed_key_the_live_bean_writes_in_its_xml_says_where_the_live_value_is() -> None:
    """Facts audit 58b F10: a live bean that sets a property with a value
    written in applicationContext.xml, not as ${key} (off the install pages'
    procedure, FACTS section 4), left the review asking for the key the new
    bean reads as if no value existed. It says where the live one is now,
    without showing it."""
    from runbook.rehearsal import sandbox
    from runbook.rehearsal.scenarios import R5_1
    from steps import red5
    from steps.properties_step import added_for_the_bean

    live_xml = sandbox.application_context(sandbox.AWS, R5_1).replace(
        'value="${aws.accessKey}"', 'value="AKIAWRITTENINXML"').replace(
        'value="${aws.operationTimeoutMilliseconds}"', 'value="90000"')
    new_xml = (DATA.parent / "applicationContext.xml.6.2.0.b406").read_text()
    live = sandbox.data_text("red5-web.properties.5.1.1.236")
    result = review(live, TEMPLATE.read_text(encoding="latin-1"),
                    needs=red5.keys_the_new_bean_reads(live_xml, new_xml),
                    read_before=red5.keys_read_before(live_xml, new_xml))
    assert "aws.accessKey" in result.unset_in_the_live_file
    said = result.needed_note("aws.accessKey") or ""
    assert "applicationContext.xml" in said and "accessKey" in said, said
    assert "applicationContext.xml" not in (result.needed_note("aws.accessSecret") or "")
    line = added_for_the_bean(result)
    assert "aws.accessKey (the template gives no value: one is asked for; the live " \
           "applicationContext.xml writes it" in line, line
    assert "AKIAWRITTENINXML" not in said + line + render_review(result)
    # One the template ships commented out with a value says it too.
    timeout = result.needed_note("aws.operationTimeoutMilliseconds") or ""
    assert "commented out" in timeout and "operationTimeoutMilliseconds in " \
        "applicationContext.xml" in timeout, timeout


def test_a_needed_key_the_live_bean_read_under_another_name_is_offered_the_live_value(
) -> None:
    """Review 57d M2: the old key was left out and the new one offered the
    template's commented true: one confirm turned the live false into true.
    The live value is offered, to confirm; a keeps the template's; the notes
    of both keys name the other."""
    result = _renamed_review()
    kr = result["managed.recycleDeadNodes"]
    assert (kr.status, kr.old, kr.new, kr.merged) == (Status.UNCOMMENTED, "false", "true",
                                                      "false")
    assert kr.decided and not kr.acknowledged and kr.old_line == 22 and kr.new_line == 96
    assert result.carried_from == {"managed.recycleDeadNodes":
                                   "instancecontroller.recycleDeadNodes"}
    assert "managed.recycleDeadNodes" in result.unset_in_the_live_file
    old = result["instancecontroller.recycleDeadNodes"]
    assert (old.status, old.merged) == (Status.REMOVED, None)
    said = result.notes("managed.recycleDeadNodes")[-1]
    assert "sets instancecontroller.recycleDeadNodes instead, which the same property read" \
        in said, said
    assert "managed.recycleDeadNodes: the merge offers this value there" in \
        result.notes("instancecontroller.recycleDeadNodes")[-1]
    lines = render_review(result).splitlines()
    assert ("1 live value under a new key name nobody has confirmed yet (confirm each, or "
            "give another value): managed.recycleDeadNodes") in lines, lines[:12]
    assert not any("new default" in line and "managed.recycleDeadNodes" in line
                   for line in lines), lines[:12]
    # What the properties step and preflight say of it.
    from steps.properties_step import added_for_the_bean

    said = added_for_the_bean(result)
    assert ("managed.recycleDeadNodes (false, the live file's instancecontroller."
            "recycleDeadNodes, which the same property read: goes in once confirmed)") in said, \
        said
    # One confirm (a decisions file's, headless take, --yes) keeps the live value.
    result.confirm("managed.recycleDeadNodes")
    assert javaproperties.loads(result.merged_text())["managed.recycleDeadNodes"] == "false"
    saved = Decisions.from_review(result)
    assert saved.entries["managed.recycleDeadNodes"].action is Choice.KEEP_OLD
    again = _renamed_review(decisions=Decisions.loads(saved.dumps()))
    assert not again["managed.recycleDeadNodes"].is_open
    assert again["managed.recycleDeadNodes"].merged == "false"
    # The live value changed since: decided again.
    moved = _renamed_review("true", decisions=Decisions.loads(saved.dumps()))
    assert moved["managed.recycleDeadNodes"].reopened, moved["managed.recycleDeadNodes"]
    # a: the template's line as it ships.
    result.accept_new("managed.recycleDeadNodes")
    assert javaproperties.loads(result.merged_text())["managed.recycleDeadNodes"] == "true"
    # Without the old key in the live file: the template's default, as before.
    unset = review(sandbox_5_1_without_recycle(), TEMPLATE.read_text(encoding="latin-1"),
                   needs=result.needs, read_before=result.read_before)
    assert (unset["managed.recycleDeadNodes"].status, unset["managed.recycleDeadNodes"].merged,
            unset.carried_from) == (Status.NEW_DEFAULT, "true", {})


def sandbox_5_1_without_recycle() -> str:
    from runbook.rehearsal import sandbox

    return sandbox.data_text("red5-web.properties.5.1.1.236").replace(
        "instancecontroller.recycleDeadNodes=true\n", "")


def test_a_needed_key_the_template_lacks_names_the_key_the_live_bean_read() -> None:
    """Where the template has no line for the key the new bean reads, the
    live value is not guessed into it: someone gives one, and the note says
    which live key the same property read."""
    live = LIVE.read_text(encoding="latin-1")
    result = review(live, TEMPLATE.read_text(encoding="latin-1"),
                    needs={"managed.deadNodes": "GenericSimulatedCloudController"},
                    read_before={"managed.deadNodes": "instancecontroller.recycleDeadNodes"})
    kr = result["managed.deadNodes"]
    assert (kr.status, kr.merged, kr.decided, result.carried_from) == (
        Status.NEEDS_VALUE, None, False, {})
    assert "The live file sets instancecontroller.recycleDeadNodes, which the same property " \
        "read" in result.notes("managed.deadNodes")[-1]


def test_a_needed_key_with_no_value_in_the_template_must_be_given_one() -> None:
    """Only the shipped files' keys and values: a needed key whose template
    line holds a placeholder, or that the template lacks, is asked for, and
    the merge is not written until it has a value. A needed key only the live
    file has is not left out by default; one it sets is kept as it is."""
    live = LIVE.read_text(encoding="latin-1")
    needs = {"compute.project": "ComputeInstanceController",
             "compute.network": "ComputeInstanceController",
             "compute.nowhere": "ComputeInstanceController",
             "instancecontroller.recycleDeadNodes": "GenericSimulatedCloudController",
             "aws.accessKey": AWS_BEAN}
    result = review(live, TEMPLATE.read_text(encoding="latin-1"), needs=needs)
    project, nowhere = result["compute.project"], result["compute.nowhere"]
    assert (project.status, project.merged, project.decided) == (
        Status.NEEDS_VALUE, "{project-id}", False)
    assert (nowhere.status, nowhere.new, nowhere.merged, nowhere.decided) == (
        Status.NEEDS_VALUE, None, None, False)
    assert result["compute.network"].merged == "default"
    recycled = result["instancecontroller.recycleDeadNodes"]
    assert (recycled.status, recycled.decided) == (Status.REMOVED, False)
    assert result["aws.accessKey"].status is Status.UNCOMMENTED
    assert not result["aws.accessKey"].is_open
    for key in ("compute.project", "compute.nowhere", "instancecontroller.recycleDeadNodes"):
        assert key in result.undecided
    with pytest.raises(DecisionError, match="placeholder"):
        result.accept_new("compute.project")
    with pytest.raises(DecisionError, match="must set it"):
        result.accept_new("compute.nowhere")
    with pytest.raises(DecisionError, match="must set it"):
        result.drop_removed("instancecontroller.recycleDeadNodes")
    with pytest.raises(DecisionError, match="must set it"):
        result.accept_new("aws.accessKey")  # the template's commented line over the live value
    result.set_value("compute.project", "my-project")
    result.set_value("compute.nowhere", "x")
    result.keep_removed("instancecontroller.recycleDeadNodes")
    merged = javaproperties.loads(result.merged_text())
    assert (merged["compute.project"], merged["compute.nowhere"]) == ("my-project", "x")
    assert merged["instancecontroller.recycleDeadNodes"] == "true"
    assert "# read by the new release's cloud-controller bean." in result.merged_text()


def test_aws_access_key_is_uncommented_in_place_with_the_live_value() -> None:
    result = live_review()
    kr = result["aws.accessKey"]
    assert kr.status is Status.UNCOMMENTED and kr.merged == "AKIAIOSFODNN7EXAMPLE"
    lines = result.merged_text().splitlines()
    assert template_lines()[kr.new_line - 1] == "#aws.accessKey={account-accessKey}\n"
    assert lines[kr.new_line - 1] == "aws.accessKey=AKIAIOSFODNN7EXAMPLE"
    assert lines[kr.new_line - 2] == "aws.operationTimeoutMilliseconds=200000"
    assert lines[kr.new_line] == "aws.accessSecret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("path", [TEMPLATE, DOCS_SAMPLE, LIVE], ids=lambda p: p.name)
def test_merging_a_file_with_itself_returns_it_byte_for_byte(path: Path) -> None:
    text = read_properties(path)
    result = review(text, text)
    assert result.merged_text() == text
    assert encode_properties(result.merged_text()) == path.read_bytes()
    assert set(result.summary) == set(Status)
    assert result.undecided == []


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_line_endings_are_kept_on_changed_and_untouched_lines(eol: str) -> None:
    new = TEMPLATE.read_text().replace("\n", eol)
    old = LIVE.read_text().replace("\n", eol)
    assert review(new, new).merged_text() == new
    result = review(old, new, overrides=RUNBOOK_OVERRIDES)
    result.keep_removed("instancecontroller.recycleDeadNodes")
    merged = result.merged_text()
    assert merged.count(eol) == merged.count(eol[-1])  # no stray bare LF or CR
    assert f"aws.accessKey=AKIAIOSFODNN7EXAMPLE{eol}" in merged


def test_the_docs_sample_against_the_template() -> None:
    result = review(DOCS_SAMPLE.read_text(), TEMPLATE.read_text())
    statuses = {kr.key: kr.status for kr in result}
    assert statuses["spring.jackson.default-property-inclusion"] is Status.REMOVED
    assert statuses["aws.accessKey"] is Status.UNCOMMENTED
    assert statuses["rest.administratorToken"] is Status.CARRIED
    # Commented in both files: not a key of either, so it has no status at all.
    assert "az.clientKey" not in result and "limelight.ipmode" not in result
    assert result.undecided == []


def test_removed_key_kept_goes_into_a_marked_block_at_the_end() -> None:
    result = live_review()
    dropped = result.merged_text()
    result.keep_removed("instancecontroller.recycleDeadNodes")
    text = result.merged_text()
    head, _, block = text.partition("# ---- Added by runbook ----\n")
    assert head == dropped + "\n"
    assert block.endswith("\ninstancecontroller.recycleDeadNodes=true\n")
    assert result["instancecontroller.recycleDeadNodes"].merged == "true"
    result.drop_removed("instancecontroller.recycleDeadNodes")
    assert "Added by runbook" not in result.merged_text()


def test_set_key_found_in_neither_file_is_appended_and_overridden() -> None:
    new = "a=1\nb=2"  # no newline at the end
    result = review("a=1\n", new, overrides={"c.extra": "x y"})
    assert result["c.extra"].status is Status.OVERRIDDEN
    text = result.merged_text()
    assert text.startswith("a=1\nb=2\n\n# ---- Added by runbook ----\n")
    assert javaproperties.loads(text)["c.extra"] == "x y"


def test_separators_escapes_and_continuations_are_kept_or_reused() -> None:
    new = (
        "# header\n"
        "  spaced : {x}\n"
        "tabbed\tvalue\n"
        "multi = first, \\\n"
        "        second\n"
        "uni=caf\\u00e9\n"
        "!bang.key=ignored\n"
    )
    old = "spaced=1\ntabbed=other\nmulti=one\nbang.key=on\nuni=café\n"
    result = review(old, new)
    assert result["uni"].status is Status.UNCHANGED  # \u00e9 and é are the same value
    assert result["bang.key"].status is Status.UNCOMMENTED
    result.set_value("uni", "naïve ☃")
    assert result.merged_text() == (
        "# header\n  spaced : 1\ntabbed\tother\nmulti = one\nuni=na\\u00efve \\u2603\nbang.key=on\n"
    )
    assert javaproperties.loads(result.merged_text())["uni"] == "naïve ☃"


def test_values_are_escaped_the_way_javaproperties_escapes_them() -> None:
    result = review("k=x\n", "k=y\n")
    result.set_value("k", " lead#=:\\\ttrail ")
    line = result.merged_text()
    assert line == javaproperties.join_key_value("k", " lead#=:\\\ttrail ") + "\n"
    assert javaproperties.loads(line)["k"] == " lead#=:\\\ttrail "


def test_a_value_of_another_kind_than_the_templates_is_refused() -> None:
    """Operator trial: `abc` went into the merged file for a key whose template
    value is `false`. Red5 reads these keys as booleans and numbers; a word
    there is a broken stream manager found only after the cutover."""
    result = review("flag=true\ncount=30000\nname=sm1\nlater=true\n",
                    "flag=false\ncount=45000\nname=sm2\n#later=true\nneg=-1\n")
    for key, wrong in (("flag", "abc"), ("flag", ""), ("flag", "yes "), ("count", "30s"),
                       ("count", "3.5"), ("count", ""), ("later", "maybe"), ("neg", "x")):
        with pytest.raises(DecisionError, match=re.escape(key)) as refused:
            result.set_value(key, wrong)
        assert "\n" not in str(refused.value)
    for key, right in (("flag", "TRUE"), ("flag", "false"), ("count", "60000"),
                       ("count", "-1"), ("later", "false"), ("neg", "5"), ("name", "any text")):
        result.set_value(key, right)
        assert result[key].merged == right


def test_a_secrets_live_value_neither_decides_its_kind_nor_is_shown() -> None:
    """Review: with only a placeholder in the template, the kind came from the
    live value; an all-digit live password refused a new one with letters,
    and the refusal said the live password, in --set's stderr, diff --check
    and the decisions file's comments."""
    live = LIVE.read_text("latin-1").replace("config.dbPass=Xk9#live-db-pass",
                                             "config.dbPass=83920174")
    assert "config.dbPass=83920174" in live
    template = TEMPLATE.read_text("latin-1")
    result = review(live, template, overrides={"config.dbPass": "N3w-Pass!"})
    assert result["config.dbPass"].merged == "N3w-Pass!"
    result = review(live, template)
    result.set_value("config.dbPass", "N3w-Pass!")
    assert result["config.dbPass"].merged == "N3w-Pass!"
    decisions = Decisions.loads('[keys."config.dbPass"]\naction = "set"\n'
                                'value_env = "NEWPASS"\n')
    result = review(live, template)
    decisions.apply(result, env={"NEWPASS": "N3w-Pass!"})
    decisions.record(result)
    assert "83920174" not in decisions.dumps()


def test_a_kind_taken_from_the_live_value_says_so() -> None:
    """With a placeholder in the template, the live value decides the kind,
    and the refusal names the file that said it, not the template."""
    result = review("port=3306\n", "port={port}\n")
    with pytest.raises(DecisionError, match="the live file has the whole number 3306"):
        result.set_value("port", "db")


def test_spring_placeholders_are_values_and_prose_comments_are_not_keys() -> None:
    new = "# Set this before you start\ndriver=${db.driver}\nblank=\n"
    old = "Set=x\n"
    result = review(old, new)
    assert result["driver"].status is Status.NEW_DEFAULT
    assert result["blank"].status is Status.NEEDS_VALUE
    assert result["Set"].status is Status.REMOVED
    assert result.leftover_placeholders == []


def test_spring_expressions_and_json_are_values_not_placeholders() -> None:
    """Diff trial (stop 50): a live #{...} (Spring evaluates it, as ${...})
    and a JSON value were called placeholders, which held the merge back and
    which keeping the live value could not close."""
    new = "spel=\njson=\nhost={host}\n"
    old = 'spel=#{systemProperties["sm.ip"]}\njson={"private_key":"x"}\nhost=db\n'
    result = review(old, new)
    assert result.leftover_placeholders == []
    assert result["spel"].merged == '#{systemProperties["sm.ip"]}'
    assert review("a=1\n", "name={node api security token}\n").leftover_placeholders == [
        "name"]


def test_a_carried_value_is_written_as_the_live_file_spells_it() -> None:
    """Diff trial (stop 50): a carried password Xk9#pass was written Xk9\\#pass
    and a URL's colons escaped: Java reads them the same, but a diff of live
    against merged showed the password changed, and a grep of the file read
    another password. A value that needs an escape the live line lacks (it
    is not the live value) is still escaped."""
    old = ("config.dbPass=Xk9#pass\nurl = http://h:5080/a?b=c#x!y\nlatin=caf\u00e9\n"
           "commented=a:b\nesc=C:\\\\path\n")
    new = "config.dbPass={password}\nurl=\nlatin=\n#commented=\nesc=\n"
    merged = review(old, new).merged_text()
    assert "config.dbPass=Xk9#pass\n" in merged, merged
    assert "url=http://h:5080/a?b=c#x!y\n" in merged, merged
    assert "latin=caf\u00e9\n" in merged and "commented=a:b\n" in merged, merged
    assert "esc=C:\\\\path\n" in merged, merged
    assert dict(javaproperties.loads(merged)) == dict(javaproperties.loads(old)) | {}
    # Second review: read back as the template's line writes it, separator
    # and all ("key =start" is start to Java, where the live key==start is =start).
    spaced = review("config.dbHost=db\nkey==start\n", "config.dbHost={host}\nkey value\n")
    assert javaproperties.loads(spaced.merged_text())["key"] == "=start"
    typed = review(old, new)
    typed.set_value("url", "new#value")
    assert "url=new\\#value\n" in typed.merged_text()


def test_a_merge_an_older_runbook_escaped_is_spelled_alike_and_nothing_else_is() -> None:
    """A merge written before stop 50 escaped every value it rewrote: the same
    merge to Java, and so to the properties step's check. Only that: a value,
    a comment, a separator, a line break or a line of its own that differs
    is still a difference (a hand edit the step names before writing over)."""
    from runbook.properties import spelled_alike

    now = ("# comment\nconfig.dbPass=Xk9#pass\nurl = http://h:5080/a\n\n"
           "long=a\\\n  b\n#left=out\n")
    older = now.replace("Xk9#pass", "Xk9\\#pass").replace("http://h:5080/a",
                                                             "http\\://h\\:5080/a")
    assert older != now and spelled_alike(older, now) and spelled_alike(now, older)
    for other in [
        now.replace("Xk9#pass", "Xk9#other"),         # another value
        now.replace("Xk9#pass", "Xk9\\#other"),      # another, escaped
        now.replace("# comment", "# Comment"),        # a comment
        now.replace("url = ", "url="),                # the separator
        now.replace("url = ", " url = "),             # the indentation
        now.replace("\n\n", "\n"),                    # a blank line gone
        now.replace("long=a\\\n  b", "long=ab"),      # a continued line joined
        now.replace("#left=out", "left=out"),          # a key commented in
        now + "extra=1\n",                           # a line more
        now.replace("config.dbPass=Xk9#pass\n", "config.dbPass=Xk9#pass\r\n"),
    ]:
        assert not spelled_alike(older, other), other
    assert not spelled_alike(now, "bad=\\uZZZZ\n")


def test_a_live_file_that_ends_mid_value_is_refused_as_cut_short() -> None:
    """Diff trial (stop 50): a live file cut off inside its last value
    (proxy.enabled=tr, no line break after it) was carried over as it was;
    Spring would refuse `tr` for a boolean with the stream manager down. A
    last line without a break whose value is of the template's kind is fine."""
    new = "config.dbHost={host}\nconfig.dbPort=3306\nconfig.dbUser={username}\n" \
          "config.dbPass={password}\nproxy.enabled=false\n"
    old = "config.dbHost=db\nconfig.dbPort=3306\nconfig.dbUser=u\nconfig.dbPass=p\n"
    with pytest.raises(PropertiesError, match=r"proxy\.enabled.*cut short"):
        review(old + "proxy.enabled=tr", new)
    assert review(old + "proxy.enabled=true", new)["proxy.enabled"].merged == "true"
    assert review(old + "proxy.enabled=tr\n", new)["proxy.enabled"].merged == "tr"


def test_duplicates_in_the_template_change_only_the_line_java_reads() -> None:
    new = "a={x}\nb=1\na={y}\n"
    result = review("a=real\n", new)
    assert result.duplicates == [Duplicate("new", "a", (1, 3))]
    assert result["a"].new == "{y}" and result["a"].new_line == 3
    assert result.merged_text() == "a={x}\nb=1\na=real\n"


def test_leftover_placeholders_are_reported_after_the_merge() -> None:
    result = live_review()
    assert result.leftover_placeholders == ["serverapi.accessToken"]
    result.set_value("serverapi.accessToken", "node-token-123")
    assert result.leftover_placeholders == []
    carried = review("user={username}\n", "user={user}\n")
    assert carried["user"].status is Status.CARRIED
    assert carried.leftover_placeholders == ["user"]


# --- decisions in the model ------------------------------------------------------------


def test_needs_value_is_decided_only_by_a_value_or_an_explicit_empty() -> None:
    result = live_review()
    with pytest.raises(DecisionError, match="placeholder"):
        result.accept_new("serverapi.accessToken")
    with pytest.raises(DecisionError, match="no old value"):
        result.keep_old("serverapi.accessToken")
    result.set_value("serverapi.accessToken", "node-token-123")
    assert result.undecided == []
    assert result["serverapi.accessToken"].choice is Choice.SET
    blank = review("other=1\n", "streammanager.ip=\n")
    assert blank.undecided == ["streammanager.ip"]
    blank.accept_new("streammanager.ip")
    assert blank.undecided == [] and blank["streammanager.ip"].merged == ""


def test_a_blank_live_value_where_the_new_template_expects_one_is_asked_about() -> None:
    # Trial 57 F15: 5.1.1 ships serverapi.accessToken blank and 6.2.0 with a
    # placeholder, and the docs list it among the keys to port by hand; a
    # blank carried over the template's "give a value here" went unasked.
    live, template = "serverapi.accessToken=\n", "serverapi.accessToken={node api security token}\n"
    result = review(live, template)
    kr = result["serverapi.accessToken"]
    assert kr.merged == "" and kr.is_open
    assert result.open_keys == ["serverapi.accessToken"]
    headline = render_review(result).splitlines()[1]
    assert "blank" in headline and "serverapi.accessToken" in headline
    # Keeping it blank is a decision like giving a value.
    result.keep_old("serverapi.accessToken")
    assert result.open_keys == [] and result["serverapi.accessToken"].merged == ""
    confirmed = review(live, template)
    confirmed.confirm("serverapi.accessToken")
    assert confirmed.open_keys == [] and confirmed["serverapi.accessToken"].merged == ""
    # A blank over a template's real default, or over its blank, is no question.
    assert review("rest.administratorToken=\n", "rest.administratorToken=\n").open_keys == []
    assert review("proxy.enabled=\n", "proxy.enabled=false\n").open_keys == []


def test_decision_methods_for_each_status() -> None:
    result = live_review()
    with pytest.raises(DecisionError, match="placeholder"):
        result.accept_new("config.dbUser")
    result.accept_new("proxy.enabled")
    assert result["proxy.enabled"].merged == "false"
    result.keep_old("proxy.enabled")
    assert result["proxy.enabled"].merged == "true"
    result.accept_new("aws.vpcName")  # leave the template's line commented out
    assert result["aws.vpcName"].merged is None
    assert "#aws.vpcName={vpcname}\n" in result.merged_text()
    result.accept_new("instancecontroller.httptimeout")
    assert result["instancecontroller.httptimeout"].acknowledged
    result.keep_old("instancecontroller.recycleDeadNodes")
    assert result["instancecontroller.recycleDeadNodes"].choice is Choice.KEEP
    with pytest.raises(DecisionError, match="runbook"):
        result.set_value("config.dbHost", "elsewhere")
    with pytest.raises(DecisionError, match="only a removed key"):
        result.keep_removed("proxy.enabled")
    with pytest.raises(DecisionError, match="not a key"):
        result.set_value("no.such.key", "1")
    result.reset("proxy.enabled")
    assert result["proxy.enabled"].choice is None


# --- secrets ---------------------------------------------------------------------------


def test_renderings_mask_secrets_with_a_fingerprint_unless_revealed() -> None:
    result = live_review()
    text = render_review(result)
    as_json = str(review_to_json(result))
    for secret in LIVE_SECRETS:
        assert secret not in text and secret not in as_json
        assert fingerprint(secret) in text
    revealed = render_review(result, reveal=True)
    assert all(secret in revealed for secret in LIVE_SECRETS)
    assert "us-east-1a" in text  # not a secret


def test_equal_secrets_show_the_same_fingerprint() -> None:
    result = review("a.password=same\nb.token=same\n", "a.password={p}\nb.token=\n")
    assert result["a.password"].show("same") == result["b.token"].show("same")
    assert result["a.password"].show("other") != result["a.password"].show("same")


# --- decisions files -------------------------------------------------------------------


def decided_review() -> Review:
    result = live_review()
    result.set_value("serverapi.accessToken", "node-token-123")
    result.keep_removed("instancecontroller.recycleDeadNodes")
    result.set_value("instancecontroller.httptimeout", "45000")
    result.accept_new("store.usageStatsDiscardThresholdDays")
    return result


def test_decisions_round_trip_through_a_file(tmp_path: Path) -> None:
    result = decided_review()
    path = tmp_path / "decisions.toml"
    Decisions.from_review(result).save(path)
    text = path.read_text()
    assert text.startswith("# written by runbook; edit freely, comments are kept\n")
    assert "node-token-123" not in text  # a secret: stored by name only
    assert 'value_env = "RUNBOOK_SERVERAPI_ACCESSTOKEN"' in text
    plain = hashlib.sha256(b"smadmin").hexdigest()[:8]  # not a secret: a plain hash will do
    assert f'old_fingerprint = "{plain}"' in text
    assert "smadmin" not in text

    again = live_review(decisions=Decisions.load(path))
    outcome = again.decision_result
    assert outcome is not None
    assert outcome.missing_env == {"serverapi.accessToken": "RUNBOOK_SERVERAPI_ACCESSTOKEN"}
    assert again.undecided == ["serverapi.accessToken"]

    loaded = Decisions.load(path)
    again = live_review()
    outcome = loaded.apply(again, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"})
    assert outcome.reopened == [] and outcome.rejected == {} and not outcome.old_changed
    assert sorted(outcome.skipped) == []  # overridden keys are never recorded
    assert again.undecided == [] and again.unacknowledged == [
        "instancecontroller.checkCorruptedNodes",
        "instancecontroller.corruptedNodeCheckInterval",
        "instancecontroller.corruptedNodesEndPoint",
    ]
    assert again.merged_text() == result.merged_text()


def test_rewriting_a_decisions_file_keeps_the_operators_comments(tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    edited = path.read_text().replace(
        '[keys."proxy.enabled"]\n', '[keys."proxy.enabled"]\n# WebRTC needs this: keep true\n'
    )
    path.write_text(edited)
    decisions = Decisions.load(path)
    result = live_review()
    decisions.apply(result, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "t"})
    result.set_value("debug.logaccess", "true")
    decisions.record(result)
    decisions.save(path)
    text = path.read_text()
    assert "# WebRTC needs this: keep true\n" in text
    assert '[keys."debug.logaccess"]' in text and 'value = "true"' in text


def test_changed_live_file_reopens_only_the_keys_whose_value_changed(tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    changed = (
        LIVE.read_text()
        .replace("prodsm", "prodsm2")
        .replace("instancecontroller.recycleDeadNodes=true\n", "")
    )
    result = review(
        changed,
        TEMPLATE.read_text(),
        overrides=RUNBOOK_OVERRIDES,
        decisions=Decisions.load(path),
    )
    outcome = result.decision_result
    assert outcome is not None and outcome.old_changed and not outcome.new_changed
    assert outcome.reopened == ["instancecontroller.instanceNamePrefix"]
    assert outcome.stale == ["instancecontroller.recycleDeadNodes"]
    assert "instancecontroller.instanceNamePrefix" in result.undecided
    assert result["instancecontroller.instanceNamePrefix"].reopened
    # Meanwhile the merged file shows the live value, as the default would.
    assert result["instancecontroller.instanceNamePrefix"].merged == "prodsm2"
    assert result["instancecontroller.httptimeout"].merged == "45000"


def reviewed_then_changed(tmp_path: Path) -> Review:
    """Trial 53's properties step: decided, then the live file changed: a key
    added (my.new.key), one deleted (debug.logaccess), a password rotated."""
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    changed = (LIVE.read_text(encoding="latin-1")
               .replace("debug.logaccess=false\n", "")
               .replace("cluster.password=cl-9f2e-live", "cluster.password=cl-rotated")
               + "my.new.key=mine\n")
    result = review(changed, TEMPLATE.read_text(encoding="latin-1"),
                    overrides=RUNBOOK_OVERRIDES)
    result.decision_result = Decisions.load(path).apply(
        result, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"})
    return result


def test_a_key_added_to_or_gone_from_the_live_file_is_reopened_as_such(tmp_path: Path) -> None:
    """Trial 53: a key new in the live file and one deleted from it were both
    "REOPENED: the live value changed since it was decided"."""
    result = reviewed_then_changed(tmp_path)
    outcome = result.decision_result
    assert outcome is not None
    assert sorted(outcome.reopened) == ["cluster.password", "debug.logaccess", "my.new.key"]
    assert result["my.new.key"].reopened == ("the key was added to the live file since it "
                                             "was decided"), result["my.new.key"].reopened
    assert result["debug.logaccess"].reopened == ("the key is gone from the live file since "
                                                  "it was decided")
    assert result["cluster.password"].reopened == "the live value changed since it was decided"
    shown = render_review(result)
    assert "REOPENED: the key was added to the live file" in shown
    assert "REOPENED: the key is gone from the live file" in shown
    # Of all three, not "live value changed" (a key added or gone has none).
    assert "reopened (changed in the live file since the review): " in shown, shown


def test_saving_without_deciding_a_reopened_key_keeps_it_reopened(tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    changed = LIVE.read_text().replace("prodsm", "prodsm2")
    env = {"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"}

    def reviewed(decisions: Decisions) -> Review:
        result = review(changed, TEMPLATE.read_text(), overrides=RUNBOOK_OVERRIDES)
        decisions.apply(result, env=env)
        return result

    decisions = Decisions.load(path)
    first = reviewed(decisions)
    assert first.undecided == ["instancecontroller.instanceNamePrefix"]
    decisions.record(first)  # e.g. the editor saves on quit, nothing decided yet
    decisions.save(path)
    again = reviewed(Decisions.load(path))
    assert again.undecided == ["instancecontroller.instanceNamePrefix"]
    # Once decided and saved, it applies quietly.
    again.keep_old("instancecontroller.instanceNamePrefix")
    decisions = Decisions.load(path)
    decisions.record(again)
    decisions.save(path)
    assert reviewed(Decisions.load(path)).undecided == []
    # A fresh file written from a review with a reopened key keeps it reopened too.
    fresh = Decisions.loads(Decisions.from_review(first).dumps())
    assert reviewed(fresh).undecided == ["instancecontroller.instanceNamePrefix"]


def test_a_rejected_decision_survives_a_save_and_is_rejected_again() -> None:
    decisions = Decisions.loads('[keys."proxy.enabled"]\naction = "drop"\n')
    result = live_review(decisions=decisions)
    assert result.undecided == ["serverapi.accessToken", "proxy.enabled"]
    decisions.record(result)
    assert 'action = "drop"' in decisions.dumps()
    again = live_review(decisions=Decisions.loads(decisions.dumps()))
    assert again.decision_result is not None
    assert list(again.decision_result.rejected) == ["proxy.enabled"]


def test_reviewing_the_written_file_again_is_stable(tmp_path: Path) -> None:
    # The properties step re-reviews the written file to check and verify it.
    first = decided_review()
    decisions = Decisions.from_review(first)
    written = first.merged_text()
    env = {"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"}
    second = review(LIVE.read_text(), written, overrides=RUNBOOK_OVERRIDES)
    outcome = decisions.apply(second, env=env)
    assert outcome.rejected == {} and second.undecided == []
    assert second.merged_text() == written


def test_a_secret_whose_variable_is_not_set_is_not_called_a_changed_live_value(
        tmp_path: Path) -> None:
    """Operator trial (stop 26): a secret decided by name (value_env), with that
    variable not exported, was flagged "REOPENED: the live value changed since
    it was decided", the live file unchanged. The fix is one export; the words
    sent the operator to review the file again."""
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    again = live_review(decisions=Decisions.load(path))
    text = render_review(again)
    assert "live value changed" not in text, text
    assert "REOPENED: its value comes from $RUNBOOK_SERVERAPI_ACCESSTOKEN, which is not set" \
        in text, text


def test_a_plain_secret_value_in_a_decisions_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text('[keys."config.dbPass"]\naction = "set"\nvalue = "hunter2"\n')
    with pytest.raises(DecisionsError) as caught:
        Decisions.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 3: key 'config.dbPass':")
    assert "hunter2" not in message and "value_env" in message


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ('[keys."a.b"]\naction = "keep-olde"\n', 2, "a.b", "unknown action 'keep-olde'"),
        ('[inputs]\nold_sha256 = "x"\n[keys."a.b"]\naction = "set"\n', 4, "a.b", "exactly one"),
        ('[keys.k]\naction = "drop"\nvaleu = "x"\n', 3, "k", "unknown field 'valeu'"),
        ('[keys."k"]\naction = "keep"\nvalue = "x"\n', 3, "k", 'only go with action = "set"'),
        ('[keys."k"]\naction = "set"\nvalue = 3306\n', 3, "k", "quoted string"),
        ("[keys]\nk = 1\n", 2, "k", "must be a table"),
        ('[keys."k"]\naction = "set"\nvalue = \n', 3, None, "not valid TOML"),
        ('[key."k"]\naction = "set"\n', 1, None, 'unknown section "key"'),
    ],
)
def test_bad_decisions_files_give_one_line_with_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str | None, words: str
) -> None:
    path = tmp_path / "d.toml"
    path.write_text(text)
    with pytest.raises(DecisionsError) as caught:
        Decisions.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line {line}:")
    assert words in message
    if key is not None:
        assert f"key {key!r}" in message


def test_decisions_that_no_longer_fit_are_rejected_and_reopened() -> None:
    decisions = Decisions.loads(
        '[keys."proxy.enabled"]\naction = "drop"\n'
        '[keys."config.dbHost"]\naction = "keep-old"\n'
        '[keys."serverapi.accessToken"]\naction = "accept-new"\n'
    )
    result = live_review(decisions=decisions)
    outcome = result.decision_result
    assert outcome is not None
    assert set(outcome.rejected) == {"proxy.enabled", "serverapi.accessToken"}
    assert outcome.skipped == ["config.dbHost"]  # the runbook's new database wins
    assert result["config.dbHost"].merged == NEW_DB
    assert set(result.undecided) == {"proxy.enabled", "serverapi.accessToken"}


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"a=1\nb=caf\\u00g9\n", 2, "not a valid \\uXXXX escape"),
        (b"a=1\nb=one, \\\n   two \\u12\n", 3, "not a valid \\uXXXX escape"),
        (b"a=1\nb=cut off \\", 2, "ends with a backslash"),
        (b"a=1\nb=cut off \\\n", 2, "ends with a backslash"),
        (b"a=1\r\nb=x \\\r\n  y \\\r\n", 3, "ends with a backslash"),
        (b"a=1\n\x00\x00b\x00=\x001\n", 2, "NUL byte"),
        (b"a=1\nb=2\n\x07\x01\x02", 3, "control byte"),
        # Saved by an editor that marks UTF-8: Java reads the mark as three characters
        # of the first line, so its first key is not the key the operator sees.
        (b"\xef\xbb\xbfa=1\nb=2\n", 1, "byte order mark"),
        (b"\xef\xbb\xbf## Red5 Pro\nb=2\n", 1, "byte order mark"),
    ],
)
def test_bad_files_give_one_line_naming_file_and_line(
    tmp_path: Path, content: bytes, line: int, words: str
) -> None:
    path = tmp_path / "red5-web.properties"
    path.write_bytes(content)
    with pytest.raises(PropertiesError) as caught:
        review_files(path, TEMPLATE)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line {line}: ")
    assert words in message


def test_missing_file_and_directory_name_the_path(tmp_path: Path) -> None:
    for path, words in [(tmp_path / "nope.properties", "no such file"), (tmp_path, "directory")]:
        with pytest.raises(PropertiesError) as caught:
            review_files(TEMPLATE, path)
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"{path}: ") and words in message


def test_bad_template_text_is_named_by_its_name() -> None:
    with pytest.raises(PropertiesError, match=r"^template: line 1: "):
        review("a=1\n", "x=\\uZZZZ\n", new_name="template")


def test_latin1_bytes_are_read_as_java_reads_them_and_written_back_unchanged() -> None:
    data = "# caf\u00e9\nname=Z\u00fcrich\n".encode("utf-8") + b"legacy=\xe9\n"
    text = decode_properties(data, "live")
    result = review(text, text)
    assert result["name"].old == "Z\u00c3\u00bcrich"  # what Properties.load sees in UTF-8 bytes
    assert result["legacy"].old == "\u00e9"
    assert encode_properties(result.merged_text()) == data


def test_diff_of_merge_is_small_and_readable() -> None:
    # A human-readable sanity check that reviewers can run: the unified diff of the
    # merge has one hunk line per decided key and nothing else.
    result = live_review()
    diff = list(
        difflib.unified_diff(template_lines(), result.merged_text().splitlines(keepends=True))
    )
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    assert len(removed) == len(changed_lines(result)) == 17


# --- files that cannot be a red5-web.properties ----------------------------------------


KEYLESS = {"empty": "", "blank lines": "\n\n", "only comments": "# webapp.contextPath\n#a=1\n"}


@pytest.mark.parametrize("text", KEYLESS.values(), ids=KEYLESS.keys())
@pytest.mark.parametrize("side", ["old", "new"])
def test_a_file_without_keys_is_refused_never_merged(side: str, text: str) -> None:
    live, template = LIVE.read_text(), TEMPLATE.read_text()
    old, new = (text, template) if side == "old" else (live, text)
    with pytest.raises(PropertiesError) as refused:
        review(old, new, old_name="live.properties", new_name="template.properties",
               overrides=RUNBOOK_OVERRIDES)
    message = str(refused.value)
    assert "\n" not in message
    named = "live.properties" if side == "old" else "template.properties"
    assert message.startswith(f"{named}: ") and "no keys" in message
    # What to do differs: the live file comes from a backup, the template from the zip.
    assert ("backup" if side == "old" else "release") in message


def test_a_template_cut_short_is_refused_naming_the_keys_it_lost() -> None:
    # The 7-line file: it still starts like a template.
    cut = "".join(template_lines()[:8])
    with pytest.raises(PropertiesError) as refused:
        review(LIVE.read_text(), cut, old_name="live", new_name="template")
    message = str(refused.value)
    assert "\n" not in message and message.startswith("template: ")
    assert "config.dbPass" in message and "proxy.enabled" in message
    assert "config.dbHost" not in message  # it is there; only what is missing is named


def test_a_live_file_cut_short_is_refused_too() -> None:
    cut = "".join(LIVE.read_text().splitlines(keepends=True)[:40])
    with pytest.raises(PropertiesError, match=r"^live: .*proxy\.enabled.*backup"):
        review(cut, TEMPLATE.read_text(), old_name="live", new_name="template")


# The rehearsal ships unchanged copies of the real templates (its data README
# says whence): read there, the cases run in any checkout, not only beside
# ../shared (test audit: two of them skipped in a clone of their own).
_SHIPPED = Path(__file__).parents[1] / "runbook" / "rehearsal" / "data"


@pytest.mark.parametrize("path", [
    _SHIPPED / "red5-web.properties.5.1.1.236",
    _SHIPPED / "red5-web.properties.6.2.0.b406",
    _SHIPPED / "red5-web.properties.api4",
    DOCS_SAMPLE, LIVE,
], ids=lambda p: p.name)
def test_every_shipped_template_and_real_file_passes_the_guard(path: Path) -> None:
    text = read_properties(path)
    assert review(text, TEMPLATE.read_text()).keys
    assert review(LIVE.read_text(), text).keys


def test_a_decisions_file_holds_no_tag_a_reader_could_check_a_guess_against() -> None:
    """The file is prepared days ahead and passed between engineers: the tag of a
    live secret must not confirm a guessed password by hashing it."""
    text = Decisions.from_review(decided_review()).dumps()
    for secret in LIVE_SECRETS:
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest()[:8] not in text
        assert fingerprint(secret) not in text  # nor this user's screen tag
    assert 'old_fingerprint = "scrypt:' in text


def test_secret_decisions_hold_on_another_engineers_machine(tmp_path: Path) -> None:
    from runbook.redact import use_tag_key

    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    before = use_tag_key(b"another engineer's key, not ours")
    try:
        again = live_review()
        outcome = Decisions.load(path).apply(
            again, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"})
    finally:
        use_tag_key(before)
    assert outcome.reopened == [] and again.undecided == []


def test_a_changed_live_secret_reopens_its_key(tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    changed = LIVE.read_text().replace("Xk9#live-db-pass", "Xk9#rotated-db-pass")
    result = review(changed, TEMPLATE.read_text(), overrides=RUNBOOK_OVERRIDES,
                    decisions=Decisions.load(path))
    outcome = result.decision_result
    assert outcome is not None and outcome.old_changed
    secret_keys = [kr.key for kr in result if kr.old == "Xk9#rotated-db-pass"]
    assert secret_keys and outcome.reopened == secret_keys


def test_an_older_files_plain_secret_tags_still_apply_and_are_salted_on_save(
        tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    salted = path.read_text()
    # As written before tags were salted: sha256(value)[:8] for every key.
    live = {kr.key: kr.old for kr in live_review() if kr.old is not None}

    def plain(match: re.Match[str]) -> str:
        digest = hashlib.sha256(live[match.group(1)].encode()).hexdigest()[:8]
        return f'{match.group(0).split("old_fingerprint")[0]}old_fingerprint = "{digest}"'

    older = re.sub(r'\[keys\."([^"]+)"\](?:\n#[^\n]*)*(?:\n\w+ = "[^"]*")*?\n'
                   r'old_fingerprint = "[^"]*"', plain, salted)
    assert "scrypt:" not in older
    path.write_text(older)
    decisions = Decisions.load(path)
    again = live_review()
    outcome = decisions.apply(again, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"})
    assert outcome.reopened == [] and again.undecided == []
    decisions.record(again)
    rewritten = decisions.dumps()
    for secret in LIVE_SECRETS:
        assert hashlib.sha256(secret.encode()).hexdigest()[:8] not in rewritten
    assert rewritten.count('old_fingerprint = "scrypt:') == salted.count(
        'old_fingerprint = "scrypt:') > 0


def test_saving_again_keeps_a_secrets_tag(tmp_path: Path) -> None:
    """No churn: a file kept in version control changes only where a decision did."""
    decisions = Decisions.from_review(decided_review())
    first = decisions.dumps()
    again = live_review()
    decisions.apply(again, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"})
    decisions.record(again)
    assert decisions.dumps() == first


@pytest.mark.parametrize("tag", ["“hand-typed”", "scrypt:zz:00", "scrypt:", "12345678"])
def test_a_hand_edited_tag_reopens_its_key_and_nothing_else(tmp_path: Path, tag: str) -> None:
    """Review: a tag with a curly quote in it (a hand edit) made the
    comparison raise, and the properties step fell over with a traceback."""
    path = tmp_path / "decisions.toml"
    Decisions.from_review(decided_review()).save(path)
    text = path.read_text()
    key = "config.dbPass"
    table = text.index(f'[keys."{key}"]')
    start = text.index("old_fingerprint = ", table)
    end = text.index("\n", start)
    path.write_text(text[:start] + f'old_fingerprint = "{tag}"' + text[end:])
    again = live_review()
    outcome = Decisions.load(path).apply(
        again, env={"RUNBOOK_SERVERAPI_ACCESSTOKEN": "node-token-123"})
    assert outcome.reopened == [key], outcome.reopened


def test_a_secret_tag_holds_after_its_key_stops_counting_as_secret() -> None:
    """Review: the tag's own form says how it was made; a key whose name no
    longer read as a secret (a change of the secret-name rule) kept its
    salted tag and was reopened on every run."""
    from runbook.properties.decisions import _same_old_value

    text = Decisions.from_review(decided_review()).dumps()
    table = text[text.index('[keys."config.dbPass"]'):]
    tag = re.search(r'old_fingerprint = "([^"]+)"', table)
    assert tag is not None and tag.group(1).startswith("scrypt:")
    kr = live_review()["config.dbPass"]
    assert _same_old_value(tag.group(1), kr)
    assert _same_old_value(tag.group(1), kr._replace(secret=False))
    assert not _same_old_value(tag.group(1), kr._replace(old="rotated"))


def test_a_secret_keys_template_placeholder_is_shown_as_the_placeholder_it_is() -> None:
    """Operator trial: `{password}` in the new template's config.dbPass read
    `•••••• [tag]` in --check, as if a password were set; it is the template's
    word for "nobody has decided", and hides nothing. A value with a real part
    beside a placeholder stays masked."""
    result = review("a.password=live\n", "a.password={password}\nb.token=x{n}\n")
    assert result["a.password"].show("{password}") == "{password}"
    assert result["b.token"].show("x{n}") != "x{n}"
    assert "{password}" in render_review(result)


def test_a_decided_keys_hint_to_decide_goes_and_comes_back_if_it_is_reopened(
    tmp_path: Path,
) -> None:
    """Operator trial: a key saved undecided got the hint 'to decide: action =
    "set" and then value = "..."'; decided and saved again, the hint stayed
    above its action, as if it were still open. An operator's own comment
    stays; a key undone again gets its hint back."""
    path = tmp_path / "decisions.toml"
    first = live_review()
    key = first.undecided[0]
    decisions = Decisions.from_review(first)
    decisions.save(path)

    def block(text: str) -> str:
        return text.split(f'[keys."{key}"]')[1].split("[keys.")[0]

    assert "to decide" in block(path.read_text())
    path.write_text(path.read_text().replace(
        f'[keys."{key}"]\n', f'[keys."{key}"]\n# asked the vendor, 3 May\n'))
    decisions = Decisions.load(path)
    second = live_review(decisions=decisions)
    second.set_value(key, "decided-now")
    decisions.record(second)
    decisions.save(path)
    decided = block(path.read_text())
    assert "to decide" not in decided and 'value = "..."' not in decided, decided
    assert "# asked the vendor, 3 May" in decided and f"{second[key].status}:" in decided

    third = live_review(decisions=Decisions.load(path))
    third.reset(key)
    decisions = Decisions.load(path)
    decisions.record(third)
    decisions.save(path)
    assert "to decide" in block(path.read_text()), block(path.read_text())


def test_a_file_too_big_is_said_at_its_size_not_rounded_down(tmp_path: Path) -> None:
    """Operator trial: a 3.99 MiB file was refused as "3 MiB", and one of 1.5
    MiB as "1 MiB", the limit itself."""
    path = tmp_path / "red5-web.properties"
    path.write_bytes(b"a=b\n" * (3 << 17))  # 1.5 MiB
    with pytest.raises(PropertiesError, match=r"is 1\.5 MiB"):
        read_properties(path)


def test_a_refused_decision_names_the_key_as_the_file_spells_it() -> None:
    """Review (stop after the escaped keys): the editor and --check show
    `weird\\=key` as the file spells it, but a refused decision still said
    "weird=key: ...", where the key ends a guess again. Every DecisionError
    names the key escaped, and a rejected recorded decision is said once,
    without its key repeated."""
    result = review("weird\\=key=true\nmy\\ odd\\:key=x\ngone\\=key=1\n",
                    "weird\\=key=false\nmy\\ odd\\:key={v}\nnew\\:key=\nset\\=key=1\n",
                    overrides={"set=key": "2"})
    refusals = [
        lambda: result.set_value("weird=key", "abc"),
        lambda: result.accept_new("my odd:key"),
        lambda: result.keep_old("new:key"),
        lambda: result.keep_removed("weird=key"),
        lambda: result.drop_removed("weird=key"),
        lambda: result.set_value("set=key", "3"),
        lambda: result.confirm("no=such"),
        lambda: result.reopen("no=such"),
    ]
    for refuse in refusals:
        with pytest.raises(DecisionError) as refused:
            refuse()
        said = str(refused.value)
        assert said.split(": ")[0] in {"weird\\=key", "my\\ odd\\:key", "new\\:key",
                                       "set\\=key", "no\\=such"}, said
    with pytest.raises(PropertiesError, match=re.escape("--set weird\\=key: the template")):
        review("weird\\=key=true\n", "weird\\=key=false\n", overrides={"weird=key": "abc"})
    decisions = Decisions.loads('[keys."weird=key"]\naction = "set"\nvalue = "abc"\n')
    again = review("weird\\=key=true\n", "weird\\=key=false\n", decisions=decisions)
    assert again.decision_result is not None
    why = again.decision_result.rejected["weird=key"]
    assert "weird" not in why, why  # said beside the key, not again
