"""LookupEvents by lookup attribute through the trail's index, over a data dir an older
Skyhold left (events, but no lookup index): the index is built once at start-up, and
lookups find the events recorded before as well as after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skyhold.store import open_trail_store
from skyhold.trail import index

from .conftest import own_server


def _names(ct: Any, key: str, value: str) -> list[str]:
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}], PaginationConfig={"PageSize": 2})
    return [e["EventName"] for page in pages for e in page["Events"]]


def test_a_data_dir_from_before_the_lookup_index_is_indexed_once(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, adm):
        iam = adm.client("iam")
        for name in ("lookup-old-1", "lookup-old-2", "lookup-old-3"):
            iam.create_user(UserName=name)
        iam.tag_user(UserName="lookup-old-1", Tags=[{"Key": "k", "Value": "v"}])
        key = adm.credentials().access_key
        writes = ["TagUser", "CreateUser", "CreateUser", "CreateUser"]
        assert [n for n in _names(adm.client("cloudtrail"), "AccessKeyId", key) if n in writes] == writes
        srv.stop()
        store = open_trail_store(srv.data_dir)
        index.forget(store)  # as an older Skyhold left the trail database
        store.close()
        srv.start()
        ct = adm.client("cloudtrail")
        iam.delete_user(UserName="lookup-old-2")
        assert _names(ct, "EventName", "CreateUser") == ["CreateUser"] * 3
        assert _names(ct, "EventName", "DeleteUser") == ["DeleteUser"]
        assert [n for n in _names(ct, "ReadOnly", "false") if n in writes + ["DeleteUser"]] == ["DeleteUser", *writes]
    store = open_trail_store(srv.data_dir)
    try:
        assert store.get(index.LOOKUP_MARK, "indexed") is not None  # indexed, and noted as such
    finally:
        store.close()
