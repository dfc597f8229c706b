"""A request that names no resource but is matched as one (S3's ListAllMyBuckets:
"arn:aws:s3:::*"): policies' Resource elements see that ARN, the denial names none."""

from __future__ import annotations

from skyhold.policy import Caller, Decision, PolicySet, RequestContext, evaluate

ALICE = "arn:aws:iam::111122223333:user/alice"


def _decide(resource: str, matched_as: str | None) -> Decision:
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": resource}]}
    return evaluate(RequestContext(Caller.from_arn(ALICE), "s3:ListAllMyBuckets", "*", matched_as=matched_as),
                    PolicySet.build(identity=[("inline", doc)]))


def test_resource_elements_match_the_matched_as_arn() -> None:
    assert _decide("arn:aws:s3:::*", "arn:aws:s3:::*").allowed
    assert _decide("*", "arn:aws:s3:::*").allowed
    assert not _decide("arn:aws:s3:::one-bucket", "arn:aws:s3:::*").allowed
    assert not _decide("arn:aws:s3:::*", None).allowed


def test_denial_names_no_resource() -> None:
    decision = _decide("arn:aws:s3:::one-bucket", "arn:aws:s3:::*")
    assert decision.denial_message(quote_resource=True) == (
        f"User: {ALICE} is not authorized to perform: s3:ListAllMyBuckets because no identity-based policy "
        "allows the s3:ListAllMyBuckets action")
