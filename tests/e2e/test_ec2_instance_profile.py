"""The course's first lab: an instance gets credentials only from its instance
profile, through a real metadata service, with no key anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from .conftest import VENV_BIN, AwsEnv, Server, aws_error

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

AL2023 = "ami-0453ec754f44f9a4a"
UBUNTU = "ami-0e2c8caa4b6378d8c"


def on_instance(server: Server, instance_id: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "skyhold"), "instance", "exec", "--data-dir", str(server.data_dir), "--endpoint",
         server.endpoint, instance_id, "--", *command],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"})


IMDS_BY_HAND = r'''
import os, sys, urllib.request, urllib.error
base = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"].rstrip("/")
def call(method, path, headers):
    req = urllib.request.Request(base + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
print(call("GET", "/latest/meta-data/instance-id", {})[0])
status, token = call("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
auth = {"X-aws-ec2-metadata-token": token}
role = call("GET", "/latest/meta-data/iam/security-credentials/", auth)[1]
print(role)
print(call("GET", "/latest/meta-data/iam/security-credentials/" + role, auth)[1])
print(call("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "0"})[0])
print(call("GET", "/latest/meta-data/nope", auth)[0])
print(call("GET", "/latest/meta-data/", auth)[1].replace("\n", ","))
'''


def _role_with_profile(admin: AwsEnv, policy_arn: str) -> tuple[str, str]:
    iam = admin.client("iam")
    name = f"ec2-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name, iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]


def test_the_instance_profile_lab(server: Server, admin: AwsEnv) -> None:
    ec2 = admin.client("ec2")
    instance_id = ec2.run_instances(ImageId=AL2023, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"][0]["InstanceId"]
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "running" and "IamInstanceProfile" not in described

    out = on_instance(server, instance_id, "aws", "sts", "get-caller-identity")
    assert out.returncode != 0 and "Unable to locate credentials" in out.stderr

    role, profile_arn = _role_with_profile(admin, "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    association = ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Name": role})[
        "IamInstanceProfileAssociation"]
    out = on_instance(server, instance_id, "aws", "sts", "get-caller-identity", "--output", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"].endswith(f":assumed-role/{role}/{instance_id}")
    assert on_instance(server, instance_id, "aws", "iam", "list-users").returncode == 0
    denied = on_instance(server, instance_id, "aws", "iam", "create-user", "--user-name", "from-instance")
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr

    # replacing the profile's role changes what the instance can do
    other, _ = _role_with_profile(admin, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    ec2.replace_iam_instance_profile_association(AssociationId=association["AssociationId"],
                                                 IamInstanceProfile={"Name": other})
    out = on_instance(server, instance_id, "aws", "iam", "list-users")
    assert out.returncode != 0 and "AccessDenied" in out.stderr
    # and detaching removes the credentials from the metadata service at once
    current = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}])["IamInstanceProfileAssociations"][0]
    ec2.disassociate_iam_instance_profile(AssociationId=current["AssociationId"])
    out = on_instance(server, instance_id, "python", "-c", IMDS_BY_HAND)
    assert out.stdout.splitlines()[1] == ""  # no role listed any more


def test_imdsv2_by_hand_and_required_tokens(server: Server, admin: AwsEnv) -> None:
    ec2 = admin.client("ec2")
    role, _ = _role_with_profile(admin, "arn:aws:iam::aws:policy/ReadOnlyAccess")
    instance_id = ec2.run_instances(ImageId=AL2023, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": role},
                                    UserData="#!/bin/bash\necho hi")["Instances"][0]["InstanceId"]
    out = on_instance(server, instance_id, "python", "-c", IMDS_BY_HAND)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "401"  # AL2023 requires IMDSv2 tokens
    assert lines[1] == role
    creds = json.loads("\n".join(lines[2:-3]))
    assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC" and creds["AccessKeyId"].startswith("ASIA")
    assert lines[-3] == "400"  # TTL out of range
    assert lines[-2] == "404"
    assert "iam/" in lines[-1].split(",") and "instance-id" in lines[-1].split(",")

    # an instance allowing IMDSv1 answers a tokenless GET; boto3 works either way
    v1 = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": role})[
        "Instances"][0]["InstanceId"]
    assert on_instance(server, v1, "python", "-c", IMDS_BY_HAND).stdout.splitlines()[0] == "200"
    probe = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
    assert on_instance(server, v1, "python", "-c", probe).stdout.strip().endswith(f"/{v1}")
    ec2.modify_instance_metadata_options(InstanceId=v1, HttpTokens="required")
    assert on_instance(server, v1, "python", "-c", IMDS_BY_HAND).stdout.splitlines()[0] == "401"
    assert on_instance(server, v1, "python", "-c", probe).stdout.strip().endswith(f"/{v1}")


def test_stopped_instances_refuse_exec_and_passrole_is_required(server: Server, admin: AwsEnv) -> None:
    ec2 = admin.client("ec2")
    instance_id = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    stopping = ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    assert stopping["PreviousState"]["Name"] == "running" and stopping["CurrentState"]["Name"] == "stopping"
    out = on_instance(server, instance_id, "true")
    assert out.returncode == 2 and "stopped" in out.stderr
    ec2.terminate_instances(InstanceIds=[instance_id])
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == \
        "terminated"

    # a user who may run instances but not pass the role cannot attach the profile
    import boto3
    from botocore.exceptions import ClientError

    role, _ = _role_with_profile(admin, "arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam = admin.client("iam")
    name = f"launcher-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="ec2", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_ec2 = boto3.client("ec2", endpoint_url=server.endpoint, region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    user_ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1)
    try:
        user_ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": role})
        raise AssertionError("PassRole was not required")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "UnauthorizedOperation"
        assert "iam:PassRole" in err.response["Error"]["Message"]
        assert "Encoded authorization failure message:" in err.response["Error"]["Message"]


def test_s3_lab_and_secret_script_inside_an_instance(server: Server, admin: AwsEnv, tmp_path) -> None:
    ec2, s3, sm = admin.client("ec2"), admin.client("s3", region_name="us-east-1"), admin.client("secretsmanager")
    bucket = f"lab-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    role, _ = _role_with_profile(admin, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    instance_id = ec2.run_instances(ImageId=AL2023, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": role})[
        "Instances"][0]["InstanceId"]
    listed = on_instance(server, instance_id, "aws", "s3", "ls")
    assert listed.returncode == 0, listed.stderr
    assert bucket in listed.stdout
    local = tmp_path / "upload.txt"
    local.write_text("nope")
    upload = on_instance(server, instance_id, "aws", "s3", "cp", str(local), f"s3://{bucket}/upload.txt")
    assert upload.returncode != 0 and "AccessDenied" in upload.stderr

    # CloudTrail shows the instance's calls as the role's session named after the instance
    events = admin.client("cloudtrail").lookup_events(LookupAttributes=[
        {"AttributeKey": "Username", "AttributeValue": instance_id}])["Events"]
    assert events and all(json.loads(e["CloudTrailEvent"])["userIdentity"]["arn"].endswith(f"{role}/{instance_id}")
                          for e in events)

    # the course's Secrets Manager script, unmodified (boto3, no keys, region us-east-1)
    name = f"prod-db-password-{uuid.uuid4().hex[:4]}"
    sm.create_secret(Name=name, SecretString="from-the-instance")
    admin.client("iam").put_role_policy(RoleName=role, PolicyName="secret", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                "Resource": "*"}]}))
    script = ('import boto3\nclient = boto3.client("secretsmanager", region_name="us-east-1")\n'
              f'response = client.get_secret_value(SecretId="{name}")\nprint(response["SecretString"])\n')
    out = on_instance(server, instance_id, "python", "-c", script)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "from-the-instance"


def test_tags_pagination_network_and_source_instance_context(server: Server, admin: AwsEnv) -> None:
    ec2 = admin.client("ec2")
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=UBUNTU, MinCount=6, MaxCount=6)["Instances"]]
    ec2.create_tags(Resources=ids[:2], Tags=[{"Key": "team", "Value": "blue"}])
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:team", "Values": ["blue"]}])
    assert sorted(i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]) == sorted(ids[:2])
    assert {t["ResourceId"] for t in ec2.describe_tags(Filters=[{"Name": "key", "Values": ["team"]}])["Tags"]} == \
        set(ids[:2])
    ec2.delete_tags(Resources=ids[:1], Tags=[{"Key": "team"}])
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ids[0]]}])["Tags"] == []
    seen, token = [], None
    while True:
        page = ec2.describe_instances(MaxResults=5, **({"NextToken": token} if token else {}))
        seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert ec2.describe_vpcs()["Vpcs"][0]["IsDefault"] is True
    assert len(ec2.describe_subnets()["Subnets"]) == 3
    assert ec2.reboot_instances(InstanceIds=ids[:1])["ResponseMetadata"]["HTTPStatusCode"] == 200

    # the instance role's sessions carry ec2:SourceInstanceARN for policies to test
    iam = admin.client("iam")
    role, _ = _role_with_profile(admin, "arn:aws:iam::aws:policy/AWSDenyAll")
    iam.detach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AWSDenyAll")
    instance_id = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": role})[
        "Instances"][0]["InstanceId"]
    account = admin.client("sts").get_caller_identity()["Account"]
    iam.put_role_policy(RoleName=role, PolicyName="only-from-this-instance", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
            "Condition": {"StringEquals": {"ec2:SourceInstanceARN":
                                           f"arn:aws:ec2:us-east-1:{account}:instance/{instance_id}"}}}]}))
    assert on_instance(server, instance_id, "aws", "iam", "list-users").returncode == 0
    iam.put_role_policy(RoleName=role, PolicyName="only-from-this-instance", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
            "Condition": {"StringEquals": {"ec2:SourceInstanceARN":
                                           f"arn:aws:ec2:us-east-1:{account}:instance/i-0000000000000000f"}}}]}))
    denied = on_instance(server, instance_id, "aws", "iam", "list-users")
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


CURL_AS_THE_COURSE_SHOWS = r'''
set -e
IMDS="${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}"
echo "no-token:$(curl -s -o /dev/null -w '%{http_code}' "$IMDS/latest/meta-data/")"
TOKEN=$(curl -s -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")
ROLE=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/iam/security-credentials/")
echo "role:$ROLE"
curl -s -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/iam/security-credentials/$ROLE"
'''


def test_imdsv2_with_curl(server: Server, admin: AwsEnv) -> None:
    import shutil

    if shutil.which("curl") is None:  # the course uses curl; install it where it is missing
        subprocess.run(["apt-get", "install", "-y", "-qq", "curl"], capture_output=True)
    role, _ = _role_with_profile(admin, "arn:aws:iam::aws:policy/ReadOnlyAccess")
    instance_id = admin.client("ec2").run_instances(ImageId=AL2023, MinCount=1, MaxCount=1,
                                                    IamInstanceProfile={"Name": role})["Instances"][0]["InstanceId"]
    out = on_instance(server, instance_id, "bash", "-c", CURL_AS_THE_COURSE_SHOWS)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "no-token:401" and lines[1] == f"role:{role}"
    creds = json.loads("\n".join(lines[2:]))
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Token"]


def test_dry_run_missing_image_and_the_running_quota(server: Server, admin: AwsEnv) -> None:
    """DryRun answers whether the call would be allowed and does nothing; a launch past
    the account's running-instance quota in a region is cut to it, or refused."""
    import boto3

    ec2 = admin.client("ec2", region_name="eu-north-1")  # a region of its own: the quota counts per region
    would = ("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
    assert aws_error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, DryRun=True)) == would
    assert aws_error(lambda: ec2.create_key_pair(KeyName="dry", DryRun=True)) == would
    assert aws_error(lambda: ec2.describe_instances(DryRun=True)) == would
    assert ec2.describe_instances()["Reservations"] == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []

    iam = admin.client("iam")
    name = f"reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    reader = boto3.client("ec2", endpoint_url=server.endpoint, region_name="eu-north-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert aws_error(lambda: reader.describe_instances(DryRun=True)) == would
    code, _, status = aws_error(lambda: reader.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, DryRun=True))
    assert (code, status) == ("UnauthorizedOperation", 403)

    assert aws_error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, InstanceType="t4g.micro")) == (
        "InvalidParameterValue", "The architecture 'arm64' of the specified instance type does not match the "
        "architecture 'x86_64' of the specified AMI. Specify an instance type and an AMI that have matching "
        "architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the "
        "architecture of the instance type or AMI.", 400)
    unchecked = admin.unchecked_client("ec2", region_name="eu-north-1")
    assert aws_error(lambda: unchecked.run_instances(MinCount=1, MaxCount=1)) == (
        "MissingParameter", "The request must contain the parameter ImageId", 400)

    assert aws_error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=21, MaxCount=21)) == (
        "InstanceLimitExceeded", "Your quota allows for 20 more running instance(s). You requested at least 21", 400)
    first = [i["InstanceId"] for i in ec2.run_instances(ImageId=UBUNTU, MinCount=2, MaxCount=2)["Instances"]]
    rest = [i["InstanceId"] for i in ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=50)["Instances"]]
    assert len(rest) == 18  # as many as the quota leaves
    assert aws_error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1)) == (
        "InstanceLimitExceeded", "Your quota allows for 0 more running instance(s). You requested at least 1", 400)
    ec2.stop_instances(InstanceIds=first)  # stopped instances are not running ones
    assert len(ec2.run_instances(ImageId=UBUNTU, MinCount=2, MaxCount=2)["Instances"]) == 2
    ec2.terminate_instances(InstanceIds=[*first, *rest])


def test_tag_lengths(admin: AwsEnv) -> None:
    from botocore.exceptions import ClientError

    ec2 = admin.client("ec2")
    key_pair = ec2.create_key_pair(KeyName=f"tags-{uuid.uuid4().hex[:6]}")["KeyPairId"]
    for tag, message in (({"Key": "k" * 129, "Value": "v"}, "Tag key exceeds the maximum length of 128 characters"),
                         ({"Key": "k", "Value": "v" * 257}, "Tag value exceeds the maximum length of 256 characters")):
        try:
            ec2.create_tags(Resources=[key_pair], Tags=[tag])
            raise AssertionError("tag accepted")
        except ClientError as err:
            assert (err.response["Error"]["Code"], err.response["Error"]["Message"]) == (
                "InvalidParameterValue", message)
    ec2.create_tags(Resources=[key_pair], Tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [key_pair]}])["Tags"][0]["Key"] == "k" * 128


def test_malformed_ids_and_group_names(admin: AwsEnv) -> None:
    from botocore.exceptions import ClientError

    ec2 = admin.client("ec2")

    def error(call) -> tuple[str, str]:
        try:
            call()
        except ClientError as err:
            return err.response["Error"]["Code"], err.response["Error"]["Message"]
        raise AssertionError("no error")

    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]["GroupName"] == "default"
    assert error(lambda: ec2.describe_security_groups(GroupIds=["i-0d9566a2e1c8fe35d"])) == (
        "InvalidGroupId.Malformed", 'Invalid id: "i-0d9566a2e1c8fe35d" (expecting "sg-...")')
    assert error(lambda: ec2.describe_security_groups(GroupIds=["sg-0b3bzz"])) == (
        "InvalidGroupId.Malformed", "The security-group ID 'sg-0b3bzz' is malformed")
    assert error(lambda: ec2.describe_security_groups(GroupIds=["sg-0123456789abcdef0"]))[0] == "InvalidGroup.NotFound"
    assert error(lambda: ec2.describe_vpcs(VpcIds=["foo"])) == (
        "InvalidVpcID.Malformed", 'Invalid id: "foo" (expecting "vpc-...")')
    assert error(lambda: ec2.describe_subnets(SubnetIds=["foo"])) == (
        "InvalidSubnetID.Malformed", 'Invalid id: "foo" (expecting "subnet-...")')
    assert error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, SubnetId="foo"))[0] == \
        "InvalidSubnetID.Malformed"
    assert error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, SecurityGroups=["web"])) == (
        "InvalidGroup.NotFound", f"The security group 'web' does not exist in default VPC '{group['VpcId']}'")
    launched = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, SecurityGroups=["default"])["Instances"][0]
    assert [g["GroupId"] for g in launched["SecurityGroups"]] == [group["GroupId"]]
    ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])


def test_filter_names(admin: AwsEnv) -> None:
    """Names EC2 documents work; an unknown one is refused even when nothing would match."""
    from botocore.exceptions import ClientError

    ec2 = admin.client("ec2", region_name="ap-south-2")  # no instances or key pairs here
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    assert ec2.describe_vpcs(Filters=[{"Name": "cidr-block-association.cidr-block",
                                       "Values": [vpc["CidrBlock"]]}])["Vpcs"][0]["VpcId"] == vpc["VpcId"]
    images = ec2.describe_images(Filters=[{"Name": "root-device-name", "Values": ["/dev/xvda"]},
                                          {"Name": "creation-date", "Values": ["2024-*"]}])["Images"]
    assert [i["ImageId"] for i in images] == [AL2023]
    assert ec2.describe_images(Filters=[{"Name": "platform", "Values": ["windows"]}])["Images"] == []
    launched = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1)["Instances"][0]
    zone_id = ec2.describe_availability_zones(ZoneNames=[launched["Placement"]["AvailabilityZone"]])[
        "AvailabilityZones"][0]["ZoneId"]
    for name, value, found in (("tenancy", "default", 1), ("root-device-type", "ebs", 1),
                               ("availability-zone-id", zone_id, 1), ("platform", "windows", 0),
                               ("instance-lifecycle", "spot", 0)):
        listed = ec2.describe_instances(Filters=[{"Name": name, "Values": [value]}])["Reservations"]
        assert len(listed) == found, name
    ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])
    subnets = ec2.describe_subnets(Filters=[{"Name": "cidrBlock", "Values": ["172.31.*"]},
                                            {"Name": "map-public-ip-on-launch", "Values": ["true"]}])["Subnets"]
    assert subnets and all(s["VpcId"] == vpc["VpcId"] for s in subnets)
    for call in (lambda f: ec2.describe_instances(Filters=f), lambda f: ec2.describe_key_pairs(Filters=f),
                 lambda f: ec2.describe_subnets(Filters=f), lambda f: ec2.describe_tags(Filters=f)):
        try:
            call([{"Name": "bogus", "Values": ["x"]}])
            raise AssertionError("unknown filter accepted")
        except ClientError as err:
            assert (err.response["Error"]["Code"], err.response["Error"]["Message"]) == (
                "InvalidParameterValue", "The filter 'bogus' is invalid")
