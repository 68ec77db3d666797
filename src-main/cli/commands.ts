import { createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadSettings, settingsJsonSchema } from '../core/config.js';
import { HubKeyring, generateSigningKeyPair, keyIdFileName, type SigningAlgorithm } from '../../base/node/keys.js';
import { KEY_ROLES, type KeyRole } from '../../base/common/key-roles.js';
import { checkPass, issuePass } from '../../base/node/pass.js';
import { Kiosk } from '../app/kiosk.js';
import { DENY_REASONS } from '../../base/common/reasons.js';
import { openStore } from '../core/store/database.js';
import { EventLog } from '../core/store/event-log.js';
import type { GateEvent } from '../../base/common/types.js';
import { Roster, parseRosterCsv } from '../core/store/roster.js';
import { CliError, parseIsoTime, readInputFile } from './errors.js';
import { readStatus, type KioskStatus } from '../core/status.js';
import { runtimeFiles } from '../core/runtime.js';
import type { DecoderName } from '../../device/camera/decoder.js';
import { ScreenLauncher, type ScreenMode } from './screens-launcher.js';

export async function runKiosk(configFile: string, headless: boolean, show?: ScreenMode): Promise<void> {
  const kiosk = new Kiosk(loadSettings(configFile), { headless });
  kiosk.start();
  const mode = headless ? 'none' : (show ?? kiosk.settings.screens.show);
  let launcher: ScreenLauncher | undefined;
  if (mode !== 'none') {
    const server = await kiosk.startScreens();
    launcher = new ScreenLauncher(server, mode, kiosk.log.child({ ns: 'screens' }), undefined, { exportsDir: kiosk.exportsDir });
    launcher.start();
  }
  await waitForShutdown(kiosk, () => launcher?.stop());
}

/** `safegate decode`: one line per image, the file name, a tab, then the text or the error. */
export async function decodeImages(files: string[], decoderName: DecoderName): Promise<{ lines: string[]; failures: number }> {
  // Loaded here only: the decoders are large and `safegate run` never needs them in Node.
  const { createNodeDecoder, readImageFrame } = await import('../core/decoders.js');
  const decoder = await createNodeDecoder(decoderName);
  const lines: string[] = [];
  let failures = 0;
  for (const file of files) {
    let text: string;
    try {
      if (!existsSync(file)) throw new Error('no such file');
      const texts = await decoder.decode(await readImageFrame(file));
      if (texts.length) text = texts.join(' | ');
      else {
        failures++;
        text = 'error: no QR code found';
      }
    } catch (err) {
      failures++;
      const message = (err as Error).message.split('\n')[0] ?? String(err);
      text = `error: ${/unsupported image format|Input file is missing/i.test(message) ? 'not a readable image' : message}`;
    }
    lines.push(`${file}\t${text.replace(/[\t\r\n]/g, ' ')}`);
  }
  return { lines, failures };
}

/** Runs until SIGINT/SIGTERM, or until a simulated (stdin) scanner's input ends; then stops cleanly. */
export async function waitForShutdown(kiosk: Kiosk, beforeStop?: () => Promise<void> | undefined): Promise<void> {
  // The kiosk runs until told to stop, even with nothing else to wait for (no scanner, no hub).
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  await new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      kiosk.log.info({ why }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearInterval(keepAlive);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (kiosk.scanner?.source === 'stdin') {
      // The input may already have ended (a short pipe) before we got here.
      if (kiosk.scanner.state === 'stopped') stop('input ended');
      kiosk.scanner.on('state', (state, detail) => {
        if (state === 'stopped') stop(detail ?? 'scanner stopped');
      });
    }
  });
  await beforeStop?.();
  const { unwritten, lost } = await kiosk.stop();
  // Never a quiet exit with events unwritten: 75 (temporary failure) when they wait in RAM for the
  // next start, 70 (internal error) when they could be kept nowhere.
  if (lost > 0) process.exitCode = 70;
  else if (unwritten > 0) process.exitCode = 75;
}

export function generateKeys(outDir: string, algorithm: SigningAlgorithm, role: KeyRole): string {
  const pair = generateSigningKeyPair(algorithm);
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const base = `hub-${role}-${keyIdFileName(pair.kid)}`;
  const privateFile = join(outDir, `${base}.key.pem`);
  const publicFile = join(outDir, `${base}.pub.pem`);
  try {
    // 'wx': never overwrite a key; the mode applies from creation, so the key is never readable by others.
    writeFileSync(privateFile, pair.privatePem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${privateFile} already exists`);
    throw err;
  }
  chmodSync(privateFile, 0o600);
  writeFileSync(publicFile, pair.publicPem, { mode: 0o644 });
  return [
    `role:      ${role} (${KEY_ROLES[role].description})`,
    `algorithm: ${pair.algorithm}`,
    `key id:    ${pair.kid}`,
    `private:   ${privateFile}  (keep on the hub only)`,
    `public:    ${publicFile}  (copy to each kiosk's keys/${role}/ folder)`,
  ].join('\n');
}

export function issuePassText(keyFile: string, workerId: string, expires: string | undefined, issuer: string): string {
  const pem = readInputFile(keyFile);
  let key;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new CliError(`${keyFile} is not a private key in PEM form`);
  }
  const expiresAt = expires ? parseIsoTime(expires, '--expires') : new Date(Date.now() + 365 * 86_400_000);
  if (expiresAt.getTime() <= Date.now()) throw new CliError('--expires is in the past');
  try {
    return issuePass(key, { workerId, issuer, expiresAt });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export function explainPass(text: string, keysDir: string, at: string | undefined): { ok: boolean; report: string } {
  const nowMs = at ? parseIsoTime(at, '--at').getTime() : Date.now();
  let keyring: HubKeyring;
  try {
    // A kiosk's keys folder (keys/pass/, keys/downlink/), or a folder holding pass public keys.
    keyring = existsSync(join(keysDir, 'pass')) || existsSync(join(keysDir, 'downlink')) ? HubKeyring.fromDirectory(keysDir) : new HubKeyring().addFolder(keysDir, 'pass');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const check = checkPass(text.trim(), keyring, nowMs);
  const lines: string[] = [];
  const claims = check.ok ? check.pass.claims : check.claims;
  const kid = check.ok ? check.pass.kid : check.kid;
  const known = kid ? keyring.lookup(kid) : undefined;
  if (kid) lines.push(`key id:     ${kid}${known ? ` (${known.role} key: ${known.source})` : ' (not trusted)'}`);
  if (claims) {
    lines.push(`worker:     ${claims.workerId}`, `issuer:     ${claims.issuer}`);
    if (claims.passId) lines.push(`pass id:    ${claims.passId}`);
    lines.push(`issued:     ${new Date(claims.issuedAt * 1000).toISOString()}`);
    lines.push(`expires:    ${new Date(claims.expiresAt * 1000).toISOString()}`);
  }
  if (check.ok) {
    lines.push('result:     VALID (signature verified, within its validity period)');
  } else {
    const words = DENY_REASONS[check.failure];
    lines.push(`result:     INVALID ${check.failure}: ${words.en} (${check.detail})`, `            ${words.vi}`);
  }
  return { ok: check.ok, report: lines.join('\n') };
}

export function importRoster(csvFile: string, configFile: string, replace: boolean): string {
  const loaded = loadSettings(configFile);
  const content = readInputFile(csvFile);
  const records = parseRosterCsv(content, loaded.settings.time.zone);
  const db = openStore(loaded.paths.store, { busyTimeoutMs: 5_000 });
  try {
    const roster = new Roster(db);
    roster.upsertAll(records, { replace });
    return `imported ${records.length} worker(s)${replace ? ' (roster replaced)' : ''}; roster now holds ${roster.count()}`;
  } finally {
    db.close();
  }
}

export function* readLog(configFile: string, since: string | undefined): Generator<GateEvent> {
  const loaded = loadSettings(configFile);
  const sinceMs = since ? parseIsoTime(since, '--since', loaded.settings.time.zone).getTime() : 0;
  if (!existsSync(loaded.paths.store)) throw new CliError(`no event log yet at ${loaded.paths.store}`);
  const db = openStore(loaded.paths.store, { readonly: true });
  try {
    yield* new EventLog(db).since(sinceMs);
  } finally {
    db.close();
  }
}

export function formatEventLine(e: GateEvent): string {
  const who = e.workerId ?? `#${e.codeHash?.slice(0, 8) ?? '?'}`;
  const when = new Date(e.wallMs).toISOString() + (e.clockSynced ? '' : '?');
  return [String(e.seq).padStart(7), when, e.direction.padEnd(5), e.decision.toUpperCase().padEnd(5), who.padEnd(16), e.reasons.join(',')]
    .join('  ')
    .trimEnd();
}

export function configSchemaText(): string {
  return JSON.stringify(settingsJsonSchema(), null, 2);
}

/** `safegate status`: outbox, data ages and notices, from the database (works beside a running kiosk). */
export function statusOf(configFile: string): KioskStatus {
  const loaded = loadSettings(configFile);
  if (!existsSync(loaded.paths.store)) throw new CliError(`no kiosk database yet at ${loaded.paths.store}`);
  const db = openStore(loaded.paths.store, { readonly: true });
  try {
    return readStatus(db, loaded.settings, Date.now(), runtimeFiles(loaded.paths.store), dirname(loaded.paths.store));
  } finally {
    db.close();
  }
}

export function formatStatus(s: KioskStatus): string {
  const age = (a: number | null) => (a === null ? 'never confirmed by the hub' : `confirmed ${a} s ago`);
  const mb = (b: number | null) => (b === null ? 'unknown' : `${Math.round(b / 1024 / 1024)} MB`);
  return [
    `device ${s.device}, checkpoint ${s.checkpoint.name} (${s.checkpoint.kind}, ${s.checkpoint.direction})${s.syncs ? '' : ', standalone (no hub)'}`,
    s.running ? `kiosk running (pid ${s.running.pid}), hub link ${s.running.link}` : 'kiosk not running',
    `disk: ${mb(s.disk.freeBytes)} free${s.disk.level === 'ok' ? '' : ` (${s.disk.level.toUpperCase()}${s.disk.reserveInUse ? ': the reserve is in use' : ''})`}`,
    `events waiting to be written: ${s.heldEvents.inMemory} in memory, ${s.heldEvents.keptForNextStart} kept for the next start`,
    `outbox: ${s.outbox.depth} event(s) not yet at the hub${s.outbox.oldestUnsyncedAgeS === null ? '' : `, oldest ${s.outbox.oldestUnsyncedAgeS} s`}; ${s.outbox.unsentAlerts} alert(s) unsent`,
    `roster: ${s.roster.workers} worker(s)`,
    ...Object.entries(s.data).map(([k, d]) => `${k}: revision ${d.revision}, ${age(d.ageS)}`),
    `notices in force: ${s.notices.length}`,
  ].join('\n');
}
