"""The `skyhold` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from skyhold import config
from skyhold.stop_signals import StartupSignals, Stopped


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    signals = StartupSignals() if argv[:1] == ["up"] else None
    try:
        if signals is not None:
            signals.install()  # first: a Ctrl-C while the modules load is no traceback
        sys.exit(_run(argv, signals))
    except Stopped as stop:  # a signal while `up` starts
        if stop.signum == signal.SIGINT:  # SIGTERM asked for it: quietly
            print("skyhold: interrupted before serving", file=sys.stderr)
        sys.exit(stop.exit_status)


def _run(argv: list[str], signals: StartupSignals | None) -> int:
    from skyhold.store import DataDirError

    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    args.signals = signals
    try:
        return int(args.func(args))
    except (DataDirError, config.UsageError) as err:  # one line, not a traceback
        print(f"skyhold: {err}", file=sys.stderr)
        return 2


def _botocore_without_crt() -> None:
    """botocore imports awscrt, when it is installed, to sign requests with it: some 40 ms
    of native-library loading at every start of the server, for signing the server never
    does. Hide awscrt from botocore; Skyhold's checksum code imports it on first use."""
    if "botocore" in sys.modules:
        return
    sys.modules["awscrt"] = None  # type: ignore[assignment]  # botocore then falls back to its own signer
    try:
        import botocore.compat  # noqa: F401
    finally:
        del sys.modules["awscrt"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyhold", description="A local AWS cloud with a real security plane.")
    commands = parser.add_subparsers(metavar="COMMAND")

    up = commands.add_parser("up", help="start the server")
    up.add_argument("--host", help="address to bind (default 127.0.0.1; env SKYHOLD_HOST)")
    up.add_argument("--port", type=_port, help="port (default 4566; env SKYHOLD_PORT)")
    up.add_argument("--https-port", type=_port,
                    help="also serve HTTPS on this port, with a certificate of a local CA (env SKYHOLD_HTTPS_PORT; "
                    "default: no HTTPS)")
    up.add_argument("--no-audit", action="store_true",
                    help="record no CloudTrail events (only to measure what recording costs)")
    _data_dir_flag(up)
    up.set_defaults(func=_up)

    conf = commands.add_parser("configure", help="write an AWS CLI/SDK profile for Skyhold")
    conf.add_argument("--profile", default="skyhold", help="profile name (default: skyhold)")
    conf.add_argument("--endpoint", help="Skyhold's URL (default http://127.0.0.1:4566); an https:// one "
                      "also writes ca_bundle, Skyhold's local CA")
    conf.add_argument("--https", action="store_true",
                      help="use the HTTPS listener: endpoint https://127.0.0.1:PORT and ca_bundle, Skyhold's local CA")
    conf.add_argument("--https-port", type=_port,
                      help="with --https: the port of `skyhold up --https-port` (env SKYHOLD_HTTPS_PORT; default 4567)")
    conf.add_argument("--account", help="account id or name (default: the first account)")
    conf.add_argument("--static-keys", action="store_true",
                      help="write the admin's long-lived access key instead of a credential_process")
    _data_dir_flag(conf)
    conf.set_defaults(func=_configure)

    creds = commands.add_parser("credentials", help="print short-lived admin credentials (for credential_process)")
    creds.add_argument("--endpoint", help="Skyhold's URL (default http://127.0.0.1:4566)")
    creds.add_argument("--account", help="account id or name (default: the first account)")
    creds.add_argument("--duration", type=_duration, default=3600,
                       help="seconds the credentials last, 900-129600 (default 3600); a kept session is handed out "
                       "again only for the duration it was issued for")
    _data_dir_flag(creds)
    creds.set_defaults(func=_credentials)

    clk = commands.add_parser("clock", help="show or move Skyhold's clock (as Skyhold's administrator, the "
                              "first account's admin)")
    clk_cmds = clk.add_subparsers(metavar="ACTION")
    for name, helptext in (("show", "print Skyhold's time"), ("reset", "back to real time")):
        sub = clk_cmds.add_parser(name, help=helptext)
        sub.set_defaults(func=_clock, action=name, amount=None)
        _admin_flags(sub)
    adv = clk_cmds.add_parser("advance", help="move time forward, e.g. `skyhold clock advance 2h`")
    adv.add_argument("amount", help="e.g. 90s, 15m, 2h, 1h30m, 100d")
    adv.set_defaults(func=_clock, action="advance")
    _admin_flags(adv)

    account = commands.add_parser("account", help="manage accounts")
    account_cmds = account.add_subparsers(metavar="ACTION")
    create = account_cmds.add_parser("create", help="add an account with its own root and admin user")
    create.add_argument("name")
    _data_dir_flag(create)
    create.set_defaults(func=_account_create)
    root_key = account_cmds.add_parser("root-key", help="create an access key for an account's root user")
    root_key.add_argument("--account", help="account id or name (default: the first account)")
    _data_dir_flag(root_key)
    root_key.set_defaults(func=_account_root_key)
    listing = account_cmds.add_parser("list", help="list accounts")
    _data_dir_flag(listing)
    listing.set_defaults(func=_account_list)

    oidc_cmd = commands.add_parser("oidc", help="Skyhold's local OpenID Connect issuer")
    oidc_cmds = oidc_cmd.add_subparsers(metavar="ACTION")
    tok = oidc_cmds.add_parser("token", help="print a signed web identity token (JWT)")
    tok.add_argument("--sub", required=True, help="subject, e.g. system:serviceaccount:default:app")
    tok.add_argument("--aud", default="sts.amazonaws.com", help="audience (default sts.amazonaws.com)")
    tok.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    tok.add_argument("--claim", action="append", default=[], metavar="K=V", help="an extra claim")
    _data_dir_flag(tok)
    tok.set_defaults(func=_oidc_token)
    issuer = oidc_cmds.add_parser("issuer", help="print the issuer URL to register with IAM")
    _data_dir_flag(issuer)
    issuer.set_defaults(func=_oidc_issuer)

    exp = commands.add_parser("explain", help="why a call was denied (or allowed), from the audit trail")
    exp.add_argument("request_id", nargs="?", help="the request id of the call")
    exp.add_argument("--last-denied", metavar="PRINCIPAL", help="the newest denied call of a principal (ARN or name)")
    exp.add_argument("--json", action="store_true", help="print the recorded event and decision trace as JSON")
    _data_dir_flag(exp)
    exp.set_defaults(func=_explain)

    rot = commands.add_parser("rotation", help="local programs that rotate Secrets Manager secrets")
    rot_cmds = rot.add_subparsers(metavar="ACTION")
    reg = rot_cmds.add_parser("register", help="register a rotation function: --role-arn ROLE NAME -- CMD...")
    reg.add_argument("name")
    reg.add_argument("--role-arn", required=True, help="the execution role (must trust lambda.amazonaws.com)")
    reg.add_argument("--account", help="account id or name (default: the first account)")
    reg.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD... run once per rotation step")
    _data_dir_flag(reg)
    reg.set_defaults(func=_rotation_register)

    from skyhold.instance_cli import add_parser as add_instance_parser
    from skyhold.policy.cli import add_parser as add_policy_parser

    add_policy_parser(commands)
    add_instance_parser(commands)
    return parser


def _port(text: str) -> int:
    try:
        return config.port_number(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _duration(text: str) -> int:
    from skyhold.admin_session import MAX_DURATION, MIN_DURATION

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: not a number") from None
    if not MIN_DURATION <= value <= MAX_DURATION:  # GetSessionToken's range
        raise argparse.ArgumentTypeError(f"invalid duration {value}: {MIN_DURATION}-{MAX_DURATION} seconds")
    return value


def _admin_flags(p: argparse.ArgumentParser) -> None:
    """The admin API's commands sign as Skyhold's administrator, the first account's
    admin (the API answers no one else): no --account."""
    p.add_argument("--endpoint", help="Skyhold's URL (default http://127.0.0.1:4566)")
    p.set_defaults(account=None)
    _data_dir_flag(p)


def _data_dir_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where state lives (env SKYHOLD_DATA_DIR; default: per-user data dir)")


def _open(args: Any) -> Any:
    """The data dir's store; only `up` creates one (a mistyped --data-dir is an error)."""
    from skyhold.store import open_existing_store

    return open_existing_store(config.data_dir(args.data_dir))


def _up(args: Any) -> int:
    signals: StartupSignals = args.signals
    host, port, https_port = config.host(args.host), config.port(args.port), config.https_port(args.https_port)
    _botocore_without_crt()
    from skyhold.serve import ListenError, serve

    signals.check()
    try:
        return serve(host, port, config.data_dir(args.data_dir), audit=not args.no_audit, https_port=https_port,
                     signals=signals)
    except ListenError as err:
        print(f"skyhold: {err}", file=sys.stderr)
        return 3  # as uvicorn's own start-up failure


def _configure(args: Any) -> int:
    import shlex

    from skyhold.configure import ConfigureError, write_profile

    found = _admin_key(args)
    if isinstance(found, int):
        return found
    account, key = found
    endpoint = _endpoint(args)
    ca_bundle = _ca_bundle(args, endpoint)
    try:  # a bad profile name or an unparsable AWS file: one line, nothing written
        if args.static_keys:
            paths = write_profile(args.profile, endpoint, static_keys=(key["AccessKeyId"], key["SecretAccessKey"]),
                                  ca_bundle=ca_bundle)
        else:
            command = [sys.executable, "-m", "skyhold.cli", "credentials", "--data-dir",
                       str(config.data_dir(args.data_dir)), "--endpoint", endpoint, "--account", account["Id"]]
            paths = write_profile(args.profile, endpoint, credential_process=shlex.join(command), ca_bundle=ca_bundle)
    except ConfigureError as e:
        print(f"skyhold: {e}", file=sys.stderr)
        return 2
    kind = "a long-lived access key" if args.static_keys else "short-lived credentials (credential_process)"
    print(f"Wrote profile {args.profile!r}: account {account['Id']}, user admin, {kind}, endpoint {endpoint}")
    for path in paths:
        print(f"  {path}")
    print(f"Try: aws --profile {args.profile} sts get-caller-identity")
    return 0


def _endpoint(args: Any) -> str:
    if args.endpoint:
        return str(args.endpoint)
    if getattr(args, "https", False):
        port = config.https_port(args.https_port) or config.DEFAULT_HTTPS_PORT
        return config.endpoint_url(config.host(None), port, "https")
    return config.endpoint_url(config.host(None), config.port(None))


def _ca_bundle(args: Any, endpoint: str) -> str | None:
    """Skyhold's local CA certificate when the endpoint is HTTPS (made now if `skyhold up`
    has not made it yet: the server then signs with the same CA)."""
    if not endpoint.lower().startswith("https:"):
        return None
    from skyhold import tls

    return str(tls.ca_path(config.data_dir(args.data_dir)))


def _admin_key(args: Any) -> tuple[dict[str, Any], dict[str, Any]] | int:
    """(account, the admin's active long-lived key) from the data dir, or an exit code."""
    from skyhold import accounts
    from skyhold.services.iam import records as iam

    store, _ = _open(args)
    try:
        account = _pick_account(store, args.account)
        if account is None:
            print("skyhold: no such account (start `skyhold up` once to create the first)", file=sys.stderr)
            return 2
        keys = [iam.revealed_key(store, k)  # its secret opened: the CLI signs with it
                for k in iam.access_keys_of(store, account["Id"], accounts.ADMIN_USER) if k["Status"] == "Active"]
    finally:
        store.close()
    if not keys:
        print(f"skyhold: account {account['Id']}'s admin has no active access key", file=sys.stderr)
        return 2
    return account, keys[0]


def _credentials(args: Any) -> int:
    """credential_process: the admin's session (GetSessionToken with MFA), in the SDKs' format."""
    import json

    from skyhold import accounts, admin_api, admin_session

    found = _admin_key(args)
    if isinstance(found, int):
        return found
    account, key = found
    store, _ = _open(args)
    try:
        admin_api.load_clock(store)  # kept sessions expire by Skyhold's clock
        device = accounts.admin_mfa_device(store, account["Id"])
    finally:
        store.close()
    ca_bundle = _ca_bundle(args, _endpoint(args))
    if ca_bundle:  # the STS call below goes to Skyhold only: it trusts Skyhold's CA, whatever the caller's is
        os.environ["AWS_CA_BUNDLE"] = ca_bundle
    if device is None:
        print(f"skyhold: account {account['Id']}'s admin has no enabled MFA device of Skyhold's: these "
              "credentials cannot call IAM (GetSessionToken without MFA)", file=sys.stderr)
    try:
        creds = admin_session.admin_credentials(
            config.data_dir(args.data_dir), account["Id"], key, device, _endpoint(args), args.duration
        )
    except admin_session.SessionError as err:  # the aws CLI shows this stderr to its user
        print(f"skyhold: {err}", file=sys.stderr)
        return 1
    print(json.dumps(creds))
    return 0


def _clock(args: Any) -> int:
    from skyhold.admin_client import call, parse_duration
    from skyhold.errors import AwsError

    found = _admin_key(args)
    if isinstance(found, int):
        return found
    _, key = found
    endpoint = _endpoint(args)
    cafile = _ca_bundle(args, endpoint)  # an https endpoint: trust Skyhold's own CA
    try:
        if args.action == "show":
            state = call(endpoint, key["AccessKeyId"], key["SecretAccessKey"], "GET", "/_skyhold/clock",
                         cafile=cafile)
        else:
            payload = {"reset": True} if args.action == "reset" else {"advance_seconds": parse_duration(args.amount)}
            state = call(endpoint, key["AccessKeyId"], key["SecretAccessKey"], "POST", "/_skyhold/clock",
                         payload, cafile=cafile)
    except ValueError as err:
        print(f"skyhold: {err}", file=sys.stderr)
        return 2
    except AwsError as err:
        print(f"skyhold: {err.code}: {err.message}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"skyhold: cannot reach Skyhold at {_endpoint(args)}: {err}", file=sys.stderr)
        return 1
    print(f"Skyhold's time: {state['now']} (real time + {state['offset_seconds']:.0f}s)")
    return 0


def _pick_account(store: Any, wanted: str | None) -> dict[str, Any] | None:
    from skyhold import accounts

    if not wanted:
        return accounts.default_account(store)
    return accounts.get_account(store, wanted) or accounts.find_by_name(store, wanted)


def _oidc_issuer(args: Any) -> int:
    from skyhold.oidc import ISSUER

    print(ISSUER)
    return 0


def _oidc_token(args: Any) -> int:
    from skyhold import admin_api, clock, oidc

    claims = {}
    for item in args.claim:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"skyhold: --claim wants K=V, got {item!r}", file=sys.stderr)
            return 2
        claims[key] = value
    data_dir = config.data_dir(args.data_dir)
    store, _ = _open(args)
    try:
        admin_api.load_clock(store)  # tokens are dated by Skyhold's clock
    finally:
        store.close()
    print(oidc.mint(data_dir, sub=args.sub, aud=args.aud, now=clock.now_epoch(), ttl=args.ttl, claims=claims))
    return 0


def _explain(args: Any) -> int:
    import json
    import sqlite3
    import time

    from skyhold import explain

    if bool(args.request_id) == bool(args.last_denied):
        print("skyhold: give a request id or --last-denied PRINCIPAL", file=sys.stderr)
        return 2
    from skyhold.store import existing_data_dir, open_trail_store, unusable

    from skyhold.trail import index, journal, writer

    data_dir = existing_data_dir(config.data_dir(args.data_dir))
    try:
        store = open_trail_store(data_dir)
    except (OSError, sqlite3.Error) as err:
        raise unusable(data_dir, err) from None
    try:
        index.catch_up(store, data_dir / journal.FOLDER)  # calls the server has not indexed yet
        if args.request_id:
            record = explain.find_by_request(store, args.request_id)
            if record is None:  # a read answered a moment ago: its event may still linger in the writer
                time.sleep(writer.LINGER * 25)
                index.catch_up(store, data_dir / journal.FOLDER)
                record = explain.find_by_request(store, args.request_id)
        else:
            record = explain.find_last_denied(store, args.last_denied)
    finally:
        store.close()
    if record is None:
        print("skyhold: no such call in the audit trail", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**record, "suggestion": explain.suggestion(record["explain"]) if record.get("explain")
                          else None}, indent=2))
    else:
        print(explain.render(record))
    return 0


def _rotation_register(args: Any) -> int:
    from skyhold.services.secretsmanager.rotation import RegistrationError, checked_registration, register

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("skyhold: give the command after --", file=sys.stderr)
        return 2
    try:  # refuse now what could never run, rather than fail at the first rotation
        command = checked_registration(args.name, args.role_arn, command)
    except RegistrationError as e:
        print(f"skyhold: {e}", file=sys.stderr)
        return 2
    store, _ = _open(args)
    try:
        account = _pick_account(store, args.account)
        if account is None:
            print("skyhold: no such account", file=sys.stderr)
            return 2
        arn = register(store, account["Id"], args.name, args.role_arn, command)
    finally:
        store.close()
    print(arn)
    return 0


# Organizations' AccountName: 1-128 characters, any of them (pattern [\s\S]*).
ACCOUNT_NAME_MAX = 128


def _account_create(args: Any) -> int:
    import re
    import shlex

    from skyhold import accounts

    if not 1 <= len(args.name) <= ACCOUNT_NAME_MAX:
        print(f"skyhold: an account name is 1-{ACCOUNT_NAME_MAX} characters", file=sys.stderr)
        return 2
    data_dir = config.data_dir(args.data_dir)
    store, _ = _open(args)
    try:
        # The first account is Skyhold's administrator (admin_api pins it at the first
        # `up`): only `up` makes it, never this command.
        if accounts.default_account(store) is None:
            print(f"skyhold: no accounts in {data_dir} yet: run skyhold up --data-dir {shlex.quote(str(data_dir))} "
                  "first (it creates the first, administrator account)", file=sys.stderr)
            return 2
        try:
            new = accounts.create_account(store, args.name)
        except ValueError as err:
            print(f"skyhold: {err}", file=sys.stderr)
            return 2
    finally:
        store.close()
    print(f"Created account {new.account_id} ({new.name!r}) with IAM user admin")
    # A profile name the AWS CLI can use (no whitespace, brackets, quotes, backslashes),
    # quoted for the shell: the hint runs as printed.
    profile = re.sub(r"""[\s\[\]'"\\]+""", "-", new.name).strip("-") or "account"
    print(f"Configure it: skyhold configure --profile {shlex.quote(profile)} --account {new.account_id}")
    return 0


def _account_root_key(args: Any) -> int:
    from skyhold.services.iam import records as iam

    store, _ = _open(args)
    try:
        account = _pick_account(store, args.account)
        if account is None:
            print("skyhold: no such account", file=sys.stderr)
            return 2
        if len(iam.access_keys_of(store, account["Id"], iam.ROOT_USER)) >= 2:
            print("skyhold: the root user already has 2 access keys (IAM's limit)", file=sys.stderr)
            return 2
        key = iam.create_access_key(store, account["Id"], iam.ROOT_USER)
    finally:
        store.close()
    print(f"Root user access key for account {account['Id']} (best practice: have none; delete it after the lab)")
    print(f"  access key id:     {key['AccessKeyId']}\n  secret access key: {key['SecretAccessKey']}")
    return 0


def _account_list(args: Any) -> int:
    from skyhold import accounts

    store, _ = _open(args)
    try:
        for a in accounts.list_accounts(store):
            print(f"{a['Id']}  {a['Name']}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    main()
