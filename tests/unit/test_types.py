"""The package type-checks: mypy, as configured in pyproject.toml, finds nothing."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_errors() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "src" / "skyhold")])
    assert status == 0, out + err
