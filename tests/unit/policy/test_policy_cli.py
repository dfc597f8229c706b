"""`skyhold policy evaluate|validate`, run as a subprocess like a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ALICE, doc, stmt


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyhold.policy.cli", "policy", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


CASE = {
    "principal": ALICE,
    "action": "s3:GetObject",
    "resource": "arn:aws:s3:::b/k",
    "identity_policies": [doc(stmt())],
}


def test_single_case_from_file(tmp_path: Path) -> None:
    f = tmp_path / "case.json"
    f.write_text(json.dumps(CASE, indent=2))
    r = run("evaluate", str(f))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["decision"] == "Allowed"
    assert out["explanation"]["matched_statements"][0]["policy"] == "identity_policies[0]"


def test_jsonl_batch_one_line_per_case_and_policies_as_strings() -> None:
    denied = dict(CASE, action="s3:PutObject")
    as_string = dict(CASE, identity_policies=[json.dumps(doc(stmt("Deny", action="s3:*")))])
    lines = "\n".join(json.dumps(c) for c in (CASE, denied, as_string)) + "\n"
    r = run("evaluate", "-", stdin=lines)
    assert r.returncode == 0, r.stderr
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["decision"] for x in results] == ["Allowed", "ImplicitlyDenied", "ExplicitlyDenied"]
    assert results[1]["explanation"]["message"] == (
        f'User: {ALICE} is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::b/k" '
        "because no identity-based policy allows the s3:PutObject action"
    )


def test_quote_resource_flag_and_derived_context() -> None:
    case = dict(
        CASE,
        quote_resource=False,
        identity_policies=[doc(stmt(Condition={"StringEquals": {"aws:username": "bob"}}))],
    )
    r = run("evaluate", "-", stdin=json.dumps(case))
    out = json.loads(r.stdout)
    assert out["decision"] == "ImplicitlyDenied"
    assert "on resource: arn:aws:s3:::b/k because" in out["explanation"]["message"]
    cond = out["explanation"]["policies"][0]["statements"][0]["conditions"][0]
    assert cond["request_value"] == "alice"  # aws:username filled from the principal


def test_invalid_input_exit_2_names_line_and_field() -> None:
    lines = json.dumps(CASE) + "\n" + json.dumps(dict(CASE, resource_account="12")) + "\n"
    r = run("evaluate", "-", stdin=lines)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "line 2" in r.stderr and "resource_account" in r.stderr
    r = run("evaluate", "-", stdin=json.dumps(dict(CASE, identity_policies=[{"Statement": {"Effect": "Perhaps"}}])))
    assert r.returncode == 2 and "identity_policies[0]" in r.stderr
    r = run("evaluate", "-", stdin="{not json")
    assert r.returncode == 2 and "line 1" in r.stderr
    r = run("evaluate", "-", stdin="1" * 5000)  # json raises a bare ValueError (no .msg) for this
    assert r.returncode == 2 and "line 1: not JSON" in r.stderr
    r = run("evaluate", "-", stdin=json.dumps(dict(CASE, colour="red")))
    assert r.returncode == 2 and "colour" in r.stderr


def test_missing_file_exit_2(tmp_path: Path) -> None:
    r = run("evaluate", str(tmp_path / "absent.json"))
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_validate_command(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc(stmt(action="s3:GetObjekt"))))
    r = run("validate", str(good))
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["valid"] is True and out["findings"][0]["code"] == "UNKNOWN_ACTION"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc(stmt(Principal="*"))))
    r = run("validate", str(bad))
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["message"] == "Policy document should not specify a principal."
    r = run("validate", "--type", "resource", str(bad))
    assert r.returncode == 0


def test_add_parser_registers_policy_command() -> None:
    import argparse

    from skyhold.policy.cli import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["policy", "validate", "--type", "trust", "x.json"])
    assert args.type == "trust" and callable(args.func)
