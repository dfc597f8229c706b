"""S3 from a real browser: headless Chromium (Debian's) driven by Playwright, on a page
served from another origin than Skyhold's (a local web app on its own port), as a web
app uses S3: fetch() with presigned URLs under the bucket's CORS rules, HTML form uploads
(POST Object) signed with boto3's generate_presigned_post, and the AWS SDK for JavaScript
itself running in the page (tests/e2e/js/browser-app.mjs, bundled with esbuild)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import subprocess
import threading
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, debian_package, tool_unavailable

CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the rest keep it off the (closed) network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


# Module-scoped: while Playwright's sync API is open, its event loop runs on the worker's
# main thread, and later tests there that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        tool_unavailable("Playwright for Python is missing: pip install -e '.[test]'")
    debian_package(CHROMIUM, "chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class WebApp:
    """A web app on its own origin (http://127.0.0.1:<its port>), serving the pages and
    scripts the tests write."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                page = app.pages.get(path, "<!doctype html><title>app</title><p>app page")
                body = page.encode()
                self.send_response(200)
                kind = "text/javascript" if path.endswith(".js") else "text/html"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.origin + path


@pytest.fixture(scope="module")
def app() -> Iterator[WebApp]:
    web = WebApp()
    yield web
    web.server.shutdown()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bucket(s3: Any, origin: str | None) -> str:
    """A new bucket; with CORS rules letting `origin` PUT, GET and POST if given."""
    name = f"browser-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if origin:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "POST"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})
    return name


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False
    return True


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# The web app's upload page: pick a file, and its script PUTs it to a presigned URL.
UPLOAD_PAGE = """<!doctype html>
<title>upload</title>
<input type="file" id="file"><button id="upload">Upload</button>
<pre id="status">ready</pre>
<script>
document.getElementById("upload").onclick = async () => {
  const file = document.getElementById("file").files[0];
  const status = document.getElementById("status");
  try {
    const res = await fetch(document.body.dataset.url, {method: "PUT", body: file,
                                                        headers: {"Content-Type": file.type}});
    status.textContent = JSON.stringify({status: res.status, etag: res.headers.get("ETag")});
  } catch (err) {
    status.textContent = JSON.stringify({error: String(err)});
  }
};
</script>"""

# The web app's viewer: its script fetches a presigned GET URL and shows the object.
VIEW_PAGE = """<!doctype html>
<title>view</title>
<pre id="content">loading</pre>
<script>
fetch(document.body.dataset.url)
  .then(async (res) => { document.getElementById("content").textContent = res.status + " " + await res.text(); })
  .catch((err) => { document.getElementById("content").textContent = "error " + err; });
</script>"""


def _with_url(template: str, url: str) -> str:
    return template.replace("<title>", f'<body data-url="{html.escape(url)}"><title>', 1)


def _upload(page: Any, app: WebApp, url: str, name: str, data: bytes) -> dict[str, Any]:
    """The upload page, used as a person would: choose a file, click Upload."""
    app.pages["/upload"] = _with_url(UPLOAD_PAGE, url)
    page.goto(app.url("/upload"))
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/plain", "buffer": data}])
    page.click("#upload")
    page.wait_for_function("document.getElementById('status').textContent !== 'ready'")
    return json.loads(page.text_content("#status"))


def test_fetch_put_to_a_presigned_url_follows_cors(page: Any, app: WebApp, s3: Any) -> None:
    data = f"from a web page {uuid.uuid4()}".encode()
    allowed = _bucket(s3, app.origin)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": allowed, "Key": "photo.txt",
                                                          "ContentType": "text/plain"}, ExpiresIn=300)
    # A PUT is not a simple request: Chromium preflights it, then sends it and lets the
    # page read the exposed ETag.
    assert _upload(page, app, url, "photo.txt", data) == {"status": 200,
                                                          "etag": f'"{hashlib.md5(data).hexdigest()}"'}
    obj = s3.get_object(Bucket=allowed, Key="photo.txt")
    assert (obj["Body"].read(), obj["ContentType"]) == (data, "text/plain")

    # Rules for another origin only, and no rules at all: the preflight is refused, so
    # the browser never sends the PUT.
    other = _bucket(s3, "https://other.example")
    bare = _bucket(s3, None)
    for bucket in (other, bare):
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "photo.txt",
                                                              "ContentType": "text/plain"}, ExpiresIn=300)
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        assert _upload(page, app, url, "photo.txt", data) == {"error": "TypeError: Failed to fetch"}
        assert any("blocked by CORS policy" in e for e in errors), errors
        assert not _exists(s3, bucket, "photo.txt")


def test_page_shows_an_object_read_through_a_presigned_get(page: Any, app: WebApp, s3: Any) -> None:
    bucket = _bucket(s3, app.origin)
    text = f"shown in the page {uuid.uuid4()}"
    s3.put_object(Bucket=bucket, Key="note.txt", Body=text.encode(), ContentType="text/plain")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "note.txt"}, ExpiresIn=300)
    app.pages["/view"] = _with_url(VIEW_PAGE, url)
    page.goto(app.url("/view"))
    page.wait_for_function("document.getElementById('content').textContent !== 'loading'")
    assert page.text_content("#content") == f"200 {text}"

    # Without a rule for the page's origin the browser keeps the answer from the script.
    closed = _bucket(s3, "https://other.example")
    s3.put_object(Bucket=closed, Key="note.txt", Body=text.encode())
    url = s3.generate_presigned_url("get_object", Params={"Bucket": closed, "Key": "note.txt"}, ExpiresIn=300)
    app.pages["/view"] = _with_url(VIEW_PAGE, url)
    page.goto(app.url("/view"))
    page.wait_for_function("document.getElementById('content').textContent !== 'loading'")
    assert page.text_content("#content") == "error TypeError: Failed to fetch"


def _form_page(post: dict[str, Any]) -> str:
    """A real HTML form, as AWS documents it: the policy's fields, then the file last."""
    inputs = "\n".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                       for k, v in post["fields"].items())
    return f"""<!doctype html>
<title>form upload</title>
<form action="{html.escape(post['url'])}" method="post" enctype="multipart/form-data">
{inputs}
<input type="file" name="file" id="file">
<input type="submit" id="send" value="Upload to S3">
</form>"""


def _submit(page: Any, app: WebApp, post: dict[str, Any], name: str, data: bytes) -> Any:
    """Open the form page, choose the file, submit: S3's answer to the POST."""
    app.pages["/form"] = _form_page(post)
    page.goto(app.url("/form"))
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/plain", "buffer": data}])
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#send")
    return answer.value


def test_form_post_upload_redirects_to_the_app(page: Any, app: WebApp, s3: Any) -> None:
    bucket = _bucket(s3, None)  # a form's navigation is not subject to CORS
    data = f"uploaded with a form {uuid.uuid4()}".encode()
    done = app.url("/done?step=2")
    post = s3.generate_presigned_post(
        bucket, "uploads/${filename}", Fields={"success_action_redirect": done, "Content-Type": "text/plain"},
        Conditions=[["starts-with", "$key", "uploads/"], {"success_action_redirect": done},
                    ["starts-with", "$Content-Type", "text/"], ["content-length-range", 1, 10_000]],
        ExpiresIn=300)
    answer = _submit(page, app, post, "report.txt", data)
    # S3 answers 303 See Other to the redirect, with bucket, key and ETag appended; the
    # browser follows it to the app.
    assert answer.status == 303
    page.wait_for_url(f"{app.origin}/done?**")
    landed = urlsplit(page.url)
    assert landed.path == "/done"
    assert parse_qs(landed.query) == {"step": ["2"], "bucket": [bucket], "key": ["uploads/report.txt"],
                                      "etag": [f'"{hashlib.md5(data).hexdigest()}"']}
    obj = s3.get_object(Bucket=bucket, Key="uploads/report.txt")
    assert (obj["Body"].read(), obj["ContentType"]) == (data, "text/plain")


def test_form_post_upload_status_201_and_default_204(page: Any, app: WebApp, s3: Any) -> None:
    bucket = _bucket(s3, None)
    data = b"answered with 201"
    post = s3.generate_presigned_post(bucket, "created.txt", Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}], ExpiresIn=300)
    answer = _submit(page, app, post, "created.txt", data)
    assert answer.status == 201
    # The browser shows S3's PostResponse document.
    page.wait_for_load_state()
    shown = page.evaluate("new XMLSerializer().serializeToString(document)")
    assert "<Key>created.txt</Key>" in shown and f"<Bucket>{bucket}</Bucket>" in shown
    assert f"<ETag>\"{hashlib.md5(data).hexdigest()}\"</ETag>" in shown
    assert s3.get_object(Bucket=bucket, Key="created.txt")["Body"].read() == data

    # By default S3 answers 204 No Content: the browser stays on the form's page.
    post = s3.generate_presigned_post(bucket, "quiet.txt", ExpiresIn=300)
    answer = _submit(page, app, post, "quiet.txt", b"no content")
    assert answer.status == 204
    assert page.url == app.url("/form")
    assert s3.get_object(Bucket=bucket, Key="quiet.txt")["Body"].read() == b"no content"


def test_form_post_against_its_policy_stores_nothing(page: Any, app: WebApp, s3: Any) -> None:
    bucket = _bucket(s3, None)
    post = s3.generate_presigned_post(bucket, "small/${filename}",
                                      Conditions=[["content-length-range", 1, 16]], ExpiresIn=300)
    answer = _submit(page, app, post, "big.txt", b"x" * 17)
    assert answer.status == 400
    body = answer.text()
    assert "<Code>EntityTooLarge</Code>" in body and "<ProposedSize>17</ProposedSize>" in body
    assert "<MaxSizeAllowed>16</MaxSizeAllowed>" in body
    assert not _exists(s3, bucket, "small/big.txt")

    # The same form, a file within the range: stored.
    answer = _submit(page, app, post, "ok.txt", b"fits")
    assert answer.status == 204
    assert s3.get_object(Bucket=bucket, Key="small/ok.txt")["Body"].read() == b"fits"


# --- the AWS SDK for JavaScript in the page -----------------------------------------------

@pytest.fixture(scope="module")
def sdk_app(node_sdk: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/e2e/js/browser-app.mjs bundled for the browser with esbuild: window.skyholdApp."""
    out = tmp_path_factory.mktemp("bundle") / "app.js"
    built = subprocess.run([str(node_sdk / "node_modules" / ".bin" / "esbuild"), "browser-app.mjs", "--bundle",
                            "--platform=browser", "--format=iife", f"--outfile={out}", "--log-level=warning"],
                           cwd=node_sdk, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    return out.read_text()


def test_the_sdk_in_a_page_with_a_least_privilege_key(browser: Any, app: WebApp, s3: Any, admin: AwsEnv,
                                                      sdk_app: str) -> None:
    """A browser app calling S3 with the SDK: every call is a CORS request carrying the
    SDK's own headers, preflighted. The SDK reads only the response headers the rules
    expose, as on AWS: with ETag alone, lib-storage cannot see the parts' CRC32s and S3
    refuses to complete the upload (aws-sdk-js-v3#6818); exposing x-amz-checksum-crc32
    too makes it work. Request headers the rules do not allow fail the preflight."""
    bucket = _bucket(s3, app.origin)
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}]})
    app.pages["/app.js"] = sdk_app
    app.pages["/sdk"] = '<!doctype html><title>sdk</title><script src="/app.js"></script>'
    text = f"written by the SDK in a browser {uuid.uuid4()}"
    size = 6 * 1024 * 1024  # two parts of lib-storage's 5 MiB
    big = bytes(i % 251 for i in range(size))
    args = {"endpoint": admin.endpoint, "bucket": bucket, "text": text, "bigSize": size,
            "credentials": {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}}

    def run(allowed_headers: list[str], exposed: list[str]) -> dict[str, Any]:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [app.origin], "AllowedMethods": ["GET", "PUT", "POST"],
            "AllowedHeaders": allowed_headers, "ExposeHeaders": exposed}]})
        context = browser.new_context()  # a fresh preflight cache
        try:
            tab = context.new_page()
            tab.goto(app.url("/sdk"))
            return tab.evaluate("(args) => window.skyholdApp.run(args)", args)
        finally:
            context.close()

    got = run(["*"], ["ETag"])
    etag = f'"{hashlib.md5(text.encode()).hexdigest()}"'
    assert got["put"] == {"ok": {"etag": etag, "crc32": None}}  # x-amz-checksum-crc32 not exposed
    assert got["get"] == {"ok": {"body": text, "etag": etag, "crc32": None}}
    assert got["list"] == {"ok": ["sdk.txt"]}
    assert got["upload"] == {"error": {
        "name": "InvalidRequest", "status": 400,
        "message": "The upload was created using a crc32 checksum. The complete request must include the checksum "
                   "for each part. It was missing for part 1 in the request."}}
    assert not _exists(s3, bucket, "big.bin")

    # Headers allowed by wildcard patterns instead of "*", and the checksum exposed.
    got = run(["authorization", "content-type", "x-amz-*", "amz-sdk-*"], ["ETag", "x-amz-checksum-crc32"])
    crc = _crc32(text.encode())
    assert got["put"] == {"ok": {"etag": etag, "crc32": crc}}
    assert got["get"] == {"ok": {"body": text, "etag": etag, "crc32": crc}}
    parts = [big[:5 * 1024 * 1024], big[5 * 1024 * 1024:]]
    multipart_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    composite = _crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts))
    assert got["upload"] == {"ok": {"etag": f'"{multipart_etag}-2"', "crc32": f"{composite}-2"}}
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big

    # The SDK's amz-sdk-* headers not allowed: every preflight is refused, nothing is written.
    s3.delete_object(Bucket=bucket, Key="sdk.txt")
    got = run(["authorization", "content-type", "x-amz-*"], ["ETag"])
    refused = {"error": {"name": "TypeError", "message": "Failed to fetch", "status": None}}
    assert got == {"put": refused, "get": refused, "list": refused, "upload": refused}
    assert not _exists(s3, bucket, "sdk.txt")


def test_the_sdk_in_a_page_calls_sts_and_kms(browser: Any, app: WebApp, admin: AwsEnv, sdk_app: str) -> None:
    """A web app's page on another origin calls STS and KMS with the SDK: each call is
    preflighted (it carries Authorization and the SDK's headers), and the page reads the
    answers, an error's code and request id included, as on AWS (their endpoints answer
    CORS for any origin)."""
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:ListKeys", "kms:DescribeKey"], "Resource": "*"}]})
    app.pages["/app.js"] = sdk_app
    app.pages["/services"] = '<!doctype html><title>services</title><script src="/app.js"></script>'
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(app.url("/services"))
        got = tab.evaluate("(args) => window.skyholdApp.services(args)", {
            "endpoint": admin.endpoint,
            "credentials": {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}})
    finally:
        context.close()
    assert got["identity"]["ok"].endswith(f":user/{key['UserName']}"), got
    assert got["keys"] == {"ok": True}, got
    error = got["missing"]["error"]
    assert (error["name"], error["status"]) == ("NotFoundException", 400), got
    assert error["requestId"], got  # x-amzn-RequestId is exposed to the page
