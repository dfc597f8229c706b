"""Secret rotation with AWS's four-step contract, run by a local program.

Skyhold has no Lambda, so a rotation "function" is a local command registered with
`skyhold rotation register --role-arn ROLE NAME -- CMD...` (kind
`secretsmanager.function`, key "<account>/<name>", ARN
arn:aws:lambda:<region>:<account>:function:<name>). Like a Lambda it runs as its
execution role — temporary credentials of a session of that role, which must trust
lambda.amazonaws.com — and is invoked once per step (createSecret, setSecret,
testSecret, finishSecret) with the event {"SecretId", "ClientRequestToken", "Step"}
as JSON on standard input and in SKYHOLD_ROTATION_EVENT. A step fails when the
command exits non-zero; the rotation then stops, as AWS's does.

Scheduled rotation follows Skyhold's clock: a background task looks for secrets
whose NextRotationDate has passed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import subprocess
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import clock
from skyhold import principal as p
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.policy import Caller, PolicySet, RequestContext, evaluate
from skyhold.services.kms.records import parse_time
from skyhold.services.sts import sessions
from skyhold.services.iam.roles import evaluated_trust
from skyhold.services.sts.roles import find_role
from skyhold.store.base import ConflictError, Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call, Pipeline

FUNCTION = "secretsmanager.function"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
CHECK_EVERY = 2.0  # seconds between looks for due rotations
log = logging.getLogger("skyhold.rotation")


def function_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


# Lambda's rules (botocore's lambda model): a function name is 1-64 of these characters
# (the 140 limit is for a full ARN); an execution role is an IAM role ARN.
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_ROLE_ARN = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")


class RegistrationError(ValueError):
    """A one-line reason `skyhold rotation register` refuses."""


def checked_registration(name: str, role_arn: str, command: list[str]) -> list[str]:
    """The command to store, its program made an absolute path (the server runs it from
    another directory, maybe with another PATH), or RegistrationError."""
    if not _FUNCTION_NAME.fullmatch(name):
        raise RegistrationError(f"invalid function name {name!r}: Lambda allows 1 to 64 letters, digits, "
                                "hyphens and underscores")
    if len(role_arn) > 10000 or not _ROLE_ARN.fullmatch(role_arn):
        raise RegistrationError(f"invalid --role-arn {role_arn!r}: give an IAM role ARN, "
                                "arn:aws:iam::ACCOUNT:role/NAME")
    program = command[0]
    found = shutil.which(program) if os.sep not in program else os.path.abspath(program)
    if found is None or not os.path.exists(found):
        raise RegistrationError(f"cannot run {program}: no such program")
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        raise RegistrationError(f"cannot run {program}: not an executable file")
    return [found, *command[1:]]


def register(store: Store, account: str, name: str, role_arn: str, command: list[str]) -> str:
    store.put(FUNCTION, f"{account}/{name}", {"Name": name, "Account": account, "RoleArn": role_arn,
                                               "Command": command})
    return function_arn("us-east-1", account, name)


def _function(store: Store, function: str) -> dict[str, Any] | None:
    try:
        parsed = arns.parse(function)
        account, name = parsed.account, parsed.resource.rsplit(":", 1)[-1]
    except ValueError:
        return None
    rec = store.get(FUNCTION, f"{account}/{name}")
    return rec.value if rec else None


def _function_account(function: str) -> str | None:
    try:
        return arns.parse(function).account
    except ValueError:
        return None


def check_function(call: Call, function: str, secret_account: str) -> dict[str, Any]:
    fn = _function(call.store, function)
    # Another account's function could only be invoked if its resource-based policy
    # allowed it; Skyhold's functions have none, so Secrets Manager cannot invoke it.
    if fn is None or fn["Account"] != secret_account:
        # AWS's answer for a function it cannot invoke (missing, or its policy refuses).
        raise AwsError("AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. "
                       "Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.")
    return fn


def _credentials(store: Store, fn: dict[str, Any], region: str) -> dict[str, Any]:
    """A session of the function's execution role, as Lambda would give it."""
    role = find_role(store, fn["RoleArn"])
    if role is None:
        raise RuntimeError(f"execution role {fn['RoleArn']} does not exist")
    account = arns.parse(role["Arn"]).account
    decision = evaluate(
        RequestContext(Caller.from_arn("lambda.amazonaws.com"), "sts:AssumeRole", role["Arn"],
                       resource_account=account, resource_policy_required=True),
        PolicySet.build(resource=evaluated_trust(store, role)),
    )
    if not decision.allowed:
        raise RuntimeError(f"role {role['Arn']} does not trust lambda.amazonaws.com")
    return sessions.issue(store, sessions.NewSession(
        type=p.ASSUMED_ROLE, account=account, arn=arns.assumed_role(account, role["RoleName"], fn["Name"]),
        user_id=f"{role['RoleId']}:{fn['Name']}", name=fn["Name"], duration=900, role_name=role["RoleName"],
        role_arn=role["Arn"], tags={t["Key"]: t["Value"] for t in role.get("Tags") or []},
    ))


def run_steps(store: Store, endpoint: str, secret_arn: str, token: str, fn: dict[str, Any], region: str,
              extra_env: dict[str, str] | None = None) -> bool:
    """Invoke the four steps in order; False at the first failing step. `extra_env`:
    e.g. AWS_CA_BUNDLE for an HTTPS endpoint."""
    creds = _credentials(store, fn, region)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, **(extra_env or {})})
    for step in STEPS:
        event = json.dumps({"SecretId": secret_arn, "ClientRequestToken": token, "Step": step})
        env["SKYHOLD_ROTATION_EVENT"] = event
        try:
            result = subprocess.run(fn["Command"], input=event, text=True, capture_output=True, env=env, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            # The program is gone, or hangs: the step fails, as a Lambda that errors does.
            reason = f"cannot run {fn['Command'][0]}: {e.strerror}" if isinstance(e, OSError) else str(e)
            log.warning("rotation of %s failed at %s: %s", secret_arn, step, reason)
            return False
        if result.returncode != 0:
            log.warning("rotation of %s failed at %s: %s", secret_arn, step, result.stderr.strip()[-500:])
            return False
    return True


def rotation_fields(secret: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # AWS leaves RotationEnabled out until rotation has been set up (false after a cancel).
    if secret.get("RotationLambdaARN") or secret.get("RotationCancelled"):
        out["RotationEnabled"] = bool(secret.get("RotationLambdaARN"))
    if secret.get("RotationLambdaARN"):
        out["RotationLambdaARN"] = secret["RotationLambdaARN"]
        if secret.get("RotationRules"):  # a rotation asked without rules has none
            out["RotationRules"] = secret["RotationRules"]
        if secret.get("NextRotationDate"):
            out["NextRotationDate"] = parse_time(secret["NextRotationDate"])
    if secret.get("LastRotatedDate"):
        out["LastRotatedDate"] = parse_time(secret["LastRotatedDate"])
    return out


def schedule(secret: dict[str, Any], rules: dict[str, Any]) -> None:
    days = rules.get("AutomaticallyAfterDays")
    if days is None:
        raise AwsError("InvalidParameterException", "Skyhold supports RotationRules.AutomaticallyAfterDays "
                       "(ScheduleExpression is not supported yet).")
    if not 1 <= days <= 1000:
        raise AwsError("InvalidParameterException", "AutomaticallyAfterDays must be between 1 and 1000.")
    secret["RotationRules"] = {"AutomaticallyAfterDays": days}
    secret["NextRotationDate"] = clock.iso8601(clock.now() + timedelta(days=days))


def rotate_authz(call: Call, params: dict[str, Any], secret_account: str) -> list[Access]:
    function: str = params.get("RotationLambdaARN") or ""
    if _function_account(function) != secret_account:
        # No function, or one Secrets Manager cannot invoke: `check_function` refuses it.
        return []
    # Decided as a resource of the function's account (a caller of another account
    # would need the function's policy, which Skyhold's functions do not have).
    return [Access("lambda:InvokeFunction", function, resource_account=secret_account)]


def _update(store: Store, kind: str, key: str, change: Any) -> bool:
    """Apply `change` to the record's value and save it; again if a call wrote it meanwhile
    (a GetSecretValue notes its day of access on the secret): such a conflict silently
    ended the rotation. False if the record is gone."""
    while True:
        rec = store.get(kind, key)
        if rec is None:
            return False
        value = rec.value
        change(value)
        try:
            store.put(kind, key, value, expect_version=rec.version)
            return True
        except ConflictError:
            continue


class Rotator:
    """Runs rotations off the request path: at once when asked, or when due."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.task: asyncio.Task[None] | None = None
        self.endpoint = pipeline.endpoint

    def start_now(self, secret_key: str, token: str, endpoint: str) -> None:
        self.endpoint = endpoint or self.endpoint
        asyncio.get_running_loop().create_task(asyncio.to_thread(self._rotate, secret_key, token))

    def _rotate(self, secret_key: str, token: str) -> None:
        from skyhold import tls
        from skyhold.services.secretsmanager.secrets import SECRET, add_pending_version

        store = self.pipeline.store
        rec = store.get(SECRET, secret_key)
        if rec is None:
            return
        secret = rec.value
        fn = _function(store, secret.get("RotationLambdaARN", ""))
        if fn is None or fn["Account"] != arns.parse(secret["ARN"]).account:
            return  # never run another account's function (or its role) for this secret
        if not _update(store, SECRET, secret_key, lambda secret: add_pending_version(secret, token)):
            return
        try:
            ok = run_steps(store, self.endpoint, secret["ARN"], token, fn, secret_key.split("/")[1],
                           tls.client_env(self.pipeline.data_dir, self.endpoint))
        except RuntimeError as e:  # its role is gone or does not trust Lambda: the rotation fails
            log.warning("rotation of %s could not run: %s", secret["ARN"], e)
            ok = False
        except Exception:  # the function could not even start: the rotation fails
            log.exception("rotation of %s could not run", secret["ARN"])
            ok = False
        if ok:
            def rotated(secret: dict[str, Any]) -> None:
                secret["LastRotatedDate"] = clock.now_iso8601()
                if secret.get("RotationRules"):
                    schedule(secret, secret["RotationRules"])

            _update(store, SECRET, secret_key, rotated)

    async def watch(self) -> None:
        from skyhold.services.secretsmanager.secrets import SECRET

        while True:
            await asyncio.sleep(CHECK_EVERY)
            now = clock.now()
            for rec in self.pipeline.store.scan(SECRET):
                due = rec.value.get("NextRotationDate")
                if due and not rec.value.get("DeletedDate") and parse_time(due) <= now and self.endpoint:
                    # push the date first so one due rotation starts once
                    value = dict(rec.value)
                    value["NextRotationDate"] = clock.iso8601(now + timedelta(days=1))
                    self.pipeline.store.put(SECRET, rec.key, value, expect_version=rec.version)
                    self.start_now(rec.key, str(uuid.uuid4()), self.endpoint)


def endpoint_of(call: Call) -> str:
    host = call.request.headers.get("host", "127.0.0.1:4566")
    return f"{call.request.scheme}://{host}"


