"""botocore's service models — the wire contract — loaded once and cached."""

from __future__ import annotations

import gc
from functools import cache

from botocore.loaders import Loader, create_loader
from botocore.model import ServiceModel

from skyhold.errors import AwsError


@cache
def _loader() -> Loader:
    return create_loader()


@cache
def service_model(name: str) -> ServiceModel:
    try:
        data = _loader().load_service_model(name, "service-2")
    except Exception as exc:  # botocore raises UnknownServiceError / DataNotFoundError
        raise AwsError("UnrecognizedClientException", f"Unknown service: {name}") from exc
    model = ServiceModel(data, service_name=name)
    # A model is hundreds of thousands of objects kept for the life of the process:
    # frozen, the cyclic GC no longer walks them on every full collection (which
    # took ~50 ms every few thousand requests with all models loaded).
    gc.freeze()
    return model
