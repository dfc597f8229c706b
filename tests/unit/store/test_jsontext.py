"""Stored and journaled JSON: compact, one line, and every value the json module could
write still round-trips (orjson refuses a few; json then writes them)."""

from __future__ import annotations

import json

import pytest

from skyhold.store import jsontext


@pytest.mark.parametrize("value", [
    {"a": 1, "b": [True, None, 1.5], "c": "ünïcode ✓"},
    {"big": 2**70, "neg": -(2**65)},  # past 64 bits: orjson refuses, json writes
    {"key": "bad\udcff bytes"},  # a lone surrogate (surrogateescape'd input)
    {1: "int key", "s": "x"},  # non-string keys become strings, as json makes them
    {"ctl": "line\nbreak\ttab\x00nul"},
])
def test_values_round_trip_as_json_would_write_them(value) -> None:
    text = jsontext.dumps(value)
    assert b"\n" not in text and b"\t" not in text and b"\x00" not in text  # one journal line
    assert jsontext.loads(text) == json.loads(json.dumps(value))
    assert jsontext.loads(text.decode()) == json.loads(json.dumps(value))
