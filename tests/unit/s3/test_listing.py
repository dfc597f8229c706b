"""Listing: ListObjectsV2, ListObjects (v1) and ListObjectVersions over a real store —
prefix, delimiter and common prefixes, paging by token, marker and start-after, URL
encoding, and S3's errors for bad paging input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.s3.conftest import S3Harness

KEYS = ["a", "b/1", "b/2", "b/c/3", "b/c/4", "c d", "z", "é/x"]  # "é" is C3 A9 in UTF-8: after "z"


@pytest.fixture
def listed(h: S3Harness) -> S3Harness:
    h.bucket("lst")
    for key in reversed(KEYS):  # stored order is the store's, not the order of writes
        h.s3("PutObject", Bucket="lst", Key=key, Body=key.encode())
    return h


def _keys(out: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in out.get("Contents", [])]


def _prefixes(out: dict[str, Any]) -> list[str]:
    return [p["Prefix"] for p in out.get("CommonPrefixes", [])]


def test_everything_in_utf8_key_order(listed: S3Harness) -> None:
    out = listed.s3("ListObjectsV2", Bucket="lst")
    assert _keys(out) == KEYS
    assert out["KeyCount"] == len(KEYS) and out["IsTruncated"] is False
    assert out["Contents"][0]["Size"] == 1 and out["Contents"][0]["StorageClass"] == "STANDARD"
    assert "Owner" not in out["Contents"][0]  # v2 names owners only with FetchOwner
    assert "Owner" in listed.s3("ListObjectsV2", Bucket="lst", FetchOwner=True)["Contents"][0]


def test_delimiter_folds_common_prefixes(listed: S3Harness) -> None:
    top = listed.s3("ListObjectsV2", Bucket="lst", Delimiter="/")
    assert _keys(top) == ["a", "c d", "z"]
    assert _prefixes(top) == ["b/", "é/"]
    assert top["KeyCount"] == 5
    inner = listed.s3("ListObjectsV2", Bucket="lst", Prefix="b/", Delimiter="/")
    assert _keys(inner) == ["b/1", "b/2"] and _prefixes(inner) == ["b/c/"]
    assert inner["Prefix"] == "b/" and inner["Delimiter"] == "/"
    # a delimiter that is not "/" folds just the same
    assert _prefixes(listed.s3("ListObjectsV2", Bucket="lst", Delimiter="c")) == ["b/c", "c"]


def test_prefix_without_delimiter_lists_the_whole_subtree(listed: S3Harness) -> None:
    assert _keys(listed.s3("ListObjectsV2", Bucket="lst", Prefix="b/")) == ["b/1", "b/2", "b/c/3", "b/c/4"]
    assert _keys(listed.s3("ListObjectsV2", Bucket="lst", Prefix="nothing")) == []


def test_continuation_tokens_page_through_everything(listed: S3Harness) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"Bucket": "lst", "MaxKeys": 3}
        if token:
            params["ContinuationToken"] = token
        out = listed.s3("ListObjectsV2", **params)
        pages += 1
        assert out["KeyCount"] == len(out.get("Contents", [])) <= 3
        seen += _keys(out)
        if not out["IsTruncated"]:
            assert "NextContinuationToken" not in out
            break
        assert out["ContinuationToken" if token else "MaxKeys"]  # a token given is echoed
        token = out["NextContinuationToken"]
    assert seen == KEYS and pages == 3


def test_common_prefixes_count_toward_max_keys_and_are_not_repeated(listed: S3Harness) -> None:
    first = listed.s3("ListObjectsV2", Bucket="lst", Delimiter="/", MaxKeys=2)
    assert _keys(first) == ["a"] and _prefixes(first) == ["b/"] and first["IsTruncated"] is True
    rest = listed.s3("ListObjectsV2", Bucket="lst", Delimiter="/", ContinuationToken=first["NextContinuationToken"])
    assert _keys(rest) == ["c d", "z"] and _prefixes(rest) == ["é/"]


def test_start_after(listed: S3Harness) -> None:
    out = listed.s3("ListObjectsV2", Bucket="lst", StartAfter="b/2")
    assert _keys(out) == ["b/c/3", "b/c/4", "c d", "z", "é/x"] and out["StartAfter"] == "b/2"
    # a token wins over start-after
    page = listed.s3("ListObjectsV2", Bucket="lst", MaxKeys=1)
    out = listed.s3("ListObjectsV2", Bucket="lst", StartAfter="y", ContinuationToken=page["NextContinuationToken"])
    assert _keys(out)[0] == "b/1"


def test_url_encoding_type(listed: S3Harness) -> None:
    out = listed.s3("ListObjectsV2", Bucket="lst", EncodingType="url", Delimiter="/", Prefix="")
    assert _keys(out) == ["a", "c%20d", "z"]
    assert _prefixes(out) == ["b/", "%C3%A9/"]
    assert out["EncodingType"] == "url"
    plain = listed.s3("ListObjectsV2", Bucket="lst", Delimiter="/")
    assert "c d" in _keys(plain) and "EncodingType" not in plain


def test_list_objects_v1_marker_and_next_marker(listed: S3Harness) -> None:
    out = listed.s3("ListObjects", Bucket="lst", Marker="b/c/4", MaxKeys=2)
    assert _keys(out) == ["c d", "z"] and out["IsTruncated"] is True and out["Marker"] == "b/c/4"
    assert "NextMarker" not in out  # S3 gives NextMarker only with a delimiter
    folded = listed.s3("ListObjects", Bucket="lst", Delimiter="/", MaxKeys=2)
    assert folded["NextMarker"] == "b/"
    nxt = listed.s3("ListObjects", Bucket="lst", Delimiter="/", Marker=folded["NextMarker"])
    assert _keys(nxt) == ["c d", "z"] and _prefixes(nxt) == ["é/"]
    assert "Owner" in out["Contents"][0]


def test_bad_paging_input(listed: S3Harness) -> None:
    err = listed.s3_fails("ListObjectsV2", Bucket="lst", ContinuationToken="not base64 at all!")
    assert (err.code, err.message) == ("InvalidArgument", "The continuation token provided is incorrect")
    err = listed.s3_fails("ListObjectsV2", Bucket="lst", MaxKeys=-1)
    assert (err.code, err.message) == ("InvalidArgument",
                                       "Argument maxKeys must be an integer between 0 and 2147483647")
    assert listed.s3_fails("ListObjectsV2", Bucket="nope").code == "NoSuchBucket"


def test_max_keys_zero_and_above_a_thousand(listed: S3Harness) -> None:
    none = listed.s3("ListObjectsV2", Bucket="lst", MaxKeys=0)
    assert none["KeyCount"] == 0 and none["IsTruncated"] is False
    assert listed.s3("ListObjectsV2", Bucket="lst", MaxKeys=5000)["MaxKeys"] == 1000


def test_list_object_versions(h: S3Harness) -> None:
    h.bucket("ver", versioned=True)
    v1 = h.s3("PutObject", Bucket="ver", Key="k", Body=b"1")["VersionId"]
    v2 = h.s3("PutObject", Bucket="ver", Key="k", Body=b"2")["VersionId"]
    marker = h.s3("DeleteObject", Bucket="ver", Key="k")["VersionId"]
    h.s3("PutObject", Bucket="ver", Key="l", Body=b"3")
    out = h.s3("ListObjectVersions", Bucket="ver")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in out["Versions"]][:2] == [("k", v2, False),
                                                                                       ("k", v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in out["DeleteMarkers"]] == [(marker, True)]
    assert out["Versions"][2]["Key"] == "l" and out["Versions"][2]["IsLatest"] is True
    page = h.s3("ListObjectVersions", Bucket="ver", MaxKeys=2)
    assert page["IsTruncated"] is True
    assert (page["NextKeyMarker"], page["NextVersionIdMarker"]) == ("k", v2)
    rest = h.s3("ListObjectVersions", Bucket="ver", KeyMarker="k", VersionIdMarker=v2)
    assert [v["VersionId"] for v in rest["Versions"]][0] == v1
    assert "DeleteMarkers" not in rest
    # listing (v2) sees only current versions
    assert _keys(h.s3("ListObjectsV2", Bucket="ver")) == ["l"]


def test_paging_never_repeats_a_common_prefix(h: S3Harness) -> None:
    """A page ending on a common prefix: the next starts past it (a paginator that got
    the same prefix back would loop for ever)."""
    h.bucket("deep", versioned=True)
    for key in ("a/1", "a/2", "b/1", "c"):
        h.s3("PutObject", Bucket="deep", Key=key, Body=b"x")
    for operation, marker_in, marker_out in (("ListObjects", "Marker", "NextMarker"),
                                             ("ListObjectsV2", "ContinuationToken", "NextContinuationToken"),
                                             ("ListObjectVersions", "KeyMarker", "NextKeyMarker")):
        seen: list[str] = []
        params: dict[str, Any] = {"Bucket": "deep", "Delimiter": "/", "MaxKeys": 1}
        for _ in range(10):
            out = h.s3(operation, **params)
            seen += _prefixes(out) + [v["Key"] for v in out.get("Contents", out.get("Versions", []))]
            if not out["IsTruncated"]:
                break
            params[marker_in] = out[marker_out]
        assert seen == ["a/", "b/", "c"], operation


def test_a_delimiter_listing_reads_each_folder_once_not_the_rest_of_the_bucket(
        h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skipping past a folder fetched a full batch and used its first record: a listing
    of N folders read ~N x (keys after them), which made pyarrow time out at 1,000."""
    h.bucket("dirs")
    folders, per = 60, 20
    for f in range(folders):
        for k in range(per):
            h.s3("PutObject", Bucket="dirs", Key=f"d{f:03d}/k{k:02d}", Body=b"")
    read = 0
    scan = h.store.scan

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal read
        records = scan(*args, **kwargs)
        read += len(records)
        return records

    monkeypatch.setattr(h.store, "scan", counting)
    out = h.s3("ListObjectsV2", Bucket="dirs", Delimiter="/")
    assert _prefixes(out) == [f"d{f:03d}/" for f in range(folders)]
    assert read < 2_000  # one batch, then a few records a folder (before: ~35,000)
