#!/usr/bin/env python3
"""make e2e-aws: the deployed stack, called the way a client calls it, without Docker.

1. Starts MiniStack (a local AWS emulator) on a free loopback port.
2. Builds the zip for this machine's CPU and deploys the stack with `make deploy-zip`, the
   documented command (docs/deploying.md), with the Function URL on.
3. Puts the other front ends in front of the same function (scripts/local_aws.py): an HTTP API
   on a named stage and one with payload 1.0, REST APIs with and without binaryMediaTypes, ALBs
   with multi-value headers on and off.
4. Sends every request in REQUESTS through every front end, and the same request to the zip's
   own bootstrap running in HTTP mode. Status, content type, body (and Allow, where HTTP mode
   sends one) must match.
5. Redeploys with ROOT_PATH changed; the new value must take effect. Redeploys with the
   Function URL's InvokeMode RESPONSE_STREAM: its answers (streamed, MiniStack reading the
   prelude as AWS does) must still match HTTP mode, a 4,000,000-byte echo must come back whole
   through it, and the HTTP API must stay buffered. (MiniStack has no REST API streaming.)
6. Runs scripts/deploy-function.sh (deploy.yml's AWS steps) against an image function made from
   a placeholder image URI, and on an unmapped branch.
7. Checks the failures: bad deploy inputs stop with one line, a deploy CloudFormation refuses
   fails with its reason, an emulator that exits at start or a taken port is reported.
8. Deletes the stack, checks its function and API are gone, and stops everything it started.

Prints one line per check; on a failure, the request and both answers. Exits 1 if any failed.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import local_aws  # noqa: E402
from local_aws import Failure  # noqa: E402

ENVIRONMENT = "tst"
STACK = f"rust-hybrid-api-{ENVIRONMENT}"
ZIP = ROOT / "target/lambda/rust-hybrid-api/bootstrap.zip"
# src/limits.rs DEFAULT_LAMBDA_BODY_LIMIT: the deployed function's body limit, given to the HTTP
# mode reference too, so that both 413 messages name the same limit.
LAMBDA_BODY_LIMIT = 3_143_680
REQUEST_SECONDS = 30

# Non-ASCII text and a number no float holds: the echo must come back byte for byte.
ECHO_BODY = '{"greeting":"grüße, 世界 ✓","big":123456789012345678901234567890,"list":[3,1,2]}'.encode()
# Above the limit, below Lambda's 6 MB invocation payload, so the function answers, not the gateway.
OVERSIZED_BODY = b'{"pad":"' + b"x" * (LAMBDA_BODY_LIMIT + 1000) + b'"}'


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    def __str__(self):
        sent = f" with a {len(self.body)}-byte {self.headers.get('content-type')} body" if self.body else ""
        return f"{self.method} {self.path}{sent}"


@dataclass
class Answer:
    status: int
    content_type: str
    allow: str
    body: bytes

    def __str__(self):
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        allow = f", Allow: {self.allow}" if self.allow else ""
        return f"{self.status}, {self.content_type}{allow}, {len(self.body)} bytes: {body.decode(errors='replace')}"


JSON = {"content-type": "application/json"}
REQUESTS = [
    Request("GET", "/"),
    Request("GET", "/health"),
    Request("GET", "/time"),
    Request("POST", "/echo", ECHO_BODY, JSON),
    Request("GET", "/nope"),
    Request("DELETE", "/health"),
    Request("HEAD", "/health"),
    Request("POST", "/echo", OVERSIZED_BODY, JSON),
]

results = []


def check(name, ok, details=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
    if not ok:
        for line in details.splitlines():
            print(f"     {line}", flush=True)


def call(base_url, request):
    url = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_SECONDS)
    try:
        # Accept */* as curl sends it: a REST API decodes a base64 answer only when Accept
        # matches its binaryMediaTypes, and shows base64 text otherwise.
        headers = {"accept": "*/*", **request.headers}
        connection.request(request.method, url.path + request.path, body=request.body or None, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.getheader("content-type", ""), response.getheader("allow", ""), response.read())
    finally:
        connection.close()


def comparable(request, answer, mode):
    """What must be equal between the front end and HTTP mode. Two answers differ by design:
    GET / names the mode it runs in, and GET /time the moment it was asked."""
    body = answer.body
    if request.path == "/" and request.method == "GET" and answer.status == 200:
        document = json.loads(body)
        if document.get("mode") != mode:
            return ("mode", document.get("mode"), "expected", mode)
        document.pop("mode")
        body = json.dumps(document, sort_keys=True).encode()
    if request.path == "/time" and answer.status == 200:
        document = json.loads(body)
        when = datetime.strptime(document.pop("time"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        if abs((datetime.now(timezone.utc) - when).total_seconds()) > 60:
            return ("time", str(when), "is not now")
        body = json.dumps(document, sort_keys=True).encode()
    return (answer.status, answer.content_type, answer.allow, body)


def start_reference(workdir):
    """The zip's own bootstrap, in HTTP mode on a free loopback port: the answers to match."""
    with zipfile.ZipFile(ZIP) as archive:
        archive.extract("bootstrap", workdir)
    bootstrap = Path(workdir) / "bootstrap"
    bootstrap.chmod(0o755)
    port = local_aws.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOST="127.0.0.1", PORT=str(port), ROOT_PATH="/", MAX_BODY_BYTES=str(LAMBDA_BODY_LIMIT), RUST_LOG="warn")
    process = subprocess.Popen([str(bootstrap)], env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure(f"the HTTP mode reference ({bootstrap}) exited with status {process.returncode}")
        try:
            call(base_url, Request("GET", "/health"))
            return process, base_url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise Failure(f"the HTTP mode reference did not answer on {base_url} within 10 s")


def check_front_ends(ends, reference_url, requests=REQUESTS):
    expected = {str(r): call(reference_url, r) for r in requests}
    for end in ends:
        started = time.monotonic()
        wrong = []
        for request in requests:
            want = expected[str(request)]
            try:
                got = call(end.base_url, request)
            except OSError as e:
                wrong.append(f"{request}: no answer ({e})")
                continue
            if comparable(request, got, "lambda") != comparable(request, want, "http"):
                wrong.append(f"{request} to {end.base_url}{request.path}\n  {end.name}: {got}\n  HTTP mode: {want}")
            elif request.path == "/echo" and got.status == 200 and got.body != request.body:
                wrong.append(f"{request}: the echo is not byte-exact\n  sent: {request.body!r}\n  got:  {got.body!r}")
        took = (time.monotonic() - started) * 1000
        check(f"{end.name} ({end.what}): {len(requests)} requests answered as HTTP mode answers them ({took:.0f} ms)",
              not wrong, "\n".join(wrong))


def check_redeploy(emulator, ends):
    local_aws.deploy(emulator, ENVIRONMENT, "EnableFunctionUrl=true RootPath=/v2")
    api = next(e for e in ends if e.name == "http-api")
    moved = call(api.base_url, Request("GET", "/v2/health"))
    old = call(api.base_url, Request("GET", "/health"))
    check("a redeploy with RootPath=/v2 takes effect: /v2/health is 200, /health is 404",
          (moved.status, moved.body, old.status) == (200, b'{"status":"ok"}', 404),
          f"GET /v2/health: {moved}\nGET /health: {old}")


# A JSON string of escaped quotes, 4,000,000 bytes: over the buffered limit once escaped,
# within what a streamed answer carries.
STREAMED_ECHO = b'"' + b'\\"' * 1_999_999 + b'"'


def check_streaming(emulator, reference_url):
    outputs = local_aws.deploy(emulator, ENVIRONMENT, "EnableFunctionUrl=true RootPath=/ FunctionUrlInvokeMode=RESPONSE_STREAM")
    url = emulator.client("lambda").get_function_url_config(FunctionName=outputs["FunctionName"])
    check("a redeploy with FunctionUrlInvokeMode=RESPONSE_STREAM sets the URL's InvokeMode",
          url.get("InvokeMode") == "RESPONSE_STREAM", str(url))
    streamed = local_aws.FrontEnd("function-url", f"{emulator.endpoint}/_aws/lambda-url/{local_aws.url_id(outputs['FunctionUrl'])}",
                                  "the stack's Function URL, RESPONSE_STREAM")
    api = local_aws.FrontEnd("http-api", f"{emulator.endpoint}/_aws/execute-api/{local_aws.url_id(outputs['ApiUrl'])}/$default",
                             "the stack's HTTP API, buffered beside a streaming Function URL")
    # MiniStack reads a RESPONSE_STREAM URL's answer as a prelude, eight NUL bytes and a body,
    # and a buffered envelope there would come back as the body itself (octet-stream): so a
    # match with HTTP mode shows the answers were streamed. The buffered body limit no longer applies (the default grows to what an invocation
    # carries), so the oversized echo is left out here and a larger one checked below.
    check_front_ends([streamed, api], reference_url, [r for r in REQUESTS if r.body is not OVERSIZED_BODY])
    whole = call(streamed.base_url, Request("POST", "/echo", STREAMED_ECHO, JSON))
    check("a streamed 4,000,000-byte echo through the Function URL comes back whole",
          whole.status == 200 and whole.body == STREAMED_ECHO, str(whole))
    refused = call(api.base_url, Request("POST", "/echo", STREAMED_ECHO, JSON))
    check("the same echo through the buffered HTTP API is the JSON 413 (its answer could not fit 6 MB)",
          refused.status == 413 and b"payload_too_large" in refused.body, str(refused))


def check_deploy_script(emulator, workdir):
    """scripts/deploy-function.sh, as deploy.yml runs it, against image functions: MiniStack can
    create, update and version them, though not invoke them."""
    lam = emulator.client("lambda")
    placeholder = f"{local_aws.ACCOUNT}.dkr.ecr.{local_aws.REGION}.amazonaws.com/rust-hybrid-api:placeholder"
    for name in ("image-api-dev", "image-api-stg"):
        lam.create_function(FunctionName=name, PackageType="Image", Code={"ImageUri": placeholder},
                            Role=f"arn:aws:iam::{local_aws.ACCOUNT}:role/rust-hybrid-api")

    def script(*args):
        output, summary = Path(workdir, "github-output"), Path(workdir, "step-summary")
        output.write_text("")
        summary.write_text("")
        env = {**emulator.env(), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        run = subprocess.run(["bash", str(ROOT / "scripts/deploy-function.sh"), *args], env=env,
                             capture_output=True, text=True, timeout=120)
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        return run, outputs, summary.read_text()

    run, outputs, _ = script("target", "development")
    tag = outputs.get("tag", "")
    check("deploy-function.sh target development -> deploy=true, environment dev, tag dev-{timestamp}",
          run.returncode == 0 and outputs.get("deploy") == "true" and outputs.get("environment") == "dev"
          and re.fullmatch(r"dev-\d{8}T\d{6}Z", tag) is not None, f"{run.stdout}{run.stderr}{outputs}")

    image = placeholder.replace(":placeholder", f":{tag}")
    run, _, summary = script("update", "image-api-dev", image, tag, "sha256:0123")
    dev = lam.get_function(FunctionName="image-api-dev")
    versions = lam.list_versions_by_function(FunctionName="image-api-dev")["Versions"]
    published = [v for v in versions if v["Version"] != "$LATEST"]
    check("deploy-function.sh update points the function at the new image and publishes a version",
          run.returncode == 0 and dev["Code"]["ImageUri"] == image and len(published) == 1
          and published[0]["Description"] == tag,
          f"exit {run.returncode}: {run.stdout}{run.stderr}\nImageUri {dev['Code']['ImageUri']}, versions {versions}")
    check("deploy-function.sh update writes the image, digest, function and version to the job summary",
          all(text in summary for text in (image, "sha256:0123", "image-api-dev", f"version **{published[0]['Version'] if published else '?'}**")),
          summary)
    stg = lam.get_function(FunctionName="image-api-stg")
    check("deploy-function.sh update leaves every other function alone",
          stg["Code"]["ImageUri"] == placeholder
          and len(lam.list_versions_by_function(FunctionName="image-api-stg")["Versions"]) == 1,
          f"image-api-stg: {stg['Code']['ImageUri']}")

    run, outputs, summary = script("target", "feature/login")
    check("deploy-function.sh target on an unmapped branch is a no-op: deploy=false, said in the summary",
          run.returncode == 0 and outputs == {"deploy": "false"} and "nothing to deploy" in summary,
          f"{run.stdout}{run.stderr}{outputs}{summary}")


def check_failures(emulator):
    for variables, expected in (
        (["ENVIRONMENT=qa", f"BUCKET={local_aws.BUCKET}"], "deploy: ENVIRONMENT='qa' is not one of: prod dev stg tst"),
        (["BUCKET=no-such-bucket"], "deploy: cannot use the bucket 'no-such-bucket'"),
    ):
        run = subprocess.run(["make", "--no-print-directory", "deploy-zip", f"ARCH={local_aws.HOST_ARCH}", *variables],
                             cwd=ROOT, env=emulator.env(), capture_output=True, text=True, timeout=120)
        said = [line for line in run.stderr.splitlines() if line.startswith("deploy: ")]
        check(f"make deploy-zip {' '.join(variables)} exits non-zero with one line",
              run.returncode != 0 and len(said) == 1 and said[0].startswith(expected),
              f"exit {run.returncode}\n{run.stdout}{run.stderr}")
    try:
        local_aws.deploy(emulator, "dev", "ImageUri=example.com/not-both:1")
        check("a deploy CloudFormation refuses fails, with its reason", False, "the deploy succeeded")
    except Failure as failure:
        check("a deploy CloudFormation refuses fails, with its reason",
              "the deploy failed" in str(failure) and "not both" in failure.details, f"{failure}\n{failure.details}")
    crashing = local_aws.Emulator(local_aws.free_port(), tempfile.mkdtemp(dir=emulator.workdir),
                                  command=[sys.executable, "-c", "print('no such service'); raise SystemExit(3)"])
    try:
        crashing.start()
        check("an emulator that exits at start is reported in one line, with its log", False, "it started")
    except Failure as failure:
        check("an emulator that exits at start is reported in one line, with its log",
              str(failure) == "MiniStack exited with status 3 before it was ready" and "no such service" in failure.details,
              f"{failure}\n{failure.details}")
    try:
        local_aws.Emulator(emulator.port, tempfile.mkdtemp(dir=emulator.workdir)).start()
        check("a second emulator on a taken port is refused in one line", False, "it started")
    except Failure as failure:
        check("a second emulator on a taken port is refused in one line", "is taken" in str(failure), str(failure))


def check_delete(emulator, outputs):
    local_aws.delete_stack(emulator, STACK)
    lam, v2 = emulator.client("lambda"), emulator.client("apigatewayv2")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    apis = {a["ApiId"] for a in v2.get_apis()["Items"]}
    check("deleting the stack removes its function and its HTTP API",
          outputs["FunctionName"] not in names and local_aws.url_id(outputs["ApiUrl"]) not in apis,
          f"functions {sorted(names)}, APIs {sorted(apis)}")


def main():
    started = time.monotonic()
    try:
        local_aws.build_zip()
    except Failure as failure:
        local_aws.fail(failure)
    workdir = tempfile.mkdtemp(prefix="e2e-aws-")
    emulator = local_aws.Emulator(local_aws.free_port(), workdir)
    reference = None
    try:
        emulator.start()
        print(f"MiniStack on {emulator.endpoint}, pid {emulator.process.pid}, state in {workdir}", flush=True)
        deploy_started = time.monotonic()
        outputs = local_aws.deploy(emulator, ENVIRONMENT, "EnableFunctionUrl=true")
        check(f"make deploy-zip created {STACK} ({time.monotonic() - deploy_started:.1f} s)",
              {"ApiUrl", "FunctionName", "FunctionUrl"} <= set(outputs), str(outputs))
        reference, reference_url = start_reference(workdir)
        ends = local_aws.front_ends(emulator, outputs, "e2e")
        check_front_ends(ends, reference_url)
        check_redeploy(emulator, ends)
        check_streaming(emulator, reference_url)
        check_deploy_script(emulator, workdir)
        check_failures(emulator)
        check_delete(emulator, outputs)
    except Failure as failure:
        check(str(failure), False, failure.details)
    finally:
        if reference is not None:
            reference.kill()
            reference.wait()
        emulator.stop()
    left = subprocess.run(["pgrep", "-f", workdir], capture_output=True, text=True).stdout.split()
    check("every process it started has stopped", not left, f"still running: {left}")
    shutil.rmtree(workdir, ignore_errors=True)
    failed = results.count(False)
    print(f"e2e-aws: {len(results) - failed} passed, {failed} failed in {time.monotonic() - started:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
