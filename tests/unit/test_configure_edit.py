"""`skyhold configure` edits the user's AWS files in place: only the target section's
lines change, and what it writes is what botocore reads back."""

from __future__ import annotations

from pathlib import Path

import botocore.configloader
import pytest

from skyhold.configure import ConfigureError, check_profile_name, config_section_matcher, edit_section

from ..aws_files import USER_CONFIG

VALUES = {
    "region": "us-east-1",
    "endpoint_url": "http://127.0.0.1:4566",
    "output": "json",
    "s3": "\naddressing_style = path\nsignature_version = s3v4",
    "credential_process": "skyhold credentials",
}


def _edit(text: str | None, profile: str = "skyhold", values: dict[str, str] | None = VALUES) -> str:
    section = "default" if profile == "default" else f"profile {profile}"
    out = edit_section(text, config_section_matcher(profile), section, values)
    assert out is not None
    return out


def _profiles(text: str, tmp_path: Path) -> dict:
    """What botocore itself reads from the text."""
    path = tmp_path / "config"
    path.write_bytes(text.encode())
    return botocore.configloader.load_config(str(path))["profiles"]


def _without(text: str, start: str, end: str) -> str:
    return text[: text.index(start)] + text[text.index(end):]


def test_only_the_target_section_changes(tmp_path: Path) -> None:
    out = _edit(USER_CONFIG)
    # Everything outside [profile skyhold] is byte-for-byte the same.
    assert _without(out, "[profile skyhold]", "# the SSO portal") == _without(
        USER_CONFIG, "[profile skyhold]", "# the SSO portal")
    section = out[out.index("[profile skyhold]"): out.index("# the SSO portal")]
    assert "; old settings\ncli_pager =\n" in section  # the user's own key and comment stay
    profiles = _profiles(out, tmp_path)
    assert profiles["skyhold"] == {
        "region": "us-east-1", "endpoint_url": "http://127.0.0.1:4566", "output": "json", "cli_pager": "",
        "s3": {"addressing_style": "path", "signature_version": "s3v4"}, "credential_process": "skyhold credentials",
    }
    assert profiles["prod"]["s3"] == {"max_concurrent_requests": "20", "addressing_style": "virtual"}
    # A second run changes nothing.
    assert _edit(out) == out


def test_a_new_section_is_appended_after_a_blank_line(tmp_path: Path) -> None:
    text = "[profile other]\nregion = eu-west-1"  # no final newline
    out = _edit(text)
    assert out.startswith("[profile other]\nregion = eu-west-1\n\n[profile skyhold]\n")
    assert _profiles(out, tmp_path)["other"] == {"region": "eu-west-1"}
    assert _profiles(out, tmp_path)["skyhold"]["endpoint_url"] == "http://127.0.0.1:4566"
    assert _profiles(_edit(None), tmp_path)["skyhold"]["output"] == "json"
    assert _profiles(_edit("", "default"), tmp_path)["default"]["region"] == "us-east-1"


def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    text = "[default]\r\nregion = eu-west-1\r\n\r\n[profile skyhold]\r\nregion = x\r\n"
    out = _edit(text)
    assert out.startswith("[default]\r\nregion = eu-west-1\r\n\r\n[profile skyhold]\r\n")
    assert "\n" not in out.replace("\r\n", "")
    assert _profiles(out, tmp_path)["skyhold"]["s3"]["addressing_style"] == "path"


def test_stale_credentials_and_endpoints_go_other_keys_stay(tmp_path: Path) -> None:
    text = ("[profile skyhold]\nRegion = eu-west-1\nrole_arn = arn:aws:iam::111122223333:role/R\n"
            "source_profile = default\naws_session_token = old\nservices = mine\nmax_attempts = 7\n"
            "s3 =\n  # path style\n  addressing_style = virtual\n  payload_signing_enabled = true\n"
            "cli_pager = less\n")
    out = _edit(text)
    profile = _profiles(out, tmp_path)["skyhold"]
    for gone in ("role_arn", "source_profile", "aws_session_token", "services"):
        assert gone not in profile
    assert profile["region"] == "us-east-1" and profile["max_attempts"] == "7" and profile["cli_pager"] == "less"
    assert profile["s3"] == {"addressing_style": "path", "signature_version": "s3v4"}
    # replaced where it was: region still the first key, cli_pager still after s3
    assert out.index("region = us-east-1") < out.index("max_attempts") < out.index("s3 =") < out.index("cli_pager")
    assert "Region" not in out


def test_the_section_botocore_reads_is_the_one_edited(tmp_path: Path) -> None:
    text = "[profile  skyhold]\nregion = eu-west-1\n"  # botocore shlex-splits the header
    out = _edit(text)
    assert out.count("[profile") == 1
    assert _profiles(out, tmp_path)["skyhold"]["region"] == "us-east-1"


def test_removing_a_section_keeps_the_comment_of_the_next(tmp_path: Path) -> None:
    creds = ("[skyhold]\naws_access_key_id = AKIAOLD\naws_secret_access_key = old\n\n"
             "# personal keys\n[default]\naws_access_key_id = AKIAMINE\n")
    out = edit_section(creds, "skyhold".__eq__, "skyhold", None)
    assert out == "# personal keys\n[default]\naws_access_key_id = AKIAMINE\n"
    assert edit_section(out, "skyhold".__eq__, "skyhold", None) == out  # nothing to remove
    assert edit_section(None, "skyhold".__eq__, "skyhold", None) is None


@pytest.mark.parametrize("text", [
    "[default]\nregion = a\n[default]\noutput = json\n",  # a section twice
    "[profile a]\nregion = a\nregion = b\n",  # a key twice
    "region = a\n[default]\n",  # text before the first section
    "[default]\nregion\n",  # a line without '='
    "[default]\ns3 =\n  addressing_style\n",  # a nested line without '='
])
def test_files_clients_cannot_read_are_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigureError) as e:
        edit_section(text, "default".__eq__, "default", VALUES, where=Path("/home/u/.aws/config"))
    message = str(e.value)
    assert "\n" not in message and "/home/u/.aws/config" in message
    # botocore refuses the same files
    (tmp_path / "config").write_text(text)
    with pytest.raises(botocore.exceptions.ConfigParseError):
        botocore.configloader.load_config(str(tmp_path / "config"))


@pytest.mark.parametrize("name", ["", "my profile", "a\nb", "a\tb", "a]b", "[a", 'a"b', "a'b", "a\\b"])
def test_profile_names_the_cli_cannot_use_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigureError) as e:
        check_profile_name(name)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name", ["dev", "default", "my-profile_1.x", "a@b", "team/dev", "ünï"])
def test_usable_profile_names_round_trip(name: str, tmp_path: Path) -> None:
    check_profile_name(name)
    assert _profiles(_edit(USER_CONFIG, name), tmp_path)[name]["endpoint_url"] == "http://127.0.0.1:4566"
