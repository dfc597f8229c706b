"""S3's errors, in S3's words (code, message, HTTP status and the extra elements S3
adds to its <Error> document)."""

from __future__ import annotations

from skyhold.errors import AwsError


def no_such_bucket(bucket: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": bucket})


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})


def no_such_version(key: str, version_id: str) -> AwsError:
    return AwsError("NoSuchVersion", "The specified version does not exist.", 404,
                    extra={"Key": key, "VersionId": version_id})


def invalid_version_id(version_id: str) -> AwsError:
    return AwsError("InvalidArgument", "Invalid version id specified", 400,
                    extra={"ArgumentName": "versionId", "ArgumentValue": version_id})


def delete_marker(method: str, version_id: str) -> AwsError:
    # A GET of a delete marker by version id: the marker exists but is not an object.
    return AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                    extra={"Method": method, "ResourceType": "DeleteMarker"},
                    headers={"x-amz-delete-marker": "true", "x-amz-version-id": version_id})


def bucket_already_exists(bucket: str) -> AwsError:
    return AwsError(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users of the "
        "system. Please select a different name and try again.",
        409, extra={"BucketName": bucket})


def bucket_already_owned(bucket: str, region: str) -> AwsError:
    """Naming the bucket's region in x-amz-bucket-region, as S3's answer does."""
    return AwsError("BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    409, extra={"BucketName": bucket}, headers={"x-amz-bucket-region": region})


def bucket_not_empty(bucket: str, versioned: bool = False) -> AwsError:
    more = ". You must delete all versions in the bucket." if versioned else ""
    return AwsError("BucketNotEmpty", f"The bucket you tried to delete is not empty{more}", 409,
                    extra={"BucketName": bucket})


def invalid_bucket_name(bucket: str) -> AwsError:
    return AwsError("InvalidBucketName", "The specified bucket is not valid.", 400, extra={"BucketName": bucket})


def illegal_location(constraint: str | None) -> AwsError:
    what = constraint or "unspecified"
    return AwsError("IllegalLocationConstraintException",
                    f"The {what} location constraint is incompatible for the region specific endpoint "
                    "this request was sent to.", 400)


def invalid_location(constraint: str) -> AwsError:
    return AwsError("InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
                    extra={"LocationConstraint": constraint})


def invalid_bucket_owner(value: str) -> AwsError:
    """An x-amz-expected-bucket-owner that is not a 12-digit account id."""
    return AwsError("InvalidBucketOwnerAWSAccountID",
                    f"The value of the expected bucket owner parameter must be an AWS Account ID... [{value}]", 400)


def no_such_bucket_policy(bucket: str) -> AwsError:
    return AwsError("NoSuchBucketPolicy", "The bucket policy does not exist", 404, extra={"BucketName": bucket})


def malformed_policy(message: str) -> AwsError:
    return AwsError("MalformedPolicy", message, 400)


def no_such_public_access_block(bucket: str | None = None) -> AwsError:
    extra = {"BucketName": bucket} if bucket else {}
    return AwsError("NoSuchPublicAccessBlockConfiguration",
                    "The public access block configuration was not found", 404, extra=extra)


def acl_not_supported() -> AwsError:
    return AwsError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def acl_with_enforced_ownership() -> AwsError:
    """BucketOwnerEnforced asked for while the bucket ACL grants more than the owner's full control."""
    return AwsError("InvalidBucketAclWithObjectOwnership",
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)


def precondition_failed(condition: str) -> AwsError:
    return AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                    extra={"Condition": condition})


def not_modified(etag: str) -> AwsError:
    return AwsError("NotModified", "Not Modified", 304, headers={"ETag": etag})


def invalid_range(requested: str, size: int) -> AwsError:
    return AwsError("InvalidRange", "The requested range is not satisfiable", 416,
                    extra={"RangeRequested": requested, "ActualObjectSize": str(size)},
                    headers={"Content-Range": f"bytes */{size}"})


def entity_too_small(size: int, min_size: int = 5 * 1024 * 1024) -> AwsError:
    """A part (or a browser upload) below its minimum: multipart parts must reach 5 MiB."""
    return AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400,
                    extra={"ProposedSize": str(size), "MinSizeAllowed": str(min_size)})


def no_such_upload(upload_id: str) -> AwsError:
    return AwsError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                    "upload may have been aborted or completed.", 404, extra={"UploadId": upload_id})


def invalid_part(part_number: int, etag: str, upload_id: str) -> AwsError:
    # S3 echoes the ETag without its quotes, whichever form the client sent.
    return AwsError("InvalidPart", "One or more of the specified parts could not be found.  The part may not "
                    "have been uploaded, or the specified entity tag may not match the part's entity tag.",
                    400, extra={"UploadId": upload_id, "PartNumber": str(part_number), "ETag": etag.strip('"')})


def invalid_part_order(upload_id: str) -> AwsError:
    return AwsError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by "
                    "part number.", 400, extra={"UploadId": upload_id})


def part_too_small(size: int, part_number: int, etag: str) -> AwsError:
    """CompleteMultipartUpload with a part (not the last) below 5 MiB: names the part."""
    err = entity_too_small(size)
    err.extra.update(PartNumber=str(part_number), ETag=etag.strip('"'))
    return err


def bad_digest(message: str) -> AwsError:
    return AwsError("BadDigest", message, 400)


def no_such_tag_set(bucket: str | None = None) -> AwsError:
    return AwsError("NoSuchTagSet", "The TagSet does not exist", 404, extra={"BucketName": bucket} if bucket else {})


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> AwsError:
    extra = {"ArgumentName": name, "ArgumentValue": value or ""} if name else {}
    return AwsError("InvalidArgument", message, 400, extra=extra)


def invalid_request(message: str) -> AwsError:
    return AwsError("InvalidRequest", message, 400)


def checksum_required() -> AwsError:
    """A body S3 wants proven (objects.require_body_checksum) came with neither
    Content-MD5 nor an x-amz-checksum-* header."""
    return invalid_request("Missing required header for this request: Content-MD5 OR x-amz-checksum-*")


def invalid_tag(message: str, key: str | None = None, value: str | None = None) -> AwsError:
    """S3 names the faulty tag: TagKey, and TagValue when the value is at fault."""
    extra = {"TagKey": key} if key is not None else {}
    if value is not None:
        extra["TagValue"] = value
    return AwsError("InvalidTag", message, 400, extra=extra)


def no_such_cors(bucket: str) -> AwsError:
    return AwsError("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404,
                    extra={"BucketName": bucket})


def no_such_lifecycle(bucket: str) -> AwsError:
    return AwsError("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404,
                    extra={"BucketName": bucket})


def invalid_encryption_method() -> AwsError:
    return AwsError("InvalidArgument", "The encryption method specified is not supported", 400,
                    extra={"ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": "null"})


def access_denied(message: str = "Access Denied") -> AwsError:
    return AwsError("AccessDenied", message, 403)


def malformed_xml() -> AwsError:
    return AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                    "published schema", 400)


def entity_too_large(size: int, max_size: int) -> AwsError:
    return AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400,
                    extra={"ProposedSize": str(size), "MaxSizeAllowed": str(max_size)})


def cors_forbidden(message: str, method: str, resource_type: str) -> AwsError:
    """A refused CORS preflight (S3's error table does not list the code, the wire has it)."""
    return AwsError("AccessForbidden", f"CORSResponse: {message}", 403,
                    extra={"Method": method, "ResourceType": resource_type})


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequest", message, 400)


def invalid_object_state(storage_class: str) -> AwsError:
    """GetObject of an archived object (GLACIER, DEEP_ARCHIVE) that was not restored."""
    return AwsError("InvalidObjectState", "The operation is not valid for the object's storage class", 403,
                    extra={"StorageClass": storage_class})


def object_not_in_active_tier(bucket: str) -> AwsError:
    """CopyObject / UploadPartCopy from an archived source that was not restored."""
    return AwsError("ObjectNotInActiveTierError", "The source object of the COPY action is not in the active tier "
                    "and is only stored in Amazon S3 Glacier", 403, extra={"BucketName": bucket})


# Limits of a new object (messages and fields as S3 answers them).
MAX_KEY_BYTES = 1024  # UTF-8
MAX_METADATA_BYTES = 2048  # user metadata: UTF-8 bytes of every name and value


def key_too_long(size: int) -> AwsError:
    return AwsError("KeyTooLongError", "Your key is too long", 400,
                    extra={"Size": str(size), "MaxSizeAllowed": str(MAX_KEY_BYTES)})


def metadata_too_large(size: int) -> AwsError:
    return AwsError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size", 400,
                    extra={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)})


def invalid_storage_class(requested: str) -> AwsError:
    return AwsError("InvalidStorageClass", "The storage class you specified is not valid", 400,
                    extra={"StorageClassRequested": requested})


def header_not_implemented(header: str, detail: str | None = None) -> AwsError:
    """A conditional header S3 does not serve in this form (If-Match: * on a write, say)."""
    extra = {"Header": header}
    if detail is not None:
        extra["additionalMessage"] = detail
    return AwsError("NotImplemented", "A header you provided implies functionality that is not implemented", 501,
                    sender_fault=False, extra=extra)


def conditional_request_conflict(condition: str, key: str) -> AwsError:
    """A conditional write that holds, but the key was written since the request began
    (a multipart upload completed with If-Match / If-None-Match)."""
    return AwsError("ConditionalRequestConflict", "The conditional request cannot succeed due to a conflicting "
                    "operation against this resource.", 409, extra={"Condition": condition, "Key": key})


def invalid_part_number(requested: int, count: int) -> AwsError:
    return AwsError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416,
                    extra={"PartNumberRequested": str(requested), "ActualPartCount": str(count)})


def sse_c_wrong_key() -> AwsError:
    """An SSE-C key that does not open the object."""
    return access_denied("Requests specifying Server Side Encryption with Customer provided keys must provide the "
                         "correct secret key.")
