"""SSE-C: objects encrypted under a key the caller sends with every request.

The customer key never reaches the disk. Each segment's data key is sealed with it
(crypto.wrap_for_customer), so without the same key nothing opens: a wrong key fails
the AES-GCM tag and S3 answers AccessDenied. What a read echoes back is the MD5 of the
key the request carried.

Since April 2026 S3 blocks SSE-C writes on new buckets until the owner unblocks it
with PutBucketEncryption (BlockedEncryptionTypes NONE); reads of existing SSE-C
objects keep working either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.s3 import crypto, errors

if TYPE_CHECKING:
    from skyhold.pipeline import Call

ALGORITHM = "AES256"
BLOCKED = ["SSE-C"]
UNBLOCKED = ["NONE"]
_NEEDS_KEY = ("The object was stored using a form of Server Side Encryption. The correct parameters must be "
              "provided to retrieve the object.")


@dataclass(frozen=True, slots=True)
class CustomerKey:
    key: bytes
    md5: str  # base64 MD5 of the key: what responses echo


# S3 names this header in every SSE-C argument error, whichever of the customer headers
# (or copy-source ones) is at fault, and echoes a value only for a wrong algorithm.
_ARGUMENT = "x-amz-server-side-encryption"


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidArgument", message, 400, extra={"ArgumentName": _ARGUMENT})


def from_params(call: Call, params: dict[str, Any], *, copy_source: bool = False,
                md5_required: bool = True) -> CustomerKey | None:
    """The request's SSE-C key, validated as S3 does; None when it sends none. A read
    (`md5_required` False) with a key of the wrong size is refused as a wrong key."""
    member = "CopySourceSSECustomer" if copy_source else "SSECustomer"
    alg, key, md5 = params.get(member + "Algorithm"), params.get(member + "Key"), params.get(member + "KeyMD5")
    if alg is None and key is None and md5 is None:
        return None
    if call.request.tls is None:  # the key would cross the network in the clear: S3 takes it over HTTPS only
        raise errors.invalid_request("Requests specifying Server Side Encryption with Customer provided keys must "
                                     "be made over a secure connection.")
    if alg is None:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided keys must provide a valid "
                       "encryption algorithm.")
    if alg != ALGORITHM:
        raise AwsError("InvalidEncryptionAlgorithmError",
                       "The Encryption request you specified is not valid. Supported value: AES256.", 400,
                       extra={"ArgumentName": _ARGUMENT, "ArgumentValue": alg})
    if key is None:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided keys must provide an "
                       "appropriate secret key.")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        if not md5_required:
            raise errors.sse_c_wrong_key()
        raise _invalid("The secret key was invalid for the specified algorithm.")
    digest = base64.b64encode(hashlib.md5(raw).digest()).decode()
    if md5 is None:
        if md5_required:
            raise _invalid("Requests specifying Server Side Encryption with Customer provided keys must provide the "
                           "client calculated MD5 of the secret key.")
    elif md5 != digest:
        raise _invalid("The calculated MD5 hash of the key did not match the hash that was provided.")
    return CustomerKey(raw, digest)


def for_write(call: Call, params: dict[str, Any], bucket: dict[str, Any]) -> CustomerKey | None:
    """The key a write asks to encrypt under; AccessDenied while the bucket blocks SSE-C
    (checked before the key itself, as S3 does)."""
    if not any(params.get(m) is not None for m in ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")):
        return None
    if is_blocked(bucket):
        raise errors.access_denied()
    if params.get("ServerSideEncryption") is not None:
        raise errors.invalid_argument("Server Side Encryption with Customer provided key is incompatible with the "
                                      "encryption method specified", "x-amz-server-side-encryption",
                                      params["ServerSideEncryption"])
    return from_params(call, params)


def is_blocked(bucket: dict[str, Any]) -> bool:
    return bucket.get("BlockedEncryptionTypes", BLOCKED) != UNBLOCKED


def sse_value() -> dict[str, Any]:
    """The object record's "sse" for an SSE-C object."""
    return {"alg": ALGORITHM, "c": 1}


def is_customer(sse: dict[str, Any]) -> bool:
    return bool(sse.get("c"))


def for_object(call: Call, value: dict[str, Any], params: dict[str, Any], *,
               copy_source: bool = False) -> CustomerKey | None:
    """The key that opens a stored object (GET, HEAD, a copy's source), checked
    against the object: missing or not applicable → InvalidRequest, wrong → AccessDenied."""
    given = from_params(call, params, copy_source=copy_source, md5_required=False)
    if not is_customer(value["sse"]):
        if given is not None:
            raise errors.invalid_request("The encryption parameters are not applicable to this object.")
        return None
    if given is None:
        raise errors.invalid_request(_NEEDS_KEY)
    if value["segs"]:
        crypto.unwrap(call, value["segs"][0]["k"], {}, customer=given.key)  # raises AccessDenied on a wrong key
    return given


def result(key: CustomerKey | None) -> dict[str, Any]:
    out: dict[str, Any] = {"SSECustomerAlgorithm": ALGORITHM}
    if key is not None:
        out["SSECustomerKeyMD5"] = key.md5
    return out


# --- multipart: every part must come with the key the upload began with -----------------------

def key_check(call: Call, key: CustomerKey) -> str:
    """What an upload record keeps to recognise its key: a random value sealed with it."""
    return crypto.new_data_key(call, {}, {}, customer=key.key).wrapped


def for_part(call: Call, upload: dict[str, Any], params: dict[str, Any]) -> CustomerKey | None:
    given = from_params(call, params)
    check = upload.get("kc")
    if check is None:
        if given is not None:
            # S3's words even so: the upload was begun with (default) encryption, just not SSE-C.
            raise errors.invalid_request("The multipart upload initiate requested encryption. Subsequent part "
                                         "requests must include the appropriate encryption parameters.")
        return None
    if given is None:
        raise errors.invalid_request("The multipart upload initiate requested encryption. Subsequent part requests "
                                     "must include the appropriate encryption parameters.")
    try:
        crypto.unwrap(call, check, {}, customer=given.key)
    except AwsError:
        raise errors.invalid_request("The provided encryption parameters did not match the ones used "
                                     "originally.") from None
    return given
