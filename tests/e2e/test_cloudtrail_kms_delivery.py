"""A trail with a KmsKeyId writes its log and digest files SSE-KMS under that key, with
the trail's ARN as encryption context (aws:cloudtrail:arn): reading them takes
kms:Decrypt as well as s3:GetObject, and validate-logs still checks them."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any

from .conftest import (
    aws_error, own_server, wait_for, cloudtrail_bucket_policy, validate_logs, assert_all_logs_valid,
)

REGION = "us-east-1"
BUCKET = "ct-kms-logs"
TRAIL = "ct-kms-trail"






def _key_policy(account: str, trail_arn: str, decrypter_arn: str) -> str:
    # AWS's documented key policy statements for CloudTrail: encrypt for the trail, and
    # "Enable CloudTrail log decrypt permissions" for one user
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow CloudTrail to encrypt logs", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceArn": trail_arn},
                       "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                      f"arn:aws:cloudtrail:*:{account}:trail/*"}}},
        {"Sid": "Enable CloudTrail log decrypt permissions", "Effect": "Allow",
         "Principal": {"AWS": decrypter_arn}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}}}]})


S3_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}


def test_kms_trail_files_need_kms_decrypt_and_still_validate(tmp_path: Any) -> None:
    with own_server(tmp_path) as (srv, admin):
        account = admin.client("sts").get_caller_identity()["Account"]
        s3 = admin.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_policy(Bucket=BUCKET, Policy=cloudtrail_bucket_policy(BUCKET, f"AWSLogs/{account}/*"))
        trail_arn = f"arn:aws:cloudtrail:{REGION}:{account}:trail/{TRAIL}"
        iam = admin.client("iam")
        # three readers: S3 only; S3 plus kms:Decrypt for this trail's files; S3 only, but named in the key policy
        s3_only = admin.new_user(S3_READ)
        named = admin.new_user(S3_READ)
        named_arn = iam.get_user(UserName=named["UserName"])["User"]["Arn"]
        kms = admin.client("kms", region_name=REGION)
        key_arn = kms.create_key(Policy=_key_policy(account, trail_arn, named_arn))[
            "KeyMetadata"]["Arn"]
        with_kms = admin.new_user({"Version": "2012-10-17", "Statement": [
            *S3_READ["Statement"],
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn,
             "Condition": {"StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}}}]})

        ct = admin.client("cloudtrail", region_name=REGION)
        assert ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, KmsKeyId=key_arn,
                               EnableLogFileValidation=True)["TrailARN"] == trail_arn
        ct.start_logging(Name=TRAIL)
        start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        iam.list_users()

        def objects(kind: str) -> list[str]:
            listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"AWSLogs/{account}/{kind}/")
            return [o["Key"] for o in listed.get("Contents", [])]

        log_key = wait_for(lambda: objects("CloudTrail"))[0]
        head = s3.head_object(Bucket=BUCKET, Key=log_key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        assert ct.get_trail_status(Name=TRAIL).get("LatestDeliveryError") is None

        # s3:GetObject alone no longer reads a log: S3 asks KMS with the reader's permissions.
        code, message, status = aws_error(
            lambda: admin.client_for(s3_only, "s3").get_object(Bucket=BUCKET, Key=log_key)["Body"].read())
        assert (code, status) == ("AccessDenied", 403), message
        assert "kms:Decrypt" in message and key_arn in message, message

        # kms:Decrypt conditioned on the trail's encryption context reads it (the context S3 stored).
        body = admin.client_for(with_kms, "s3").get_object(Bucket=BUCKET, Key=log_key)["Body"].read()
        records = json.loads(gzip.decompress(body))["Records"]
        assert any(r["eventName"] == "ListUsers" for r in records)
        # ...and so does the user the key policy's "Enable CloudTrail log decrypt permissions" names.
        assert admin.client_for(named, "s3").get_object(Bucket=BUCKET, Key=log_key)["Body"].read() == body

        assert srv.cli("clock", "advance", "1h", "--endpoint", srv.endpoint).returncode == 0
        digest_key = wait_for(lambda: objects("CloudTrail-Digest"))[0]
        assert s3.head_object(Bucket=BUCKET, Key=digest_key)["SSEKMSKeyId"] == key_arn
        code, _, _ = aws_error(
            lambda: admin.client_for(s3_only, "s3").get_object(Bucket=BUCKET, Key=digest_key)["Body"].read())
        assert code == "AccessDenied"

        assert_all_logs_valid(validate_logs(admin, trail_arn, start, REGION))
