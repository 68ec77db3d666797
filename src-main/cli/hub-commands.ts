import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { HubRetention } from '../../sync/hub/retention.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { EnrolmentBook } from '../../sync/hub/fleet/enrolment-book.js';
import { fleetDevices } from '../../sync/hub/fleet/fleet-devices.js';
import { RevocationMarks } from '../../sync/hub/fleet/revocation-marks.js';
import { revokeDevice, RevokedDevices, type CutOffResult } from '../../sync/hub/fleet/revocation.js';
import { HubPki } from '../../sync/hub/fleet/pki.js';
import { parseRosterCsv } from '../core/store/roster.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { PgHubStore } from '../../sync/hub/pg-store.js';
import { SqliteHubStore, type HubStore } from '../../sync/hub/store.js';
import { createLogger } from '../../base/node/logger.js';
import { ServiceNotifier } from '../../base/node/sd-notify.js';
import { openHubConsole } from '../../console/server/hub-console.js';
import { hubHealthProbe } from '../../console/server/health-routes.js';
import { openAlertService } from '../../sync/hub/notify/alert-service.js';
import { reportRecipientsOf, ReportScheduler } from '../../sync/hub/reports/scheduler.js';
import { CliError, parseIsoTime, readInputFile } from './errors.js';
import type { KeyRole } from '../../base/common/key-roles.js';
import { DEVICE_ID_PATTERN, DEVICE_ID_RULE, IDENTIFIER_PATTERN, IDENTIFIER_RULE, isWorkerId } from '../../base/common/ids.js';

/** PostgreSQL when DATABASE_URL is set, otherwise the SQLite file from the settings. */
async function openHubStore(storePath: string): Promise<HubStore> {
  const url = process.env.DATABASE_URL;
  return url ? PgHubStore.open(url) : new SqliteHubStore(storePath);
}

/** `safegate hub run`: the reference hub until SIGINT/SIGTERM. */
export async function runHub(configFile: string): Promise<void> {
  const loaded = loadHubSettings(configFile);
  // The keys first: a hub whose settings give one key two roles does not start at all.
  const passKey = loaded.passKeyPath ? readPassKey(loaded.passKeyPath) : undefined;
  const phonePassKey = loaded.phonePassKeyPath ? readPassKey(loaded.phonePassKeyPath, 'phonePassKey') : undefined;
  refuseSharedPassKey(passKey, phonePassKey);
  const log = createLogger({ level: loaded.settings.log.level }).child({ ns: 'hub' });
  // systemd (H7): watchdog pings from here on, READY=1 once the hub is online, STOPPING=1 on the way out.
  const service = new ServiceNotifier({ log: log.child({ ns: 'hub:systemd' }) });
  service.start();
  const store = await openHubStore(loaded.storePath);
  log.info({ store: process.env.DATABASE_URL ? 'postgresql' : loaded.storePath }, 'hub store open');
  const signingKey = loaded.signingKeyPath ? readSigningKey(loaded.signingKeyPath) : undefined;
  // The directory also holds the site map the live site stream is relayed by, signing key or not.
  // One handle for the whole process: the pass registry, phone links, declarations, visits, exports
  // and the console all work on its database (PostgreSQL with DATABASE_URL, else the SQLite file).
  const directory = await HubDirectory.open(directoryTarget(loaded));
  log.info({ directory: directory.sql.dialect === 'postgres' ? 'postgresql' : loaded.directoryPath }, 'hub directory open');
  if (!signingKey) log.warn('no signingKey in the hub settings: nothing signed is sent down to kiosks (the live site stream still runs)');
  const siteStream = loaded.settings.siteStream;
  // Alerts that reach people: the book (every kiosk alert raised before it is acknowledged), e-mail, webhooks, the hub's own alerts.
  const alerts = openAlertService({ loaded, directory, store, log: log.child({ ns: 'hub:alerts' }) });
  // Revoked devices: their messages dropped, and cut off at the broker over this process's link.
  const fleetBook = new EnrolmentBook(directory.sql);
  const revocationMarks = new RevocationMarks(directory.sql);
  const revoked: RevokedDevices = new RevokedDevices({
    listRevoked: () => revocationMarks.list(),
    enforce: (ids): Promise<CutOffResult> => hub.cutOff(ids),
    // `safegate hub devices revoke` waits for this rather than signing in to the broker as this hub.
    confirmCutOff: (marks) => revocationMarks.confirmCutOff(marks, Date.now()),
    linkUpSinceMs: () => hub.linkUpSinceMs(),
    refreshMs: loaded.settings.fleet.revokedRefreshSeconds * 1000,
    log: log.child({ ns: 'hub:fleet' }),
  });
  const hub: Hub = new Hub(
    {
      broker: loaded.broker,
      clientId: loaded.settings.id,
      sharedSubscription: loaded.settings.sharedSubscription,
      ...(signingKey ? { downlink: { directory, signingKey } } : {}),
      declarations: { directory, zone: loaded.settings.time.zone },
      siteStream: { sites: directory, beatMs: siteStream.beatMs, maxAgeMs: siteStream.maxAgeHours * 3_600_000 },
      alerts: { book: alerts.book, directory },
      revoked,
    },
    store,
    log,
  );
  // The console is served before the broker is reached: an operator can look while the link comes up.
  const hubConsole = await openHubConsole({
    settings: loaded.settings.console,
    databasePath: loaded.consoleDatabasePath,
    databaseUrl: process.env.DATABASE_URL,
    directory,
    alertBook: alerts.book,
    ...(passKey ? { passKey } : {}),
    ...(phonePassKey ? { phonePassKey } : {}),
    ...(loaded.checkpointCodeKeyPath ? { checkpointCodeKey: readPassKey(loaded.checkpointCodeKeyPath, 'checkpointCodeKey') } : {}),
    // Kiosks sign the exports they send with their MQTT client certificates, issued by the broker's CA.
    deviceCaPem: loaded.broker.ca ? readFileSync(loaded.broker.ca) : undefined,
    issuer: loaded.settings.id,
    store,
    zone: loaded.settings.time.zone,
    trace: loaded.settings.trace,
    silentKioskMs: loaded.settings.alerts.silentKioskMinutes * 60_000,
    fleet: {
      book: fleetBook,
      // As `safegate hub devices revoke`, but cut off over this process's own broker link.
      revoke: async (deviceId) => {
        const report = await revokeDevice(deviceId, {
          // Any device the hub knows (enrolled, placed or heard from): one provisioned by hand is denied and refused too.
          markRevoked: async (id, atMs) =>
            (await fleetDevices({ book: fleetBook, directory, store, nowMs: atMs, silentAfterMs: 0, only: new Set([id]) })).length ? revocationMarks.mark(id, atMs) : ('unknown' as const),
          writeCrl: () => revocationMarks.writeCrl((entries) => HubPki.open(loaded.pkiDir, { deviceCertDays: loaded.settings.pki.deviceCertDays }).writeCrl(entries)),
          cutOff: (ids) => hub.cutOff(ids),
        });
        await revoked.refresh();
        return report;
      },
    },
    log: log.child({ ns: 'hub:console' }),
    // A phone's health declaration reaches the worker's kiosks at once (time and flag only).
    onDeclaration: (r) => hub.relayDeclaration(r.sites, r),
    // GET /healthz for monitoring: both databases answer and the broker link is up.
    health: hubHealthProbe({ store, directory, brokerLinkUp: () => hub.linkUpSinceMs() !== undefined, log: log.child({ ns: 'hub:health' }) }),
  });
  await hubConsole?.start();
  // The enrolment endpoint (enrol.enabled): kiosks enrol with the one-time codes of `safegate hub enrol create`.
  const enrolServer = await (await import('./fleet-hub-commands.js')).startEnrolmentEndpoint({ loaded, directory, signingKey, passKey, phonePassKey, log: log.child({ ns: 'hub:enrol' }) });
  hub.on('ingested', (deviceId, r) =>
    log.info({ deviceId, batchId: r.batchId, inserted: r.inserted, duplicates: r.duplicates, contiguousSeq: r.contiguousSeq, gaps: r.gaps.length }, 'batch stored'),
  );
  void service.status('waiting for the broker');
  // The marks before the first message, the broker cut-off once the link is up (retried at each refresh).
  await revoked.start();
  await hub.start();
  alerts.start({ linkUpSinceMs: () => hub.linkUpSinceMs() });
  // Reports on their schedule (province time), e-mailed through the alerts' mailer to their e-mail recipients.
  const r = loaded.settings.reports;
  const reports = r.schedule
    ? new ReportScheduler({ directory, store, zone: loaded.settings.time.zone, silentAfterMs: loaded.settings.alerts.silentKioskMinutes * 60_000, mailer: alerts.mailer, recipients: reportRecipientsOf(alerts.book), consoleUrl: loaded.settings.alerts.consoleUrl, summaryTime: r.summaryTime, labourListTime: r.labourListTime, log: log.child({ ns: 'hub:reports' }) })
    : undefined;
  reports?.start();
  // Personal data is kept only as long as the province's retention says (Decree 13/2023).
  // Expired passes leave the pass registry after the same retention.
  const passRegistry = new PassRegistry({ sql: directory.sql });
  const retention = new HubRetention({ store, passes: passRegistry, ...(hubConsole?.exports ? { exports: hubConsole.exports } : {}), ...(hubConsole?.declarations ? { declarations: hubConsole.declarations } : {}), ...(hubConsole?.visits ? { visits: hubConsole.visits } : {}), ...(hubConsole ? { traces: hubConsole.traces } : {}), alerts: alerts.book, retentionDays: loaded.settings.retentionDays, log });
  await retention.start();
  void service.ready(`hub ${loaded.settings.id} online`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  void service.stopping('shutting down');
  await retention.stop();
  await reports?.stop();
  await alerts.stop();
  await enrolServer?.stop();
  await hubConsole?.stop();
  await revoked.stop();
  await hub.stop();
  await store.close();
  // Last: the hub's downlink and the console worked on it until they stopped.
  await directory.close();
  await service.stop();
}

function readPassKey(file: string, setting = 'passKey'): KeyObject {
  try {
    return createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new CliError(`${setting} ${file}: not a readable private key (${(err as Error).message})`);
  }
}

/**
 * The printed-pass key and the phone-pass key must be two keys: kiosks trust each for one kind of
 * pass only (a phone code must carry a phone-pass signature), and one key in both roles undoes that.
 * Compared by their public halves, so two files (or two encodings) of one key are caught.
 */
export function refuseSharedPassKey(passKey: KeyObject | undefined, phonePassKey: KeyObject | undefined): void {
  if (!passKey || !phonePassKey) return;
  const spki = (k: KeyObject) => createPublicKey(k).export({ type: 'spki', format: 'der' });
  if (spki(passKey).equals(spki(phonePassKey))) {
    throw new CliError('passKey and phonePassKey are the same key: the hub needs two keys (make the phone pass key with `safegate keys generate --role phone-pass`)');
  }
}

function readSigningKey(file: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new CliError(`signingKey ${file}: not a readable private key (${(err as Error).message})`);
  }
}

/**
 * Opens the hub's directory for one operator command and closes it again; a refusal (bad input, a
 * notice or policy the kiosks would reject) becomes a one-line CLI error.
 */
async function withDirectory<T>(configFile: string, act: (d: HubDirectory) => Promise<T>, reason = (message: string) => message.replace(/\s+/g, ' ')): Promise<T> {
  const directory = await HubDirectory.open(directoryTarget(loadHubSettings(configFile)));
  try {
    return await act(directory);
  } catch (err) {
    throw new CliError(reason((err as Error).message), { cause: err });
  } finally {
    await directory.close();
  }
}

/** `safegate hub roster import`: the roster kiosks download (all rows or none). */
export async function importHubRoster(csvFile: string, configFile: string, replace: boolean): Promise<string> {
  const { settings } = loadHubSettings(configFile);
  const records = parseRosterCsv(readInputFile(csvFile), settings.time.zone);
  return withDirectory(configFile, async (d) => {
    const r = await d.importRoster(records, replace);
    return `roster revision ${r.rev}: ${r.changed} worker(s) added or changed, ${r.removed} removed; kiosks download the changes`;
  });
}

/** `safegate hub roster remove`: workers leave the roster; the hub keeps no record of them but a tombstone. */
export async function removeHubWorkers(configFile: string, workerIds: string[]): Promise<string> {
  for (const id of workerIds) if (!isWorkerId(id)) throw new CliError(`worker id ${JSON.stringify(id)}: ${IDENTIFIER_RULE}`, 2);
  return withDirectory(configFile, async (d) => {
    const r = await d.removeWorkers(workerIds);
    return `${r.removed} worker(s) removed (roster revision ${r.rev}); kiosks drop them at their next download`;
  });
}

/** `safegate hub events`: what the hub has ingested, as JSON lines. */
export async function printHubEvents(configFile: string, options: { device?: string; since?: string }): Promise<void> {
  const loaded = loadHubSettings(configFile);
  const store = await openHubStore(loaded.storePath);
  try {
    const filter = { deviceId: options.device, sinceMs: options.since ? parseIsoTime(options.since, '--since', loaded.settings.time.zone).getTime() : 0 };
    for await (const e of store.events(filter)) process.stdout.write(`${JSON.stringify(e)}\n`);
  } finally {
    await store.close();
  }
}

/** `safegate hub notice publish`: a government notice kiosks show until it expires. */
export async function publishHubNotice(
  configFile: string,
  o: { id?: string; vi: string; en?: string; priority: 'info' | 'important' | 'urgent'; starts?: string; expires: string },
): Promise<string> {
  const { zone } = loadHubSettings(configFile).settings.time;
  const startsAtMs = o.starts ? parseIsoTime(o.starts, '--starts', zone).getTime() : Date.now();
  const expiresAtMs = parseIsoTime(o.expires, '--expires', zone).getTime();
  if (expiresAtMs <= Date.now()) throw new CliError('--expires is in the past');
  const id = o.id ?? `notice-${new Date(startsAtMs).toISOString().replace(/[-:]/g, '').slice(0, 15)}-${Math.random().toString(36).slice(2, 6)}`;
  return withDirectory(configFile, async (d) => {
    const rev = await d.publishNotice({ id, vi: o.vi, en: o.en ?? null, priority: o.priority, startsAtMs, expiresAtMs });
    return `notice ${id} published (notices revision ${rev}); kiosks show it until ${new Date(expiresAtMs).toISOString()}`;
  });
}

export async function withdrawHubNotice(configFile: string, id: string): Promise<string> {
  return withDirectory(configFile, async (d) => `notice ${id} withdrawn (notices revision ${await d.withdrawNotice(id)})`);
}

export async function revokeHubPass(configFile: string, passId: string): Promise<string> {
  return withDirectory(
    configFile,
    async (d) => `pass ${passId} revoked (revocations revision ${await d.revokePass(passId)}); kiosks refuse it after their next download`,
    (m) => `pass id: expected 16 hex digits as shown by \`safegate pass verify\` (${m.split('\n')[0]})`,
  );
}

export async function publishHubPolicy(configFile: string, policyFile: string): Promise<string> {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(policyFile, 'utf8'));
  } catch (err) {
    throw new CliError(`${policyFile}: ${(err as Error).message}`);
  }
  return withDirectory(
    configFile,
    async (d) => `policy published (policy revision ${await d.publishPolicy(document)}); kiosks apply it after their next download`,
    (m) => m.replace(/\s+/g, ' ').slice(0, 500),
  );
}

export async function publishHubKey(configFile: string, publicKeyFile: string, role: KeyRole, notAfter?: string): Promise<string> {
  const pem = readInputFile(publicKeyFile);
  const { zone } = loadHubSettings(configFile).settings.time;
  const notAfterMs = notAfter ? parseIsoTime(notAfter, '--not-after', zone).getTime() : undefined;
  return withDirectory(
    configFile,
    async (d) => {
      const { kid, rev } = await d.publishKey(pem.toString('utf8'), role, notAfterMs);
      return `${role} key ${kid} published (keys revision ${rev}); kiosks trust it after their next download, signed by a downlink key they have installed`;
    },
    (m) => `${publicKeyFile}: ${m.split('\n')[0]}`,
  );
}

export async function retireHubKey(configFile: string, kid: string): Promise<string> {
  return withDirectory(configFile, async (d) => `key ${kid} retired (keys revision ${await d.retireKey(kid)})`);
}

/** `safegate hub device assign`: devices join a site and hear its live stream (moved from another site if need be). */
export async function assignHubDevices(configFile: string, siteId: string, deviceIds: string[]): Promise<string> {
  if (!IDENTIFIER_PATTERN.test(siteId)) throw new CliError(`site id ${JSON.stringify(siteId)}: ${IDENTIFIER_RULE}`, 2);
  for (const id of deviceIds) if (!DEVICE_ID_PATTERN.test(id)) throw new CliError(`device id ${JSON.stringify(id)}: ${DEVICE_ID_RULE}`, 2);
  return withDirectory(configFile, async (d) => {
    const changed = await d.assignSite(siteId, deviceIds);
    return `${changed} device(s) moved into site ${siteId} (${(await d.siteMembers(siteId)).length} in all); they share the live site stream from the next passage`;
  });
}

/** `safegate hub device unassign`: devices leave their site and hear no site stream. */
export async function unassignHubDevices(configFile: string, deviceIds: string[]): Promise<string> {
  return withDirectory(configFile, async (d) => `${await d.unassignSite(deviceIds)} device(s) taken out of their site`);
}

/** `safegate hub device list`: each site and its devices, one site a line. */
export async function listHubDevices(configFile: string): Promise<string> {
  return withDirectory(configFile, async (d) => {
    const lines = [...(await d.sites())].map(([site, devices]) => `${site}\t${devices.join(' ')}`);
    return lines.length ? lines.join('\n') : 'no device is in a site';
  });
}

/** What `safegate hub dcc trust import` changed (its --json form). */
export interface DccTrustImportSummary {
  revision: number;
  signers: number;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Whether the list's own signature was checked: verified (--list-key), unchecked (signed form, no key), absent. */
  signature: 'verified' | 'unchecked' | 'absent';
  /** Signers the file carries but the parser left out (not issued by their country's CSCA), with why. */
  leftOut: { kid: string; country: string; reason: string }[];
}

/**
 * `safegate hub dcc trust import`: the file's signers become the HC1 trust list every kiosk with HC1
 * on downloads (the `dcc` stream, signed like every downlink part). A refused file changes nothing.
 */
export async function importHubDccTrust(configFile: string, file: string, o: { listKey?: string; json?: boolean }): Promise<string> {
  const { checkDccTrustImport, DccTrustImportError } = await import('../../sync/hub/dcc-trust.js');
  const { listKeyFromPem } = await import('../../base/node/dcc/index.js');
  const { dccSignerSchema } = await import('../../sync/downlink-codec.js');
  const { issuesText } = await import('../../base/common/validation.js');
  const bytes = readInputFile(file);
  let listKey: KeyObject | undefined;
  if (o.listKey !== undefined) {
    try {
      listKey = listKeyFromPem(readInputFile(o.listKey).toString('utf8'));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`--list-key ${o.listKey}: ${(err as Error).message}`, { cause: err });
    }
  }
  let list;
  try {
    list = checkDccTrustImport(bytes, listKey ? { listKey, requireSignature: true } : {});
  } catch (err) {
    if (err instanceof DccTrustImportError) throw new CliError(`${file}: ${err.message}`, { cause: err });
    throw err;
  }
  // One record per kid: the same certificate listed twice is one signer; two certificates under one kid are refused (a kiosk could hold only one).
  const byKid = new Map<string, { kid: string; country?: string; certificate: string }>();
  for (const signer of list.signers) {
    const record = { kid: signer.kid, ...(signer.country !== undefined ? { country: signer.country } : {}), certificate: Buffer.from(signer.certificateDer).toString('base64') };
    const checked = dccSignerSchema.safeParse(record);
    if (!checked.success) throw new CliError(`${file}: trust list refused: signer ${JSON.stringify(signer.kid.slice(0, 64))}: ${issuesText(checked.error)}`);
    const held = byKid.get(record.kid);
    if (held && held.certificate !== record.certificate) throw new CliError(`${file}: trust list refused: two different certificates under kid ${record.kid}`);
    if (!held) byKid.set(record.kid, checked.data);
  }
  const r = await withDirectory(configFile, (d) => d.replaceDccSigners([...byKid.values()]));
  const leftOut = (list.refused ?? []).map((x) => ({ kid: x.kid, country: x.country, reason: x.reason }));
  const summary: DccTrustImportSummary = {
    revision: r.rev,
    signers: byKid.size,
    added: r.added,
    changed: r.changed,
    removed: r.removed,
    unchanged: r.unchanged,
    signature: list.signature ?? 'absent',
    leftOut,
  };
  if (o.json) return JSON.stringify(summary);
  const changed = r.changed ? `, ${r.changed} changed` : '';
  const lines = [`HC1 trust list revision ${r.rev}: ${byKid.size} signer(s); ${r.added} added, ${r.removed} removed, ${r.unchanged} unchanged${changed}; kiosks with HC1 on download the changes`];
  if (summary.signature === 'unchecked') lines.push('the list is signed but its signature was not checked (give --list-key to check it)');
  for (const x of leftOut) lines.push(`left out: ${x.kid} (${x.country}): ${x.reason}`);
  return lines.join('\n');
}

/** One signer of `safegate hub dcc trust list` (its --json form). */
export interface DccTrustListEntry {
  kid: string;
  country: string | null;
  notBefore: string;
  notAfter: string;
  subject: string;
}

/** `safegate hub dcc trust list`: the signers kiosks download, by kid. */
export async function listHubDccTrust(configFile: string, o: { json?: boolean }): Promise<string> {
  const { X509Certificate } = await import('node:crypto');
  const signers = await withDirectory(configFile, (d) => d.dccSigners());
  const entries: DccTrustListEntry[] = signers.map((s) => {
    const cert = new X509Certificate(Buffer.from(s.certificate, 'base64'));
    return {
      kid: s.kid,
      country: s.country ?? null,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      subject: cert.subject.split('\n').join(', '),
    };
  });
  if (o.json) return entries.map((e) => JSON.stringify(e)).join('\n');
  if (entries.length === 0) return 'no HC1 signer: import a trust list with safegate hub dcc trust import';
  return entries.map((e) => [e.kid, e.country ?? '-', e.notBefore, e.notAfter, e.subject].join('\t')).join('\n');
}
