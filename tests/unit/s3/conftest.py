"""S3 without HTTP: the shared harness (a real store, blob store and pipeline in a temp
dir), with S3 calls that go through S3's authz map and then its handler."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyhold import clock
from skyhold.errors import AwsError
from tests.unit.kms.harness import Harness


class S3Harness(Harness):
    def s3(self, operation: str, **params: Any) -> dict[str, Any]:
        """One S3 operation as the account's admin (async handlers awaited)."""
        out = self.run("s3", operation, **params)
        return asyncio.run(out) if inspect.isawaitable(out) else out

    def s3_fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as info:
            self.s3(operation, **params)
        return info.value

    def bucket(self, name: str, versioned: bool = False) -> dict[str, Any]:
        self.s3("CreateBucket", Bucket=name)
        if versioned:
            self.s3("PutBucketVersioning", Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return self.stored_bucket(name)

    def stored_bucket(self, name: str) -> dict[str, Any]:
        rec = self.store.get("s3.bucket", name)
        assert rec is not None
        return rec.value

    def blob_count(self) -> int:
        return sum(1 for p in self.pipeline.blobs.root.rglob("*") if p.is_file())


@pytest.fixture
def h(tmp_path: Path) -> Iterator[S3Harness]:
    harness = S3Harness(tmp_path / "data")
    yield harness
    harness.close()


@pytest.fixture
def moved_clock() -> Iterator[None]:
    """Tests may move Skyhold's clock; it is put back after each."""
    before = clock.offset().total_seconds()
    yield
    clock.set_offset(before)
