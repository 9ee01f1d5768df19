#!/usr/bin/env bash
# End to end on a real cluster made with kind (needs Docker): create the cluster, build and
# load the images, install the chart with the bundled PostgreSQL, apply a CodeLocation,
# wait until it is Ready, launch a job through the REST API and check that the run
# succeeds and materialised the job's last asset.
#
#   e2e/kind/run.sh                 # everything, then delete the cluster
#   KEEP_CLUSTER=1 e2e/kind/run.sh  # leave the cluster running to look around
#
# kind, docker, python3 and curl must be on PATH; kubectl and helm too, or else the pinned ones
# from e2e/local/tools.py are used (.venv/bin/python -m e2e.local.tools installs them).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

CLUSTER="${CLUSTER:-locus-e2e}"
NAMESPACE="${NAMESPACE:-locus}"
RELEASE="${RELEASE:-locus}"
TAG="${TAG:-e2e}"
TIMEOUT="${TIMEOUT:-300s}"
API_PORT="${API_PORT:-13000}"
JOB="${JOB:-process_numbers_asset}"
LOCATION=numbers
SYSTEM_IMAGE="locus-system:$TAG"
USER_CODE_IMAGE="locus-user-code:$TAG"
EXAMPLES_IMAGE="locus-examples:$TAG"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e/kind: %s\n' "$*" >&2; exit 1; }

for tool in kind docker python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH (see e2e/kind/README.md)"
done
if command -v kubectl >/dev/null && command -v helm >/dev/null; then
  KUBECTL=kubectl
  HELM=helm
else
  TOOLS="$("${PYTHON:-$ROOT/.venv/bin/python}" -m e2e.local.tools)"
  KUBECTL="$TOOLS/kubectl"
  HELM="$TOOLS/helm"
fi
CONTEXT="kind-$CLUSTER"
k() { "$KUBECTL" --context "$CONTEXT" "$@"; }

PORT_FORWARD_PID=""
cleanup() {
  local status=$?
  if [ -n "$PORT_FORWARD_PID" ]; then
    kill "$PORT_FORWARD_PID" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    log "failed; what the cluster looks like"
    k get instances,codelocations,deployments,jobs,pods -A -o wide || true
    k describe codelocations,instances -n "$NAMESPACE" || true
    k logs -n "$NAMESPACE" "deployment/$RELEASE-operator" --tail=200 || true
  fi
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    log "cluster kept: kubectl --context $CONTEXT get pods -A; kind delete cluster --name $CLUSTER"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT

log "cluster $CLUSTER"
existing="$(kind get clusters 2>/dev/null)"
if ! grep -qx "$CLUSTER" <<<"$existing"; then
  kind create cluster --name "$CLUSTER" --config kind-config.yaml --wait 120s
fi

log "images"
docker build -f images/system/Dockerfile -t "$SYSTEM_IMAGE" .
docker build -f images/user-code/Dockerfile -t "$USER_CODE_IMAGE" .
docker build -f images/examples/Dockerfile --build-arg "USER_CODE_IMAGE=$USER_CODE_IMAGE" -t "$EXAMPLES_IMAGE" .
for image in "$SYSTEM_IMAGE" "$EXAMPLES_IMAGE"; do
  kind load docker-image --name "$CLUSTER" "$image"
done

log "helm install $RELEASE (bundled PostgreSQL)"
# An upgrade of an existing cluster: the CRDs first, as the chart's README says.
k apply --server-side -f charts/locus/crds/
"$HELM" upgrade --install "$RELEASE" charts/locus --kube-context "$CONTEXT" \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository=locus-system --set image.tag="$TAG" --set image.pullPolicy=IfNotPresent \
  --set postgresql.persistence.enabled=false \
  --wait --timeout "$TIMEOUT"
k wait -n "$NAMESPACE" --for=condition=Ready "instances.locus.dev/default" --timeout "$TIMEOUT"

log "CodeLocation $LOCATION"
k apply -f e2e/kind/codelocation.yaml
k wait -n "$NAMESPACE" --for=condition=Ready "codelocations.locus.dev/$LOCATION" --timeout "$TIMEOUT"
k get codelocations -n "$NAMESPACE"

log "launch $JOB through the REST API"
TOKEN="$(k get secret "$RELEASE-api-token" -n "$NAMESPACE" -o jsonpath='{.data.token}' | base64 --decode)"
k port-forward -n "$NAMESPACE" svc/locus-default-api "$API_PORT:3000" >/dev/null &
PORT_FORWARD_PID=$!
API="http://127.0.0.1:$API_PORT"
for _ in $(seq 60); do
  curl -fsS "$API/healthz" >/dev/null 2>&1 && break
  sleep 1
done
api() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
# field KEY...: the value at that path of the JSON document on stdin.
field() {
  python3 -c $'import json, sys\nvalue = json.load(sys.stdin)\nfor key in sys.argv[1:]:\n    value = value[key]\nprint(value)' "$@"
}

# Without the token the API answers 401: auth is on by default.
code="$(curl -s -o /dev/null -w '%{http_code}' "$API/api/runs")"
[ "$code" = 401 ] || die "GET /api/runs without a token answered $code, expected 401"

RUN_ID="$(api -X POST "$API/api/runs" -d "{\"location\": \"$LOCATION\", \"job_name\": \"$JOB\"}" | field run_id)"
log "run $RUN_ID"
status=""
for _ in $(seq 150); do
  status="$(api "$API/api/runs/$RUN_ID" | field run status)"
  case "$status" in
    SUCCESS|FAILURE|CANCELED) break ;;
  esac
  sleep 2
done
if [ "$status" != SUCCESS ]; then
  api "$API/api/runs/$RUN_ID/logs" >&2 || true
  die "run $RUN_ID ended $status, expected SUCCESS"
fi
materialized_by="$(api "$API/api/assets/summed_two_sums" | field latest_materialization run_id)"
[ "$materialized_by" = "$RUN_ID" ] || die "summed_two_sums was last materialised by $materialized_by, not $RUN_ID"
log "passed: run $RUN_ID succeeded and materialised summed_two_sums"
