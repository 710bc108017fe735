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
5. Reads back what MiniStack keeps of the stack's production settings (log groups and their
   retention, the function's log group and tracing, the stage's access log, the alarms with no
   actions, the role without a managed policy). Redeploys with ROOT_PATH changed; the new
   value must take effect. Redeploys with the Function URL's InvokeMode RESPONSE_STREAM: its
   answers (streamed, MiniStack reading the prelude as AWS does) must still match HTTP mode, a
   4,000,000-byte echo must come back whole through it, and the HTTP API must stay buffered.
   (MiniStack has no REST API streaming.)
   Redeploys closed: a JWT authorizer, an AWS_IAM Function URL, a reserved concurrency and an
   SNS topic for the alarms; callers without a token or a signature are refused.
6. Runs scripts/deploy-function.sh (deploy.yml's AWS steps) against an image function made from
   a placeholder image URI, one on Managed Instances (publish-version must get --publish-to
   LATEST_PUBLISHED), the zip stack's function (left unchanged, and said so), and on an
   unmapped branch.
7. Checks the failures: bad deploy inputs stop with one line (the cheap ones before any build),
   a redeploy with the other ARCH is refused, a deploy CloudFormation refuses (a zip and an
   image, a reserved concurrency on Managed Instances) fails with its reason, an emulator that
   exits at start or a taken port is reported.
8. Deletes the stack, checks its function, API, log groups and alarms are gone, and stops
   everything it started.

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


# What the template's defaults set (template.yaml's Parameters).
DEFAULT_RETENTION_DAYS = 30
DEFAULT_TIMEOUT_MS = 10_000
ALARMS = ("function-errors", "function-throttles", "api-5xx", "function-duration")


def check_production(emulator, outputs):
    """The production settings as MiniStack keeps them, after a deploy with the defaults. The
    stage's throttling is not among them (MiniStack drops DefaultRouteSettings on read-back):
    tests/deploy/consistency.py checks it in the template."""
    logs, lam, v2 = emulator.client("logs"), emulator.client("lambda"), emulator.client("apigatewayv2")
    names = (outputs.get("FunctionLogGroup"), outputs.get("AccessLogGroup"))
    groups = {g["logGroupName"]: g for name in names if name
              for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]}
    check(f"the stack creates the function's and the access log groups, each kept {DEFAULT_RETENTION_DAYS} days",
          all(name in groups and groups[name].get("retentionInDays") == DEFAULT_RETENTION_DAYS for name in names),
          f"outputs {names}, groups {groups}")

    config = lam.get_function_configuration(FunctionName=outputs["FunctionName"])
    # The requests above were invoked, and MiniStack writes an invocation's lines where
    # LoggingConfig says.
    lines = logs.filter_log_events(logGroupName=outputs["FunctionLogGroup"], limit=5)["events"] if groups else []
    check("the function logs to the stack's group (its lines are there), with X-Ray tracing Active, and no reserved concurrency",
          config.get("LoggingConfig", {}).get("LogGroup") == outputs.get("FunctionLogGroup") and lines
          and config.get("TracingConfig", {}).get("Mode") == "Active"
          and "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=outputs["FunctionName"]),
          f"LoggingConfig {config.get('LoggingConfig')}, TracingConfig {config.get('TracingConfig')}")

    iam = emulator.client("iam")
    role = config["Role"].rsplit("/", 1)[1]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    inline = iam.list_role_policies(RoleName=role)["PolicyNames"]
    check("the function's role has no managed policy, only its own log group's and X-Ray's inline ones",
          not attached and sorted(inline) == ["own-log-group", "xray-traces"], f"attached {attached}, inline {inline}")

    api = local_aws.url_id(outputs["ApiUrl"])
    stage = v2.get_stage(ApiId=api, StageName="$default")
    access = stage.get("AccessLogSettings", {})
    try:
        line = json.loads(access.get("Format", ""))
    except ValueError:
        line = {}
    access_arn = groups.get(outputs.get("AccessLogGroup"), {}).get("arn", "?")
    check("the $default stage writes a JSON access line to the access log group, with both request ids",
          access.get("DestinationArn") == access_arn
          and line.get("requestId") == "$context.requestId"
          and line.get("lambdaRequestId") == "$context.integration.requestId",
          f"AccessLogSettings {access}, the group's ARN {access_arn}")

    alarms = alarms_of(emulator)
    check(f"the stack creates {len(ALARMS)} alarms, with no actions when AlarmTopicArn is empty; duration at 80% of Timeout",
          sorted(alarms) == sorted(ALARMS)
          and all(not a.get("AlarmActions") and not a.get("OKActions") for a in alarms.values())
          and alarms.get("function-duration", {}).get("Threshold") == 0.8 * DEFAULT_TIMEOUT_MS,
          str(alarms))


def alarms_of(emulator):
    """The stack's alarms by the part of their name after the stack's prefix."""
    prefix = f"{STACK}-"
    found = emulator.client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return {a["AlarmName"].removeprefix(prefix): a for a in found}


def signed(emulator, url, path):
    """A SigV4-signed GET, as an IAM caller of an AWS_IAM Function URL sends it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url + path)
    SigV4Auth(Credentials(local_aws.CREDENTIALS["AWS_ACCESS_KEY_ID"], local_aws.CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
              "lambda", local_aws.REGION).add_auth(request)
    return call(url, Request("GET", path, headers=dict(request.headers)))


def check_closed(emulator):
    """A redeploy closed: the HTTP API behind a JWT authorizer, the Function URL with AWS_IAM,
    ReservedConcurrency=5 (which MiniStack's CloudFormation accepts and does not apply, so
    tests/deploy/consistency.py checks it) and an SNS topic for the alarms. What MiniStack
    enforces is called:
    a missing or malformed token gets the authorizer's 401, an unsigned URL call 403. It does
    not verify a SigV4 signature (a signed call is answered whatever the key), and a token's
    signature only against its issuer's keys, which no issuer serves here."""
    topic = emulator.client("sns").create_topic(Name="rust-hybrid-api-alarms")["TopicArn"]
    outputs = local_aws.deploy(emulator, ENVIRONMENT, " ".join((
        "JwtIssuer=https://issuer.example.com", "JwtAudience=rust-hybrid-api", "FunctionUrlAuthType=AWS_IAM",
        "ReservedConcurrency=5", f"AlarmTopicArn={topic}", "TracingMode=PassThrough", "FunctionUrlInvokeMode=BUFFERED")))
    api = local_aws.FrontEnd("http-api", f"{emulator.endpoint}/_aws/execute-api/{local_aws.url_id(outputs['ApiUrl'])}/$default", "")
    no_token = call(api.base_url, Request("GET", "/health"))
    bad_token = call(api.base_url, Request("GET", "/health", headers={"authorization": "Bearer not.a.jwt"}))
    check("with JwtIssuer, the HTTP API answers a call without a token, or with a malformed one, 401 Unauthorized",
          all((a.status, json.loads(a.body or b"{}")) == (401, {"message": "Unauthorized"}) for a in (no_token, bad_token)),
          f"no token: {no_token}\nmalformed token: {bad_token}")

    v2 = emulator.client("apigatewayv2")
    api_id = local_aws.url_id(outputs["ApiUrl"])
    authorizers = v2.get_authorizers(ApiId=api_id)["Items"]
    routes = v2.get_routes(ApiId=api_id)["Items"]
    check("the authorizer checks the issuer and audience given, on the $default route",
          [(a["AuthorizerType"], a["JwtConfiguration"]["Issuer"], a["JwtConfiguration"]["Audience"]) for a in authorizers]
          == [("JWT", "https://issuer.example.com", ["rust-hybrid-api"])]
          and [(r["RouteKey"], r.get("AuthorizationType"), r.get("AuthorizerId")) for r in routes]
          == [("$default", "JWT", authorizers[0]["AuthorizerId"])],
          f"authorizers {authorizers}\nroutes {routes}")

    lam = emulator.client("lambda")
    url = f"{emulator.endpoint}/_aws/lambda-url/{local_aws.url_id(outputs['FunctionUrl'])}"
    unsigned = call(url, Request("GET", "/health"))
    signed_call = signed(emulator, url, "/health")
    check("with FunctionUrlAuthType=AWS_IAM, an unsigned call is 403 and a signed one is answered",
          (unsigned.status, signed_call.status, signed_call.body) == (403, 200, b'{"status":"ok"}')
          and lam.get_function_url_config(FunctionName=outputs["FunctionName"])["AuthType"] == "AWS_IAM",
          f"unsigned: {unsigned}\nsigned: {signed_call}")
    try:
        statements = json.loads(lam.get_policy(FunctionName=outputs["FunctionName"])["Policy"])["Statement"]
    except lam.exceptions.ResourceNotFoundException:
        statements = []
    public = [s for s in statements if s.get("Principal") in ("*", {"AWS": "*"})]
    check("with FunctionUrlAuthType=AWS_IAM, the function grants nothing to everyone", not public, str(public))

    alarms = alarms_of(emulator)
    config = lam.get_function_configuration(FunctionName=outputs["FunctionName"])
    check("with AlarmTopicArn, every alarm notifies the topic as it fires and as it clears; tracing PassThrough",
          sorted(alarms) == sorted(ALARMS)
          and all(a.get("AlarmActions") == [topic] and a.get("OKActions") == [topic] for a in alarms.values())
          and config.get("TracingConfig", {}).get("Mode") == "PassThrough"
          and emulator.client("iam").list_role_policies(RoleName=config["Role"].rsplit("/", 1)[1])["PolicyNames"] == ["own-log-group"],
          str({name: (a.get("AlarmActions"), a.get("OKActions")) for name, a in alarms.items()}))


def recording_aws(workdir):
    """A folder whose `aws` logs its arguments, one call a line, to the file returned, then runs
    the real AWS CLI: MiniStack accepts publish-version --publish-to and ignores it, so the
    call is what can be checked."""
    shim, log = Path(workdir, "aws-shim"), Path(workdir, "aws-calls")
    shim.mkdir()
    real = shutil.which("aws", path=str(local_aws.TOOLS_BIN))
    if real is None:
        raise Failure(f"the AWS CLI is not in {local_aws.TOOLS_BIN}: make tools-aws")
    (shim / "aws").write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (shim / "aws").chmod(0o755)
    return shim, log


def check_deploy_script(emulator, workdir, stack_outputs):
    """scripts/deploy-function.sh, as deploy.yml runs it, against image functions: MiniStack can
    create, update and version them, though not invoke them. Then against the zip stack's
    function, which it must leave alone, and an image function on Lambda Managed Instances,
    which MiniStack creates but does not run."""
    lam = emulator.client("lambda")
    placeholder = f"{local_aws.ACCOUNT}.dkr.ecr.{local_aws.REGION}.amazonaws.com/rust-hybrid-api:placeholder"
    role = f"arn:aws:iam::{local_aws.ACCOUNT}:role/rust-hybrid-api"
    for name in ("image-api-dev", "image-api-stg"):
        lam.create_function(FunctionName=name, PackageType="Image", Code={"ImageUri": placeholder}, Role=role)
    capacity_provider = f"arn:aws:lambda:{local_aws.REGION}:{local_aws.ACCOUNT}:capacity-provider:rust-hybrid-api"
    lam.create_function(FunctionName="image-api-lmi", PackageType="Image", Code={"ImageUri": placeholder}, Role=role,
                        CapacityProviderConfig={"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": capacity_provider}})
    shim, calls = recording_aws(workdir)

    def script(*args):
        output, summary = Path(workdir, "github-output"), Path(workdir, "step-summary")
        output.write_text("")
        summary.write_text("")
        calls.write_text("")
        env = {**emulator.env(), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
               "PATH": f"{shim}:{emulator.env()['PATH']}"}
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

    publishes = [line for line in calls.read_text().splitlines() if line.startswith("lambda publish-version")]
    check("deploy-function.sh update publishes a classic function's version without --publish-to",
          len(publishes) == 1 and "--publish-to" not in publishes[0], str(publishes))

    run, _, summary = script("update", "image-api-lmi", image, tag, "sha256:0123")
    publishes = [line for line in calls.read_text().splitlines() if line.startswith("lambda publish-version")]
    check("deploy-function.sh update on Lambda Managed Instances publishes to $LATEST.PUBLISHED (--publish-to LATEST_PUBLISHED)",
          run.returncode == 0 and len(publishes) == 1 and "--publish-to LATEST_PUBLISHED" in publishes[0]
          and lam.get_function(FunctionName="image-api-lmi")["Code"]["ImageUri"] == image,
          f"exit {run.returncode}: {run.stdout}{run.stderr}\npublish-version calls: {publishes}")

    zip_function = stack_outputs["FunctionName"]
    before = lam.get_function_configuration(FunctionName=zip_function)
    versions_before = lam.list_versions_by_function(FunctionName=zip_function)["Versions"]
    run, _, summary = script("update", zip_function, image, tag, "sha256:0123")
    after = lam.get_function_configuration(FunctionName=zip_function)
    said = f"{zip_function} is a Zip function"
    check("deploy-function.sh update on the zip stack's function changes nothing, exits 0 and says so in one line and in the summary",
          run.returncode == 0 and run.stdout.count("\n") == 1 and said in run.stdout and said in summary
          and (after["PackageType"], after["CodeSha256"]) == ("Zip", before["CodeSha256"])
          and lam.list_versions_by_function(FunctionName=zip_function)["Versions"] == versions_before
          and not any(line.startswith(("lambda update-function-code", "lambda publish-version")) for line in calls.read_text().splitlines()),
          f"exit {run.returncode}: {run.stdout}{run.stderr}\nsummary: {summary}\nCodeSha256 {before['CodeSha256']} -> {after['CodeSha256']}")

    run, outputs, summary = script("target", "feature/login")
    check("deploy-function.sh target on an unmapped branch is a no-op: deploy=false, said in the summary",
          run.returncode == 0 and outputs == {"deploy": "false"} and "nothing to deploy" in summary,
          f"{run.stdout}{run.stderr}{outputs}{summary}")


def check_failures(emulator):
    host = f"ARCH={local_aws.HOST_ARCH}"
    bucket = f"BUCKET={local_aws.BUCKET}"
    # before_build: refused by deploy-stack.sh check, before make runs cargo lambda (whose
    # command line make would print) or installs anything.
    for target, variables, expected, before_build in (
        ("deploy-zip", ["ENVIRONMENT=qa", bucket, host], "deploy: ENVIRONMENT='qa' is not one of: prod dev stg tst", True),
        ("deploy-zip", ["BUCKET=", host], "deploy: BUCKET is empty", True),
        ("deploy-zip", [bucket, "ARCH=sparc"], "deploy: ARCH='sparc' is not an architecture Lambda runs", True),
        ("deploy-image", ["IMAGE=", host], "deploy: IMAGE is empty", True),
        ("deploy-zip", ["BUCKET=no-such-bucket", host], "deploy: cannot use the bucket 'no-such-bucket'", False),
    ):
        run = subprocess.run(["make", "--no-print-directory", target, *variables],
                             cwd=ROOT, env=emulator.env(), capture_output=True, text=True, timeout=120)
        said = [line for line in run.stderr.splitlines() if line.startswith("deploy: ")]
        built = "cargo lambda" in run.stdout + run.stderr
        check(f"make {target} {' '.join(variables)} exits non-zero with one line{', before any build' if before_build else ''}",
              run.returncode != 0 and len(said) == 1 and said[0].startswith(expected) and not (before_build and built),
              f"exit {run.returncode}\n{run.stdout}{run.stderr}")

    # The stack runs on this machine's CPU; a redeploy for the other one is refused before
    # anything is uploaded or deployed. Run as make deploy-zip runs it, without building the zip
    # for the other CPU only to be refused.
    other = "arm64" if local_aws.HOST_ARCH == "x86_64" else "x86_64"
    cloudformation = emulator.client("cloudformation")
    before = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    run = subprocess.run(["bash", "scripts/deploy-stack.sh", "zip", STACK, ENVIRONMENT, local_aws.BUCKET, other],
                         cwd=ROOT, env=emulator.env(), capture_output=True, text=True, timeout=120)
    after = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    said = [line for line in run.stderr.splitlines() if line.startswith("deploy: ")]
    check(f"a redeploy of the {local_aws.HOST_ARCH} stack with ARCH={other} is refused in one line naming ARCH={local_aws.HOST_ARCH}, the stack unchanged",
          run.returncode == 1 and len(said) == 1 and not run.stdout
          and f"runs on {local_aws.HOST_ARCH}, not ARCH={other}: pass ARCH={local_aws.HOST_ARCH}" in said[0]
          and after.get("LastUpdatedTime") == before.get("LastUpdatedTime") and after["Parameters"] == before["Parameters"],
          f"exit {run.returncode}\n{run.stdout}{run.stderr}")

    for environment, params, reason in (
        ("dev", "ImageUri=example.com/not-both:1", "not both"),
        ("stg", "ReservedConcurrency=5 CapacityProviderArn=arn:aws:lambda:us-east-1:000000000000:capacity-provider:cp",
         "ReservedConcurrency is for classic Lambda"),
    ):
        name = f"a deploy CloudFormation refuses fails, with its reason ({reason})"
        try:
            local_aws.deploy(emulator, environment, params)
            check(name, False, "the deploy succeeded")
        except Failure as failure:
            check(name, "the deploy failed" in str(failure) and reason in failure.details, f"{failure}\n{failure.details}")
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
    groups = {g["logGroupName"] for g in emulator.client("logs").describe_log_groups()["logGroups"]}
    kept = groups & {outputs["FunctionLogGroup"], outputs["AccessLogGroup"]}
    alarms = alarms_of(emulator)
    check("deleting the stack removes its function, its HTTP API, its log groups and its alarms",
          outputs["FunctionName"] not in names and local_aws.url_id(outputs["ApiUrl"]) not in apis and not kept and not alarms,
          f"functions {sorted(names)}, APIs {sorted(apis)}, log groups {sorted(kept)}, alarms {sorted(alarms)}")


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
        check_production(emulator, outputs)
        check_redeploy(emulator, ends)
        check_streaming(emulator, reference_url)
        check_closed(emulator)
        check_deploy_script(emulator, workdir, outputs)
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
