"""S3 object edge cases against what AWS recorded or documents: RestoreObject of archived
objects (202, 409 RestoreAlreadyInProgress, x-amz-restore, readable once restored, expired
after Days on Skyhold's clock, s3:RestoreObject), conditional dates S3 cannot parse
(ignored), an Expires that is not a date (kept as sent), x-amz-website-redirect-location's
prefixes (and a copy's own), user metadata in RFC 2047 encoded-words, and non-ASCII header
bytes under SigV4 (signed as the bytes received)."""

from __future__ import annotations

import string
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.awsrequest
import pytest
import requests

from .conftest import AwsEnv, Server, error_and_status, new_bucket, own_server

NOT_ARCHIVED = "Restore is not allowed for the object's current storage class"
GET_ARCHIVED = "The operation is not valid for the object's storage class"
BAD_REDIRECT = "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bucket(s3: Any, versioning: str | None = None) -> str:
    return new_bucket(s3, "review14-obj", versioning)


def _with_headers(client: Any, operation: str, headers: dict[str, str]) -> Any:
    """The client, sending `headers` (signed) on every `operation` call: values botocore
    itself would refuse to serialize."""
    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            del request.headers[name]  # (setting a header adds one)
            request.headers[name] = value
    client.meta.events.register(f"before-sign.s3.{operation}", add)
    return client


def _advance(srv: Server, span: str) -> None:
    out = srv.cli("clock", "advance", span, "--endpoint", srv.endpoint)
    assert out.returncode == 0, out.stderr


def _expiry(restore: str) -> datetime:
    assert restore.startswith('ongoing-request="false", expiry-date="'), restore
    return parsedate_to_datetime(restore.split('expiry-date="')[1].rstrip('"'))


# --- RestoreObject ----------------------------------------------------------------------------

def test_restore_of_an_archived_object_end_to_end(tmp_path: Path) -> None:
    """AWS (recorded with the aws CLI): a GLACIER object's restore answers 202 and HEAD then
    says ongoing-request="true"; a second restore meanwhile is 409 RestoreAlreadyInProgress;
    once done, GET serves it (x-amz-restore with a midnight expiry-date, the StorageClass
    still GLACIER) and a restore again answers 200 with a new expiry. Skyhold completes a
    Standard restore of GLACIER after 3 hours and expires the copy Days later (rounded up
    to a midnight UTC), on its own clock."""
    with own_server(tmp_path) as (srv, owner):
        s3 = owner.client("s3", region_name="us-east-1")
        bucket = _bucket(s3)
        s3.put_object(Bucket=bucket, Key="cold", Body=b"archived bytes", StorageClass="GLACIER")
        err, status = error_and_status(lambda: s3.get_object(Bucket=bucket, Key="cold"))
        assert (err["Code"], err["Message"], err["StorageClass"], status) == (
            "InvalidObjectState", GET_ARCHIVED, "GLACIER", 403)
        assert "Restore" not in s3.head_object(Bucket=bucket, Key="cold")

        out = s3.restore_object(Bucket=bucket, Key="cold",
                                RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": "Standard"}})
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
        head = s3.head_object(Bucket=bucket, Key="cold")
        assert (head["Restore"], head["StorageClass"]) == ('ongoing-request="true"', "GLACIER")
        err, status = error_and_status(lambda: s3.restore_object(Bucket=bucket, Key="cold",
                                                                 RestoreRequest={"Days": 2}))
        assert (err["Code"], err["Message"], status) == (
            "RestoreAlreadyInProgress", "Object restore is already in progress", 409)
        # still unreadable, and not a copy source, while the restore is under way
        assert error_and_status(lambda: s3.get_object(Bucket=bucket, Key="cold"))[0]["Code"] == "InvalidObjectState"
        err, status = error_and_status(lambda: s3.copy_object(Bucket=bucket, Key="warm",
                                                              CopySource=f"{bucket}/cold"))
        assert (err["Code"], status) == ("ObjectNotInActiveTierError", 403)

        _advance(srv, "3h")
        got = s3.get_object(Bucket=bucket, Key="cold")
        assert got["Body"].read() == b"archived bytes"
        assert got["StorageClass"] == "GLACIER"
        expiry = _expiry(got["Restore"])
        modified = s3.head_object(Bucket=bucket, Key="cold")["LastModified"]
        assert (expiry.hour, expiry.minute, expiry.second) == (0, 0, 0)
        assert 2 <= (expiry - modified).total_seconds() / 86400 <= 3 + 1  # done after 3 h, plus 2 days, rounded up
        # a restored copy is a copy source (how one makes it permanent)
        s3.copy_object(Bucket=bucket, Key="warm", CopySource=f"{bucket}/cold")
        assert s3.get_object(Bucket=bucket, Key="warm")["Body"].read() == b"archived bytes"

        again = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 10})
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
        longer = _expiry(s3.head_object(Bucket=bucket, Key="cold")["Restore"])
        assert (longer - expiry).days >= 7

        _advance(srv, "11d")
        head = s3.head_object(Bucket=bucket, Key="cold")
        assert "Restore" not in head and head["StorageClass"] == "GLACIER"
        assert error_and_status(lambda: s3.get_object(Bucket=bucket, Key="cold"))[0]["Code"] == "InvalidObjectState"
        # an expired copy can be restored anew
        fresh = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 1})
        assert fresh["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_restore_of_a_deep_archive_version(tmp_path: Path) -> None:
    """A version id restores that version (S3 API Reference); DEEP_ARCHIVE's Standard tier
    takes longer (Skyhold: 12 hours) than GLACIER's."""
    with own_server(tmp_path) as (srv, owner):
        s3 = owner.client("s3", region_name="us-east-1")
        bucket = _bucket(s3, versioning="Enabled")
        old = s3.put_object(Bucket=bucket, Key="k", Body=b"old", StorageClass="DEEP_ARCHIVE")["VersionId"]
        s3.put_object(Bucket=bucket, Key="k", Body=b"new")
        assert s3.restore_object(Bucket=bucket, Key="k", VersionId=old,
                                 RestoreRequest={"Days": 1})["ResponseMetadata"]["HTTPStatusCode"] == 202
        _advance(srv, "4h")
        assert s3.head_object(Bucket=bucket, Key="k", VersionId=old)["Restore"] == 'ongoing-request="true"'
        _advance(srv, "9h")
        got = s3.get_object(Bucket=bucket, Key="k", VersionId=old)
        assert got["Body"].read() == b"old" and got["StorageClass"] == "DEEP_ARCHIVE"
        # the current version (STANDARD) is not archived
        err, status = error_and_status(lambda: s3.restore_object(Bucket=bucket, Key="k", RestoreRequest={"Days": 1}))
        assert (err["Code"], err["Message"], status) == ("InvalidObjectState", NOT_ARCHIVED, 403)


def test_restore_of_an_object_a_lifecycle_rule_archived(tmp_path: Path) -> None:
    """An object moved to GLACIER by a lifecycle transition is archived like one PUT there:
    GET refused until a restore completes, then served (Expedited: Skyhold's 1 minute)."""
    with own_server(tmp_path) as (srv, owner):
        s3 = owner.client("s3", region_name="us-east-1")
        bucket = _bucket(s3)
        body = b"x" * 200_000  # over the 128 KB a transition needs by default
        s3.put_object(Bucket=bucket, Key="doc", Body=body)
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
            "ID": "archive", "Status": "Enabled", "Filter": {},
            "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]})
        _advance(srv, "2d")
        assert s3.head_object(Bucket=bucket, Key="doc")["StorageClass"] == "GLACIER"
        err, status = error_and_status(lambda: s3.get_object(Bucket=bucket, Key="doc"))
        assert (err["Code"], err["StorageClass"], status) == ("InvalidObjectState", "GLACIER", 403)
        out = s3.restore_object(Bucket=bucket, Key="doc",
                                RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
        _advance(srv, "2m")
        assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == body


def test_restore_of_an_object_that_is_not_archived(s3: Any) -> None:
    """AWS (recorded): 403 InvalidObjectState, "Restore is not allowed for the object's
    current storage class" -- GLACIER_IR, for one, is read at once."""
    bucket = _bucket(s3)
    for storage_class in ("STANDARD", "GLACIER_IR"):
        s3.put_object(Bucket=bucket, Key=storage_class, Body=b"x", StorageClass=storage_class)
        err, status = error_and_status(lambda: s3.restore_object(Bucket=bucket, Key=storage_class,
                                                                 RestoreRequest={"Days": 1}))
        assert (err["Code"], err["Message"], status) == ("InvalidObjectState", NOT_ARCHIVED, 403)
    err, status = error_and_status(lambda: s3.restore_object(Bucket=bucket, Key="missing",
                                                             RestoreRequest={"Days": 1}))
    assert (err["Code"], status) == ("NoSuchKey", 404)


def test_restore_needs_s3_restore_object(admin: AwsEnv, s3: Any) -> None:
    """The S3 API Reference: RestoreObject needs s3:RestoreObject on the object -- reading
    it (s3:GetObject) is not enough."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    reader = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}), "s3")
    err, status = error_and_status(lambda: reader.restore_object(Bucket=bucket, Key="cold",
                                                                 RestoreRequest={"Days": 1}))
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert "s3:RestoreObject" in err["Message"]
    restorer = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:RestoreObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}), "s3")
    out = restorer.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 1})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_restore_through_the_aws_cli(admin: AwsEnv, s3: Any) -> None:
    """`aws s3api restore-object --restore-request Days=3` (no output) then head-object's
    Restore, as the recorded CLI session shows."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="DEEP_ARCHIVE")
    admin.aws("s3api", "restore-object", "--bucket", bucket, "--key", "cold", "--restore-request", "Days=3")
    head = admin.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "cold")
    assert (head["Restore"], head["StorageClass"]) == ('ongoing-request="true"', "DEEP_ARCHIVE")


# --- dates S3 cannot parse ----------------------------------------------------------------------

@pytest.mark.parametrize("header", ["If-Modified-Since", "If-Unmodified-Since"])
def test_an_unparsable_conditional_date_is_ignored(admin: AwsEnv, s3: Any, header: str) -> None:
    """RFC 9110 (13.1.3, 13.1.4): a recipient ignores If-(Un)Modified-Since whose value is
    not a valid HTTP-date; S3 serves the object rather than a 400 (versitygw, which follows
    S3, parses them the same way)."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    for value in ("garbage", "Mon, 99 Foo 2020 00:00:00 GMT"):
        client = admin.client("s3", region_name="us-east-1")
        _with_headers(client, "GetObject", {header: value})
        _with_headers(client, "HeadObject", {header: value})
        assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"body"
        assert client.head_object(Bucket=bucket, Key="k")["ContentLength"] == 4


def test_an_expires_that_is_not_a_date_is_kept_as_sent(s3: Any) -> None:
    """S3 does not check Expires' format (aws-sdk-go#322; botocore's ExpiresString exists
    for it): a PUT with "Expires: soon" succeeds and GET/HEAD return it as sent -- through a
    CopyObject (COPY directive) too."""
    bucket = _bucket(s3)
    _with_headers(s3, "PutObject", {"Expires": "soon"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert (got.get("Expires"), got["ExpiresString"]) == (None, "soon")
    assert s3.head_object(Bucket=bucket, Key="k")["ExpiresString"] == "soon"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/k")
    assert s3.head_object(Bucket=bucket, Key="copy")["ExpiresString"] == "soon"


# --- x-amz-website-redirect-location ----------------------------------------------------------

def test_website_redirect_location_needs_a_known_prefix(s3: Any) -> None:
    """AWS (its answer quoted in a client's log): 400 InvalidRedirectLocation unless the
    value starts with "/", "http://" or "https://" -- on every write that sets it."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    writes = [
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", WebsiteRedirectLocation="other.html"),
        lambda: s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/src",
                               WebsiteRedirectLocation="ftp://host/x"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", WebsiteRedirectLocation="example.com/x"),
    ]
    for write in writes:
        err, status = error_and_status(write)
        assert (err["Code"], err["Message"], status) == ("InvalidRedirectLocation", BAD_REDIRECT, 400)
    for location in ("/other.html", "http://example.com/", "https://example.com/x"):
        s3.put_object(Bucket=bucket, Key="ok", Body=b"x", WebsiteRedirectLocation=location)
        assert s3.head_object(Bucket=bucket, Key="ok")["WebsiteRedirectLocation"] == location


def test_copy_takes_the_website_redirect_of_its_request_only(s3: Any) -> None:
    """The S3 API Reference (CopyObject, x-amz-website-redirect-location): the value "is
    unique to each object and is not copied when using the x-amz-metadata-directive
    header"; one sent with the copy is the copy's, under COPY as under REPLACE."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", WebsiteRedirectLocation="/src.html",
                  Metadata={"kept": "yes"})
    s3.copy_object(Bucket=bucket, Key="plain", CopySource=f"{bucket}/src")
    head = s3.head_object(Bucket=bucket, Key="plain")
    assert "WebsiteRedirectLocation" not in head and head["Metadata"] == {"kept": "yes"}
    for directive in ("COPY", "REPLACE"):
        s3.copy_object(Bucket=bucket, Key=directive, CopySource=f"{bucket}/src", MetadataDirective=directive,
                       WebsiteRedirectLocation="/new.html")
        assert s3.head_object(Bucket=bucket, Key=directive)["WebsiteRedirectLocation"] == "/new.html"


# --- user metadata beyond ASCII -----------------------------------------------------------------

def test_user_metadata_in_rfc_2047_encoded_words(s3: Any) -> None:
    """AWS (recorded): encoded-words are decoded before S3 stores a value and a stored
    value that is not printable ASCII is encoded again on GET/HEAD -- ASCII plainly, text
    in S3's Q form (space as "_", "_" and "?" escaped), control characters in base64."""
    bucket = _bucket(s3)
    sent = {
        "fake-encoded": "=?UTF-8?Q?actually-ascii?=",
        "b64-ascii": "=?UTF-8?B?YWJj?=",
        "text": "=?UTF-8?B?w4RNw4Raw5XDkSBTMw==?=",  # "ÄMÄZÕÑ S3", sent in base64
        "file": "=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?=",
        "binary": "=?UTF-8?Q?=00=01=02=03?=",
        "safe": string.punctuation,
    }
    s3.put_object(Bucket=bucket, Key="k", Body=b"", Metadata=sent)
    expected = {
        "fake-encoded": "actually-ascii",
        "b64-ascii": "abc",
        "text": "=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?=",
        "file": "=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?=",
        "binary": "=?UTF-8?B?AAECAw==?=",
        "safe": string.punctuation,
    }
    assert s3.get_object(Bucket=bucket, Key="k")["Metadata"] == expected
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == expected
    # what is kept is the decoded text: a copy (COPY directive) answers the same
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/k")
    assert s3.head_object(Bucket=bucket, Key="copy")["Metadata"] == expected


def test_non_ascii_content_headers_are_signed_and_kept_as_bytes(s3: Any) -> None:
    """AWS (recorded): boto3 sends a non-ASCII Cache-Control / Content-Disposition as UTF-8
    bytes, signed as that text; S3 takes it and returns the same bytes (which botocore reads
    as Latin-1). Skyhold answered SignatureDoesNotMatch."""
    bucket = _bucket(s3)
    disposition = 'attachment; filename="test_—_file%E2%80%94_é_2.pdf"'
    s3.put_object(Bucket=bucket, Key="k", Body=b"", ContentDisposition=disposition, CacheControl="ÄMÄZÕÑ S3")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ContentDisposition"] == disposition.encode().decode("latin-1")
    assert got["CacheControl"] == "ÄMÄZÕÑ S3".encode().decode("latin-1")


def test_raw_utf8_user_metadata_is_returned_rfc_2047_encoded(admin: AwsEnv, s3: Any) -> None:
    """A client that sends a metadata value as raw UTF-8 (boto3 refuses to, others do not):
    signed like any header, and -- not being US-ASCII -- returned RFC 2047-encoded (S3
    User Guide, "Working with object metadata")."""
    bucket = _bucket(s3)
    client = _with_headers(admin.client("s3", region_name="us-east-1"), "PutObject", {"x-amz-meta-city": "Zürich"})
    client.put_object(Bucket=bucket, Key="k", Body=b"")
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"city": "=?UTF-8?Q?Z=C3=BCrich?="}


def test_a_header_that_is_not_utf8_fails_the_signature_cleanly(admin: AwsEnv, s3: Any) -> None:
    """S3 signs what it received, byte for byte (the UTF-8 case above succeeds on AWS): a
    client that signs a header as text but sends other bytes (Latin-1 here) gets
    SignatureDoesNotMatch -- Skyhold accepted it (it signed the Latin-1 reading of the
    bytes), and once signing bytes, answered 500 while wording the error."""
    bucket = _bucket(s3)
    url = f"{admin.endpoint}/{bucket}/k"
    request = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=b"x", headers={
        "x-amz-meta-a": "\u00ff\u00fe", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    botocore.auth.S3SigV4Auth(admin.session().get_credentials(), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    # http.client sends a str header as Latin-1: bytes ff fe, where the signature covers c3 bf c3 be
    answer = requests.put(url, data=b"x", headers=dict(prepared.headers), timeout=30)
    assert answer.status_code == 403, answer.text
    assert "<Code>SignatureDoesNotMatch</Code>" in answer.text


def test_an_empty_expires_is_no_expires(admin: AwsEnv, s3: Any) -> None:
    """An empty Expires header sets none: stored as sent, it would be an empty Expires on
    HEAD, which botocore cannot read (it fails the whole call)."""
    bucket = _bucket(s3)
    client = _with_headers(admin.client("s3", region_name="us-east-1"), "PutObject", {"Expires": ""})
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert "Expires" not in head and "ExpiresString" not in head


def test_metadata_limit_counts_decoded_values(s3: Any) -> None:
    """The 2 KB limit is on the UTF-8 bytes of what S3 stores (S3 User Guide): an
    encoded-word that decodes within it is accepted though its header is longer."""
    bucket = _bucket(s3)
    word = "=?UTF-8?Q?" + "=41" * 600 + "?="  # 1810 characters on the wire, 600 "A"s stored
    s3.put_object(Bucket=bucket, Key="k", Body=b"", Metadata={"a": word, "b": word})
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"a": "A" * 600, "b": "A" * 600}
