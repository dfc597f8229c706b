"""The `skyhold` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from skyhold import config


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        sys.exit(2)
    sys.exit(args.func(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyhold", description="A local AWS cloud with a real security plane.")
    commands = parser.add_subparsers(metavar="COMMAND")

    up = commands.add_parser("up", help="start the server")
    up.add_argument("--host", help="address to bind (default 127.0.0.1; env SKYHOLD_HOST)")
    up.add_argument("--port", type=int, help="port (default 4566; env SKYHOLD_PORT)")
    _data_dir_flag(up)
    up.set_defaults(func=_up)

    conf = commands.add_parser("configure", help="write an AWS CLI/SDK profile for Skyhold")
    conf.add_argument("--profile", default="skyhold", help="profile name (default: skyhold)")
    conf.add_argument("--endpoint", help="Skyhold's URL (default http://127.0.0.1:4566)")
    conf.add_argument("--account", help="account id or name (default: the first account)")
    _data_dir_flag(conf)
    conf.set_defaults(func=_configure)

    account = commands.add_parser("account", help="manage accounts")
    account_cmds = account.add_subparsers(metavar="ACTION")
    create = account_cmds.add_parser("create", help="add an account with its own root and admin user")
    create.add_argument("name")
    _data_dir_flag(create)
    create.set_defaults(func=_account_create)
    listing = account_cmds.add_parser("list", help="list accounts")
    _data_dir_flag(listing)
    listing.set_defaults(func=_account_list)

    from skyhold.policy.cli import add_parser as add_policy_parser

    add_policy_parser(commands)
    return parser


def _data_dir_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where state lives (env SKYHOLD_DATA_DIR; default: per-user data dir)")


def _open(args: Any) -> Any:
    from skyhold.store import open_store

    return open_store(config.data_dir(args.data_dir))


def _up(args: Any) -> int:
    from skyhold.serve import serve

    return serve(config.host(args.host), config.port(args.port), config.data_dir(args.data_dir))


def _configure(args: Any) -> int:
    from skyhold import accounts
    from skyhold.configure import write_profile
    from skyhold.services.iam import records as iam

    store, _ = _open(args)
    try:
        account = _pick_account(store, args.account)
        if account is None:
            print("skyhold: no such account (start `skyhold up` once to create the first)", file=sys.stderr)
            return 2
        keys = [k for k in iam.access_keys_of(store, account["Id"], accounts.ADMIN_USER) if k["Status"] == "Active"]
        if not keys:
            print(f"skyhold: account {account['Id']}'s admin has no active access key", file=sys.stderr)
            return 2
    finally:
        store.close()
    endpoint = args.endpoint or config.endpoint_url(config.host(None), config.port(None))
    conf_path, cred_path = write_profile(args.profile, endpoint, keys[0]["AccessKeyId"], keys[0]["SecretAccessKey"])
    print(f"Wrote profile {args.profile!r} (account {account['Id']}, user admin, endpoint {endpoint})")
    print(f"  {conf_path}\n  {cred_path}")
    print(f"Try: aws --profile {args.profile} sts get-caller-identity")
    return 0


def _pick_account(store: Any, wanted: str | None) -> dict[str, Any] | None:
    from skyhold import accounts

    if not wanted:
        return accounts.default_account(store)
    return accounts.get_account(store, wanted) or accounts.find_by_name(store, wanted)


def _account_create(args: Any) -> int:
    from skyhold import accounts

    store, _ = _open(args)
    try:
        try:
            new = accounts.create_account(store, args.name)
        except ValueError as err:
            print(f"skyhold: {err}", file=sys.stderr)
            return 2
    finally:
        store.close()
    print(f"Created account {new.account_id} ({new.name!r}) with IAM user admin")
    print(f"Configure it: skyhold configure --profile {new.name} --account {new.account_id}")
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
