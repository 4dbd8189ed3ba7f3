"""Start the session proxy on a stock Python image: fetch its package from S3, check it, run it.

The ECS task definition (infra/proxy.py) runs this file's text as `python -c <text> <args>`.
It uses the standard library only, because nothing else is installed yet:

1. credentials from the task's role, through the ECS credentials endpoint (or, outside ECS,
   from the AWS_* variables);
2. GET s3://<bucket>/<key> (SKYBINDER_PROXY_PACKAGE), signed with Signature Version 4;
3. the zip's SHA-256 must be SKYBINDER_PROXY_SHA256: what `pulumi up` uploaded, nothing else;
4. unpacked into a fresh directory, then `python -m skybinder.proxy <args>` replaces this
   process, with the package's `python/` directory (skybinder and its dependencies, built for
   this image's Python and architecture) on PYTHONPATH.

Exit status 70 and one line on stderr when any step fails; ECS then starts another task.
"""

import datetime
import hashlib
import hmac
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile

ECS_CREDENTIALS = "http://169.254.170.2"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def credentials():
    """(access key, secret key, session token or "") of the task's role."""
    relative = os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative or full:
        request = urllib.request.Request(full or ECS_CREDENTIALS + relative)
        token = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if token:
            request.add_header("Authorization", token)
        with urllib.request.urlopen(request, timeout=10) as answer:
            found = json.load(answer)
        return found["AccessKeyId"], found["SecretAccessKey"], found.get("Token", "")
    return (
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN", ""),
    )


def signed_get(url, region, keys, now):
    """The headers of a SigV4-signed S3 GET of `url` at `now` (a UTC datetime)."""
    access, secret, token = keys
    parts = urllib.parse.urlsplit(url)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"host": parts.netloc, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            urllib.parse.quote(parts.path or "/", safe="/~"),
            "",
            "".join(f"{name}:{headers[name]}\n" for name in names),
            ";".join(names),
            EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


def object_url(package, region):
    """https://<bucket>.s3.<region>.amazonaws.com/<key>, or the same path on AWS_ENDPOINT_URL_S3
    (an S3-compatible endpoint, addressed by path)."""
    bucket, _, key = package.removeprefix("s3://").partition("/")
    quoted = urllib.parse.quote(key, safe="/~")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3", "").rstrip("/")
    if endpoint:
        return f"{endpoint}/{bucket}/{quoted}"
    return f"https://{bucket}.s3.{region}.amazonaws.com/{quoted}"


def fetch(package, region, expected):
    """The package's bytes, checked against its expected SHA-256."""
    url = object_url(package, region)
    now = datetime.datetime.now(datetime.UTC)
    request = urllib.request.Request(url, headers=signed_get(url, region, credentials(), now))
    with urllib.request.urlopen(request, timeout=60) as answer:
        data = answer.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ValueError(f"{package} has SHA-256 {digest}, not the deployed {expected}")
    return data


def main(args):
    region = os.environ.get("AWS_REGION") or os.environ["AWS_DEFAULT_REGION"]
    package, expected = os.environ["SKYBINDER_PROXY_PACKAGE"], os.environ["SKYBINDER_PROXY_SHA256"]
    data = fetch(package, region, expected)
    root = tempfile.mkdtemp(prefix="skybinder-proxy-")
    archive = os.path.join(root, "package.zip")
    with open(archive, "wb") as out:
        out.write(data)
    with zipfile.ZipFile(archive) as package:
        package.extractall(root)
    os.remove(archive)
    environment = {**os.environ, "PYTHONPATH": os.path.join(root, "python")}
    command = [sys.executable, "-m", "skybinder.proxy", *args]
    os.execve(sys.executable, command, environment)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as err:  # one line a person reads in the task's log, then ECS retries
        print(f"skybinder proxy could not start: {err!r}", file=sys.stderr)
        sys.exit(70)
