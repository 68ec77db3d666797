import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS } from '../../base/common/declaration.js';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { createLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { loadSettings } from '../../src-main/core/config.js';
import { safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { mintDccSigner, mintHc1 } from '../helpers/dcc.js';
import { installKey, tempDir } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { until } from './site.js';

const KIOSK_ID = 'kiosk-dcc-1';

/**
 * Issue 14 G2's acceptance, end to end: Mosquitto with the product's ACL, the hub as a process
 * (`safegate hub run`, compiled build, signing its downlink), and a kiosk with a screen, visitors and
 * HC1 on, scanning on its (simulated) scanner. The operator imports a freshly minted signer with
 * `safegate hub dcc trust import`; the kiosk receives it by the signed `dcc` downlink stream; an HC1
 * it signed is offered visitor registration (and registers, its certificate accepted), one signed by
 * an unknown key is refused CERTIFICATE_INVALID. The signer is then left out of a new import: the
 * kiosk drops it at its next sync (here: its next start, which asks at once; a running kiosk asks
 * every 5 minutes) and the same HC1 is refused.
 */
describe('the HC1 trust list from the hub to a kiosk (issue 14 G2)', () => {
  const dir = tempDir('safegate-e2e-dcc-');
  const downlinkKey = generateSigningKeyPair();
  const passKey = generateSigningKeyPair();
  const signer = mintDccSigner('DSC trusted');
  const other = mintDccSigner('DSC other');
  const stranger = mintDccSigner('DSC unknown');
  const hc1 = mintHc1({ signer });
  let certs: TestCertificates;
  let broker: TestBroker;
  let hub: RunningProcess;
  let hubConfig = '';
  let kioskConfig = '';
  let kiosk: Kiosk | undefined;
  let scanner: PassThrough;
  let logLines: string[] = [];
  const passages: Passage[] = [];

  const tls = (name: string) => ({ ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });
  const importTrust = (name: string, pem: string) => {
    const file = join(dir.path, name);
    writeFileSync(file, pem);
    const r = safegate(['hub', 'dcc', 'trust', 'import', file, '--json', '--config', hubConfig], { env: { DATABASE_URL: '' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as { added: number; removed: number; unchanged: number };
  };

  /** Starts the kiosk on its settings and store; it asks the hub for every stream it takes once online. */
  async function startKiosk(): Promise<Kiosk> {
    logLines = [];
    scanner = new PassThrough();
    const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
    const k = new Kiosk(loadSettings(kioskConfig), { headless: false, log, stdin: scanner });
    k.gatekeeper.on('passage', (p: Passage) => passages.push(p));
    k.start();
    kiosk = k;
    return k;
  }

  /** Scans `text` and waits for the passage it decides. */
  async function scan(text: string): Promise<Passage> {
    const before = passages.length;
    scanner.write(`${text}\n`);
    return until(() => passages[before], 'the scan decided', 30_000);
  }

  const signersApplied = (n: number) => until(() => logLines.map((l) => JSON.parse(l) as { msg?: string; signers?: number }).find((l) => l.msg === 'HC1 signers applied' && l.signers === n), `the kiosk holding ${n} HC1 signer(s)`, 60_000, () => logLines.filter((l) => l.includes('downlink')).slice(-3));

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const name of ['hub.1', KIOSK_ID]) certs.issue(name);
    broker = new TestBroker(dir.path, certs);
    await broker.start();

    const keyFile = join(dir.path, 'downlink.key.pem');
    writeFileSync(keyFile, downlinkKey.privatePem);
    hubConfig = join(dir.path, 'hub.yaml');
    writeFileSync(
      hubConfig,
      stringify({ id: 'hub.1', broker: { ...tls('hub.1'), url: broker.url }, store: { path: join(dir.path, 'hub.db') }, directory: { path: join(dir.path, 'directory.db') }, signingKey: keyFile, console: { enabled: false }, log: { level: 'info' } }),
    );
    hub = safegateProcess(['hub', 'run', '--config', hubConfig], undefined, { env: { DATABASE_URL: '' } });
    await until(() => hub.logs.find((l) => l.msg === 'hub online'), 'the hub online', 60_000);

    const kioskDir = join(dir.path, KIOSK_ID);
    mkdirSync(kioskDir);
    installKey(join(kioskDir, 'keys'), 'pass', passKey);
    installKey(join(kioskDir, 'keys'), 'downlink', downlinkKey);
    kioskConfig = join(kioskDir, 'kiosk.yaml');
    writeFileSync(
      kioskConfig,
      stringify({
        device: { id: KIOSK_ID },
        checkpoint: { id: 'cong-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'both' },
        scanner: { source: 'stdin' },
        gate: { gpio: 'simulated' },
        store: { path: 'safegate.db', reserveMB: 0 },
        hub: { keysDir: 'keys', broker: { ...tls(KIOSK_ID), url: broker.url, protocolVersion: 5 }, batch: { maxEvents: 8, maxAgeMs: 200 } },
        clock: { syncedWhen: 'always' },
        screens: { camera: { enabled: false }, supervisor: { drives: 'off' } },
        visitors: { enabled: true, hosts: ['Phòng Nhân sự'] },
        dcc: { enabled: true },
        log: { level: 'debug' },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await kiosk?.stop();
    if (hub && hub.child.exitCode === null && hub.child.signalCode === null) {
      hub.child.kill('SIGTERM');
      await Promise.race([once(hub.child, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
    }
    await broker?.stop();
    dir.remove();
  }, 60_000);

  it('a signer imported at the hub reaches the kiosk: its HC1 is offered registration and registers, an unknown signer\'s is refused', async () => {
    expect(importTrust('trusted.pem', signer.pem)).toMatchObject({ added: 1, removed: 0 });
    const k = await startKiosk();
    await signersApplied(1);
    expect(k.downlinkState.cursor('dcc').cursor).toBeGreaterThan(0);
    // `safegate status --json` beside the running kiosk says how many signers it holds and since when.
    const status = safegate(['status', '--json', '--config', kioskConfig]);
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({ dcc: { signers: 1, receivedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) } });

    const offered = await scan(hc1);
    expect(offered.decision.reasons).toEqual(['VISITOR_NOT_REGISTERED']);
    expect(offered.visitor).toMatchObject({ credentialKind: 'dcc', name: 'Nghiệm Thử' });
    const reply = await k.screenService.dispatch('visitor.register', {
      token: offered.visitor!.token,
      agreed: true,
      host: 'Phòng Nhân sự',
      purpose: 'Họp / Meeting',
      answers: Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, false])),
    });
    // Registered with the certificate accepted: what is left is a supervisor's approval, as for any visitor.
    expect(reply).toMatchObject({ ok: true, result: { outcome: 'deny', reasons: ['VISITOR_APPROVAL_PENDING'], displayName: 'Nghiệm Thử' } });
    expect(logLines.filter((l) => l.includes('a health certificate refused'))).toEqual([]);
    const registered = await until(() => [...k.events.since(0)].find((e) => e.reasons.includes('VISITOR_REGISTERED')), 'the registration event', 30_000);
    expect(registered).toMatchObject({ source: 'visitor', decision: 'allow', credentialKind: 'dcc' });

    const unknown = await scan(mintHc1({ signer: stranger }));
    expect(unknown.decision).toMatchObject({ outcome: 'deny', reasons: ['CERTIFICATE_INVALID'] });
    expect(unknown.visitor).toBeUndefined();
  }, 120_000);

  it('a new import without that signer: the kiosk drops it at its next sync and the same HC1 is refused', async () => {
    expect(importTrust('other.pem', other.pem)).toMatchObject({ added: 1, removed: 1, unchanged: 0 });
    await kiosk!.stop();
    kiosk = undefined;
    await startKiosk();
    await signersApplied(1);
    expect(logLines.some((l) => l.includes('"kind":"delta"') && l.includes('HC1 signers applied'))).toBe(true);
    const refused = await scan(hc1);
    expect(refused.decision).toMatchObject({ outcome: 'deny', reasons: ['CERTIFICATE_INVALID'] });
  }, 120_000);
});
