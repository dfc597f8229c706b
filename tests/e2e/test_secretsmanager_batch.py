"""BatchGetSecretValue by Filters: ListSecrets' matching and order, paging, the
SecretIdList/Filters/MaxResults rules, and the ListSecrets + per-secret GetSecretValue checks."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import AwsEnv, aws_error

BOTH_OR_NEITHER = ("InvalidParameterException",
                   "Either 'SecretIdList' or 'Filters' must be provided, but not both.", 400)


def _secrets(admin: AwsEnv, count: int) -> tuple[Any, str, list[str]]:
    """`count` secrets sharing a fresh name prefix, plus one that only shares a tag: their ARNs."""
    sm: Any = admin.client("secretsmanager")
    prefix = f"batch-{uuid.uuid4().hex[:8]}"
    arns = [sm.create_secret(Name=f"{prefix}/s{i}", SecretString=f"v{i}")["ARN"] for i in range(count)]
    sm.create_secret(Name=f"other-{uuid.uuid4().hex[:8]}", SecretString="x", Tags=[{"Key": prefix, "Value": "y"}])
    return sm, prefix, arns


def test_filters_select_the_secrets_list_secrets_lists(admin: AwsEnv) -> None:
    sm, prefix, arns = _secrets(admin, 3)
    sm.delete_secret(SecretId=arns[2])  # scheduled for deletion: left out, as ListSecrets does
    filters = [{"Key": "name", "Values": [prefix]}]
    out = sm.batch_get_secret_value(Filters=filters)
    listed = [s["ARN"] for s in sm.list_secrets(Filters=filters)["SecretList"]]
    assert [v["ARN"] for v in out["SecretValues"]] == listed == arns[:2]
    assert [v["SecretString"] for v in out["SecretValues"]] == ["v0", "v1"]
    assert out["Errors"] == [] and "NextToken" not in out


def test_max_results_pages_through_every_match(admin: AwsEnv) -> None:
    sm, prefix, arns = _secrets(admin, 3)
    filters = [{"Key": "name", "Values": [prefix]}]
    seen, kw = [], {}
    for _ in range(5):
        out = sm.batch_get_secret_value(Filters=filters, MaxResults=1, **kw)
        assert len(out["SecretValues"]) == 1
        seen += [v["ARN"] for v in out["SecretValues"]]
        if "NextToken" not in out:
            break
        kw = {"NextToken": out["NextToken"]}
    assert seen == arns
    assert aws_error(lambda: sm.batch_get_secret_value(Filters=filters, NextToken="bogus")) == (
        "InvalidNextTokenException", "The NextToken value is invalid.", 400)
    code, message, _ = aws_error(lambda: admin.unchecked_client("secretsmanager").batch_get_secret_value(
        Filters=filters, MaxResults=21))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value '21' at 'maxResults' "
                               "failed to satisfy constraint: Member must have value less than or equal to 20")


def test_secret_id_list_and_filters_are_exclusive(admin: AwsEnv) -> None:
    sm, prefix, arns = _secrets(admin, 1)
    filters = [{"Key": "name", "Values": [prefix]}]
    assert aws_error(lambda: sm.batch_get_secret_value(SecretIdList=arns, Filters=filters)) == BOTH_OR_NEITHER
    assert aws_error(lambda: sm.batch_get_secret_value()) == BOTH_OR_NEITHER
    assert aws_error(lambda: sm.batch_get_secret_value(SecretIdList=arns, MaxResults=5)) == (
        "InvalidParameterException",
        "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.", 400)


def test_filters_need_list_secrets(admin: AwsEnv) -> None:
    _, prefix, arns = _secrets(admin, 1)
    key = admin.new_user({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
        "secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"], "Resource": "*"}]})
    sm: Any = admin.client_for(key, "secretsmanager")
    assert [v["ARN"] for v in sm.batch_get_secret_value(SecretIdList=arns)["SecretValues"]] == arns
    code, message, status = aws_error(lambda: sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}]))
    assert (code, status) == ("AccessDeniedException", 400)
    assert "secretsmanager:ListSecrets" in message


def test_filters_report_each_refused_secret_in_errors(admin: AwsEnv) -> None:
    _, prefix, arns = _secrets(admin, 3)
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arns[1]}]})
    sm: Any = admin.client_for(key, "secretsmanager")
    out = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert [v["ARN"] for v in out["SecretValues"]] == [arns[1]]
    assert [(e["SecretId"], e["ErrorCode"]) for e in out["Errors"]] == [
        (arns[0], "AccessDeniedException"), (arns[2], "AccessDeniedException")]
