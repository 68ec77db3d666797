import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync, writeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateCheck } from '../../../../src-main/core/selftest/certificate.js';
import { databaseCheck } from '../../../../src-main/core/selftest/database.js';
import { diskCheck } from '../../../../src-main/core/selftest/disk.js';
import { hubKeysCheck } from '../../../../src-main/core/selftest/hub-keys.js';
import { cameraCheck } from '../../../../src-main/core/selftest/camera.js';
import { clockCheck } from '../../../../src-main/core/selftest/clock.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { MIGRATIONS } from '../../../../src-main/core/store/migrations/index.js';
import { diskSpace } from '../../../../base/node/disk.js';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { installKey, tempDir } from '../../../helpers/fixtures.js';

/** The file-backed checks, each on real files: a store, a corrupted copy, a filesystem, keys, certificates. */
describe('self-test checks on real files', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });
  const dir = () => {
    const d = tempDir('safegate-selftest-');
    dirs.push(d);
    return d.path;
  };

  describe('database', () => {
    it('a missing store is "not created yet" (warn); a store the kiosk made passes quick_check', async () => {
      const path = join(dir(), 'safegate.db');
      expect(await databaseCheck({ path })).toMatchObject({ status: 'warn', detail: expect.stringContaining('not created yet') });
      const db = openStore(path);
      db.close();
      const r = await databaseCheck({ path });
      expect(r).toMatchObject({ status: 'pass', detail: expect.stringContaining(`quick_check ok), schema ${MIGRATIONS.at(-1)!.version}`) });
    });

    it('a store with a damaged page fails quick_check, and the action says what to do', async () => {
      const path = join(dir(), 'safegate.db');
      const db = openStore(path);
      // Enough rows for many pages of a table and its index.
      db.exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT; CREATE INDEX filler_text ON filler (text)");
      const insert = db.prepare('INSERT INTO filler (text) VALUES (?)');
      db.transaction(() => {
        for (let i = 0; i < 2_000; i++) insert.run(`row ${i} `.repeat(8));
      })();
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const pageSize = 4096;
      const pages = statSync(path).size / pageSize;
      expect(pages).toBeGreaterThan(4);
      // Scribble over the middle of the file (not the header page): b-tree pages no longer parse.
      const fd = openSync(path, 'r+');
      for (let p = 2; p < pages; p += 2) writeSync(fd, Buffer.alloc(200, 0xa5), 0, 200, p * pageSize + 8);
      closeSync(fd);
      const r = await databaseCheck({ path });
      expect(r.status).toBe('fail');
      expect(r.detail).toMatch(/quick_check found \d+ problem|cannot be read: .*malformed/);
      expect(r.action).toMatch(/restore it or move it aside/);
    });

    it('a file that is not a database fails with the driver\'s reason', async () => {
      const path = join(dir(), 'safegate.db');
      writeFileSync(path, 'this is not a database'.repeat(300));
      const r = await databaseCheck({ path });
      expect(r).toMatchObject({ status: 'fail', detail: expect.stringContaining('not a database') });
    });

    it('a store written by a newer version fails; one from an older version is a warn (migrated at start)', async () => {
      const d = dir();
      const newer = join(d, 'newer.db');
      const db = openStore(newer);
      db.pragma(`user_version = ${MIGRATIONS.at(-1)!.version + 1}`);
      db.close();
      expect(await databaseCheck({ path: newer })).toMatchObject({ status: 'fail', detail: expect.stringContaining('newer SafeGate') });
      const older = join(d, 'older.db');
      const db2 = openStore(older, { migrations: MIGRATIONS.slice(0, 3) });
      db2.close();
      expect(await databaseCheck({ path: older })).toMatchObject({ status: 'warn', detail: expect.stringContaining('schema 3') });
    });
  });

  describe('disk', () => {
    it('measures the real filesystem against the kiosk thresholds: ok, below the warning level, the reserve in use', () => {
      const d = dir();
      const free = diskSpace(d)!.freeBytes;
      const freeMB = Math.floor(free / 1024 / 1024);
      expect(diskCheck({ dir: d, reserveMB: 0, lowSpaceWarnMB: 1 })).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^\d+ MB free on /) });
      // A warning level above what is free: the disk counts as nearly full.
      const low = diskCheck({ dir: d, reserveMB: 0, lowSpaceWarnMB: Math.min(1_048_576, freeMB + 1024) });
      expect(low.status).toBe('warn');
      expect(low.detail).toContain('below the');
      // The running kiosk gave its reserve up: the disk ran full.
      expect(diskCheck({ dir: d, reserveMB: 32, lowSpaceWarnMB: 1, reserveInUse: true })).toMatchObject({ status: 'fail', detail: expect.stringContaining('reserve is in use') });
      expect(diskCheck({ dir: join(d, 'missing'), reserveMB: 32, lowSpaceWarnMB: 256 }).status).toBe('warn');
    });
  });

  describe('hub keys', () => {
    it('no folder, no pass key, no downlink key with a hub: fail; both: pass; a broken key file: fail naming it', () => {
      const keys = join(dir(), 'keys');
      expect(hubKeysCheck({ keysDir: keys, syncs: false })).toMatchObject({ status: 'fail', detail: expect.stringContaining('no such folder') });
      mkdirSync(keys);
      expect(hubKeysCheck({ keysDir: keys, syncs: false })).toMatchObject({ status: 'fail', detail: expect.stringContaining('0 pass key(s)') });
      installKey(keys, 'pass', generateSigningKeyPair());
      expect(hubKeysCheck({ keysDir: keys, syncs: false }).status).toBe('pass');
      const noDownlink = hubKeysCheck({ keysDir: keys, syncs: true });
      expect(noDownlink).toMatchObject({ status: 'fail', detail: expect.stringContaining('0 downlink key(s)') });
      expect(noDownlink.action).toContain('downlink/');
      installKey(keys, 'downlink', generateSigningKeyPair());
      expect(hubKeysCheck({ keysDir: keys, syncs: true })).toMatchObject({ status: 'pass', detail: `${keys}: 1 pass key(s), 1 downlink key(s)` });
      writeFileSync(join(keys, 'pass', 'broken.pub.pem'), '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n');
      expect(hubKeysCheck({ keysDir: keys, syncs: true }).status).toBe('fail');
    });
  });

  describe('certificate', () => {
    const issue = (d: string, cn: string, days: number): string => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days), '-subj', `/CN=${cn}`, '-keyout', join(d, `${cn}-${days}.key`), '-out', join(d, `${cn}-${days}.crt`)], { stdio: 'ignore' });
      return join(d, `${cn}-${days}.crt`);
    };

    it('days to expiry: pass with a year left, warn under 30 days, fail once expired; missing or another device\'s: fail', () => {
      const d = dir();
      // Every certificate is issued before the clock is read: openssl sets notBefore to the second it
      // runs, and under load a later issue can land in a second after an earlier reading.
      const year = issue(d, 'kiosk-1', 365);
      const soon = issue(d, 'kiosk-1', 10);
      const other = issue(d, 'kiosk-2', 365);
      const now = Date.now();
      const base = { syncs: true, deviceId: 'kiosk-1', nowMs: now };
      expect(certificateCheck({ ...base, certFile: year })).toMatchObject({ status: 'pass', detail: expect.stringMatching(/36[45](\.\d)? days left/) });
      expect(certificateCheck({ ...base, certFile: soon })).toMatchObject({ status: 'warn', detail: expect.stringMatching(/expires in (9|10)(\.\d)? days/) });
      // The same certificate, read eleven days later.
      expect(certificateCheck({ ...base, certFile: soon, nowMs: now + 11 * 86_400_000 })).toMatchObject({ status: 'fail', detail: expect.stringContaining('expired on') });
      expect(certificateCheck({ ...base, certFile: join(d, 'missing.crt') })).toMatchObject({ status: 'fail', detail: expect.stringContaining('missing or not a certificate') });
      expect(certificateCheck({ ...base, certFile: other })).toMatchObject({ status: 'fail', detail: expect.stringContaining('issued to kiosk-2') });
      expect(certificateCheck({ ...base, certFile: undefined }).status).toBe('fail');
      // A file that names its own broker without a client certificate: the site's choice, a warn.
      expect(certificateCheck({ ...base, certFile: undefined, handProvisioned: true }).status).toBe('warn');
      expect(certificateCheck({ ...base, syncs: false, certFile: undefined }).status).toBe('pass');
      expect(readFileSync(year, 'utf8')).toContain('BEGIN CERTIFICATE');
    });
  });

  describe('camera and clock', () => {
    it('a /dev/video* node present and readable passes; none, or a screenless unit, is a warn, never a fail', () => {
      const dev = dir();
      const camera = { enabled: true, decoder: 'zxing-wasm' as const, width: 640, height: 480 };
      expect(cameraCheck({ camera, screenless: false, devDir: dev }).status).toBe('warn');
      writeFileSync(join(dev, 'video0'), '');
      expect(cameraCheck({ camera, screenless: false, devDir: dev })).toMatchObject({ status: 'pass', detail: `${join(dev, 'video0')} present and readable` });
      expect(cameraCheck({ camera, screenless: true, devDir: dev }).status).toBe('warn');
      expect(cameraCheck({ camera: { ...camera, enabled: false }, screenless: false, devDir: dev }).status).toBe('warn');
    });

    it('timesyncd: the flag file there passes, absent warns; always and never say they did not check', () => {
      const flag = join(dir(), 'synchronized');
      expect(clockCheck({ syncedWhen: 'timesyncd', flagFile: flag }).status).toBe('warn');
      writeFileSync(flag, '');
      expect(clockCheck({ syncedWhen: 'timesyncd', flagFile: flag })).toMatchObject({ status: 'pass', detail: expect.stringContaining('synchronised (systemd-timesyncd)') });
      expect(clockCheck({ syncedWhen: 'always' }).status).toBe('warn');
      expect(clockCheck({ syncedWhen: 'never' }).status).toBe('warn');
    });
  });
});
