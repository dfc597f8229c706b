"""The credential report: one CSV row per user (and the root user) with the state of
every credential, in the columns AWS documents ("Getting credential reports")."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from skyhold import accounts, arn, clock
from skyhold.errors import AwsError
from skyhold.services.iam import common, login, records

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.base import Store

COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
)
EXPIRES_AFTER = timedelta(hours=4)  # IAM serves a report for four hours
NA = "N/A"


def _time(text: str | None) -> str:
    """The report's timestamp form: 2014-10-27T21:05:10+00:00."""
    when = common.dt(text)
    return when.isoformat() if when else NA


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _key_columns(key: dict[str, Any] | None) -> list[str]:
    if key is None:
        return ["false", NA, NA, NA, NA]
    last = key.get("LastUsed") or {}
    return [
        _bool(key["Status"] == "Active"),
        _time(key["CreateDate"]),
        _time(last.get("LastUsedDate")),
        last.get("Region", NA),
        last.get("ServiceName", NA),
    ]


def _user_row(store: Store, account: str, user: dict[str, Any], keys: list[dict[str, Any]], mfa: bool) -> list[str]:
    name = user["UserName"]
    profile_rec = store.get(records.LOGIN_PROFILE, records.name_key(account, name))
    profile = profile_rec.value if profile_rec else None
    keys = sorted(keys, key=lambda k: (k["CreateDate"], k["AccessKeyId"]))
    row = [
        name,
        user["Arn"],
        _time(user["CreateDate"]),
        _bool(profile is not None),
        (_time(user["PasswordLastUsed"]) if user.get("PasswordLastUsed") else "no_information") if profile else NA,
        _time(profile.get("PasswordLastChanged")) if profile else NA,
        (login.password_next_rotation(store, account, profile) or NA) if profile else NA,
        _bool(mfa),
    ]
    row += _key_columns(keys[0] if keys else None)
    row += _key_columns(keys[1] if len(keys) > 1 else None)
    row += ["false", NA, "false", NA]  # signing certificates: Skyhold issues none
    return row


def _root_row(store: Store, account: str) -> list[str]:
    created = (accounts.get_account(store, account) or {}).get("CreatedAt")
    row = [records.ROOT_USER, arn.root(account), _time(created), "not_supported", "no_information",
           "not_supported", "not_supported", _bool(bool(records.mfa_devices_of(store, account, records.ROOT_USER)))]
    row += _key_columns(None) + _key_columns(None) + ["false", NA, "false", NA]
    return row


def render(store: Store, account: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(_root_row(store, account))
    # Every user's keys and MFA devices in one pass each, not a pass over all of them
    # per user (5,000 users with 10,000 keys read 50 million records).
    keys: dict[str, list[dict[str, Any]]] = {}
    for rec in store.scan(records.ACCESS_KEY):
        if rec.value["Account"] == account:
            keys.setdefault(rec.value["UserName"].lower(), []).append(rec.value)
    with_mfa = {(r.value.get("UserName") or "").lower() for r in store.scan(records.MFA, f"arn:aws:iam::{account}:")}
    for user in records.in_account(store, records.USER, account):
        name = user["UserName"].lower()
        writer.writerow(_user_row(store, account, user, keys.get(name, []), name in with_mfa))
    return out.getvalue()


def generate_credential_report(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    existing = store.get(records.CREDENTIAL_REPORT, account)
    generated = common.dt(existing.value["GeneratedTime"]) if existing is not None else None
    if generated is not None and clock.now() - generated < EXPIRES_AFTER:
        return {"State": "COMPLETE"}
    store.put(records.CREDENTIAL_REPORT, account,
              {"GeneratedTime": common.now_text(), "Content": render(store, account)})
    # Reports are built at once here; the first answer still says STARTED, as IAM's does.
    return {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}


def get_credential_report(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rec = call.store.get(records.CREDENTIAL_REPORT, common.account_of(call))
    if rec is None:
        raise AwsError("ReportNotPresent", "Credential report not present. Use GenerateCredentialReport "
                       "to generate a report.", 410)
    generated = common.dt(rec.value["GeneratedTime"])
    assert generated is not None
    if clock.now() - generated >= EXPIRES_AFTER:
        raise AwsError("ReportExpired", "The credential report has expired. To generate a new credential "
                       "report, use GenerateCredentialReport.", 410)
    return {"Content": rec.value["Content"].encode(), "ReportFormat": "text/csv", "GeneratedTime": generated}


HANDLERS = {
    "GenerateCredentialReport": generate_credential_report,
    "GetCredentialReport": get_credential_report,
}
