#!/bin/sh
# npm run package:test — the amd64 package in a Debian 13 (trixie) chroot, the real target (its own
# nodejs 20.19). Not part of CI (it needs root, debootstrap and a few minutes); run it before a release.
#   1. a trixie minbase chroot with nodejs, adduser and sqlite3 from Debian (debootstrap; cached as
#      var/package-test/trixie-nodejs.tar, unpacked fresh for each run)
#   2. the amd64 package of this tree (version N) and version N+1 built from a copy of build/ with the
#      version bumped and one more store migration (a probe table), so the upgrade must run a migration
#   3. dpkg -i N: the safegate user and groups, /var/lib/safegate, `safegate --version`, `safegate selftest`
#   4. events written (roster import, scans through a stdin-scanner settings file) and the conffile edited
#   5. dpkg -i N+1: events, roster, supervisors and the edited settings still there, the new migration ran
#   6. dpkg -r: /var/lib/safegate kept; dpkg -P: gone
# Prints one JSON line with timings at the end. SKIP_BUILD=1 packages the current build/ without `npm run build`.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
work="$repo/var/package-test"
base="$work/trixie-nodejs.tar"
root="$work/chroot"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# As the service user, the way the unit runs the kiosk (runtime files in a private folder).
as_safegate() { chroot --userspec=safegate:safegate "$root" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/var/lib/safegate SAFEGATE_RUNTIME_DIR=/tmp/safegate-run "$@"; }
sql() { in_root sqlite3 -batch -noheader /var/lib/safegate/safegate.db "$1"; }

[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, chroot, dpkg)"
for c in debootstrap dpkg-deb chroot node; do command -v "$c" >/dev/null || fail "$c is missing (apt-get install debootstrap)"; done

cleanup() {
  for m in proc dev/pts; do mountpoint -q "$root/$m" 2>/dev/null && umount "$root/$m" || true; done
}
trap cleanup EXIT INT TERM
t_all=$(now)
mkdir -p "$work"

# 1. The chroot (cached).
t=$(now)
if [ ! -f "$base" ]; then
  rm -rf "$work/trixie-build"
  debootstrap --variant=minbase --include=nodejs,adduser,sqlite3 trixie "$work/trixie-build" "$mirror" >"$work/debootstrap.log" 2>&1 || fail "debootstrap (see $work/debootstrap.log)"
  rm -f "$work/trixie-build"/var/cache/apt/archives/*.deb
  tar -C "$work/trixie-build" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$work/trixie-build"
  chroot_cached=false
else
  chroot_cached=true
fi
cleanup
rm -rf "$root" && mkdir -p "$root" && tar -C "$root" -xf "$base"
mount -t proc proc "$root/proc"
t_chroot=$(since "$t")
trixie_node=$(in_root node --version)

# 2. Packages N and N+1.
version=$(node -p "require('$repo/package.json').version")
next=$(node -p "const v='$version'.split(/[.-]/).map(Number); v[0] + '.' + v[1] + '.' + (v[2] + 1)")
deb_n="$work/dist/safegate_${version}_amd64.deb"
deb_n1="$work/dist/safegate_${next}_amd64.deb"
# REUSE_PACKAGES=1: install the packages the previous run built (to iterate on the checks).
reuse=false
[ "${REUSE_PACKAGES:-}" = 1 ] && [ -f "$deb_n" ] && [ -f "$deb_n1" ] && [ -f "$work/next/build/src-main/core/store/migrations/index.js" ] && reuse=true
t=$(now)
build_flag=
[ "${SKIP_BUILD:-}" = 1 ] && build_flag=--skip-build
$reuse || node "$repo/tools/package/package.mjs" $build_flag --arch amd64 --compress gzip --no-qemu --out "$work/dist" >"$work/package-n.json" || fail "packaging $version"
t_pkg_n=$(since "$t")
t=$(now)
index="$work/next/build/src-main/core/store/migrations/index.js"
$reuse || { rm -rf "$work/next" && mkdir -p "$work/next" && cp -a "$repo/build" "$work/next/build"; }
last=$(node -e "import('$repo/build/src-main/core/store/migrations/index.js').then((m) => console.log(m.MIGRATIONS.at(-1).version))")
probe=$((last + 1))
# One more migration in N+1, as a release adds one: the upgrade must run it on the kiosk's store.
$reuse || node -e "
const fs = require('fs'); const f = process.argv[1]; const s = fs.readFileSync(f, 'utf8');
const add = \"    { version: $probe, name: '$probe-package-test-probe', up: (db) => db.exec('CREATE TABLE package_test_probe (id INTEGER PRIMARY KEY) STRICT') },\n];\";
const i = s.lastIndexOf('];'); if (i < 0) process.exit(1);
fs.writeFileSync(f, s.slice(0, i) + add + s.slice(i + 2));" "$index" || fail "adding the probe migration"
$reuse || node "$repo/tools/package/package.mjs" --skip-build --build-dir "$work/next/build" --version "$next" --arch amd64 --compress gzip --no-qemu --out "$work/dist" >"$work/package-n1.json" || fail "packaging $next"
t_pkg_n1=$(since "$t")
cp "$deb_n" "$deb_n1" "$root/tmp/"

# 3. Install N.
t=$(now)
in_root dpkg -i "/tmp/$(basename "$deb_n")" >"$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log" >&2; fail "dpkg -i $version"; }
t_install=$(since "$t")
in_root dpkg-query -W -f='${Status} ${Version}\n' safegate | grep -qx "install ok installed $version" || fail "safegate $version is not installed"
groups=$(in_root id -nG safegate)
for g in safegate dialout video gpio; do echo " $groups " | grep -q " $g " || fail "safegate is not in group $g ($groups)"; done
[ "$(in_root stat -c '%U %a' /var/lib/safegate)" = "safegate 750" ] || fail "/var/lib/safegate: $(in_root stat -c '%U %a' /var/lib/safegate)"
[ "$(in_root stat -c '%U:%G %a' /etc/safegate/kiosk.yaml)" = "root:safegate 640" ] || fail "/etc/safegate/kiosk.yaml: $(in_root stat -c '%U:%G %a' /etc/safegate/kiosk.yaml)"
[ -f "$root/usr/lib/systemd/system/safegate.service" ] || fail "no unit"
[ -f "$root/usr/lib/udev/rules.d/60-safegate-scanner.rules" ] || fail "no udev rule"
version_line=$(as_safegate safegate --version)
echo "$version_line" | grep -q "^safegate $version (Node.js $trixie_node)$" || fail "safegate --version said: $version_line"

# selftest from the installed files, as the service user (exit status 1 expected: no scanner here).
t=$(now)
set +e
as_safegate safegate selftest --config /etc/safegate/kiosk.yaml --no-scan --json >"$work/selftest.jsonl" 2>"$work/selftest.err"
selftest_status=$?
set -e
t_selftest=$(since "$t")
[ "$selftest_status" -le 1 ] || { cat "$work/selftest.err" >&2; fail "selftest exited with $selftest_status"; }
selftest_summary=$(node -e "
const lines = require('fs').readFileSync(process.argv[1], 'utf8').split('\n').filter(Boolean);
if (!lines.length) { console.error('no JSON lines'); process.exit(1); }
const counts = {};
for (const l of lines) {
  const o = JSON.parse(l);
  if (typeof o.check !== 'string' || !['pass', 'warn', 'fail'].includes(o.status) || typeof o.detail !== 'string') { console.error('bad line: ' + l); process.exit(1); }
  counts[o.status] = (counts[o.status] ?? 0) + 1;
}
process.stdout.write(JSON.stringify({ checks: lines.length, ...counts }));" "$work/selftest.jsonl") || { cat "$work/selftest.jsonl" "$work/selftest.err" >&2; fail "selftest --json output"; }

# 4. Events: a kiosk settings file with a stdin scanner on the same store; a roster; scans; a supervisor.
cat >"$root/etc/safegate/package-test.yaml" <<'YAML'
device: { id: kiosk-package-test }
checkpoint: { id: gate-t, name: "Cổng thử", kind: gate, zone: z1, direction: entry }
scanner: { source: stdin }
gate: { gpio: simulated }
store: { path: /var/lib/safegate/safegate.db, keyFile: /var/lib/safegate/safegate.key }
hub: { keysDir: /var/lib/safegate/keys }
screens: { show: none }
YAML
in_root install -d -o safegate -g safegate -m 0700 /var/lib/safegate/keys
chgrp safegate "$root/etc/safegate/package-test.yaml" 2>/dev/null || in_root chgrp safegate /etc/safegate/package-test.yaml
chmod 0640 "$root/etc/safegate/package-test.yaml"
printf 'worker_id,display_name\nw-001,Nguyễn Văn An\nw-002,Trần Thị Bình\n' >"$root/tmp/roster.csv"
chmod 0644 "$root/tmp/roster.csv"
as_safegate safegate roster import /tmp/roster.csv --config /etc/safegate/package-test.yaml >/dev/null || fail "roster import"
printf 'NOT-A-PASS-1\nNOT-A-PASS-2\nNOT-A-PASS-3\n' | as_safegate safegate run --config /etc/safegate/package-test.yaml --headless >"$work/run.log" 2>&1 || { tail -20 "$work/run.log" >&2; fail "safegate run with a stdin scanner"; }
printf '%s\n' 482916 | as_safegate safegate supervisor add --config /etc/safegate/package-test.yaml --id lan --name 'Trần Thị Lan' >/dev/null || fail "supervisor add"
events_before=$(as_safegate safegate log --config /etc/safegate/package-test.yaml --json | wc -l)
[ "$events_before" -ge 3 ] || fail "expected at least 3 events, the log has $events_before"
roster_before=$(sql 'SELECT count(*) FROM workers' 2>/dev/null || echo "?")
version_before=$(sql 'PRAGMA user_version')
[ "$version_before" = "$last" ] || fail "store at user_version $version_before, expected $last"
# An administrator's edit of the conffile, which an upgrade must keep.
echo '# edited on site by the package test' >>"$root/etc/safegate/kiosk.yaml"

# 5. Upgrade to N+1 (keeping the edited conffile, as apt does unattended with --force-confold).
t=$(now)
in_root dpkg -i --force-confold "/tmp/$(basename "$deb_n1")" >"$work/dpkg-upgrade.log" 2>&1 || { cat "$work/dpkg-upgrade.log" >&2; fail "dpkg -i $next"; }
t_upgrade=$(since "$t")
as_safegate safegate --version | grep -q "^safegate $next " || fail "after the upgrade: $(as_safegate safegate --version)"
grep -q '^# edited on site by the package test$' "$root/etc/safegate/kiosk.yaml" || fail "the edited /etc/safegate/kiosk.yaml was not kept"
# dpkg itself does not touch the store; the new version's first start migrates it.
[ "$(sql 'PRAGMA user_version')" = "$last" ] || fail "the store changed before the new version started"
as_safegate safegate run --config /etc/safegate/package-test.yaml --headless </dev/null >"$work/run-upgraded.log" 2>&1 || { tail -20 "$work/run-upgraded.log" >&2; fail "the first start of $next"; }
events_after=$(as_safegate safegate log --config /etc/safegate/package-test.yaml --json | wc -l)
[ "$events_after" = "$events_before" ] || fail "events: $events_before before the upgrade, $events_after after"
version_after=$(sql 'PRAGMA user_version')
[ "$version_after" = "$probe" ] || fail "store at user_version $version_after after the upgrade, expected $probe (the N+1 migration)"
sql 'SELECT count(*) FROM package_test_probe' >/dev/null || fail "the N+1 migration's table is missing"
roster_after=$(sql 'SELECT count(*) FROM workers' 2>/dev/null || echo "?")
[ "$roster_after" = "$roster_before" ] || fail "roster: $roster_before before, $roster_after after"
as_safegate safegate supervisor list --config /etc/safegate/package-test.yaml | grep -q '^lan' || fail "the supervisor is gone after the upgrade"

# 6. Remove keeps the data; purge removes it.
t=$(now)
in_root dpkg -r safegate >"$work/dpkg-remove.log" 2>&1 || { cat "$work/dpkg-remove.log" >&2; fail "dpkg -r"; }
t_remove=$(since "$t")
[ ! -e "$root/usr/bin/safegate" ] || fail "/usr/bin/safegate still there after dpkg -r"
[ -f "$root/var/lib/safegate/safegate.db" ] || fail "/var/lib/safegate/safegate.db removed by dpkg -r"
[ -f "$root/etc/safegate/kiosk.yaml" ] || fail "the conffile went with dpkg -r (only purge removes it)"
in_root dpkg -P safegate >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log" >&2; fail "dpkg -P"; }
[ ! -e "$root/var/lib/safegate" ] || fail "/var/lib/safegate left after purge"
! in_root getent passwd safegate >/dev/null || fail "the safegate user left after purge"

size_n=$(stat -c %s "$deb_n")
cleanup
printf '{"ok":true,"trixieNode":"%s","version":"%s","next":"%s","debBytes":%s,"chrootCached":%s,"selftestExit":%s,"selftest":%s,"events":%s,"roster":"%s","storeVersion":[%s,%s],"seconds":{"chroot":%s,"packageN":%s,"packageN1":%s,"install":%s,"selftest":%s,"upgrade":%s,"remove":%s,"total":%s}}\n' \
  "$trixie_node" "$version" "$next" "$size_n" "$chroot_cached" "$selftest_status" "$selftest_summary" "$events_after" "$roster_after" "$version_before" "$version_after" \
  "$t_chroot" "$t_pkg_n" "$t_pkg_n1" "$t_install" "$t_selftest" "$t_upgrade" "$t_remove" "$(since "$t_all")"
