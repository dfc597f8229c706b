"""IAM's MalformedPolicyDocument validation against moto's corpus of 78 invalid and 54
valid identity-policy documents (../shared/conformance/policy-validation): every invalid
document is rejected with exactly IAM's message, every valid one is accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skyhold.errors import AwsError
from skyhold.policy import PolicyType, validate_policy

CORPUS = (
    Path(__file__).parents[2] / ".." / "shared" / "conformance" / "policy-validation" / "moto-iam-policy-documents.json"
)
DATA = json.loads(CORPUS.read_text())
INVALID = DATA["invalid_policy_document_test_cases"]
VALID = DATA["valid_policy_documents"]


def _text(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


@pytest.mark.parametrize("case", INVALID, ids=[f"invalid-{i}" for i in range(len(INVALID))])
def test_invalid_document_rejected_with_iams_message(case: dict[str, Any]) -> None:
    with pytest.raises(AwsError) as e:
        validate_policy(_text(case["document"]), PolicyType.IDENTITY)
    assert e.value.code == "MalformedPolicyDocument"
    assert e.value.message == case["error_message"]


@pytest.mark.parametrize("document", VALID, ids=[f"valid-{i}" for i in range(len(VALID))])
def test_valid_document_accepted(document: dict[str, Any]) -> None:
    validate_policy(_text(document), PolicyType.IDENTITY)


def test_corpus_size() -> None:
    assert (len(INVALID), len(VALID)) == (78, 54)
