#!/usr/bin/env bash
# Sets up SafeGate and what its tests need (if missing), then runs lint, type-check and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
npm test
