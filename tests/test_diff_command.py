"""`runbook diff --check / --json` end to end on real files in a temporary directory."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import javaproperties
import pytest

from runbook import wholefile
from runbook.properties import Decisions, Status, diff_command, review_files

DATA = Path(__file__).parent / "data" / "properties"
SECRETS = [
    "Xk9#live-db-pass",
    "cl-9f2e-live",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "live-admin-7f3k",
]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, source in [
        ("live", "red5-web.properties.live"),
        ("template", "red5-web.properties.6.2.0.b406"),
        ("docs", "red5-web.properties.docs-aws-sample"),
    ]:
        paths[name] = tmp_path / source
        shutil.copyfile(DATA / source, paths[name])
    return paths


def run(
    old: Path,
    new: Path,
    *,
    sets: list[str] | None = None,
    decisions: Path | None = None,
    out: Path | None = None,
    check: bool = True,
    as_json: bool = False,
) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = diff_command(
        old,
        new,
        sets=sets or [],
        decisions=decisions,
        out=out,
        check=check,
        as_json=as_json,
        stdout=stdout,
        stderr=stderr,
    )
    return code, stdout.getvalue(), stderr.getvalue()


def test_exit_0_and_the_merged_file_when_nothing_needs_a_decision(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged.properties"
    code, text, err = run(
        filled_docs(files, tmp_path), files["template"], sets=["config.dbHost=db2.internal"],
        out=out,
    )
    assert code == 0, err
    assert "Nothing needs a decision" in text
    assert f"wrote the merged file to {out}" in err
    merged = javaproperties.loads(out.read_text(encoding="latin-1"))
    assert merged["config.dbHost"] == "db2.internal"
    assert merged["aws.accessKey"] == "aws.-real-17"
    assert "spring.jackson.default-property-inclusion" not in merged
    # Created private: it holds the database password and the tokens.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_merged_file_is_written_before_the_review_is_printed(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Operator trial: `diff ... --out FILE | head` said "the merged file can be
    written", exited 141 as the reader went away, and left no FILE: it was
    written only after the whole review had been printed."""
    out = tmp_path / "merged.properties"

    class GoneAfterALine(io.StringIO):
        def write(self, text: str) -> int:
            if self.tell() > 40:
                raise BrokenPipeError
            return super().write(text)

    with pytest.raises(BrokenPipeError):
        diff_command(filled_docs(files, tmp_path), files["template"],
                     sets=["config.dbHost=db2.internal"], decisions=None, out=out,
                     check=True, as_json=False, stdout=GoneAfterALine(), stderr=io.StringIO())
    merged = javaproperties.loads(out.read_text(encoding="latin-1"))
    assert merged["config.dbHost"] == "db2.internal"


NEW_DEFAULTS = (
    "store.usageStatsDiscardThresholdDays",
    "instancecontroller.checkCorruptedNodes",
    "instancecontroller.corruptedNodeCheckInterval",
    "instancecontroller.corruptedNodesEndPoint",
    "instancecontroller.httptimeout",
)


def confirm_new_defaults(text: str) -> str:
    """What an operator adds after looking at each new default: accept it."""
    for key in NEW_DEFAULTS:
        header = f'[keys."{key}"]\n'
        if header in text:
            text = text.replace(header, f'{header}action = "accept-new"\n')
        else:
            text += f'\n{header}action = "accept-new"\n'
    return text


def test_exit_1_lists_what_needs_a_decision_and_writes_nothing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged.properties"
    code, text, err = run(files["live"], files["template"], out=out)
    assert code == 1
    assert "1 key still needs a decision: serverapi.accessToken" in text
    assert "needs-value (1):" in text and "NEEDS A DECISION" in text
    assert "Note: config.dbHost keeps the live value" in text
    assert not out.exists()
    # New defaults count too until someone confirms them, as in the editor.
    assert f"not writing {out}: 6 keys still need a decision" in err
    assert "5 new defaults nobody has confirmed yet" in text
    assert "instancecontroller.httptimeout" in text


def test_set_decides_the_key_and_is_masked_when_secret(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged.properties"
    confirmed = tmp_path / "confirmed.toml"
    confirmed.write_text(confirm_new_defaults(""))
    code, text, err = run(
        files["live"],
        files["template"],
        sets=["serverapi.accessToken=node-tok-99", "config.dbHost=db-new.internal"],
        decisions=confirmed,
        out=out,
    )
    assert code == 0, err
    assert "node-tok-99" not in text
    assert "Note: config.dbHost" not in text
    written = javaproperties.loads(out.read_text(encoding="latin-1"))
    assert written["serverapi.accessToken"] == "node-tok-99"
    assert written["config.dbHost"] == "db-new.internal"


def test_runbook_overrides_and_set_together(files: dict[str, Path], tmp_path: Path) -> None:
    stdout = io.StringIO()
    code = diff_command(
        filled_docs(files, tmp_path),
        files["template"],
        sets=["config.dbPort=3307"],
        decisions=None,
        out=None,
        check=False,
        as_json=True,
        overrides={"config.dbHost": "from-runbook", "config.dbPort": "3306"},
        stdout=stdout,
        stderr=io.StringIO(),
    )
    assert code == 0
    keys = {entry["key"]: entry for entry in json.loads(stdout.getvalue())["keys"]}
    assert keys["config.dbHost"]["merged"] == "from-runbook"
    assert keys["config.dbPort"]["merged"] == "3307"  # --set is the later word
    assert keys["config.dbPort"]["status"] == "overridden"


def test_json_shape_with_secrets_masked(files: dict[str, Path]) -> None:
    code, text, err = run(files["live"], files["template"], check=False, as_json=True)
    assert code == 1 and err == ""
    document = json.loads(text)
    assert set(document["summary"]) == {str(s) for s in Status}
    assert document["summary"]["needs-value"] == 1
    assert sum(document["summary"].values()) == len(document["keys"])
    for entry in document["keys"]:
        assert {"key", "status", "old", "new", "merged"} <= set(entry)
    keys = {entry["key"]: entry for entry in document["keys"]}
    assert keys["aws.accessKey"]["status"] == "uncommented"
    assert keys["aws.accessKey"]["new"] is None
    assert keys["aws.accessKey"]["merged"].startswith("••••••")
    assert keys["config.dbUser"] == keys["config.dbUser"] | {
        "status": "carried",
        "old": "smadmin",
        "new": "{username}",
        "merged": "smadmin",
    }
    assert keys["instancecontroller.recycleDeadNodes"]["merged"] is None
    assert document["undecided"] == ["serverapi.accessToken"]
    assert document["duplicates"] == [
        {"file": str(files["live"]), "key": "proxy.enabled", "lines": [121, 124]}
    ]
    for secret in SECRETS:
        assert secret not in text
    # Each key says whether it is still open (operator trial, stop 39: an
    # unconfirmed new default read "decided": true, and a script that picked
    # the keys not decided found 1 of the 6 open).
    assert [e["key"] for e in document["keys"] if e["open"]] == document["open"]
    assert len(document["open"]) > len(document["undecided"])


def test_check_output_masks_secrets(files: dict[str, Path]) -> None:
    _, text, _ = run(files["live"], files["template"])
    for secret in SECRETS:
        assert secret not in text
    assert "•••••• [" in text


def bad_input_cases(tmp_path: Path, files: dict[str, Path]) -> list[tuple[str, dict, str]]:
    binary = tmp_path / "binary.properties"
    binary.write_bytes(b"a=1\n\x00\x01\x02\x03")
    escape = tmp_path / "escape.properties"
    escape.write_text("a=1\n\nb=\\u00zz\n")
    cut = tmp_path / "cut.properties"
    cut.write_text("a=1\nb=two \\")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('[keys."a"]\naction = keep-old\n')
    # Bad-input trial, stop 47: a RecursionError's traceback.
    deep_toml = tmp_path / "deep.toml"
    deep_toml.write_text("a = " + "[" * 500 + "]" * 500 + "\n")
    bad_action = tmp_path / "action.toml"
    bad_action.write_text('[keys."proxy.enabled"]\n\naction = "maybe"\n')
    bad_env = tmp_path / "env.toml"
    bad_env.write_text('[keys."cluster.password"]\naction = "set"\nvalue_env = "bad name"\n')
    template = files["template"]
    # Bad-input trial: 64 MB took 17 s and 1.7 GB before any word.
    huge = tmp_path / "huge.properties"
    huge.write_bytes(b"a=" + b"x" * (2 << 20) + b"\n")
    return [
        (f"{tmp_path / 'missing'}: no such file", {"old": tmp_path / "missing"}, "missing"),
        (f"{huge}: is 2 MiB", {"old": huge}, "huge"),
        (f"{tmp_path}: is a directory", {"new": tmp_path}, "directory"),
        (f"{binary}: line 2: contains a NUL byte", {"old": binary}, "binary"),
        (f"{escape}: line 3: ", {"new": escape}, "escape"),
        (f"{cut}: line 2: the last line ends with a backslash", {"old": cut}, "continuation"),
        ("--set 'oops': write it as KEY=VALUE", {"sets": ["oops"]}, "set without ="),
        ("--set '=…': write it as KEY=VALUE", {"sets": ["=1"]}, "set without key"),
        # Written the way Java also reads, the value may be a secret: not shown.
        ("--set 'cluster.password:…': write it as KEY=VALUE",
         {"sets": ["cluster.password:SECRET-ECHO-1"]}, "set with a colon"),
        ("--set 'cluster.password …': write it as KEY=VALUE",
         {"sets": ["cluster.password SECRET-ECHO-1"]}, "set with a space"),
        (f"{bad_toml}: line 2: not valid TOML", {"decisions": bad_toml}, "toml"),
        (f"{deep_toml}: not valid TOML (nested deeper", {"decisions": deep_toml}, "deep toml"),
        (
            f"{bad_action}: line 3: key 'proxy.enabled': unknown action 'maybe'",
            {"decisions": bad_action},
            "action",
        ),
        (f"{bad_env}: line 3: key 'cluster.password': value_env 'bad name' is not the name "
         "of an environment variable", {"decisions": bad_env}, "variable name"),
        ("runbook diff: the interactive editor", {"check": False}, "editor mode"),
        (
            f"{tmp_path / 'no' / 'dir.properties'}: cannot write the merged file",
            {"out": tmp_path / "no" / "dir.properties", "old": filled_docs(files, tmp_path)},
            "unwritable out",
        ),
        ("--set a: given twice", {"old": template, "sets": ["a=1", "a=2"]}, "set twice"),
        ("--set proxy.enabled: the template has", {"sets": ["proxy.enabled=maybe"]},
         "set of another kind"),
    ]


def test_bad_input_gives_one_line_on_stderr_and_exit_2(
    files: dict[str, Path], tmp_path: Path
) -> None:
    for expected, options, label in bad_input_cases(tmp_path, files):
        arguments: dict = {"old": files["live"], "new": files["template"], **options}
        old, new = arguments.pop("old"), arguments.pop("new")
        code, text, err = run(old, new, **arguments)
        assert code == 2, label
        assert err.count("\n") == 1 and err.endswith("\n"), (label, err)
        # Whose line it is, as every other runbook command says (operator trial).
        assert err.startswith("runbook diff: " + expected.removeprefix("runbook diff: ")), \
            (label, err)
        assert "Traceback" not in err
        if label != "unwritable out":
            assert text == "", label


def test_a_missing_decisions_file_is_started_and_then_decides(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "decisions.toml"
    out = tmp_path / "merged.properties"
    code, _, err = run(files["live"], files["template"], decisions=path)
    assert code == 1 and f"wrote {path}" in err
    text = path.read_text()
    assert '[keys."serverapi.accessToken"]' in text
    assert '# value_env = "RUNBOOK_SERVERAPI_ACCESSTOKEN"' in text
    for secret in SECRETS:
        assert secret not in text

    # The operator fills in the undecided key, by name as it is a secret, and
    # confirms the new defaults.
    path.write_text(confirm_new_defaults(
        text.replace(
            '[keys."serverapi.accessToken"]\n',
            '[keys."serverapi.accessToken"]\naction = "set"\n'
            'value_env = "RUNBOOK_SERVERAPI_ACCESSTOKEN"\n',
        )
    ))
    code, report, err = run(files["live"], files["template"], decisions=path, out=out)
    assert code == 1 and "environment variable RUNBOOK_SERVERAPI_ACCESSTOKEN" in report
    monkeypatch.setenv("RUNBOOK_SERVERAPI_ACCESSTOKEN", "node-tok-42")
    before = path.read_text()
    code, report, err = run(files["live"], files["template"], decisions=path, out=out)
    assert code == 0, report
    assert path.read_text() == before  # an existing decisions file is only read
    written = javaproperties.loads(out.read_text(encoding="latin-1"))
    assert written["serverapi.accessToken"] == "node-tok-42"


def test_a_decisions_file_written_with_set_keeps_what_set_decided(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Operator trial (stop 26): the editor, opened with --set, said every key
    was decided and w wrote the decisions file; that file alone then left the
    --set keys undecided. What --set decided is a decision: the file keeps it,
    a secret by name only (and --set is told to leave secrets off the command line)."""
    path = tmp_path / "decisions.toml"
    _, _, err = run(files["live"], files["template"], decisions=path,
                       sets=["instancecontroller.instanceNamePrefix=nightly",
                             "serverapi.accessToken=node-tok-77"])
    assert f"wrote {path}" in err
    assert "shell" in err and "serverapi.accessToken" in err, err
    text = path.read_text()
    assert "node-tok-77" not in text
    again = review_files(files["live"], files["template"], decisions=Decisions.load(path))
    assert again["instancecontroller.instanceNamePrefix"].merged == "nightly"
    outcome = again.decision_result
    assert outcome is not None
    assert outcome.missing_env == {"serverapi.accessToken": "RUNBOOK_SERVERAPI_ACCESSTOKEN"}


def test_reopened_keys_make_the_check_fail(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    run(files["docs"], files["template"], decisions=path)
    files["docs"].write_text(files["docs"].read_text().replace("jesnode", "jesnode2"))
    code, text, _ = run(files["docs"], files["template"], decisions=path)
    assert code == 1
    assert "reopened (changed in the live file since the review): " in text
    assert "instancecontroller.instanceNamePrefix" in text
    assert "REOPENED" in text


def test_out_replaces_an_existing_file_atomically_owner_only(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "merged.properties"
    out.write_text("previous\n")
    os.chmod(out, 0o640)

    def broken_replace(source: str | Path, target: str | Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wholefile.os, "replace", broken_replace)
    filled = filled_docs(files, tmp_path)
    code, _, err = run(filled, files["template"], out=out)
    assert code == 2 and "No space left on device" in err
    assert out.read_text() == "previous\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    monkeypatch.undo()
    code, _, _ = run(filled, files["template"], out=out)
    assert code == 0
    assert out.read_text(encoding="latin-1").startswith("## RED5 APP CONFIGURATION SECTION")
    # It holds the passwords in clear: a file made by `touch` (0644), or shared
    # with a group, does not share them (operator trial).
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_default_streams_are_the_ones_current_at_call_time(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = diff_command(
        filled_docs(files, tmp_path),
        files["template"],
        sets=["config.dbHost=x"],
        decisions=None,
        out=None,
        check=True,
        as_json=False,
    )
    assert code == 0
    assert "Nothing needs a decision" in capsys.readouterr().out


@pytest.mark.parametrize("empty", ["", "# nothing but a comment\n"], ids=["empty", "keyless"])
def test_an_empty_template_is_refused_by_runbook_diff_check(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], empty: str
) -> None:
    from runbook import cli

    new = tmp_path / "red5-web.properties"
    new.write_text(empty)
    code = cli.main(["diff", str(files["live"]), str(new), "--check"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"runbook diff: {new}: ") and "no keys" in err
    assert "Traceback" not in err and out == ""


# --- issue 11: what --check says agrees with its exit code -------------------------------

ROOT = Path(__file__).parents[1]
# The values Red5 publishes in its sample red5-web.properties (the AWS guide's "sample
# file content", tests/data/properties/red5-web.properties.docs-aws-sample) and ships
# in its templates (cluster.password=changeme): never anyone's real settings.
DOCS_SAMPLES = {
    "aws.accessKey": "ABCDEFGHIJKLMNOPQ",
    "aws.accessSecret": "12344556778abcdeFGHIJKLMNOPabud12345",
    "rest.administratorToken": "123abc",
    "serverapi.accessToken": "456xyz",
    "config.dbPass": "123445ffff",
    "cluster.password": "changeme",
}


def filled_docs(files: dict[str, Path], tmp_path: Path) -> Path:
    """The docs sample as an operator would have filled it in: no sample value left."""
    text = files["docs"].read_text()
    for key, value in DOCS_SAMPLES.items():
        text = text.replace(f"{key}={value}\n", f"{key}={key[:4]}-real-{len(value)}\n")
    text = text.replace("streammanager-db.abcdefghi.us-west-1", "sm-db.x7k2.us-west-1")
    path = tmp_path / "filled.properties"
    path.write_text(text)
    return path


def runbook_cli(*args: str, env: dict[str, str] | None = None,
                **options: object) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **options}
    result: subprocess.CompletedProcess[str] = subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args], text=True, cwd=ROOT, env=environ,
        timeout=60, **streams)  # type: ignore[call-overload]
    return result


def test_nothing_needs_a_decision_is_never_said_with_exit_1(files: dict[str, Path]) -> None:
    # Every key has a value, but five new defaults nobody has confirmed are still open.
    result = runbook_cli("diff", str(files["live"]), str(files["template"]),
                         "--set", "serverapi.accessToken=node-tok-99", "--check")
    assert result.returncode == 1, result.stderr
    assert "Nothing needs a decision" not in result.stdout
    assert "5 new defaults nobody has confirmed yet" in result.stdout
    for key in NEW_DEFAULTS:
        assert key in result.stdout.split("\n\n")[1]  # named in the headline


def test_nothing_needs_a_decision_goes_with_exit_0(files: dict[str, Path],
                                                   tmp_path: Path) -> None:
    result = runbook_cli("diff", str(filled_docs(files, tmp_path)), str(files["template"]),
                         "--set", "config.dbHost=db2.internal", "--check")
    assert result.returncode == 0, result.stdout
    assert "Nothing needs a decision" in result.stdout


def test_placeholders_left_in_the_merged_file_fail_the_check(
    files: dict[str, Path], tmp_path: Path
) -> None:
    # The live file never had its instance prefix filled in: the placeholder is carried.
    live = filled_docs(files, tmp_path)
    live.write_text(live.read_text().replace("NamePrefix=jesnode", "NamePrefix={unique-value}"))
    out = tmp_path / "merged.properties"
    code, text, err = run(live, files["template"], sets=["config.dbHost=db2"], out=out)
    assert code == 1
    assert "Nothing needs a decision" not in text
    assert "instancecontroller.instanceNamePrefix = {unique-value}" in text.split(
        "Placeholders still in the merged file")[1]
    assert "instancecontroller.instanceNamePrefix" in text.split("\n\n")[1]
    assert not out.exists() and "not writing" in err
    document = json.loads(run(live, files["template"], sets=["config.dbHost=db2"],
                              check=False, as_json=True)[1])
    assert document["leftover_placeholders"] == ["instancecontroller.instanceNamePrefix"]
    assert document["open"] == ["instancecontroller.instanceNamePrefix"]


def test_sample_values_left_in_the_merged_file_fail_the_check_until_decided(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged.properties"
    code, text, _ = run(files["docs"], files["template"], sets=["config.dbHost=db2"], out=out)
    assert code == 1
    assert "Nothing needs a decision" not in text
    samples = text.split("Sample values still in the merged file")[1]
    for key in DOCS_SAMPLES:
        assert f"  {key} = " in samples, key
    for value in DOCS_SAMPLES.values():  # secrets all: masked like any other
        assert value not in text
    assert not out.exists()
    document = json.loads(run(files["docs"], files["template"], sets=["config.dbHost=db2"],
                              check=False, as_json=True)[1])
    assert sorted(document["sample_values"]) == sorted(DOCS_SAMPLES)

    # Someone who looked and means it (cluster.password really is changeme on the nodes)
    # says so in the decisions file; the rest get real values.
    decisions = tmp_path / "decisions.toml"
    decisions.write_text('[keys."cluster.password"]\naction = "keep-old"\n')
    sets = [f"{key}=real-{n}" for n, key in enumerate(DOCS_SAMPLES) if key != "cluster.password"]
    code, text, _ = run(files["docs"], files["template"], decisions=decisions, out=out,
                        sets=["config.dbHost=db2", *sets])
    assert code == 0, text
    assert "Sample values still" not in text
    assert javaproperties.loads(out.read_text())["cluster.password"] == "changeme"


def test_the_template_s_own_secret_is_a_sample_value(tmp_path: Path) -> None:
    # cluster.password=changeme ships in both real templates; a live file that kept it
    # leaves it in the merged file, and so does a new key with a shipped secret.
    shipped = (ROOT / "runbook/rehearsal/data/red5-web.properties.6.2.0.b406").read_text()
    assert "\ncluster.password=changeme\n" in shipped
    new = tmp_path / "new.properties"
    new.write_text(shipped + "\nstorage.secretKey=s3-sample-key\n")
    old = tmp_path / "old.properties"
    old.write_text(shipped.replace("{", "x").replace("}", "x"))
    code, text, _ = run(old, new)
    assert code == 1
    samples = text.split("Sample values still in the merged file")[1]
    assert "  cluster.password = " in samples and "  storage.secretKey = " in samples
    # Listed in its group too, although the live file and the template agree on it.
    unchanged = text.split("\nunchanged (")[1].split("\n\n")[0]
    assert "cluster.password = " in unchanged
    # Trial 53: the review urged a new password and never said the nodes must
    # hold the same one (FACTS §1.4), so --check says it at the key.
    entry = re.split(r"\n  (?! )", unchanged.split("cluster.password = ")[1])[0]
    assert "conf/cluster.xml" in entry and "cannot join" in entry, entry


def test_output_into_a_closed_pipe_ends_quietly(files: dict[str, Path]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`| head`) is gone before the first line
    try:
        result = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                             stdout=write_end)
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run runbook with its stdout on a pseudo-terminal; what the terminal got."""
    main, side = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    process = subprocess.Popen([sys.executable, "-m", "runbook.cli", *args], cwd=ROOT,
                               stdout=side, stderr=subprocess.DEVNULL,
                               env={**environ, "TERM": "xterm", **env})
    os.close(side)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    process.wait(timeout=60)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_none_with_no_color(files: dict[str, Path]) -> None:
    args = ["diff", str(files["live"]), str(files["template"]), "--check"]
    coloured = run_on_a_terminal(args, {})
    assert "\x1b[" in coloured and "NEEDS A DECISION" in coloured
    plain = run_on_a_terminal(args, {"NO_COLOR": "1"})
    assert "\x1b" not in plain and "NEEDS A DECISION" in plain
    # Not a terminal: never colour, whatever the environment says.
    assert "\x1b" not in runbook_cli(*args).stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[keys."proxy.enabled"]\nacton = "keep-old"\n',
         "line 2: key 'proxy.enabled': unknown field 'acton'; did you mean action?"),
        ('[keys."proxy.enabled"]\naction = "keep_old"\n',
         "line 2: key 'proxy.enabled': unknown action 'keep_old'; did you mean keep-old?"),
        ('[key."proxy.enabled"]\naction = "keep-old"\n',
         'line 1: unknown section "key"; did you mean [keys."NAME"]?'),
        ('[input]\nold_sha256 = "x"\n', 'line 1: unknown section "input"; did you mean [inputs]?'),
        ('[inputs]\nold_sha = "x"\n',
         "line 2: [inputs] has no 'old_sha'; did you mean old_sha256?"),
        # Trial: a dotted key left unquoted is a nest of tables to TOML.
        ('\n[keys.instancecontroller.httptimeout]\naction = "keep-old"\n',
         "line 2: [keys.instancecontroller.httptimeout]: a key with dots must be quoted, "
         'as in [keys."instancecontroller.httptimeout"]'),
    ],
    ids=["field", "action", "keys", "inputs", "input field", "unquoted key"],
)
def test_a_misspelt_name_in_the_decisions_file_gets_the_closest_known_one(
    files: dict[str, Path], tmp_path: Path, text: str, expected: str
) -> None:
    decisions = tmp_path / "decisions.toml"
    decisions.write_text(text)
    result = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                         "--decisions", str(decisions))
    assert result.returncode == 2
    assert result.stderr == f"runbook diff: {decisions}: {expected}\n"
    assert result.stdout == ""


def test_a_started_decisions_file_says_how_to_keep_a_sample_value(
    files: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "decisions.toml"
    code, _, _ = run(files["docs"], files["template"], sets=["config.dbHost=db2"], decisions=path)
    assert code == 1
    table = path.read_text().split('[keys."cluster.password"]\n')[1].split("\n[")[0]
    assert "Red5's sample value" in table and 'action = "keep-old"' in table
    assert "\naction" not in table  # a hint, not a decision: the key stays open


def test_a_set_key_the_template_has_only_commented_out_is_said_to_be_left_out(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Review: --set on a key the template ships commented out (and the live
    file lacks) went into the merged file but not into the decisions file
    written from that review, and nothing said so: the window went without
    it. Such a key is no key of the review without the --set, so no decisions
    file can decide it: the line says where it can be kept."""
    live = files["live"]
    live.write_bytes(b"".join(line for line in live.read_bytes().splitlines(keepends=True)
                              if not line.startswith(b"aws.defaultzone=")))
    path = tmp_path / "decisions.toml"
    _, _, err = run(live, files["template"], decisions=path,
                    sets=["aws.defaultzone=eu-west-1", "config.dbHost=db2"])
    said = [line for line in err.splitlines() if "aws.defaultzone" in line]
    assert len(said) == 1 and "not kept in " + str(path) in said[0], err
    assert "[properties] set" in said[0] and "commented out" in said[0], err
    # Without --decisions there is nothing to keep it in, and nothing to say.
    _, _, err = run(live, files["template"], sets=["aws.defaultzone=eu-west-1"])
    assert "aws.defaultzone" not in err, err


def test_a_set_key_neither_file_has_is_said_to_be_left_out_of_the_decisions_file(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """A key of one's own cannot be decided in a decisions file (applied
    without the --set, it is no key of either file): written from the review,
    the file leaves it out, and the line about the key says where it can be kept."""
    path = tmp_path / "decisions.toml"
    _, _, err = run(files["live"], files["template"], decisions=path,
                    sets=["my.own.key=1", "config.dbHost=db2"])
    assert "my.own.key" not in path.read_text()
    said = [line for line in err.splitlines() if "my.own.key" in line]
    assert len(said) == 1 and "not kept in " + str(path) in said[0], err
    assert "[properties] set" in said[0], err


@pytest.mark.parametrize("as_json", [False, True], ids=["check", "json"])
def test_a_set_key_neither_file_has_is_named_with_the_closest_known_one(
    files: dict[str, Path], as_json: bool
) -> None:
    """A typo in --set would add a key nobody reads and leave the real one as it
    was: with --json nothing else on screen would say so."""
    code, text, err = run(files["live"], files["template"], check=not as_json, as_json=as_json,
                          sets=["config.dbHots=db-new.internal", "config.dbPort=3307"])
    assert err == ("runbook diff: --set config.dbHots: neither file sets this key, so it goes "
                   "in as a new one; did you mean config.dbHost?\n")
    assert code == 1
    # Kept as asked: a key of one's own is allowed, and said once.
    if as_json:
        added = [k for k in json.loads(text)["keys"] if k["key"] == "config.dbHots"]
        assert [(k["old"], k["new"], k["merged"]) for k in added] == \
            [(None, None, "db-new.internal")]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("which", ["old", "decisions"])
def test_a_fifo_is_refused_not_waited_on(files: dict[str, Path], tmp_path: Path,
                                         which: str) -> None:
    """Operator trial: `runbook diff` of a FIFO hung for ever, with no word."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    if which == "old":
        code, _text, err = run(fifo, files["template"])
    else:
        code, _text, err = run(files["live"], files["template"], decisions=fifo)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{fifo}: is not a regular file" in err, err


@pytest.mark.parametrize("over", ["old", "new", "decisions"])
def test_out_never_writes_over_a_file_the_review_reads(
        files: dict[str, Path], tmp_path: Path, over: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: `--out` naming the decisions file wrote the merged
    properties, secrets in clear, over it (a file meant to be shared), and
    `--out` naming the live copy replaced it; both with exit 0."""
    from runbook import cli
    from runbook.cli import terminal

    monkeypatch.setattr(terminal, "on_a_terminal", lambda: True)  # the editor's refusal too

    decisions = tmp_path / "decisions.toml"
    run(files["live"], files["template"], decisions=decisions)  # a starter file
    paths = {"old": files["live"], "new": files["template"], "decisions": decisions}
    before = {name: path.read_bytes() for name, path in paths.items()}
    # Named another way than it was given: through a symlink.
    alias = tmp_path / "alias"
    alias.symlink_to(paths[over])
    for mode in (["--check"], []):  # the check and the editor alike
        code = cli.main(["diff", str(files["live"]), str(files["template"]), "--decisions",
                         str(decisions), "--out", str(alias), *mode])
        err = capsys.readouterr().err
        assert code == 2, (mode, err)
        assert err.count("\n") == 1 and "--out" in err and str(paths[over]) in err, err
    assert {name: path.read_bytes() for name, path in paths.items()} == before


def test_a_decisions_file_saved_with_a_byte_order_mark_is_read(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Operator trial: it gave "line 1: not valid TOML (Invalid statement)"."""
    path = tmp_path / "decisions.toml"
    run(files["live"], files["template"], decisions=path, sets=["config.dbPort=3307"])
    marked = tmp_path / "marked.toml"
    marked.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert Decisions.load(marked).dumps() == Decisions.load(path).dumps()


def _finished_decisions(files: dict[str, Path], tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> Path:
    """A decisions file that decides every key, so --out is written."""
    result = review_files(files["live"], files["template"])
    for kr in list(result):
        if not kr.decided or not kr.acknowledged:
            if kr.status is Status.NEW_DEFAULT:
                result.accept_new(kr.key)
            else:
                result.set_value(kr.key, kr.merged or "x")
    decisions = tmp_path / "decisions.toml"
    Decisions.from_review(result).save(decisions)
    monkeypatch.setenv("RUNBOOK_SERVERAPI_ACCESSTOKEN", "node-token-7")  # the secret set
    return decisions


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_out_never_replaces_a_pipe_or_a_device(
        files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        kind: str) -> None:
    """Operator trial: `--out /dev/full` (run as root) replaced the device with
    a regular file of mode 0666 holding every secret of the merge, and said
    it wrote the merged file; `--out /dev/null` did the same to /dev/null."""
    decisions = _finished_decisions(files, tmp_path, monkeypatch)
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    else:  # a /dev/null of its own: the machine's must not be the one at stake
        target = tmp_path / "null"
        try:
            os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
    before = target.stat()
    code, _text, err = run(files["live"], files["template"], decisions=decisions, out=target)
    after = target.stat()
    assert (after.st_mode, after.st_ino, after.st_rdev) == \
        (before.st_mode, before.st_ino, before.st_rdev), "the pipe or device is still there"
    assert code == 2 and err.count("\n") == 1, err
    assert f"{target}: cannot write the merged file" in err and "not a regular file" in err, err


def test_out_through_a_symlink_writes_the_file_it_names_owner_only(
        files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The link stays a link; the merged file, which holds the passwords and
    tokens in clear, is readable by its owner alone even where the file it
    replaces was not."""
    decisions = _finished_decisions(files, tmp_path, monkeypatch)
    real = tmp_path / "merged.properties"
    real.write_text("old\n")
    real.chmod(0o644)
    link = tmp_path / "link.properties"
    link.symlink_to(real)
    code, _text, err = run(files["live"], files["template"], decisions=decisions, out=link)
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == real
    assert "node-token-7" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_a_default_the_template_changed_since_it_was_accepted_is_reopened(
        files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: a finished decisions file reused against a template whose
    defaults changed passed --check with exit 0, and `accept-new` took the new
    value nobody had seen; only a line at the bottom said the template changed."""
    live = files["live"]
    result = review_files(live, files["template"])
    accepted = [kr.key for kr in result if kr.status is Status.NEW_DEFAULT and not kr.secret
                and (kr.new or "").isdigit()]
    assert accepted, "the pair has a numeric new default"
    decisions = _finished_decisions(files, tmp_path, monkeypatch)
    assert run(live, files["template"], decisions=decisions)[0] == 0

    key = accepted[0]
    changed = tmp_path / "template-changed.properties"
    text = files["template"].read_text()
    old_line = f"{key}={result[key].new}\n"
    assert old_line in text
    changed.write_text(text.replace(old_line, f"{key}=5\n"))
    code, out, _err = run(live, changed, decisions=decisions)
    assert code == 1, out
    def row(name: str) -> str:  # the key's line and the indented lines under it
        return re.split(r"\n  (?=\S)", out.split(f"\n  {name} ", 1)[1], maxsplit=1)[0]

    assert "REOPENED" in row(key) and "template" in row(key), row(key)
    # An untouched default stays decided: only what changed is asked again.
    for other in accepted[1:]:
        assert "REOPENED" not in row(other), row(other)


def test_a_secret_whose_variable_is_empty_is_not_taken_as_set(
        files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: `export RUNBOOK_SERVERAPI_ACCESSTOKEN=$(...)` whose command
    failed left it empty, and --check passed with the token blank, "decided"."""
    path = tmp_path / "decisions.toml"
    run(files["live"], files["template"], decisions=path,
        sets=["serverapi.accessToken=node-tok-77"])
    monkeypatch.setenv("RUNBOOK_SERVERAPI_ACCESSTOKEN", "")
    again = review_files(files["live"], files["template"], decisions=Decisions.load(path))
    assert again.decision_result is not None
    assert again.decision_result.missing_env == {
        "serverapi.accessToken": "RUNBOOK_SERVERAPI_ACCESSTOKEN"}
    assert "serverapi.accessToken" in again.open_keys
    assert "empty" in again["serverapi.accessToken"].reopened


@pytest.mark.parametrize("as_json", [False, True])
def test_an_out_that_cannot_be_written_is_said_before_any_review_is_printed(
        files: dict[str, Path], tmp_path: Path, as_json: bool) -> None:
    """Operator trial: --check or --json with an --out in a folder that is not
    there printed the whole review (a script reading the JSON saw a normal one)
    and only then the one line, with exit 2."""
    code, text, err = run(filled_docs(files, tmp_path), files["template"],
                          out=tmp_path / "no" / "merged.properties", as_json=as_json)
    assert code == 2 and text == "", text[:200]
    assert err.count("\n") == 1 and "no/merged.properties" in err, err


def test_control_characters_in_keys_and_values_never_reach_the_terminal_raw(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Operator trial: a key holding ESC [2J cleared the terminal from `--check`
    and blanked the editor; values were escaped, keys were not. C1 controls
    (a UTF-8 file read as Latin-1 has them: the euro sign's 0x82) went raw too,
    and U+009B is a CSI to a terminal that takes 8-bit controls."""
    import re

    old, new = tmp_path / "old.properties", tmp_path / "new.properties"
    old.write_bytes(files["live"].read_bytes() + b"esc\x1b[2Jkey=1\nprice=5 \xe2\x82\xac\n")
    new.write_bytes(files["template"].read_bytes() + b"esc\x1b[2Jkey=2\nprice=\x9b31m\n")
    raw = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    for as_json in (False, True):
        _code, text, err = run(old, new, as_json=as_json)
        assert not raw.search(text + err), [m.group() for m in raw.finditer(text + err)]
        assert "esc" in text and "2Jkey" in text
    _code, text, _err = run(old, new, as_json=True)
    keys = {entry["key"] for entry in json.loads(text)["keys"]}
    assert "esc\x1b[2Jkey" in keys  # the JSON still says the key as it is


@pytest.mark.parametrize("form", ["--json", "--check"])
def test_a_reader_that_leaves_part_way_ends_the_review_with_141(
    tmp_path: Path, form: str
) -> None:
    """Trial: `runbook diff BIG BIG --json | head -c 10` exited 0. The document
    went out in one write, which the pipe took only in part: the rest was
    lost, no error came back, and the exit said all was written."""
    old, new = tmp_path / "old.properties", tmp_path / "new.properties"
    old.write_text("".join(f"key{n}=value{n}\n" for n in range(6000)))
    new.write_text("".join(f"key{n}=value{n}x\n" for n in range(6000)))
    process = subprocess.Popen([sys.executable, "-m", "runbook.cli", "diff", str(old),
                                str(new), form], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert len(process.stdout.read(10)) == 10
    process.stdout.close()  # `head -c 10` has what it wanted
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 141, err
    assert err == b""


def test_a_decision_for_a_key_neither_file_has_is_named_with_the_closest_known_one(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Trial: a misspelt key in the decisions file was said to be "in neither
    file any more", as if it had been, and nothing pointed at the key meant."""
    decisions = tmp_path / "decisions.toml"
    decisions.write_text('[keys."proxy.enabeld"]\naction = "set"\nvalue = "false"\n')
    _code, text, _err = run(files["live"], files["template"], decisions=decisions)
    line = next(line for line in text.splitlines() if "proxy.enabeld" in line)
    assert "any more" not in line, line
    assert "did you mean proxy.enabled?" in line, line


def test_a_set_key_close_to_a_secret_is_masked_as_one(files: dict[str, Path]) -> None:
    """Trial: `--set cluster.pasword=...` (a typo of a secret's name) showed its
    value in clear, while the warning itself named cluster.password."""
    _code, text, err = run(files["live"], files["template"], sets=["cluster.pasword=Sup3rS3cret"])
    assert "did you mean cluster.password?" in err
    assert "Sup3rS3cret" not in text + err
    _code, text, _err = run(files["live"], files["template"], as_json=True,
                            sets=["cluster.pasword=Sup3rS3cret"])
    assert "Sup3rS3cret" not in text
    # Review: only a near miss of a secret's name; cluster.passive is no
    # secret (masked, its value "3600" would be masked all through a run).
    _code, text, _err = run(files["live"], files["template"], as_json=True,
                            sets=["cluster.passive=3600"])
    entry = next(k for k in json.loads(text)["keys"] if k["key"] == "cluster.passive")
    assert entry["secret"] is False and entry["merged"] == "3600", entry


def test_secrets_by_their_usual_names_and_in_a_url_are_masked(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Diff trial (stop 50): a kept copy of the database password
    (config.dbPass.old, config.dbPass_bak, config.dbPassOld), other usual
    secret names and a password inside a jdbc URL were shown in clear by
    --check and --json, in the live file as in the template."""
    added = {"config.dbPass.old": "OLDPASS-1", "config.dbPass_bak": "OLDPASS-2",
             "config.dbPassOld": "OLDPASS-3", "private.key": "PRIVKEY-abc123",
             "jwt.signingKey": "JWT-SIGNING-abc123", "admin.pw": "ADMINPW-abc123",
             "oauth.bearer": "BEARER-abc123",
             "config.dbUrl": "jdbc:mysql://smadmin:URLPASS-abc123@db:3306/cluster",
             # Second review: a password as a URL's parameter.
             "config.dbUrl2": "jdbc:mysql://db:3306/cluster?user=sm&password=QPASS-abc123",
             # Re-trial: a service account's key, as JSON.
             "gcp.serviceAccount": '{"type":"service_account","private_key":"GCPK-abc123"}'}
    old, new = tmp_path / "old.properties", tmp_path / "new.properties"
    lines = "".join(f"{key}={value}\n" for key, value in added.items())
    old.write_text(files["live"].read_text() + lines, "latin-1")
    # Half of them the template has too (blank), half it no longer has.
    kept = list(added)[::2]
    new.write_text(files["template"].read_text() + "".join(f"{k}=\n" for k in kept), "latin-1")
    for as_json in (False, True):
        _code, text, err = run(old, new, as_json=as_json)
        shown = [value for value in added.values() if value in text + err]
        assert shown == [], (as_json, shown)
        # Second review: one given with --set, too.
        _code, text, err = run(old, new, as_json=as_json,
                               sets=["webhook.url=https://u:SETPASS-abc123@hooks/x"])
        assert "SETPASS-abc123" not in text + err, as_json


def test_a_file_that_is_no_red5_web_properties_is_named_so_not_a_cut_short_one(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Diff trial (stop 50): applicationContext.xml given for the live file
    (it sits beside red5-web.properties) was called cut short, with advice to
    restore the production file from a backup; only the path was wrong. A
    file that has the first Red5 keys and not the last is still cut short."""
    xml = tmp_path / "applicationContext.xml"
    xml.write_text('<?xml version="1.0"?>\n<beans>\n'
                   + "".join(f'  <property{n} name="p{n}" value="v{n}"/>\n' for n in range(30))
                   + "</beans>\n")
    code, _text, err = run(xml, files["template"])
    assert code == 2 and "cut short" not in err and "backup" not in err, err
    assert "does not look like a red5-web.properties" in err and "path" in err, err
    cut = tmp_path / "cut.properties"
    text = files["live"].read_text("latin-1")
    cut.write_text(text[:text.index("proxy.enabled")], "latin-1")
    code, _text, err = run(cut, files["template"])
    assert code == 2 and "cut short" in err, err
    assert "has it)" in err, err  # one key missing (re-trial: "has them")
    # Second review: cut off in its first lines, before config.dbHost.
    cut.write_text("".join(text.splitlines(keepends=True)[:3]), "latin-1")
    code, _text, err = run(cut, files["template"])
    assert code == 2 and "cut short" in err and "path" not in err, err



@pytest.mark.parametrize("text", ['{"a": 1}\n', "[server]\nport = 5080\nname = sm1\n", ""],
                         ids=["json", "toml", "empty"])
def test_a_small_file_with_none_of_the_red5_keys_is_named_not_a_red5_web_properties(
        files: dict[str, Path], tmp_path: Path, text: str) -> None:
    """Trial 57, F6: a.json ({"a": 1}) was said to lack config.dbHost and the
    rest, "may have been cut short", with advice to restore the live file
    from a backup; it was only the wrong file. None of the Red5 keys, and not
    one key the template has either: not red5-web.properties at all. A file
    with no keys at all is still cut short (a copy that failed)."""
    other = tmp_path / "a.json"
    other.write_text(text)
    for old, new in ((other, files["template"]), (files["live"], other)):
        code, _text, err = run(old, new)
        assert code == 2 and err.count("\n") == 1, err
        if not text:
            assert "cut short" in err, err
            continue
        assert "cut short" not in err and "backup" not in err, err
        assert "a.json: does not look like a red5-web.properties" in err, err
        assert "the live red5-web.properties first, then the new release's" in err, err


def test_json_stays_json_on_a_stdout_that_cannot_say_every_character(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """A value beyond what stdout's encoding holds (a terminal or pipe under an
    old locale) went out backslash-replaced, as \\xe9 or \\U0001f600, which is
    not JSON: `| jq` failed on the whole document."""
    encoding = "ascii"
    old, new = tmp_path / "old.properties", tmp_path / "new.properties"
    old.write_text(files["live"].read_text() + "name=caf\u00e9 \u20ac \U0001f600\n", "utf-8")
    new.write_text(files["template"].read_text() + "name=x\n", "utf-8")
    result = subprocess.run([sys.executable, "-m", "runbook.cli", "diff", str(old), str(new),
                             "--json"], cwd=ROOT, capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONIOENCODING": encoding})
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout.decode(encoding))
    entry = next(e for e in document["keys"] if e["key"] == "name")
    # The file is read as ISO-8859-1, as Java reads it: the same characters
    # must come back whatever stdout's encoding.
    expected = "caf\u00e9 \u20ac \U0001f600".encode("utf-8").decode("latin-1")
    assert entry["old"] == expected


def test_json_escapes_what_a_terminal_would_not_show_as_it_is(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Review: --json escaped only C1 and the line separators by a rule of its
    own; a right-to-left override (U+202E) went to the terminal raw and
    turned the rest of the line around. The JSON still says the value as it is."""
    old, new = tmp_path / "old.properties", tmp_path / "new.properties"
    value = "abc\u202edef\u200b\U000e0001"
    old.write_text(files["live"].read_text() + f"name={value}\n".replace("\\", "\\\\")
                   .encode("ascii", "backslashreplace").decode("ascii")
                   .replace("\\U000e0001", "\\udb40\\udc01"))
    new.write_text(files["template"].read_text() + "name=x\n")
    result = runbook_cli("diff", str(old), str(new), "--json")
    assert not any(c in result.stdout for c in "\u202e\u200b\U000e0001"), \
        [c for c in result.stdout if not (c.isprintable() or c == "\n")]
    entry = next(e for e in json.loads(result.stdout)["keys"] if e["key"] == "name")
    assert entry["old"] == value


def test_a_character_beyond_the_basic_plane_is_escaped_unambiguously() -> None:
    """Review: U+E0001 came out as \\ue0001, which reads as U+E000 and a 1."""
    from runbook.visible import visible

    assert visible("a\U000e0001b") == "a\\U000e0001b"
    assert visible("a\u202eb") == "a\\u202eb"


def test_out_never_writes_over_a_runs_journal(files: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Bad-input trial: `diff ... --out J`, J a run's journal, replaced the
    run's record with the merged file, secrets in clear; `report --out J`
    refuses. One another runbook has just claimed (its lock, no record yet)
    is one too."""
    from runbook import cli
    from runbook.journal import Journal, Record

    journal = Journal(tmp_path / "run.jsonl")
    journal.write(Record.RUN_START, host="sm1", steps=[])
    journal.close()
    before = journal.path.read_bytes()
    claimed = Journal(tmp_path / "claimed.jsonl")
    try:
        for out in (journal.path, claimed.path):
            code = cli.main(["diff", str(filled_docs(files, tmp_path)), str(files["template"]),
                             "--set", "config.dbHost=db2", "--out", str(out), "--check"])
            err = capsys.readouterr().err
            assert code == 2, err
            assert err.count("\n") == 1 and str(out) in err and "journal" in err, err
        assert journal.path.read_bytes() == before
        assert claimed.path.read_bytes() == b""
    finally:
        claimed.close()


def test_a_new_defaults_meaning_says_it_waits_for_a_confirmation(files: dict[str, Path]) -> None:
    """Operator trial (stop 39): every place said a new default "goes in
    unless someone changes it", beside "[not confirmed yet]" and exit 1."""
    code, text, _ = run(files["live"], files["template"])
    assert code == 1
    assert "goes in unless" not in text, text
    assert Status.NEW_DEFAULT.meaning.endswith("once someone confirms it or gives another value")


def test_a_decision_for_a_key_neither_file_has_is_said_on_stderr(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Operator trial: a misspelt key in the decisions file ([keys."config.dbUsr"],
    a value set) was said only on stdout, far down the review, and --check
    passed; `--set` with the same typo warns on stderr."""
    decisions = tmp_path / "decisions.toml"
    runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                "--decisions", str(decisions))
    decisions.write_text(decisions.read_text()
                         + '\n[keys."config.dbUsr"]\naction = "set"\nvalue = "newuser"\n')
    result = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                         "--decisions", str(decisions))
    warned = [line for line in result.stderr.splitlines() if "config.dbUsr" in line]
    assert len(warned) == 1, result.stderr
    assert warned[0].startswith(f"runbook diff: {decisions}: ")
    assert "neither file has" in warned[0] and "did you mean config.dbUser?" in warned[0]


def test_a_value_written_in_utf8_says_how_the_stream_manager_reads_it(
    files: dict[str, Path]
) -> None:
    """Operator trial: `prodé` typed into the live file by an editor saving
    UTF-8 showed as "prodÃ©" with no word of why. Java's Properties reads each
    byte as ISO-8859-1, so that is the value the stream manager runs with; the
    review says so, and how to write the character meant."""
    live = files["live"]
    text = live.read_bytes().replace(b"instancecontroller.instanceNamePrefix=",
                                     "instancecontroller.instanceNamePrefix=prodé-".encode(), 1)
    assert text != live.read_bytes()
    live.write_bytes(text)
    _code, out, _err = run(live, files["template"])
    # The key's entry: its line and the indented lines under it.
    entry = re.split(r"\n(?!      )", out[out.index("instancecontroller.instanceNamePrefix"):])[0]
    assert "prodÃ©-" in entry
    assert "UTF-8" in entry and "ISO-8859-1" in entry and "\\u00e9" in entry, entry


def test_a_utf8_value_in_the_template_alone_is_explained_in_check_and_json(
    files: dict[str, Path]
) -> None:
    """Trial 55 F8: a value saved as UTF-8 shows as Java reads it (ISO-8859-1),
    "ZÃ¼rich", which reads as runbook's garbling. --check explained it for
    the live value only, and --json not at all: a template value (here a new
    default the review keeps the live file's way of, given with --set) went
    unexplained, and a script reading --json had nothing to go by."""
    template = files["template"]
    shipped = b"instancecontroller.corruptedNodesEndPoint=live"
    assert shipped in template.read_bytes()
    template.write_bytes(template.read_bytes().replace(
        shipped, "instancecontroller.corruptedNodesEndPoint=livé".encode()))
    sets = ["instancecontroller.corruptedNodesEndPoint=live"]
    _code, out, _err = run(files["live"], template, sets=sets)
    at = out.index("instancecontroller.corruptedNodesEndPoint")
    entry = re.split(r"\n(?!      )", out[at:])[0]
    assert "livÃ©" in entry, entry
    assert "template is saved as UTF-8" in entry and "ISO-8859-1" in entry, entry
    assert "liv\\u00e9" in entry, entry
    _code, text, _err = run(files["live"], template, sets=sets, check=False, as_json=True)
    keys = {key["key"]: key for key in json.loads(text)["keys"]}
    assert keys["instancecontroller.corruptedNodesEndPoint"]["saved_as_utf8"] == [
        {"file": "template", "meant": "livé", "escaped": "liv\\u00e9"}]
    assert keys["config.dbUser"]["saved_as_utf8"] == []


def test_a_utf8_secret_in_json_says_the_file_but_not_the_value(files: dict[str, Path]) -> None:
    """As --check: the spelling meant of a secret would show the secret."""
    live = files["live"]
    text = live.read_bytes()
    assert b"\nconfig.dbPass=" in text
    live.write_bytes(text.replace(b"\nconfig.dbPass=", "\nconfig.dbPass=pé".encode(), 1))
    _code, out, _err = run(live, files["template"], check=False, as_json=True)
    keys = {key["key"]: key for key in json.loads(out)["keys"]}
    assert keys["config.dbPass"]["saved_as_utf8"] == [
        {"file": "live", "meant": None, "escaped": None}]
    assert "pé" not in out and "p\\u00e9" not in out


def test_the_refusals_say_each_name_once(files: dict[str, Path], tmp_path: Path) -> None:
    """Operator trial: "--out X is X, which the review reads", and "not
    applied to K: K: the template has ..."."""
    live = files["live"]
    result = runbook_cli("diff", str(live), str(files["template"]), "--out", str(live),
                         "--check")
    assert result.returncode == 2
    assert result.stderr.count(str(live)) == 1 and "the live file" in result.stderr, \
        result.stderr
    key = "instancecontroller.httptimeout"
    decisions = tmp_path / "decisions.toml"
    decisions.write_text(f'[keys."{key}"]\naction = "set"\nvalue = "30s"\n')
    _, text, _ = run(live, files["template"], decisions=decisions)
    for words in ("not applied to", "REOPENED"):
        said = [line for line in text.splitlines() if words in line]
        assert len(said) == 1 and said[0].count(key) <= 1, text


def test_check_and_json_together_are_refused(files: dict[str, Path]) -> None:
    """Operator trial: both printed JSON, silently: which one was meant is
    not runbook's to guess."""
    result = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check", "--json")
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert result.stderr.count("\n") == 1 and "--check" in result.stderr \
        and "--json" in result.stderr, result.stderr


def test_a_live_key_close_to_a_secret_is_masked_as_one(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Security trial: `cluster.pasword=...` in the live file (not only given
    with --set) showed its value in clear in the review, --check and --json,
    and so in the properties step's plan, journal and report."""
    live = tmp_path / "live.properties"
    live.write_text(files["live"].read_text() + "cluster.pasword=TYPOPW-SECRET-XYZ10\n")
    _code, text, err = run(live, files["template"], check=True)
    assert "cluster.pasword" in text + err and "TYPOPW" not in text + err, text + err
    _code, text, _err = run(live, files["template"], as_json=True)
    entry = next(k for k in json.loads(text)["keys"] if k["key"] == "cluster.pasword")
    assert entry["secret"] is True and "TYPOPW" not in text, entry
    # A live key merely near another (not a secret's) stays in clear.
    live.write_text(files["live"].read_text() + "cluster.passive=3600\n")
    _code, text, _err = run(live, files["template"], as_json=True)
    entry = next(k for k in json.loads(text)["keys"] if k["key"] == "cluster.passive")
    assert entry["secret"] is False, entry


def test_a_draft_a_killed_write_left_is_removed_by_the_next_write(tmp_path: Path) -> None:
    """Diff trial (stop 50): killed inside its fsync, a write left the target
    whole, and its hidden draft (the merged file: the database password and
    tokens, in clear) stayed for good, later runs never looking. A draft of
    another process writing now is left alone."""
    import time

    from runbook.wholefile import atomic_write

    target = tmp_path / "merged.properties"
    target.write_text("old\n")
    stale, fresh = tmp_path / ".merged.properties.jx31ob23.tmp", \
        tmp_path / ".merged.properties.ab12cd34.tmp"
    for draft in (stale, fresh):
        draft.write_text("config.dbPass=Xk9\n")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    other = tmp_path / ".other.properties.zz99yy88.tmp"
    other.write_text("x")
    os.utime(other, (hour_ago, hour_ago))
    atomic_write(target, b"new\n", private=True)
    assert target.read_text() == "new\n"
    assert not stale.exists() and fresh.exists() and other.exists()


def test_a_long_list_of_open_keys_is_named_in_part_in_the_headline(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Diff trial (stop 50): --check on a 1,000-key pair named all 1,005
    unconfirmed keys on its second line; each is listed below it anyway."""
    new = tmp_path / "new.properties"
    new.write_text(files["template"].read_text("latin-1")
                   + "".join(f"bulk.key{n}=default{n}\n" for n in range(60)), "latin-1")
    _code, text, _err = run(files["live"], new)
    headline = next(line for line in text.splitlines() if "nobody has confirmed" in line)
    assert "bulk.key0," in headline and "bulk.key59" not in headline, headline
    assert "more (listed below)" in headline and len(headline) < 600, headline
    assert "bulk.key59" in text  # in the listing below


def test_a_draft_whose_writer_was_killed_is_removed_at_once(tmp_path: Path) -> None:
    """Re-trial (stop 50): run again straight after a kill, a write kept the
    killed write's draft (the merged file, passwords in clear) and said
    nothing, as it was under ten minutes old. A writer's draft is held
    locked while it writes: one nobody holds is left over, whatever its age.
    A draft a living writer holds is kept, however old."""
    import fcntl
    import time

    from runbook.wholefile import atomic_write

    target = tmp_path / "merged.properties"
    target.write_text("old\n")
    killed = tmp_path / ".merged.properties.kl11ed22.tmp"
    # A writer that dies (kill -9) with its draft made and locked.
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "os.write(fd, b'config.dbPass=Xk9\\n')\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n", str(killed)],
        stdout=subprocess.PIPE, text=True)
    with writer:  # its pipe closed with it
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "held\n"
        finally:
            writer.kill()
    half_a_minute_ago = time.time() - 30
    os.utime(killed, (half_a_minute_ago, half_a_minute_ago))
    writing = tmp_path / ".merged.properties.wr33it44.tmp"
    writing.write_text("config.dbPass=Xk9\n")
    hour_ago = time.time() - 3600
    os.utime(writing, (hour_ago, hour_ago))
    with open(writing, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        atomic_write(target, b"new\n", private=True)
    assert target.read_text() == "new\n"
    assert not killed.exists(), "the killed write's draft is still there"
    assert writing.exists(), "a draft its writer still holds was removed"


def test_check_shows_a_key_with_escaped_separators_as_the_file_spells_it(
        tmp_path: Path) -> None:
    """Operator trial: `weird\\=key=x` was listed as "weird=key = x" and
    `my\\ odd\\:key` as "my odd:key": where the key ends was anyone's guess.
    A key is shown escaped, as the file spells it; the JSON keeps the key."""
    old, new = tmp_path / "live", tmp_path / "new"
    old.write_text("weird\\=key=x\nmy\\ odd\\:key=live\n")
    new.write_text("weird\\=key=y\nmy\\ odd\\:key=other\nnew\\:key=\n")
    code, out, _ = run(old, new)
    assert code == 1
    assert "weird\\=key = x" in out, out
    assert "my\\ odd\\:key = live" in out, out
    assert "a decision: new\\:key" in out, out  # the headline's names too
    assert "weird=key" not in out and "my odd:key" not in out and "new:key" not in out, out
    _, doc, _ = run(old, new, check=False, as_json=True)
    assert {k["key"] for k in json.loads(doc)["keys"]} == {"weird=key", "my odd:key", "new:key"}


def test_check_says_a_removed_key_differs_only_in_case_from_a_new_one(tmp_path: Path) -> None:
    """Operator trial: serverApi.port in the live file and serverapi.port in
    the template were listed as removed and new default, nothing relating
    them: Java keys are case-sensitive, and the live value would be lost."""
    old, new = tmp_path / "live", tmp_path / "new"
    old.write_text("serverApi.port=5080\nother.key=1\n")
    new.write_text("serverapi.port=8080\nother.key=1\n")
    _, out, _ = run(old, new)

    def entry(key: str) -> str:  # its line, and the deeper ones below it
        lines = out.splitlines()
        start = lines.index(next(line for line in lines if line.startswith(f"  {key} ")))
        below = lines[start + 1:]
        end = next((n for n, line in enumerate(below) if not line.startswith("      ")),
                   len(below))
        return "\n".join(lines[start:start + 1 + end])

    removed, added = entry("serverApi.port"), entry("serverapi.port")
    assert "differs only in case from serverapi.port" in removed, out
    assert "differs only in case from serverApi.port" in added, out
    assert out.count("differs only in case") == 2, out


def test_a_write_under_way_keeps_its_draft_from_another_writes_clean_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second review (stop 51): the draft tests stood in for the writer, so
    nothing showed that a real write holds its own draft. Here another
    write's clean-up runs while this one is in its fsync, its draft made to
    look old: the draft stays, and the write ends whole."""
    from runbook.wholefile import _remove_old_drafts, atomic_write

    target = tmp_path / "merged.properties"
    target.write_text("old\n")
    real_fsync = os.fsync
    seen: list[list[str]] = []

    def fsync_with_a_clean_up_meanwhile(fd: int) -> None:
        real_fsync(fd)
        drafts = [p for p in tmp_path.iterdir() if p.name.startswith(".merged.properties.")]
        for draft in drafts:
            os.utime(draft, (1, 1))
        _remove_old_drafts(target)
        seen.append([p.name for p in drafts if p.exists()])

    monkeypatch.setattr(os, "fsync", fsync_with_a_clean_up_meanwhile)
    atomic_write(target, b"new\n", private=True)
    assert seen and seen[0], "the draft was removed under its writer"
    assert target.read_text() == "new\n"


def test_set_takes_a_key_as_check_spells_it(tmp_path: Path) -> None:
    """Review: --check lists `my\\ odd\\:key`, and `--set 'my\\ odd\\:key=v'`
    answered that neither file sets the key (it went in as a new one). --set
    takes a key as --check spells it, escaped, as well as the key itself;
    an escaped `\\=` is part of the key, the first `=` not escaped ends it."""
    old, new = tmp_path / "live", tmp_path / "new"
    old.write_text("weird\\=key=x\nmy\\ odd\\:key=live\nplain=1\n")
    new.write_text("weird\\=key=y\nmy\\ odd\\:key=other\nplain=2\n")
    out = tmp_path / "merged.properties"
    code, text, err = run(old, new, sets=["my\\ odd\\:key=typed", "weird\\=key=a=b",
                                          "plain=3"], out=out)
    assert "neither file" not in err, err
    assert code == 0, (text, err)
    written = javaproperties.loads(out.read_text(encoding="latin-1"))
    assert written == {"weird=key": "a=b", "my odd:key": "typed", "plain": "3"}, written
    # The key itself still works, where it can be told apart from its value.
    code, _, err = run(old, new, sets=["my odd:key=raw"], out=out)
    assert "neither file" not in err, err
    assert javaproperties.loads(out.read_text(encoding="latin-1"))["my odd:key"] == "raw"
    # Both spellings of one key are one key: two values are refused, named as --check does.
    code, _, err = run(old, new, sets=["my\\ odd\\:key=1", "my odd:key=2"])
    assert code == 2 and "--set my\\ odd\\:key: given twice" in err, err
    # A typo is named, and the key meant, as --check spells them.
    _, _, err = run(old, new, sets=["my\\ odd\\:kee=1"])
    assert "--set my\\ odd\\:kee: neither file" in err, err
    assert "did you mean my\\ odd\\:key?" in err, err


@pytest.mark.parametrize(("typed", "said"), [
    ("a\\b=1", "--set a\\b: a properties file drops the backslash before b, so the key "
               "reads ab; write ab for that, or a\\\\b for a key with a backslash in it"),
    ("red5\\.key\\x=1", "--set red5\\.key\\x: a properties file drops the backslashes before "
                        ". and x, so the key reads red5.keyx; write red5.keyx for that, or "
                        "red5\\\\.key\\\\x for a key with a backslash in it"),
    ("my\\ odd\\q=1", "--set my\\ odd\\q: a properties file drops the backslash before q, so "
                      "the key reads my\\ oddq; write my\\ oddq for that, or my\\ odd\\\\q "
                      "for a key with a backslash in it"),
])
def test_set_refuses_a_backslash_a_properties_file_would_drop(tmp_path: Path, typed: str,
                                                              said: str) -> None:
    """Review: `--set 'a\\b=1'` set the key `ab`, as Java (and javaproperties)
    read `\\b`: an unknown escape drops its backslash. The README said so, and
    nothing told the operator, who most likely meant a backslash."""
    key = typed.split("=")[0]
    # What a properties file makes of it: the backslash is gone.
    assert "\\" not in "".join(javaproperties.loads(typed)), javaproperties.loads(typed)
    old, new = tmp_path / "live", tmp_path / "new"
    old.write_text("plain=1\n")
    new.write_text("plain=2\n")
    code, text, err = run(old, new, sets=[typed])
    assert code == 2, (text, err)
    assert err == f"runbook diff: {said}\n", err
    assert key in err and text == "", text


def test_set_keeps_the_escapes_a_properties_file_reads(tmp_path: Path) -> None:
    """The escapes with a meaning in a file (\\t \\n \\f \\r \\uXXXX \\\\) and
    those of the characters a key must escape (space : = # !) are taken as
    javaproperties reads them in a file."""
    typed = ["a\\\\b", "tab\\tkey", "u\\u0041x", "hash\\#key", "bang\\!key", "my\\ odd\\:key",
             "weird\\=key", "line\\nfeed", "form\\ffeed", "cr\\rkey"]
    keys = [next(iter(javaproperties.loads(f"{spelling}=v"))) for spelling in typed]
    assert keys == ["a\\b", "tab\tkey", "uAx", "hash#key", "bang!key", "my odd:key",
                    "weird=key", "line\nfeed", "form\ffeed", "cr\rkey"], keys
    old, new = tmp_path / "live", tmp_path / "new"
    old.write_text("".join(f"{spelling}=old\n" for spelling in typed))
    new.write_text("".join(f"{spelling}=new\n" for spelling in typed))
    out = tmp_path / "merged.properties"
    code, text, err = run(old, new, sets=[f"{spelling}=set" for spelling in typed], out=out)
    assert code == 0, (text, err)
    assert "neither file" not in err, err
    merged = javaproperties.loads(out.read_text(encoding="latin-1"))
    assert merged == dict.fromkeys(keys, "set"), merged


def test_set_refusing_a_dropped_backslash_shows_the_keys_controls_as_escapes(
        tmp_path: Path) -> None:
    """Review: the refusal of a backslash a properties file would drop held
    the key raw, where parse_sets' other lines hold it through visible(): a
    key with an ESC in it carried the ESC in the message (today's printers
    escape it once more, so the terminal never saw it: the message is kept
    safe for any reader of its own)."""
    from runbook.properties import parse_sets

    with pytest.raises(ValueError) as refused:
        parse_sets(["a\\\x1b[31mb=1"])
    assert "\x1b" not in str(refused.value) and "\\u001b[31mb" in str(refused.value), \
        str(refused.value)
    old, new = tmp_path / "live", tmp_path / "new"
    old.write_text("plain=1\n")
    new.write_text("plain=2\n")
    code, text, err = run(old, new, sets=["a\\\x1b[31mb=1"])
    assert code == 2 and "\x1b" not in err, (text, err)


def test_a_value_decided_by_hand_is_filed_as_edited_never_as_unchanged(
        files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 55 F3: a value typed with e over a key both files agree on was
    counted and headed "unchanged: same value in the live file and the new
    template" (in --check and the run's report), and a change to a production
    value went unseen; the same change with --set read "overridden". A key
    whose live value the review replaces is filed as edited, its live value
    beside the one chosen, a secret's masked."""
    path = tmp_path / "decisions.toml"
    path.write_text('[keys."cluster.publicPort"]\naction = "set"\nvalue = "1936"\n\n'
                    '[keys."config.dbPass"]\naction = "set"\nvalue_env = "RB_T_DBPASS"\n\n'
                    # The live value itself, typed: nothing replaced, not edited.
                    '[keys."cluster.accessPort"]\naction = "set"\nvalue = "5080"\n')
    monkeypatch.setenv("RB_T_DBPASS", "Xk9#new-db-pass")
    _, text, _ = run(files["live"], files["template"], decisions=path)
    assert "30 unchanged, 7 carried" in text and "2 edited" in text, text
    assert "edited (2): a value chosen in the review replaces the live one." in text, text
    edited = text.split("edited (2):")[1].split("\n\n")[0]
    assert "cluster.publicPort = 1936\n      live: 1935" in edited, edited
    assert "config.dbPass = •••••• [" in edited and "live: •••••• [" in edited, edited
    unchanged = text.split("unchanged (30):")[1]
    assert "cluster.publicPort" not in unchanged and "config.dbPass" not in unchanged
    for secret in [*SECRETS, "Xk9#new-db-pass"]:
        assert secret not in text
    _, as_json, _ = run(files["live"], files["template"], decisions=path, check=False,
                        as_json=True)
    document = json.loads(as_json)
    keys = {entry["key"]: entry for entry in document["keys"]}
    assert keys["cluster.publicPort"]["status"] == "edited"
    assert keys["cluster.publicPort"]["found"] == "unchanged"
    assert keys["cluster.accessPort"]["status"] == "unchanged"
    assert document["summary"]["edited"] == 2


def test_a_crlf_live_file_is_said_beside_the_merged_files_lf_and_how_to_compare_them(
        files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 55 F9: a live file with CRLF line ends gave a merged file with
    the template's LF, unsaid, and `diff live merged` showed every line,
    where the README promises a diff that shows only what the merge changed.
    The merged file keeps the template's line ends (Java reads both alike;
    the template's lines stay byte for byte); --check, the line that says
    the merged file was written, and so the run's report, say so and how to
    compare the two."""
    crlf = tmp_path / "live-crlf.properties"
    crlf.write_bytes(files["live"].read_bytes().replace(b"\n", b"\r\n"))
    out = tmp_path / "merged.properties"
    decisions = tmp_path / "decisions.toml"
    decisions.write_text(confirm_new_defaults(
        '[keys."serverapi.accessToken"]\naction = "set"\nvalue_env = "RB_T_NODE_TOKEN"\n'))
    monkeypatch.setenv("RB_T_NODE_TOKEN", "node-tok-55")
    code, text, err = run(crlf, files["template"], decisions=decisions, out=out)
    assert code == 0, err
    assert b"\r" not in out.read_bytes()
    said = f"diff --strip-trailing-cr {crlf} {out}"
    assert said in err, err
    assert "CRLF" in text and "the merged file keeps the template's LF" in text, text
    # An LF live file says nothing of it.
    _, text, err = run(files["live"], files["template"], decisions=decisions)
    assert "CRLF" not in text and "strip-trailing-cr" not in err


def test_the_template_given_first_is_asked_about(files: dict[str, Path]) -> None:
    """Trial 55 F12: `runbook diff new live --check` ran as asked and called
    the template's placeholders ({host}, {username}) keys of the live file
    "still holding a placeholder". A live file full of placeholders the other
    file fills in is a near-certain swap: said first, on stderr, with which
    comes first. The right order says nothing of it."""
    code, _, err = run(files["template"], files["live"])
    assert code == 1
    assert "did you give the template first?" in err, err
    assert "live file first, then the new template" in err, err
    assert "config.dbHost" in err, err
    _, _, err = run(files["live"], files["template"])
    assert "template first" not in err, err


def test_the_editor_asks_about_a_template_given_first(files: dict[str, Path]) -> None:
    from screens.diff_app import closing_lines, create_diff_app

    app = create_diff_app(files["template"], files["live"], sets=[], decisions=None, out=None)
    assert any("did you give the template first?" in line for line in app.cautions), \
        app.cautions
    assert any("template first" in line for line in closing_lines(app))



@pytest.mark.parametrize("spelling", ["same-path", "symlink"])
def test_one_file_given_as_both_is_refused(files: dict[str, Path], tmp_path: Path,
                                           spelling: str) -> None:
    """Trial 57, F7: `runbook diff old.properties old.properties --check`
    said nothing of it, and called the live passwords "Red5's sample value".
    Bad input, refused in one line, exit 2, in --check, --json and the editor."""
    from screens.diff_app import run_diff_app

    live = files["live"]
    other = live
    if spelling == "symlink":
        other = tmp_path / "link.properties"
        other.symlink_to(live)
    for as_json in (False, True):
        code, text, err = run(live, other, as_json=as_json)
        assert (code, text) == (2, ""), (code, text, err)
        assert err.count("\n") == 1 and err.startswith("runbook diff: "), err
        assert "sample value" not in err, err
        assert ("is given as both files" if spelling == "same-path" else
                f"{live} and {other} are the same file") in err, err
        assert "the live red5-web.properties first, then the new release's template" in err
    stderr = io.StringIO()
    assert run_diff_app(live, other, sets=[], decisions=None, out=None, stderr=stderr) == 2
    line = stderr.getvalue()
    assert line.count("\n") == 1 and ("same file" in line or "both files" in line), line


def test_two_files_of_the_same_bytes_are_said_to_be_identical(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Trial 57, F7: a copy of the live file given for the template passed
    in silence, its secrets called Red5's sample value. Two files may be
    identical on purpose (a live file checked against the merged one that
    went live), so it is said, not refused: the review and its exit code stand."""
    from screens.diff_app import closing_lines, create_diff_app

    copy = tmp_path / "copy.properties"
    copy.write_bytes(files["live"].read_bytes())
    code, _text, err = run(files["live"], copy)
    assert code in (0, 1), err
    said = [line for line in err.splitlines() if "identical" in line]
    assert said == [f"runbook diff: {files['live']} and {copy} are identical: every key reads "
                    "unchanged, and a secret as Red5's sample value (give the live file, then "
                    "the new release's template)"], err
    app = create_diff_app(files["live"], copy, sets=[], decisions=None, out=None)
    assert said[0] in app.cautions and said[0] in closing_lines(app), app.cautions
    _code, _text, err = run(files["live"], files["template"])
    assert "identical" not in err, err


def test_keys_only_the_live_file_has_are_counted_in_the_headline(files: dict[str, Path]) -> None:
    """Trial 55 F11: keys only the live file has are left out of the merged
    file by default (the product owner's call), but the headline did not
    count them: a key a plugin of the operator's reads went unless someone
    read the removed group through. The headline counts and names them, a
    kept one no longer; --json lists them."""
    live = files["live"]
    own = [f"notify.hook{n}" for n in range(6)]
    live.write_text(live.read_text(encoding="latin-1") + "".join(f"{k}=x\n" for k in own),
                    encoding="latin-1")
    left_out = ["instancecontroller.recycleDeadNodes", *own]
    _code, out, _err = run(live, files["template"])
    headline = out.split("\n\n")[1]
    said = [line for line in headline.splitlines() if "left out" in line]
    assert said == ["7 keys only the live file has will be left out of the merged file: "
                    f"{', '.join(left_out[:5])} and 2 more (listed below under removed)"], headline
    _code, text, _err = run(live, files["template"], check=False, as_json=True)
    assert json.loads(text)["left_out"] == left_out
    _code, out, _err = run(live, files["template"], sets=[f"{k}=y" for k in own])
    headline = out.split("\n\n")[1]
    assert ("1 key only the live file has will be left out of the merged file: "
            "instancecontroller.recycleDeadNodes") in headline.splitlines(), headline
    _code, out, _err = run(live, files["template"], sets=[
        *(f"{k}=y" for k in own), "instancecontroller.recycleDeadNodes=true"])
    assert "left out of the merged file:" not in out.split("\n\n")[1]


def _live_context(tmp_path: Path) -> Path:
    """The live install's applicationContext.xml, the AWS bean active: 6.2.0's
    shipped file with the operator's hand edit (the dummy commented out)."""
    shipped = (DATA.parent / "applicationContext.xml.6.2.0.b406").read_text()
    dummy = re.search(r'<bean id="apiBridge"\s+class="[^"]*DummyCloudController".*?</bean>',
                      shipped, re.DOTALL)
    assert dummy is not None
    text = shipped[:dummy.start()] + "<!-- " + dummy.group(0) + " -->" + shipped[dummy.end():]
    start = text.index('<!-- <bean id="apiBridge" class="com.red5pro.services.cloud.aws')
    end = text.index("-->", start)
    path = tmp_path / "live-applicationContext.xml"
    path.write_text(text[:start] + text[start + 5:end] + text[end + 3:])
    return path


def test_contexts_put_the_keys_the_new_bean_reads_in_the_review_and_the_decisions(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Facts audit 57b H1: ahead of the window, `runbook diff` knew nothing of
    the bean the new release runs, so a decisions file it wrote could not
    decide aws.forUsGovRegions, which 6.2.0's AWS bean reads and its template
    ships commented out. Given both applicationContext.xml (--contexts), the
    review has it as a new default to confirm, and the file records it."""
    live_xml = _live_context(tmp_path)
    new_xml = DATA.parent / "applicationContext.xml.6.2.0.b406"
    decisions = tmp_path / "decisions.toml"
    base = ["diff", str(files["live"]), str(files["template"]), "--set",
            "serverapi.accessToken=node-token", "--decisions", str(decisions)]
    first = runbook_cli(*base, "--contexts", str(live_xml), str(new_xml), "--json")
    assert first.returncode == 1, first.stderr
    keys = {k["key"]: k for k in json.loads(first.stdout)["keys"]}
    forgov = keys["aws.forUsGovRegions"]
    assert (forgov["found"], forgov["merged"], forgov["needed_by"]) == (
        "new-default", "false", "AWSInstanceController")
    assert "aws.forUsGovRegions" in json.loads(first.stdout)["unconfirmed"]
    assert 'template default: \'false\'' in decisions.read_text()
    # Without --contexts the review has no word of it (as before).
    unaware = runbook_cli("diff", str(files["live"]), str(files["template"]), "--json")
    assert "aws.forUsGovRegions" not in {k["key"] for k in json.loads(unaware.stdout)["keys"]}
    # Confirmed in the file, the merge uncomments it with the template's value.
    text = decisions.read_text()
    for key in json.loads(first.stdout)["unconfirmed"]:
        text = text.replace(f'[keys."{key}"]\n', f'[keys."{key}"]\naction = "accept-new"\n')
    decisions.write_text(text)
    out = tmp_path / "merged.properties"
    done = runbook_cli(*base, "--contexts", str(live_xml), str(new_xml), "--check",
                       "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert javaproperties.loads(out.read_text())["aws.forUsGovRegions"] == "false"
    # Contexts that cannot say: one line, exit 2.
    empty = tmp_path / "empty.xml"
    empty.write_text("<beans></beans>\n")
    bad = runbook_cli(*base, "--contexts", str(empty), str(new_xml), "--check")
    assert bad.returncode == 2
    assert bad.stderr.startswith("runbook diff: --contexts: the live applicationContext.xml "
                                 "has no single active apiBridge bean"), bad.stderr
    assert bad.stderr.count("\n") == 1


def test_contexts_offer_the_live_value_a_renamed_bean_key_had(tmp_path: Path) -> None:
    """Review 57d M2: 5.1.1's Simulated bean reads recycleDeadNodes from
    ${instancecontroller.recycleDeadNodes}, 6.2.0's from
    ${managed.recycleDeadNodes} (the rehearsal's 5.1.1 wiring, AM's file; the
    shared 6.2.0 applicationContext.xml). The review left the old key out and
    offered the template's commented `true` for the new one as a key the live
    file does not set: one confirm turned the live `false` into `true`. The
    new key is offered the live value, and its note names the old key."""
    from runbook.rehearsal import sandbox
    from runbook.rehearsal.scenarios import R5_1

    live_xml = tmp_path / "live-applicationContext.xml"
    live_xml.write_text(sandbox.application_context(sandbox.SIMULATED, R5_1))
    new_xml = DATA.parent / "applicationContext.xml.6.2.0.b406"
    live = tmp_path / "red5-web.properties"
    live.write_text(sandbox.data_text("red5-web.properties.5.1.1.236").replace(
        "instancecontroller.recycleDeadNodes=true", "instancecontroller.recycleDeadNodes=false"),
        encoding="latin-1")
    said = runbook_cli("diff", str(live), str(DATA / "red5-web.properties.6.2.0.b406"),
                       "--contexts", str(live_xml), str(new_xml), "--json")
    keys = {k["key"]: k for k in json.loads(said.stdout)["keys"]}
    assert keys["instancecontroller.recycleDeadNodes"]["merged"] is None  # left out
    offered = keys["managed.recycleDeadNodes"]
    assert (offered["merged"], offered["old"]) == ("false", "false"), offered
    assert "managed.recycleDeadNodes" in json.loads(said.stdout)["unconfirmed"]
    text = runbook_cli("diff", str(live), str(DATA / "red5-web.properties.6.2.0.b406"),
                       "--contexts", str(live_xml), str(new_xml), "--check").stdout
    block = text.split("  managed.recycleDeadNodes = false\n")[1].split("\n\n")[0]
    assert "sets instancecontroller.recycleDeadNodes instead, which the same property read" \
        in block, block


@pytest.mark.parametrize(("which", "role"), [(0, "the live"), (1, "the new")])
def test_out_naming_a_contexts_file_is_refused(files: dict[str, Path], tmp_path: Path,
                                               which: int, role: str) -> None:
    """Review 57d L1: --out naming one of the --contexts files wrote the
    merged file, secrets in clear, over that applicationContext.xml (exit 0).
    Refused as --out naming the live file is, exit 2."""
    contexts = [_live_context(tmp_path), tmp_path / "new-applicationContext.xml"]
    shutil.copyfile(DATA.parent / "applicationContext.xml.6.2.0.b406", contexts[1])
    before = contexts[which].read_bytes()
    # Every key decided: the merged file would be written.
    result = runbook_cli("diff", str(filled_docs(files, tmp_path)), str(files["template"]),
                         "--set", "config.dbHost=db2.internal", "--set",
                         "aws.forUsGovRegions=false", "--contexts", *map(str, contexts),
                         "--check", "--out", str(contexts[which]))
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    assert result.stderr.startswith(
        f"runbook diff: --out {contexts[which]} is {role} applicationContext.xml, which the "
        "review reads; write the merged file to a path of its own"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert contexts[which].read_bytes() == before


def test_contexts_whose_live_file_runs_the_dummy_say_no_bean_keys_are_checked(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Review 57d L1: the shipped applicationContext.xml given as LIVE_XML
    (its Dummy bean active) gave no keys to check, and --check said only
    "Nothing needs a decision". One line says the file names no cloud
    controller, so no bean keys are checked; the review goes on."""
    shipped = DATA.parent / "applicationContext.xml.6.2.0.b406"
    result = runbook_cli("diff", str(filled_docs(files, tmp_path)), str(files["template"]),
                         "--set", "config.dbHost=db2.internal", "--contexts", str(shipped),
                         str(shipped), "--check")
    said = [line for line in result.stderr.splitlines() if "--contexts" in line]
    assert said == [f"runbook diff: --contexts: {shipped} names no cloud controller (its "
                    "active bean is the Dummy), so no keys the new release's bean reads are "
                    "checked: give the live install's applicationContext.xml"], result.stderr
    assert result.returncode == 0 and "Nothing needs a decision" in result.stdout


def test_a_decision_for_a_key_the_template_has_only_commented_out_is_not_called_unknown(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Operator re-trial 57b, F2: without --contexts, a decisions file deciding
    aws.forUsGovRegions (written by a review that had them) was told the key is
    in neither file, "gone from the template, or misspelt": the template has it,
    commented out. Believed, the operator would delete a decision the window
    needs. It says the template has the key commented out and --contexts
    reads it."""
    template = files["template"].read_text()
    commented = next(line for line in template.splitlines()
                     if line.startswith("#") and "=" in line and " " not in line.split("=")[0])
    key = commented.lstrip("#").split("=", 1)[0].strip()
    decisions = tmp_path / "decisions.toml"
    runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                "--decisions", str(decisions))
    decisions.write_text(decisions.read_text()
                         + f'\n[keys."{key}"]\naction = "set"\nvalue = "x"\n')
    result = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                         "--decisions", str(decisions))
    said = " ".join(result.stdout.split() + result.stderr.split())
    assert "neither file has" not in said or key not in said.split("neither file has", 1)[1], said
    assert "commented out" in said and "--contexts" in said, said


def test_a_review_without_contexts_says_the_bean_keys_were_not_checked(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Operator re-trial 57b, F3: without --contexts, --check and --json gave
    no word that the keys the new cloud-controller bean reads were not looked
    at: `needed_by: null` everywhere read as a complete review."""
    text = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check")
    said = " ".join(text.stdout.split())
    assert "--contexts" in said and "not checked" in said, said[-600:]
    as_json = runbook_cli("diff", str(files["live"]), str(files["template"]), "--json")
    assert json.loads(as_json.stdout)["bean_keys_checked"] is False


def test_a_tag_key_that_cannot_be_kept_is_said_once(
        files: dict[str, Path], full_folder: Path) -> None:
    """Operator trial 59, F4: with the state folder full, the secret tag key
    could not be saved, and the tags changed from one review to the next
    without a word, where the README promises them equal for equal values.
    A note on stderr, once, says they match nothing else."""
    tags = []
    for _ in range(2):
        result = runbook_cli("diff", str(files["live"]), str(files["template"]), "--check",
                             env={"XDG_STATE_HOME": str(full_folder)})
        assert "Traceback" not in result.stderr, result.stderr
        found = re.findall(r"config\.dbPass = •+ \[([0-9a-f]{8})\]", result.stdout)
        assert found, result.stdout
        tags.append(found[0])
        notes = [line for line in result.stderr.splitlines() if "tag key" in line]
        assert len(notes) == 1, result.stderr
        assert str(full_folder) in notes[0] and "No space left on device" in notes[0], notes
        assert "match" in notes[0], notes
    assert tags[0] != tags[1]  # as the note says
