"""Client mistakes that were 500s, found by review: each now gets the service's own
error (or, where AWS answers so, success)."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import AwsEnv, aws_error, new_bucket

DEEP = "[" * 5000 + "]" * 5000  # nested past what the JSON parser recurses into


def test_deeply_nested_policy_documents_are_malformed(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    assert aws_error(lambda: iam.create_role(RoleName=f"deep-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=DEEP)) \
        == ("MalformedPolicyDocument", "This policy contains invalid Json", 400)
    user = f"deep-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    code, _, status = aws_error(lambda: iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=DEEP))
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "deep")
    code, _, status = aws_error(lambda: s3.put_bucket_policy(Bucket=bucket, Policy='{"Statement": ' + DEEP + "}"))
    assert (code, status) == ("MalformedPolicy", 400)


def test_force_deleting_a_secret_by_a_short_arn(admin: AwsEnv) -> None:
    """An ARN of fewer than seven parts names no secret: the forced delete answers as
    for any secret that does not exist."""
    sm: Any = admin.client("secretsmanager")
    arn = "arn:aws:secretsmanager:us-east-1:000000000000"
    out = sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert (out["ARN"], out["Name"]) == (arn, arn)
