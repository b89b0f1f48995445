#!/usr/bin/env bash
# Dependency audit: every package of the locked environment (uv.lock, all groups) checked with
# pip-audit against the PyPI vulnerability service. Fails on any finding that is not triaged in
# security/pip-audit-ignore.txt, and on any package that could not be audited.
#
#   bash security/audit.sh      exit 0 clean | 1 untriaged finding or package not audited
#                               | 2 malformed ignore file | 3 vulnerability service unreachable
set -euo pipefail
cd "$(dirname "$0")/.."

IGNORE_FILE=security/pip-audit-ignore.txt
req=$(mktemp)
trap 'rm -f "$req"' EXIT

# The lock as pinned requirements: what `uv sync --frozen` installs, with no resolution here.
uv export --frozen --quiet --format requirements-txt --no-hashes --all-groups --no-emit-project \
  >"$req"

ignores=()
while IFS= read -r line; do
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  if [[ ! "$line" =~ ^[[:space:]]*([A-Za-z0-9._-]+)[[:space:]]+#[[:space:]]*[^[:space:]].*:[[:space:]]*[^[:space:]] ]]; then
    echo "audit: $IGNORE_FILE: '$line' is not 'ID  # package version: reason'" >&2
    exit 2
  fi
  ignores+=(--ignore-vuln "${BASH_REMATCH[1]}")
done <"$IGNORE_FILE"

# pip-audit's PyPI service asks https://pypi.org/pypi/<name>/<version>/json; where that answers
# no release (a network that only lets the simple index through), every package is *skipped*
# and a plain run reports "No known vulnerabilities found". Probe once and say so instead.
probe=$(grep -m1 -E '^pip-audit==' "$req" | cut -d' ' -f1)
if ! uv run --frozen python - "${probe/==//}" <<'PY'; then
import json, sys, urllib.request
url = f"https://pypi.org/pypi/{sys.argv[1]}/json"
try:
    with urllib.request.urlopen(url, timeout=30) as answer:
        sys.exit(0 if "vulnerabilities" in json.load(answer) else 1)
except Exception as exc:
    print(f"audit: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
  echo "audit: the PyPI vulnerability service is unreachable from here: NOTHING WAS AUDITED" >&2
  exit 3
fi

# --strict: a package pip-audit cannot look up fails the run instead of being skipped.
uv run --frozen pip-audit \
  --requirement "$req" --no-deps --disable-pip \
  --vulnerability-service pypi --strict --progress-spinner off --desc off \
  "${ignores[@]}"
