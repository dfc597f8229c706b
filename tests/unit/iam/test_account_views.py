"""Account-wide views: aliases, summary, authorization details, credential report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from skyhold import clock
from skyhold.services.iam import record_key_use

from .conftest import ACCOUNT, POLICY, TRUST, fails

REPORT_COLUMNS = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
    "password_next_rotation", "mfa_active", "access_key_1_active", "access_key_1_last_rotated",
    "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated",
    "cert_2_active", "cert_2_last_rotated",
]


def test_account_aliases(iam):
    assert iam("ListAccountAliases")["AccountAliases"] == []
    iam("CreateAccountAlias", AccountAlias="my-lab")
    assert iam("ListAccountAliases")["AccountAliases"] == ["my-lab"]
    fails(iam, "CreateAccountAlias", "ValidationError", AccountAlias="Bad_Alias")
    iam("DeleteAccountAlias", AccountAlias="my-lab")
    fails(iam, "DeleteAccountAlias", "NoSuchEntity", "The account alias my-lab cannot be found.",
          AccountAlias="my-lab")


def test_account_summary_counts(iam):
    iam("CreateUser", UserName="a")
    iam("CreateUser", UserName="b")
    iam("CreateGroup", GroupName="g")
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam("CreatePolicy", PolicyName="p", PolicyDocument=POLICY)
    iam("CreateInstanceProfile", InstanceProfileName="ip")
    iam("CreateVirtualMFADevice", VirtualMFADeviceName="m")
    s = iam("GetAccountSummary")["SummaryMap"]
    assert (s["Users"], s["Groups"], s["Roles"], s["Policies"], s["InstanceProfiles"]) == (2, 1, 1, 1, 1)
    assert (s["MFADevices"], s["MFADevicesInUse"]) == (1, 0)
    assert s["AccessKeysPerUserQuota"] == 2 and s["AttachedPoliciesPerRoleQuota"] == 10
    assert s["UserPolicySizeQuota"] == 2048 and s["RolePolicySizeQuota"] == 10240 and s["PolicySizeQuota"] == 6144


def test_authorization_details(iam):
    iam("CreateUser", UserName="u")
    iam("CreateGroup", GroupName="g")
    iam("AddUserToGroup", GroupName="g", UserName="u")
    iam("PutUserPolicy", UserName="u", PolicyName="inline", PolicyDocument=POLICY)
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam("AttachRolePolicy", RoleName="r", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam("CreateInstanceProfile", InstanceProfileName="ip")
    iam("AddRoleToInstanceProfile", InstanceProfileName="ip", RoleName="r")
    local = iam("CreatePolicy", PolicyName="p", PolicyDocument=POLICY)["Policy"]["Arn"]
    out = iam("GetAccountAuthorizationDetails")
    user = out["UserDetailList"][0]
    assert user["GroupList"] == ["g"] and user["UserPolicyList"][0]["PolicyName"] == "inline"
    role = out["RoleDetailList"][0]
    assert role["AttachedManagedPolicies"][0]["PolicyName"] == "ReadOnlyAccess"
    assert role["InstanceProfileList"][0]["InstanceProfileName"] == "ip"
    arns = {p["Arn"] for p in out["Policies"]}
    assert arns == {local, "arn:aws:iam::aws:policy/ReadOnlyAccess"}  # AWS policies only when in use
    assert all(p["PolicyVersionList"] for p in out["Policies"])
    only_roles = iam("GetAccountAuthorizationDetails", Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and len(only_roles["RoleDetailList"]) == 1
    seen, marker = 0, None
    while True:
        page = iam("GetAccountAuthorizationDetails", MaxItems=1, **({"Marker": marker} if marker else {}))
        seen += sum(len(page[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == 5


def test_credential_report(iam, store, monkeypatch):
    iam("CreateUser", UserName="ann")
    iam("CreateLoginProfile", UserName="ann", Password="Str0ng-Password")
    k1 = iam("CreateAccessKey", UserName="ann")["AccessKey"]["AccessKeyId"]
    iam("CreateAccessKey", UserName="ann")
    record_key_use(store, k1, "s3", "us-west-2")
    iam("CreateUser", UserName="bo")
    fails(iam, "GetCredentialReport", "ReportNotPresent", status=410)
    assert iam("GenerateCredentialReport")["State"] == "STARTED"
    assert iam("GenerateCredentialReport")["State"] == "COMPLETE"
    report = iam("GetCredentialReport")
    assert report["ReportFormat"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    assert list(rows[0].keys()) == REPORT_COLUMNS
    by_user = {r["user"]: r for r in rows}
    assert set(by_user) == {"<root_account>", "ann", "bo"}
    assert by_user["<root_account>"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert by_user["<root_account>"]["password_enabled"] == "not_supported"
    ann = by_user["ann"]
    assert ann["password_enabled"] == "true" and ann["access_key_1_active"] == "true"
    assert ann["access_key_2_active"] == "true"
    # Keys appear in the order ListAccessKeys gives them (oldest first).
    n = 1 + [k["AccessKeyId"] for k in iam("ListAccessKeys", UserName="ann")["AccessKeyMetadata"]].index(k1)
    assert ann[f"access_key_{n}_last_used_service"] == "s3"
    assert ann[f"access_key_{n}_last_used_region"] == "us-west-2"
    assert ann[f"access_key_{3 - n}_last_used_service"] == "N/A"
    assert by_user["bo"]["password_enabled"] == "false" and by_user["bo"]["access_key_1_active"] == "false"
    later = clock.now() + timedelta(hours=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    fails(iam, "GetCredentialReport", "ReportExpired", status=410)
