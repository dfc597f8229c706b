"""LookupEvents by a lookup attribute reads about a page of events per page, through
an index, not every event of the time range filtered in Python (200,000 events: ~2 s
a page). Work is counted, never timed: the rows LookupEvents takes from the index,
SQLite's query plans, and SQLite's own steps (a progress handler). Events are made by
the trail's own code (events.journal_lines) and journaled, as the writer does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from skyhold.services.cloudtrail import lookup
from skyhold.store import jsontext
from skyhold.trail import events, index, journal
from tests.unit.kms.harness import Harness

REGION = "us-east-1"
# (service, operation): management and read/write mixes; s3 GetObject is a data event
OPERATIONS = [("iam", "CreateUser"), ("iam", "ListUsers"), ("kms", "Encrypt"), ("sts", "GetCallerIdentity"),
              ("s3", "GetObject"), ("ssm", "PutParameter"), ("secretsmanager", "GetSecretValue")]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "data")
    yield harness
    harness.close()


def record(h: Harness, first: int, n: int, *, account: str | None = None, region: str = REGION) -> None:
    """Journal n calls' events (numbers first..first+n-1, one a millisecond, ending now),
    as the writer does; the next LookupEvents indexes them."""
    account = account or h.account
    now = time.time_ns()
    lines = []
    for i in range(first, first + n):
        service, operation = OPERATIONS[i % len(OPERATIONS)]
        user = f"user{i % 40}"
        identity = {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": f"arn:aws:iam::{account}:user/{user}",
                    "accountId": account, "accessKeyId": f"AKIAEXAMPLE{i % 40:09d}", "userName": user}
        resources = [{"accountId": account, "type": "AWS::IAM::User", "ARN": f"arn:aws:iam::{account}:user/{user}"}]
        if service == "ssm":
            resources = [{"accountId": account, "type": "AWS::SSM::Parameter",
                          "ARN": f"arn:aws:ssm:{region}:{account}:parameter/app/p{i % 11}"}]
        at = now - (first + n - i) * 10**6
        when = datetime.fromtimestamp(at // 10**9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        call = [when, identity, service, operation, region, "127.0.0.1", "test", f"req-{i}", {"n": i}, None, None,
                None, [f"{account}/{at:020d}{i % 10**6:06d}"], resources, None, None, None]
        lines.append(events.journal_lines(jsontext.dumps(call)))
    out = journal.Journal(h.data_dir / journal.FOLDER)
    out.append(b"".join(lines))
    out.close()


def matches(event: dict[str, Any], key: str, value: str) -> bool:
    """AWS's meaning of each lookup attribute (LookupEvents' filter before the index)."""
    resources = event.get("resources") or []
    return {
        "EventId": lambda: event["eventID"] == value,
        "EventName": lambda: event["eventName"] == value,
        "ReadOnly": lambda: str(event["readOnly"]).lower() == value.lower(),
        "Username": lambda: index.username(event) == value,
        "EventSource": lambda: event["eventSource"] == value,
        "AccessKeyId": lambda: event["userIdentity"].get("accessKeyId") == value,
        "ResourceType": lambda: any(r["type"] == value for r in resources),
        "ResourceName": lambda: any(value in (r["ARN"], r["ARN"].rsplit("/", 1)[-1]) for r in resources),
    }[key]()


def expected(h: Harness, key: str, value: str) -> list[str]:
    """Event ids of the account's management events in REGION with the attribute, newest first."""
    rows = h.pipeline.trail_store.scan(events.EVENT, f"{h.account}/", reverse=True)
    found = [r.value["event"] for r in rows]
    return [e["eventID"] for e in found if e["managementEvent"] and e["awsRegion"] == REGION and matches(e, key, value)]


class Taken:
    """Counts the rows LookupEvents takes from the index (index.newest_first)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        newest_first = index.newest_first

        def counting(*args: Any) -> Iterator[tuple[str, str]]:
            for row in newest_first(*args):
                self.count += 1
                yield row

        monkeypatch.setattr(index, "newest_first", counting)


def every_page(h: Harness, **params: Any) -> tuple[list[str], int]:
    ids, pages = [], 0
    while True:
        out = h.run("cloudtrail", "LookupEvents", **params)
        ids += [e["EventId"] for e in out["Events"]]
        pages += 1
        if not out.get("NextToken"):
            return ids, pages
        params["NextToken"] = out["NextToken"]


ATTRIBUTES = [("EventName", "CreateUser"), ("EventSource", "kms.amazonaws.com"), ("ReadOnly", "false"),
              ("ReadOnly", "TRUE"), ("Username", "user7"), ("AccessKeyId", "AKIAEXAMPLE000000013"),
              ("ResourceType", "AWS::SSM::Parameter"), ("ResourceName", "p3"),
              ("ResourceName", "arn:aws:iam::{account}:user/user9")]


def test_each_attribute_reads_about_a_page_per_page(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    record(h, 0, 5_000)
    record(h, 5_000, 300, region="eu-west-1")  # other regions' events are not looked at
    h.run("cloudtrail", "LookupEvents", MaxResults=1)  # indexes the journal
    taken = Taken(monkeypatch)
    for key, value in ATTRIBUTES:
        value = value.format(account=h.account)
        want = expected(h, key, value)
        assert want, (key, value)
        taken.count = 0
        ids, pages = every_page(h, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
                                MaxResults=50)
        assert ids == want, (key, value)
        # every row taken is returned: a page reads its page (before: all 5,000 events each page)
        assert taken.count == len(want), (key, value, taken.count)
        assert pages == len(want) // 50 + 1


def test_an_event_id_reads_one_row(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    record(h, 0, 3_000)
    h.run("cloudtrail", "LookupEvents", MaxResults=1)
    wanted = expected(h, "EventName", "Encrypt")[123]
    taken = Taken(monkeypatch)
    out = h.run("cloudtrail", "LookupEvents", LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": wanted}])
    assert [e["EventId"] for e in out["Events"]] == [wanted] and "NextToken" not in out
    assert taken.count == 1


def test_every_lookup_reads_one_index_range(h: Harness) -> None:
    record(h, 0, 100)
    h.run("cloudtrail", "LookupEvents", MaxResults=1)
    store = h.pipeline.trail_store
    before = f"{h.account}0"
    for attribute in [None, ("EventId", "x"), *ATTRIBUTES]:
        plan = " | ".join(index.plan(store, h.account, REGION, attribute, before))
        # a search of one range (no table scan), in the index's order (no sort)
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan, (attribute, plan)
        if attribute is not None and attribute[0] in index.COLUMNS:
            column = index.COLUMNS[attribute[0]]
            assert f"INDEX lookup_events_{column} (" in plan, plan
            assert "key>? AND key<?" in plan, plan
        else:
            assert "USING PRIMARY KEY (" in plan and "key>? AND key<?" in plan, plan


def _sqlite_steps(h: Harness, **params: Any) -> int:
    """SQLite virtual-machine steps (in thousands) one LookupEvents call takes."""
    conn = h.pipeline.trail_store._conn()
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        return 0

    h.run("cloudtrail", "LookupEvents", MaxResults=1)  # index what is journaled first
    conn.set_progress_handler(step, 1000)
    try:
        h.run("cloudtrail", "LookupEvents", **params)
    finally:
        conn.set_progress_handler(None, 1000)
    return steps


def test_sqlite_work_does_not_grow_with_the_trail(h: Harness) -> None:
    rare = {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "root"}], "MaxResults": 50}
    record(h, 0, 500)
    small = _sqlite_steps(h, **rare)
    record(h, 500, 5_000)  # ten times the events, none of them root's
    assert _sqlite_steps(h, **rare) <= small + 2  # before: every event read and parsed


def test_next_token_stays_put_while_events_are_added(h: Harness) -> None:
    record(h, 0, 700)
    name = [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}]
    first = h.run("cloudtrail", "LookupEvents", LookupAttributes=name, MaxResults=40)
    want = expected(h, "EventName", "CreateUser")
    record(h, 700, 300)  # newer events, some of them CreateUser
    rest, _ = every_page(h, LookupAttributes=name, MaxResults=40, NextToken=first["NextToken"])
    assert [e["EventId"] for e in first["Events"]] + rest == want


def test_time_range_account_and_region_bound_the_lookup(h: Harness) -> None:
    record(h, 0, 400)
    record(h, 400, 50, account="210987654321")  # another account's events
    record(h, 450, 50, region="eu-west-1")
    h.run("cloudtrail", "LookupEvents", MaxResults=1)
    rows = h.pipeline.trail_store.scan(events.EVENT, f"{h.account}/")
    times = sorted({r.value["event"]["eventTime"] for r in rows if r.value["event"]["awsRegion"] == REGION})
    start = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
    name = [{"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}]
    ids, _ = every_page(h, LookupAttributes=name, StartTime=start, EndTime=start)
    want = [i for i, t in zip(expected(h, "EventSource", "iam.amazonaws.com"), _times(h, "iam.amazonaws.com"))
            if t == times[0]]
    assert ids == want and want
    assert every_page(h, LookupAttributes=name, StartTime=start - timedelta(days=2),
                      EndTime=start - timedelta(days=1))[0] == []


def _times(h: Harness, source: str) -> list[str]:
    rows = h.pipeline.trail_store.scan(events.EVENT, f"{h.account}/", reverse=True)
    return [r.value["event"]["eventTime"] for r in rows
            if r.value["event"]["managementEvent"] and r.value["event"]["awsRegion"] == REGION
            and r.value["event"]["eventSource"] == source]


def test_a_trail_database_from_before_the_index_is_indexed_once(h: Harness) -> None:
    record(h, 0, 600)
    h.run("cloudtrail", "LookupEvents", MaxResults=1)
    store = h.pipeline.trail_store
    index.forget(store)  # as an older Skyhold left it: events, no lookup index
    assert store.get(index.LOOKUP_MARK, "indexed") is None
    want = expected(h, "Username", "user3")
    ids, _ = every_page(h, LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "user3"}])
    assert ids == want and want
    writes = store.writes
    index.follow(store)  # indexed already: no transaction, no write
    assert store.writes == writes


def test_event_records_stored_directly_are_indexed(h: Harness) -> None:
    """Events that reach the records table without the journal (an older Skyhold's,
    or a test's append_json) are found too: the index follows the table."""
    record(h, 0, 50)
    h.run("cloudtrail", "LookupEvents", MaxResults=1)
    store = h.pipeline.trail_store
    rec = store.scan(events.EVENT, f"{h.account}/", reverse=True, limit=1)[0]
    event = {**rec.value["event"], "eventID": "direct", "eventName": "DirectCall"}
    store.append_json([(events.EVENT, rec.key + "x", json.dumps({"event": event, "explain": None}))])
    out = h.run("cloudtrail", "LookupEvents",
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DirectCall"}])
    assert [e["EventId"] for e in out["Events"]] == ["direct"]


def test_bad_lookup_input_is_refused_as_before(h: Harness) -> None:
    err = h.fails("InvalidLookupAttributesException", "cloudtrail", "LookupEvents",
                  LookupAttributes=[{"AttributeKey": "Color", "AttributeValue": "red"}])
    assert err.message == "Invalid lookup attribute key: Color"  # even with no event to filter
    h.fails("InvalidMaxResultsException", "cloudtrail", "LookupEvents", MaxResults=51)
    h.fails("InvalidNextTokenException", "cloudtrail", "LookupEvents", NextToken="nö")
    out = h.run("cloudtrail", "LookupEvents", LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "x"}])
    assert out["Events"] == []


def test_search_stops_at_the_page(h: Harness) -> None:
    """lookup.search takes no row past the page's last (nor past StartTime)."""
    now = datetime.now(timezone.utc)
    event = {"eventID": "e", "eventName": "N", "readOnly": True, "eventSource": "s", "resources": [],
             "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "userIdentity": {"type": "Root"}}
    text = json.dumps({"event": event})
    taken = 0

    def rows() -> Iterator[tuple[str, str]]:
        nonlocal taken
        for i in range(100):
            taken += 1
            yield f"k{100 - i:03d}", text

    found, last = lookup.search(rows(), now - timedelta(days=1), now + timedelta(days=1), 10)
    assert len(found) == 10 and last == "k091" and taken == 10
