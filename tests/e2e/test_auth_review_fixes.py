"""Signing and POST-policy holes a security review found, each shown with real requests.

Requests are signed with botocore's own signers; where a test needs a request no SDK
would send (Host left out of SignedHeaders, an odd X-Amz-Expires), it narrows what the
signer signs rather than computing a signature by hand.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

from .conftest import AwsEnv, new_bucket, send_signed, signing_credentials


class _HostUnsigned(botocore.auth.SigV4Auth):
    def headers_to_sign(self, request: Any) -> Any:
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


class _S3HostUnsigned(botocore.auth.S3SigV4Auth):
    def headers_to_sign(self, request: Any) -> Any:
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def _error(body: bytes) -> dict[str, str]:
    """Code, Message and the other fields of an S3 <Error> or a query <ErrorResponse>."""
    root = ET.fromstring(body)
    error = root if root.tag == "Error" else next(el for el in root.iter() if el.tag.endswith("Error"))
    return {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in error}


def _s3_get(admin: AwsEnv, url: str, signer: type[botocore.auth.S3SigV4Auth] = botocore.auth.S3SigV4Auth
            ) -> tuple[int, bytes]:
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    signer(signing_credentials(admin), "s3", "us-east-1").add_auth(req)
    return send_signed(req)


def test_s3_auth_type_is_how_the_request_was_authenticated(admin: AwsEnv) -> None:
    """A header-signed request carrying X-Amz-Signature in its query is REST-HEADER:
    a policy that lets only presigned URLs read cannot be got round that way."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "authtype")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"secret")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"s3:authType": "REST-HEADER"}}}]}))
    for query in ("", "?X-Amz-Signature=x", "?x-amz-signature=x"):
        status, body = _s3_get(admin, f"{admin.endpoint}/{bucket}/doc{query}")
        assert (status, _error(body)["Code"]) == (403, "AccessDenied"), query
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc"}, ExpiresIn=60)
    assert requests.get(presigned, timeout=30).content == b"secret"


def test_host_must_be_signed(admin: AwsEnv) -> None:
    req = botocore.awsrequest.AWSRequest(method="POST", url=f"{admin.endpoint}/",
                                         data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    _HostUnsigned(signing_credentials(admin), "sts", "us-east-1").add_auth(req)
    status, body = send_signed(req)
    assert status == 403
    assert _error(body)["Code"] == "SignatureDoesNotMatch"
    assert _error(body)["Message"] == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."

    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "hostsigned")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    status, body = _s3_get(admin, f"{admin.endpoint}/{bucket}/doc", _S3HostUnsigned)
    error = _error(body)
    assert (status, error["Code"], error["HeadersNotSigned"]) == (403, "AccessDenied", "host")
    assert error["Message"] == "There were headers present in the request which were not signed"


@pytest.mark.parametrize("expires", ["1_0", "+5", " 7", "\u0665"])
def test_presigned_expiry_must_be_ascii_digits(admin: AwsEnv, expires: str) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "expires")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    req = botocore.awsrequest.AWSRequest(method="GET", url=f"{admin.endpoint}/{bucket}/doc")
    # The odd value is what gets signed, so only the parse can refuse it.
    botocore.auth.S3SigV4QueryAuth(signing_credentials(admin), "s3", "us-east-1", expires=expires).add_auth(req)  # type: ignore[arg-type]
    status, body = send_signed(req)
    error = _error(body)
    assert (status, error["Code"], error["Message"]) == (
        400, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number")


def test_presigned_sts_expiry_past_a_week_is_answered_in_sts_words(admin: AwsEnv) -> None:
    req = botocore.awsrequest.AWSRequest(method="GET",
                                         url=f"{admin.endpoint}/?Action=GetCallerIdentity&Version=2011-06-15")
    botocore.auth.SigV4QueryAuth(signing_credentials(admin), "sts", "us-east-1", expires=604801).add_auth(req)
    status, body = send_signed(req)
    assert status == 400
    assert ET.fromstring(body).tag.endswith("ErrorResponse")  # STS's document, not S3's <Error>
    assert _error(body)["Code"] == "IncompleteSignature"


def test_every_content_length_range_of_a_post_policy_holds(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "postranges")
    post = s3.generate_presigned_post(bucket, "f.bin", Conditions=[["content-length-range", 0, 1000],
                                                                    ["content-length-range", 0, 10]], ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f.bin", b"x" * 100)}, timeout=30)
    error = _error(r.content)
    assert (r.status_code, error["Code"], error["MaxSizeAllowed"]) == (400, "EntityTooLarge", "10")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f.bin", b"x" * 10)}, timeout=30)
    assert r.status_code == 204


def test_presigned_expiry_of_thousands_of_digits_is_too_long(admin: AwsEnv) -> None:
    """Past 4,300 digits Python's int() refuses the text: still AWS's 400, not a 500."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "expires-long")
    req = botocore.awsrequest.AWSRequest(method="GET", url=f"{admin.endpoint}/{bucket}/doc")
    botocore.auth.S3SigV4QueryAuth(signing_credentials(admin), "s3", "us-east-1", expires="9" * 4301).add_auth(req)  # type: ignore[arg-type]
    status, body = send_signed(req)
    error = _error(body)
    assert (status, error["Code"]) == (400, "AuthorizationQueryParametersError")
    assert error["Message"].startswith("X-Amz-Expires must be less than a week")
