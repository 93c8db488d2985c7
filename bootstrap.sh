#!/usr/bin/env bash
# cps-harness set-up and entry point. Every command does its own set-up first, idempotently:
#   1. Debian packages (pcscd, vpcd, OpenSC, Chromium and its French UI, …): installed with apt-get when run as
#      root, otherwise the exact command is printed and nothing else happens; then Chromium's
#      policy for the test card's certificate (/etc/chromium/policies/managed/cps-harness.json);
#   2. a virtual environment in .venv with the project installed (pip install -e '.[test]'),
#      redone only when pyproject.toml changes; for the tests, the Node packages of the
#      third-party relying parties from their lockfile (npm ci), redone when it changes.
# Usage: ./bootstrap.sh run|test|doctor|setup [arguments passed on]
set -euo pipefail
cd "$(dirname "$0")"

VENV=${CPS_HARNESS_VENV:-.venv}
PY=python3

die() { echo "bootstrap: $*" >&2; exit 1; }

as_root_or_print() {  # as_root_or_print PACKAGE...
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*"
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing Debian packages: $*"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  else
    die "missing Debian packages: $*. Run as root: sudo sh -c '$cmd'"
  fi
}

system_packages() {
  if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    as_root_or_print python3 python3-venv python3-dev
  fi
  local missing
  missing=$("$PY" -m harness.system apt-missing)
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086 # one word per package
    as_root_or_print $missing
    missing=$("$PY" -m harness.system apt-missing)
    [ -z "$missing" ] || die "still missing after apt-get: $missing"
  fi
}

chromium_policy() {
  # Chromium picks the test card's certificate without a dialog only under a managed policy.
  "$PY" -m harness.drivers.chromium_policy check && return 0
  if [ "$(id -u)" -eq 0 ]; then
    "$PY" -m harness.drivers.chromium_policy install
  else
    die "Chromium's policy is missing. Run as root: sudo python3 -m harness.drivers.chromium_policy install"
  fi
}

python_env() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local stamp="$VENV/.cps-harness-installed" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
    echo "$want" > "$stamp"
  fi
}

node_packages() {
  # The third-party relying parties the tests drive (openid-client), exactly as the lockfile pins them.
  local dir=tests/relying_parties/openid_client stamp want
  stamp="$dir/node_modules/.cps-harness-installed"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
}

run_tests() {
  node_packages
  "$VENV/bin/ruff" check harness simulators tests examples benchmarks
  "$VENV/bin/ruff" format --check harness simulators tests examples benchmarks
  "$VENV/bin/mypy"
  local rc=0
  "$VENV/bin/python" -m pytest -n auto "$@" || rc=$?
  # pytest exits 5 when it collected nothing: a suite that ran no test has not passed.
  [ "$rc" -ne 5 ] || die "pytest collected no tests"
  return "$rc"
}
command=${1:-}
[ -n "$command" ] || die "usage: ./bootstrap.sh run|test|doctor|setup [args]"
shift
system_packages
chromium_policy
python_env
case "$command" in
  run) exec "$VENV/bin/cps-harness" run "$@" ;;
  test) run_tests "$@" ;;
  doctor) exec "$VENV/bin/cps-harness" doctor "$@" ;;
  setup) echo "bootstrap: system packages and $VENV are ready" ;;
  *) die "unknown command '$command' (run, test, doctor, setup)" ;;
esac
