"""S3 Control against a local endpoint: a botocore event handler, and an AWS CLI (v1)
plugin that installs it.

S3 Control calls name an account (`--account-id`), and botocore's S3 Control endpoint
rules put it in front of the host: with `--endpoint-url http://127.0.0.1:4566` a
request goes to `http://123456789012.127.0.0.1:4566/v20180820/...`, a name that
resolves nowhere (nor does `123456789012.localhost`, unless the system resolver maps
*.localhost to loopback, as systemd-resolved does). `Config(inject_host_prefix=False)`
does not help: the prefix comes from the endpoint ruleset, not the model's hostPrefix.

`drop_account_label` takes the account label off again before the request is signed,
for hosts that are an IP address or localhost (never an AWS endpoint). The request
still carries the account in its x-amz-account-id header, which is what Skyhold reads
(it accepts the prefixed Host as well, from clients that can resolve it).

  boto3:    client.meta.events.register("before-sign.s3-control", drop_account_label)
  aws CLI:  in the AWS config file,  [plugins]
                                      skyhold = skyhold.awscli_plugin
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

EVENT = "before-sign.s3-control"


def _is_local(netloc: str) -> bool:
    host = urlsplit(f"//{netloc}").hostname or ""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def drop_account_label(request: Any, **_: Any) -> None:
    """botocore `before-sign.s3-control` handler: `{account}.127.0.0.1:4566` → `127.0.0.1:4566`."""
    account = request.headers.get("x-amz-account-id")
    if isinstance(account, bytes):
        account = account.decode()
    parts = urlsplit(request.url)
    label, _, rest = parts.netloc.partition(".")
    if account and label == account and _is_local(rest):
        request.url = urlunsplit(parts._replace(netloc=rest))


def awscli_initialize(cli: Any) -> None:
    """AWS CLI v1 plugin entry point (the `[plugins]` section of the config file)."""
    cli.register(EVENT, drop_account_label)
