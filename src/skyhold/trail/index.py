"""Moving journaled events into the trail database, where they can be searched.

The database remembers how far into the journal it has indexed (one record, updated
in the same transaction as the rows), so indexing resumes exactly where it stopped,
after a crash too. Replaying a line that is already indexed changes nothing, and the
write lock (BEGIN IMMEDIATE) lets the server and a `skyhold explain` process both
catch up safely.

LookupEvents' index is written in the same transaction: a row per management event
(the only ones LookupEvents returns) in `lookup_events`, its single-valued lookup
attributes as columns, each with an index ordered like the events' keys, and a row
per resource type and name in the narrow `lookup_resources`. A lookup by any one
attribute then reads its matches newest first straight off one index range, about
a page of rows per page, whatever else the account did. One row and a few index
entries per event keep indexing cheap (a row per attribute, the earlier design,
cost ~8x as much; indexing 200,000 events takes ~4 s of CPU, ~1.3 s without
LookupEvents' index). The index follows the records table by rowid (`follow`), so it
holds every event stored however it came: a database an older Skyhold wrote is indexed
once, when it is first opened here.
"""

from __future__ import annotations

import logging
import sqlite3
import weakref
from collections.abc import Generator
from functools import cache
from pathlib import Path
from typing import Any

from skyhold.store import jsontext
from skyhold.store.sqlite import SqliteStore
from skyhold.trail import journal
from skyhold.trail.events import EVENT

MARK = "cloudtrail.journal"
log = logging.getLogger("skyhold.trail")
# How far LookupEvents' index has followed the records table: {"rowid": the last
# record looked at}. Rows are only ever added to the trail database (nothing deletes
# nor vacuums it), so the records after it are the ones not indexed yet.
LOOKUP_MARK = "cloudtrail.lookup"
FOLLOW_ROWS = 20_000  # records indexed per transaction when following a backlog


# Lines indexed per transaction: a backlog is indexed in slices, so neither memory
# nor the write lock is held for all of it at once.
SLICE_BYTES = 4 << 20
# Page cache of a connection while it indexes (SQLite's default is 2 MiB): a slice
# touches the tail pages of every index's values, and with 2 MiB they kept being
# evicted and read again (200,000 events: ~30 -> ~19 us of CPU per event).
CACHE_KIB = 16 * 1024

# WITHOUT ROWID: a row lives in its primary key's b-tree, and an index entry holds the
# indexed column, then (region, key): ordered by key within an attribute's value, so a
# lookup reads one range backwards. `key` is the event record's key, "<account>/<id>".
_SCHEMA = """
CREATE TABLE lookup_events (
    region     TEXT NOT NULL,
    key        BLOB NOT NULL,
    event_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL,
    username   TEXT,
    access_key TEXT,
    read_only  INTEGER NOT NULL,
    PRIMARY KEY (region, key)
) WITHOUT ROWID;
CREATE INDEX lookup_events_event_id ON lookup_events(event_id);
CREATE INDEX lookup_events_name ON lookup_events(region, name, key);
CREATE INDEX lookup_events_source ON lookup_events(region, source, key);
CREATE INDEX lookup_events_username ON lookup_events(region, username, key);
CREATE INDEX lookup_events_access_key ON lookup_events(region, access_key, key);
CREATE INDEX lookup_events_read_only ON lookup_events(region, read_only, key);
CREATE TABLE lookup_resources (
    attribute TEXT NOT NULL,
    value     TEXT NOT NULL,
    region    TEXT NOT NULL,
    key       BLOB NOT NULL,
    PRIMARY KEY (attribute, value, region, key)
) WITHOUT ROWID;
"""
_EVENT_COLUMNS = 8
_CHUNK = 500  # rows per INSERT, well inside SQLite's host-parameter limit
# The column (or lookup_resources' attribute) of each lookup attribute.
COLUMNS = {"EventId": "event_id", "EventName": "name", "EventSource": "source", "Username": "username",
           "AccessKeyId": "access_key", "ReadOnly": "read_only"}
RESOURCE_ATTRIBUTES = ("ResourceType", "ResourceName")

_ready: weakref.WeakSet[SqliteStore] = weakref.WeakSet()  # stores whose lookup tables exist


def catch_up(store: SqliteStore, folder: Path, *, tidy: bool = False) -> None:
    """Index every complete journal line not indexed yet; `tidy`: also delete the
    segments that are wholly indexed (the server does; readers leave them)."""
    follow(store)  # events stored otherwise: by an older Skyhold, before the lookup index
    if not folder.is_dir():
        return
    store.connection().execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    while True:
        with store.transaction():
            mark = store.get(MARK, "indexed")
            start = (mark.value["segment"], mark.value["offset"]) if mark else (0, 0)
            lines, end = journal.read_since(folder, start, max_bytes=SLICE_BYTES)
            if lines:
                _follow_some(store)  # in step with the records before these
                store.append_json(lines)
                # The new records are these lines' (this transaction holds the write
                # lock): indexed from the lines at hand rather than read back.
                conn = store.connection()
                _index_lookup(conn, [(key.encode(), text) for kind, key, text in lines if kind == EVENT])
                store.put(LOOKUP_MARK, "indexed", {"rowid": _newest(conn)})
            if end != start:
                store.put(MARK, "indexed", {"segment": end[0], "offset": end[1]})
        if end == start or not lines:
            break
    if tidy:
        journal.remove_before(folder, end[0])


def follow(store: SqliteStore) -> None:
    """Bring LookupEvents' index up to every event record stored (creating its tables
    first if the database predates them), a slice per transaction."""
    conn = store.connection()
    if store not in _ready:
        if not _has_lookup(conn):
            with store.transaction():
                if not _has_lookup(conn):  # another process may have made them meanwhile
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
        _ready.add(store)
    if _newest(conn) <= _followed(store):  # the common case: nothing to do, and no write lock taken
        return
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    while True:
        with store.transaction():
            more = _follow_some(store, FOLLOW_ROWS)
        if not more:
            return


def forget(store: SqliteStore) -> None:
    """As if the database predated LookupEvents' index (a test making it look older)."""
    with store.transaction():
        conn = store.connection()
        conn.execute("DROP TABLE IF EXISTS lookup_events")
        conn.execute("DROP TABLE IF EXISTS lookup_resources")
        store.delete(LOOKUP_MARK, "indexed")
    _ready.discard(store)


def newest_first(store: SqliteStore, account: str, region: str, attribute: tuple[str, str] | None,
                 before: str) -> Generator[tuple[str, str], None, None]:
    """(key, event record JSON) of the account's management events in `region` with
    the lookup attribute (key, value), if any, and keys before `before`, newest first.
    Rows are read as they are taken: a caller that stops reads no further."""
    follow(store)
    sql, args = _query(account, region, attribute, before)
    if sql is None:
        return
    cursor = store.connection().execute(sql, args)
    try:
        for key, text in cursor:  # a row at a time: SQLite steps no further than taken
            yield key.decode(), text
    finally:
        cursor.close()


def plan(store: SqliteStore, account: str, region: str, attribute: tuple[str, str] | None,
         before: str) -> list[str]:
    """SQLite's query plan for `newest_first` (how it reads: tests check it uses an index)."""
    follow(store)
    sql, args = _query(account, region, attribute, before)
    assert sql is not None
    return [row[3] for row in store.connection().execute("EXPLAIN QUERY PLAN " + sql, args)]


def username(event: dict[str, Any]) -> str | None:
    """LookupEvents' Username of an event."""
    ident = event["userIdentity"]
    if ident.get("type") == "Root":
        return "root"
    if ident.get("userName"):
        return str(ident["userName"])
    arn = ident.get("arn", "")
    if ident.get("type") in ("AssumedRole", "FederatedUser"):
        return str(arn.rsplit("/", 1)[-1])
    return None


def _query(account: str, region: str, attribute: tuple[str, str] | None,
           before: str) -> tuple[str | None, list[Any]]:
    """The SQL of `newest_first` (None: nothing can match)."""
    low = f"{account}/".encode()
    high = min(before.encode(), f"{account}0".encode())  # "0" follows "/": past the account's keys
    select = f"SELECT l.key, r.value FROM {{}} JOIN records r ON r.kind='{EVENT}' AND r.key=l.key WHERE "
    order = " AND l.key >= ? AND l.key < ? ORDER BY l.key DESC"
    if attribute is None:
        return select.format("lookup_events l") + "l.region=?" + order, [region, low, high]
    name, value = attribute
    if name in RESOURCE_ATTRIBUTES:
        return (select.format("lookup_resources l") + "l.attribute=? AND l.value=? AND l.region=?" + order,
                [name, value, region, low, high])
    column = COLUMNS[name]
    match: str | int = value
    if name == "ReadOnly":  # "true" or "false", in any case
        if value.lower() not in ("true", "false"):
            return None, []
        match = int(value.lower() == "true")
    # The attribute's own index, never the primary key's range of every event of the
    # region: SQLite's planner cannot know how rare a value is.
    return (select.format(f"lookup_events l INDEXED BY lookup_events_{column}")
            + f"l.region=? AND l.{column}=?" + order, [region, match, low, high])


def _newest(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT max(rowid) FROM records").fetchone()[0] or 0)


def _followed(store: SqliteStore) -> int:
    mark = store.get(LOOKUP_MARK, "indexed")
    return int(mark.value["rowid"]) if mark else 0


def _follow_some(store: SqliteStore, most: int = -1) -> bool:
    """Index the records stored after the last one indexed (at `most` this many, -1:
    all) in the transaction open; whether there may be more."""
    conn = store.connection()
    done = _followed(store)
    rows = conn.execute("SELECT rowid, key, CASE WHEN kind=? THEN value END FROM records WHERE rowid > ? "
                        "ORDER BY rowid LIMIT ?", (EVENT, done, most)).fetchall()
    if not rows:
        return False
    _index_lookup(conn, [(key, text) for _, key, text in rows if text is not None])
    store.put(LOOKUP_MARK, "indexed", {"rowid": rows[-1][0]})
    return len(rows) == most


def _index_lookup(conn: sqlite3.Connection, records: list[tuple[bytes, str]]) -> None:
    """Add the management events among these event records (key, value JSON) to
    LookupEvents' index; an event indexed already is left as it is."""
    rows: list[Any] = []
    resources: list[Any] = []
    for raw, text in records:
        event = jsontext.loads(text)["event"]
        if not event.get("managementEvent"):
            continue
        try:
            region = event["awsRegion"]
            row = (region, raw, event["eventID"], event["eventName"], event["eventSource"], username(event),
                   event["userIdentity"].get("accessKeyId"), int(bool(event["readOnly"])))
        except (KeyError, AttributeError):  # not an event Skyhold wrote: it must not stop the indexing of all others
            log.warning("an event record LookupEvents cannot index was left out: %r", raw)
            continue
        rows += row
        for resource in event.get("resources") or ():
            arn = resource["ARN"]
            resources += ("ResourceType", resource["type"], region, raw, "ResourceName", arn, region, raw)
            short = arn.rsplit("/", 1)[-1]
            if short != arn:  # a resource is found by its ARN or by the name after its last slash
                resources += ("ResourceName", short, region, raw)
    _insert(conn, "lookup_events", _EVENT_COLUMNS, rows)
    _insert(conn, "lookup_resources", 4, resources)


def _insert(conn: sqlite3.Connection, table: str, columns: int, values: list[Any]) -> None:
    step = _CHUNK * columns
    for start in range(0, len(values), step):
        chunk = values[start : start + step]
        conn.execute(_insert_sql(table, columns, len(chunk) // columns), chunk)


@cache
def _insert_sql(table: str, columns: int, rows: int) -> str:
    row = "(" + ",".join("?" * columns) + ")"
    return f"INSERT OR IGNORE INTO {table} VALUES " + ",".join([row] * rows)


def _has_lookup(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='lookup_resources'").fetchone() \
        is not None
