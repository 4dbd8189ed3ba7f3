"""images/proxy/boot.py, the proxy task's command: it signs its S3 GET as botocore signs one,
takes credentials from the ECS endpoint, refuses a package whose digest is not the deployed one,
and runs `python -m skybinder.proxy` from the unpacked package."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
BOOT = (ROOT / "images" / "proxy" / "boot.py").read_text(encoding="utf-8")
REGION = "eu-west-1"
KEYS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token/with+chars=")


def boot_module() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "boot"}
    exec(compile(BOOT, "boot.py", "exec"), namespace)  # the text the task runs, not run here
    return namespace


def botocore_signature(url: str, headers: dict[str, str], keys: tuple[str, str, str]) -> str:
    """What botocore's S3 signer makes of the same request at the same time."""
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(
        method="GET", url=url, headers={h: headers[h] for h in signed if h != "host"}
    )
    request.context["timestamp"] = headers["x-amz-date"]
    auth = S3SigV4Auth(Credentials(*keys), "s3", REGION)
    return str(
        auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    )


def test_the_signature_is_botocores() -> None:
    boot = boot_module()
    url = "https://sb-dev-proxy-packages-1a2b.s3.eu-west-1.amazonaws.com/proxy/p-arm64.zip"
    now = datetime.datetime(2030, 5, 17, 9, 30, tzinfo=datetime.UTC)
    headers = boot["signed_get"](url, REGION, KEYS, now)
    ours = headers["authorization"].rsplit("Signature=", 1)[1]
    assert ours == botocore_signature(url, headers, KEYS)
    assert headers["x-amz-security-token"] == KEYS[2]
    assert f"Credential={KEYS[0]}/20300517/{REGION}/s3/aws4_request" in headers["authorization"]


class Bucket(BaseHTTPRequestHandler):
    """An S3 endpoint that serves one object only to a request signed with KEYS, and the ECS
    credentials endpoint that hands KEYS to the task."""

    objects: dict[str, bytes] = {}
    gets: list[str] = []

    def do_GET(self) -> None:
        if self.path == "/credentials":
            self._answer(
                200,
                json.dumps(
                    dict(zip(("AccessKeyId", "SecretAccessKey", "Token"), KEYS, strict=True))
                ).encode(),
            )
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = f"http://{headers['host']}{self.path}"
        given = headers.get("authorization", "").rsplit("Signature=", 1)[-1]
        if not given or given != botocore_signature(url, headers, KEYS):
            self._answer(403, b"SignatureDoesNotMatch")
            return
        self.gets.append(self.path)
        data = self.objects.get(self.path)
        self._answer(200 if data is not None else 404, data or b"NoSuchKey")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def bucket() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Bucket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Bucket.objects, Bucket.gets = {}, []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def package() -> bytes:
    """A package as packaging.proxy_package lays it out: skybinder under python/ (its
    dependencies come from this interpreter's environment here)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted((ROOT / "skybinder").rglob("*.py")):
            archive.write(path, f"python/{path.relative_to(ROOT).as_posix()}")
    return out.getvalue()


def boot(endpoint: str, digest: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{endpoint}/credentials",
        "SKYBINDER_PROXY_PACKAGE": "s3://packages/proxy/proxy-arm64.zip",
        "SKYBINDER_PROXY_SHA256": digest,
    }
    return subprocess.run(
        [sys.executable, "-c", BOOT, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_fetches_checks_unpacks_and_runs_the_proxy(bucket: str) -> None:
    data = package()
    Bucket.objects["/packages/proxy/proxy-arm64.zip"] = data
    done = boot(bucket, hashlib.sha256(data).hexdigest(), "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: python -m skybinder.proxy" in done.stdout  # the unpacked package ran
    assert "--trust-forwarded" in done.stdout
    assert Bucket.gets == ["/packages/proxy/proxy-arm64.zip"]


def test_a_package_that_is_not_the_deployed_one_never_runs(bucket: str) -> None:
    Bucket.objects["/packages/proxy/proxy-arm64.zip"] = package()
    done = boot(bucket, "0" * 64, "--help")
    assert done.returncode == 70
    assert "not the deployed" in done.stderr and "usage" not in done.stdout


def test_a_missing_package_says_so_in_one_line(bucket: str) -> None:
    done = boot(bucket, "0" * 64)
    assert done.returncode == 70
    assert done.stderr.startswith("skybinder proxy could not start:") and "404" in done.stderr
