"""Browser uploads: which requests are form uploads, the form as PutObject's
parameters, the size bounds, and the answer's redirect and location."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from skyhold.errors import AwsError
from skyhold.services.s3 import post_object
from skyhold.wire.formdata import FilePart
from skyhold.wire.http import HttpRequest


def req(method: str, path: str, query: str = "", host: str = "127.0.0.1:4566") -> HttpRequest:
    return HttpRequest(method, path, query, {"host": host}, scheme="http")


def test_is_form_upload() -> None:
    assert post_object.is_form_upload(req("POST", "/photos"))
    assert post_object.is_form_upload(req("POST", "/photos/"))
    assert post_object.is_form_upload(req("POST", "/", host="photos.s3.localhost:4566"))
    assert not post_object.is_form_upload(req("POST", "/photos", query="delete"))
    assert not post_object.is_form_upload(req("POST", "/photos/key"))
    assert not post_object.is_form_upload(req("POST", "/"))
    assert not post_object.is_form_upload(req("PUT", "/photos"))


async def _stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    async def go() -> bytes:
        return b"".join([c async for c in chunks])
    return asyncio.run(go())


def test_sized_passes_what_fits_and_reports_the_whole_size() -> None:
    assert _drain(post_object.sized(_stream(b"abc", b"de"), (5, 10))) == b"abcde"
    assert _drain(post_object.sized(_stream(b"x" * 50), None)) == b"x" * 50
    with pytest.raises(AwsError) as caught:
        _drain(post_object.sized(_stream(b"x" * 8, b"y" * 8, b"z" * 8), (1, 10)))
    assert (caught.value.code, caught.value.extra) == ("EntityTooLarge", {"ProposedSize": "24", "MaxSizeAllowed": "10"})
    with pytest.raises(AwsError) as caught:
        _drain(post_object.sized(_stream(b"ab"), (5, 10)))
    assert (caught.value.code, caught.value.extra) == ("EntityTooSmall", {"ProposedSize": "2", "MinSizeAllowed": "5"})


def _form(fields: dict[str, str], filename: str | None = "cat.jpg") -> post_object.Form:
    return post_object.Form("photos", {k.lower(): v for k, v in fields.items()}, FilePart(filename, None, _stream()))


def test_params_of() -> None:
    params = post_object.params_of(_form({
        "key": "up/${filename}", "Content-Type": "image/jpeg", "x-amz-meta-Owner": "eric",
        "x-amz-server-side-encryption": "aws:kms", "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
        "tagging": "<Tagging><TagSet><Tag><Key>team</Key><Value>a b</Value></Tag></TagSet></Tagging>",
        "success_action_status": "201",
    }))
    assert params["Key"] == "up/cat.jpg" and params["Bucket"] == "photos"
    assert params["ContentType"] == "image/jpeg" and params["ServerSideEncryption"] == "aws:kms"
    assert params["Metadata"] == {"owner": "eric"}
    assert params["Expires"].year == 2037
    assert params["Tagging"] == "team=a+b"
    assert "success_action_status" not in params
    assert post_object.params_of(_form({"key": "up/${filename}"}, filename=None))["Key"] == "up/${filename}"


def test_params_of_bad_tagging() -> None:
    with pytest.raises(AwsError) as caught:
        post_object.params_of(_form({"key": "k", "tagging": "not-xml"}))
    assert caught.value.code == "MalformedXML"
    assert "Tagging" not in post_object.params_of(_form({"key": "k", "tagging": "<Other/>"}))


def test_object_url_follows_the_style_posted_to() -> None:
    assert post_object.object_url(req("POST", "/photos"), "photos", "a b/c.jpg") == \
        "http://127.0.0.1:4566/photos/a%20b/c.jpg"
    assert post_object.object_url(req("POST", "/", host="photos.s3.localhost"), "photos", "c.jpg") == \
        "http://photos.s3.localhost/c.jpg"


def test_redirect_target() -> None:
    url = post_object._redirect("https://app.example/done?from=form", "photos", "a/b.jpg", '"abc"')
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example", "/done")
    assert parse_qs(parts.query) == {"from": ["form"], "bucket": ["photos"], "key": ["a/b.jpg"], "etag": ['"abc"']}
    assert post_object._redirect("/relative/path", "photos", "k", '"e"') is None  # S3 ignores what is no URL
    assert post_object._redirect(None, "photos", "k", '"e"') is None
