"""Lifecycle rules, pure: S3's checks of a configuration (code and message of the first
fault), filter matching, and when each action falls due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from skyhold.errors import AwsError
from skyhold.services.s3 import lifecycle_rules as lr
from skyhold.services.s3.lifecycle_rules import Target

UTC = timezone.utc


def _rule(**kw: Any) -> dict[str, Any]:
    return {"ID": kw.pop("ID", "r"), "Status": kw.pop("Status", "Enabled"), "Filter": kw.pop("Filter", {}), **kw}


def _fails(rules: list[dict[str, Any]], minimum: str | None = None) -> tuple[str, str]:
    with pytest.raises(AwsError) as info:
        lr.check(rules, minimum)
    assert info.value.status == 400
    return info.value.code, info.value.message


# --- when -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("created", "days", "due"), [
    (datetime(2014, 1, 15, 10, 30, tzinfo=UTC), 3, datetime(2014, 1, 19, tzinfo=UTC)),  # AWS's own example
    (datetime(2014, 1, 2, 0, 5, tzinfo=UTC), 1, datetime(2014, 1, 4, tzinfo=UTC)),
    (datetime(2014, 1, 2, 23, 59, 59, 999000, tzinfo=UTC), 1, datetime(2014, 1, 4, tzinfo=UTC)),
    (datetime(2014, 1, 2, tzinfo=UTC), 1, datetime(2014, 1, 3, tzinfo=UTC)),  # a midnight stays put
    (datetime(2014, 12, 31, 12, tzinfo=UTC), 0, datetime(2015, 1, 1, tzinfo=UTC)),
])
def test_days_round_up_to_the_next_midnight_utc(created: datetime, days: int, due: datetime) -> None:
    assert lr.after(created, days) == due


CREATED = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_expiry_takes_the_earliest_matching_enabled_rule() -> None:
    rules = lr.check([
        _rule(ID="long", Expiration={"Days": 30}),
        _rule(ID="logs", Filter={"Prefix": "logs/"}, Expiration={"Days": 7}),
        _rule(ID="off", Status="Disabled", Expiration={"Days": 1}),
        _rule(ID="dated", Filter={"Prefix": "tmp/"}, Expiration={"Date": datetime(2026, 3, 12, tzinfo=UTC)}),
    ], None).rules
    assert lr.expiry(rules, Target("logs/a", 5), CREATED) == lr.Due(datetime(2026, 3, 18, tzinfo=UTC), "logs")
    assert lr.expiry(rules, Target("other", 5), CREATED) == lr.Due(datetime(2026, 4, 10, tzinfo=UTC), "long")
    assert lr.expiry(rules, Target("tmp/x", 5), CREATED) == lr.Due(datetime(2026, 3, 12, tzinfo=UTC), "dated")
    assert lr.expiry([r for r in rules if r["ID"] == "off"], Target("x"), CREATED) is None


@pytest.mark.parametrize(("flt", "target", "applies"), [
    ({}, Target("anything", 0), True),
    ({"Prefix": "a/"}, Target("a/b", 1), True),
    ({"Prefix": "a/"}, Target("b/a/", 1), False),
    ({"Tag": {"Key": "k", "Value": "v"}}, Target("x", 1, {"k": "v", "other": "1"}), True),
    ({"Tag": {"Key": "k", "Value": "v"}}, Target("x", 1, {"k": "w"}), False),
    ({"ObjectSizeGreaterThan": 100}, Target("x", 100), False),  # bounds are exclusive
    ({"ObjectSizeGreaterThan": 100}, Target("x", 101), True),
    ({"ObjectSizeLessThan": 100}, Target("x", 100), False),
    ({"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}, {"Key": "j", "Value": "w"}]}},
     Target("a/x", 1, {"k": "v", "j": "w"}), True),
    ({"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}, {"Key": "j", "Value": "w"}]}},
     Target("a/x", 1, {"k": "v"}), False),
    ({"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 20}}, Target("x", 15), True),
    ({"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 20}}, Target("x", 25), False),
])
def test_filters(flt: dict[str, Any], target: Target, applies: bool) -> None:
    rules = lr.check([_rule(Filter=flt, Expiration={"Days": 1})], None).rules
    assert (lr.expiry(rules, target, CREATED) is not None) is applies


def test_rule_level_prefix_of_lifecycle_v1() -> None:
    rules = lr.check([{"ID": "v1", "Status": "Enabled", "Prefix": "old/", "Expiration": {"Days": 1}}], None).rules
    assert lr.expiry(rules, Target("old/x"), CREATED) is not None
    assert lr.expiry(rules, Target("new/x"), CREATED) is None


def test_noncurrent_expiry_keeps_the_newest_noncurrent_versions() -> None:
    rules = lr.check([_rule(NoncurrentVersionExpiration={"NoncurrentDays": 2, "NewerNoncurrentVersions": 2})],
                     None).rules
    since = datetime(2026, 3, 10, 8, tzinfo=UTC)
    assert lr.noncurrent_expiry(rules, Target("k"), since, newer=1) is None
    assert lr.noncurrent_expiry(rules, Target("k"), since, newer=2) == lr.Due(datetime(2026, 3, 13, tzinfo=UTC), "r")


def test_delete_markers_left_alone() -> None:
    marker = lr.check([_rule(ID="m", Expiration={"ExpiredObjectDeleteMarker": True})], None).rules
    created = datetime(2026, 3, 10, 8, tzinfo=UTC)
    assert lr.marker_expiry(marker, "k", created) == lr.Due(datetime(2026, 3, 11, tzinfo=UTC), "m")
    days = lr.check([_rule(ID="d", Expiration={"Days": 5})], None).rules  # Days clean markers up too
    assert lr.marker_expiry(days, "k", created) == lr.Due(datetime(2026, 3, 16, tzinfo=UTC), "d")
    off = lr.check([_rule(Expiration={"ExpiredObjectDeleteMarker": False})], None).rules
    assert lr.marker_expiry(off, "k", created) is None
    assert lr.expiry(marker, Target("k", 1), created) is None  # it expires no object


def test_abort_incomplete_uploads() -> None:
    rules = lr.check([_rule(ID="mpu", Filter={"Prefix": "up/"}, AbortIncompleteMultipartUpload={
        "DaysAfterInitiation": 7})], None).rules
    assert lr.abort_due(rules, "up/x", CREATED) == lr.Due(datetime(2026, 3, 18, tzinfo=UTC), "mpu")
    assert lr.abort_due(rules, "down/x", CREATED) is None


def test_transitions_take_the_coldest_due_class_and_only_go_colder() -> None:
    rules = lr.check([_rule(ID="t", Transitions=[{"Days": 30, "StorageClass": "STANDARD_IA"},
                                                 {"Days": 90, "StorageClass": "GLACIER"}])], None).rules
    big = Target("k", 1 << 20)
    at = lr.after(CREATED, 30)
    assert lr.transition(rules, big, CREATED, at, "STANDARD", None) == lr.Due(at, "t", "STANDARD_IA")
    assert lr.transition(rules, big, CREATED, at - timedelta(seconds=1), "STANDARD", None) is None
    late = lr.after(CREATED, 200)
    assert lr.transition(rules, big, CREATED, late, "STANDARD", None).storage_class == "GLACIER"
    assert lr.transition(rules, big, CREATED, late, "GLACIER", None) is None
    assert lr.transition(rules, big, CREATED, late, "DEEP_ARCHIVE", None) is None  # never back up


def test_small_objects_stay_unless_allowed() -> None:
    glacier = lr.check([_rule(Transitions=[{"Days": 0, "StorageClass": "GLACIER"}])], None).rules
    ia = lr.check([_rule(Transitions=[{"Days": 30, "StorageClass": "STANDARD_IA"}])], None).rules
    late = lr.after(CREATED, 100)
    small = Target("k", lr.SMALL_OBJECT - 1)
    assert lr.transition(glacier, small, CREATED, late, "STANDARD", lr.ALL_CLASSES_128K) is None
    assert lr.transition(glacier, small, CREATED, late, "STANDARD", lr.VARIES_BY_CLASS) is not None
    assert lr.transition(ia, small, CREATED, late, "STANDARD", lr.VARIES_BY_CLASS) is None
    assert lr.transition(ia, Target("k", lr.SMALL_OBJECT), CREATED, late, "STANDARD", None) is not None
    sized = lr.check([_rule(Filter={"ObjectSizeGreaterThan": 10},
                            Transitions=[{"Days": 30, "StorageClass": "STANDARD_IA"}])], None).rules
    assert lr.transition(sized, small, CREATED, late, "STANDARD", None) is not None  # its own size filter rules


def test_noncurrent_transitions() -> None:
    rules = lr.check([_rule(NoncurrentVersionTransitions=[
        {"NoncurrentDays": 10, "StorageClass": "GLACIER", "NewerNoncurrentVersions": 1}])], None).rules
    big = Target("k", 1 << 20)
    late = lr.after(CREATED, 11)
    assert lr.transition(rules, big, CREATED, late, "STANDARD", None, newer=0) is None
    assert lr.transition(rules, big, CREATED, late, "STANDARD", None, newer=1).storage_class == "GLACIER"
    assert lr.transition(rules, big, CREATED, late, "STANDARD", None) is None  # not for current versions


def test_expiration_header() -> None:
    bucket = {"Lifecycle": lr.check([_rule(ID="picture-deletion-rule", Expiration={"Days": 3})], None).rules}
    value = {"key": "k", "size": 1, "mtime": "2012-12-19T10:30:00.000Z"}
    assert lr.expiration_of(bucket, value) == \
        'expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"'
    assert lr.expiration_of({}, value) is None
    assert lr.expiration_of(bucket, {**value, "dm": True}) is None


# --- checks -----------------------------------------------------------------------------------

def test_a_valid_configuration_is_kept_with_ids_and_dates_as_text() -> None:
    checked = lr.check([_rule(ID="", Expiration={"Days": 1}),
                        _rule(ID="dated", Filter={"Prefix": "d/"},
                              Expiration={"Date": datetime(2030, 1, 1, tzinfo=UTC)})], None)
    first, second = checked.rules
    assert len(first["ID"]) == 48 and first["Expiration"] == {"Days": 1}  # S3 names unnamed rules
    assert second["Expiration"] == {"Date": "2030-01-01T00:00:00Z"}
    assert checked.minimum == lr.ALL_CLASSES_128K


@pytest.mark.parametrize(("rules", "code", "message"), [
    ([_rule(Expiration={"Days": 0})], "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
    ([_rule(Transitions=[{"Days": 10, "StorageClass": "STANDARD_IA"}])], "InvalidArgument",
     "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"),
    ([_rule(Transitions=[{"Days": 29, "StorageClass": "ONEZONE_IA"}])], "InvalidArgument",
     "'Days' in Transition action must be greater than or equal to 30 for storageClass 'ONEZONE_IA'"),
    ([_rule(NoncurrentVersionTransitions=[{"NoncurrentDays": 5, "StorageClass": "STANDARD_IA"}])],
     "InvalidArgument", "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal "
                        "to 30 for storageClass 'STANDARD_IA'"),
    ([_rule(ID="a", Expiration={"Days": 1}), _rule(ID="a", Expiration={"Days": 2})], "InvalidArgument",
     "Rule ID must be unique. Found same ID for more than one rule"),
    ([_rule(ID="x" * 256, Expiration={"Days": 1})], "InvalidArgument",
     "ID length should not exceed allowed limit of 255"),
    ([_rule(ID=str(i), Expiration={"Days": 1}) for i in range(1001)], "InvalidRequest",
     "The number of lifecycle rules must not exceed the allowed limit of 1000 rules."),
    ([_rule()], "InvalidRequest", "At least one action needs to be specified in a rule"),
    ([_rule(Expiration={"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)})], "InvalidArgument",
     "'Date' must be at midnight GMT"),
    ([_rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})], "InvalidArgument",
     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
    ([_rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})], "InvalidArgument",
     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
    ([_rule(Filter={"Tag": {"Key": "k", "Value": "v"}}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})],
     "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags."),
    ([_rule(Filter={"ObjectSizeLessThan": 5}, Expiration={"ExpiredObjectDeleteMarker": False})],
     "InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with Object Size."),
    ([_rule(Filter={"ObjectSizeLessThan": 0}, Expiration={"Days": 1})], "InvalidRequest",
     "'ObjectSizeLessThan' should be between 1 and 1099511627776000."),
    ([_rule(Filter={"And": {"ObjectSizeGreaterThan": 5, "ObjectSizeLessThan": 5}}, Expiration={"Days": 1})],
     "InvalidRequest", "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."),
    ([_rule(Filter={"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}},
            Expiration={"Days": 1})], "InvalidRequest", "Duplicate Tag Keys are not allowed."),
    ([_rule(Filter={"Prefix": "logs/"}, Expiration={"Days": 30},
            Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])], "InvalidArgument",
     "'Days' in the Expiration action for filter '(prefix=logs/)' must be greater than 'Days' in the Transition "
     "action"),
    ([_rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}, {"Days": 60, "StorageClass": "GLACIER"}])],
     "InvalidRequest", "'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter "
                       "'(prefix=)'"),
    ([_rule(Expiration={"Date": datetime(2031, 1, 1, tzinfo=UTC)},
            Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])], "InvalidRequest",
     "Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule for filter "
     "'(prefix=)'"),
    ([_rule(NoncurrentVersionExpiration={"NoncurrentDays": 30},
            NoncurrentVersionTransitions=[{"NoncurrentDays": 30, "StorageClass": "GLACIER"}])], "InvalidArgument",
     "'NoncurrentDays' in the NoncurrentVersionExpiration action for filter '(prefix=)' must be greater than "
     "'NoncurrentDays' in the NoncurrentVersionTransition action"),
    ([_rule(Expiration={"Days": 1}), {"ID": "v1", "Status": "Enabled", "Prefix": "a", "Expiration": {"Days": 1}}],
     "InvalidRequest",
     "Base level prefix cannot be used in Lifecycle V2, prefixes are only supported in the Filter."),
    ([{"ID": "v1", "Status": "Enabled", "Prefix": "a", "Expiration": {"Days": 1}}, _rule(Expiration={"Days": 1})],
     "InvalidRequest", "Filter element can only be used in Lifecycle V2."),
    ([{"ID": "a", "Status": "Enabled", "Prefix": "", "Expiration": {"Days": 1}},
      {"ID": "b", "Status": "Enabled", "Prefix": "a", "Expiration": {"Days": 2}}], "InvalidRequest",
     "Found overlapping prefixes '' and 'a' for same action type 'Expiration'"),
    ([{"ID": "v1", "Status": "Enabled", "Prefix": "", "NoncurrentVersionExpiration": {
        "NoncurrentDays": 1, "NewerNoncurrentVersions": 2}}], "InvalidRequest",
     "NewerNoncurrentVersions element can only be used in Lifecycle V2."),
])
def test_faults_and_their_messages(rules: list[dict[str, Any]], code: str, message: str) -> None:
    assert _fails(rules) == (code, message)


@pytest.mark.parametrize("rule", [
    _rule(Status="enabled", Expiration={"Days": 1}),  # Enabled or Disabled, spelled so
    {"ID": "none", "Status": "Enabled", "Expiration": {"Days": 1}},  # neither Filter nor Prefix
    _rule(Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}, Expiration={"Days": 1}),  # two need an And
    _rule(Filter={"And": {"Prefix": "a"}}, Expiration={"Days": 1}),  # an And of one
    _rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True}),
    _rule(Expiration={}),
    _rule(Transitions=[{"Days": 30, "StorageClass": "STANDARD"}]),
    _rule(Transitions=[{"StorageClass": "GLACIER"}]),
    _rule(NoncurrentVersionExpiration={"NewerNoncurrentVersions": 3}),
    _rule(AbortIncompleteMultipartUpload={}),
])
def test_malformed(rule: dict[str, Any]) -> None:
    assert _fails([rule])[0] == "MalformedXML"


def test_minimum_object_size_setting() -> None:
    assert lr.check([_rule(Expiration={"Days": 1})], lr.VARIES_BY_CLASS).minimum == lr.VARIES_BY_CLASS
    assert _fails([_rule(Expiration={"Days": 1})], "tiny") == \
        ("InvalidRequest", "Invalid TransitionDefaultMinimumObjectSize found: tiny")


def test_zero_day_transitions_are_fine_and_ordered_classes_too() -> None:
    lr.check([_rule(Transitions=[{"Days": 0, "StorageClass": "GLACIER_IR"}])], None)
    lr.check([_rule(Transitions=[{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 60, "StorageClass": "GLACIER"}],
                    Expiration={"Days": 365})], None)
    code, message = _fails([_rule(Transitions=[{"Days": 60, "StorageClass": "STANDARD_IA"},
                                               {"Days": 60, "StorageClass": "GLACIER"}])])
    assert code == "InvalidArgument" and "'GLACIER'" in message and "'STANDARD_IA'" in message
