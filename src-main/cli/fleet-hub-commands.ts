import type { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { CliError } from './cli-error.js';
import type { EnrolmentSettings } from '../../sync/hub/fleet/enrolment-book.js';

/**
 * `safegate hub pki init`: the hub CA and the certificates the broker and the hub processes use;
 * `safegate hub enrol create`: one-time enrolment codes (terminal QR, PDF or PNG sheet, JSON);
 * `safegate hub enrol list`: the codes made and what became of them. The hub's modules load only
 * when a command runs.
 */
export function registerFleetHubCommands(hub: Command): void {
  const pki = hub.command('pki').description('the hub CA that signs the broker\'s, the hub processes\' and every enrolled kiosk\'s certificate');
  pki
    .command('init')
    .description("make the hub CA in pki.dir (refuses to replace one), the broker's and enrolment endpoint's server certificate, each hub process's client certificate and an empty CRL; prints Mosquitto's cafile/certfile/keyfile/crlfile")
    .requiredOption('--config <file>', 'hub settings file')
    .requiredOption('--host <host>', 'a DNS name or IP address kiosks reach the broker and the enrolment endpoint by (repeat for several)', collect, [])
    .option('--hub-id <id>', 'a hub process id that gets a client certificate (repeat for several; default: the settings\' id)', collect, [])
    .action(async (o: { config: string; host: string[]; hubId: string[] }) => console.log(await initHubPki(o.config, o.host, o.hubId)));

  const enrol = hub.command('enrol').description('one-time enrolment codes (QR) that enrol a kiosk with this hub');
  enrol
    .command('create')
    .description('make one-time enrolment codes, each for a new device id, printed as QR codes (and as a PDF/PNG sheet)')
    .requiredOption('--config <file>', 'hub settings file')
    .requiredOption('--checkpoint-kind <kind>', 'gate, zone, team, canteen, dormitory or bus')
    .requiredOption('--site <site>', 'the site the kiosks join')
    .option('--checkpoint-id <id>', 'the checkpoint the kiosks guard (default: <site>-<kind>)')
    .option('--name <name>', 'the checkpoint name shown on screen (default: the registry\'s, else the checkpoint id)')
    .option('--zone <zone>', 'the zone the checkpoint opens into (default: the checkpoint id)')
    .option('--direction <direction>', 'entry, exit or both', 'entry')
    .option('--gpio-profile <name>', 'a GPIO profile of enrol.gpioProfiles in the hub settings')
    .option('--expires <duration>', 'how long the codes are valid, e.g. 90m, 24h, 7d (default: enrol.tokenHours)')
    .option('--count <n>', 'how many codes (one device each)', '1')
    .option('--device-id <id>', 'the device id for a single code (default: <site>-<kind>-NNNN)')
    .option('--sheet <file>', 'also write a printable sheet: FILE.pdf (one code per box) or FILE.png')
    .option('--json', 'print [{deviceId, code, expiresAt}] instead of QR codes')
    .action(async (o: CreateOptions) => console.log(await createEnrolmentCodes(o)));
  enrol
    .command('cancel')
    .description('cancel unused enrolment codes (a lost or photographed sheet): each named device\'s code, or every pending one (of one site)')
    .argument('[device...]', 'device ids whose unused codes to cancel')
    .requiredOption('--config <file>', 'hub settings file')
    .option('--all-pending', 'every code not used and not expired yet')
    .option('--site <site>', 'with --all-pending: only the codes of this site')
    .option('--json', 'print {cancelled, notPending} as JSON')
    .action(async (devices: string[], o: CancelOptions) => {
      const r = await cancelEnrolmentCodes(devices, o);
      console.log(r.text);
      if (!r.ok) process.exitCode = 1;
    });
  enrol
    .command('list')
    .description('the enrolment codes made: pending, used, expired or cancelled (never the code itself)')
    .requiredOption('--config <file>', 'hub settings file')
    .option('--json', 'a JSON array')
    .action(async (o: { config: string; json?: boolean }) => console.log(await listEnrolmentCodes(o.config, Boolean(o.json))));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export interface CreateOptions {
  config: string;
  checkpointKind: string;
  site: string;
  checkpointId?: string;
  name?: string;
  zone?: string;
  direction?: string;
  gpioProfile?: string;
  expires?: string;
  count?: string;
  deviceId?: string;
  sheet?: string;
  json?: boolean;
}

/** "90m", "24h", "7d" in milliseconds. */
function parseDuration(text: string, what: string): number {
  const m = /^(\d{1,5})(m|h|d)$/.exec(text.trim());
  if (!m) throw new CliError(`${what}: a duration such as 90m, 24h or 7d`, 2);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

export async function initHubPki(configFile: string, hosts: string[], hubIds: string[]): Promise<string> {
  const [{ loadHubSettings }, { HubPki, PkiError }] = await Promise.all([import('../../sync/hub/settings.js'), import('../../sync/hub/fleet/pki.js')]);
  const loaded = loadHubSettings(configFile);
  const ids = hubIds.length ? hubIds : [loaded.settings.id];
  let pki;
  try {
    pki = await HubPki.init(loaded.pkiDir, { hosts, hubIds: ids, deviceCertDays: loaded.settings.pki.deviceCertDays });
  } catch (err) {
    if (err instanceof PkiError) throw new CliError(err.message, { cause: err });
    throw err;
  }
  const p = pki.paths;
  return [
    `hub CA made in ${pki.dir} (SHA-256 ${pki.caFingerprint()}); keep ca.key secret and backed up (\`safegate hub backup\`)`,
    `server certificate for ${hosts.join(', ')}; client certificates for ${ids.join(', ')} (${ids.map((id) => `${id}.crt/${id}.key`).join(', ')})`,
    '',
    ...brokerInstallLines(p),
    '',
    `hub settings: broker.ca ${p.caCert}, broker.cert/key ${ids[0]}.crt/${ids[0]}.key in ${pki.dir}; the enrolment endpoint (enrol.enabled) serves the same server certificate`,
  ].join('\n');
}

/** Where config/mosquitto/safegate.conf has Mosquitto read its TLS files and CRL. */
export const BROKER_TLS_DIR = '/etc/mosquitto/safegate';

/**
 * How the broker gets what `pki init` made: Mosquitto runs as the mosquitto user, which cannot read
 * pki.dir (0750, keys 0600), so root copies the files to safegate.conf's paths, the server key owned
 * by mosquitto and 0600; the CRL copy is refreshed before every broker start, since revocations
 * rewrite only pki.dir/crl.pem and Mosquitto reads its crlfile only when it starts.
 */
export function brokerInstallLines(p: { caCert: string; serverCert: string; serverKey: string; crl: string }): string[] {
  const d = BROKER_TLS_DIR;
  return [
    `Mosquitto (user mosquitto) cannot read pki.dir; as root, copy what it reads to the paths of config/mosquitto/safegate.conf:`,
    `  install -d -o root -g mosquitto -m 0750 ${d}`,
    `  install -o root -g mosquitto -m 0644 ${p.caCert} ${d}/ca.crt`,
    `  install -o root -g mosquitto -m 0644 ${p.serverCert} ${d}/server.crt`,
    `  install -o mosquitto -g mosquitto -m 0600 ${p.serverKey} ${d}/server.key`,
    `  install -o root -g mosquitto -m 0644 ${p.crl} ${d}/crl.pem`,
    `safegate.conf then reads: cafile ${d}/ca.crt, certfile ${d}/server.crt, keyfile ${d}/server.key, crlfile ${d}/crl.pem`,
    `Revoking a device rewrites ${p.crl}, not the copy, and Mosquitto reads its crlfile only at start and on reload:`,
    `refresh the copy before both (\`systemctl edit mosquitto\`; the empty ExecReload= clears the packaged line, re-added after the copy):`,
    `  [Service]`,
    `  ExecStartPre=/usr/bin/install -o root -g mosquitto -m 0644 ${p.crl} ${d}/crl.pem`,
    `  ExecReload=`,
    `  ExecReload=/usr/bin/install -o root -g mosquitto -m 0644 ${p.crl} ${d}/crl.pem`,
    `  ExecReload=/bin/kill -HUP $MAINPID`,
  ];
}

export async function createEnrolmentCodes(o: CreateOptions): Promise<string> {
  const [{ loadHubSettings, directoryTarget }, { HubPki }, { HubDirectory, CHECKPOINT_KINDS }, book, enrolment] = await Promise.all([
    import('../../sync/hub/settings.js'),
    import('../../sync/hub/fleet/pki.js'),
    import('../../sync/hub/directory.js'),
    import('../../sync/hub/fleet/enrolment-book.js'),
    import('../../base/common/enrolment.js'),
  ]);
  const loaded = loadHubSettings(o.config);
  const e = loaded.settings.enrol;
  if (!e.publicUrl) throw new CliError('enrol.publicUrl is not set in the hub settings: the codes need the address kiosks reach the enrolment endpoint by (https://host:port)');
  if (!(CHECKPOINT_KINDS as readonly string[]).includes(o.checkpointKind)) throw new CliError(`--checkpoint-kind ${JSON.stringify(o.checkpointKind)}: expected ${CHECKPOINT_KINDS.join(', ')}`, 2);
  const kind = o.checkpointKind as (typeof CHECKPOINT_KINDS)[number];
  const direction = o.direction ?? 'entry';
  if (!(book.CHECKPOINT_DIRECTIONS as readonly string[]).includes(direction)) throw new CliError(`--direction ${JSON.stringify(direction)}: expected entry, exit or both`, 2);
  const count = Number(o.count ?? '1');
  if (!Number.isInteger(count) || count < 1 || count > book.MAX_TOKENS_PER_REQUEST) throw new CliError(`--count: a whole number from 1 to ${book.MAX_TOKENS_PER_REQUEST}`, 2);
  const expiresInMs = o.expires !== undefined ? parseDuration(o.expires, '--expires') : Math.round(e.tokenHours * 3_600_000);
  if (o.gpioProfile !== undefined) await checkGpioProfile(o.gpioProfile, e.gpioProfiles);
  if (o.sheet !== undefined && !/\.(pdf|png)$/i.test(o.sheet)) throw new CliError('--sheet: a file name ending in .pdf or .png', 2);
  let caFingerprint: string;
  let names: string[];
  try {
    const pki = HubPki.open(loaded.pkiDir);
    caFingerprint = pki.caFingerprint();
    names = serverCertificateNames(pki.serverCredentials().certPem);
  } catch (err) {
    throw new CliError((err as Error).message, { cause: err });
  }
  // A kiosk checks the endpoint's certificate names its host: a code for a host the certificate lacks fails at every gate.
  for (const [what, url] of [['enrol.publicUrl', e.publicUrl], ['enrol.brokerUrl', e.brokerUrl]] as const) {
    if (url === undefined) continue;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    // (An IPv6 address is written differently in the certificate: not compared.)
    if (!host.includes(':') && !names.includes(host)) throw new CliError(`${what} names ${host}, which the hub's server certificate does not (it names ${names.join(', ')}): make the CA with that --host, or use one of these names`);
  }

  const directory = await HubDirectory.open(directoryTarget(loaded));
  let made;
  let settings: EnrolmentSettings;
  try {
    // The site must be one the registry knows, when it knows any (`hub device assign --site` names new ones freely while it knows none).
    const sites = await directory.registeredSites();
    if (sites.length > 0 && !sites.some((s) => s.id === o.site)) {
      throw new CliError(`unknown site ${JSON.stringify(o.site)}: the registry has ${sites.map((s) => s.id).slice(0, 10).join(', ')}${sites.length > 10 ? ', ...' : ''} (add it with \`safegate hub site add\`)`);
    }
    const checkpointId = o.checkpointId ?? `${o.site}-${kind}`.slice(0, 64);
    const registered = (await directory.checkpoints()).find((c) => c.id === checkpointId);
    if (registered && registered.siteId !== o.site) throw new CliError(`checkpoint ${checkpointId} is at site ${registered.siteId}, not ${o.site}`);
    if (registered && registered.kind !== kind) throw new CliError(`checkpoint ${checkpointId} is a ${registered.kind} checkpoint, not ${kind}`);
    settings = {
      siteId: o.site,
      checkpoint: { id: checkpointId, name: o.name ?? registered?.name ?? checkpointId, kind, ...(o.zone !== undefined ? { zone: o.zone } : {}), direction: direction as 'entry' | 'exit' | 'both' },
      ...(o.gpioProfile !== undefined ? { gpioProfile: o.gpioProfile } : {}),
    };
    const knownIds = await heardDeviceIds(loaded);
    made = await new book.EnrolmentBook(directory.sql).createTokens({ settings, count, expiresInMs, knownIds, ...(o.deviceId !== undefined ? { deviceId: o.deviceId } : {}) });
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof book.EnrolmentBookError) throw new CliError(err.message, { cause: err });
    throw err;
  } finally {
    await directory.close();
  }
  const codes = made.map((t) => ({
    deviceId: t.deviceId,
    code: enrolment.formatEnrolmentCode({ hubUrl: e.publicUrl!, deviceId: t.deviceId, token: t.token, caFingerprint }),
    expiresAt: new Date(t.expiresAtMs).toISOString(),
  }));
  const lines: string[] = [];
  if (o.sheet !== undefined) {
    const where = await writeSheet(o.sheet, codes, settings);
    if (!o.json) lines.push(`sheet written: ${where.join(', ')} (0600: it holds live codes; delete it once printed)`);
  }
  if (o.json) return JSON.stringify(codes);
  const { default: QRCode } = await import('qrcode');
  for (const c of codes) {
    lines.push(await QRCode.toString(c.code, { type: 'terminal', small: true, errorCorrectionLevel: 'M' }));
    lines.push(`device ${c.deviceId} · ${settings.checkpoint.kind} ${settings.checkpoint.id} at site ${settings.siteId} · valid until ${c.expiresAt}`);
    lines.push(c.code, '');
  }
  lines.push(`${codes.length} enrolment code(s) made; each enrols one kiosk, once. Scan it at the kiosk, or: safegate enrol --token '<code>'`);
  return lines.join('\n');
}

/** The device ids the hub's event store has heard from (heartbeats, events): none when it has no store yet. */
async function heardDeviceIds(loaded: import('../../sync/hub/settings.js').LoadedHubSettings): Promise<string[]> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const store = await (await import('../../sync/hub/pg-store.js')).PgHubStore.open(url);
    try {
      return await store.heardDevices();
    } finally {
      await store.close();
    }
  }
  const { existsSync } = await import('node:fs');
  if (!existsSync(loaded.storePath)) return [];
  const store = new (await import('../../sync/hub/store.js')).SqliteHubStore(loaded.storePath);
  try {
    return await store.heardDevices();
  } finally {
    await store.close();
  }
}

/** The DNS names and IP addresses a server certificate is for (lower case). */
function serverCertificateNames(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(',')
    .map((part) => part.trim())
    .map((part) => /^(?:DNS|IP Address):(.+)$/.exec(part)?.[1]?.toLowerCase())
    .filter((n): n is string => n !== undefined);
}

/** A GPIO profile must be in the settings and make valid kiosk gate settings (checked now, not at the gate). */
async function checkGpioProfile(name: string, profiles: Record<string, Record<string, unknown>>): Promise<void> {
  const profile = profiles[name];
  if (!profile) {
    const known = Object.keys(profiles);
    throw new CliError(`--gpio-profile ${JSON.stringify(name)}: not in enrol.gpioProfiles of the hub settings (${known.length ? `known: ${known.join(', ')}` : 'none defined'})`);
  }
  const { settingsSchema } = await import('../core/config.js');
  const r = settingsSchema.safeParse({ device: { id: 'profile-check' }, checkpoint: { id: 'profile-check', name: 'check', kind: 'gate' }, gate: profile });
  if (!r.success) {
    const problems = r.error.issues.filter((i) => i.path[0] === 'gate').map((i) => `${i.path.join('.')}: ${i.message}`);
    if (problems.length) throw new CliError(`GPIO profile ${name} is not valid kiosk gate settings: ${problems.slice(0, 5).join('; ')}`);
  }
}

async function writeSheet(file: string, codes: { deviceId: string; code: string; expiresAt: string }[], s: EnrolmentSettings): Promise<string[]> {
  // Each sheet holds live codes: 0600 whatever the umask, written whole (temporary file, rename), never through a link.
  const [{ writeAtomically }, { default: QRCode }] = await Promise.all([import('../../sync/hub/fleet/pki.js'), import('qrcode')]);
  if (/\.png$/i.test(file)) {
    // One picture per code (a single code: the file itself; several: FILE-<device id>.png each).
    const files = codes.length === 1 ? [file] : codes.map((c) => file.replace(/\.png$/i, `-${c.deviceId}.png`));
    for (let i = 0; i < codes.length; i++) writeAtomically(files[i]!, await QRCode.toBuffer(codes[i]!.code, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 8 }), 0o600);
    return files;
  }
  const [{ default: PDFDocument }, { createRequire }] = await Promise.all([import('pdfkit'), import('node:module')]);
  const font = (name: string) => createRequire(import.meta.url).resolve(`dejavu-fonts-ttf/ttf/${name}`);
  const doc = new PDFDocument({ size: 'A4', margin: 0, autoFirstPage: false, info: { Title: 'Mã đăng ký thiết bị / Enrolment codes', Creator: 'SafeGate' } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  doc.registerFont('sans', font('DejaVuSans.ttf'));
  doc.registerFont('sans-bold', font('DejaVuSans-Bold.ttf'));
  const MM = 72 / 25.4;
  const cols = 2;
  const rows = 3;
  const margin = 12;
  const boxW = (210 - 2 * margin) / cols;
  const boxH = (297 - 2 * margin) / rows;
  codes.forEach((c, i) => {
    const at = i % (cols * rows);
    if (at === 0) doc.addPage({ size: 'A4', margin: 0 });
    const x = margin + (at % cols) * boxW;
    const y = margin + Math.floor(at / cols) * boxH;
    doc.save().lineWidth(0.5).strokeColor('#777777').dash(3, { space: 3 }).rect(x * MM, y * MM, boxW * MM, boxH * MM).stroke().undash().restore();
    const qr = QRCode.create(c.code, { errorCorrectionLevel: 'M' });
    const n = qr.modules.size;
    const side = 55;
    const module = side / (n + 8);
    const qx = x + (boxW - side) / 2 + 4 * module;
    const qy = y + 6 + 4 * module;
    doc.save().fillColor('black');
    for (let r = 0; r < n; r++) for (let col = 0; col < n; col++) if (qr.modules.get(r, col)) doc.rect((qx + col * module) * MM, (qy + r * module) * MM, module * MM + 0.05, module * MM + 0.05).fill();
    doc.restore();
    const tx = (x + 5) * MM;
    const tw = (boxW - 10) * MM;
    let ty = (y + 6 + side + 2) * MM;
    doc.font('sans-bold').fontSize(11).fillColor('black').text(c.deviceId, tx, ty, { width: tw, align: 'center', lineBreak: false });
    ty += 15;
    doc.font('sans').fontSize(8).text(`${s.checkpoint.name} (${s.checkpoint.kind} ${s.checkpoint.id}) · site ${s.siteId}`, tx, ty, { width: tw, align: 'center', lineBreak: false, ellipsis: true });
    ty += 11;
    doc.text(`Hết hạn / Expires ${c.expiresAt.replace('T', ' ').slice(0, 16)} UTC`, tx, ty, { width: tw, align: 'center', lineBreak: false, ellipsis: true });
    ty += 11;
    doc.text('Dùng một lần / Single use', tx, ty, { width: tw, align: 'center', lineBreak: false, ellipsis: true });
    ty += 12;
    doc.font('sans').fontSize(5).fillColor('#333333').text(c.code, tx, ty, { width: tw, align: 'center' });
  });
  doc.end();
  await done;
  writeAtomically(file, Buffer.concat(chunks), 0o600);
  return [file];
}

export interface CancelOptions {
  config: string;
  allPending?: boolean;
  site?: string;
  json?: boolean;
}

/** `hub enrol cancel`: not ok when a named device had no pending code (nothing was there to cancel). */
export async function cancelEnrolmentCodes(devices: string[], o: CancelOptions): Promise<{ ok: boolean; text: string }> {
  if (o.allPending && devices.length > 0) throw new CliError('give device ids or --all-pending, not both', 2);
  if (!o.allPending && devices.length === 0) throw new CliError('name the device ids whose codes to cancel, or --all-pending [--site S]', 2);
  if (o.site !== undefined && !o.allPending) throw new CliError('--site goes with --all-pending', 2);
  const [{ loadHubSettings, directoryTarget }, { HubDirectory }, { EnrolmentBook, EnrolmentBookError }] = await Promise.all([
    import('../../sync/hub/settings.js'),
    import('../../sync/hub/directory.js'),
    import('../../sync/hub/fleet/enrolment-book.js'),
  ]);
  const directory = await HubDirectory.open(directoryTarget(loadHubSettings(o.config)));
  try {
    const r = await new EnrolmentBook(directory.sql)
      .cancelTokens(o.allPending ? { allPending: true, ...(o.site !== undefined ? { siteId: o.site } : {}) } : { deviceIds: devices })
      .catch((err: unknown) => {
        if (err instanceof EnrolmentBookError) throw new CliError(err.message, { cause: err });
        throw err;
      });
    const ok = r.notPending.length === 0;
    if (o.json) return { ok, text: JSON.stringify(r) };
    const lines = r.cancelled.map((id) => `cancelled: the code of ${id} enrols nothing now`);
    for (const n of r.notPending) {
      lines.push(
        n.state === 'unknown'
          ? `${n.deviceId}: no enrolment code for this device id`
          : n.state === 'used'
            ? `${n.deviceId}: its code was used already (the device is enrolled): revoke it with \`safegate hub devices revoke ${n.deviceId}\``
            : `${n.deviceId}: its code is ${n.state} already`,
      );
    }
    if (o.allPending && r.cancelled.length === 0) lines.push(`no pending enrolment code${o.site !== undefined ? ` at site ${o.site}` : ''}`);
    return { ok, text: lines.join('\n') };
  } finally {
    await directory.close();
  }
}

export async function listEnrolmentCodes(configFile: string, json: boolean): Promise<string> {
  const [{ loadHubSettings, directoryTarget }, { HubDirectory }, { EnrolmentBook }] = await Promise.all([
    import('../../sync/hub/settings.js'),
    import('../../sync/hub/directory.js'),
    import('../../sync/hub/fleet/enrolment-book.js'),
  ]);
  const directory = await HubDirectory.open(directoryTarget(loadHubSettings(configFile)));
  try {
    const tokens = await new EnrolmentBook(directory.sql).tokens();
    const rows = tokens.map((t) => ({
      deviceId: t.deviceId,
      state: t.state,
      site: t.settings.siteId,
      checkpoint: t.settings.checkpoint,
      gpioProfile: t.settings.gpioProfile ?? null,
      createdAt: new Date(t.createdAtMs).toISOString(),
      expiresAt: new Date(t.expiresAtMs).toISOString(),
      usedAt: t.usedAtMs === null ? null : new Date(t.usedAtMs).toISOString(),
    }));
    if (json) return JSON.stringify(rows);
    if (rows.length === 0) return 'no enrolment codes made (`safegate hub enrol create`)';
    return rows
      .map((r) => `${r.deviceId}\t${r.state}\t${r.site}\t${r.checkpoint.kind} ${r.checkpoint.id}\t${r.state === 'used' ? `used ${r.usedAt}` : r.state === 'cancelled' ? 'cancelled' : `expires ${r.expiresAt}`}`)
      .join('\n');
  } finally {
    await directory.close();
  }
}

/**
 * `safegate hub run` with enrol.enabled: the enrolment endpoint over the hub CA's server certificate,
 * the directory's enrolment book, and the hub's downlink key (it signs the settings documents).
 * Undefined when enrolment is off.
 */
export async function startEnrolmentEndpoint(o: {
  loaded: import('../../sync/hub/settings.js').LoadedHubSettings;
  directory: import('../../sync/hub/directory.js').HubDirectory;
  signingKey: import('node:crypto').KeyObject | undefined;
  passKey: import('node:crypto').KeyObject | undefined;
  phonePassKey?: import('node:crypto').KeyObject | undefined;
  log: import('pino').Logger;
}): Promise<{ stop(): Promise<void> } | undefined> {
  const e = o.loaded.settings.enrol;
  if (!e.enabled) return undefined;
  const [{ HubPki }, { EnrolmentBook }, { EnrolServer, publicPemOf }] = await Promise.all([
    import('../../sync/hub/fleet/pki.js'),
    import('../../sync/hub/fleet/enrolment-book.js'),
    import('../../sync/hub/fleet/enrol-server.js'),
  ]);
  let pki;
  try {
    pki = HubPki.open(o.loaded.pkiDir, { deviceCertDays: o.loaded.settings.pki.deviceCertDays });
  } catch (err) {
    throw new CliError(`enrol.enabled: ${(err as Error).message}`, { cause: err });
  }
  if (!o.signingKey) o.log.warn('no signingKey in the hub settings: the enrolment endpoint answers HUB_NOT_READY (it signs each device\'s settings with it)');
  if (!o.passKey) o.log.warn('no passKey in the hub settings: the enrolment endpoint answers HUB_NOT_READY (kiosks get its public half)');
  const server = new EnrolServer({
    pki,
    book: new EnrolmentBook(o.directory.sql),
    directory: o.directory,
    signingKey: o.signingKey,
    keys: { pass: o.passKey ? [publicPemOf(o.passKey)] : [], downlink: o.signingKey ? [publicPemOf(o.signingKey)] : [], 'phone-pass': o.phonePassKey ? [publicPemOf(o.phonePassKey)] : [] },
    // Required with enrol.enabled (the settings schema refuses it missing).
    brokerUrl: e.brokerUrl!,
    gpioProfiles: e.gpioProfiles,
    host: e.host,
    port: e.port,
    rateLimitPerMinute: e.rateLimitPerMinute,
    log: o.log,
  });
  await server.start();
  return server;
}
