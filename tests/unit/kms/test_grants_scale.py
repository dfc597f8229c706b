"""KMS grants at scale: a key may have 50,000 grants, so using the key must not read
them all. Work is counted, never timed: the store's scan and get are wrapped to count
the grants they hand out, whether as records of their own or inside a key's record
(where an older Skyhold kept them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from skyhold import clock, upgrades
from skyhold.services.kms import grants
from skyhold.services.kms import records as r
from tests.unit.kms.harness import Harness
from tests.unit.test_scale_services import Reads

MANY = 2000


def _grants_in(rec: Any) -> int:
    """Grants a record holds: one of its own, or those an older key record held inside."""
    return 1 if rec.kind.startswith("kms.grant") else len(rec.value.get("Grants") or [])


def _grant_reads(h: Harness, monkeypatch: pytest.MonkeyPatch) -> Reads:
    """Counts the grants the store hands out while active."""
    return Reads(h, monkeypatch, weight=_grants_in)


@pytest.fixture
def moved_clock() -> Iterator[None]:
    before = clock.offset().total_seconds()
    yield
    clock.set_offset(before)


def _key(h: Harness) -> str:
    return str(h.run("kms", "CreateKey")["KeyMetadata"]["KeyId"])


def _many_grants(h: Harness, key_id: str, n: int = MANY, **extra: Any) -> None:
    """n grants to 500 users other than the callers of the tests."""
    for i in range(n):
        h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{h.account}:user/other{i % 500}",
              Operations=["Decrypt", "Encrypt"], **extra)


def _all_pages(h: Harness, operation: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    found, pages = [], 0
    while True:
        out = h.run("kms", operation, **params)
        found += out["Grants"]
        pages += 1
        if not out["Truncated"]:
            return found, pages
        params["Marker"] = out["NextMarker"]


def test_a_grantee_decrypts_reading_only_its_own_grants(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    key_id = _key(h)
    app, stranger = h.user("app"), h.user("stranger")
    _many_grants(h, key_id)
    for context in ({"app": "a"}, {"app": "b"}):  # the caller's grants: one with the context used, one without
        h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=app.arn, Operations=["Decrypt"],
              Constraints={"EncryptionContextEquals": context})
    blob = h.run("kms", "Encrypt", KeyId=key_id, Plaintext=b"p", EncryptionContext={"app": "a"})["CiphertextBlob"]
    reads = _grant_reads(h, monkeypatch)
    out = h.run("kms", "Decrypt", as_=app, CiphertextBlob=blob, EncryptionContext={"app": "a"})
    assert out["Plaintext"] == b"p"
    assert reads.count <= 3  # its two grants (and one that says the key has grants), not the key's 2,002
    reads.count = 0
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=stranger, CiphertextBlob=blob,
            EncryptionContext={"app": "a"})
    assert reads.count <= 1  # no grant names it
    # the grant is still decided by the policy engine: its constraint holds
    other = h.run("kms", "Encrypt", KeyId=key_id, Plaintext=b"p", EncryptionContext={"app": "c"})["CiphertextBlob"]
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=app, CiphertextBlob=other, EncryptionContext={"app": "c"})


def test_list_grants_pages_read_about_a_page(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    key_id = _key(h)
    _many_grants(h, key_id)
    reads = _grant_reads(h, monkeypatch)
    out = h.run("kms", "ListGrants", KeyId=key_id, Limit=10)
    assert len(out["Grants"]) == 10 and out["Truncated"]
    # the page, the one that says there is more, and one that says the key has grants
    # (authorization: none names the caller, who may list by the key policy)
    assert reads.count <= 12
    reads.count = 0
    found, pages = _all_pages(h, "ListGrants", KeyId=key_id, Limit=100)
    assert pages == 20 and len({g["GrantId"] for g in found}) == MANY
    assert [g["GrantId"] for g in found] == sorted(g["GrantId"] for g in found)
    assert reads.count <= MANY + 20 * 101
    # filtered by grantee: only that grantee's grants are read
    reads.count = 0
    who = f"arn:aws:iam::{h.account}:user/other7"
    found, pages = _all_pages(h, "ListGrants", KeyId=key_id, GranteePrincipal=who, Limit=3)
    assert len(found) == MANY // 500 and pages == 2 and {g["GranteePrincipal"] for g in found} == {who}
    assert reads.count <= 2 * (MANY // 500)
    reads.count = 0
    [one] = h.run("kms", "ListGrants", KeyId=key_id, GrantId=found[0]["GrantId"])["Grants"]
    assert one == found[0] and reads.count <= 2


def test_retiring_reads_only_the_grants_involved(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    key_id = _key(h)
    retirer = h.user("retirer")
    _many_grants(h, key_id, RetiringPrincipal=f"arn:aws:iam::{h.account}:user/busy")
    mine = [h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{h.account}:user/x",
                  Operations=["Decrypt"], RetiringPrincipal=retirer.arn) for _ in range(3)]
    reads = _grant_reads(h, monkeypatch)
    found, pages = _all_pages(h, "ListRetirableGrants", RetiringPrincipal=retirer.arn, Limit=2)
    assert sorted(g["GrantId"] for g in found) == sorted(g["GrantId"] for g in mine) and pages == 2
    assert reads.count <= 3 + 2
    reads.count = 0
    h.run("kms", "RetireGrant", as_=retirer, GrantToken=mine[0]["GrantToken"])
    assert reads.count <= 2  # the grant (and its key, with no grants inside)
    reads.count = 0
    h.run("kms", "RevokeGrant", KeyId=key_id, GrantId=mine[1]["GrantId"])
    assert reads.count <= 2
    h.fails("InvalidGrantTokenException", "kms", "RetireGrant", as_=retirer, GrantToken=mine[0]["GrantToken"])
    h.fails("NotFoundException", "kms", "RevokeGrant", KeyId=key_id, GrantId=mine[1]["GrantId"])
    left = h.run("kms", "ListRetirableGrants", RetiringPrincipal=retirer.arn)["Grants"]
    assert [g["GrantId"] for g in left] == [mine[2]["GrantId"]]


def test_grants_to_a_role_name_its_sessions_and_name_idempotence(h: Harness) -> None:
    key_id = _key(h)
    _many_grants(h, key_id, n=50)
    role_arn = f"arn:aws:iam::{h.account}:role/path/worker"
    first = h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=role_arn, Operations=["Encrypt"], Name="w")
    again = h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=role_arn, Operations=["Encrypt"], Name="w")
    assert again["GrantId"] == first["GrantId"]
    wider = h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=role_arn, Operations=["Encrypt", "Decrypt"],
                  Name="w")
    assert wider["GrantId"] != first["GrantId"]
    listed = h.run("kms", "ListGrants", KeyId=key_id, GranteePrincipal=role_arn)["Grants"]
    assert sorted(g["GrantId"] for g in listed) == sorted([first["GrantId"], wider["GrantId"]])


def test_a_key_has_at_most_its_quota_of_grants(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grants, "MAX_GRANTS_PER_KEY", 3)
    key_id, other = _key(h), _key(h)
    _many_grants(h, key_id, n=3)
    err = h.fails("LimitExceededException", "kms", "CreateGrant", KeyId=key_id,
                  GranteePrincipal=f"arn:aws:iam::{h.account}:user/u", Operations=["Decrypt"])
    assert key_id in err.message
    _many_grants(h, other, n=1)  # the quota is per key


def test_a_deleted_keys_grants_go_with_it(h: Harness, moved_clock: None) -> None:
    key_id = _key(h)
    _many_grants(h, key_id, n=5, RetiringPrincipal=f"arn:aws:iam::{h.account}:user/r")
    h.run("kms", "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert len(h.run("kms", "ListGrants", KeyId=key_id)["Grants"]) == 5  # still there while pending
    clock.set_offset(clock.offset().total_seconds() + 8 * 86400)
    h.fails("NotFoundException", "kms", "DescribeKey", KeyId=key_id)
    assert all(h.store.count(kind) == 0 for kind in (grants.GRANT, grants.BY_GRANTEE, grants.BY_RETIRING,
                                                     grants.BY_TOKEN))


def test_grants_kept_inside_their_key_by_an_older_skyhold_are_moved_out(h: Harness) -> None:
    key_id = _key(h)
    app, retirer = h.user("app"), h.user("retirer")
    made = [h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal=who.arn, Operations=["Decrypt", "Encrypt"],
                  RetiringPrincipal=retirer.arn) for who in (app, retirer)]
    # The data dir as an older Skyhold left it: the grants inside the key's record only.
    old_shape = [grant for kind in (grants.GRANT,) for grant in (rec.value for rec in h.store.scan(kind))]
    for kind in (grants.GRANT, grants.BY_GRANTEE, grants.BY_RETIRING, grants.BY_TOKEN):
        for rec in h.store.scan(kind):
            h.store.delete(kind, rec.key)
    rec = h.store.get(r.KEY, key_id)
    assert rec is not None
    h.store.put(r.KEY, key_id, {**rec.value, "Grants": old_shape})
    upgrades.forget(h.store, upgrades.GRANT_RECORDS)

    upgrades.run_once(h.store, upgrades.GRANT_RECORDS, grants.move_out)
    rec = h.store.get(r.KEY, key_id)
    assert rec is not None and "Grants" not in rec.value
    listed = h.run("kms", "ListGrants", KeyId=key_id)["Grants"]
    assert sorted(g["GrantId"] for g in listed) == sorted(g["GrantId"] for g in made)
    blob = h.run("kms", "Encrypt", as_=app, KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
    assert h.run("kms", "Decrypt", as_=app, CiphertextBlob=blob)["Plaintext"] == b"p"
    assert len(h.run("kms", "ListRetirableGrants", RetiringPrincipal=retirer.arn)["Grants"]) == 2
    h.run("kms", "RetireGrant", as_=retirer, GrantToken=made[0]["GrantToken"])
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=app, CiphertextBlob=blob)
    # it ran once: a later start does not scan the keys again
    upgrades.run_once(h.store, upgrades.GRANT_RECORDS, lambda store: pytest.fail("ran twice"))


def test_a_service_principals_grants_are_read_for_it(h: Harness) -> None:
    """What a service using a key itself (CloudTrail checking a trail's key) is granted."""
    key_id = _key(h)
    _many_grants(h, key_id, n=20)
    grant = h.run("kms", "CreateGrant", KeyId=key_id, GranteePrincipal="cloudtrail.amazonaws.com",
                  Operations=["GenerateDataKey"])
    call = h.call("cloudtrail", "CreateTrail", h.admin)
    key, _ = r.find(call, key_id)
    assert [g["GrantId"] for g in grants.naming(call, key, "cloudtrail.amazonaws.com")] == [grant["GrantId"]]
    assert grants.naming(call, key) == ()  # the admin is named by no grant


def test_list_pages_default_and_cap_as_each_list_documents(h: Harness) -> None:
    """ListGrants and ListAliases default to 50 a page and return at most 100 (KMS's API
    reference for Limit; the model lets any Limit be 1-1000, and KMS "might return fewer");
    ListKeys defaults to 100 and goes to 1000."""
    key_id = _key(h)
    _many_grants(h, key_id, 120)
    for _ in range(120):
        _key(h)
    for params, size in (({}, 50), ({"Limit": 500}, 100), ({"Limit": 7}, 7)):
        out = h.run("kms", "ListGrants", KeyId=key_id, **params)
        assert (len(out["Grants"]), out["Truncated"]) == (size, True)
        keys = h.run("kms", "ListKeys", **params)
        assert len(keys["Keys"]) == min(params.get("Limit", 100), 121)  # 121 keys: ListKeys' 500 is not cut
    found, _ = _all_pages(h, "ListGrants", KeyId=key_id, Limit=1000)
    assert len(found) == len({g["GrantId"] for g in found}) == 120
    aliases = h.run("kms", "ListAliases")  # the AWS managed aliases alone are fewer than 50
    assert not aliases["Truncated"] and len(aliases["Aliases"]) <= 50
