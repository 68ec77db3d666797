import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateSigningKeyPair, keyIdFileName, type GeneratedKeyPair, type SigningAlgorithm } from '../../base/node/keys.js';
import type { KeyRole } from '../../base/common/key-roles.js';
import { issuePass } from '../../base/node/pass.js';
import type { WorkerRecord } from '../../base/common/types.js';

export function tempDir(prefix = 'safegate-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes a public key into a kiosk's keys folder, in the folder of its role. */
export function installKey(keysDir: string, role: KeyRole, pair: GeneratedKeyPair): void {
  mkdirSync(join(keysDir, role), { recursive: true });
  writeFileSync(join(keysDir, role, `${keyIdFileName(pair.kid)}.pub.pem`), pair.publicPem);
}

/**
 * Hub key pairs with their public halves installed in `<dir>/keys` as a kiosk holds them: the pass
 * key (the pair itself: it signs the test passes) and `downlink`, the key for what the hub sends down.
 */
export function hubKeys(dir: string, algorithm: SigningAlgorithm = 'EdDSA'): GeneratedKeyPair & { keysDir: string; downlink: GeneratedKeyPair } {
  const pair = generateSigningKeyPair(algorithm);
  const downlink = generateSigningKeyPair(algorithm);
  const keysDir = join(dir, 'keys');
  installKey(keysDir, 'pass', pair);
  installKey(keysDir, 'downlink', downlink);
  return { ...pair, keysDir, downlink };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A worker who passes the default policy at `now`; override fields to make a case. */
export function healthyWorker(workerId: string, now = Date.now(), overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    workerId,
    displayName: `Người lao động ${workerId}`,
    company: 'Công ty Thử nghiệm',
    team: 'Tổ 1',
    declaredAt: now - 2 * HOUR,
    declarationFlagged: false,
    testResult: null,
    testedAt: null,
    vaccineDoses: 2,
    quarantineUntil: null,
    caseStatus: 'none',
    ...overrides,
  };
}

export function passFor(pair: GeneratedKeyPair, workerId: string, opts: { expiresInMs?: number; issuedAgoMs?: number } = {}): string {
  const now = Date.now();
  return issuePass(pair.privatePem, {
    workerId,
    issuer: 'test-hub',
    issuedAt: new Date(now - (opts.issuedAgoMs ?? 60_000)),
    expiresAt: new Date(now + (opts.expiresInMs ?? 30 * DAY)),
  });
}

export interface KioskConfigOptions {
  scannerPath?: string;
  scannerSource?: 'serial' | 'stdin' | 'none';
  checkpointKind?: string;
  direction?: 'entry' | 'exit' | 'both';
  suffix?: 'CR' | 'LF' | 'CRLF';
  maxLineLength?: number;
  pulseMs?: number;
  policyFile?: string;
  /** Sync settings: the broker (with TLS files) and batch tuning. */
  hub?: Record<string, unknown>;
  /** The screens section (camera, supervisor rules, ...). */
  screens?: Record<string, unknown>;
  /** The store section (path, reserve, retention, ...). */
  store?: Record<string, unknown>;
}

/** Writes a kiosk settings file into `dir` and returns its path. */
export function writeKioskConfig(dir: string, o: KioskConfigOptions = {}): string {
  const file = join(dir, 'kiosk.yaml');
  const pulse = { pulseMs: o.pulseMs ?? 200, maxOnMs: 2_000 };
  writeFileSync(
    file,
    stringify({
      device: { id: 'test-kiosk-01' },
      checkpoint: { id: 'gate-a', name: 'Cổng A', kind: o.checkpointKind ?? 'gate', zone: 'factory-1', direction: o.direction ?? 'entry' },
      scanner: {
        source: o.scannerSource ?? (o.scannerPath ? 'serial' : 'none'),
        ...(o.scannerPath ? { path: o.scannerPath } : {}),
        suffix: o.suffix ?? 'CR',
        ...(o.maxLineLength ? { maxLineLength: o.maxLineLength } : {}),
        baudRate: 115200,
      },
      gate: { gpio: 'simulated', relay: pulse, greenLight: pulse, redLight: pulse, buzzer: { pulseMs: 20, maxOnMs: 2_000 } },
      store: { path: 'safegate.db', ...(o.store ?? {}) },
      hub: { keysDir: 'keys', ...(o.hub ?? {}) },
      clock: { syncedWhen: 'always' },
      ...(o.policyFile ? { policy: { file: o.policyFile } } : {}),
      log: { level: 'info' },
      ...(o.screens ? { screens: o.screens } : {}),
    }),
  );
  return file;
}

export async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
