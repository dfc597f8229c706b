"""Secrets Manager: versioned secrets with staging labels, encrypted with KMS, rotated
by a local program that follows AWS's four-step contract."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from skyhold.services.secretsmanager.rotation import Rotator
from skyhold.services.secretsmanager.secrets import AUTHZ, HANDLERS

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

__all__ = ["AUTHZ", "HANDLERS", "on_shutdown", "on_startup"]


async def on_startup(pipeline: Pipeline) -> None:
    rotator = pipeline.extensions.setdefault("secretsmanager.rotator", Rotator(pipeline))
    rotator.task = asyncio.get_running_loop().create_task(rotator.watch())


async def on_shutdown(pipeline: Pipeline) -> None:
    rotator = pipeline.extensions.get("secretsmanager.rotator")
    if rotator is not None and rotator.task is not None:
        rotator.task.cancel()
