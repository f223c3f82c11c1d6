#!/usr/bin/env bash
# readme_chart.sh: regenerates docs/analytics-example.svg, the README's example chart, from the
# real service: tests/e2e/test_demo_seed runs `reciprocal seed` (the demo network and its year of
# visit history, as `make run` does), lets the analytics consumers apply the events and fetches
# union-university's GET /api/v1/analytics/clubs/{id}/chart?kind=visits into the file.
# Usage (from the repository root, after `make tests-build`): scripts/readme_chart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/analytics-example.svg"
RECIPROCAL_README_CHART="$out" tests/run.sh build/tests/e2e/test_demo_seed
test -s "$out" && echo "wrote $out"
