#!/usr/bin/env bash
# Installs what SafeGate needs on Debian 13 (trixie) or Raspberry Pi OS, which ship Node.js 20.19
# (`apt-get install nodejs npm`; Debian 12's is 18: install Node.js 20 LTS there first), and builds it.
#   scripts/setup.sh        for running the kiosk
#   scripts/setup.sh test   also what the tests need (socat for the serial pty tests)
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

if ! command -v node >/dev/null 2>&1; then
  echo "SafeGate needs Node.js 20.19 or later (node was not found). On Debian 13 or Raspberry Pi OS: sudo apt-get install nodejs npm; elsewhere install Node.js 20 LTS. Then run this again." >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "SafeGate needs Node.js 20.19 or later; this machine has $(node --version)." >&2
  exit 1
fi

# Compilers for the native modules (better-sqlite3, serialport, onoff) where no prebuilt binary fits;
# for tests also socat (serial pty pairs), mosquitto and openssl (a real TLS broker per test run) and
# postgresql (a throwaway server per test run for the hub's PostgreSQL store), and gpsd (the GPS
# tests run a real gpsd on loopback reading NMEA from a pty).
packages=(build-essential python3)
# The screens' tests drive Debian's Chromium (playwright-core never downloads a browser) with a
# fake camera fed by videos ffmpeg makes; Noto fonts render Vietnamese in the screenshots.
[ "$mode" = test ] && packages+=(socat mosquitto openssl postgresql gpsd chromium ffmpeg fonts-noto-core)
# USB export tests mount a loop image (mkfs.ext4) and run a private D-Bus (dbus-daemon); they skip,
# saying why, when not root.
[ "$mode" = test ] && packages+=(e2fsprogs dbus-daemon)
# The pass sheet tests rasterise the PDF (pdftoppm) and read its text and fonts (pdftotext, pdffonts).
[ "$mode" = test ] && packages+=(poppler-utils)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing system packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Tests start their own brokers and databases on free ports; the packaged services are not needed.
  if command -v systemctl >/dev/null 2>&1; then
    for service in mosquitto postgresql; do
      if [[ " ${missing[*]} " == *" $service "* ]]; then "${sudo_cmd[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
    done
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== installing npm packages (the first time takes a few minutes: better-sqlite3 compiles from source; \"npm warn EBADENGINE\" from the Electron build tools is expected, see README)"
  # Tests never start the Electron window; skip its large download there (and where it cannot be reached).
  if [ "$mode" = test ]; then export ELECTRON_SKIP_BINARY_DOWNLOAD=1; fi
  npm ci --no-audit --no-fund
fi

if [ "$mode" = test ] && { [ ! -d tools/electronegativity/node_modules ] || [ tools/electronegativity/package-lock.json -nt tools/electronegativity/node_modules/.package-lock.json ]; }; then
  echo "== installing the Electron security scanner (electronegativity)"
  npm ci --prefix tools/electronegativity --ignore-scripts --no-audit --no-fund
fi

echo "== building"
npm run build --silent
