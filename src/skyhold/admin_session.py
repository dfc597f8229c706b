"""`skyhold credentials`: the administrator's short-lived credentials, got as a careful
administrator gets them on AWS: GetSessionToken, signed with the long-lived key, with
a code of the admin's MFA device (without MFA, GetSessionToken's credentials may not
call IAM).

An issued session is kept in the data dir (owner-only) and handed out again until it
nears its expiry, as aws-vault keeps sessions: every `aws` command runs the credential
process anew, and each MFA code can be used only once. A lock makes concurrent
commands share one issue. A kept session is handed out only for the duration it was
issued for: asking for another duration issues a new session.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from skyhold import clock
from skyhold.services.iam import totp

FOLDER = "cli-sessions"  # in the data dir
# botocore refreshes credential_process credentials 15 minutes before they expire:
# a cached session with less left than this would be asked for again at once.
REUSE_MARGIN_SECONDS = 15 * 60
_MFA_REFUSED = "MultiFactorAuthentication failed"
# GetSessionToken's DurationSeconds range (an IAM user's session: 15 minutes to 36 hours).
MIN_DURATION, MAX_DURATION = 900, 129600
_DURATION = "SkyholdDurationSeconds"  # in the kept file only: which --duration it answers


class SessionError(Exception):
    """Skyhold could not be reached or refused the session; str() is the CLI's one line."""


def admin_credentials(
    data_dir: Path,
    account_id: str,
    key: dict[str, Any],
    mfa_device: dict[str, Any] | None,
    endpoint: str,
    duration: int,
) -> dict[str, Any]:
    """credential_process's JSON for the account's admin. Skyhold's clock (with its
    offset loaded) decides whether a kept session is still good."""
    folder = data_dir / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    kept = folder / f"{account_id}.json"
    with open(folder / f"{account_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = _read(kept)
        if cached is not None and cached.pop(_DURATION, None) == duration \
                and _seconds_left(cached) > REUSE_MARGIN_SECONDS:
            return cached
        fresh = _issue(key, mfa_device, endpoint, duration)
        _write(kept, {**fresh, _DURATION: duration})
        return fresh


def _issue(key: dict[str, Any], device: dict[str, Any] | None, endpoint: str, duration: int) -> dict[str, Any]:
    import botocore.exceptions
    import botocore.session

    try:
        sts = botocore.session.get_session().create_client(
            "sts", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        )
    except (botocore.exceptions.BotoCoreError, ValueError) as err:  # not a URL, say
        raise SessionError(f"cannot reach Skyhold at {endpoint}: {err}") from None
    params: dict[str, Any] = {"DurationSeconds": duration}
    for attempt in range(2):
        if device is not None:
            counter = totp.counter_at(clock.now_epoch())
            params.update(SerialNumber=device["SerialNumber"], TokenCode=totp.code(device["Seed"], counter))
        try:
            creds = sts.get_session_token(**params)["Credentials"]
            break
        except botocore.exceptions.ClientError as err:
            error = err.response.get("Error", {})
            # This step's code was used already (a session kept elsewhere was lost):
            # the next step's code is new.
            if attempt or _MFA_REFUSED not in str(error.get("Message", "")):
                raise SessionError(f"{error.get('Code', 'Error')}: {error.get('Message', '')}") from None
            time.sleep(totp.STEP_SECONDS - clock.now_epoch() % totp.STEP_SECONDS + 0.05)
        except (botocore.exceptions.BotoCoreError, OSError) as err:  # down, another port, TLS...
            raise SessionError(f"cannot reach Skyhold at {endpoint}: {err}") from None
    return {
        "Version": 1,
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "SessionToken": creds["SessionToken"],
        "Expiration": creds["Expiration"].isoformat(),
    }


def _seconds_left(creds: dict[str, Any]) -> float:
    try:
        expires = datetime.fromisoformat(creds["Expiration"])
    except (KeyError, TypeError, ValueError):
        return 0.0
    return (expires - clock.now()).total_seconds()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and "AccessKeyId" in value else None


def _write(path: Path, creds: dict[str, Any]) -> None:
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh)
    os.replace(temp, path)
