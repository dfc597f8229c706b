"""The instance metadata tree against the EC2 metadata mock's default tree
(/work/shared/conformance/imds): every path that applies to a Skyhold instance must
answer; the rest are listed with why they do not apply. Also the identity document's
signature verifies with the published key."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ..e2e.conftest import VENV_BIN, AwsEnv, Server
from ..e2e.conftest import admin, server  # noqa: F401  (the running server these tests query)

TREE = Path(__file__).parents[2] / ".." / "shared" / "conformance" / "imds" / "aemm-metadata-default-values.json"

# Paths of the mock's tree that describe things a Skyhold instance does not have.
NOT_APPLICABLE = {
    "elastic-inference": "no Elastic Inference accelerators",
    "spot": "on-demand instances only",
    "events/recommendations": "no rebalance recommendations",
    "placement/group-name": "no placement groups", "placement/host-id": "no dedicated hosts",
    "placement/partition-number": "no placement groups",
    "public-hostname": "no public IP addresses", "public-ipv4": "no public IP addresses",
    "ipv4-associations": "no public IP addresses", "public-ipv4s": "no public IP addresses",
    "ipv6": "no IPv6", "block-device-mapping/ebs": "root volume only",
    "block-device-mapping/ephemeral": "root volume only", "block-device-mapping/swap": "root volume only",
    "kernel-id": "HVM images have none", "ramdisk-id": "HVM images have none",
    "product-codes": "no Marketplace images", "autoscaling": "no Auto Scaling",
    "fws": "no detailed monitoring", 
    "tags/instance/Test": "the mock's own tag",
}


def _paths() -> list[tuple[str, str]]:
    data = json.loads(TREE.read_text())
    return list(data["metadata"]["paths"].items()) + list(data["dynamic"]["paths"].items())


@pytest.fixture(scope="module")
def instance(server: Server, admin: AwsEnv) -> dict:
    iam, ec2 = admin.client("iam"), admin.client("ec2")
    role = f"imds-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.create_instance_profile(InstanceProfileName=role)
    iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    ec2.create_key_pair(KeyName=role)
    launched = ec2.run_instances(ImageId="ami-0e2c8caa4b6378d8c", MinCount=1, MaxCount=1, KeyName=role,
                                 IamInstanceProfile={"Name": role},
                                 MetadataOptions={"InstanceMetadataTags": "enabled"},
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "Name", "Value": "imds"}]}])["Instances"][0]
    from skyhold.store import open_store

    store, _ = open_store(server.data_dir)
    try:
        record = store.get("ec2.instance", launched["InstanceId"]).value
    finally:
        store.close()
    return {"port": record["ImdsPort"], "mac": record["MacAddress"], "role": role}


def _get(instance: dict, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{instance['port']}{path}") as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


@pytest.mark.parametrize("name,path", _paths(), ids=[n for n, _ in _paths()])
def test_metadata_path(instance: dict, name: str, path: str) -> None:
    reason = next((why for part, why in NOT_APPLICABLE.items() if part in path), None)
    if reason:
        pytest.skip(f"not applicable: {reason}")
    ours = path.replace("0e:49:61:0f:c3:11", instance["mac"]).replace("baskinc-role", instance["role"])
    status, body = _get(instance, ours)
    assert status == 200, ours
    assert body


def test_identity_document_signature_verifies(server: Server, instance: dict) -> None:
    status, document = _get(instance, "/latest/dynamic/instance-identity/document")
    assert status == 200
    _, signature = _get(instance, "/latest/dynamic/instance-identity/signature")
    pem = subprocess.run([str(VENV_BIN / "skyhold"), "instance", "identity-key", "--data-dir", str(server.data_dir)],
                         capture_output=True, text=True, check=True).stdout
    public = serialization.load_pem_public_key(pem.encode())
    public.verify(base64.b64decode(signature), document.encode(), padding.PKCS1v15(), hashes.SHA256())
    forged = document.replace(json.loads(document)["instanceId"], "i-00000000000000000")
    with pytest.raises(Exception):
        public.verify(base64.b64decode(signature), forged.encode(), padding.PKCS1v15(), hashes.SHA256())
