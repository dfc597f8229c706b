"""curl --aws-sigv4 (Debian's curl 7.88: libcurl's own C signer) against every protocol.

curl 7.88 signs the query string as written (no sorting, no re-encoding), so the URLs
here are written in SigV4's canonical form, as a curl user must for AWS too; it adds no
x-amz-content-sha256, which S3 requires, so S3 requests pass one by hand."""

from __future__ import annotations

import hashlib
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from skyhold.auth import sigv4

from .conftest import AwsEnv, Server, debian_package, static_admin

CURL = "/usr/bin/curl"
UNSIGNED = "x-amz-content-sha256: UNSIGNED-PAYLOAD"
JSON_11 = "Content-Type: application/x-amz-json-1.1"
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                      "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")


@dataclass
class Key:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: dict[str, str]  # the request's headers as curl sent them

    @property
    def text(self) -> str:
        return self.body.decode()

    def element(self, name: str) -> str:
        found = re.search(rf"<{name}>(.*?)</{name}>", self.text, re.S)
        assert found, self.text
        return found.group(1)


@pytest.fixture(scope="module")
def key(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Key:
    """The admin's long-lived access key."""
    debian_package(CURL, "curl")
    creds = static_admin(server, tmp_path_factory.mktemp("curl-home")).credentials()
    return Key(creds.access_key, creds.secret_key)


@pytest.fixture(scope="module")
def session_key(admin: AwsEnv) -> Key:
    """The admin's session credentials (GetSessionToken with MFA, from `skyhold credentials`)."""
    debian_package(CURL, "curl")
    creds = admin.credentials()
    return Key(creds.access_key, creds.secret_key, creds.token)


@pytest.fixture(scope="module")
def bucket(server: Server, key: Key) -> str:
    name = f"curl-{uuid.uuid4().hex[:10]}"
    assert curl(server, key, "s3", f"/{name}", "-X", "PUT", "-H", UNSIGNED).status == 200
    return name


def curl(server: Server, key: Key, service: str, path: str, *args: str, secret: str | None = None) -> Reply:
    """One request signed by curl --aws-sigv4 for `service` in us-east-1."""
    command = [CURL, "-sS", "-v", "--noproxy", "*", "-o", "-", "--aws-sigv4", f"aws:amz:us-east-1:{service}",
               "--user", f"{key.access_key}:{secret or key.secret_key}"]
    if key.token:
        command += ["-H", f"x-amz-security-token: {key.token}"]
    out = subprocess.run([*command, *args, server.endpoint + path], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    verbose = out.stderr.decode("utf-8", "replace").splitlines()
    sent = dict(line[2:].split(": ", 1) for line in verbose if line.startswith("> ") and ": " in line)
    statuses = [i for i, line in enumerate(verbose) if re.match(r"< HTTP/1\.1 \d{3}", line)]
    last = statuses[-1]  # after any 100 Continue
    headers = {}
    for line in verbose[last + 1:]:
        if line.startswith("< ") and ": " in line:
            name, value = line[2:].split(": ", 1)
            headers[name.lower()] = value
    return Reply(int(verbose[last].split()[2]), headers, out.stdout, {k.lower(): v for k, v in sent.items()})


# ---- query protocols (STS, IAM), GET with the parameters in the URL and POST forms -----------

@pytest.mark.parametrize("service,action,version", [("sts", "GetCallerIdentity", "2011-06-15"),
                                                    ("iam", "GetUser", "2010-05-08")])
def test_query_services_take_a_get_and_a_form_post(server: Server, key: Key, service: str, action: str,
                                                   version: str) -> None:
    got = curl(server, key, service, f"/?Action={action}&Version={version}")
    assert got.status == 200, got.text
    assert f"<{action}Response " in got.text and ":user/admin</Arn>" in got.text
    posted = curl(server, key, service, "/", "--data-urlencode", f"Action={action}",
                  "--data-urlencode", f"Version={version}")
    assert posted.status == 200, posted.text
    assert f"<{action}Response " in posted.text


def test_query_parameters_encoded_in_the_url(server: Server, key: Key) -> None:
    """A value with reserved characters, percent-encoded (as SigV4's canonical query has it)."""
    name = f"curl%2Bnobody-{uuid.uuid4().hex[:6]}"
    got = curl(server, key, "iam", f"/?Action=GetUser&UserName={name}&Version=2010-05-08")
    assert (got.status, got.element("Code")) == (404, "NoSuchEntity"), got.text
    assert f"The user with name curl+nobody-{name[-6:]} cannot be found." == got.element("Message")


def test_unsorted_query_is_refused_with_the_canonical_string_aws_expected(server: Server, key: Key) -> None:
    """curl 7.88 signs the query in the order written; AWS sorts it, so this is refused
    there too, and the message shows the sorted form."""
    got = curl(server, key, "iam", "/?Action=ListUsers&Version=2010-05-08&MaxItems=1")
    assert (got.status, got.element("Code")) == (403, "SignatureDoesNotMatch")
    assert "Action=ListUsers&amp;MaxItems=1&amp;Version=2010-05-08\nhost:" in got.text


def test_ec2_query_get_and_post(server: Server, key: Key) -> None:
    got = curl(server, key, "ec2", "/?Action=DescribeVpcs&Version=2016-11-15")
    assert got.status == 200 and "<DescribeVpcsResponse " in got.text, got.text
    posted = curl(server, key, "ec2", "/", "-d", "Action=DescribeInstances&Filter.1.Name=instance-state-name"
                  "&Filter.1.Value.1=running&Version=2016-11-15")
    assert posted.status == 200 and "<reservationSet" in posted.text, posted.text


# ---- JSON protocols (X-Amz-Target) --------------------------------------------------------------

@pytest.mark.parametrize("service,target,field", [("kms", "TrentService.ListKeys", '"Keys"'),
                                                  ("secretsmanager", "secretsmanager.ListSecrets", '"SecretList"'),
                                                  ("ssm", "AmazonSSM.DescribeParameters", '"Parameters"')])
def test_json_services(server: Server, key: Key, service: str, target: str, field: str) -> None:
    got = curl(server, key, service, "/", "-H", f"X-Amz-Target: {target}", "-H", JSON_11, "-d", "{}")
    assert got.status == 200 and field in got.text, got.text


# ---- a wrong secret, in each protocol's words ---------------------------------------------------

def test_wrong_secret_query_json_and_ec2(server: Server, key: Key) -> None:
    sts = curl(server, key, "sts", "/?Action=GetCallerIdentity&Version=2011-06-15", secret="wrong")
    assert (sts.status, sts.element("Code"), sts.element("Type")) == (403, "SignatureDoesNotMatch", "Sender")
    assert sts.element("Message").startswith(SIGNATURE_MISMATCH + "\n\nThe Canonical String for this request")
    kms = curl(server, key, "kms", "/", "-H", "X-Amz-Target: TrentService.ListKeys", "-H", JSON_11, "-d", "{}",
               secret="wrong")
    assert kms.status == 400 and '"__type":"InvalidSignatureException"' in kms.text, kms.text
    ec2 = curl(server, key, "ec2", "/?Action=DescribeVpcs&Version=2016-11-15", secret="wrong")
    assert (ec2.status, ec2.element("Code"), ec2.element("Message")) == (
        401, "AuthFailure", "AWS was not able to validate the provided access credentials")


def test_wrong_secret_on_s3_shows_the_canonical_request_curl_signed(server: Server, key: Key, bucket: str) -> None:
    got = curl(server, key, "s3", f"/{bucket}/some%20key.txt", "-H", UNSIGNED, secret="wrong")
    assert (got.status, got.element("Code")) == (403, "SignatureDoesNotMatch")
    assert got.element("Message") == ("The request signature we calculated does not match the signature you "
                                      "provided. Check your key and signing method.")
    date = got.sent["x-amz-date"]
    signed = re.search(r"SignedHeaders=([^,]+), Signature=(\w+)", got.sent["authorization"])
    assert signed and signed.group(1) == "host;x-amz-content-sha256;x-amz-date"
    canonical = (f"GET\n/{bucket}/some%20key.txt\n\nhost:127.0.0.1:{server.port}\n"
                 f"x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{date}\n\n"
                 "host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD")
    to_sign = sigv4.string_to_sign(date, f"{date[:8]}/us-east-1/s3/aws4_request", canonical)
    # What curl computed: the same canonical request, signed with the secret it was given.
    assert sigv4.sign(sigv4.signing_key("wrong", date[:8], "us-east-1", "s3"), to_sign) == signed.group(2)
    assert got.element("CanonicalRequest") == canonical
    assert got.element("StringToSign") == to_sign
    assert got.element("SignatureProvided") == signed.group(2)
    assert got.element("AWSAccessKeyId") == key.access_key
    assert got.element("CanonicalRequestBytes") == " ".join(f"{b:02x}" for b in canonical.encode())
    assert got.element("StringToSignBytes") == " ".join(f"{b:02x}" for b in to_sign.encode())
    order = re.findall(r"<(\w+)>", got.text.split("<Error>", 1)[1])
    assert order == ["Code", "Message", "AWSAccessKeyId", "StringToSign", "SignatureProvided", "StringToSignBytes",
                     "CanonicalRequest", "CanonicalRequestBytes", "RequestId", "HostId"]


# ---- S3 (rest-xml) ----------------------------------------------------------------------------

def test_s3_put_with_a_signed_body_then_get_a_range(server: Server, key: Key, bucket: str, tmp_path: Path) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 8000)  # past curl's 1 MB: it sends Expect: 100-continue
    digest = hashlib.sha256(body.read_bytes()).hexdigest()
    put = curl(server, key, "s3", f"/{bucket}/dir/r%C3%A9sum%C3%A9%20%2B%20~.bin", "-T", str(body),
               "-H", f"x-amz-content-sha256: {digest}")
    assert put.status == 200 and put.sent.get("expect") == "100-continue", put.text
    assert put.headers["etag"] == f'"{hashlib.md5(body.read_bytes()).hexdigest()}"'
    got = curl(server, key, "s3", f"/{bucket}/dir/r%C3%A9sum%C3%A9%20%2B%20~.bin", "-r", "256-259", "-H", UNSIGNED)
    assert (got.status, got.body, got.headers["content-range"]) == (206, bytes([0, 1, 2, 3]),
                                                                    f"bytes 256-259/{256 * 8000}")


def test_s3_body_not_matching_its_signed_hash(server: Server, key: Key, bucket: str, tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("hello")
    claimed = hashlib.sha256(b"other").hexdigest()
    got = curl(server, key, "s3", f"/{bucket}/mismatch", "-T", str(body), "-H", f"x-amz-content-sha256: {claimed}")
    assert (got.status, got.element("Code")) == (400, "XAmzContentSHA256Mismatch"), got.text
    assert (got.element("ClientComputedContentSHA256"), got.element("S3ComputedContentSHA256")) == (
        claimed, hashlib.sha256(b"hello").hexdigest())


def test_s3_requires_x_amz_content_sha256(server: Server, key: Key, bucket: str) -> None:
    """curl 7.88 sends none of its own; S3 refuses a header-signed request without it."""
    got = curl(server, key, "s3", f"/{bucket}?list-type=2")
    assert (got.status, got.element("Code"), got.element("Message")) == (
        400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")


def test_s3_unsigned_payload_put_and_odd_listing_queries(server: Server, key: Key, bucket: str,
                                                         tmp_path: Path) -> None:
    body = tmp_path / "x.txt"
    body.write_text("x")
    keys = ["odd/a b.txt", "odd/a+b.txt", "odd/a~b.txt", "odd/\u00fc.txt", "odd/zz.txt"]
    for name in keys:
        path = "/".join(quote(seg, safe="-_.~") for seg in name.split("/"))
        put = curl(server, key, "s3", f"/{bucket}/{path}", "-T", str(body), "-H", UNSIGNED)
        assert put.status == 200, put.text

    def listed(query: str) -> list[str]:
        got = curl(server, key, "s3", f"/{bucket}?{query}", "-H", UNSIGNED)
        assert got.status == 200, got.text
        return re.findall(r"<Key>(.*?)</Key>", got.text)

    assert listed("list-type=2&prefix=odd%2Fa%20b") == ["odd/a b.txt"]
    assert listed("list-type=2&prefix=odd%2Fa%2Bb") == ["odd/a+b.txt"]
    assert listed("list-type=2&prefix=odd%2Fa~b") == ["odd/a~b.txt"]
    assert listed("list-type=2&prefix=odd%2F%C3%BC") == ["odd/\u00fc.txt"]
    assert listed("delimiter=&list-type=2&prefix=odd%2F") == sorted(keys)  # empty values are absent ones
    assert listed("list-type=2&max-keys=1&prefix=odd%2F&start-after=odd%2Fa%2Bb.txt") == ["odd/a~b.txt"]


def test_s3_a_repeated_query_parameter_counts_the_first_time(server: Server, key: Key, bucket: str,
                                                             tmp_path: Path) -> None:
    """As measured on S3: `?prefix=a&prefix=b` lists under `a`, and of two list-types the
    first picks the operation (ListObjects here: its Marker, no KeyCount)."""
    body = tmp_path / "x.txt"
    body.write_text("x")
    for name in ("rep-a/1", "rep-b/1"):
        assert curl(server, key, "s3", f"/{bucket}/{name}", "-T", str(body), "-H", UNSIGNED).status == 200
    got = curl(server, key, "s3", f"/{bucket}?list-type=1&list-type=2&prefix=rep-a&prefix=rep-b", "-H", UNSIGNED)
    assert got.status == 200, got.text
    assert got.element("Prefix") == "rep-a"
    assert re.findall(r"<Key>(.*?)</Key>", got.text) == ["rep-a/1"]
    assert "<Marker>" in got.text and "<KeyCount>" not in got.text


def test_s3_head_errors_name_an_xml_content_type(server: Server, key: Key, bucket: str) -> None:
    """Recorded from S3 (smithy-rs's HeadObjectEmptyBody): a HEAD's 404 carries no body
    but `content-type: application/xml`."""
    got = curl(server, key, "s3", f"/{bucket}/no-such-key", "-I", "-H", UNSIGNED)
    assert (got.status, got.headers["content-length"]) == (404, "0")
    assert got.headers["content-type"] == "application/xml"


def test_s3_chunked_upload_without_a_length(server: Server, key: Key, bucket: str, tmp_path: Path) -> None:
    """`curl -T -` streams stdin with Transfer-Encoding: chunked, which S3 does not take."""
    got = curl(server, key, "s3", f"/{bucket}/from-stdin", "-T", "-", "-H", UNSIGNED)
    assert (got.status, got.element("Code"), got.element("Header")) == (501, "NotImplemented", "Transfer-Encoding")


def test_s3_refuses_a_wrong_secret_before_the_body(server: Server, key: Key, bucket: str, tmp_path: Path) -> None:
    """With Expect: 100-continue, a request whose signature fails is answered at once."""
    body = tmp_path / "big.bin"
    body.write_bytes(b"\0" * 2_000_000)
    digest = hashlib.sha256(body.read_bytes()).hexdigest()
    got = curl(server, key, "s3", f"/{bucket}/refused", "-T", str(body), "-H", f"x-amz-content-sha256: {digest}",
               secret="wrong")
    assert (got.status, got.element("Code")) == (403, "SignatureDoesNotMatch")


# ---- session credentials -----------------------------------------------------------------------

def test_session_token_on_every_protocol(server: Server, session_key: Key, bucket: str) -> None:
    sts = curl(server, session_key, "sts", "/?Action=GetCallerIdentity&Version=2011-06-15")
    assert sts.status == 200 and ":user/admin</Arn>" in sts.text, sts.text
    s3 = curl(server, session_key, "s3", f"/{bucket}?list-type=2&max-keys=1", "-H", UNSIGNED)
    assert s3.status == 200, s3.text
    kms = curl(server, session_key, "kms", "/", "-H", "X-Amz-Target: TrentService.ListKeys", "-H", JSON_11, "-d", "{}")
    assert kms.status == 200, kms.text


def test_a_session_key_without_its_token_or_with_a_bad_one(server: Server, session_key: Key, bucket: str) -> None:
    bare = Key(session_key.access_key, session_key.secret_key)
    sts = curl(server, bare, "sts", "/?Action=GetCallerIdentity&Version=2011-06-15")
    assert (sts.status, sts.element("Code"), sts.element("Message")) == (
        403, "InvalidClientTokenId", "The security token included in the request is invalid.")
    assert session_key.token
    bad = Key(session_key.access_key, session_key.secret_key, session_key.token + "x")
    s3 = curl(server, bad, "s3", f"/{bucket}?list-type=2", "-H", UNSIGNED)
    assert (s3.status, s3.element("Code"), s3.element("Message")) == (
        400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
    kms = curl(server, bad, "kms", "/", "-H", "X-Amz-Target: TrentService.ListKeys", "-H", JSON_11, "-d", "{}")
    assert kms.status == 400 and '"__type":"UnrecognizedClientException"' in kms.text, kms.text
