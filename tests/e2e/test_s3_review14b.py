"""Review 14b: S3 follow-ups -- empty configuration answers carry their root element,
Requester Pays answers say the requester was charged, ListObjects' optional
RestoreStatus, and browser form uploads' x-amz-checksum-* fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import AwsEnv, Server, new_account, new_bucket, own_server


def _s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _raw_body(s3: Any, operation: str, **params: Any) -> bytes:
    """The answer's body as sent, before botocore parses it."""
    seen: dict[str, bytes] = {}

    def keep(http_response: Any, **_: Any) -> None:
        seen["body"] = http_response.content
    s3.meta.events.register(f"after-call.s3.{operation}", lambda **kw: keep(kw["http_response"]))
    getattr(s3, _snake(operation))(**params)
    return seen["body"]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


# --- empty configurations -------------------------------------------------------------------

@pytest.mark.parametrize("operation,root", [
    ("GetBucketVersioning", "VersioningConfiguration"),
    ("GetBucketAccelerateConfiguration", "AccelerateConfiguration"),
    ("GetBucketLogging", "BucketLoggingStatus"),
    ("GetBucketNotificationConfiguration", "NotificationConfiguration"),
])
def test_an_empty_configuration_is_its_root_element(admin: AwsEnv, operation: str, root: str) -> None:
    """AWS answers a bucket with nothing configured with the empty root element
    (`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`), not
    an empty body: SDKs that parse the document (the Java SDK v1's XML handlers) fail on
    nothing at all."""
    s3 = _s3(admin)
    name = new_bucket(s3, "r14b-empty")
    body = _raw_body(s3, operation, Bucket=name).decode()
    assert f'<{root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' in body, body


def test_quiet_delete_objects_answers_an_empty_delete_result(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14b-quiet")
    s3.put_object(Bucket=name, Key="a", Body=b"x")
    body = _raw_body(s3, "DeleteObjects", Bucket=name,
                     Delete={"Objects": [{"Key": "a"}], "Quiet": True}).decode()
    assert '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' in body, body


# --- Requester Pays -----------------------------------------------------------------------------

def test_a_paying_requester_is_told_it_was_charged(admin: AwsEnv, server: Server, tmp_path: Path) -> None:
    """S3 User Guide, "Downloading objects from Requester Pays buckets": "If the request
    succeeds and the requester is charged, the response includes the header
    x-amz-request-charged:requester" (botocore: RequestCharged)."""
    s3 = _s3(admin)
    name = new_bucket(s3, "r14b-pay")
    s3.put_object(Bucket=name, Key="data", Body=b"paid")
    other, other_account = new_account(server, tmp_path, "r14bpay")
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other_account}:root"},
         "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}]}))
    theirs = other.client("s3", region_name="us-east-1")
    # Not a Requester Pays bucket: nobody is charged.
    assert "RequestCharged" not in theirs.get_object(Bucket=name, Key="data", RequestPayer="requester")
    s3.put_bucket_request_payment(Bucket=name, RequestPaymentConfiguration={"Payer": "Requester"})
    got = theirs.get_object(Bucket=name, Key="data", RequestPayer="requester")
    assert (got["Body"].read(), got["RequestCharged"]) == (b"paid", "requester")
    assert theirs.head_object(Bucket=name, Key="data", RequestPayer="requester")["RequestCharged"] == "requester"
    put = theirs.put_object(Bucket=name, Key="theirs", Body=b"x", RequestPayer="requester")
    assert put["RequestCharged"] == "requester"
    listed = theirs.list_objects_v2(Bucket=name, RequestPayer="requester")
    assert listed["RequestCharged"] == "requester"
    their_bucket = new_bucket(theirs, "r14b-payc")
    copied = theirs.copy_object(Bucket=their_bucket, Key="c", CopySource=f"{name}/data", RequestPayer="requester")
    assert copied["RequestCharged"] == "requester"
    # The owner pays for its own requests: nothing is charged to it as a requester.
    assert "RequestCharged" not in s3.get_object(Bucket=name, Key="data")


# --- ListObjects' optional RestoreStatus ----------------------------------------------------------

def test_listing_with_restore_status(tmp_path: Path) -> None:
    """x-amz-optional-object-attributes: RestoreStatus: an entry being restored says
    IsRestoreInProgress true; a restored one false with its RestoreExpiryDate; one never
    restored carries none (S3 API reference, RestoreStatus)."""
    with own_server(tmp_path) as (srv, owner):
        s3 = owner.client("s3", region_name="us-east-1")
        name = new_bucket(s3, "r14b-rst")
        for key in ("cold", "frozen", "warm"):
            s3.put_object(Bucket=name, Key=key, Body=b"x", StorageClass="STANDARD" if key == "warm" else "GLACIER")
        s3.restore_object(Bucket=name, Key="cold",
                          RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": "Standard"}})

        def entries(**extra: Any) -> dict[str, dict[str, Any]]:
            out = s3.list_objects_v2(Bucket=name, **extra)
            return {e["Key"]: e for e in out["Contents"]}
        assert all("RestoreStatus" not in e for e in entries().values())
        listed = entries(OptionalObjectAttributes=["RestoreStatus"])
        assert listed["cold"]["RestoreStatus"] == {"IsRestoreInProgress": True}
        assert "RestoreStatus" not in listed["frozen"] and "RestoreStatus" not in listed["warm"]

        out = srv.cli("clock", "advance", "3h", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        status = entries(OptionalObjectAttributes=["RestoreStatus"])["cold"]["RestoreStatus"]
        assert status["IsRestoreInProgress"] is False
        expiry = status["RestoreExpiryDate"].astimezone(UTC)
        header = s3.head_object(Bucket=name, Key="cold")["Restore"]
        assert expiry.strftime("%d %b %Y %H:%M:%S GMT") in header
        assert expiry > datetime.now(UTC)
        v1 = s3.list_objects(Bucket=name, OptionalObjectAttributes=["RestoreStatus"])["Contents"]
        assert [e["Key"] for e in v1 if "RestoreStatus" in e] == ["cold"]
        versions = s3.list_object_versions(Bucket=name, OptionalObjectAttributes=["RestoreStatus"])["Versions"]
        assert [e["Key"] for e in versions if "RestoreStatus" in e] == ["cold"]


# --- browser form uploads' checksum fields -----------------------------------------------------

def _post(s3: Any, bucket: str, key: str, body: bytes, fields: dict[str, str]) -> requests.Response:
    post = s3.generate_presigned_post(bucket, key, Fields=fields,
                                      Conditions=[{name: value} for name, value in fields.items()])
    return requests.post(post["url"], data=post["fields"], files={"file": ("f.bin", body)}, timeout=10)


def test_a_form_uploads_checksum_fields_are_verified(admin: AwsEnv) -> None:
    """A form's x-amz-checksum-<algorithm> field is the PUT header's counterpart: S3 keeps
    and returns the checksum, refuses a file that does not match it (BadDigest), a value
    that is no checksum and two checksums (InvalidRequest), as versitygw's PostObject
    tests record; Skyhold ignored them all."""
    s3 = _s3(admin)
    name = new_bucket(s3, "r14b-postck")
    body = b"test data"
    good = "kW8AJ6V1B0znKjMXd8NHjWUT94alkb2JLaGld78jNfk="  # sha256 of b"test data"
    answer = _post(s3, name, "ok", body, {"x-amz-checksum-sha256": good})
    assert answer.status_code == 204, answer.text
    assert answer.headers["x-amz-checksum-sha256"] == good
    assert s3.head_object(Bucket=name, Key="ok", ChecksumMode="ENABLED")["ChecksumSHA256"] == good

    wrong = _post(s3, name, "bad", b"other data", {"x-amz-checksum-sha256": good})
    assert (wrong.status_code, _code(wrong)) == (400, "BadDigest"), wrong.text
    malformed = _post(s3, name, "bad", body, {"x-amz-checksum-crc32": "invalid"})
    assert (malformed.status_code, _code(malformed), _message(malformed)) == (
        400, "InvalidRequest", "Value for x-amz-checksum-crc32 header is invalid."), malformed.text
    two = _post(s3, name, "bad", body, {"x-amz-checksum-crc32": "0wiusg==", "x-amz-checksum-crc32c": "M3m0yg=="})
    assert (two.status_code, _code(two)) == (400, "InvalidRequest"), two.text
    assert "Multiple checksum Types are not allowed" in _message(two)
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="bad")


def _code(answer: requests.Response) -> str:
    return answer.text.split("<Code>")[1].split("</Code>")[0]


def _message(answer: requests.Response) -> str:
    return answer.text.split("<Message>")[1].split("</Message>")[0]


# --- max-uploads=0 ------------------------------------------------------------------------------

def test_max_uploads_zero_is_an_empty_page(admin: AwsEnv) -> None:
    """AWS answers max-uploads=0 with no upload, IsTruncated false and MaxUploads 0
    (recorded by Scality's cloudserver#435), not with a page of the default 1000."""
    s3 = _s3(admin)
    name = new_bucket(s3, "r14b-mu0")
    for key in ("a", "b"):
        s3.create_multipart_upload(Bucket=name, Key=key)
    out = s3.list_multipart_uploads(Bucket=name, MaxUploads=0)
    assert (out.get("Uploads"), out["IsTruncated"], out["MaxUploads"]) == (None, False, 0)
    assert len(s3.list_multipart_uploads(Bucket=name)["Uploads"]) == 2
