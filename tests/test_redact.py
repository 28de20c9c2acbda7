"""Secret detection and masking: the one place every sink relies on."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runbook.redact import MASK, Redactor, fingerprint, is_secret_key, mask_value


@pytest.mark.parametrize("key", [
    "config.dbPass", "cluster.password", "aws.accessKey", "aws.accessSecret",
    "rest.administratorToken", "serverapi.accessToken", "az.clientKey", "az.vmPassword",
    "terra.token", "limelight.pwd", "some_api-key".replace("-", ""), "DB_PASSWD",
    # Test audit (stop 39): each word of the pattern is named here, or its loss goes unseen.
    "gcp.credentials", "ssl.keyPassphrase", "gcp.privateKey",
    # Diff trial (stop 50): a kept copy of the database password, and the
    # usual names of other secrets, were shown in clear.
    "config.dbPass.old", "config.dbPass_bak", "config.dbPassOld", "config.dbPass2",
    "private.key", "jwt.signingKey", "streammanager.encryptionKey", "admin.pw",
    "oauth.bearer", "smtp.pass",
    # Second review (stop 50): the same words in other cases, and two kinds of key.
    "config.dbpass.old", "DBPASS_OLD", "hmac.authKey", "cluster.sharedKey",
])
def test_secret_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "config.dbHost", "config.dbUser", "aws.ec2KeyPairName", "terra.sshkey",
    "instancecontroller.instanceNamePrefix", "proxy.bypassList", "compass.heading",
    "serverapi.port", "proxy.passive", "mail.smtp.auth", "passenger.count",
    "instancecontroller.passiveNodes",
    # Second review (stop 50): the words' rules above went too far.
    "serverapi.keystore", "client.keyframeInterval", "encryptionKeyLength",
    "sso.bearer.header", "admin.passThrough",
])
def test_ordinary_names(key: str) -> None:
    assert not is_secret_key(key)


def test_masks_every_registered_secret_longest_first() -> None:
    redact = Redactor(["hunter2hunter2", "hunter2"])
    text = redact("token=hunter2hunter2 and pw=hunter2")
    assert "hunter2" not in text
    assert text.count(MASK) == 2
    assert fingerprint("hunter2hunter2") in text


def test_a_short_secret_is_not_masked_inside_free_text() -> None:
    """Masking "abc" everywhere would mangle every line that holds those letters."""
    redact = Redactor(["abc", ""])
    assert redact("abc def") == "abc def"


@pytest.mark.parametrize("shown", [
    "config.dbPass=Q7z", "config.dbPass = Q7z", "  config.dbPass=Q7z  ",
    'password="Q7z"', '{"password": "Q7z", "user": "sm"}',
    "GET /api?accessToken=Q7z&x=1", "java -Ddb.password=Q7z -jar red5.jar",
    "red5 --db-password Q7z --port 5080", "Q7z",
], ids=["property", "spaced", "padded", "option-file", "json", "query", "jvm", "next-word",
        "whole"])
def test_a_short_secret_is_masked_where_it_stands_as_a_value_of_its_own(shown: str) -> None:
    """Review 55 L5: a 3-character config.dbPass was never masked at all, not
    even as the value of a line that names it a secret."""
    redact = Redactor(["Q7z"])
    assert "Q7z" not in redact(shown)
    assert MASK in redact(shown) and fingerprint("Q7z") in redact(shown)


@pytest.mark.parametrize("shown", [
    "retries=Q7z", "the code is Q7z", "Q7z=config.dbPass", "config.dbPass=Q7z9",
    "--port Q7z",
])
def test_a_short_secret_is_left_where_nothing_says_it_is_one(shown: str) -> None:
    assert Redactor(["Q7z"])(shown) == shown


def test_a_short_secret_is_told_once_by_its_name_never_its_value() -> None:
    redact = Redactor()
    redact.add("Q7z", name="config.dbPass")
    redact.add("long-enough", name="cluster.password")
    redact.add("Q7z", name="config.dbPass")  # read again by a later step
    assert redact.untold_short() == ["config.dbPass"]
    assert redact.untold_short() == []
    redact.add("", name="aws.accessKey")  # blank: nothing to mask, nothing to tell
    assert redact.untold_short() == []


def test_equal_secrets_share_a_fingerprint() -> None:
    assert mask_value("s3cret-value") == mask_value("s3cret-value")
    assert mask_value("s3cret-value") != mask_value("other-value")
    assert mask_value("") == ""


# --- tags a reader of a report cannot check a guess against ----------------------------

def test_a_tag_cannot_confirm_a_guessed_secret_without_the_users_key() -> None:
    """A report or journal holding the tag of a weak password (the rehearsal's
    `changeme`) must not let its reader confirm a guess by hashing it."""
    import hashlib

    guess = "changeme"
    plain = hashlib.sha256(guess.encode()).hexdigest()[:8]
    assert fingerprint(guess) != plain
    assert plain not in mask_value(guess)


def test_the_users_key_is_made_once_kept_private_and_read_back(tmp_path: Path) -> None:
    from runbook.redact import kept_key

    folder = tmp_path / "state" / "runbook"
    made = kept_key(folder)
    assert len(made) == 32
    kept = folder / "tag-key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept_key(folder) == made  # the next run (a resume) tags alike
    assert kept_key(tmp_path / "elsewhere") != made  # another user's tags differ


@pytest.mark.parametrize("left", [b"cut sho", b""], ids=["short", "empty"])
def test_a_damaged_key_file_is_replaced_whole(tmp_path: Path, left: bytes) -> None:
    """An empty key file is what a crash or a full disk leaves (review: it
    was kept, and every run made a key of its own without a word)."""
    from runbook.redact import kept_key

    (tmp_path / "tag-key").write_bytes(left)
    made = kept_key(tmp_path)
    assert len(made) == 32 and (tmp_path / "tag-key").read_bytes() == made
    assert not [p for p in tmp_path.iterdir() if p.name != "tag-key"]  # no leftovers


def test_a_key_is_kept_on_a_file_system_without_hard_links(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook.redact import kept_key

    def no_links(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("os.link", no_links)
    made = kept_key(tmp_path)
    assert (tmp_path / "tag-key").read_bytes() == made and kept_key(tmp_path) == made


def test_an_unwritable_state_dir_still_tags_within_the_process(tmp_path: Path) -> None:
    from runbook.redact import kept_key

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    key = kept_key(blocked / "runbook")
    assert len(key) == 32


def test_tags_follow_the_key_in_use() -> None:
    from runbook.redact import use_tag_key

    first = fingerprint("s3cret-value")
    before = use_tag_key(b"k" * 32)
    try:
        assert fingerprint("s3cret-value") != first
        assert fingerprint("s3cret-value") == fingerprint("s3cret-value")
    finally:
        use_tag_key(before)
    assert fingerprint("s3cret-value") == first


def test_tags_use_the_key_kept_in_the_users_state_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from runbook.redact import use_tag_key

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    before = use_tag_key(None)  # as a run starts: read when first needed
    try:
        tag = fingerprint("s3cret-value")
    finally:
        use_tag_key(before)
    key = (tmp_path / "runbook" / "tag-key").read_bytes()
    assert tag == hashlib.blake2b(b"s3cret-value", key=key, digest_size=4).hexdigest()


def test_a_fifo_in_place_of_the_key_file_does_not_hang_a_run(tmp_path: Path) -> None:
    """Operator trial: a FIFO named tag-key made `runbook diff` wait for ever
    for a writer (reading a FIFO blocks)."""
    import os
    import threading

    from runbook.redact import kept_key

    fifo = tmp_path / "tag-key"
    os.mkfifo(fifo)
    made: list[bytes] = []
    reader = threading.Thread(target=lambda: made.append(kept_key(tmp_path)), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # let the stuck read go, so the test ends
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        reader.join(5)
        raise AssertionError("reading the key file waited on a FIFO")
    assert len(made[0]) == 32 and (tmp_path / "tag-key").read_bytes() == made[0]


def test_facts_a_resumed_run_reads_back_are_never_masked() -> None:
    """Safety review: a secret of digits matched inside the live install's
    device:inode (and could inside a digest, a stamp or a path); a resumed run
    read the masked value back, found no process of the old install and took
    stop-service for done while the old server ran."""
    from steps.facts import Red5Facts

    redactor = Redactor(["12345", "red5admin-secret"])
    facts = Red5Facts(live_tree="2049:1312345", new_tree="2049:12345678",
                      install_real="/srv/12345/usr/local", new_top="red5pro-server-12345",
                      live_version="11.1.0.b12345",
                      local_sha256={"/tmp/dist.zip": "ab12345" + "0" * 57},
                      rollback_stamp="20261203T123456")
    facts.red5_processes = {"12345": "java -Dpass=red5admin-secret -Dred5.root=/x"}
    record = redactor_json(facts.record(redactor))
    back = Red5Facts()
    back.load(record)
    for name in ("live_tree", "new_tree", "install_real", "new_top", "live_version",
                 "local_sha256", "rollback_stamp"):
        assert getattr(back, name) == getattr(facts, name), name
    # What may carry a secret still goes through the redactor.
    assert "red5admin-secret" not in str(record["red5_processes"])


def redactor_json(record: dict[str, object]) -> dict[str, object]:
    import json

    return dict(json.loads(json.dumps(record)))


def test_a_database_login_keeps_its_password_out_of_its_repr() -> None:
    """Review (stop 45): a traceback or a debug log of the login showed it."""
    from steps.database import Login

    login = Login("cluster", "hunter2-Pass", "10.0.0.9", 3306)
    assert "hunter2-Pass" not in repr(login) and "10.0.0.9" in repr(login)


def test_a_curl_line_masks_a_launch_config_property_named_as_a_secret(tmp_path: Path) -> None:
    """Security trial: recreate's plan, the screen and the journal showed a
    launch config's `vmPassword` property in clear in its curl line."""
    from runbook import config
    from runbook.curl import ApiTarget, curl_line
    from runbook.hoststate import HostState
    from runbook.step import PlanContext
    from steps.cutover import Recreate
    from steps.facts import Red5Facts
    from tests.test_config import EXAMPLE

    body = {"name": "lc-1", "image": "red5pro-node-image", "properties": {"property": [
        {"name": "vmPassword", "value": "LCSECRET-XYZ32"},
        {"name": "tokenTTL", "value": "3600"},
        {"name": "region", "value": "us-east-1"}]}, "apiKey": "KEYSECRET-XYZ33",
        "metadata": {"meta": [{"key": "adminPassword", "value": "METASECRET-XYZ34"}]}}
    line = curl_line(ApiTarget("http://sm.example:5080", "4.0"), "POST",
                     "admin/configurations/launchconfig", {"launchconfig": body})
    assert "LCSECRET" not in line and "KEYSECRET" not in line and "METASECRET" not in line, line
    assert "us-east-1" in line and "red5pro-node-image" in line and "3600" in line, line
    # A stand-in plainly, so a pasted line is seen to need the value back.
    assert line.count("<masked secret>") == 3, line

    settings = config.load(EXAMPLE)
    state = HostState(tmp_path, "sm.example", 22)
    saved = state.save_snapshot({"api_version": "4.0", "nodegroups": [],
                                 "launchconfigs": {"lc-1": body}, "scalepolicies": {}},
                                journal=tmp_path / "j.jsonl")
    facts = Red5Facts()
    facts.snapshot = str(saved.path)

    def curl(method: str, path: str, body: object = None, **_: object) -> str:
        return curl_line(ApiTarget("http://sm.example:5080", "4.0"), method, path, body)  # type: ignore[arg-type]

    plan = Recreate().plan(PlanContext(settings, curl, facts, state, tmp_path / "j.jsonl"))
    shown = "\n".join(action.render() for action in plan)
    assert "lc-1" in shown and "LCSECRET" not in shown, shown
    # The plan says the lines are not whole, and where the values are.
    assert "masked" in shown and str(saved.path) in shown, shown


def test_a_command_line_s_secret_is_found_given_as_a_word_of_its_own() -> None:
    """Security trial: `--db-password VALUE` on a java process's command line
    was shown in stop-service's plan and journalled in clear; only the
    `-Dname=value` and `--name=value` forms were masked."""
    from runbook.redact import command_line_secrets

    line = ("/usr/bin/java -Djavax.net.ssl.trustStorePassword=TRUST-XYZ16 "
            "--db-password WORD-XYZ17 --api-token=EQ-XYZ18 --port 5080 --password --verbose")
    assert command_line_secrets(line) == ["TRUST-XYZ16", "EQ-XYZ18", "WORD-XYZ17"]
    # Second review: found by where it stands, a word is a secret only after a
    # name that ends as one ("start" was masked in every systemctl line).
    assert command_line_secrets("java --use-token-auth start --no-password /usr/local/red5pro "
                                "--password-file /etc/pw --keystore-pass KS-XYZ19") == \
        ["KS-XYZ19"]


@pytest.mark.parametrize("as_utf8", ["éé", "日本", "ñ1é"], ids=["two", "cjk", "mixed"])
def test_a_secret_whose_utf8_spelling_is_short_is_masked_as_a_short_one(as_utf8: str) -> None:
    """Review 56c F1: a password read from red5-web.properties as Java reads
    it (ISO-8859-1) shows in command output as its UTF-8 spelling. When that
    spelling was under 4 characters and the value as read was not, it was put
    among the short secrets but their pattern was never built, so
    `config.dbPass=éé` went to the journal in clear, and nothing said so."""
    as_read = as_utf8.encode().decode("latin-1")
    assert len(as_read) >= 4  # the form given is long; only its UTF-8 form is short
    redact = Redactor()
    redact.add(as_read, name="config.dbPass")
    for shown in (f"config.dbPass={as_utf8}", f'{{"password": "{as_utf8}"}}', as_utf8):
        assert as_utf8 not in redact(shown), shown
        assert fingerprint(as_utf8) in redact(shown)
    assert as_read not in redact(f"grep says {as_read} here")  # the long form: everywhere
    assert redact.untold_short() == ["config.dbPass"]
    redact.add(as_read, name="config.dbPass")  # read again by a later step
    assert redact.untold_short() == []
