"""Secret detection and masking: the one place every sink relies on."""

from __future__ import annotations

import pytest

from runbook.redact import MASK, Redactor, fingerprint, is_secret_key, mask_value


@pytest.mark.parametrize("key", [
    "config.dbPass", "cluster.password", "aws.accessKey", "aws.accessSecret",
    "rest.administratorToken", "serverapi.accessToken", "az.clientKey", "az.vmPassword",
    "terra.token", "limelight.pwd", "some_api-key".replace("-", ""), "DB_PASSWD",
])
def test_secret_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "config.dbHost", "config.dbUser", "aws.ec2KeyPairName", "terra.sshkey",
    "instancecontroller.instanceNamePrefix", "proxy.bypassList", "compass.heading",
    "serverapi.port",
])
def test_ordinary_names(key: str) -> None:
    assert not is_secret_key(key)


def test_masks_every_registered_secret_longest_first() -> None:
    redact = Redactor(["hunter2hunter2", "hunter2"])
    text = redact("token=hunter2hunter2 and pw=hunter2")
    assert "hunter2" not in text
    assert text.count(MASK) == 2
    assert fingerprint("hunter2hunter2") in text


def test_short_values_are_not_treated_as_secrets() -> None:
    redact = Redactor(["abc", ""])
    assert redact("abc def") == "abc def"


def test_equal_secrets_share_a_fingerprint() -> None:
    assert mask_value("s3cret-value") == mask_value("s3cret-value")
    assert mask_value("s3cret-value") != mask_value("other-value")
    assert mask_value("") == ""
