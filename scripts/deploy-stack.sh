#!/usr/bin/env bash
# Creates or updates one environment's stack from template.yaml, with the zip or with the image
# (docs/deploying.md). `make deploy-zip` and `make deploy-image` call it:
#
#   scripts/deploy-stack.sh zip   STACK ENVIRONMENT BUCKET    ARCH [Parameter=Value ...]
#   scripts/deploy-stack.sh image STACK ENVIRONMENT IMAGE_URI ARCH [Parameter=Value ...]
#   scripts/deploy-stack.sh check zip|image STACK ENVIRONMENT BUCKET|IMAGE_URI ARCH
#
# check only validates the inputs, with no AWS call: the make targets run it before they build
# the zip or install the AWS CLI, so that a typo costs a second, not a build.
#
# zip: uploads target/lambda/rust-hybrid-api/bootstrap.zip (make lambda-zip) to
# s3://BUCKET/rust-hybrid-api/<its SHA-256>.zip. A new build gets a new key, which is what makes
# CloudFormation update the code; an unchanged build is not uploaded again.
# Then `aws cloudformation deploy`, and the stack's outputs. On a failure it prints the failed
# resources with CloudFormation's reasons, and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

ZIP=target/lambda/rust-hybrid-api/bootstrap.zip
ENVIRONMENTS='prod dev stg tst'
ARCHITECTURES='x86_64 arm64'

die() {
  echo "deploy: $*" >&2
  exit 1
}

usage="usage: $0 [check] zip|image STACK ENVIRONMENT BUCKET|IMAGE_URI ARCH [Parameter=Value ...]"
check_only=false
if [ "${1:-}" = check ]; then
  check_only=true
  shift
fi
[ $# -ge 5 ] || die "$usage"
package=$1 stack=$2 environment=$3 artefact=$4 arch=$5
shift 5
case $package in
  zip) [ -n "$artefact" ] || die "BUCKET is empty: give an S3 bucket in the stack's region for the zip" ;;
  image) [ -n "$artefact" ] || die "IMAGE is empty: give the image URI, e.g. <registry>/<repo>:dev-latest" ;;
  *) die "the package type is '$package': use zip or image" ;;
esac
[ -n "$stack" ] || die "STACK is empty: give the stack's name, e.g. STACK=rust-hybrid-api-dev"
[[ " $ENVIRONMENTS " == *" $environment "* ]] || die "ENVIRONMENT='$environment' is not one of: $ENVIRONMENTS"
[[ " $ARCHITECTURES " == *" $arch "* ]] || die "ARCH='$arch' is not an architecture Lambda runs: use one of $ARCHITECTURES"
if $check_only; then
  exit 0
fi
command -v aws >/dev/null || die "the AWS CLI is not installed: make tools-aws"

# ARCH has a default (x86_64), so a redeploy that leaves it out would otherwise switch an arm64
# stack's function to x86_64, unlike every other parameter, and pair it with an arm64 image.
# A stack that does not exist yet has no parameters: the query fails, and anything goes.
current=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Parameters[?ParameterKey=='Architecture'].ParameterValue" --output text 2>/dev/null) || current=
if [ -n "$current" ] && [ "$current" != "$arch" ]; then
  die "the stack $stack runs on $current, not ARCH=$arch: pass ARCH=$current to update it, or delete the stack to switch architectures"
fi

case $package in
  zip)
    [ -f "$ZIP" ] || die "$ZIP does not exist: make lambda-zip"
    key=rust-hybrid-api/$(sha256sum "$ZIP" | cut -d' ' -f1).zip
    if ! answer=$(aws s3api head-bucket --bucket "$artefact" 2>&1); then
      die "cannot use the bucket '$artefact' (create it with aws s3 mb s3://$artefact if it does not exist): $(grep . <<<"$answer" | tail -n1)"
    fi
    if aws s3api head-object --bucket "$artefact" --key "$key" >/dev/null 2>&1; then
      echo "deploy: s3://$artefact/$key is already there"
    else
      aws s3 cp --only-show-errors "$ZIP" "s3://$artefact/$key"
      echo "deploy: uploaded $ZIP to s3://$artefact/$key"
    fi
    code=("CodeBucket=$artefact" "CodeKey=$key" "ImageUri=")
    ;;
  image)
    code=("ImageUri=$artefact" "CodeBucket=" "CodeKey=")
    ;;
esac

echo "deploy: $package stack $stack (environment $environment)"
if ! aws cloudformation deploy --template-file template.yaml --stack-name "$stack" \
  --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
  --parameter-overrides "EnvironmentName=$environment" "Architecture=$arch" "${code[@]}" "$@"; then
  echo "deploy: the stack $stack failed; what CloudFormation said:" >&2
  aws cloudformation describe-stack-events --stack-name "$stack" --max-items 50 \
    --query "StackEvents[?ends_with(ResourceStatus, 'FAILED')].[LogicalResourceId, ResourceStatus, ResourceStatusReason]" \
    --output text >&2 || true
  exit 1
fi
aws cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey, OutputValue]' --output text
