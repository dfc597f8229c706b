"""restic (Debian's 0.14, minio-go v7), unmodified, against a real `skyhold up`: a
repository's whole life under a role holding only restic's documented S3 permissions,
across a restart of Skyhold."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import clean_env, debian_package, new_bucket, own_server

RESTIC = "/usr/bin/restic"


@pytest.fixture(scope="module", autouse=True)
def _restic() -> None:
    debian_package(RESTIC, "restic")


def restic_policy(bucket: str) -> dict[str, Any]:
    """The least-privilege policy restic's documentation gives for an S3 repository."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}


def test_restic_repository_life_under_least_privilege_across_restart(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        s3: Any = admin.client("s3")
        iam: Any = admin.client("iam")
        account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
        bucket = new_bucket(s3, "restic")
        role = f"restic-{uuid.uuid4().hex[:6]}"
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=role, PolicyName="restic", PolicyDocument=json.dumps(restic_policy(bucket)))
        creds = admin.client("sts").assume_role(  # type: ignore[attr-defined]
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="backup")["Credentials"]
        env = {**clean_env(tmp_path), "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
               "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"],
               "RESTIC_REPOSITORY": f"s3:{srv.endpoint}/{bucket}/repo", "RESTIC_PASSWORD": "correct horse",
               "RESTIC_CACHE_DIR": str(tmp_path / "cache")}

        def restic(*args: str) -> str:
            out = subprocess.run([RESTIC, *args], capture_output=True, text=True, env=env, timeout=120)
            assert out.returncode == 0, out.stderr[-3000:]
            return out.stdout

        data = tmp_path / "data"
        (data / "sub").mkdir(parents=True)
        files = {"a.txt": b"first\n", "sub/b.bin": os.urandom(200_000), "big.bin": os.urandom(3 * 1024 * 1024)}
        for name, body in files.items():
            (data / name).write_bytes(body)
        restic("init")
        restic("backup", str(data))
        (data / "a.txt").write_bytes(b"second\n")
        restic("backup", str(data))
        assert len(json.loads(restic("snapshots", "--json"))) == 2
        restic("forget", "--keep-last", "1", "--prune")  # deletes a snapshot and repacks
        assert len(json.loads(restic("snapshots", "--json"))) == 1
        # Every object restic wrote went through the role, none stayed locked.
        assert not [o for o in s3.list_objects_v2(Bucket=bucket, Prefix="repo/locks/").get("Contents", [])]

        srv.stop()
        srv.start()
        restic("check", "--read-data")
        restic("restore", "latest", "--target", str(tmp_path / "restored"))
        back = tmp_path / "restored" / data.relative_to("/")
        assert {n: (back / n).read_bytes() for n in files} == {**files, "a.txt": b"second\n"}
