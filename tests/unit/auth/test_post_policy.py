"""Browser POST policies: who signed, which fields S3 demands, how conditions match."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from skyhold.auth import sigv4
from skyhold.auth.credentials import Credential
from skyhold.auth.post_policy import content_length_range, region_of, verify_post_policy
from skyhold.errors import AwsError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
REGIONS = frozenset({"us-east-1", "eu-west-1"})
AKID = "AKIDPOSTER0000000000"
SECRET = "post-secret"
BUCKET = "uploads"


def lookup(akid: str) -> Credential | None:
    return Credential(AKID, SECRET, principal="poster") if akid == AKID else None


def form(conditions: list, *, fields: dict[str, str] | None = None, expires: datetime = NOW + timedelta(hours=1),
         region: str = "us-east-1") -> dict[str, str]:
    """A signed form whose policy holds `conditions` plus the signature fields' own."""
    credential = f"{AKID}/{NOW:%Y%m%d}/{region}/s3/aws4_request"
    signing = {"x-amz-algorithm": sigv4.ALGORITHM, "x-amz-credential": credential, "x-amz-date": f"{NOW:%Y%m%dT%H%M%SZ}"}
    policy = {"expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
              "conditions": [*conditions, *({k: v} for k, v in signing.items())]}
    policy_b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    key = sigv4.signing_key(SECRET, f"{NOW:%Y%m%d}", region, "s3")
    return {"key": "photos/cat.jpg", **(fields or {}), **signing, "policy": policy_b64,
            "x-amz-signature": sigv4.sign(key, policy_b64)}


def verify(fields: dict[str, str], **kw: object):
    return verify_post_policy(fields, lookup, bucket=BUCKET, regions=REGIONS, now=NOW, **kw)


def refused(fields: dict[str, str], **kw: object) -> AwsError:
    with pytest.raises(AwsError) as caught:
        verify(fields, **kw)
    return caught.value


def test_a_valid_form_names_its_signer() -> None:
    credential, policy = verify(form([{"bucket": BUCKET}, ["starts-with", "$key", "photos/"]]))
    assert credential is not None and credential.principal == "poster"
    assert policy is not None and policy["conditions"][0] == {"bucket": BUCKET}


def test_an_unsigned_form_is_anonymous_whatever_policy_it_carries() -> None:
    assert verify({"key": "a", "policy": "e30="}) == (None, None)


def test_sigv2_forms_are_refused() -> None:
    err = refused({"key": "a", "AWSAccessKeyId": AKID, "signature": "x", "policy": "e30="})
    assert err.code == "InvalidRequest"


@pytest.mark.parametrize("drop, named", [
    (["key"], "key"),
    (["x-amz-signature"], "X-Amz-Signature"),
    (["x-amz-algorithm", "x-amz-credential"], "X-Amz-Algorithm"),
    (["x-amz-credential"], "X-Amz-Credential"),
    (["x-amz-date"], "X-Amz-Date"),
    (["policy"], "Policy"),
])
def test_missing_fields_are_named_in_s3s_order(drop: list[str], named: str) -> None:
    fields = {k: v for k, v in form([{"bucket": BUCKET}]).items() if k not in drop}
    err = refused(fields)
    assert (err.code, err.status) == ("InvalidArgument", 400)
    assert err.message == (f"Bucket POST must contain a field named '{named}'.  "
                           "If it is specified, please check the order of the fields.")
    assert err.extra == {"ArgumentName": named, "ArgumentValue": ""}


def test_tampered_policy_is_a_signature_mismatch() -> None:
    fields = form([{"bucket": BUCKET}])
    fields["policy"] = fields["policy"][:-4] + "AAA="
    err = refused(fields)
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)
    assert err.extra["StringToSign"] == fields["policy"]
    assert err.extra["SignatureProvided"] == fields["x-amz-signature"]
    assert err.extra["AWSAccessKeyId"] == AKID


def test_unknown_key_and_wrong_region() -> None:
    fields = form([{"bucket": BUCKET}])
    fields["x-amz-credential"] = fields["x-amz-credential"].replace(AKID, "AKIDNOBODY0000000000")
    assert refused(fields).code == "InvalidAccessKeyId"
    assert refused(form([{"bucket": BUCKET}], region="mars-north-1")).code == "AuthorizationHeaderMalformed"


def test_expired_policy() -> None:
    err = refused(form([{"bucket": BUCKET}], expires=NOW - timedelta(seconds=1)))
    assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Invalid according to Policy: Policy expired.")


def test_conditions_name_fields_case_insensitively_and_values_exactly() -> None:
    fields = {"Success_Action_Redirect": "http://localhost.test/ok"}
    verify(form([{"bucket": BUCKET}, ["starts-with", "$key", ""], ["eq", "$success_ACTION_redirect",
                                                                    "http://localhost.test/ok"]], fields=fields))
    err = refused(form([{"bucket": BUCKET}, ["starts-with", "$key", ""],
                        ["eq", "$success_action_redirect", "HTTP://localhost.test/ok"]], fields=fields))
    assert err.message == ('Invalid according to Policy: Policy Condition failed: '
                           '["eq", "$success_action_redirect", "HTTP://localhost.test/ok"]')


def test_a_condition_without_dollar_names_no_field() -> None:
    fields = {"success_action_status": "201"}
    err = refused(form([{"bucket": BUCKET}, ["starts-with", "$key", ""], ["eq", "success_action_status", "201"]],
                       fields=fields))
    assert err.message == ('Invalid according to Policy: Policy Condition failed: '
                           '["eq", "success_action_status", "201"]')


def test_starts_with() -> None:
    base = [{"bucket": BUCKET}]
    err = refused(form([*base, ["starts-with", "$key", "user/eric/"]]))
    assert err.message == 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/eric/"]'
    verify(form([*base, ["starts-with", "$key", ""]]))  # "" accepts anything
    images = [*base, ["starts-with", "$key", ""], ["starts-with", "$Content-Type", "image/"]]
    verify(form(images, fields={"Content-Type": "image/jpeg,image/png"}))  # every listed type must pass
    assert refused(form(images, fields={"Content-Type": "image/jpeg,text/plain"})).code == "AccessDenied"


def test_bucket_condition_is_the_url_bucket() -> None:
    err = refused(form([{"bucket": "someone-elses"}, ["starts-with", "$key", ""]]))
    assert err.message == 'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "someone-elses"]'


def test_every_field_needs_a_condition_except_the_exempt_ones() -> None:
    conditions = [{"bucket": BUCKET}, ["starts-with", "$key", ""]]
    err = refused(form(conditions, fields={"x-amz-meta-tag": "a", "acl": "private"}))
    assert err.message == "Invalid according to Policy: Extra input fields: acl, x-amz-meta-tag"
    verify(form(conditions, fields={"x-ignore-anything": "1"}))


def test_filename_is_substituted_before_conditions_hold() -> None:
    fields = form([{"bucket": BUCKET}, ["eq", "$key", "up/cat.jpg"]], fields={"key": "up/${filename}"})
    verify(fields, filename="cat.jpg")
    assert refused(fields, filename="dog.jpg").code == "AccessDenied"


def test_malformed_policies() -> None:
    err = refused(form([{"bucket": BUCKET, "key": "photos/cat.jpg"}]))
    assert (err.code, err.status, err.message) == (
        "InvalidPolicyDocument", 400,
        "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
    assert refused(form([{"bucket": BUCKET}, ["starts-with", "$key"]])).code == "InvalidPolicyDocument"


def test_content_length_range() -> None:
    _, policy = verify(form([{"bucket": BUCKET}, ["starts-with", "$key", ""], ["content-length-range", "5", 10]]))
    assert content_length_range(policy) == (5, 10)
    assert content_length_range({"conditions": [{"bucket": BUCKET}]}) is None
    err = refused(form([{"bucket": BUCKET}, ["starts-with", "$key", ""], ["content-length-range", "test", "10"]]))
    assert err.message == ('Invalid according to Policy: Policy Condition failed: '
                           '["content-length-range", "test", "10"]')


def test_region_of() -> None:
    assert region_of(form([], region="eu-west-1")) == "eu-west-1"
    assert region_of({"key": "a"}) is None
