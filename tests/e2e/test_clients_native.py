"""SDKs with S3 and STS code of their own, unmodified, against a real `skyhold up`:
pyarrow's S3FileSystem (the AWS SDK for C++, which also calls STS AssumeRole itself)
and obstore (Rust's object_store crate: its own SigV4 signer and S3 client), used as
data engineers use them; denials must carry AWS's error."""

from __future__ import annotations

import base64
import datetime
import json
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pathlib import Path

from tests.e2e.conftest import AwsEnv, Server, allow_sse_c, new_bucket, sse_c_headers, web_identity_role

pafs = pytest.importorskip("pyarrow.fs")
obs = pytest.importorskip("obstore")
from obstore.store import S3Store  # noqa: E402

MIB = 1024 * 1024
MANY = 1003  # past one page (1000 keys) of ListObjectsV2


def arrow_fs(server: Server, key: Any, **kw: Any) -> Any:
    """pyarrow's S3FileSystem signing with an access key (a dict as from new_user or
    STS, with its session token, or a botocore credentials object)."""
    if isinstance(key, dict):
        ident, secret, token = key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken")
    else:
        ident, secret, token = key.access_key, key.secret_key, key.token
    return pafs.S3FileSystem(access_key=ident, secret_key=secret, session_token=token,
                             endpoint_override=f"127.0.0.1:{server.port}", scheme="http",
                             **{"region": "us-east-1", **kw})


def store(server: Server, bucket: str, key: Any, **kw: Any) -> Any:
    """An obstore S3Store (path-style, one try per call: retries hide bugs)."""
    if key is None:  # credentials of the store's own getting (kw says how)
        return S3Store(bucket, endpoint=server.endpoint, region="us-east-1", allow_http=True,
                       retry_config={"max_retries": 0, "retry_timeout": datetime.timedelta(seconds=10)}, **kw)
    if isinstance(key, dict):
        ident, secret, token = key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken")
    else:
        ident, secret, token = key.access_key, key.secret_key, key.token
    return S3Store(bucket, endpoint=server.endpoint, region="us-east-1", access_key_id=ident,
                   secret_access_key=secret, allow_http=True, virtual_hosted_style_request=False,
                   retry_config={"max_retries": 0, "retry_timeout": datetime.timedelta(seconds=10)},
                   **({"token": token} if token else {}), **kw)


def write(fs: Any, path: str, data: bytes, **kw: Any) -> None:
    with fs.open_output_stream(path, **kw) as out:
        out.write(data)


@pytest.fixture(scope="module")
def many_keys(admin: AwsEnv) -> str:
    """A bucket holding MANY keys under many/, and a few "directories" under dirs/."""
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "nat-many")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"many/k{i:04d}", Body=b"x"), range(MANY)))
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"dirs/d{i}/f", Body=b"x"), range(5)))
    return bucket


def test_pyarrow_filesystem_buckets_files_ranges_listing(server: Server, admin: AwsEnv, many_keys: str) -> None:
    s3: Any = admin.client("s3")
    fs = arrow_fs(server, admin.credentials(), allow_bucket_creation=True, allow_bucket_deletion=True,
                  default_metadata={"Content-Type": "application/x-test"})
    bucket = f"nat-pa-{uuid.uuid4().hex[:10]}"
    fs.create_dir(bucket)
    assert fs.get_file_info(bucket).type == pafs.FileType.Directory
    # A region other than us-east-1: the C++ SDK sends its LocationConstraint.
    eu_fs = arrow_fs(server, admin.credentials(), region="eu-west-1", allow_bucket_creation=True,
                     allow_bucket_deletion=True)
    eu_bucket = f"nat-eu-{uuid.uuid4().hex[:10]}"
    eu_fs.create_dir(eu_bucket)
    assert s3.get_bucket_location(Bucket=eu_bucket)["LocationConstraint"] == "eu-west-1"
    write(eu_fs, f"{eu_bucket}/x", b"eu")
    eu_fs.delete_dir(eu_bucket)  # its contents, then the bucket
    assert eu_fs.get_file_info(eu_bucket).type == pafs.FileType.NotFound

    big = os.urandom(12 * MIB + 123)  # pyarrow uploads parts of 5-10 MiB
    write(fs, f"{bucket}/a/small.txt", b"hello")
    write(fs, f"{bucket}/a/big.bin", big, metadata={"Content-Type": "text/csv", "Cache-Control": "no-cache"})
    head = s3.head_object(Bucket=bucket, Key="a/big.bin")
    assert "-" in head["ETag"], head["ETag"]  # a multipart upload
    assert head["ContentType"] == "text/csv" and head["CacheControl"] == "no-cache"
    assert s3.head_object(Bucket=bucket, Key="a/small.txt")["ContentType"] == "application/x-test"
    assert fs.open_input_stream(f"{bucket}/a/big.bin").read() == big
    with fs.open_input_file(f"{bucket}/a/big.bin") as f:
        assert f.size() == len(big)
        assert f.read_at(100, 5 * MIB) == big[5 * MIB:5 * MIB + 100]
        f.seek(len(big) - 10)
        assert f.read(100) == big[-10:]
    infos = fs.get_file_info([f"{bucket}/a/small.txt", f"{bucket}/a", f"{bucket}/nope"])
    assert [i.type for i in infos] == [pafs.FileType.File, pafs.FileType.Directory, pafs.FileType.NotFound]
    assert infos[0].size == 5
    with pytest.raises(FileNotFoundError):
        fs.open_input_stream(f"{bucket}/nope")

    fs.copy_file(f"{bucket}/a/small.txt", f"{bucket}/c/copy.txt")
    fs.move(f"{bucket}/c/copy.txt", f"{bucket}/c/moved.txt")
    fs.create_dir(f"{bucket}/empty/sub")
    listed = {i.path for i in fs.get_file_info(pafs.FileSelector(bucket, recursive=True))}
    assert {f"{bucket}/a/small.txt", f"{bucket}/a/big.bin", f"{bucket}/c/moved.txt",
            f"{bucket}/empty/sub"} <= listed and f"{bucket}/c/copy.txt" not in listed
    fs.delete_dir_contents(f"{bucket}/a")
    assert fs.get_file_info(f"{bucket}/a/big.bin").type == pafs.FileType.NotFound

    # Listing pages past 1000 keys (ListObjectsV2 continuation tokens), flat and by "directory".
    files = [i for i in fs.get_file_info(pafs.FileSelector(f"{many_keys}/many", recursive=True))
             if i.type == pafs.FileType.File]
    assert len(files) == MANY
    assert len(fs.get_file_info(pafs.FileSelector(f"{many_keys}/many"))) == MANY
    dirs = fs.get_file_info(pafs.FileSelector(f"{many_keys}/dirs"))
    assert {(i.path, i.type) for i in dirs} == {(f"{many_keys}/dirs/d{i}", pafs.FileType.Directory) for i in range(5)}

    # Virtual-hosted addressing (bucket.s3.localhost, which curl resolves to loopback).
    hosted = pafs.S3FileSystem(access_key=admin.credentials().access_key, secret_key=admin.credentials().secret_key,
                               session_token=admin.credentials().token, region="us-east-1", scheme="http",
                               endpoint_override=f"s3.localhost:{server.port}", force_virtual_addressing=True)
    write(hosted, f"{bucket}/hosted.txt", b"hosted")
    assert hosted.open_input_stream(f"{bucket}/hosted.txt").read() == b"hosted"
    assert [i.path for i in hosted.get_file_info(pafs.FileSelector(f"{bucket}/c"))] == [f"{bucket}/c/moved.txt"]

    fs.delete_dir(bucket)
    assert fs.get_file_info(bucket).type == pafs.FileType.NotFound


def test_pyarrow_parquet_dataset(server: Server, admin: AwsEnv) -> None:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    bucket = new_bucket(admin.client("s3"), "nat-pq")
    fs = arrow_fs(server, admin.credentials())
    table = pa.table({"x": list(range(3000)), "p": [i % 3 for i in range(3000)]})
    ds.write_dataset(table, f"{bucket}/ds", format="parquet", filesystem=fs, partitioning=["p"],
                     partitioning_flavor="hive")
    back = ds.dataset(f"{bucket}/ds", filesystem=fs, format="parquet", partitioning="hive").to_table()
    assert sorted(back.column("x").to_pylist()) == list(range(3000))
    assert back.filter(ds.field("p") == 1).num_rows == 1000
    pq.write_table(table, f"{bucket}/t.parquet", filesystem=fs)
    assert pq.read_table(f"{bucket}/t.parquet", filesystem=fs, columns=["x"]).column("x").to_pylist() == \
        list(range(3000))


def test_pyarrow_assumes_role_with_external_id_and_denials_carry_aws_errors(
        server: Server, admin: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    s3: Any = admin.client("s3")
    iam: Any = admin.client("iam")
    bucket = new_bucket(s3, "nat-role")
    s3.put_object(Bucket=bucket, Key="in/x", Body=b"data")
    account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
    name = f"nat-{uuid.uuid4().hex[:6]}"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "ext-7"}}}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="data", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/in/*"}]}))
    caller = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]})
    # With role_arn the C++ SDK takes its own credentials from the environment and
    # calls STS at the endpoint the environment names, as on AWS with a custom endpoint.
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", caller["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", caller["SecretAccessKey"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def role_fs(external_id: str) -> Any:
        return pafs.S3FileSystem(region="us-east-1", endpoint_override=f"127.0.0.1:{server.port}", scheme="http",
                                 role_arn=role, session_name="etl-job", external_id=external_id,
                                 load_frequency=900)

    fs = role_fs("ext-7")
    assert fs.open_input_stream(f"{bucket}/in/x").read() == b"data"
    write(fs, f"{bucket}/out/y", b"result")
    assert s3.get_object(Bucket=bucket, Key="out/y")["Body"].read() == b"result"
    with pytest.raises(OSError) as denied:
        write(fs, f"{bucket}/in/z", b"nope")
    assert "ACCESS_DENIED" in str(denied.value)
    assert (f"assumed-role/{name}/etl-job is not authorized to perform: s3:PutObject on resource: "
            f'"arn:aws:s3:::{bucket}/in/z" with an explicit deny in an identity-based policy') in str(denied.value)
    with pytest.raises(OSError) as no_delete:
        fs.delete_file(f"{bucket}/in/x")
    assert "because no identity-based policy allows the s3:DeleteObject action" in str(no_delete.value)
    # A wrong external id: AssumeRole is refused, so nothing is readable.
    with pytest.raises(OSError) as refused:
        role_fs("wrong").open_input_stream(f"{bucket}/in/x").read()
    assert "ACCESS_DENIED" in str(refused.value)


def test_obstore_objects_ranges_conditions_and_listing(server: Server, admin: AwsEnv, many_keys: str) -> None:
    bucket = new_bucket(admin.client("s3"), "nat-obs")
    st = store(server, bucket, admin.credentials(), copy_if_not_exists="multipart")
    put = obs.put(st, "a/x.txt", b"hello world", attributes={"Content-Type": "text/plain", "color": "blue"},
                  tags={"team": "data", "a b": "c/d"})
    got = obs.get(st, "a/x.txt")
    assert got.bytes() == b"hello world" and got.meta["e_tag"] == put["e_tag"] and got.meta["size"] == 11
    assert got.attributes == {"Content-Type": "text/plain", "color": "blue"}
    tags = admin.client("s3").get_object_tagging(Bucket=bucket, Key="a/x.txt")["TagSet"]  # type: ignore[attr-defined]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a b", "c/d"), ("team", "data")]
    assert bytes(obs.get_range(st, "a/x.txt", start=2, end=5)) == b"llo"
    assert [bytes(r) for r in obs.get_ranges(st, "a/x.txt", starts=[0, 6], ends=[5, 11])] == [b"hello", b"world"]
    assert obs.get(st, "a/x.txt", options={"range": {"suffix": 3}}).bytes() == b"rld"
    with pytest.raises(Exception, match="(?s)416 Range Not Satisfiable.*<Code>InvalidRange</Code>"):
        obs.get(st, "a/x.txt", options={"range": (20, 30)})
    with pytest.raises(FileNotFoundError, match="<Code>NoSuchKey</Code>"):
        obs.get(st, "nope")
    with pytest.raises(FileNotFoundError):
        obs.head(st, "nope")
    with pytest.raises(obs.exceptions.PreconditionError, match="<Condition>If-Match</Condition>"):
        obs.get(st, "a/x.txt", options={"if_match": '"0123"'})
    with pytest.raises(obs.exceptions.NotModifiedError):
        obs.get(st, "a/x.txt", options={"if_none_match": put["e_tag"]})

    # Conditional writes: create (If-None-Match: *) and update (If-Match), single and multipart.
    obs.put(st, "c/new", b"1", mode="create")
    with pytest.raises(obs.exceptions.AlreadyExistsError, match="<Condition>If-None-Match</Condition>"):
        obs.put(st, "c/new", b"2", mode="create")
    first = obs.head(st, "c/new")["e_tag"]
    obs.put(st, "c/new", b"3", mode={"e_tag": first})
    with pytest.raises(obs.exceptions.PreconditionError, match="<Condition>If-Match</Condition>"):
        obs.put(st, "c/new", b"4", mode={"e_tag": first})
    with pytest.raises(obs.exceptions.PreconditionError, match="<Code>NoSuchKey</Code>"):
        obs.put(st, "c/none", b"4", mode={"e_tag": first})
    assert obs.get(st, "c/new").bytes() == b"3"
    # Copy and rename without overwriting: a multipart upload of a part copy, completed with If-None-Match.
    obs.copy(st, "a/x.txt", "a/y.txt", overwrite=False)
    with pytest.raises(obs.exceptions.AlreadyExistsError):
        obs.copy(st, "a/x.txt", "a/y.txt", overwrite=False)
    obs.rename(st, "a/y.txt", "a/z.txt")
    assert obs.get(st, "a/z.txt").bytes() == b"hello world"
    obs.delete(st, "a/z.txt")
    obs.delete(st, "a/never")  # deleting a missing key succeeds, as on S3
    assert not admin.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads")  # type: ignore[attr-defined]

    many = store(server, many_keys, admin.credentials())
    assert sum(len(batch) for batch in obs.list(many, "many", chunk_size=400)) == MANY
    assert len(obs.list(many, "many", offset="many/k0990").collect()) == MANY - 991
    assert len(obs.list_with_delimiter(many, "many")["objects"]) == MANY
    assert obs.list_with_delimiter(many, "dirs")["common_prefixes"] == [f"dirs/d{i}" for i in range(5)]


def test_obstore_multipart_signed_urls_checksums_and_kms(server: Server, admin: AwsEnv) -> None:
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "nat-obmp")
    creds = admin.credentials()
    big = os.urandom(12 * MIB + 5)
    st = store(server, bucket, creds)
    assert obs.put(st, "big.bin", big, chunk_size=5 * MIB)["e_tag"].endswith('-3"')
    assert obs.get(st, "big.bin").bytes() == big
    with obs.open_writer(st, "writer.bin", buffer_size=5 * MIB) as w:
        for part in range(3):
            w.write(big[part * 4 * MIB:(part + 1) * 4 * MIB])
    assert obs.get(st, "writer.bin").bytes() == big[:12 * MIB]

    # Presigned URLs with a session token, for downloads and uploads.
    urllib.request.urlopen(urllib.request.Request(
        obs.sign(st, "PUT", "signed.txt", datetime.timedelta(minutes=5)), data=b"signed", method="PUT")).read()
    assert urllib.request.urlopen(obs.sign(st, "GET", "signed.txt", datetime.timedelta(minutes=5))).read() == b"signed"
    with pytest.raises(urllib.error.HTTPError) as too_long:
        urllib.request.urlopen(obs.sign(st, "GET", "signed.txt", datetime.timedelta(days=8)))
    assert too_long.value.code == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in too_long.value.read()

    for algorithm in ("sha256", "crc64nvme"):
        checked = store(server, bucket, creds, checksum_algorithm=algorithm)
        obs.put(checked, f"ck-{algorithm}", b"data")
        obs.put(checked, f"ck-mp-{algorithm}", big, chunk_size=5 * MIB)
        attrs = s3.get_object_attributes(Bucket=bucket, Key=f"ck-mp-{algorithm}", ObjectAttributes=["Checksum"])
        assert f"Checksum{algorithm.upper()}" in attrs["Checksum"], attrs
    head = s3.head_object(Bucket=bucket, Key="ck-sha256", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == "Om6weQ85rIfJTzhWst0sXREOaBFgImGpqSPTuyOtyLc="

    kms: Any = admin.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    sealed = store(server, bucket, creds, server_side_encryption="aws:kms", sse_kms_key_id=key,
                   sse_bucket_key_enabled=True)
    obs.put(sealed, "k/small", b"secret")
    obs.put(sealed, "k/big", big, chunk_size=5 * MIB)
    for name in ("k/small", "k/big"):
        head = s3.head_object(Bucket=bucket, Key=name)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["BucketKeyEnabled"]) == ("aws:kms", key, True)
    assert obs.get(st, "k/big").bytes() == big


def test_obstore_least_privilege_errors(server: Server, admin: AwsEnv) -> None:
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "nat-oblp")
    kms: Any = admin.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    for name in ("keep/1", "keep/2", "free/1"):
        s3.put_object(Bucket=bucket, Key=name, Body=b"x")
    s3.put_object(Bucket=bucket, Key="enc/1", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    user = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/keep/*"}]})
    st = store(server, bucket, user)
    # DeleteObjects answers 200 with an Error per refused key; obstore raises the first.
    with pytest.raises(Exception, match=r"DeleteObjects request failed for key keep/1: .*explicit deny.*AccessDenied"):
        obs.delete(st, ["keep/1", "free/1", "keep/2"])
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["enc/1", "keep/1", "keep/2"]
    with pytest.raises(obs.exceptions.PermissionDeniedError,
                       match="not authorized to perform: kms:Decrypt on resource"):
        obs.get(st, "enc/1")
    with pytest.raises(obs.exceptions.PermissionDeniedError, match="<Code>SignatureDoesNotMatch</Code>"):
        obs.put(store(server, bucket, {**user, "SecretAccessKey": "wrong"}), "x", b"1")


def test_obstore_over_https_web_identity_and_sse_c(https_server: Server, https_admin: AwsEnv, tmp_path: Path,
                                                   profile_ca_bundle: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # object_store's TLS (rustls) trusts the CA named by SSL_CERT_FILE: Skyhold's own.
    monkeypatch.setenv("SSL_CERT_FILE", str(https_server.data_dir / "tls" / "ca.pem"))
    endpoint = https_server.https_endpoint
    s3: Any = https_admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "nat-tls")
    allow_sse_c(s3, bucket)

    # Web identity: object_store calls STS AssumeRoleWithWebIdentity itself with the token file.
    role = web_identity_role(https_server, https_admin, "etl-runner")
    https_admin.client("iam").put_role_policy(  # type: ignore[attr-defined]
        RoleName=role.rsplit("/", 1)[1], PolicyName="data", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
                                                    "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    token = https_server.cli("oidc", "token", "--sub", "etl-runner")
    assert token.returncode == 0, token.stderr
    (tmp_path / "token").write_text(token.stdout.strip())
    federated = S3Store(bucket, endpoint=endpoint, region="us-east-1", role_arn=role, role_session_name="etl",
                        web_identity_token_file=str(tmp_path / "token"), aws_endpoint_url_sts=endpoint,
                        retry_config={"max_retries": 0, "retry_timeout": datetime.timedelta(seconds=10)})
    obs.put(federated, "from-etl", b"federated")
    assert obs.get(federated, "from-etl").bytes() == b"federated"
    with pytest.raises(Exception, match=f"(?s)403 Forbidden.*assumed-role/{role.rsplit('/', 1)[1]}/etl is not "
                                        "authorized to perform: s3:ListBucket"):
        obs.list(federated).collect()

    # SSE-C: the key travels with every request, over TLS only.
    key = os.urandom(32)
    creds = https_admin.credentials()
    sealed = S3Store(bucket, endpoint=endpoint, region="us-east-1", access_key_id=creds.access_key,
                     secret_access_key=creds.secret_key, token=creds.token, server_side_encryption="sse-c",
                     sse_customer_key_base64=base64.b64encode(key).decode(),
                     retry_config={"max_retries": 0, "retry_timeout": datetime.timedelta(seconds=10)})
    big = os.urandom(11 * MIB)
    obs.put(sealed, "c/small", b"secret")
    obs.put(sealed, "c/big", big, chunk_size=5 * MIB)
    assert obs.get(sealed, "c/small").bytes() == b"secret"
    assert bytes(obs.get_range(sealed, "c/big", start=MIB, end=MIB + 10)) == big[MIB:MIB + 10]
    obs.copy(sealed, "c/small", "c/copy")
    assert obs.get(sealed, "c/copy").bytes() == b"secret"
    head = s3.head_object(Bucket=bucket, Key="c/small", **sse_c_headers(key))
    assert head["SSECustomerAlgorithm"] == "AES256"
    plain = S3Store(bucket, endpoint=endpoint, region="us-east-1", access_key_id=creds.access_key,
                    secret_access_key=creds.secret_key, token=creds.token,
                    retry_config={"max_retries": 0, "retry_timeout": datetime.timedelta(seconds=10)})
    with pytest.raises(Exception, match="The object was stored using a form of Server Side Encryption"):
        obs.get(plain, "c/small")
