"""Listings over many records read about a page's worth per page, not the whole
account per page (IAM, SSM, Secrets Manager, KMS). Work is counted, never timed: the
store's scan and get are wrapped to count the records they return, as
tests/unit/s3/test_listing.py does. Data is filled by cloning one record made through
the handlers straight into the store (append_json), so each test stays fast."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from skyhold.services.iam import records as iam
from skyhold.services.kms import records as kms
from skyhold.services.secretsmanager.secrets import SECRET
from skyhold.services.ssm.parameters import PARAM
from skyhold.trail.events import EVENT
from tests.unit.kms.harness import Harness

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "data")
    yield harness
    harness.close()


class Reads:
    """Counts the records the store hands out while active (each as `weight` says: one by default)."""

    def __init__(self, h: Harness, monkeypatch: pytest.MonkeyPatch, weight: Callable[[Any], int] = lambda rec: 1) -> None:
        self.count = 0
        scan, get = h.store.scan, h.store.get

        def counting_scan(*args: Any, **kwargs: Any) -> Any:
            found = scan(*args, **kwargs)
            self.count += sum(map(weight, found))
            return found

        def counting_get(*args: Any, **kwargs: Any) -> Any:
            found = get(*args, **kwargs)
            self.count += weight(found) if found is not None else 0
            return found

        monkeypatch.setattr(h.store, "scan", counting_scan)
        monkeypatch.setattr(h.store, "get", counting_get)


def clone(h: Harness, kind: str, key: str, n: int, vary: Callable[[dict[str, Any], int], tuple[str, dict[str, Any]]]) -> None:
    """n copies of record (kind, key), each (key, value) as `vary` makes it."""
    rec = h.store.get(kind, key)
    assert rec is not None
    h.store.append_json([(kind, *(lambda k, v: (k, json.dumps(v)))(*vary(rec.value, i))) for i in range(n)])


def every_page(h: Harness, service: str, operation: str, items: str, token_in: str, token_out: str,
               **params: Any) -> tuple[list[Any], int]:
    found, pages = [], 0
    while True:
        out = h.run(service, operation, **params)
        found += out[items]
        pages += 1
        if not out.get(token_out):
            return found, pages
        params[token_in] = out[token_out]


def many_users(h: Harness, n: int, **extra: Any) -> list[str]:
    names = [f"user{i:04d}" for i in range(n)]
    clone(h, iam.USER, iam.user_key(h.account, "admin"), n,
          lambda v, i: (iam.user_key(h.account, names[i]), {**v, "UserName": names[i], **extra}))
    return names


def test_list_users_and_roles_read_a_page_per_page_not_the_account(h: Harness, monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    """Each page read every user of the account: 600 users in pages of 50 read 7,800."""
    names = many_users(h, 600)
    h.run("iam", "CreateRole", RoleName="role", AssumeRolePolicyDocument=TRUST)
    clone(h, iam.ROLE, iam.name_key(h.account, "role"), 300,
          lambda v, i: (iam.name_key(h.account, f"role{i:04d}"), {**v, "RoleName": f"role{i:04d}"}))
    reads = Reads(h, monkeypatch)
    users, pages = every_page(h, "iam", "ListUsers", "Users", "Marker", "Marker", MaxItems=50)
    assert [u["UserName"] for u in users] == ["admin", *names] and pages == 13
    assert reads.count < 1_000
    reads.count = 0
    roles, _ = every_page(h, "iam", "ListRoles", "Roles", "Marker", "Marker", MaxItems=50)
    assert [r["RoleName"] for r in roles] == ["role", *(f"role{i:04d}" for i in range(300))]
    assert reads.count < 600


def test_an_iam_marker_keeps_its_place_while_users_are_added(h: Harness) -> None:
    many_users(h, 10)
    first = h.run("iam", "ListUsers", MaxItems=4)
    assert [u["UserName"] for u in first["Users"]] == ["admin", "user0000", "user0001", "user0002"]
    h.run("iam", "CreateUser", UserName="aaa")  # before the boundary: not listed now
    h.run("iam", "CreateUser", UserName="user0002b")  # after it: listed
    rest, _ = every_page(h, "iam", "ListUsers", "Users", "Marker", "Marker", MaxItems=4, Marker=first["Marker"])
    assert [u["UserName"] for u in rest] == ["user0002b", *(f"user{i:04d}" for i in range(3, 10))]
    assert h.fails("InvalidInput", "iam", "ListUsers", Marker="bm90IGEgbWFya2Vy").message == "Invalid Marker."


def test_authorization_details_and_policy_entities_read_each_record_about_once(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """GetAccountAuthorizationDetails read every user, group, role, policy and instance
    profile (and every principal again for the usage counts) on each page."""
    users = many_users(h, 400, AttachedPolicies=[READ_ONLY])
    h.run("iam", "CreateRole", RoleName="role", AssumeRolePolicyDocument=TRUST)
    h.run("iam", "CreatePolicy", PolicyName="pol", PolicyDocument=POLICY)
    reads = Reads(h, monkeypatch)
    out, pages = every_page(h, "iam", "GetAccountAuthorizationDetails", "UserDetailList", "Marker", "Marker",
                            MaxItems=40)
    assert [u["UserName"] for u in out] == ["admin", *users] and pages == 11
    assert reads.count < 2_000  # before: ~10,000
    reads.count = 0
    entities, pages = every_page(h, "iam", "ListEntitiesForPolicy", "PolicyUsers", "Marker", "Marker",
                                 MaxItems=40, PolicyArn=READ_ONLY)
    assert [u["UserName"] for u in entities] == users and pages == 10
    assert reads.count < 1_000  # before: ~4,000
    whole = h.run("iam", "GetAccountAuthorizationDetails", Filter=["Role", "AWSManagedPolicy", "LocalManagedPolicy"])
    assert [r["RoleName"] for r in whole["RoleDetailList"]] == ["role"]
    # The AWS managed policies in use (by ARN) first, then the customer managed ones.
    assert [p["PolicyName"] for p in whole["Policies"]] == ["AdministratorAccess", "ReadOnlyAccess", "pol"]
    assert [p["AttachmentCount"] for p in whole["Policies"]] == [1, 400, 0]


def test_list_policies_counts_attachments_once_not_per_page(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    many_users(h, 500)
    h.run("iam", "CreatePolicy", PolicyName="pol", PolicyDocument=POLICY)
    clone(h, iam.POLICY, iam.name_key(h.account, "pol"), 99,
          lambda v, i: (iam.name_key(h.account, f"pol{i:03d}"), {**v, "PolicyName": f"pol{i:03d}",
                                                                 "Arn": f"{v['Arn']}{i:03d}"}))
    reads = Reads(h, monkeypatch)
    policies, pages = every_page(h, "iam", "ListPolicies", "Policies", "Marker", "Marker", Scope="Local",
                                 MaxItems=10)
    assert len(policies) == 100 and pages == 10
    assert reads.count < 2_000  # before: 10 x (500 users + 100 policies)


def test_a_credential_report_reads_the_access_keys_once_not_per_user(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    names = many_users(h, 200)
    key = h.run("iam", "CreateAccessKey", UserName="admin")["AccessKey"]["AccessKeyId"]
    clone(h, iam.ACCESS_KEY, key, 400, lambda v, i: (f"AKIA{i:016d}", {**v, "AccessKeyId": f"AKIA{i:016d}",
                                                                      "UserName": names[i // 2]}))
    reads = Reads(h, monkeypatch)
    h.run("iam", "GenerateCredentialReport")
    assert reads.count < 2_000  # before: 200 users x 401 keys
    report = h.run("iam", "GetCredentialReport")["Content"]
    rows = [line.split(",") for line in (report if isinstance(report, str) else report.decode()).splitlines()]
    assert [row[0] for row in rows[3:]] == names
    assert all(row[8] == "true" and row[13] == "true" for row in rows[3:])  # two active keys each


def test_ssm_paging_reads_a_page_per_page_not_the_rest(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """GetParametersByPath (MaxResults 10) read every parameter after the token on each
    page: 1,000 parameters read ~50,000."""
    h.run("ssm", "PutParameter", Name="/app/p", Value="v", Type="String")
    base = f"{h.account}/us-east-1//app/p"
    clone(h, PARAM, base, 1_000, lambda v, i: (f"{base}{i:04d}", {**v, "Name": f"/app/p{i:04d}"}))
    reads = Reads(h, monkeypatch)
    found, pages = every_page(h, "ssm", "GetParametersByPath", "Parameters", "NextToken", "NextToken",
                              Path="/app", MaxResults=10)
    assert [p["Name"] for p in found] == ["/app/p", *(f"/app/p{i:04d}" for i in range(1_000))]
    assert reads.count < 2_000
    reads.count = 0
    described, _ = every_page(h, "ssm", "DescribeParameters", "Parameters", "NextToken", "NextToken",
                              MaxResults=50)
    assert len(described) == 1_001
    assert reads.count < 2_000  # before: ~10,000


def test_list_secrets_reads_a_page_per_page_and_keeps_its_place(h: Harness, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    h.run("secretsmanager", "CreateSecret", Name="s", SecretString="x")
    key = f"{h.account}/us-east-1/s"
    clone(h, SECRET, key, 500, lambda v, i: (f"{key}{i:03d}", {**v, "Name": f"s{i:03d}", "ARN": f"{v['ARN']}{i:03d}"}))
    reads = Reads(h, monkeypatch)
    found, pages = every_page(h, "secretsmanager", "ListSecrets", "SecretList", "NextToken", "NextToken",
                              MaxResults=20)
    assert [s["Name"] for s in found] == ["s", *(f"s{i:03d}" for i in range(500))] and pages == 26
    assert reads.count < 1_000  # before: 26 x 501
    # The token names where the next page starts, not an index that a new secret shifts.
    first = h.run("secretsmanager", "ListSecrets", MaxResults=3)
    h.run("secretsmanager", "CreateSecret", Name="a-new", SecretString="x")
    after = h.run("secretsmanager", "ListSecrets", MaxResults=3, NextToken=first["NextToken"])
    assert [s["Name"] for s in first["SecretList"] + after["SecretList"]] == ["s", *(f"s{i:03d}" for i in range(5))]
    for token in ("bm90IGEgdG9rZW4", "not-a-token", "7"):
        h.fails("InvalidNextTokenException", "secretsmanager", "ListSecrets", NextToken=token)


def test_kms_list_keys_reads_a_page_per_page(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    made = h.run("kms", "CreateKey")["KeyMetadata"]["KeyId"]
    ids = sorted([made, *(f"00000000-0000-4000-8000-{i:012d}" for i in range(500))])
    clone(h, kms.KEY, made, 500, lambda v, i: (f"00000000-0000-4000-8000-{i:012d}",
                                               {**v, "KeyId": f"00000000-0000-4000-8000-{i:012d}"}))
    reads = Reads(h, monkeypatch)
    keys, pages = every_page(h, "kms", "ListKeys", "Keys", "Marker", "NextMarker", Limit=50)
    assert [k["KeyId"] for k in keys] == ids and pages == 11
    assert reads.count < 1_000  # before: 11 x 501


def test_lookup_events_starts_at_end_time_not_at_the_newest_event(h: Harness, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    """With an EndTime, every newer event was read to be skipped (200,000 events, EndTime
    a day back: 180,000 read)."""
    now = time.time_ns() // 10**9 * 10**9
    rows = []
    for i in range(3_000):  # one a second, the newest a second ago
        t = now - (3_000 - i) * 10**9
        event = {"eventID": f"id{i}", "eventName": "GetUser", "readOnly": True, "eventSource": "iam.amazonaws.com",
                 "eventTime": datetime.fromtimestamp(t // 10**9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "userIdentity": {"type": "Root"}, "managementEvent": True, "awsRegion": "us-east-1"}
        rows.append((EVENT, f"{h.account}/{t:020d}{i:06d}", json.dumps({"event": event, "explain": None})))
    store = h.pipeline.trail_store
    store.append_json(rows)
    read = 0
    scan = store.scan

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal read
        found = scan(*args, **kwargs)
        read += len(found)
        return found

    monkeypatch.setattr(store, "scan", counting)
    end = datetime.fromtimestamp(now // 10**9 - 2_000, timezone.utc)  # event 1000's second
    first = h.run("cloudtrail", "LookupEvents", EndTime=end, MaxResults=50)
    assert [e["EventId"] for e in first["Events"]] == [f"id{i}" for i in range(1_000, 950, -1)]
    then = h.run("cloudtrail", "LookupEvents", EndTime=end, MaxResults=50, NextToken=first["NextToken"])
    assert [e["EventId"] for e in then["Events"]] == [f"id{i}" for i in range(950, 900, -1)]
    assert read <= 1_000  # a step of 500 rows a call; before: 2,000 newer events first
