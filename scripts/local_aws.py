"""A local AWS for this service, without Docker: MiniStack on a loopback port, the zip stack
deployed to it with `make deploy-zip` (the documented command, docs/deploying.md), and every front end a client calls
the function through. `make apigw-local` (scripts/apigw_local.py) keeps it running for a
developer; `make e2e-aws` (tests/e2e/aws.py) checks every front end against HTTP mode.

Each front end is addressed the way MiniStack 1.5.33 resolves it for any client, by path:
/_aws/execute-api/{api}/{stage}/..., /_aws/lambda-url/{url}/... and /_alb/{name}/... (its
host-based forms, {api}.execute-api.localhost, resolve only in clients that resolve *.localhost
themselves: curl does, glibc does not).

Every wait is bounded, and every failure is a `Failure` with one line to print.
"""
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / "target/tools/bin"
REGION = "us-east-1"
ACCOUNT = "000000000000"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
BUCKET = "rust-hybrid-api-artefacts"

# MiniStack runs the function as a process of this machine, so the zip is built for its CPU.
HOST_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())

READY_SECONDS = 20
DEPLOY_SECONDS = 300
STOP_SECONDS = 5


class Failure(Exception):
    """Something the run cannot go on from; its message is one line, the details follow it."""

    def __init__(self, line, details=""):
        super().__init__(line)
        self.details = details


@dataclass
class FrontEnd:
    """One way in to the function: a name, the URL its root path is at, and what it is."""

    name: str
    base_url: str
    what: str


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Emulator:
    """MiniStack in its own session, with its state and the function code it unpacks in `workdir`.
    Without a workdir it stands for one already running on `port`."""

    def __init__(self, port, workdir, command=None):
        self.command = command or [str(TOOLS_BIN / "ministack")]
        self.port = port
        self.workdir = Path(workdir) if workdir else None
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log_path = self.workdir / "ministack.log" if workdir else None
        self.process = None

    def env(self):
        """The environment for the AWS CLI, boto3 and make: dummy credentials, this endpoint."""
        return {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "PATH": f"{TOOLS_BIN}:{os.environ['PATH']}"}

    def start(self):
        if not Path(self.command[0]).exists():
            raise Failure(f"MiniStack is not installed at {self.command[0]}: make tools-aws")
        if not port_is_free(self.port):
            raise Failure(f"port {self.port} on 127.0.0.1 is taken: stop what uses it, or choose another port")
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            # Loopback only (it binds 0.0.0.0 by default), and nothing kept outside workdir.
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "TMPDIR": str(tmp),
            "STATE_DIR": str(self.workdir / "state"),
            "PERSIST_STATE": "0",
            "LOG_LEVEL": "WARNING",
            # scripts/ministack/sitecustomize.py turns Nagle's algorithm off in its Runtime API
            # (about 50 ms per invocation otherwise); on this interpreter's path only.
            "PYTHONPATH": str(ROOT / "scripts/ministack"),
        }
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, env=env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"MiniStack exited with status {self.process.returncode} before it was ready", self.log_tail())
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise Failure(f"MiniStack did not answer on {self.endpoint} within {READY_SECONDS} s", self.log_tail())

    def stop(self):
        """Stops MiniStack and the function processes it started (its session), by PID."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, STOP_SECONDS)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Function processes outlive a SIGTERMed parent unless the session is emptied too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines=20):
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def client(self, service):
        import boto3  # the tools virtual environment's
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            # Bounded: an emulator that stops answering fails a call in seconds, not minutes.
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2}),
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


BUILD_SECONDS = 900


def build_zip():
    """`make lambda-zip` for this machine's CPU, its output shown: about 2 minutes on 2 cores the
    first time, a second when nothing changed."""
    if HOST_ARCH is None:
        raise Failure(f"this machine's CPU is {platform.machine()}: Lambda runs only x86_64 and arm64")
    command = ["make", "--no-print-directory", "lambda-zip", f"ARCH={HOST_ARCH}"]
    try:
        run = subprocess.run(command, cwd=ROOT, timeout=BUILD_SECONDS)
    except subprocess.TimeoutExpired:
        raise Failure(f"{' '.join(command)} did not finish within {BUILD_SECONDS} s")
    if run.returncode != 0:
        raise Failure(f"{' '.join(command)} exited {run.returncode}: the zip could not be built")


def stack_name(environment):
    """make deploy-zip's default STACK."""
    return f"rust-hybrid-api-{environment}"


def deploy(emulator, environment, params=""):
    """`make deploy-zip`, exactly as docs/deploying.md gives it, against the emulator, for this
    machine's CPU (build_zip() first, or it builds the zip silently). Returns the stack's outputs."""
    s3 = emulator.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)
    command = ["make", "--no-print-directory", "deploy-zip", f"ENVIRONMENT={environment}", f"BUCKET={BUCKET}", f"ARCH={HOST_ARCH}",
               f"PARAMS={params}"]
    try:
        run = subprocess.run(command, cwd=ROOT, env=emulator.env(), capture_output=True, text=True, timeout=DEPLOY_SECONDS)
    except subprocess.TimeoutExpired:
        raise Failure(f"{' '.join(command)} did not finish within {DEPLOY_SECONDS} s", emulator.log_tail())
    if run.returncode != 0:
        raise Failure(
            f"the deploy failed ({' '.join(command)} exited {run.returncode})",
            f"{run.stdout}{run.stderr}\nMiniStack's log:\n{emulator.log_tail()}",
        )
    stack = emulator.client("cloudformation").describe_stacks(StackName=stack_name(environment))["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def url_id(url):
    """https://{id}.execute-api... or https://{id}.lambda-url... -> id"""
    return url.split("//", 1)[1].split(".", 1)[0]


def front_ends(emulator, outputs, name):
    """The stack's own front ends (its HTTP API on $default, its Function URL), and the others a
    client may put in front of the same function, created here with boto3 as a user would with
    the AWS CLI: an HTTP API on a named stage, REST APIs with and without binary media types,
    and ALBs with multi-value headers on and off."""
    lam = emulator.client("lambda")
    function_arn = lam.get_function(FunctionName=outputs["FunctionName"])["Configuration"]["FunctionArn"]
    ends = [FrontEnd("http-api", f"{emulator.endpoint}/_aws/execute-api/{url_id(outputs['ApiUrl'])}/$default",
                     "the stack's HTTP API, $default stage, payload 2.0")]
    if "FunctionUrl" in outputs:
        ends.append(FrontEnd("function-url", f"{emulator.endpoint}/_aws/lambda-url/{url_id(outputs['FunctionUrl'])}",
                             "the stack's Function URL"))
    ends.append(http_api(emulator, function_arn, f"{name}-staged", "v1", "2.0"))
    ends.append(http_api(emulator, function_arn, f"{name}-payload1", "v1", "1.0"))
    ends.append(rest_api(emulator, function_arn, f"{name}-rest", binary=False))
    ends.append(rest_api(emulator, function_arn, f"{name}-rest-binary", binary=True))
    ends.append(alb(emulator, function_arn, f"{name}-alb", multi_value=False))
    ends.append(alb(emulator, function_arn, f"{name}-alb-mv", multi_value=True))
    return ends


def http_api(emulator, function_arn, name, stage, payload):
    v2 = emulator.client("apigatewayv2")
    api = v2.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=function_arn, PayloadFormatVersion=payload,
    )["IntegrationId"]
    v2.create_route(ApiId=api, RouteKey="$default", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api, StageName=stage, AutoDeploy=True)
    allow_invoke(emulator, function_arn, name, "apigateway.amazonaws.com")
    return FrontEnd(f"http-api-{stage}-payload-{payload}", f"{emulator.endpoint}/_aws/execute-api/{api}/{stage}",
                    f"an HTTP API, stage {stage}, payload {payload}")


# MiniStack 1.5.33 does not create a REST method ANY (x-amazon-apigateway-any-method): calls get
# 403 "Missing Authentication Token". On AWS one ANY method on / and on /{proxy+} is the usual
# form; these explicit methods route the same requests.
REST_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def rest_api(emulator, function_arn, name, binary):
    rest = emulator.client("apigateway")
    api = rest.create_rest_api(
        name=name, binaryMediaTypes=["*/*"] if binary else [], endpointConfiguration={"types": ["REGIONAL"]},
    )["id"]
    root = next(r["id"] for r in rest.get_resources(restApiId=api)["items"] if r["path"] == "/")
    proxy = rest.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    for resource in (root, proxy):
        for method in REST_METHODS:
            rest.put_method(restApiId=api, resourceId=resource, httpMethod=method, authorizationType="NONE")
            rest.put_integration(restApiId=api, resourceId=resource, httpMethod=method, type="AWS_PROXY",
                                 integrationHttpMethod="POST", uri=uri)
    rest.create_deployment(restApiId=api, stageName="prod")
    allow_invoke(emulator, function_arn, name, "apigateway.amazonaws.com")
    kind = "with binaryMediaTypes */*" if binary else "without binaryMediaTypes"
    return FrontEnd(f"rest-api{'-binary' if binary else ''}", f"{emulator.endpoint}/_aws/execute-api/{api}/prod",
                    f"a REST API, stage prod, {kind}")


def alb(emulator, function_arn, name, multi_value):
    elb = emulator.client("elbv2")
    lb = elb.create_load_balancer(Name=name, Type="application", Scheme="internal")["LoadBalancers"][0]
    group = elb.create_target_group(Name=name, TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=group,
        Attributes=[{"Key": "lambda.multi_value_headers.enabled", "Value": str(multi_value).lower()}],
    )
    allow_invoke(emulator, function_arn, name, "elasticloadbalancing.amazonaws.com")
    # Registered after creation, as `aws elbv2 register-targets` does; MiniStack 1.5.33 ignores
    # a TargetGroup's Targets property (503 "No registered targets").
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": function_arn}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    return FrontEnd(f"alb{'-multi-value' if multi_value else ''}", f"{emulator.endpoint}/_alb/{name}",
                    f"an ALB, multi-value headers {'on' if multi_value else 'off'}")


def allow_invoke(emulator, function_arn, name, principal):
    emulator.client("lambda").add_permission(
        FunctionName=function_arn, StatementId=f"{name}-invoke", Action="lambda:InvokeFunction", Principal=principal,
    )


def delete_stack(emulator, stack, seconds=60):
    """Deletes the stack and waits, at most `seconds`, until CloudFormation no longer lists it."""
    cloudformation = emulator.client("cloudformation")
    cloudformation.delete_stack(StackName=stack)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except cloudformation.exceptions.ClientError as e:
            if "does not exist" in str(e):
                return
            raise
        if status == "DELETE_COMPLETE":
            return
        if status.endswith("FAILED"):
            raise Failure(f"deleting {stack} ended in {status}", emulator.log_tail())
        time.sleep(0.2)
    raise Failure(f"{stack} was not deleted within {seconds} s")


def workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def fail(failure, prefix="FAIL"):
    """Prints a Failure as its one line (then its details, indented) and exits 1."""
    print(f"{prefix} {failure}", file=sys.stderr)
    for line in failure.details.splitlines():
        print(f"     {line}", file=sys.stderr)
    sys.exit(1)
