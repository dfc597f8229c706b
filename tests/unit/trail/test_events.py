"""What CloudTrail writes down of a call's parameters and results."""

from __future__ import annotations

from datetime import datetime, timezone

from skyhold.trail.events import wire_json
from skyhold.trail.redact import HIDDEN, request_rules


def test_member_names_become_lower_camel_and_timestamps_java_medium() -> None:
    when = datetime(2023, 1, 13, 18, 20, 12, tzinfo=timezone.utc)
    assert wire_json({"UserName": "u", "CreateDate": when, "Body": object()}) == {
        "userName": "u", "createDate": "Jan 13, 2023, 6:20:12 PM"}


def test_secrets_are_hidden_or_left_out_at_any_depth() -> None:
    out = wire_json({"UserName": "u", "Password": "p4ss", "AccessKey": {"AccessKeyId": "AKIA", "SecretAccessKey": "s"},
                     "Credentials": [{"SessionToken": "t", "Expiration": "x"}]})
    assert out == {"userName": "u", "password": HIDDEN, "accessKey": {"accessKeyId": "AKIA"},
                   "credentials": [{"expiration": "x"}]}


def test_parameter_values_are_hidden_whatever_their_type_but_tag_values_are_not() -> None:
    rules = request_rules("ssm", "PutParameter")
    secure = wire_json({"Name": "/db/pw", "Value": "s3cr3t", "Type": "SecureString",
                        "Tags": [{"Key": "team", "Value": "blue"}]}, rules)
    assert secure["value"] == HIDDEN and secure["tags"] == [{"key": "team", "value": "blue"}]
    assert wire_json({"Name": "/app/url", "Value": "https://x", "Type": "String"}, rules)["value"] == HIDDEN
    assert wire_json({"Name": "/db/pw", "Value": "s3cr3t", "Overwrite": True}, rules)["value"] == HIDDEN


def test_a_call_line_becomes_one_event_per_account_and_a_request_row() -> None:
    """The server's compact line, expanded by the writer, is CloudTrail's record."""
    from skyhold import principal
    from skyhold.errors import AwsError
    from skyhold.store import jsontext
    from skyhold.trail import events

    who = principal.Principal(type=principal.IAM_USER, account="111111111111",
                              arn="arn:aws:iam::111111111111:user/alice", user_id="AIDAEXAMPLE", name="alice",
                              access_key_id="AKIAEXAMPLE")
    denied = AwsError("AccessDenied", "no", status=403, explanation={"decision": "ImplicitlyDenied"})
    line = events.call_line(
        who=who, service="s3", operation="PutObject", region="us-east-1", source_ip="10.0.0.1",
        user_agent="aws-cli", request_id="req-1", params={"Bucket": "b", "Key": "k", "Body": b"x" * 2048},
        result={"ETag": "e"}, failure=denied, keys=["111111111111/001", "222222222222/002"],
        resources=[{"accountId": "222222222222", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"}])
    assert line.startswith(events.CALL) and line.endswith(b"\n") and line.count(b"\n") == 1
    rows = [text.split(b"\t") for text in events.journal_lines(line[1:]).splitlines()]
    assert [(kind.decode(), key.decode()) for kind, key, _ in rows] == [
        (events.EVENT, "111111111111/001"), (events.EVENT, "222222222222/002"), (events.REQUEST, "req-1")]
    first, second = (jsontext.loads(value) for _, _, value in rows[:2])
    event = first["event"]
    assert event["userIdentity"] == {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                                     "arn": "arn:aws:iam::111111111111:user/alice", "accountId": "111111111111",
                                     "accessKeyId": "AKIAEXAMPLE", "userName": "alice"}
    assert event["eventSource"] == "s3.amazonaws.com" and event["eventName"] == "PutObject"
    assert event["errorCode"] == "AccessDenied" and event["errorMessage"] == "no"
    # S3's names (bucketName, Host); the body is never written down
    assert event["requestParameters"] == {"bucketName": "b", "Host": "", "key": "k"}
    assert event["userAgent"] == "[aws-cli]"  # S3 brackets it
    assert event["responseElements"] is None  # a failed call has none
    assert event["readOnly"] is False and event["eventCategory"] == "Data" and event["managementEvent"] is False
    assert event["resources"][0]["ARN"] == "arn:aws:s3:::b"
    assert (event["recipientAccountId"], second["event"]["recipientAccountId"]) == ("111111111111", "222222222222")
    assert event["eventID"] != second["event"]["eventID"]
    assert event["sharedEventID"] == second["event"]["sharedEventID"]
    # the other account sees the caller as an account (AWS's cross-account example)
    assert second["event"]["userIdentity"] == {"type": "AWSAccount", "principalId": "AIDAEXAMPLE",
                                               "accountId": "111111111111"}
    assert first["explain"] == {"decision": "ImplicitlyDenied"}
    assert jsontext.loads(rows[2][2]) == {"events": ["111111111111/001", "222222222222/002"]}


def test_a_call_line_journaled_before_additional_event_data_still_expands() -> None:
    """Lines journaled by an older Skyhold (15 fields, no additionalEventData) are read
    after an upgrade, not lost."""
    from skyhold import principal
    from skyhold.store import jsontext
    from skyhold.trail import events

    who = principal.Principal(type=principal.IAM_USER, account="111111111111",
                              arn="arn:aws:iam::111111111111:user/alice", user_id="AIDAEXAMPLE", name="alice")
    line = events.call_line(who=who, service="sts", operation="GetCallerIdentity", region="us-east-1",
                            source_ip="10.0.0.1", user_agent="aws-cli", request_id="req-2", params={}, result={},
                            failure=None, keys=["111111111111/001"], resources=[])
    fields = jsontext.loads(line[1:])
    assert len(fields) == 17
    for older in (15, 16):  # before additionalEventData, before tlsDetails
        rows = [text.split(b"\t") for text in events.journal_lines(jsontext.dumps(fields[:older])).splitlines()]
        event = jsontext.loads(rows[0][2])["event"]
        assert event["eventName"] == "GetCallerIdentity" and "additionalEventData" not in event
        assert "tlsDetails" not in event
