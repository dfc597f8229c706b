"""Client mistakes the operation fuzzer found answered with a 500: each now gets EC2's
own error, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any


from .conftest import AwsEnv, aws_error

NO_KEY = ("InvalidParameterValue", "Value ( '' ) for parameter Tag key is invalid. Tag key cannot be null or empty.",
          400)



def test_a_tag_without_a_key_is_refused(admin: AwsEnv) -> None:
    ec2: Any = admin.client("ec2")
    name = f"fuzz-tags-{uuid.uuid4().hex[:6]}"
    pair = ec2.create_key_pair(KeyName=name)["KeyPairId"]
    ec2.create_tags(Resources=[pair], Tags=[{"Key": "team", "Value": "blue"}])
    for tags in ([{"Value": "v"}], [{"Key": "ok", "Value": "v"}, {"Value": "w"}], [{"Key": "", "Value": "v"}]):
        assert aws_error(lambda: ec2.create_tags(Resources=[pair], Tags=tags)) == NO_KEY
        assert aws_error(lambda: ec2.delete_tags(Resources=[pair], Tags=tags)) == NO_KEY
    assert aws_error(lambda: ec2.create_tags(Resources=[pair], Tags=[{"Value": "v"}], DryRun=True)) == NO_KEY
    assert aws_error(lambda: ec2.create_key_pair(KeyName=f"{name}-2", TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Value": "v"}]}])) == NO_KEY
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [pair]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("team", "blue")]
    assert [p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"] if p["KeyName"].startswith(name)] == [name]
    ec2.delete_key_pair(KeyName=name)


def test_import_key_pair_of_a_type_openssh_does_not_know(admin: AwsEnv) -> None:
    ec2: Any = admin.client("ec2")
    name = f"fuzz-import-{uuid.uuid4().hex[:6]}"
    for material in (b"ssh-foo AAAAB3NzaC1yc2E=", b"\xd2\x00`\xc0 AAAA", b"garbage"):
        assert aws_error(lambda: ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)) == (
            "InvalidKey.Format", "Key is not in valid OpenSSH public key format", 400)
    assert aws_error(lambda: ec2.describe_key_pairs(KeyNames=[name]))[0] == "InvalidKeyPair.NotFound"
