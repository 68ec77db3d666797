#!/usr/bin/env bash
# Sets up SafeGate (if needed) and runs a demo kiosk: simulated scanner (type or paste a code) and
# simulated gate relay, lights and buzzer, with demo workers and passes. Data goes to var/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
exec bin/safegate.js demo --dir "${SAFEGATE_DEMO_DIR:-var/demo}"
