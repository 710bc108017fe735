#!/usr/bin/env python3
"""Checks the deployment files against the code so that neither can change alone:

- the binary name in both Dockerfiles is Cargo.toml's package name;
- compose's ports match the service's default PORT, Dockerfile.local's ENV/EXPOSE, and the
  port `make lambda-invoke` posts to (LAMBDA_PORT);
- every environment variable the Dockerfiles, compose.yml and template.yaml set is one the
  service reads (a `pub const NAME: &str = "NAME"` in src/config.rs or src/launcher.rs);
- docs/deploying.md's docker compose section names exactly the variables compose.yml passes
  through from the shell (its `${NAME...}` references);
- the deploy scripts know exactly the environments template.yaml allows, and deploy.yml's AWS
  steps are scripts/deploy-function.sh (which make e2e-aws tests), not inline commands;
- template.yaml's production settings that MiniStack cannot show (make e2e-aws checks the rest):
  the stage's throttling follows its parameters (MiniStack drops DefaultRouteSettings), the
  reserved concurrency follows its optional parameter (MiniStack ignores it), the
  access log line is JSON with the fields docs/deploying.md promises, the function logs to the
  group the stack creates and its role may write there, the duration alarm's threshold is 80%
  of every allowed Timeout, only a public Function URL grants "*", and at most four rules are
  suppressed, each with its reason;
- hygiene: both images run as a non-root user, no Dockerfile bakes in a secret-like ENV or
  ARG, .dockerignore admits only what the build needs, and no workflow `run:` script expands a
  secret (secrets reach steps through `env:` or `with:`, which GitHub masks).

Run from the repository root (make lint-deploy). Prints one line per check and a summary.
"""
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))


def read(path):
    return (ROOT / path).read_text()


class CfnLoader(yaml.SafeLoader):
    """Loads CloudFormation's short-form tags as their long forms: !Ref X as {"Ref": "X"},
    !Sub s as {"Fn::Sub": "s"}, and so on."""


def intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", intrinsic)

manifest = tomllib.loads(read("Cargo.toml"))
package = manifest["package"]["name"]
compose = yaml.safe_load(read("compose.yml"))["services"]
template = yaml.load(read("template.yaml"), Loader=CfnLoader)
dockerfiles = {name: read(name) for name in ("Dockerfile.lambda", "Dockerfile.local")}
makefile = read("Makefile")

# The variables the service reads: every env var name declared as a const.
service_vars = set()
for source in ("src/config.rs", "src/launcher.rs"):
    service_vars |= set(re.findall(r'pub const ([A-Z_]+): &str = "\1";', read(source)))
check("the service declares its variables", {"PORT", "ROOT_PATH"} <= service_vars, service_vars)

default_port = re.search(r"const DEFAULT_PORT: u16 = (\d+);", read("src/config.rs"))
default_port = default_port and default_port.group(1)
lambda_port = re.search(r"^LAMBDA_PORT\s*\?=\s*(\d+)", makefile, re.M)
lambda_port = lambda_port and lambda_port.group(1)

# Binary name.
for name, text in dockerfiles.items():
    bins = set(re.findall(r"--bin (\S+)", text)) | set(re.findall(r"target/release/([\w-]+)", text))
    check(f"{name} builds the {package} binary", bins == {package}, f"it names {sorted(bins)}")

# The images ship the builds make bench measures (BENCHMARKS.md, "The images' binary"): the Lambda
# image the zip's bootstrap, the local image target/release. Both were once static musl builds
# that answered up to half as fast as what the figures described; these keep them from drifting
# apart again without running a benchmark.
lambda_image, local_image = dockerfiles["Dockerfile.lambda"], dockerfiles["Dockerfile.local"]
bench = read("bench/run.sh")
zip_build = re.search(r"^\tcargo lambda build --release\b.*$", makefile, re.M)
check("make lambda-zip builds the zip with cargo lambda build --release", bool(zip_build))
check(
    "Dockerfile.lambda builds its bootstrap as make lambda-zip does (cargo lambda build --release)",
    re.search(r"\bcargo lambda build --release --locked\b", lambda_image)
    and f"target/lambda/{package}/bootstrap" in lambda_image,
)
check(
    "Dockerfile.lambda installs cargo-lambda from tools/lambda.txt, the zip's pin",
    re.search(r"^COPY tools/lambda\.txt ", lambda_image, re.M) and "-r tools/lambda.txt" in lambda_image,
)
check(
    "Dockerfile.local builds target/release as make bench does (cargo build --release, no --target)",
    re.search(r"\bcargo build --release --locked\b", local_image) and f"target/release/{package}" in local_image,
)
for name, text in dockerfiles.items():
    instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    drift = re.findall(r"musl|alpine|--target\b|RUSTFLAGS|CARGO_\w+|crt-static", instructions, re.I)
    check(f"{name} sets no other target, libc or build flags than the measured builds", not drift, sorted(set(drift)))
builder = re.search(r"^FROM \S*rust:\$\{RUST_VERSION\}-(\w+)", local_image, re.M)
base = re.search(r"^FROM gcr\.io/distroless/(\w+)-debian(\d+)", local_image, re.M)
check(
    "Dockerfile.local runs its glibc build on distroless/cc of the builder's Debian release",
    builder and base and base.group(1) == "cc" and (builder.group(1), base.group(2)) == ("bookworm", "12"),
    f"builder {builder and builder.group(1)}, base {base and base.group(0)}",
)
rust_version = manifest["package"]["rust-version"]
for name, text in dockerfiles.items():
    pinned = re.search(r"^ARG RUST_VERSION=(\S+)", text, re.M)
    check(f"{name} builds with Cargo.toml's rust-version", pinned and pinned.group(1) == rust_version, pinned and pinned.group(1))
# One allocator and one set of dependencies for every target: a cfg on the target would let the
# images' build differ from the measured one again (a musl-only allocator, say).
sources = "\n".join(path.read_text() for path in sorted((ROOT / "src").rglob("*.rs")))
check("Cargo.toml has no target-specific dependencies", "target" not in manifest, sorted(manifest.get("target", {})))
check(
    "src/ picks no allocator or code by target environment",
    "global_allocator" not in sources and "target_env" not in sources,
)
check(
    "make bench measures both shipped builds",
    f"target/release/{package}" in bench and f"target/lambda/{package}/bootstrap" in bench,
)

# Ports.
def default_of(value):
    """'${PORT:-8080}' -> '8080'; '8080' -> '8080'."""
    match = re.fullmatch(r"\$\{\w+:-(\w+)\}", value)
    return match.group(1) if match else value


PORT_MAPPING = re.compile(r"(?:[\d.]+:)?(\$\{[^}]*\}|\d+):(\$\{[^}]*\}|\d+)")


def published(service):
    """compose's one port mapping as [host, container], with ${VAR:-default} resolved."""
    ports = compose[service].get("ports", [])
    match = len(ports) == 1 and PORT_MAPPING.fullmatch(str(ports[0]))
    return [default_of(match.group(1)), default_of(match.group(2))] if match else None


check("compose app-lambda uses Dockerfile.lambda", compose["app-lambda"]["build"]["dockerfile"] == "Dockerfile.lambda")
check("compose app-api uses Dockerfile.local", compose["app-api"]["build"]["dockerfile"] == "Dockerfile.local")
check(
    "app-lambda is published on LAMBDA_PORT, to the base image's emulator port 8080",
    published("app-lambda") == [lambda_port, "8080"],
    f"compose has {published('app-lambda')}, Makefile LAMBDA_PORT is {lambda_port}",
)
check(
    "app-api is published on the service's default PORT, on both sides",
    published("app-api") == [default_port, default_port]
    and default_of(str(compose["app-api"]["environment"].get("PORT"))) == default_port,
    f"compose has {published('app-api')}, src/config.rs DEFAULT_PORT is {default_port}",
)
local = dockerfiles["Dockerfile.local"]
env_port = re.search(r"\bPORT=(\d+)", local)
expose = re.search(r"^EXPOSE (\d+)", local, re.M)
check(
    "Dockerfile.local sets PORT and EXPOSEs the service's default port",
    env_port and expose and env_port.group(1) == expose.group(1) == default_port,
    f"ENV PORT={env_port and env_port.group(1)}, EXPOSE {expose and expose.group(1)}, default {default_port}",
)
check(
    "app-lambda and app-api do not share a host port",
    published("app-lambda")[0] != published("app-api")[0],
)

# Environment variables that are set must be read.
set_vars = {}
for name, text in dockerfiles.items():
    for line in re.findall(r"^ENV (.*?)(?<!\\)$", text, re.M | re.S):
        for var in re.findall(r"([A-Z_][A-Z0-9_]*)=", line):
            set_vars.setdefault(var, set()).add(name)
# compose's stop grace period must outlast the drain it configures, or Docker kills it mid-way.
def seconds(text):
    text = str(text)
    return float(text[:-1]) * {"s": 1, "m": 60}[text[-1]] if text[-1:] in "sm" else float(text)


api = compose["app-api"]
drain = default_of(str(api["environment"].get("SHUTDOWN_TIMEOUT_SECS", "${SHUTDOWN_TIMEOUT_SECS:-10}")))
grace = api.get("stop_grace_period", "10s")
check(
    "compose app-api's stop_grace_period outlasts SHUTDOWN_TIMEOUT_SECS",
    drain is not None and seconds(grace) > float(drain),
    f"stop_grace_period {grace}, SHUTDOWN_TIMEOUT_SECS {drain}",
)

for service, spec in compose.items():
    for var in spec.get("environment", {}):
        set_vars.setdefault(var, set()).add(f"compose {service}")
for var in template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]:
    set_vars.setdefault(var, set()).add("template.yaml")
for var, where in sorted(set_vars.items()):
    check(f"{var} (set by {', '.join(sorted(where))}) is read by the service", var in service_vars)

# What compose takes from the shell, against what the page tells a user it takes.
passed_through = set(re.findall(r"\$\{(\w+)", yaml.safe_dump(compose)))
compose_section = re.search(r"^## docker compose\n(.*?)^## ", read("docs/deploying.md"), re.M | re.S)
listed = re.search(r"^- \*\*Variables:\*\*(.*?)(?=^- \*\*|^$)", compose_section.group(1), re.M | re.S) if compose_section else None
documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", listed.group(1))) if listed else set()
check(
    "docs/deploying.md lists exactly the variables compose.yml passes through",
    documented == passed_through,
    f"compose.yml only: {sorted(passed_through - documented)}, docs only: {sorted(documented - passed_through)}",
)

# The environments: template.yaml allows them, deploy-stack.sh checks ENV against them, and
# deploy-function.sh maps branches onto them.
allowed = set(template["Parameters"]["EnvironmentName"]["AllowedValues"])
stack_envs = re.search(r"^ENVIRONMENTS='([^']*)'", read("scripts/deploy-stack.sh"), re.M)
check(
    "scripts/deploy-stack.sh accepts exactly template.yaml's environments",
    stack_envs is not None and set(stack_envs.group(1).split()) == allowed,
    f"{stack_envs and stack_envs.group(1)} vs {sorted(allowed)}",
)
stack_archs = re.search(r"^ARCHITECTURES='([^']*)'", read("scripts/deploy-stack.sh"), re.M)
check(
    "scripts/deploy-stack.sh accepts exactly template.yaml's architectures",
    stack_archs is not None and set(stack_archs.group(1).split()) == set(template["Parameters"]["Architecture"]["AllowedValues"]),
    f"{stack_archs and stack_archs.group(1)} vs {template['Parameters']['Architecture']['AllowedValues']}",
)
# The deploy targets check their inputs before anything slow: no prerequisites (they would run
# first), and deploy-stack.sh check as the first recipe line.
for target in ("deploy-zip", "deploy-image"):
    rule = re.search(rf"^{target}:([^#\n]*)#.*\n\t(.*)", makefile, re.M)
    check(
        f"make {target} runs deploy-stack.sh check before it builds or installs anything",
        rule is not None and not rule.group(1).strip() and "scripts/deploy-stack.sh check" in rule.group(2),
        rule.group(0) if rule else f"no {target} rule in the Makefile",
    )
branch_map = re.search(r"^BRANCH_ENVIRONMENTS='([^']*)'", read("scripts/deploy-function.sh"), re.M)
mapped = {line.split()[1] for line in branch_map.group(1).strip().splitlines()} if branch_map else set()
check(
    "scripts/deploy-function.sh maps branches only to template.yaml's environments",
    bool(mapped) and mapped <= allowed,
    f"{sorted(mapped)} vs {sorted(allowed)}",
)
deploy_steps = [step.get("run", "") for step in yaml.safe_load(read(".github/workflows/deploy.yml"))["jobs"]["deploy"]["steps"]]
check(
    "deploy.yml's AWS steps are scripts/deploy-function.sh target and update",
    any("scripts/deploy-function.sh target" in run for run in deploy_steps)
    and any("scripts/deploy-function.sh update" in run for run in deploy_steps)
    and not any("aws lambda" in run for run in deploy_steps),
    deploy_steps,
)

# template.yaml's production settings.
parameters, resources = template["Parameters"], template["Resources"]
function = resources["Function"]["Properties"]
stage = resources["HttpApiStage"]["Properties"]

routes = stage.get("DefaultRouteSettings", {})
rate, burst = (parameters.get(name, {}).get("Default") for name in ("ThrottlingRateLimit", "ThrottlingBurstLimit"))
check(
    "the $default stage throttles at ThrottlingRateLimit and ThrottlingBurstLimit, whose defaults are positive, burst >= rate",
    routes.get("ThrottlingRateLimit") == {"Ref": "ThrottlingRateLimit"}
    and routes.get("ThrottlingBurstLimit") == {"Ref": "ThrottlingBurstLimit"}
    and isinstance(rate, int) and isinstance(burst, int) and 0 < rate <= burst,
    f"DefaultRouteSettings {routes}, defaults rate {rate}, burst {burst}",
)

# What docs/deploying.md says each access line carries.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "lambdaRequestId": "$context.integration.requestId",
    "sourceIp": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}
access = stage.get("AccessLogSettings", {})
try:
    line = json.loads(access.get("Format", ""))
except (TypeError, ValueError) as e:
    line = {"not JSON": str(e)}
check(
    "the stage writes one JSON access line per request to AccessLogGroup, with every promised field",
    access.get("DestinationArn") == {"Fn::GetAtt": "AccessLogGroup.Arn"}
    and ACCESS_LOG_FIELDS.items() <= line.items(),
    f"missing or different: {sorted(set(ACCESS_LOG_FIELDS.items()) - set(line.items()))}",
)

# The function's log group is named after the function (FunctionName's !Sub), the function
# logs there by that name, and its role may write there only.
name = function["FunctionName"].get("Fn::Sub")
role_resources = [
    statement["Resource"]
    for policy in resources["FunctionRole"]["Properties"]["Policies"]
    if "PolicyName" in policy and policy["PolicyName"] == "own-log-group"
    for statement in policy["PolicyDocument"]["Statement"]
]
log_group = resources["FunctionLogGroup"]["Properties"]
check(
    "the function logs to FunctionLogGroup (by name), which keeps LogRetentionDays, and its role may write only there",
    name is not None
    and function["LoggingConfig"].get("LogGroup") == {"Fn::Sub": f"/aws/lambda/{name}"}
    and log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${Function}"}
    and log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    and len(role_resources) == 1 and role_resources[0].get("Fn::Sub", "").endswith(f":log-group:/aws/lambda/{name}:*"),
    f"FunctionName {name}, LoggingConfig {function['LoggingConfig']}, log group {log_group}, role may write {role_resources}",
)
check(
    "the role has no managed policy (AWSLambdaBasicExecutionRole may write every log group)",
    "ManagedPolicyArns" not in resources["FunctionRole"]["Properties"],
)

# MiniStack's CloudFormation ignores ReservedConcurrentExecutions, so this is checked here.
rule = template["Rules"].get("ReservedConcurrencyIsClassicOnly", {})
check(
    "ReservedConcurrentExecutions is ReservedConcurrency when given, and refused with a capacity provider",
    function.get("ReservedConcurrentExecutions")
    == {"Fn::If": ["WithReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    and parameters["ReservedConcurrency"].get("Default") == ""
    and rule.get("RuleCondition") == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CapacityProviderArn"}, ""]}]}
    and rule.get("Assertions", [{}])[0].get("Assert") == {"Fn::Equals": [{"Ref": "ReservedConcurrency"}, ""]},
    f"{function.get('ReservedConcurrentExecutions')}, rule {rule}",
)

timeout = parameters["Timeout"]
rows = template["Mappings"]["TimeoutAlarm"]
expected = {str(s): {"Milliseconds": s * 800} for s in range(timeout["MinValue"], timeout["MaxValue"] + 1)}
check(
    "the duration alarm fires at 80% of Timeout: TimeoutAlarm has every allowed Timeout, in ms",
    rows == expected
    and resources["FunctionDurationAlarm"]["Properties"]["Threshold"]
    == {"Fn::FindInMap": ["TimeoutAlarm", {"Ref": "Timeout"}, "Milliseconds"]},
    f"rows that differ: {sorted(set(map(str, rows.items())) ^ set(map(str, expected.items())))}",
)

public = [key for key, r in resources.items() if r["Type"] == "AWS::Lambda::Permission" and r["Properties"].get("Principal") == "*"]
check(
    "only a public Function URL (FunctionUrlAuthType NONE) grants the function to everyone",
    all(resources[key].get("Condition") == "PublicFunctionUrl" for key in public),
    {key: resources[key].get("Condition") for key in public},
)

# The suppressions: checkov's skips and every cfn-lint ignore, the serverless rules' included.
skips, ignores = [], []
for key, r in resources.items():
    metadata = r.get("Metadata", {})
    skips += [(key, s.get("id"), s.get("comment", "")) for s in metadata.get("checkov", {}).get("skip", [])]
    ignores += [(key, rule) for rule in metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])]
check(
    "template.yaml suppresses at most four checkov or cfn-lint rules in all, each checkov skip with its reason",
    len(skips) + len(ignores) <= 4 and all(comment.strip() for _, _, comment in skips),
    f"checkov skips {skips}, cfn-lint ignores {ignores}",
)

# Hygiene.
SECRETISH = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY\b|ACCESS_KEY", re.I)
for name, text in dockerfiles.items():
    final_stage = re.split(r"^FROM ", text, flags=re.M)[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.M)
    check(
        f"{name} runs as a non-root user",
        bool(users) and users[-1].split(":")[0] not in ("0", "root"),
        f"final stage USER lines: {users}",
    )
    declared = re.findall(r"^(?:ENV|ARG)\s+(.*)$", text, re.M)
    names = {n for line in declared for n in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", line)}
    check(f"{name} bakes in no secret-like ENV or ARG", not any(SECRETISH.search(n) for n in names), sorted(names))
ignore = [line.strip() for line in read(".dockerignore").splitlines() if line.strip() and not line.startswith("#")]
check(".dockerignore is an allowlist (ignores everything, then admits)", ignore[:1] in (["*"], ["**"]), ignore[:1])
# What cargo needs to build the binary: the manifest, the lock file, the sources, and the build
# script with the OpenAPI document it embeds.
BUILD_INPUTS = ["Cargo.toml", "Cargo.lock", "build.rs", "openapi.yaml", "src"]
admitted = {line.lstrip("!").rstrip("/") for line in ignore if line.startswith("!")}
check(".dockerignore admits every build input", set(BUILD_INPUTS) <= admitted, sorted(set(BUILD_INPUTS) - admitted))
for name, text in dockerfiles.items():
    copied = {p.rstrip("/").removeprefix("./") for line in re.findall(r"^COPY (?!--from)(.*)$", text, re.M) for p in line.split()[:-1]}
    check(f"{name} copies every build input", set(BUILD_INPUTS) <= copied, sorted(set(BUILD_INPUTS) - copied))
for workflow in sorted((ROOT / ".github/workflows").glob("*.yml")):
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    leaking = [
        f"{job}: {step.get('name', step['run'][:40])}"
        for job, spec in jobs.items()
        for step in spec.get("steps", [])
        if "run" in step and "secrets." in step["run"]
    ]
    check(f"{workflow.name} expands no secret inside a run: script", not leaking, leaking)

failed = results.count(False)
print(f"consistency: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
