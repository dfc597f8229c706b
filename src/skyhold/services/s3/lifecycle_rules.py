"""S3 Lifecycle rules, pure: PutBucketLifecycleConfiguration's checks (AWS's error for
the first fault), which object versions a rule applies to, and when each action falls
due. lifecycle.py applies them to the store.

Every due date is a midnight UTC: S3 adds a rule's days to an object's creation time
(for a noncurrent version, its successor's creation time) and rounds up to the next
midnight, and a `Date` must itself be a midnight. So actions only ever fall due when
Skyhold's clock passes a midnight.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, NamedTuple

from skyhold import clock
from skyhold.services.s3 import errors, records

MAX_RULES = 1000
MAX_ID_LENGTH = 255
MAX_FILTER_SIZE = 1_099_511_627_776_000
# Where a transition may take an object, warmest first: S3 only moves objects down.
TRANSITION_CLASSES = ("STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
_RANK = {name: rank for rank, name in enumerate(TRANSITION_CLASSES, start=1)}  # STANDARD & co: 0
# Archived classes: GetObject refuses their objects (until a restore).
ARCHIVED = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_THIRTY_DAY_CLASSES = ("STANDARD_IA", "ONEZONE_IA")
# TransitionDefaultMinimumObjectSize: objects under 128 KB stay where they are, unless
# the setting lets them go to the Glacier classes, or the rule names its own size range.
ALL_CLASSES_128K = "all_storage_classes_128K"
VARIES_BY_CLASS = "varies_by_storage_class"
SMALL_OBJECT = 128 * 1024
_SMALL_MAY_GO_TO = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
            "AbortIncompleteMultipartUpload")
_PREDICATES = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And")


# --- which objects a rule applies to -------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """A rule's filter (or its deprecated rule-level Prefix)."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    greater: int | None = None  # ObjectSizeGreaterThan: sizes above it
    less: int | None = None  # ObjectSizeLessThan: sizes below it

    def matches(self, target: Target) -> bool:
        return (target.key.startswith(self.prefix)
                and all(target.tags.get(k) == v for k, v in self.tags)
                and (self.greater is None or target.size > self.greater)
                and (self.less is None or target.size < self.less))

    @property
    def sized(self) -> bool:
        return self.greater is not None or self.less is not None

    def describe(self) -> str:
        """The filter as S3's error messages name it, e.g. `(prefix=logs/)`."""
        parts = [f"prefix={self.prefix}"] if self.prefix or not (self.tags or self.sized) else []
        parts += [f"tag={{key={k}, value={v}}}" for k, v in self.tags]
        if self.greater is not None:
            parts.append(f"objectsizegreaterthan={self.greater}")
        if self.less is not None:
            parts.append(f"objectsizelessthan={self.less}")
        return f"({' and '.join(parts)})"


class Target(NamedTuple):
    """What a filter reads of an object version (a delete marker: size 0, no tags)."""

    key: str
    size: int = 0
    tags: dict[str, str] = {}


def scope_of(rule: dict[str, Any]) -> Scope:
    if "Filter" not in rule:
        return Scope(prefix=rule.get("Prefix") or "")
    flt = rule["Filter"] or {}
    node = flt.get("And") or flt
    tags = node.get("Tags") or ([flt["Tag"]] if "Tag" in flt else [])
    return Scope(prefix=node.get("Prefix") or "", tags=tuple((t["Key"], t.get("Value") or "") for t in tags),
                 greater=node.get("ObjectSizeGreaterThan"), less=node.get("ObjectSizeLessThan"))


def _applying(rules: Iterable[dict[str, Any]], target: Target) -> Iterator[dict[str, Any]]:
    return (r for r in rules if r.get("Status") == "Enabled" and scope_of(r).matches(target))


# --- when actions fall due ---------------------------------------------------------------

class Due(NamedTuple):
    at: datetime
    rule: str  # the rule's ID
    storage_class: str | None = None  # for transitions


def after(start: datetime, days: int) -> datetime | None:
    """`days` after `start`, rounded up to a midnight UTC (a midnight stays put): an
    object created 1/15 10:30 with 3 days is due 1/19 00:00. None past Skyhold's clock
    limit: S3 accepts any number of days, and a date the clock never reaches is never."""
    start = start.astimezone(timezone.utc)
    if days >= (clock.LATEST - start).days:
        return None
    moment = start + timedelta(days=days)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)


def parse_date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _due(at: datetime | None, rule: dict[str, Any]) -> Iterator[Due]:
    """The rule's Due at `at`, if it ever falls due."""
    if at is not None:
        yield Due(at, rule.get("ID", ""))


def _earliest(candidates: Iterable[Due]) -> Due | None:
    best: Due | None = None
    for due in candidates:
        if best is None or due.at < best.at:
            best = due  # on a tie the rule listed first: "the shorter expiration is honored"
    return best


def expiry(rules: list[dict[str, Any]], target: Target, created: datetime) -> Due | None:
    """When the current version expires (Expiration Days or Date)."""
    def candidates() -> Iterator[Due]:
        for rule in _applying(rules, target):
            exp = rule.get("Expiration") or {}
            if "Days" in exp:
                yield from _due(after(created, exp["Days"]), rule)
            elif "Date" in exp:
                yield Due(parse_date(exp["Date"]), rule.get("ID", ""))
    return _earliest(candidates())


def noncurrent_expiry(rules: list[dict[str, Any]], target: Target, since: datetime, newer: int) -> Due | None:
    """When a noncurrent version goes for good. `since`: when it became noncurrent (its
    successor's creation); `newer`: how many noncurrent versions of the key are newer.
    NewerNoncurrentVersions N keeps the N newest whatever their age."""
    def candidates() -> Iterator[Due]:
        for rule in _applying(rules, target):
            nve = rule.get("NoncurrentVersionExpiration")
            if nve and newer >= nve.get("NewerNoncurrentVersions", 0):
                yield from _due(after(since, nve["NoncurrentDays"]), rule)
    return _earliest(candidates())


def marker_expiry(rules: list[dict[str, Any]], key: str, created: datetime) -> Due | None:
    """When a delete marker left with no versions beneath it is removed: at the next
    midnight under ExpiredObjectDeleteMarker, and once it is old enough under an
    Expiration of Days (S3 cleans expired markers up then too)."""
    def candidates() -> Iterator[Due]:
        for rule in _applying(rules, Target(key)):
            exp = rule.get("Expiration") or {}
            if exp.get("ExpiredObjectDeleteMarker"):
                yield from _due(after(created, 0), rule)
            elif "Days" in exp:
                yield from _due(after(created, exp["Days"]), rule)
    return _earliest(candidates())


def abort_due(rules: list[dict[str, Any]], key: str, initiated: datetime) -> Due | None:
    """When an incomplete multipart upload of `key` is aborted (rules with such an
    action filter by prefix only)."""
    def candidates() -> Iterator[Due]:
        for rule in _applying(rules, Target(key)):
            if rule.get("AbortIncompleteMultipartUpload"):
                days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
                yield from _due(after(initiated, days), rule)
    return _earliest(candidates())


def transition(rules: list[dict[str, Any]], target: Target, since: datetime, now: datetime, current: str,
               minimum: str | None, *, newer: int | None = None) -> Due | None:
    """The coldest storage class a due transition takes the version to, if colder than
    `current`. `newer` None: the current version's Transitions (counted from its
    creation); otherwise a noncurrent version's NoncurrentVersionTransitions."""
    found: Due | None = None
    for rule in _applying(rules, target):
        sized = scope_of(rule).sized
        member = "Transitions" if newer is None else "NoncurrentVersionTransitions"
        for step in rule.get(member) or []:
            if newer is not None:
                if newer < step.get("NewerNoncurrentVersions", 0):
                    continue
                at = after(since, step["NoncurrentDays"])
            else:
                at = after(since, step["Days"]) if "Days" in step else parse_date(step["Date"])
            cls = step["StorageClass"]
            if at is None or at > now or _RANK.get(cls, 0) <= _RANK.get(current, 0) or \
                    not _size_allows(target.size, cls, sized, minimum):
                continue
            if found is None or _RANK[cls] > _RANK[found.storage_class or ""]:
                found = Due(at, rule.get("ID", ""), cls)
    return found


def _size_allows(size: int, cls: str, sized: bool, minimum: str | None) -> bool:
    if sized or size >= SMALL_OBJECT:
        return True  # a rule's own size filter takes precedence over the default
    return minimum == VARIES_BY_CLASS and cls in _SMALL_MAY_GO_TO


def expiration_of(bucket: dict[str, Any], value: dict[str, Any]) -> str | None:
    """x-amz-expiration for an object's current version, e.g. `expiry-date="Fri, 23 Dec
    2012 00:00:00 GMT", rule-id="picture-deletion-rule"` (None when no rule expires it)."""
    rules = bucket.get("Lifecycle")
    if not rules or value.get("dm"):
        return None
    due = expiry(rules, Target(value["key"], value["size"], value.get("tags") or {}),
                 records.parse_time(value["mtime"]))
    if due is None:
        return None
    return f'expiry-date="{format_datetime(due.at, usegmt=True)}", rule-id="{due.rule}"'


def is_archived(value: dict[str, Any]) -> bool:
    return value.get("sc") in ARCHIVED


# --- PutBucketLifecycleConfiguration's checks ---------------------------------------------

@dataclass
class Checked:
    rules: list[dict[str, Any]] = field(default_factory=list)
    minimum: str = ALL_CLASSES_128K


def check(rules: list[dict[str, Any]], minimum: str | None) -> Checked:
    """The rules as S3 keeps them (every rule with an ID, dates as text), or S3's error
    for the first fault: the rules' number and IDs, then each rule in order, then
    overlapping prefixes of a configuration before Lifecycle V2."""
    minimum = minimum or ALL_CLASSES_128K
    if minimum not in (ALL_CLASSES_128K, VARIES_BY_CLASS):
        raise errors.invalid_request(f"Invalid TransitionDefaultMinimumObjectSize found: {minimum}")
    if not rules:
        raise errors.malformed_xml()
    if len(rules) > MAX_RULES:
        raise errors.invalid_request("The number of lifecycle rules must not exceed the allowed limit of 1000 rules.")
    seen: set[str] = set()
    for rule in rules:
        rule_id = rule.get("ID") or ""
        if len(rule_id) > MAX_ID_LENGTH:
            raise errors.invalid_argument("ID length should not exceed allowed limit of 255")
        if rule_id in seen:
            raise errors.invalid_argument("Rule ID must be unique. Found same ID for more than one rule")
        if rule_id:
            seen.add(rule_id)
    v2 = "Filter" in rules[0]  # S3 reads the configuration's version off its first rule
    checked = [_check_rule(rule, v2) for rule in rules]
    if not v2:
        _check_overlaps(checked)
    return Checked(checked, minimum)


def _new_id() -> str:
    # S3 names an unnamed rule with 48 characters of base64 of a UUID's text.
    return base64.b64encode(str(uuid.uuid4()).encode()).decode()


def _check_rule(rule: dict[str, Any], v2: bool) -> dict[str, Any]:
    if rule.get("Status") not in ("Enabled", "Disabled"):
        raise errors.malformed_xml()
    if "Filter" not in rule and "Prefix" not in rule:
        raise errors.malformed_xml()
    if v2 and "Prefix" in rule:
        raise errors.invalid_request("Base level prefix cannot be used in Lifecycle V2, prefixes are only "
                                     "supported in the Filter.")
    if not v2 and "Filter" in rule:
        raise errors.invalid_request("Filter element can only be used in Lifecycle V2.")
    if "Filter" in rule:
        _check_filter(rule["Filter"] or {})
    scope = scope_of(rule)
    if not any(rule.get(action) is not None and rule.get(action) != [] for action in _ACTIONS):
        raise errors.invalid_request("At least one action needs to be specified in a rule")
    out = dict(rule, ID=rule.get("ID") or _new_id())
    if "Expiration" in rule:
        out["Expiration"] = _check_expiration(rule["Expiration"] or {})
    if "NoncurrentVersionExpiration" in rule:
        _check_noncurrent_expiration(rule["NoncurrentVersionExpiration"] or {}, v2)
    if "AbortIncompleteMultipartUpload" in rule:
        days = (rule["AbortIncompleteMultipartUpload"] or {}).get("DaysAfterInitiation")
        if days is None:
            raise errors.malformed_xml()
        if days <= 0:
            raise errors.invalid_argument("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be "
                                          "a positive integer")
    _check_filter_use(rule, scope)
    if rule.get("Transitions"):
        out["Transitions"] = _check_transitions(rule["Transitions"], out.get("Expiration") or {}, scope)
    if rule.get("NoncurrentVersionTransitions"):
        _check_noncurrent_transitions(rule, scope, v2)
    return out


def _check_filter(flt: dict[str, Any]) -> None:
    if sum(p in flt for p in _PREDICATES) > 1:
        raise errors.malformed_xml()  # two predicates need an And
    node = flt.get("And")
    if node is not None:
        count = sum(p in node for p in ("Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan"))
        if count + len(node.get("Tags") or []) < 2:
            raise errors.malformed_xml()
        tags = node.get("Tags") or []
    else:
        node = flt
        tags = [flt["Tag"]] if "Tag" in flt else []
    if any(not t.get("Key") for t in tags):
        raise errors.malformed_xml()
    if len({t["Key"] for t in tags}) != len(tags):
        raise errors.invalid_request("Duplicate Tag Keys are not allowed.")
    greater, less = node.get("ObjectSizeGreaterThan"), node.get("ObjectSizeLessThan")
    if greater is not None and not 0 <= greater <= MAX_FILTER_SIZE:
        raise errors.invalid_request(f"'ObjectSizeGreaterThan' should be between 0 and {MAX_FILTER_SIZE}.")
    if less is not None and not 1 <= less <= MAX_FILTER_SIZE:
        raise errors.invalid_request(f"'ObjectSizeLessThan' should be between 1 and {MAX_FILTER_SIZE}.")
    if greater is not None and less is not None and greater >= less:
        raise errors.invalid_request("'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.")


def _midnight(value: Any) -> str:
    """A Date as kept: it must be a midnight UTC."""
    moment = value if isinstance(value, datetime) else parse_date(str(value))
    moment = moment.astimezone(timezone.utc)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        sent = value.isoformat() if isinstance(value, datetime) else str(value)
        raise errors.invalid_argument("'Date' must be at midnight GMT", "Date", sent)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_expiration(exp: dict[str, Any]) -> dict[str, Any]:
    if sum(k in exp for k in ("Date", "Days", "ExpiredObjectDeleteMarker")) != 1:
        raise errors.malformed_xml()
    if "Days" in exp and exp["Days"] <= 0:
        raise errors.invalid_argument("'Days' for Expiration action must be a positive integer")
    if "Date" in exp:
        return {"Date": _midnight(exp["Date"])}
    return dict(exp)


def _check_newer(count: int | None, v2: bool) -> None:
    if count is None:
        return
    if not v2:
        raise errors.invalid_request("NewerNoncurrentVersions element can only be used in Lifecycle V2.")
    if count <= 0:
        raise errors.invalid_argument("'NewerNoncurrentVersions' must be a positive integer")


def _check_noncurrent_expiration(nve: dict[str, Any], v2: bool) -> None:
    days = nve.get("NoncurrentDays")
    if days is None:
        raise errors.malformed_xml()
    if days <= 0:
        raise errors.invalid_argument("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive "
                                      "integer")
    _check_newer(nve.get("NewerNoncurrentVersions"), v2)


def _check_filter_use(rule: dict[str, Any], scope: Scope) -> None:
    """Expired delete markers and multipart uploads have no tags and no size to filter by."""
    checks = (("ExpiredObjectDeleteMarker", "ExpiredObjectDeleteMarker" in (rule.get("Expiration") or {})),
              ("AbortIncompleteMultipartUpload", "AbortIncompleteMultipartUpload" in rule))
    for name, used in checks:
        if used and scope.tags:
            raise errors.invalid_request(f"{name} cannot be specified with Tags.")
        if used and scope.sized:
            raise errors.invalid_request(f"{name} cannot be specified with Object Size.")


def _check_steps(steps: list[dict[str, Any]], action: str, days_member: str, scope: Scope) -> None:
    """Each step names a class S3 transitions to, once; `STANDARD_IA` and `ONEZONE_IA`
    wait 30 days at least; a colder class comes strictly later."""
    where = scope.describe()
    for step in steps:
        days = step.get(days_member)
        if days is not None:
            if days < 0:
                raise errors.invalid_argument(f"'{days_member}' in {action} action must be nonnegative")
            if days < 30 and step["StorageClass"] in _THIRTY_DAY_CLASSES:
                raise errors.invalid_argument(f"'{days_member}' in {action} action must be greater than or equal "
                                              f"to 30 for storageClass '{step['StorageClass']}'")
    classes = [step["StorageClass"] for step in steps]
    if len(set(classes)) != len(classes):
        raise errors.invalid_request(f"'StorageClass' must be different for '{action}' actions in same 'Rule' "
                                     f"with filter '{where}'")
    member = days_member if all(days_member in s for s in steps) else "Date"
    ranked = sorted(steps, key=lambda s: _RANK[s["StorageClass"]])
    for warmer, colder in zip(ranked, ranked[1:]):
        if colder[member] <= warmer[member]:
            raise errors.invalid_argument(
                f"'{member}' in the {action} action for StorageClass '{colder['StorageClass']}' for filter "
                f"'{where}' must be greater than '{member}' in the {action} action for StorageClass "
                f"'{warmer['StorageClass']}' for filter '{where}'")


def _check_transitions(given_steps: list[dict[str, Any]], exp: dict[str, Any],
                       scope: Scope) -> list[dict[str, Any]]:
    """`exp`: the rule's Expiration, checked."""
    steps = []
    for given in given_steps:
        if given.get("StorageClass") not in _RANK or ("Days" in given) == ("Date" in given):
            raise errors.malformed_xml()
        step = dict(given)
        if "Date" in step:
            step["Date"] = _midnight(step["Date"])
        steps.append(step)
    dated = "Date" in exp or any("Date" in s for s in steps)
    counted = "Days" in exp or any("Days" in s for s in steps)
    where = scope.describe()
    if dated and counted:
        raise errors.invalid_request(f"Found mixed 'Date' and 'Days' based Expiration and Transition actions in "
                                     f"lifecycle rule for filter '{where}'")
    _check_steps(steps, "Transition", "Days", scope)
    for member in ("Days", "Date"):  # dates are kept as ISO text, which sorts as time does
        ends = exp.get(member)
        if ends is not None and any(ends <= s[member] for s in steps):
            raise errors.invalid_argument(f"'{member}' in the Expiration action for filter '{where}' must be "
                                          f"greater than '{member}' in the Transition action")
    return steps


def _check_noncurrent_transitions(rule: dict[str, Any], scope: Scope, v2: bool) -> None:
    steps = rule["NoncurrentVersionTransitions"]
    for step in steps:
        if step.get("StorageClass") not in _RANK or step.get("NoncurrentDays") is None:
            raise errors.malformed_xml()
        _check_newer(step.get("NewerNoncurrentVersions"), v2)
    _check_steps(steps, "NoncurrentVersionTransition", "NoncurrentDays", scope)
    ends = (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays")
    if ends is not None and any(ends <= s["NoncurrentDays"] for s in steps):
        raise errors.invalid_argument(
            f"'NoncurrentDays' in the NoncurrentVersionExpiration action for filter '{scope.describe()}' must be "
            "greater than 'NoncurrentDays' in the NoncurrentVersionTransition action")


_KINDS = (("Expiration", "Expiration"), ("Transition", "Transitions"),
          ("NoncurrentVersionTransition", "NoncurrentVersionTransitions"),
          ("NoncurrentVersionExpiration", "NoncurrentVersionExpiration"),
          ("AbortIncompleteMultipartUpload", "AbortIncompleteMultipartUpload"))


def _check_overlaps(rules: list[dict[str, Any]]) -> None:
    """Before Lifecycle V2, rules whose prefixes overlap may not take the same action."""
    for kind, member in _KINDS:
        prefixes = sorted(r.get("Prefix") or "" for r in rules if r.get(member))
        for shorter, longer in zip(prefixes, prefixes[1:]):
            if longer.startswith(shorter):
                raise errors.invalid_request(f"Found overlapping prefixes '{shorter}' and '{longer}' for same "
                                             f"action type '{kind}'")
