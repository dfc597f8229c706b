"""`skyhold instance exec|shell`: run a program "on" an instance.

The process gets no credentials and no AWS config files — only what a program on
an EC2 instance has: the metadata service (AWS_EC2_METADATA_SERVICE_ENDPOINT, the
SDKs' standard pointer) and the API endpoint (AWS_ENDPOINT_URL) and the region. The
unmodified aws CLI and boto3 then find the instance role's credentials through IMDS,
exactly as on EC2.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from typing import Any

from skyhold import config


def add_parser(commands: Any) -> None:
    inst = commands.add_parser("instance", help="run programs on an EC2 instance")
    cmds = inst.add_subparsers(metavar="ACTION")
    ex = cmds.add_parser("exec", help="run a command on the instance: exec [OPTIONS] i-… [OPTIONS] -- CMD...",
                         usage="%(prog)s [--endpoint URL] [--data-dir DIR] INSTANCE_ID "
                               "[--endpoint URL] [--data-dir DIR] -- CMD...")
    ex.add_argument("instance_id")
    # REMAINDER keeps the command's own options intact; _exec takes this command's
    # options from its head (those given after the instance id).
    ex.add_argument("command", nargs=argparse.REMAINDER)
    _flags(ex)
    ex.set_defaults(func=_exec, parser=ex)
    sh = cmds.add_parser("shell", help="an interactive shell on the instance")
    sh.add_argument("instance_id")
    _flags(sh)
    sh.set_defaults(func=_shell)
    key = cmds.add_parser("identity-key", help="print the public key that verifies instance identity documents")
    key.add_argument("--certificate", action="store_true",
                     help="print the X.509 certificate instead (for the pkcs7 and rsa2048 signatures)")
    _flags(key)
    key.set_defaults(func=_identity_key)


_FLAGS = {"--endpoint": "endpoint", "--data-dir": "data_dir"}


def _flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", help="Skyhold's URL (default http://127.0.0.1:4566)")
    p.add_argument("--data-dir", help="where state lives (env SKYHOLD_DATA_DIR)")


def _leading_options(args: Any, words: list[str]) -> list[str]:
    """Apply the --endpoint/--data-dir options that open `words` (given after the
    instance id) to args; return the command after them and an optional "--". An
    unknown option before the command is a usage error, not the command's name."""
    parser: argparse.ArgumentParser = args.parser
    i = 0
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        name, has_value, value = words[i].partition("=")
        if name not in _FLAGS:
            parser.error(f"unrecognized option before the command: {words[i]} (give the command after --)")
        if not has_value:
            if i + 1 >= len(words):
                parser.error(f"argument {name}: expected one argument")
            i, value = i + 1, words[i + 1]
        setattr(args, _FLAGS[name], value)
        i += 1
    rest = words[i:]
    return rest[1:] if rest[:1] == ["--"] else rest


def instance_environment(instance: dict[str, Any], endpoint: str, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    empty = os.path.join(home, "empty")
    open(empty, "w").close()
    env.update({
        "HOME": home,
        "AWS_CONFIG_FILE": empty,
        "AWS_SHARED_CREDENTIALS_FILE": empty,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{instance['ImdsPort']}/",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": instance["Region"],
        "AWS_REGION": instance["Region"],
    })
    return env


def _load(args: Any) -> dict[str, Any] | int:
    from skyhold.services.ec2.records import INSTANCE
    from skyhold.store import open_existing_store

    data_dir = config.data_dir(args.data_dir)
    store, _ = open_existing_store(data_dir)  # no store there: DataDirError, one line from cli.main
    try:
        rec = store.get(INSTANCE, args.instance_id)
    finally:
        store.close()
    if rec is None:
        print(f"skyhold: no instance {args.instance_id} in {data_dir}", file=sys.stderr)
        return 2
    if rec.value["State"] != "running":
        print(f"skyhold: instance {args.instance_id} is {rec.value['State']}, not running", file=sys.stderr)
        return 2
    return rec.value


def _run(args: Any, command: list[str]) -> int:
    instance = _load(args)
    if isinstance(instance, int):
        return instance
    endpoint = args.endpoint or config.endpoint_url(config.host(None), config.port(None))
    with tempfile.TemporaryDirectory(prefix=f"skyhold-{args.instance_id}-") as home:
        from skyhold import tls

        env = instance_environment(instance, endpoint, home)
        env.update(tls.client_env(config.data_dir(args.data_dir), endpoint))  # an https:// endpoint: trust Skyhold's CA
        return _call(command, env)


def _call(command: list[str], env: dict[str, str]) -> int:
    """Run it with the shell's exit conventions: 127 not found, 126 not runnable,
    128+N killed by signal N (subprocess reports -N)."""
    try:
        code = subprocess.call(command, env=env)
    except OSError as e:
        print(f"skyhold: cannot run {command[0]}: {e.strerror}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    return 128 - code if code < 0 else code


def _exec(args: Any) -> int:
    command = _leading_options(args, args.command)
    if not command:
        print("skyhold: give the command after --", file=sys.stderr)
        return 2
    return _run(args, command)


def _identity_key(args: Any) -> int:
    from skyhold.imds.identity import certificate_pem, public_pem
    from skyhold.store import open_existing_store

    data_dir = config.data_dir(args.data_dir)
    store, _ = open_existing_store(data_dir)
    try:
        print((certificate_pem if args.certificate else public_pem)(store, data_dir), end="")
    finally:
        store.close()
    return 0


def _shell(args: Any) -> int:
    return _run(args, [os.environ.get("SHELL", "/bin/sh")])
