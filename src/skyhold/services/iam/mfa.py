"""Virtual MFA devices: a real Base32 seed and QR code, enabling with two consecutive
TOTP codes, resync, deactivate, delete; and `verify_totp` for STS and the console.

A device's Seed is stored only sealed with the data dir's root key (crypto/fields.py),
bound to the device's serial number; CreateVirtualMFADevice shows it once."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any
from urllib.parse import quote


from skyhold import clock
from skyhold import principal as p
from skyhold.crypto import fields
from skyhold.services.iam import common, errors, records, tags, totp, users
from skyhold.store.base import ConflictError, Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call

ROOT = records.ROOT_USER  # the UserName recorded for the root user's device
ISSUER = "Amazon Web Services"
ENABLE_WINDOW_BEHIND = 10  # steps of clock drift tolerated when enabling
RESYNC_WINDOW = 120  # ResyncMFADevice searches further (an hour each way)
SEED = "Seed"  # stored sealed


def _seed_aad(serial: str) -> bytes:
    return b"skyhold iam mfa seed " + serial.encode()


def _new_device(store: Store, device: dict[str, Any], seed: str) -> None:
    """Store a new device with its seed sealed."""
    fields.seal(fields.data_dir_of(store), device, SEED, seed, _seed_aad(device["SerialNumber"]))
    store.put(records.MFA, device["SerialNumber"], device, expect_version=0)


def seed_of(store: Store, device: dict[str, Any]) -> str:
    """The Base32 seed of a stored device (sealed, or plaintext from before sealing)."""
    return fields.reveal(fields.data_dir_of(store), device, SEED, _seed_aad(device["SerialNumber"]))


def seal_plaintext_seeds(store: Store) -> int:
    """Seal the seeds of devices stored before sealing existed (at start-up); how many."""
    data_dir, sealed = fields.data_dir_of(store), 0
    for rec in store.scan(records.MFA):
        value = fields.seal_plaintext(data_dir, rec.value, SEED, _seed_aad(rec.key))
        if value is not None:
            store.put(records.MFA, rec.key, value, expect_version=rec.version)
            sealed += 1
    return sealed


def _account_name(store: Store, account: str) -> str:
    alias = next((r.value["Alias"] for r in store.scan(records.ALIAS) if r.value["Account"] == account), None)
    return alias or account


def _qr_png(uri: str) -> bytes:
    import segno  # on first use: it costs a noticeable part of every start

    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="png", scale=4, border=4)
    return buf.getvalue()


def _require_device(store: Store, serial: str, account: str) -> tuple[dict[str, Any], int]:
    rec = store.get(records.MFA, serial)
    if rec is None or rec.value["Account"] != account:
        raise errors.no_such_entity(f"VirtualMFADevice with serial number {serial} doesn't exist.")
    return rec.value, rec.version


def create_virtual_mfa_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    name, path = params["VirtualMFADeviceName"], params.get("Path") or "/"
    new_tags = tags.initial(params.get("Tags"))
    serial = records.mfa_arn(account, name, path)
    if any(r.value["Name"].lower() == name.lower() for r in store.scan(records.MFA, f"arn:aws:iam::{account}:")):
        raise errors.already_exists("MFADevice entity at the same path and name already exists.")
    seed = totp.new_seed()
    device = {"SerialNumber": serial, "Account": account, "Name": name, "Path": path,
              "Tags": new_tags, "LastCounter": -1}
    _new_device(store, device, seed)
    # The label AWS documents: <device name>@<account alias, or id>.
    label = quote(f"{name}@{_account_name(store, account)}")
    uri = f"otpauth://totp/{label}?secret={seed}&issuer={quote(ISSUER)}"
    out: dict[str, Any] = {"SerialNumber": serial, "Base32StringSeed": seed.encode(), "QRCodePNG": _qr_png(uri)}
    if new_tags:
        out["Tags"] = new_tags
    return {"VirtualMFADevice": out}


def _owner_name(call: Call, params: dict[str, Any]) -> str:
    """The device owner: UserName, or the caller (root's devices are recorded as ROOT)."""
    if params.get("UserName") is None and call.principal.type == p.ROOT:
        return ROOT
    return common.caller_user_name(call, params)


def _two_codes(store: Store, device: dict[str, Any], code1: str, code2: str, before: int, after: int) -> int:
    now = totp.counter_at(clock.now_epoch())
    seed = seed_of(store, device)
    first = totp.find_counter(seed, code1, now, before, after)
    if first is None or totp.code(seed, first + 1) != code2:
        raise errors.invalid_authentication_code()
    return first + 1


def enable_mfa_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    device, version = _require_device(store, params["SerialNumber"], account)
    owner = params["UserName"]
    if call.principal.type == p.ROOT and device["Name"] == records.ROOT_MFA_NAME:
        owner = ROOT  # the root user's own device (its serial is …:mfa/root-account-mfa-device)
    else:
        owner = common.require_user(store, account, owner)[0]["UserName"]
    if device.get("UserName"):
        raise errors.already_exists("MFA Device is already in use.")
    last = _two_codes(store, device, params["AuthenticationCode1"], params["AuthenticationCode2"],
                      ENABLE_WINDOW_BEHIND, 1)
    device.update(UserName=owner, EnableDate=common.now_text(), LastCounter=last)
    store.put(records.MFA, device["SerialNumber"], device, expect_version=version)
    return {}


def resync_mfa_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    device, version = _require_device(store, params["SerialNumber"], account)
    owner = _owner_name(call, params)
    if (device.get("UserName") or "").lower() != owner.lower():
        raise errors.no_such_entity(f"MFA Device with serial number {params['SerialNumber']} does not exist.")
    last = _two_codes(store, device, params["AuthenticationCode1"], params["AuthenticationCode2"],
                      RESYNC_WINDOW, RESYNC_WINDOW)
    device["LastCounter"] = last
    store.put(records.MFA, device["SerialNumber"], device, expect_version=version)
    return {}


def deactivate_mfa_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    owner = _owner_name(call, params)
    rec = store.get(records.MFA, params["SerialNumber"])
    if rec is None or rec.value["Account"] != account or (rec.value.get("UserName") or "").lower() != owner.lower():
        raise errors.no_such_entity(f"MFA Device with serial number {params['SerialNumber']} does not exist.")
    device = dict(rec.value)
    device.pop("UserName", None)
    device.pop("EnableDate", None)
    store.put(records.MFA, rec.key, device, expect_version=rec.version)
    return {}


def delete_virtual_mfa_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    device, version = _require_device(store, params["SerialNumber"], account)
    if device.get("UserName"):
        raise errors.delete_conflict("MFA device is still in use.")
    store.delete(records.MFA, device["SerialNumber"], expect_version=version)
    return {}


def _devices(store: Store, account: str) -> list[dict[str, Any]]:
    return [r.value for r in store.scan(records.MFA, f"arn:aws:iam::{account}:")]


def list_mfa_devices(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    owner = _owner_name(call, params)
    if owner != ROOT:
        owner = common.require_user(store, account, owner)[0]["UserName"]
    mine = [d for d in _devices(store, account) if (d.get("UserName") or "").lower() == owner.lower()]
    page, more = common.paginate(mine, params, key=lambda d: d["SerialNumber"])
    rows = [{"UserName": "" if owner == ROOT else d["UserName"], "SerialNumber": d["SerialNumber"],
             "EnableDate": common.dt(d["EnableDate"])} for d in page]
    return {"MFADevices": rows, **more}


def list_virtual_mfa_devices(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    status = params.get("AssignmentStatus") or "Any"
    chosen = [d for d in _devices(store, account)
              if status == "Any" or (status == "Assigned") == bool(d.get("UserName"))]
    page, more = common.paginate(chosen, params, key=lambda d: d["SerialNumber"])
    rows = []
    for d in page:
        row: dict[str, Any] = {"SerialNumber": d["SerialNumber"]}
        if d.get("UserName"):
            row["EnableDate"] = common.dt(d["EnableDate"])
            if d["UserName"] == ROOT:
                row["User"] = {"UserId": account, "Arn": f"arn:aws:iam::{account}:root", "Path": "/",
                               "UserName": "", "CreateDate": common.dt(d["EnableDate"])}
            else:
                user = records.get_user(store, account, d["UserName"])
                if user:
                    row["User"] = users.view(user, full=False)
        if d.get("Tags"):
            row["Tags"] = d["Tags"]
        rows.append(row)
    return {"VirtualMFADevices": rows, **more}


def get_mfa_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    rec = store.get(records.MFA, params["SerialNumber"])
    if rec is None or rec.value["Account"] != account or not rec.value.get("UserName"):
        raise errors.no_such_entity(f"MFA Device with serial number {params['SerialNumber']} does not exist.")
    d = rec.value
    out = {"SerialNumber": d["SerialNumber"], "EnableDate": common.dt(d["EnableDate"])}
    if d["UserName"] != ROOT:
        out["UserName"] = d["UserName"]
    return out


def _locate(call: Call, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    device, version = _require_device(call.store, params["SerialNumber"], common.account_of(call))
    return device, lambda value: call.store.put(records.MFA, value["SerialNumber"], value, expect_version=version)


def enabled_device(store: Store, account: str, user_name: str) -> dict[str, Any]:
    """A virtual MFA device named after the user, enabled for them, as the console
    makes one (for an account's `admin`, whose `skyhold credentials` sign in with it)."""
    serial = records.mfa_arn(account, user_name, "/")
    device = {"SerialNumber": serial, "Account": account, "Name": user_name, "Path": "/",
              "Tags": [], "LastCounter": -1, "UserName": user_name, "EnableDate": common.now_text()}
    _new_device(store, device, totp.new_seed())
    return device


def verify_totp(store: Store, serial: str, code: str) -> bool:
    """True when `code` is the current one-time code of the enabled device `serial`.

    Accepts the previous, current and next 30-second step (clock drift), and never
    the same or an older step twice (replay protection): the step used is recorded.
    """
    rec = store.get(records.MFA, serial)
    if rec is None or not rec.value.get("UserName"):
        return False
    device = rec.value
    counter = totp.find_counter(seed_of(store, device), code, totp.counter_at(clock.now_epoch()), 1, 1)
    if counter is None or counter <= device.get("LastCounter", -1):
        return False
    try:
        store.put(records.MFA, serial, {**device, "LastCounter": counter}, expect_version=rec.version)
    except ConflictError:  # another request used a code of this device meanwhile
        return False
    return True


_tag, _untag, _list_tags = tags.handlers(_locate)

HANDLERS = {
    "CreateVirtualMFADevice": create_virtual_mfa_device,
    "EnableMFADevice": enable_mfa_device,
    "ResyncMFADevice": resync_mfa_device,
    "DeactivateMFADevice": deactivate_mfa_device,
    "DeleteVirtualMFADevice": delete_virtual_mfa_device,
    "ListMFADevices": list_mfa_devices,
    "ListVirtualMFADevices": list_virtual_mfa_devices,
    "GetMFADevice": get_mfa_device,
    "TagMFADevice": _tag,
    "UntagMFADevice": _untag,
    "ListMFADeviceTags": _list_tags,
}
