"""Terraform's hashicorp/aws provider against Skyhold, as a team describes its
infrastructure: each configuration applies, refreshes with no drift (every field
Skyhold answers reads back as AWS answers it), and destroys; boto3 then checks what
was made, and the role Terraform made is held to its least privilege."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from .conftest import AwsEnv, aws_error, error_and_status
from .terraform import Terraform

AL2023 = "ami-0453ec754f44f9a4a"


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def test_iam_roles_users_groups_and_oidc(admin: AwsEnv, tmp_path: Path) -> None:
    """A role with a trust policy, a boundary, an attached and an inline policy; a CI
    user with a key; a group; an instance profile; GitHub Actions' OIDC provider. The
    role Terraform made, assumed, may read its reports and nothing next to them."""
    s = _suffix()
    bucket = f"tf-reports-{s}"
    s3 = admin.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="reports/q1.csv", Body=b"a,b\n")
    s3.put_object(Bucket=bucket, Key="payroll/q1.csv", Body=b"secret\n")
    tf = Terraform(tmp_path, admin, f'''
data "aws_caller_identity" "me" {{}}
data "aws_iam_policy_document" "trust" {{
  statement {{
    actions = ["sts:AssumeRole"]
    principals {{
      type        = "AWS"
      identifiers = ["arn:aws:iam::${{data.aws_caller_identity.me.account_id}}:root"]
    }}
  }}
}}
data "aws_iam_policy_document" "read" {{
  statement {{
    sid       = "ReadReports"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::{bucket}/reports/*"]
  }}
}}
resource "aws_iam_policy" "boundary" {{
  name   = "tf-boundary-{s}"
  policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = ["s3:*", "sts:GetCallerIdentity"], Resource = "*" }}] }})
}}
resource "aws_iam_role" "app" {{
  name                 = "tf-app-{s}"
  path                 = "/apps/"
  description          = "the app"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = aws_iam_policy.boundary.arn
  max_session_duration = 7200
  tags                 = {{ team = "core" }}
}}
resource "aws_iam_policy" "read" {{
  name   = "tf-read-{s}"
  policy = data.aws_iam_policy_document.read.json
}}
resource "aws_iam_role_policy_attachment" "read" {{
  role       = aws_iam_role.app.name
  policy_arn = aws_iam_policy.read.arn
}}
resource "aws_iam_role_policy" "whoami" {{
  name   = "whoami"
  role   = aws_iam_role.app.id
  policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "sts:GetCallerIdentity", Resource = "*" }}] }})
}}
resource "aws_iam_user" "ci" {{
  name = "tf-ci-{s}"
  tags = {{ owner = "ci" }}
}}
resource "aws_iam_access_key" "ci" {{ user = aws_iam_user.ci.name }}
resource "aws_iam_user_policy" "ci" {{
  name   = "ci"
  user   = aws_iam_user.ci.name
  policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "s3:ListAllMyBuckets", Resource = "*" }}] }})
}}
resource "aws_iam_group" "devs" {{ name = "tf-devs-{s}" }}
resource "aws_iam_group_membership" "devs" {{
  name  = "devs"
  group = aws_iam_group.devs.name
  users = [aws_iam_user.ci.name]
}}
resource "aws_iam_role" "ec2" {{
  name               = "tf-ec2-{s}"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "sts:AssumeRole", Principal = {{ Service = "ec2.amazonaws.com" }} }}] }})
}}
resource "aws_iam_instance_profile" "ec2" {{
  name = "tf-ec2-{s}"
  role = aws_iam_role.ec2.name
}}
resource "aws_iam_openid_connect_provider" "gh" {{
  url             = "https://token.actions.githubusercontent.com/{s}"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}}
output "role_arn" {{ value = aws_iam_role.app.arn }}
output "oidc_arn" {{ value = aws_iam_openid_connect_provider.gh.arn }}
''')
    tf.apply()
    iam = admin.client("iam")
    role = iam.get_role(RoleName=f"tf-app-{s}")["Role"]
    assert role["Arn"] == tf.output("role_arn") and role["Path"] == "/apps/"
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(f":policy/tf-boundary-{s}")
    assert role["MaxSessionDuration"] == 7200
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=f"tf-app-{s}")["AttachedPolicies"]] \
        == [f"tf-read-{s}"]
    assert [u["UserName"] for u in iam.get_group(GroupName=f"tf-devs-{s}")["Users"]] == [f"tf-ci-{s}"]
    assert [r["RoleName"] for r in iam.get_instance_profile(InstanceProfileName=f"tf-ec2-{s}")
            ["InstanceProfile"]["Roles"]] == [f"tf-ec2-{s}"]
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=tf.output("oidc_arn"))["ClientIDList"] \
        == ["sts.amazonaws.com"]
    tf.assert_no_drift()

    # The role, assumed, reads the reports its policy names, and nothing beside them.
    creds = admin.client("sts").assume_role(RoleArn=tf.output("role_arn"), RoleSessionName="app")["Credentials"]
    app_s3 = admin.client_for(creds, "s3")
    assert app_s3.get_object(Bucket=bucket, Key="reports/q1.csv")["Body"].read() == b"a,b\n"
    assert aws_error(lambda: app_s3.get_object(Bucket=bucket, Key="payroll/q1.csv"))[0] == "AccessDenied"
    assert aws_error(lambda: app_s3.put_object(Bucket=bucket, Key="reports/q2.csv", Body=b"x"))[0] == "AccessDenied"

    tf.destroy()
    assert aws_error(lambda: iam.get_role(RoleName=f"tf-app-{s}"))[0] == "NoSuchEntity"
    assert aws_error(lambda: iam.get_user(UserName=f"tf-ci-{s}"))[0] == "NoSuchEntity"


def test_kms_key_secrets_and_parameters(admin: AwsEnv, tmp_path: Path) -> None:
    """A customer managed key with a key policy, rotation, an alias and a grant; a
    secret encrypted under it with a resource policy; String and SecureString parameters."""
    s = _suffix()
    tf = Terraform(tmp_path, admin, f'''
data "aws_caller_identity" "me" {{}}
data "aws_iam_policy_document" "key" {{
  statement {{
    sid       = "AccountAdmins"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {{
      type        = "AWS"
      identifiers = ["arn:aws:iam::${{data.aws_caller_identity.me.account_id}}:root"]
    }}
  }}
}}
resource "aws_kms_key" "app" {{
  description             = "app data {s}"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  rotation_period_in_days = 180
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = {{ app = "tf" }}
}}
resource "aws_kms_alias" "app" {{
  name          = "alias/tf-app-{s}"
  target_key_id = aws_kms_key.app.key_id
}}
resource "aws_iam_role" "reader" {{
  name               = "tf-reader-{s}"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "sts:AssumeRole", Principal = {{ AWS = data.aws_caller_identity.me.account_id }} }}] }})
}}
resource "aws_kms_grant" "reader" {{
  name              = "reader"
  key_id            = aws_kms_key.app.key_id
  grantee_principal = aws_iam_role.reader.arn
  operations        = ["Decrypt"]
  constraints {{
    encryption_context_equals = {{ app = "tf" }}
  }}
}}
resource "aws_secretsmanager_secret" "db" {{
  name                    = "tf/{s}/db"
  kms_key_id              = aws_kms_key.app.arn
  recovery_window_in_days = 0
  policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "secretsmanager:GetSecretValue", Resource = "*", Principal = {{ AWS = aws_iam_role.reader.arn }} }}] }})
}}
resource "aws_secretsmanager_secret_version" "db" {{
  secret_id     = aws_secretsmanager_secret.db.id
  secret_string = jsonencode({{ user = "app", password = "hunter2" }})
}}
resource "aws_ssm_parameter" "url" {{
  name  = "/tf/{s}/url"
  type  = "String"
  value = "https://example.com"
}}
resource "aws_ssm_parameter" "password" {{
  name   = "/tf/{s}/password"
  type   = "SecureString"
  value  = "s3cret"
  key_id = aws_kms_key.app.arn
}}
output "key_id" {{ value = aws_kms_key.app.key_id }}
''')
    tf.apply()
    kms = admin.client("kms", region_name="us-east-1")
    key_id = tf.output("key_id")
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert [st["Sid"] for st in policy["Statement"]] == ["AccountAdmins"]
    rotation = kms.get_key_rotation_status(KeyId=key_id)
    assert (rotation["KeyRotationEnabled"], rotation["RotationPeriodInDays"]) == (True, 180)
    assert kms.describe_key(KeyId=f"alias/tf-app-{s}")["KeyMetadata"]["KeyId"] == key_id
    grants = kms.list_grants(KeyId=key_id)["Grants"]
    assert [(g["Name"], g["Operations"], g["Constraints"]["EncryptionContextEquals"]) for g in grants] == [
        ("reader", ["Decrypt"], {"app": "tf"})]
    sm = admin.client("secretsmanager", region_name="us-east-1")
    assert sm.describe_secret(SecretId=f"tf/{s}/db")["KmsKeyId"].endswith(key_id)
    assert json.loads(sm.get_secret_value(SecretId=f"tf/{s}/db")["SecretString"])["password"] == "hunter2"
    ssm = admin.client("ssm", region_name="us-east-1")
    secure = ssm.get_parameter(Name=f"/tf/{s}/password", WithDecryption=True)["Parameter"]
    assert (secure["Type"], secure["Value"]) == ("SecureString", "s3cret")
    tf.assert_no_drift()
    tf.destroy()
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert aws_error(lambda: sm.describe_secret(SecretId=f"tf/{s}/db"))[0] == "ResourceNotFoundException"
    assert aws_error(lambda: ssm.get_parameter(Name=f"/tf/{s}/url"))[0] == "ParameterNotFound"


def test_bucket_with_its_security_configuration(admin: AwsEnv, tmp_path: Path) -> None:
    """A bucket encrypted by default under a customer managed key, public access
    blocked, ACLs off, a bucket policy denying other accounts, and an object."""
    s = _suffix()
    bucket = f"tf-secure-{s}"
    tf = Terraform(tmp_path, admin, f'''
data "aws_caller_identity" "me" {{}}
resource "aws_kms_key" "bucket" {{
  description             = "bucket key {s}"
  deletion_window_in_days = 7
}}
resource "aws_s3_bucket" "b" {{
  bucket        = "{bucket}"
  force_destroy = true
}}
resource "aws_s3_bucket_public_access_block" "b" {{
  bucket                  = aws_s3_bucket.b.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}
resource "aws_s3_bucket_ownership_controls" "b" {{
  bucket = aws_s3_bucket.b.id
  rule {{ object_ownership = "BucketOwnerEnforced" }}
}}
resource "aws_s3_bucket_server_side_encryption_configuration" "b" {{
  bucket = aws_s3_bucket.b.id
  rule {{
    apply_server_side_encryption_by_default {{
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.bucket.arn
    }}
    bucket_key_enabled = true
  }}
}}
data "aws_iam_policy_document" "b" {{
  statement {{
    sid       = "DenyOtherAccounts"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.b.arn, "${{aws_s3_bucket.b.arn}}/*"]
    principals {{
      type        = "*"
      identifiers = ["*"]
    }}
    condition {{
      test     = "StringNotEquals"
      variable = "aws:PrincipalAccount"
      values   = [data.aws_caller_identity.me.account_id]
    }}
  }}
}}
resource "aws_s3_bucket_policy" "b" {{
  bucket     = aws_s3_bucket.b.id
  policy     = data.aws_iam_policy_document.b.json
  depends_on = [aws_s3_bucket_public_access_block.b]
}}
resource "aws_s3_object" "config" {{
  bucket       = aws_s3_bucket.b.id
  key          = "config/app.json"
  content      = jsonencode({{ feature = true }})
  content_type = "application/json"
  depends_on   = [aws_s3_bucket_server_side_encryption_configuration.b]
}}
output "key_arn" {{ value = aws_kms_key.bucket.arn }}
''')
    tf.apply()
    s3 = admin.client("s3", region_name="us-east-1")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": tf.output("key_arn")}
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    head = s3.head_object(Bucket=bucket, Key="config/app.json")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", tf.output("key_arn"))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Sid"] == "DenyOtherAccounts"
    tf.assert_no_drift()
    tf.destroy()
    assert error_and_status(lambda: s3.head_bucket(Bucket=bucket))[1] == 404


def test_instance_with_profile_and_imdsv2(admin: AwsEnv, tmp_path: Path) -> None:
    """An instance with an instance profile, IMDSv2 required, user data and tagged
    root volume: the provider reads its type (DescribeInstanceTypes), attributes, credit
    option and root volume on every refresh."""
    s = _suffix()
    tf = Terraform(tmp_path, admin, f'''
resource "aws_iam_role" "r" {{
  name               = "tf-instance-{s}"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "sts:AssumeRole", Principal = {{ Service = "ec2.amazonaws.com" }} }}] }})
}}
resource "aws_iam_instance_profile" "p" {{
  name = "tf-instance-{s}"
  role = aws_iam_role.r.name
}}
data "aws_vpc" "default" {{ default = true }}
data "aws_security_group" "default" {{
  vpc_id = data.aws_vpc.default.id
  name   = "default"
}}
resource "aws_instance" "app" {{
  ami                    = "{AL2023}"
  instance_type          = "t3.micro"
  iam_instance_profile   = aws_iam_instance_profile.p.name
  vpc_security_group_ids = [data.aws_security_group.default.id]
  user_data              = "#!/bin/sh\\necho hello\\n"
  metadata_options {{
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }}
  tags        = {{ Name = "tf-app-{s}" }}
  volume_tags = {{ Name = "tf-root-{s}" }}
}}
output "id" {{ value = aws_instance.app.id }}
''')
    tf.apply()
    ec2: Any = admin.client("ec2", region_name="us-east-1")
    instance = ec2.describe_instances(InstanceIds=[tf.output("id")])["Reservations"][0]["Instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/tf-instance-{s}")
    volume_id = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["Tags"] == [{"Key": "Name", "Value": f"tf-root-{s}"}]
    tf.assert_no_drift()
    tf.destroy()
    instance = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "terminated"


def test_provider_finds_the_account_itself(admin: AwsEnv, tmp_path: Path) -> None:
    """Without the skip_* flags the provider validates its credentials and finds the
    account (STS GetCallerIdentity), as every real configuration does."""
    s = _suffix()
    tf = Terraform(tmp_path, admin, f'''
data "aws_caller_identity" "me" {{}}
data "aws_partition" "p" {{}}
resource "aws_ssm_parameter" "account" {{
  name  = "/tf/{s}/account"
  type  = "String"
  value = "${{data.aws_partition.p.partition}}:${{data.aws_caller_identity.me.account_id}}"
}}
''', skip_checks=False)
    tf.apply()
    account = admin.client("sts").get_caller_identity()["Account"]
    ssm = admin.client("ssm", region_name="us-east-1")
    assert ssm.get_parameter(Name=f"/tf/{s}/account")["Parameter"]["Value"] == f"aws:{account}"
    tf.assert_no_drift()
    tf.destroy()


# --- the EC2 reads the provider makes, one by one ---------------------------------------------

def test_instance_type_and_vpc_reads(admin: AwsEnv) -> None:
    """DescribeInstanceTypes (AWS's InvalidInstanceType for a type it does not have),
    DescribeVpcAttribute and the default VPC's main route table."""
    ec2: Any = admin.client("ec2", region_name="us-east-1")
    info = ec2.describe_instance_types(InstanceTypes=["t3.micro"])["InstanceTypes"][0]
    assert (info["InstanceType"], info["BurstablePerformanceSupported"], info["VCpuInfo"]["DefaultVCpus"],
            info["ProcessorInfo"]["SupportedArchitectures"]) == ("t3.micro", True, 2, ["x86_64"])
    assert ec2.describe_instance_types(InstanceTypes=["m7g.large"])["InstanceTypes"][0]["ProcessorInfo"] \
        == {"SupportedArchitectures": ["arm64"]}
    assert aws_error(lambda: ec2.describe_instance_types(InstanceTypes=["t3.micro", "zz9.huge"]))[:2] == (
        "InvalidInstanceType", "The following supplied instance types do not exist: [zz9.huge]")
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"] \
        == {"Value": True}
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"] \
        == {"Value": True}
    assert aws_error(lambda: ec2.describe_vpc_attribute(VpcId="vpc-0123456789abcdef0",
                                                        Attribute="enableDnsSupport"))[0] == "InvalidVpcID.NotFound"
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert len(main) == 1 and main[0]["Routes"][0] == {"DestinationCidrBlock": "172.31.0.0/16",
                                                        "GatewayId": "local", "Origin": "CreateRouteTable",
                                                        "State": "active"}


def test_instance_attributes_and_root_volume_tags(admin: AwsEnv) -> None:
    """DescribeInstanceAttribute, DescribeInstanceCreditSpecifications, and the root
    volume's tags: given at launch, changed by CreateTags, gone with the instance."""
    ec2: Any = admin.client("ec2", region_name="us-east-1")
    launched = ec2.run_instances(ImageId=AL2023, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 UserData="#!/bin/sh\necho hi\n",
                                 TagSpecifications=[{"ResourceType": "volume",
                                                     "Tags": [{"Key": "Name", "Value": "root"}]}])
    instance_id = launched["Instances"][0]["InstanceId"]
    try:
        user_data = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]
        assert user_data == {"Value": "IyEvYmluL3NoCmVjaG8gaGkK"}  # base64, as sent
        assert ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")[
            "DisableApiTermination"] == {"Value": False}
        assert ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
        assert ec2.describe_instance_credit_specifications(InstanceIds=[instance_id])[
            "InstanceCreditSpecifications"] == [{"InstanceId": instance_id, "CpuCredits": "unlimited"}]
        shown = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        volume_id = shown["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        volume = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])[
            "Volumes"]
        assert [(v["VolumeId"], v["Tags"], v["Attachments"][0]["InstanceId"]) for v in volume] == [
            (volume_id, [{"Key": "Name", "Value": "root"}], instance_id)]
        ec2.create_tags(Resources=[volume_id], Tags=[{"Key": "team", "Value": "core"}])
        assert {t["Key"] for t in ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Tags"]} == {
            "Name", "team"}
        assert {t["Key"] for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [volume_id]}])[
            "Tags"]} == {"Name", "team"}
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
    assert aws_error(lambda: ec2.describe_volumes(VolumeIds=[volume_id]))[:2] == (
        "InvalidVolume.NotFound", f"The volume '{volume_id}' does not exist.")
