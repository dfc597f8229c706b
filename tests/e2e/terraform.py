"""Running Terraform's hashicorp/aws provider (from a local mirror) against Skyhold."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import AwsEnv

PLUGINS = Path("/opt/tf-plugins")
# Every service the provider may call, pointed at Skyhold.
SERVICES = ("s3", "sts", "iam", "kms", "secretsmanager", "ssm", "ec2")
_SKIPS = """
  skip_credentials_validation = true
  skip_requesting_account_id = true
  skip_metadata_api_check = true"""


def provider_block(env: AwsEnv, *, skip_checks: bool = True) -> str:
    """A provider "aws" block signing with env's credentials, every endpoint at Skyhold;
    without skip_checks it finds the account itself (STS GetCallerIdentity), as by default."""
    creds = env.credentials()
    token = f'\n  token = "{creds.token}"' if creds.token else ""
    endpoints = "\n".join(f'    {svc} = "{env.endpoint}"' for svc in SERVICES)
    return f'''
provider "aws" {{
  region = "us-east-1"
  access_key = "{creds.access_key}"
  secret_key = "{creds.secret_key}"{token}{_SKIPS if skip_checks else ""}
  s3_use_path_style = true
  endpoints {{
{endpoints}
  }}
}}
'''


class Terraform:
    """A Terraform working directory: main.tf is the provider block plus `config`."""

    def __init__(self, workdir: Path, env: AwsEnv, config: str, *, skip_checks: bool = True) -> None:
        if shutil.which("terraform") is None or not (PLUGINS / "registry.terraform.io/hashicorp/aws").is_dir():
            # Neither comes from PyPI, Debian or npm, so the test setup cannot install them:
            # these tests run where the machine has both, and say so where it does not.
            pytest.skip(f"terraform on PATH and the hashicorp/aws provider mirrored in {PLUGINS} are needed")
        self.workdir = workdir
        (workdir / "main.tf").write_text(provider_block(env, skip_checks=skip_checks) + config)
        (workdir / "tf.rc").write_text(f'provider_installation {{\n  filesystem_mirror {{ path = "{PLUGINS}" }}\n}}\n')
        self.env = {**os.environ, "TF_CLI_CONFIG_FILE": str(workdir / "tf.rc"), "TF_IN_AUTOMATION": "1",
                    "CHECKPOINT_DISABLE": "1"}

    def run(self, *args: str, timeout: float = 110) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["terraform", *args, "-no-color"], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed: its output."""
        out = self.run(*args)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def apply(self) -> None:
        self.ok("init")
        self.ok("apply", "-auto-approve")

    def assert_no_drift(self) -> None:
        """A refreshing plan finds nothing to change (exit code 0; 2 means drift)."""
        out = self.run("plan", "-detailed-exitcode")
        assert out.returncode == 0, out.stdout + out.stderr

    def destroy(self) -> None:
        self.ok("destroy", "-auto-approve")

    def output(self, name: str) -> str:
        return self.ok("output", "-raw", name)
