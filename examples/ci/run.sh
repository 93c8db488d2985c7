#!/usr/bin/env bash
# The same as github-actions.yml in plain shell, for any CI: replay every scenario, keep the reports.
# Usage: examples/ci/run.sh [OUTPUT_DIR [SCENARIO...]]   (from a clone of cps-harness; as root on a fresh Debian 12)
set -euo pipefail
out=$(realpath -m "${1:-ci-reports}")
shift $(( $# > 0 ? 1 : 0 ))
cd "$(dirname "$0")/../.."
status=0
./bootstrap.sh run --report "$out" "$@" || status=$?
echo "JUnit XML: $out/junit.xml"
echo "HTML report: $out/report.html"
exit "$status"
