#!/usr/bin/env bash
# The AWS side of .github/workflows/deploy.yml, in one place that `make e2e-aws` also runs against
# a local AWS emulator:
#
#   scripts/deploy-function.sh target BRANCH
#       Maps BRANCH to an environment and writes, to $GITHUB_OUTPUT, deploy=true|false and, for
#       a mapped branch, environment (dev) and tag ({environment}-{UTC timestamp}, the image tag,
#       e.g. dev-20261125T034500Z). An unmapped branch is a no-op: deploy=false, and the job
#       summary says so.
#   scripts/deploy-function.sh update FUNCTION IMAGE_URI TAG [DIGEST]
#       Points FUNCTION at IMAGE_URI, waits until the update is done, publishes a version
#       described by TAG, and writes image, digest, function and version to the job summary.
#       On Lambda Managed Instances the version is $LATEST.PUBLISHED, the one an unqualified
#       invoke runs there. A Zip function is left alone, and the job summary says so.
#
# GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are the files GitHub Actions gives every step.
set -euo pipefail

# Which branch deploys to which environment; template.yaml's EnvironmentName allows these four.
BRANCH_ENVIRONMENTS='
main        prod
development dev
staging     stg
testing     tst
'

die() {
  echo "deploy-function: $*" >&2
  exit 1
}

: "${GITHUB_OUTPUT:?is not set: it is the file this step writes its outputs to}"
: "${GITHUB_STEP_SUMMARY:?is not set: it is the file the job summary is written to}"

target() {
  local branch=$1 environment
  environment=$(awk -v branch="$branch" '$1 == branch { print $2 }' <<<"$BRANCH_ENVIRONMENTS")
  if [ -z "$environment" ]; then
    echo "Branch '$branch' is not mapped to an environment in scripts/deploy-function.sh: nothing to deploy." \
      | tee -a "$GITHUB_STEP_SUMMARY"
    echo "deploy=false" >>"$GITHUB_OUTPUT"
    return
  fi
  {
    echo "deploy=true"
    echo "environment=$environment"
    echo "tag=$environment-$(date -u +%Y%m%dT%H%M%SZ)"
  } >>"$GITHUB_OUTPUT"
  echo "Branch '$branch' deploys to $environment."
}

update() {
  local function=$1 image=$2 tag=$3 digest=${4:-unknown} config package capacity status version
  config=$(aws lambda get-function-configuration --function-name "$function" \
    --query '[PackageType, CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.CapacityProviderArn]' \
    --output text)
  read -r package capacity <<<"$config"
  # A stack created with make deploy-zip has a Zip function, which has no image to point at:
  # update-function-code --image-uri would fail every push. make deploy-zip updates it.
  if [ "$package" = Zip ]; then
    echo "$function is a Zip function: deploy.yml updates image functions only, so it is left as it is (update it with make deploy-zip)." \
      | tee -a "$GITHUB_STEP_SUMMARY"
    return
  fi
  # On Lambda Managed Instances an unqualified invoke runs $LATEST.PUBLISHED, not $LATEST, so
  # the new code serves only once it is published there (AWS: "$LATEST.PUBLISHED version in
  # Lambda Managed Instances"). Text output prints a missing field as None.
  local publish=()
  if [ "$capacity" != None ]; then
    publish=(--publish-to LATEST_PUBLISHED)
  fi
  status=$(aws lambda update-function-code --function-name "$function" --image-uri "$image" \
    --query LastUpdateStatus --output text)
  echo "update-function-code $function: $status"
  # The waiter polls every 5 s, at most 60 times: a bounded wait.
  aws lambda wait function-updated --function-name "$function"
  version=$(aws lambda publish-version --function-name "$function" --description "$tag" "${publish[@]}" \
    --query Version --output text)
  echo "published $function version $version ($tag)"
  {
    echo "### Deployed $tag"
    echo "- image: \`$image\` (digest \`$digest\`)"
    echo "- function: \`$function\`, published version **$version**"
  } >>"$GITHUB_STEP_SUMMARY"
}

case "${1:-}" in
  target)
    [ $# -eq 2 ] || die "usage: $0 target BRANCH"
    [ -n "$2" ] || die "BRANCH is empty"
    target "$2"
    ;;
  update)
    [ $# -ge 4 ] && [ $# -le 5 ] || die "usage: $0 update FUNCTION IMAGE_URI TAG [DIGEST]"
    for value in "$2" "$3" "$4"; do [ -n "$value" ] || die "FUNCTION, IMAGE_URI and TAG must not be empty"; done
    update "${@:2}"
    ;;
  *) die "usage: $0 target BRANCH | update FUNCTION IMAGE_URI TAG [DIGEST]" ;;
esac
