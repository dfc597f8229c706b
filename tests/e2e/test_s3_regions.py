"""A bucket is served only to requests signed for its region; the error names the
region, and the SDKs' region redirector follows it."""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import pytest
from botocore.config import Config

from .conftest import AwsEnv
from .test_s3 import _name


@pytest.fixture
def eu_bucket(admin: AwsEnv) -> str:
    name = _name("eu")
    s3 = admin.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=name, Key="k.txt", Body=b"hello from eu")
    return name


def _signed_get(admin: AwsEnv, url: str, region: str, presign: bool = False) -> urllib.request.Request:
    req = botocore.awsrequest.AWSRequest("GET", url)
    creds = admin.credentials()
    if presign:
        botocore.auth.S3SigV4QueryAuth(creds, "s3", region, expires=60).add_auth(req)
        return urllib.request.Request(req.url)
    botocore.auth.S3SigV4Auth(creds, "s3", region).add_auth(req)
    return urllib.request.Request(url, headers=dict(req.headers))


def _error(req: urllib.request.Request) -> tuple[int, dict[str, str], ET.Element]:
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    return e.value.code, dict(e.value.headers), ET.fromstring(e.value.read())


def test_wrong_region_names_the_right_one(admin: AwsEnv, eu_bucket: str) -> None:
    status, headers, body = _error(_signed_get(admin, f"{admin.endpoint}/{eu_bucket}/k.txt", "us-west-2"))
    assert status == 400
    assert body.findtext("Code") == "AuthorizationHeaderMalformed"
    assert body.findtext("Message") == ("The authorization header is malformed; the region 'us-west-2' is wrong; "
                                        "expecting 'eu-west-1'")
    assert body.findtext("Region") == "eu-west-1"
    assert headers["x-amz-bucket-region"] == "eu-west-1"


def test_presigned_url_for_the_wrong_region(admin: AwsEnv, eu_bucket: str) -> None:
    status, _, body = _error(_signed_get(admin, f"{admin.endpoint}/{eu_bucket}/k.txt", "us-east-1", presign=True))
    assert status == 400
    assert body.findtext("Code") == "AuthorizationQueryParametersError"
    assert body.findtext("Region") == "eu-west-1"
    with urllib.request.urlopen(_signed_get(admin, f"{admin.endpoint}/{eu_bucket}/k.txt", "eu-west-1",
                                            presign=True), timeout=10) as ok:
        assert ok.read() == b"hello from eu"


def test_sdks_follow_the_region_named_in_the_error(admin: AwsEnv, eu_bucket: str, tmp_path: Path) -> None:
    elsewhere = admin.session().client("s3", region_name="us-west-2", config=Config(retries={"max_attempts": 2}))
    assert elsewhere.get_object(Bucket=eu_bucket, Key="k.txt")["Body"].read() == b"hello from eu"
    assert elsewhere.head_object(Bucket=eu_bucket, Key="k.txt")["ContentLength"] == len(b"hello from eu")
    # GetBucketLocation is answered from any region: it is how a client asks
    assert elsewhere.get_bucket_location(Bucket=eu_bucket)["LocationConstraint"] == "eu-west-1"
    out = admin.aws("s3", "cp", f"s3://{eu_bucket}/k.txt", str(tmp_path / "k.txt"), "--region", "us-west-2")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "k.txt").read_bytes() == b"hello from eu"
