"""What CloudTrail writes down of a call's parameters and results."""

from __future__ import annotations

from datetime import datetime, timezone

from skyhold.trail.events import wire_json
from skyhold.trail.redact import HIDDEN


def test_member_names_become_lower_camel_and_timestamps_java_medium() -> None:
    when = datetime(2023, 1, 13, 18, 20, 12, tzinfo=timezone.utc)
    assert wire_json({"UserName": "u", "CreateDate": when, "Body": object()}) == {
        "userName": "u", "createDate": "Jan 13, 2023, 6:20:12 PM"}


def test_secrets_are_hidden_or_left_out_at_any_depth() -> None:
    out = wire_json({"UserName": "u", "Password": "p4ss", "AccessKey": {"AccessKeyId": "AKIA", "SecretAccessKey": "s"},
                     "Credentials": [{"SessionToken": "t", "Expiration": "x"}]})
    assert out == {"userName": "u", "password": HIDDEN, "accessKey": {"accessKeyId": "AKIA"},
                   "credentials": [{"expiration": "x"}]}


def test_parameter_values_are_hidden_only_for_secure_strings() -> None:
    secure = wire_json({"Name": "/db/pw", "Value": "s3cr3t", "Type": "SecureString",
                        "Tags": [{"Key": "team", "Value": "blue"}]})
    assert secure["value"] == HIDDEN and secure["tags"] == [{"key": "team", "value": "blue"}]
    assert wire_json({"Name": "/app/url", "Value": "https://x", "Type": "String"})["value"] == "https://x"
