"""Virtual MFA: seed and QR code, enabling with real TOTP codes, replay protection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

from skyhold.services.iam import verify_totp

from .conftest import ACCOUNT, fails

T0 = 1_800_000_000  # a multiple of 30: step boundaries are easy to reason about


def rfc6238(seed: str, t: float) -> str:
    """TOTP written out independently of the implementation under test."""
    key = base64.b32decode(seed)
    digest = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    o = digest[19] & 15
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def test_rfc6238_reference_vector():
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890", T=59 → 94287082 (8 digits) → 287082.
    from skyhold.services.iam import totp
    seed = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code(seed, 59 // 30) == "287082"
    assert totp.code(seed, 1111111109 // 30) == "081804"


def test_virtual_mfa_lifecycle(iam, store, frozen_clock):
    frozen_clock(T0)
    iam("CreateUser", UserName="mo")
    dev = iam("CreateVirtualMFADevice", VirtualMFADeviceName="mo-phone")["VirtualMFADevice"]
    serial = dev["SerialNumber"]
    assert serial == f"arn:aws:iam::{ACCOUNT}:mfa/mo-phone"
    seed = dev["Base32StringSeed"].decode()
    assert len(base64.b32decode(seed)) == 40
    assert dev["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    fails(iam, "CreateVirtualMFADevice", "EntityAlreadyExists",
          "MFADevice entity at the same path and name already exists.", VirtualMFADeviceName="mo-phone")
    unassigned = iam("ListVirtualMFADevices", AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert [d["SerialNumber"] for d in unassigned] == [serial]

    fails(iam, "EnableMFADevice", "InvalidAuthenticationCode", "Authentication code for device is not valid.", 403,
          UserName="mo", SerialNumber=serial, AuthenticationCode1=rfc6238(seed, T0),
          AuthenticationCode2=rfc6238(seed, T0 + 60))  # not consecutive
    iam("EnableMFADevice", UserName="mo", SerialNumber=serial,
        AuthenticationCode1=rfc6238(seed, T0 - 30), AuthenticationCode2=rfc6238(seed, T0))
    assert [d["SerialNumber"] for d in iam("ListMFADevices", UserName="mo")["MFADevices"]] == [serial]
    assigned = iam("ListVirtualMFADevices", AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert assigned[0]["User"]["UserName"] == "mo"
    fails(iam, "DeleteUser", "DeleteConflict", "Cannot delete entity, must delete MFA device first.", UserName="mo")
    fails(iam, "DeleteVirtualMFADevice", "DeleteConflict", SerialNumber=serial)

    # STS-style verification: the code used for enabling cannot be replayed; the next one works once.
    assert not verify_totp(store, serial, rfc6238(seed, T0))
    frozen_clock(T0 + 30)
    assert verify_totp(store, serial, rfc6238(seed, T0 + 30))
    assert not verify_totp(store, serial, rfc6238(seed, T0 + 30))
    wrong = rfc6238(seed, T0 + 9000)
    assert wrong != rfc6238(seed, T0 + 60) and not verify_totp(store, serial, wrong)

    frozen_clock(T0 + 3000)  # drifted: resync with two consecutive codes
    iam("ResyncMFADevice", UserName="mo", SerialNumber=serial,
        AuthenticationCode1=rfc6238(seed, T0 + 3000), AuthenticationCode2=rfc6238(seed, T0 + 3030))
    iam("DeactivateMFADevice", UserName="mo", SerialNumber=serial)
    assert iam("ListMFADevices", UserName="mo")["MFADevices"] == []
    assert not verify_totp(store, serial, rfc6238(seed, T0 + 3000))  # not enabled any more
    iam("DeleteVirtualMFADevice", SerialNumber=serial)
    assert iam("ListVirtualMFADevices")["VirtualMFADevices"] == []
    iam("DeleteUser", UserName="mo")


def test_root_mfa(iam, store, frozen_clock):
    frozen_clock(T0)
    dev = iam("CreateVirtualMFADevice", VirtualMFADeviceName="root-account-mfa-device")["VirtualMFADevice"]
    seed = dev["Base32StringSeed"].decode()
    assert dev["SerialNumber"] == f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device"
    iam("EnableMFADevice", UserName="root", SerialNumber=dev["SerialNumber"],
        AuthenticationCode1=rfc6238(seed, T0), AuthenticationCode2=rfc6238(seed, T0 + 30))
    assert iam("GetAccountSummary")["SummaryMap"]["AccountMFAEnabled"] == 1
    assert [d["SerialNumber"] for d in iam("ListMFADevices")["MFADevices"]] == [dev["SerialNumber"]]


def test_qr_code_encodes_otpauth_uri(iam, frozen_clock):
    import io

    import segno
    frozen_clock(T0)
    dev = iam("CreateVirtualMFADevice", VirtualMFADeviceName="qr")["VirtualMFADevice"]
    seed = dev["Base32StringSeed"].decode()
    # The label AWS documents (<device>@<account alias or id>) plus the issuer parameter.
    uri = f"otpauth://totp/qr%40{ACCOUNT}?secret={seed}&issuer=Amazon%20Web%20Services"
    expected = io.BytesIO()
    segno.make(uri, error="m").save(expected, kind="png", scale=4, border=4)
    assert dev["QRCodePNG"] == expected.getvalue()
