"""Request ids: version-7 UUIDs, time-ordered, unique."""

from __future__ import annotations

import time
import uuid

from skyhold import ids


def test_request_ids_are_version_7_uuids_in_time_order() -> None:
    before = time.time_ns() // 1_000_000
    made = [ids.request_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after  # the first 48 bits: milliseconds since the epoch
    assert made == sorted(made, key=lambda t: uuid.UUID(t).int >> 80)
