"""S3 from a browser's point of view, end to end: CORS rules set with the real `aws`
CLI and applied to preflights and actual requests, and HTML form uploads (POST Object)
built by boto3's generate_presigned_post and posted as multipart/form-data."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server
from .test_s3 import _name, bucket, s3  # noqa: F401 (the same fixtures: a client, a fresh bucket)

APP = "https://app.example.com"
RULES = {"CORSRules": [
    {"AllowedOrigins": [APP], "AllowedMethods": ["GET", "PUT", "POST"], "AllowedHeaders": ["*"],
     "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["https://*.partner.example"], "AllowedMethods": ["GET"]},
]}
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
               "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
               "whitelisted by the resource's CORS spec.")


@pytest.fixture
def cors_bucket(admin: AwsEnv, bucket: str, tmp_path: Path) -> str:
    """A bucket whose CORS rules were set by the real CLI."""
    path = tmp_path / "cors.json"
    path.write_text(json.dumps(RULES))
    out = admin.aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", f"file://{path}")
    assert out.returncode == 0, out.stderr
    return bucket


def _http(method: str, url: str, headers: dict[str, str] | None = None,
          data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def _error(body: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(body)}


def _cors(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-") or k == "vary"}


# --- CORS --------------------------------------------------------------------------------

def test_cli_sets_rules_and_preflights_follow_them(admin: AwsEnv, cors_bucket: str) -> None:
    got = admin.aws_json("s3api", "get-bucket-cors", "--bucket", cors_bucket)
    assert got["CORSRules"] == RULES["CORSRules"]
    url = f"{admin.endpoint}/{cors_bucket}/photos/cat.jpg"

    status, headers, body = _http("OPTIONS", url, {"Origin": APP, "Access-Control-Request-Method": "PUT",
                                                   "Access-Control-Request-Headers": "Content-Type, X-Amz-Date"})
    assert (status, body) == (200, b"")
    assert _cors(headers) == {
        "access-control-allow-origin": APP,
        "access-control-allow-methods": "GET, PUT, POST",
        "access-control-allow-headers": "content-type, x-amz-date",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
        "vary": VARY,
    }
    # Virtual-hosted, and the second rule's wildcard origin.
    host = f"{cors_bucket}.s3.localhost:{urlsplit(admin.endpoint).port}"
    status, headers, _ = _http("OPTIONS", f"{admin.endpoint}/photos/cat.jpg",
                               {"Host": host, "Origin": "https://cdn.partner.example",
                                "Access-Control-Request-Method": "GET"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://cdn.partner.example"
    assert headers["access-control-allow-methods"] == "GET"


def test_preflight_refusals(admin: AwsEnv, cors_bucket: str, s3) -> None:
    url = f"{admin.endpoint}/{cors_bucket}/photos/cat.jpg"
    status, headers, body = _http("OPTIONS", url, {"Origin": "https://evil.example",
                                                   "Access-Control-Request-Method": "PUT"})
    assert status == 403 and not _cors(headers)
    err = _error(body)
    assert (err["Code"], err["Message"], err["Method"], err["ResourceType"]) == (
        "AccessForbidden", NOT_ALLOWED, "PUT", "OBJECT")
    # The partner rule allows GET only, and no requested header.
    status, _, body = _http("OPTIONS", url, {"Origin": "https://cdn.partner.example",
                                             "Access-Control-Request-Method": "GET",
                                             "Access-Control-Request-Headers": "x-amz-date"})
    assert (status, _error(body)["Code"]) == (403, "AccessForbidden")

    status, _, body = _http("OPTIONS", url, {"Access-Control-Request-Method": "PUT"})
    assert (status, _error(body)["Code"], _error(body)["Message"]) == (
        400, "BadRequest", "Insufficient information. Origin request header needed.")
    status, _, body = _http("OPTIONS", url, {"Origin": APP})
    assert (status, _error(body)["Message"]) == (400, "Invalid Access-Control-Request-Method: null")

    other = _name()  # a bucket without rules
    s3.create_bucket(Bucket=other)
    status, _, body = _http("OPTIONS", f"{admin.endpoint}/{other}/k", {"Origin": APP,
                                                                       "Access-Control-Request-Method": "GET"})
    err = _error(body)
    assert (status, err["Code"], err["Message"], err["Method"], err["ResourceType"]) == (
        403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", "GET", "BUCKET")
    status, _, body = _http("OPTIONS", f"{admin.endpoint}/{_name()}/k", {"Origin": APP})
    assert (status, _error(body)["Message"]) == (403, "CORSResponse: Bucket not found")

    # Removing the rules turns CORS off again (DeleteBucketCors answers 204).
    assert s3.delete_bucket_cors(Bucket=cors_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, _, body = _http("OPTIONS", url, {"Origin": APP, "Access-Control-Request-Method": "PUT"})
    assert (status, _error(body)["Message"]) == (403, "CORSResponse: CORS is not enabled for this bucket.")


def test_presigned_put_from_an_allowed_origin_carries_cors_headers(s3, cors_bucket: str) -> None:
    url = s3.generate_presigned_url("put_object", Params={"Bucket": cors_bucket, "Key": "from-browser.txt"},
                                    ExpiresIn=300)
    status, headers, _ = _http("PUT", url, {"Origin": APP}, b"sent by a web page")
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["vary"] == VARY
    assert s3.get_object(Bucket=cors_bucket, Key="from-browser.txt")["Body"].read() == b"sent by a web page"

    # From an origin no rule allows, S3 still serves the request, without CORS headers.
    status, headers, _ = _http("PUT", url, {"Origin": "https://evil.example"}, b"again")
    assert status == 200 and not _cors(headers)


def test_errors_still_carry_cors_headers(admin: AwsEnv, s3, cors_bucket: str) -> None:
    s3.put_object(Bucket=cors_bucket, Key="private.txt", Body=b"secret")
    status, headers, body = _http("GET", f"{admin.endpoint}/{cors_bucket}/private.txt", {"Origin": APP})
    assert (status, _error(body)["Code"]) == (403, "AccessDenied")
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "GET, PUT, POST"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "missing.txt"})
    status, headers, body = _http("GET", url, {"Origin": "https://x.partner.example"})
    assert (status, _error(body)["Code"]) == (404, "NoSuchKey")
    assert headers["access-control-allow-origin"] == "https://x.partner.example"


# --- browser form uploads ----------------------------------------------------------------

def _post(post: dict, file: tuple[str, bytes], *, fields: dict[str, str] | None = None,
          origin: str | None = None) -> requests.Response:
    headers = {"Origin": origin} if origin else {}
    return requests.post(post["url"], data={**post["fields"], **(fields or {})}, files={"file": file},
                         headers=headers, allow_redirects=False, timeout=30)


def _keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_presigned_post_upload(s3, cors_bucket: str, server: Server) -> None:
    marker = b"POST-PLAINTEXT-" + uuid.uuid4().hex.encode()
    data = marker * 200
    post = s3.generate_presigned_post(
        cors_bucket, "uploads/${filename}",
        Fields={"success_action_status": "201", "Content-Type": "text/plain", "x-amz-meta-owner": "eric"},
        Conditions=[["starts-with", "$key", "uploads/"], {"success_action_status": "201"},
                    ["starts-with", "$Content-Type", "text/"], {"x-amz-meta-owner": "eric"},
                    ["content-length-range", 1, 1_000_000]],
        ExpiresIn=300)
    r = _post(post, ("notes.txt", data), origin=APP)
    assert r.status_code == 201, r.text
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    got = {child.tag: child.text for child in doc}
    assert got == {"Location": f"{post['url']}/uploads/notes.txt", "Bucket": cors_bucket,
                   "Key": "uploads/notes.txt", "ETag": etag}
    assert r.headers["ETag"] == etag and r.headers["Location"] == got["Location"]
    assert r.headers["Access-Control-Allow-Origin"] == APP

    obj = s3.get_object(Bucket=cors_bucket, Key="uploads/notes.txt")
    assert obj["Body"].read() == data
    assert (obj["ContentType"], obj["Metadata"], obj["ServerSideEncryption"]) == ("text/plain", {"owner": "eric"},
                                                                                   "AES256")
    stored = [p for p in server.data_dir.rglob("*") if p.is_file()]  # blobs, and small bodies in the database
    assert stored and not any(marker in p.read_bytes() for p in stored)


def test_post_answers_204_by_default_and_redirects_when_asked(s3, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "plain.bin", ExpiresIn=300)
    r = _post(post, ("ignored-name", b"\x00\x01binary\xff"))
    assert (r.status_code, r.content) == (204, b"")
    assert s3.get_object(Bucket=bucket, Key="plain.bin")["Body"].read() == b"\x00\x01binary\xff"
    assert r.headers["Location"] == f"{post['url']}/plain.bin"
    # The same form posted virtual-hosted style: the bucket comes from the Host.
    endpoint = urlsplit(post["url"])
    host = f"{bucket}.s3.localhost:{endpoint.port}"
    r = requests.post(f"{endpoint.scheme}://{endpoint.netloc}/", data=post["fields"], files={"file": ("f", b"v2")},
                      headers={"Host": host}, timeout=30)
    assert (r.status_code, r.headers["Location"]) == (204, f"http://{host}/plain.bin")
    assert s3.get_object(Bucket=bucket, Key="plain.bin")["Body"].read() == b"v2"

    done = "https://app.example.com/done?step=2"
    post = s3.generate_presigned_post(bucket, "redirected.txt", Fields={"success_action_redirect": done},
                                      Conditions=[{"success_action_redirect": done}], ExpiresIn=300)
    r = _post(post, ("a.txt", b"hello"))
    assert r.status_code == 303
    location = urlsplit(r.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example.com", "/done")
    assert parse_qs(location.query) == {"step": ["2"], "bucket": [bucket], "key": ["redirected.txt"],
                                        "etag": ['"' + hashlib.md5(b"hello").hexdigest() + '"']}


def test_posts_against_the_policy_store_nothing(s3, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "in/${filename}",
                                      Conditions=[["starts-with", "$key", "in/"], ["content-length-range", 2, 10]],
                                      ExpiresIn=300)
    r = _post(post, ("big.txt", b"x" * 11))
    err = _error(r.content)
    assert (r.status_code, err["Code"], err["Message"], err["ProposedSize"], err["MaxSizeAllowed"]) == (
        400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", "11", "10")
    r = _post(post, ("small.txt", b"x"))
    err = _error(r.content)
    assert (r.status_code, err["Code"], err["ProposedSize"], err["MinSizeAllowed"]) == (400, "EntityTooSmall", "1", "2")

    r = _post(post, ("f.txt", b"fits"), fields={"key": "elsewhere/f.txt"})
    assert (r.status_code, _error(r.content)["Message"]) == (
        403, 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "in/"]')
    r = _post(post, ("f.txt", b"fits"), fields={"x-amz-meta-sneaky": "1"})
    assert (r.status_code, _error(r.content)["Message"]) == (
        403, "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky")

    expired = s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=-60)
    r = _post(expired, ("late.txt", b"late"))
    err = _error(r.content)
    assert (r.status_code, err["Code"], err["Message"]) == (
        403, "AccessDenied", "Invalid according to Policy: Policy expired.")

    r = _post(post, ("n" * 1022 + ".txt", b"fits"))  # "in/" + 1026 characters
    err = _error(r.content)
    assert (r.status_code, err["Code"], err["Size"], err["MaxSizeAllowed"]) == (400, "KeyTooLongError", "1029", "1024")

    tampered = dict(post, fields={**post["fields"], "policy": post["fields"]["policy"][:-4] + "AAA="})
    r = _post(tampered, ("f.txt", b"fits"))
    assert (r.status_code, _error(r.content)["Code"]) == (403, "SignatureDoesNotMatch")

    assert _keys(s3, bucket) == []
    r = _post(post, ("f.txt", b"fits"))  # the same form within its policy still works
    assert r.status_code == 204 and _keys(s3, bucket) == ["in/f.txt"]


def test_malformed_posts(admin: AwsEnv, s3, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "k", ExpiresIn=300)
    r = requests.post(post["url"], files={k: (None, v) for k, v in post["fields"].items()}, timeout=30)
    err = _error(r.content)
    assert (r.status_code, err["Code"], err["Message"]) == (
        400, "InvalidArgument", "POST requires exactly one file upload per request.")
    no_signature = {k: v for k, v in post["fields"].items() if k != "x-amz-signature"}
    r = requests.post(post["url"], data=no_signature, files={"file": ("a", b"1")}, timeout=30)
    err = _error(r.content)
    assert (r.status_code, err["ArgumentName"], err["Message"]) == (
        400, "X-Amz-Signature",
        "Bucket POST must contain a field named 'X-Amz-Signature'.  If it is specified, please check the order "
        "of the fields.")
    r = requests.post(post["url"], data=post["fields"], timeout=30)  # urlencoded, not a form upload
    err = _error(r.content)
    assert (r.status_code, err["Code"], err["Condition"]) == (
        412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
    assert _keys(s3, bucket) == []


def test_post_is_authorized_as_put_object_for_its_signer(admin: AwsEnv, s3, bucket: str) -> None:
    iam = admin.client("iam")
    user = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = admin.session().client("s3", region_name="us-east-1", endpoint_url=admin.endpoint,
                                    aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    account = admin.client("sts").get_caller_identity()["Account"]
    r = _post(reader.generate_presigned_post(bucket, "denied.txt", ExpiresIn=300), ("d.txt", b"no"))
    err = _error(r.content)
    assert (r.status_code, err["Code"]) == (403, "AccessDenied")
    assert err["Message"] == (
        f'User: arn:aws:iam::{account}:user/{user} is not authorized to perform: s3:PutObject on resource: '
        f'"arn:aws:s3:::{bucket}/denied.txt" because no identity-based policy allows the s3:PutObject action')

    # Unsigned forms are anonymous: refused until the bucket policy lets anyone put under public/.
    url = f"{admin.endpoint}/{bucket}"
    anonymous = {"key": "public/hello.txt"}
    r = requests.post(url, data=anonymous, files={"file": ("hello.txt", b"hi")}, timeout=30)
    assert (r.status_code, _error(r.content)["Message"]) == (403, "Access Denied")
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}))
    r = requests.post(url, data=anonymous, files={"file": ("hello.txt", b"hi")}, timeout=30)
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="public/hello.txt")["Body"].read() == b"hi"
    r = requests.post(url, data={"key": "private/x.txt"}, files={"file": ("x.txt", b"x")}, timeout=30)
    assert (r.status_code, _error(r.content)["Code"]) == (403, "AccessDenied")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="private/x.txt")
