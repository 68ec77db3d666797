import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../base/node/logger.js';
import { loadSettings } from '../../../../src-main/core/config.js';
import { Kiosk } from '../../../../src-main/app/kiosk.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { openStoreSecrets } from '../../../../src-main/core/store/secrets.js';
import { verifyPin } from '../../../../src-main/core/supervisor/pin.js';
import { healthyWorker, hubKeys, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';

const silent = createLogger({ level: 'silent' });
const mode = (file: string) => statSync(file).mode & 0o777;

/**
 * The kiosk's database holds the roster's health data: it is private on disk, deleted rows do not
 * linger, and the secrets that protect unknown codes and PINs are not in it.
 */
describe('the kiosk store keeps personal data private', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const dir = () => {
    const d = tempDir('safegate-privacy-');
    dirs.push(d);
    return d.path;
  };

  it('creates its folder 0700 and its files 0600, WAL and SHM included, with secure_delete on', () => {
    const path = join(dir(), 'var', 'lib', 'safegate', 'safegate.db');
    const db = openStore(path);
    db.prepare("INSERT INTO meta (key, value) VALUES ('x', 'y')").run();
    expect(mode(join(path, '..'))).toBe(0o700);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect({ f, mode: mode(f) }).toEqual({ f, mode: 0o600 });
    expect(db.pragma('secure_delete', { simple: true })).toBe(1);
    db.close();
  });

  it('tightens a database file that others could read', () => {
    const d = dir();
    const path = join(d, 'safegate.db');
    openStore(path).close();
    chmodSync(path, 0o644);
    openStore(path).close();
    expect(mode(path)).toBe(0o600);
  });

  it('a copy of the database alone holds neither the unknown-code hash key nor a PIN hash that can be tried', async () => {
    const d = dir();
    hubKeys(d);
    const config = writeKioskConfig(d);
    const kiosk = new Kiosk(loadSettings(config), { headless: true, log: silent });
    kiosk.roster.upsertAll([healthyWorker('W1')]);
    kiosk.start();
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '864209' });
    kiosk.gatekeeper.handleScan({ text: 'SOMEONE-ELSES-CARD', source: 'camera', receivedAtNs: process.hrtime.bigint() });
    await kiosk.stop();

    const keyFile = join(d, 'safegate.key');
    expect(mode(keyFile)).toBe(0o600);
    const stolen = join(dir(), 'copy.db');
    copyFileSync(join(d, 'safegate.db'), stolen);
    const copy = new Database(stolen, { readonly: true });
    const meta = copy.prepare('SELECT key FROM meta').pluck().all();
    const pinHash = copy.prepare('SELECT hash FROM supervisors').pluck().get() as string;
    const codeHash = copy.prepare('SELECT code_hash FROM events WHERE code_hash IS NOT NULL').pluck().get() as string;
    copy.close();
    expect(meta).not.toContain('code_hash_key');
    expect(codeHash).toMatch(/^[0-9a-f]{32}$/);
    // The right PIN does not verify against the copied hash without the key file's pepper...
    expect(await verifyPin('864209', pinHash, Buffer.alloc(32))).toBe(false);
    // ...and does with it (the kiosk itself).
    const pepper = Buffer.from((JSON.parse(readFileSync(keyFile, 'utf8')) as { pinPepper: string }).pinPepper, 'hex');
    expect(await verifyPin('864209', pinHash, pepper)).toBe(true);
  });

  it('a database from before the key file gives its secrets up: same code hashes, same PIN, none left inside', async () => {
    const d = dir();
    const path = join(d, 'safegate.db');
    const db = openStore(path);
    // As an older SafeGate left it: the hash key in the database, the PIN hash without a pepper.
    const oldKey = 'ab'.repeat(32);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'code_hash_key'").run(oldKey);
    const { scryptSync, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const legacy = ['scrypt', 15, 8, 1, salt.toString('base64'), scryptSync('5555', salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }).toString('base64')].join('$');
    db.prepare("INSERT INTO supervisors (id, name, hash, created_ms) VALUES ('supervisor', 'supervisor', ?, 0)").run(legacy);
    const secrets = openStoreSecrets(join(d, 'safegate.key'), db, silent);
    expect(secrets.codeHashKey).toBe(oldKey);
    expect(db.prepare("SELECT count(*) FROM meta WHERE key = 'code_hash_key'").pluck().get()).toBe(0);
    const peppered = db.prepare('SELECT hash FROM supervisors').pluck().get() as string;
    expect(peppered).toMatch(/^scrypt-pepper\$/);
    expect(await verifyPin('5555', peppered, secrets.pinPepper)).toBe(true);
    expect(await verifyPin('5555', peppered, Buffer.alloc(32))).toBe(false);
    // Opening again changes nothing.
    expect(openStoreSecrets(join(d, 'safegate.key'), db, silent)).toEqual(secrets);
    db.close();
  });

  it('refuses a key file that is not one, with what to do', () => {
    const d = dir();
    const db = openStore(join(d, 'safegate.db'));
    mkdirSync(join(d, 'k'));
    writeFileSync(join(d, 'k', 'safegate.key'), 'not json');
    expect(() => openStoreSecrets(join(d, 'k', 'safegate.key'), db, silent)).toThrow(/not a SafeGate key file; move it away/);
    db.close();
  });
});
