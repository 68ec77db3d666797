import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { expect } from 'vitest';
import type { GateEvent } from '../../base/common/types.js';
import { generateSigningKeyPair, type GeneratedKeyPair } from '../../base/node/keys.js';
import { createLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import { launchChromium } from '../helpers/browser.js';
import { safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { healthyWorker, installKey, passFor, tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { PtyPair } from '../helpers/pty.js';

/**
 * One site of "the gate for everyone" (issue 14), every part real: Mosquitto with the product's
 * ACL, the hub as a process (`safegate hub run`, compiled build; its store and directory SQLite
 * files), and two kiosks of the site `xuong-a` in this process, each on its own pty scanner and
 * broker link: kiosk 1 the factory gate (two-way, screens on loopback, Chromium at 800x480,
 * visitors taken), kiosk 2 the canteen (no screen). The hub lists the workers of ORG-A (roster
 * upload) and places both kiosks in the site, so what the hub relays on the live site stream
 * reaches both. Each kiosk's log is kept line by line (its own logger, as in production) so a test
 * can search it.
 */
export const SITE = 'xuong-a';
export const ORG = 'ORG-A';
export const GATE_ID = 'kiosk-gate-1';
export const CANTEEN_ID = 'kiosk-canteen-2';
const HEADER = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';

/** Workers on the hub's list and both kiosks' rosters, none with a declaration (synthetic). */
export const WORKERS = [
  { id: 'A001', name: 'Trần Thị Mai' },
  { id: 'A002', name: 'Lê Văn Hùng' },
] as const;

export const VISITOR_HOSTS = ['Phòng Nhân sự', 'Xưởng May 1'];

export interface SiteKiosk {
  readonly id: string;
  readonly dir: string;
  readonly config: string;
  readonly kiosk: Kiosk;
  readonly pty: PtyPair;
  /** Every line the kiosk logged, as written. */
  readonly logLines: string[];
  /** The kiosk's SQLite file. */
  readonly dbFile: string;
}

export class GateSite {
  readonly dir = tempDir('safegate-e2e-everyone-');
  readonly passKey: GeneratedKeyPair = generateSigningKeyPair();
  readonly children: ChildProcess[] = [];
  broker!: TestBroker;
  hub!: RunningProcess;
  hubConfig = '';
  hubDbFile = '';
  directoryFile = '';
  gate!: SiteKiosk;
  canteen!: SiteKiosk;
  browser!: Browser;
  page!: Page;
  private certs!: TestCertificates;
  private issued = 60_000;

  async start(): Promise<void> {
    const root = this.dir.path;
    this.certs = new TestCertificates(join(root, 'pki'));
    for (const name of ['hub.1', GATE_ID, CANTEEN_ID]) this.certs.issue(name);
    this.broker = new TestBroker(root, this.certs);
    await this.broker.start();

    // The hub: org, site, both kiosks placed in it, the org's worker list.
    this.hubConfig = join(root, 'hub.yaml');
    this.hubDbFile = join(root, 'hub.db');
    this.directoryFile = join(root, 'directory.db');
    writeFileSync(
      this.hubConfig,
      stringify({
        id: 'hub.1',
        broker: { ...this.tls('hub.1'), url: this.broker.url },
        store: { path: this.hubDbFile },
        directory: { path: this.directoryFile },
        console: { port: await freePort() },
        siteStream: { beatMs: 500 },
        log: { level: 'info' },
      }),
    );
    const hubCli = (...args: string[]) => {
      const r = safegate(['hub', ...args, '--config', this.hubConfig], { env: { DATABASE_URL: '' } });
      expect(r.status, `hub ${args.join(' ')}: ${r.stderr}`).toBe(0);
    };
    hubCli('org', 'add', ORG, '--name', 'Công ty May A');
    hubCli('site', 'add', SITE, '--org', ORG);
    // At checkpoints serving the organisation: its workers are on these kiosks' roster, so the hub records their declarations.
    hubCli('checkpoint', 'add', 'cong-a', '--site', SITE, '--kind', 'gate', '--name', 'Cổng A', '--org', ORG);
    hubCli('checkpoint', 'add', 'canteen-1', '--site', SITE, '--kind', 'canteen', '--name', 'Nhà ăn 1', '--org', ORG);
    hubCli('device', 'assign', GATE_ID, '--checkpoint', 'cong-a');
    hubCli('device', 'assign', CANTEEN_ID, '--checkpoint', 'canteen-1');
    const list = join(root, 'org-a.csv');
    writeFileSync(list, `${HEADER}\n${WORKERS.map((w, i) => `${i + 1},${w.id},${w.name},1990,Nữ,,,,Tổ May 1,,,2`).join('\n')}\n`);
    hubCli('roster', 'upload', '--org', ORG, list);
    this.hub = safegateProcess(['hub', 'run', '--config', this.hubConfig], undefined, { env: { DATABASE_URL: '' } });
    this.children.push(this.hub.child);
    await waitFor(() => this.hub.logs.find((l) => l.msg === 'hub online'), 'the hub online', 60_000);

    // The gate has a screen (not headless: it takes declarations and visitors).
    this.gate = await this.startKiosk(GATE_ID, {
      checkpoint: { id: 'cong-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'both', site: SITE },
      // A result stays until the test moves on (the longest the settings allow).
      screens: { camera: { enabled: false }, resultSeconds: 30, supervisor: { drives: 'off' } },
      visitors: { enabled: true, hosts: VISITOR_HOSTS },
    }, { headless: false });
    this.canteen = await this.startKiosk(CANTEEN_ID, {
      checkpoint: { id: 'canteen-1', name: 'Nhà ăn 1', kind: 'canteen', zone: 'canteen-1', direction: 'entry', site: SITE },
      screens: { show: 'none' },
    }, { headless: true });
    // Both hear their site's stream before anything is scanned.
    for (const k of [this.gate, this.canteen]) await waitFor(() => (k.kiosk.siteStream?.currentSinceMs() ? true : undefined), `${k.id} hears the site stream`, 60_000);

    const server = await this.gate.kiosk.startScreens();
    this.browser = await launchChromium();
    const context = await this.browser.newContext({ viewport: { width: 800, height: 480 }, locale: 'vi-VN' });
    this.page = await context.newPage();
    await this.page.goto(server.screenUrl);
    await this.page.getByTestId('idle').waitFor({ timeout: 60_000 });
  }

  private tls(name: string) {
    return { ca: join(this.certs.dir, 'ca.crt'), cert: join(this.certs.dir, `${name}.crt`), key: join(this.certs.dir, `${name}.key`) };
  }

  private async startKiosk(id: string, sections: Record<string, unknown>, options: { headless: boolean }): Promise<SiteKiosk> {
    const dir = join(this.dir.path, id);
    mkdirSync(dir);
    installKey(join(dir, 'keys'), 'pass', this.passKey);
    const pty = new PtyPair(dir);
    await pty.plug();
    const pulse = { pulseMs: 50, maxOnMs: 1_000 };
    const config = join(dir, 'kiosk.yaml');
    writeFileSync(
      config,
      stringify({
        device: { id },
        scanner: { source: 'serial', path: pty.devicePath, suffix: 'CR', baudRate: 115200 },
        gate: { gpio: 'simulated', relay: pulse, greenLight: pulse, redLight: pulse, buzzer: { pulseMs: 20, maxOnMs: 1_000 } },
        store: { path: 'safegate.db', reserveMB: 0 },
        hub: {
          keysDir: 'keys',
          broker: { ...this.tls(id), url: this.broker.url, protocolVersion: 5 },
          siteStream: { freshMs: 5_000 },
          batch: { maxEvents: 8, maxAgeMs: 200 },
        },
        clock: { syncedWhen: 'always' },
        log: { level: 'debug' },
        ...sections,
      }),
    );
    const logLines: string[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
    const kiosk = new Kiosk(loadSettings(config), { headless: options.headless, log });
    // On the roster, healthy, but no declaration yet (the hub's list says the same).
    kiosk.roster.upsertAll(WORKERS.map((w) => healthyWorker(w.id, Date.now(), { displayName: w.name, declaredAt: null })));
    kiosk.start();
    await waitFor(() => (kiosk.scanner?.state === 'ready' ? true : undefined), `${id}'s scanner ready`, 30_000);
    return { id, dir, config, kiosk, pty, logLines, dbFile: join(dir, 'safegate.db') };
  }

  /** A printed pass of a worker, a new one each time (so no two scans read the same text). */
  pass(workerId: string): string {
    return passFor(this.passKey, workerId, { issuedAgoMs: (this.issued += 1_000) });
  }

  /** The kiosk's events since `fromMs`, in order. */
  events(k: SiteKiosk, fromMs = 0): GateEvent[] {
    return [...k.kiosk.events.since(fromMs)];
  }

  /** Runs a read-only query on the hub's store (hub.db) or directory (directory.db). */
  hubQuery<T>(file: 'store' | 'directory', query: string, ...params: unknown[]): T[] {
    const db = new Database(file === 'store' ? this.hubDbFile : this.directoryFile, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(query).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    for (const k of [this.gate, this.canteen]) {
      if (!k) continue;
      await k.kiosk.stop();
      await k.pty.unplug();
    }
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await Promise.race([once(c, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    }
    await this.broker?.stop();
    this.dir.remove();
  }
}

/** Polls `probe` until it gives a value; the error names what was awaited and the last thing seen. */
export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000, seen?: () => unknown): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen ? `; last seen: ${JSON.stringify(seen())}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
