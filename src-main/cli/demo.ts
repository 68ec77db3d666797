import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { KeyRole } from '../../base/common/key-roles.js';
import { join, resolve } from 'node:path';
import { loadSettings } from '../core/config.js';
import { issuePass } from '../../base/node/pass.js';
import { Kiosk } from '../app/kiosk.js';
import { createLogger } from '../../base/node/logger.js';
import { DENY_REASONS } from '../../base/common/reasons.js';
import { parseRosterCsv } from '../core/store/roster.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { EmbeddedBroker } from '../../sync/embedded-broker.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { waitForShutdown } from './commands.js';
import { generateKeys } from './pass-commands.js';
import QRCode from 'qrcode';
import { ScreenLauncher, type ScreenMode } from './screens-launcher.js';
import { openHubConsole, type HubConsole } from '../../console/server/hub-console.js';
import { hashPassword } from '../../console/server/accounts.js';
import { hubSettingsSchema } from '../../sync/hub/settings.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { DEMO_CASE, DEMO_PLACES, demoHistory } from './demo-history.js';
import { DEFAULT_TRACE_OPTIONS, publishedResetHours, Tracer } from '../../sync/hub/trace.js';
import { AlertBook, kioskRaisedAlert } from '../../sync/hub/notify/alert-book.js';
import { Dispatcher, webhookSignature } from '../../sync/hub/notify/dispatcher.js';
import { createMailer } from '../../sync/hub/notify/mailer.js';
import { createServer } from 'node:http';
import { PROTOCOL_VERSION, type Alert } from '../../sync/protocol.js';
import type { AddressInfo } from 'node:net';

const DAY = 86_400_000;
/** The demo's one supervisor: a named account with a 6-digit PIN, as a real kiosk has. */
const DEMO_SUPERVISOR = { id: 'demo', name: 'Demo supervisor', pin: '123456' } as const;

/** The screens' line(s) of the first-run block: where they are, and the address to open. */
export function screensBlockLines(shown: 'electron' | 'chromium' | 'address' | 'none', screenUrl: string, notes: readonly string[]): string[] {
  // The launcher's own notes (running as root, no graphical session) say why there is no window.
  const why = notes.filter((n) => !n.startsWith('Screens: open ')).map((n) => n.replace(/^Screens: /, '').replace('the address below', 'the address above'));
  if (shown === 'electron') return ['in the Electron kiosk window', `or open ${screenUrl} in a browser on this machine`];
  if (shown === 'chromium') return ['in a Chromium window (app mode)', `or open ${screenUrl} in a browser on this machine`];
  return [`open ${screenUrl} in a browser on this machine`, ...why];
}

/**
 * The block the demo ends its start with, after the build output and the codes: what to open, the
 * supervisor's PIN, where the passes are, how to scan. Plain text, one item a line.
 */
export function firstRunBlock(items: { screens: readonly string[]; supervisor: string; passes: readonly string[]; scan: string; console?: readonly string[] }): string {
  const rule = '='.repeat(78);
  const item = (label: string, lines: readonly string[]) => lines.map((l, i) => `  ${(i === 0 ? label : '').padEnd(13)}${l}`);
  return [
    '',
    rule,
    '  SafeGate demo is running',
    '',
    ...item('Screens:', items.screens),
    ...item('Supervisor:', [items.supervisor]),
    ...item('Demo passes:', items.passes),
    ...item('Scan:', [items.scan]),
    ...(items.console ? item('Console:', items.console) : []),
    rule,
    '',
  ].join('\n');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A printable page of the demo passes as QR codes (to show the camera, from paper or a phone). */
async function demoPassPage(samples: [string, string][], checkpoint: string): Promise<string> {
  const cards = await Promise.all(
    samples.map(async ([label, text]) => {
      const img = await QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 4, width: 360 });
      return `<figure><img src="${img}" alt="${escapeHtml(label)}" width="360" height="360"><figcaption>${escapeHtml(label)}</figcaption></figure>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SafeGate demo passes</title>
<style>body{font-family:sans-serif;margin:1rem}main{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;padding:.5rem;border:1px solid #999;text-align:center;break-inside:avoid}figcaption{font-size:1.1rem;max-width:360px}</style>
</head><body><h1>SafeGate demo passes (${escapeHtml(checkpoint)})</h1><p>Show one to the kiosk camera, from this screen, a print-out or a phone.</p><main>${cards.join('')}</main></body></html>`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Demo workers, one per interesting case. Dates are relative to now so the demo never goes stale. */
function demoRosterCsv(now: number): string {
  const rows = [
    ['W0001', 'Nguyễn Văn An', 'Công ty May Sông Hồng', 'Tổ cắt 1', iso(now - 2 * 3_600_000), 'no', '', '', '2', '', 'none'],
    ['W0002', 'Trần Thị Bình', 'Công ty May Sông Hồng', 'Tổ may 3', iso(now - 3 * 3_600_000), 'no', '', '', '3', '', 'F1'],
    ['W0003', 'Lê Văn Cường', 'Công ty May Sông Hồng', 'Kho', iso(now - 3_600_000), 'no', 'negative', iso(now - DAY), '2', iso(now + 7 * DAY), 'none'],
    ['W0004', 'Phạm Thị Dung', 'Công ty May Sông Hồng', 'Tổ may 3', iso(now - 3_600_000), 'no', 'negative', iso(now - 6 * 3_600_000), '2', '', 'F1'],
    // The demo's index case (confirmed this morning; the console's Trace page shows whom they met) and the people around them.
    ['W0005', 'Hoàng Văn Em', 'Công ty May Sông Hồng', 'Tổ cắt 1', iso(now - 3_600_000), 'no', 'positive', iso(now - 4 * 3_600_000), '2', iso(now + 10 * DAY), 'F0'],
    ['W0006', 'Vũ Thị Giang', 'Công ty May Sông Hồng', 'Tổ cắt 1', iso(now - 3_600_000), 'no', '', '', '2', '', 'none'],
    ['W0007', 'Đỗ Văn Hạnh', 'Công ty May Sông Hồng', 'Kho', iso(now - 3_600_000), 'no', '', '', '2', '', 'none'],
    ['W0008', 'Bùi Thị Khánh', 'Công ty May Sông Hồng', 'Tổ cắt 1', iso(now - 3_600_000), 'no', '', '', '2', '', 'none'],
  ];
  const header = 'worker_id,display_name,company,team,declared_at,declaration_flagged,test_result,tested_at,vaccine_doses,quarantine_until,case_status';
  return [header, ...rows.map((r) => r.join(','))].join('\n') + '\n';
}

function demoConfig(): string {
  return `# SafeGate demo kiosk: simulated scanner (type or paste a code, then Enter) and simulated GPIO.
device:
  id: demo-kiosk-01
checkpoint:
  id: gate-a
  name: "Cổng A"
  kind: gate
  zone: factory-1
  direction: entry
scanner:
  source: stdin
gate:
  gpio: simulated
  inputs:
    # simulated: safegate gpio set emergency on|off --config <this file>
    emergency: { pin: 5, activeLow: false }
store:
  path: safegate.db
hub:
  keysDir: keys
clock:
  syncedWhen: always
log:
  level: warn
`;
}

/**
 * The demo organisation: the demo workers are its list (CV 2242 form) and the demo kiosk stands at
 * its gate, so a pass issued or a phone link made in the console works at the demo kiosk.
 */
const DEMO_ORG = { id: 'demo-org', name: 'Công ty May Sông Hồng', site: 'demo-site', checkpoint: 'gate-a', device: 'demo-kiosk-01' } as const;
/** The organisation's list for the demo workers (their health states come from the roster import before it). */
function demoOrgList(now: number): string {
  const rows = [
    ['1', 'W0001', 'Nguyễn Văn An', '1990', 'Nam', 'Tổ cắt 1', '', '', '2'],
    ['2', 'W0002', 'Trần Thị Bình', '1992', 'Nữ', 'Tổ may 3', '', '', '3'],
    ['3', 'W0003', 'Lê Văn Cường', '1988', 'Nam', 'Kho', iso(now - DAY), 'Âm tính', '2'],
    ['4', 'W0004', 'Phạm Thị Dung', '1995', 'Nữ', 'Tổ may 3', iso(now - 6 * 3_600_000), 'Âm tính', '2'],
    ['5', 'W0005', 'Hoàng Văn Em', '1991', 'Nam', 'Tổ cắt 1', iso(now - 4 * 3_600_000), 'Dương tính', '2'],
    ['6', 'W0006', 'Vũ Thị Giang', '1996', 'Nữ', 'Tổ cắt 1', '', '', '2'],
    ['7', 'W0007', 'Đỗ Văn Hạnh', '1987', 'Nam', 'Kho', '', '', '2'],
    ['8', 'W0008', 'Bùi Thị Khánh', '1999', 'Nữ', 'Tổ cắt 1', '', '', '2'],
  ];
  return ['STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin', ...rows.map((r) => r.join(','))].join('\n');
}
/** The console the demo hub serves: its usual port, or any free one when that is taken. */
const DEMO_CONSOLE_PORT = 8480;

/**
 * The demo organisation, its site and gate, its worker list, and the demo kiosk placed at the gate.
 * Set up before the health side's roster import, which then gives these workers their health states
 * (an organisation's upload cannot take over a worker the province-wide list already holds).
 */
async function setUpDemoOrganisation(directory: HubDirectory, zone: string, now: number): Promise<void> {
  if (!(await directory.hasOrganisation(DEMO_ORG.id))) await directory.addOrganisation({ id: DEMO_ORG.id, name: DEMO_ORG.name, kind: 'company' }, now);
  if (!(await directory.registeredSites(DEMO_ORG.id)).some((s) => s.id === DEMO_ORG.site)) await directory.addSite({ id: DEMO_ORG.site, orgId: DEMO_ORG.id, name: 'Xưởng Demo' }, now);
  const registered = new Set((await directory.checkpoints(DEMO_ORG.site)).map((c) => c.id));
  if (!registered.has(DEMO_ORG.checkpoint)) await directory.addCheckpoint({ id: DEMO_ORG.checkpoint, siteId: DEMO_ORG.site, name: 'Cổng A', kind: 'gate' }, now);
  // The places of the demo's history (a bus, a zone, a canteen), for the console's Trace page.
  for (const p of DEMO_PLACES) if (!registered.has(p.id)) await directory.addCheckpoint({ id: p.id, siteId: DEMO_ORG.site, name: p.name, kind: p.kind, orgIds: [DEMO_ORG.id] }, now);
  const list = await parseWorkerList(Buffer.from(demoOrgList(now)), zone, now);
  // A demo folder from before organisations held these workers on the province-wide list: take them off it first.
  const stray: string[] = [];
  for (const w of list) if ((await directory.hubOnlyWorker(w.workerId)) === undefined) stray.push(w.workerId);
  if (stray.length) await directory.removeWorkers(stray);
  await directory.uploadWorkers(DEMO_ORG.id, list, { nowMs: now });
  await directory.placeDevices(DEMO_ORG.checkpoint, [DEMO_ORG.device], now);
}

/**
 * The demo hub's console: a demo organisation with a site, a gate and a worker list, and two demo
 * accounts (a province operator and the organisation's manager) whose passwords are made afresh at
 * each start and printed once. The console's accounts file is the demo's own and is started anew.
 */
async function startDemoConsole(
  dir: string,
  directory: HubDirectory,
  hubStore: SqliteHubStore,
  keys: { pass: string; phonePass: string },
  zone: string,
  alertBook: AlertBook,
): Promise<{ console: HubConsole; lines: string[] }> {
  const now = Date.now();
  const databasePath = join(dir, 'hub-console.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(databasePath + suffix, { force: true });
  const log = createLogger({ level: 'error' });
  const open = async (port: number) =>
    (await openHubConsole({
      settings: hubSettingsSchema.shape.console.parse({ port }),
      databasePath,
      directory,
      passKey: createPrivateKey(keys.pass),
      phonePassKey: createPrivateKey(keys.phonePass),
      issuer: 'demo-hub',
      store: hubStore,
      zone,
      alertBook,
      log,
    }))!;
  let hubConsole = await open(DEMO_CONSOLE_PORT);
  try {
    await hubConsole.start();
  } catch {
    hubConsole = await open(0);
    await hubConsole.start();
  }
  const accounts = [
    { name: 'demo-operator', role: 'operator' as const },
    { name: 'demo-manager', role: 'manager' as const, org: DEMO_ORG.id },
    { name: 'demo-health', role: 'health' as const },
  ];
  const lines = [`open ${hubConsole.server.url}/ in a browser on this machine (demo accounts, new passwords at each start)`];
  for (const a of accounts) {
    const password = randomBytes(12).toString('base64url');
    await hubConsole.store.addAccount({ ...a, password }, await hashPassword(password), now);
    const who = a.role === 'operator' ? 'province operator' : a.role === 'health' ? 'health officer: tracing' : `manager of ${DEMO_ORG.name}`;
    lines.push(`${a.name} / ${password}  (${who})`);
  }
  return { console: hubConsole, lines };
}

/**
 * The demo's history at the hub (two days at a bus, a zone and a canteen) and a trace of its case as a
 * health officer would start it, kept for the console's Trace page (once a day: a restart the same
 * day does not add another).
 */
async function traceDemoCase(directory: HubDirectory, hubStore: SqliteHubStore, hubConsole: HubConsole, zone: string, now: number): Promise<string> {
  for (const [device, events] of demoHistory(now, zone)) await hubStore.ingest(device, events, now);
  const today = now - (now % DAY);
  if (!(await hubConsole.traces.list()).some((t) => t.caseWorkerId === DEMO_CASE && t.startedMs >= today)) {
    const tracer = new Tracer({ store: hubStore, directory }, { resetHours: (await publishedResetHours(directory)) ?? DEFAULT_TRACE_OPTIONS.resetHours });
    const result = await tracer.trace({ workerId: DEMO_CASE, fromMs: now - 14 * DAY, toMs: now, secondDegree: true });
    await hubConsole.traces.save({ result, secondDegree: true, startedBy: 'demo-health', scopeOrgId: null, caseOrgId: DEMO_ORG.id });
  }
  return `Trace page: a trace of ${DEMO_CASE} (confirmed case) with its contacts on the bus, in the zone and at the canteen`;
}

/** The path the demo gateway answers on: its recipients are the demo's own, replaced at each start. */
const DEMO_GATEWAY_PATH = '/demo-sms-gateway';

/**
 * The demo's stand-in for the province's SMS or Zalo gateway: a webhook receiver on loopback that
 * checks each delivery's signature and says what it took (an alert id and category: no person).
 */
async function startDemoGateway(print: (line: string) => void): Promise<{ url: string; secret: string; close(): Promise<void> }> {
  const secret = randomBytes(32).toString('base64url');
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['x-safegate-timestamp'] ?? '');
      if (req.method !== 'POST' || req.url !== DEMO_GATEWAY_PATH || size > 64 * 1024 || req.headers['x-safegate-signature'] !== webhookSignature(secret, timestamp, body)) {
        res.writeHead(401).end();
        return;
      }
      const key = String(req.headers['idempotency-key'] ?? '');
      if (!seen.has(key)) {
        seen.add(key);
        try {
          const a = JSON.parse(body) as { alertId?: unknown; category?: unknown };
          print(`      [demo SMS gateway: alert ${String(a.alertId)} (${String(a.category)}) accepted; managers would get a text with its console link]\n`);
        } catch {
          // A signed body is the hub's own JSON; nothing to print otherwise.
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${DEMO_GATEWAY_PATH}`,
    secret,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The demo organisation is told through the demo gateway (an earlier start's gateway recipient goes). */
async function useDemoGateway(book: AlertBook, gateway: { url: string; secret: string }): Promise<void> {
  for (const r of await book.listRecipients(DEMO_ORG.id)) if (r.channel === 'webhook' && r.address.endsWith(DEMO_GATEWAY_PATH)) await book.removeRecipient(r.recipientId);
  await book.addRecipient({ orgId: DEMO_ORG.id, siteId: null, channel: 'webhook', address: gateway.url, secret: gateway.secret });
}

/**
 * This morning's alert, as the bus's kiosk sent it when the case (confirmed since) tried to board:
 * stored and raised exactly as the hub does on receipt, once a day.
 */
async function raiseDemoAlert(hubStore: SqliteHubStore, book: AlertBook, now: number): Promise<void> {
  const bus = DEMO_PLACES.find((p) => p.kind === 'bus')!;
  const alert: Alert = { v: PROTOCOL_VERSION, kind: 'confirmed-case-entry-attempt', seq: Math.floor(now / DAY) * 1_000 + 999, atMs: now - 2 * 3_600_000, checkpointId: bus.id, workerId: DEMO_CASE, reasons: ['CASE_F0'] };
  await hubStore.recordAlert(bus.device, alert, now, DEMO_ORG.id);
  await book.raise(kioskRaisedAlert(bus.device, alert, DEMO_ORG.id, DEMO_ORG.site), now);
}

/** Sets up a demo folder (keys, config, roster) once, prints demo passes, and runs the kiosk on stdin. */
export async function runDemo(dirArg: string, screens: ScreenMode = 'auto'): Promise<void> {
  const dir = resolve(dirArg);
  mkdirSync(dir, { recursive: true });
  const keysDir = join(dir, 'keys');
  const hubKeyDir = join(dir, 'hub-private');
  // One key per role: a pass key signs the demo passes, a downlink key what the hub sends down.
  const privateKey = (role: KeyRole): string => {
    const find = () => (existsSync(hubKeyDir) ? readdirSync(hubKeyDir).find((n) => n.startsWith(`hub-${role}-`) && n.endsWith('.key.pem')) : undefined);
    if (!find()) generateKeys(hubKeyDir, 'EdDSA', role);
    const name = find()!;
    const roleDir = join(keysDir, role);
    mkdirSync(roleDir, { recursive: true });
    // The kiosk trusts exactly the demo hub's current public key for this role.
    for (const old of readdirSync(roleDir)) rmSync(join(roleDir, old));
    const pub = name.replace(/\.key\.pem$/, '.pub.pem');
    writeFileSync(join(roleDir, pub), readFileSync(join(hubKeyDir, pub)));
    return readFileSync(join(hubKeyDir, name), 'utf8');
  };
  // A demo folder from before keys had roles: its loose keys and role-less key pair go.
  if (existsSync(keysDir)) for (const n of readdirSync(keysDir)) if (n.endsWith('.pub.pem')) rmSync(join(keysDir, n));
  if (existsSync(hubKeyDir)) for (const n of readdirSync(hubKeyDir)) if (/^hub-(?!pass-|downlink-)/.test(n)) rmSync(join(hubKeyDir, n));
  const privatePem = privateKey('pass');
  const downlinkPem = privateKey('downlink');
  const phonePassPem = privateKey('phone-pass');
  const configFile = join(dir, 'kiosk.yaml');
  if (!existsSync(configFile)) writeFileSync(configFile, demoConfig());
  // The embedded default: an in-process broker and reference hub on loopback, so the demo kiosk
  // syncs as a real one would. A real deployment points hub.broker at Mosquitto (see README).
  const now = Date.now();
  // The hub publishes the roster and a notice; the kiosk downloads them, signed, like a real one.
  // The demo's directory is always its own SQLite file (the embedded default), DATABASE_URL or not.
  const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir, 'hub-directory.db') });
  await setUpDemoOrganisation(directory, loadSettings(configFile).settings.time.zone, now);
  await directory.importRoster(parseRosterCsv(demoRosterCsv(now)), true);
  await directory.publishNotice({
    id: 'demo-mask',
    vi: 'Đeo khẩu trang và khai báo y tế trước khi vào ca.',
    en: 'Wear a mask and make your health declaration before your shift.',
    priority: 'important',
    startsAtMs: now - 60_000,
    expiresAtMs: now + 7 * DAY,
  });
  const broker = new EmbeddedBroker();
  await broker.start();
  const hubStore = new SqliteHubStore(join(dir, 'hub.db'));
  const alertBook = new AlertBook({ sql: directory.sql });
  const hub = new Hub(
    {
      broker: { url: broker.url, protocolVersion: 4 },
      clientId: 'demo-hub',
      sharedSubscription: false,
      downlink: { directory, signingKey: createPrivateKey(downlinkPem) },
      alerts: { book: alertBook, directory },
    },
    hubStore,
    createLogger({ level: 'error' }),
  );
  hub.on('alert', (deviceId, a) => process.stdout.write(`      [hub: alert for managers: ${a.kind} at ${a.checkpointId} (${deviceId}, event #${a.seq})]\n`));
  await hub.start();
  const loaded = { ...loadSettings(configFile), broker: { url: broker.url, protocolVersion: 4 as const } };
  const demoConsole = await startDemoConsole(dir, directory, hubStore, { pass: privatePem, phonePass: phonePassPem }, loaded.settings.time.zone, alertBook);
  const traceLine = await traceDemoCase(directory, hubStore, demoConsole.console, loaded.settings.time.zone, now);
  // Alerts reach people: the demo's stand-in for the province's SMS gateway takes them by signed webhook.
  const gateway = await startDemoGateway((line) => process.stdout.write(line));
  await useDemoGateway(alertBook, gateway);
  const dispatcher = new Dispatcher({
    book: alertBook,
    mailer: createMailer(undefined, 'safegate-demo@localhost'),
    consoleUrl: demoConsole.console.server.url,
    zone: loaded.settings.time.zone,
    retryFirstMs: 2_000,
    retryMaxMs: 30_000,
  });
  await raiseDemoAlert(hubStore, alertBook, now);
  dispatcher.start();

  const out = process.stdout;
  const kiosk = new Kiosk(loaded, {
    // The demo's screens (when shown) take declarations like a real kiosk's; --screens none is a unit without one.
    headless: screens === 'none',
    screens,
    log: createLogger({ level: loaded.settings.log.level }),
    // Show the simulated gate: the relay is what a real turnstile would do.
    onTransition: (t) => {
      if (t.output === 'relay') out.write(`      [simulated gate relay ${t.active ? 'OPEN' : 'closed'}]\n`);
    },
  });

  const pass = (workerId: string, expiresAt: number, issuedAt = now - 60_000) =>
    issuePass(privatePem, { workerId, issuer: 'demo-hub', expiresAt: new Date(expiresAt), issuedAt: new Date(issuedAt) });
  const samples: [string, string][] = [
    ['allowed (Nguyễn Văn An)', pass('W0001', now + 30 * DAY)],
    ['expired pass', pass('W0001', now - DAY, now - 40 * DAY)],
    ['F1 without a recent test (Trần Thị Bình)', pass('W0002', now + 30 * DAY)],
    ['quarantined (Lê Văn Cường)', pass('W0003', now + 30 * DAY)],
    ['F1 with a negative test (Phạm Thị Dung)', pass('W0004', now + 30 * DAY)],
    ['unknown worker', pass('W9999', now + 30 * DAY)],
    ['confirmed case (Hoàng Văn Em): refused, and an alert reaches the managers', pass(DEMO_CASE, now + 30 * DAY)],
    ['printed badge (refused at a factory gate)', 'W0001'],
  ];
  out.write(`\nSafeGate demo in ${dir}\nCheckpoint "${loaded.settings.checkpoint.name}" (${loaded.settings.checkpoint.kind}, ${loaded.settings.checkpoint.direction}).\n`);
  out.write('Paste one of these codes and press Enter (Ctrl+C to stop):\n\n');
  for (const [label, text] of samples) out.write(`  ${label}:\n    ${text}\n`);
  out.write('\n');

  kiosk.gatekeeper.on('passage', (p) => {
    const who = p.displayName ? ` — ${p.displayName}` : '';
    if (p.decision.outcome === 'repeat') {
      out.write(`  (same code again within the repeat window: one event)\n`);
    } else if (p.decision.outcome === 'allow') {
      out.write(`  ✔ MỜI VÀO / ALLOWED (${p.decision.direction})${who}   [event #${p.seq}]\n`);
    } else {
      out.write(`  ✘ DỪNG LẠI / DENIED (${p.decision.direction})${who}   [event #${p.seq ?? 'held'}]\n`);
      for (const r of p.decision.reasons) out.write(`      - ${DENY_REASONS[r].vi} / ${DENY_REASONS[r].en}\n`);
    }
  });
  kiosk.scanner?.on('rejected', (r) => out.write(`  ✘ input rejected: ${r.detail}\n`));
  kiosk.uplink?.on('acked', (ack) => out.write(`      [synced to the hub up to event #${ack.lastSeq}; outbox now ${kiosk.events.outboxDepth().count}]\n`));
  kiosk.uplink?.on('state', (state) => out.write(`      [hub link ${state}]\n`));
  // The same roster as the hub's, so the first scans work even before the hub's copy arrives.
  kiosk.roster.upsertAll(parseRosterCsv(demoRosterCsv(now)), { replace: true });
  kiosk.start();
  // The demo supervisor has the demo PIN on every run (an older demo folder's PIN is replaced, its lockout cleared).
  if (kiosk.supervisor.accountList().some((a) => a.id === DEMO_SUPERVISOR.id)) await kiosk.supervisor.setSupervisorPin(DEMO_SUPERVISOR.id, DEMO_SUPERVISOR.pin);
  else await kiosk.supervisor.addSupervisor(DEMO_SUPERVISOR);
  let launcher: ScreenLauncher | undefined;
  const passesFile = join(dir, 'passes.html');
  let screensLines: string[] = ['none (--screens none): the simulated scanner below still decides and logs every scan'];
  let passesUrl: string | undefined;
  if (screens !== 'none') {
    const page = await demoPassPage(samples, loaded.settings.checkpoint.name);
    writeFileSync(passesFile, page);
    const server = await kiosk.startScreens({ pages: { '/demo/passes.html': () => page } });
    passesUrl = `${server.origin}/demo/passes.html`;
    const notes: string[] = [];
    launcher = new ScreenLauncher(server, screens, kiosk.log.child({ ns: 'screens' }), (l) => notes.push(l), { exportsDir: kiosk.exportsDir });
    launcher.start();
    screensLines = screensBlockLines(launcher.shown, server.screenUrl, notes);
  }
  // Wait (briefly) for the roster from the hub, then say what the kiosk holds.
  for (let i = 0; i < 50 && kiosk.downlinkState.cursor('roster').checkedAt === null; i++) await new Promise((r) => setTimeout(r, 100));
  out.write(`  [roster from the hub: ${kiosk.roster.count()} workers]\n`);
  for (const n of kiosk.notices.current(Date.now())) out.write(`  [notice] ${n.vi}${n.en ? ` / ${n.en}` : ''}\n`);
  out.write(
    firstRunBlock({
      screens: screensLines,
      supervisor: `${DEMO_SUPERVISOR.name}, PIN ${DEMO_SUPERVISOR.pin} (hold the supervisor button on the screen for 2 seconds to open the supervisor screen)`,
      passes: [`${passesFile}: print it, or show it to the camera on a phone`, ...(passesUrl ? [`also at ${passesUrl}`] : [])],
      scan: 'paste one of the codes above into this terminal and press Enter; Ctrl+C stops the demo',
      console: [...demoConsole.lines, traceLine, `Alerts page: this morning's alert (the case tried to board bus 07), delivered by signed webhook to the demo's stand-in SMS gateway at ${gateway.url}`],
    }),
  );
  await waitForShutdown(kiosk, () => launcher?.stop());
  await dispatcher.stop();
  await gateway.close();
  await demoConsole.console.stop();
  await hub.stop();
  await directory.close();
  await hubStore.close();
  await broker.stop();

}
