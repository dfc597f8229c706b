"""A bucket lives in one region, and S3 serves it only to requests signed for that
region: the error names the right one (<Region> and x-amz-bucket-region), which is how
SDKs find a bucket's region and sign again. Without this a request signed for the
wrong region would be served, and aws:RequestedRegion would name a region the bucket
is not in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import principal as p
from skyhold.errors import AwsError

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# Answered from any region: this is how clients ask where a bucket is.
_ANY_REGION = frozenset({"GetBucketLocation"})


def check(call: Call, bucket: dict[str, Any]) -> None:
    expected = bucket["Region"]
    got = call.region
    if got == expected or call.operation in _ANY_REGION:
        return
    # Anonymous requests name no region; AWS services (CloudTrail delivering logs)
    # write to buckets in any region.
    if call.principal.is_anonymous or call.principal.type == p.AWS_SERVICE:
        return
    headers = {"x-amz-bucket-region": expected}
    if "X-Amz-Credential=" in call.request.query:
        raise AwsError("AuthorizationQueryParametersError",
                       f"Error parsing the X-Amz-Credential parameter; the region '{got}' is wrong; "
                       f"expecting '{expected}'", 400, extra={"Region": expected}, headers=headers)
    raise AwsError("AuthorizationHeaderMalformed",
                   f"The authorization header is malformed; the region '{got}' is wrong; expecting '{expected}'",
                   400, extra={"Region": expected}, headers=headers)


def name_on_refusal(call: Call, err: AwsError) -> None:
    """HeadBucket names the bucket's region on a refusal too: "regardless of the
    permissions on the bucket, you will receive a response header with the correct
    bucket location" (S3 API reference, HeadBucket). A missing bucket has none."""
    bucket = call.extras.get("bucket")
    if call.operation == "HeadBucket" and bucket is not None:
        err.headers.setdefault("x-amz-bucket-region", bucket["Region"])
