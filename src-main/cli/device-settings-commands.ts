import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { CliError, readInputFile } from './cli-error.js';

/**
 * `safegate hub device set ID key=value... [--file F.yaml] [--unset key...] [--json]` and
 * `safegate hub device settings ID [--json]`: a device's remote settings (issue 12). The hub's
 * modules load only when a command runs.
 */
export function registerDeviceSettingsCommands(hubDevice: Command): void {
  hubDevice
    .command('set')
    .description("change a kiosk's settings from the hub: a new signed version of its remote settings, sent down at once (the kiosk applies it live or restarts, and reports the version or its refusal in its heartbeat)")
    .argument('<device>', 'device id')
    .argument('[settings...]', 'key=value pairs, dotted keys of the kiosk settings file (gate.relay.pulseMs=2500 screens.language=en); values read as YAML scalars')
    .option('--file <file.yaml>', 'a partial kiosk settings file laid over the current remote settings')
    .option('--unset <key...>', 'take these keys out of the remote settings (the kiosk\'s own file decides them again)')
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (device: string, pairs: string[], o: SetOptions) => console.log(await setDeviceSettings(device, pairs, o)));
  hubDevice
    .command('settings')
    .description("a kiosk's remote settings: the current overlay, every version issued, and what the kiosk reported (applied, or refused and why)")
    .argument('<device>', 'device id')
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (device: string, o: { config: string; json?: boolean }) => console.log(await showDeviceSettings(device, o)));
}

interface SetOptions {
  config: string;
  file?: string;
  unset?: string[];
  json?: boolean;
}

/** `key=value` pairs with YAML scalar values (2500 a number, true a boolean, en a string). */
export function parseSettingPairs(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`"${pair.slice(0, 60)}": expected key=value (e.g. gate.relay.pulseMs=2500)`, 2);
    const key = pair.slice(0, eq).trim();
    const text = pair.slice(eq + 1);
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch (err) {
      throw new CliError(`${key}: the value is not a YAML scalar (${(err as Error).message.split('\n')[0]})`, 2);
    }
    if (value !== null && typeof value === 'object') throw new CliError(`${key}: give one value (a number, true/false or text); use --file for more`, 2);
    if (Object.hasOwn(out, key)) throw new CliError(`${key} given twice`, 2);
    out[key] = value;
  }
  return out;
}

function readOverlayFile(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseYaml(readInputFile(file).toString('utf8'));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${file}: not YAML (${(err as Error).message.split('\n')[0]})`, 2);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CliError(`${file}: expected a partial kiosk settings object (keys at the top)`, 2);
  return raw as Record<string, unknown>;
}

async function openBook(configFile: string) {
  const [{ createPrivateKey }, { readFileSync }, { HubDirectory }, { directoryTarget, loadHubSettings }, { DeviceSettingsBook }, { overlayProblems }] = await Promise.all([
    import('node:crypto'),
    import('node:fs'),
    import('../../sync/hub/directory.js'),
    import('../../sync/hub/settings.js'),
    import('../../sync/hub/fleet/device-settings.js'),
    import('../core/settings-overlay.js'),
  ]);
  const loaded = loadHubSettings(configFile);
  let signingKey;
  if (loaded.signingKeyPath) {
    try {
      signingKey = createPrivateKey(readFileSync(loaded.signingKeyPath));
    } catch (err) {
      throw new CliError(`signingKey ${loaded.signingKeyPath}: not a readable private key (${(err as Error).message})`);
    }
  }
  const directory = await HubDirectory.open(directoryTarget(loaded));
  return { directory, signingKey, book: new DeviceSettingsBook(directory.sql, { ...(signingKey ? { signingKey } : {}), checkOverlay: overlayProblems }) };
}

/**
 * Settings go only to a device the hub knows and has not revoked: enrolled here or waiting with an
 * enrolment code, or placed at a site or checkpoint (a kiosk provisioned by hand). A mistyped id
 * would otherwise store settings nobody ever applies.
 */
async function requireKnownDevice(directory: { sql: ConstructorParameters<typeof import('../../sync/hub/fleet/enrolment-book.js').EnrolmentBook>[0]; siteOf(id: string): Promise<string | undefined>; placementOf(id: string): Promise<unknown> }, deviceId: string): Promise<void> {
  const { EnrolmentBook } = await import('../../sync/hub/fleet/enrolment-book.js');
  const enrolment = new EnrolmentBook(directory.sql);
  if (await enrolment.isRevoked(deviceId)) throw new CliError(`${deviceId}: refused: the device is revoked`);
  if (await enrolment.device(deviceId)) return;
  if ((await enrolment.tokens()).some((t) => t.deviceId === deviceId && t.state === 'pending')) return;
  if ((await directory.placementOf(deviceId)) !== undefined || (await directory.siteOf(deviceId)) !== undefined) return;
  throw new CliError(`${deviceId}: refused: no such device here (not enrolled, no enrolment code waiting, not placed at a site); see \`safegate hub devices\``);
}

export async function setDeviceSettings(deviceId: string, pairs: string[], o: SetOptions): Promise<string> {
  const set = parseSettingPairs(pairs);
  const merge = o.file ? readOverlayFile(o.file) : undefined;
  const { directory, book, signingKey } = await openBook(o.config);
  const { DeviceSettingsError } = await import('../../sync/hub/fleet/device-settings.js');
  try {
    if (!signingKey) throw new CliError('the hub settings name no signingKey: remote settings must be signed by the downlink key');
    await requireKnownDevice(directory, deviceId);
    const by = process.env.SUDO_USER ?? userInfo().username;
    const r = await book.set(deviceId, { set, ...(merge ? { merge } : {}), ...(o.unset ? { unset: o.unset } : {}) }, by);
    // Stored and signed: the hub processes send it within seconds (each looks for new settings every 2 s); an offline kiosk takes it when it is back.
    if (o.json) return JSON.stringify({ deviceId, version: r.version, overlay: r.overlay, issuedAtMs: r.document.issuedAtMs, issuedBy: by });
    const how = 'signed and stored; the hub sends it to the kiosk (at once when it is online), which reports it in its heartbeat';
    return `${deviceId}: remote settings version ${r.version} ${how}\n${JSON.stringify(r.overlay, null, 2)}`;
  } catch (err) {
    if (err instanceof DeviceSettingsError) throw new CliError(`${deviceId}: refused: ${err.problems.join('; ')}`);
    throw err;
  } finally {
    await directory.close();
  }
}

export async function showDeviceSettings(deviceId: string, o: { config: string; json?: boolean }): Promise<string> {
  const { DEVICE_ID_PATTERN, DEVICE_ID_RULE } = await import('../../base/common/ids.js');
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new CliError(`device id: ${DEVICE_ID_RULE}`, 2);
  const { directory, book } = await openBook(o.config);
  try {
    const view = await book.view(deviceId);
    if (o.json) return JSON.stringify(view);
    const lines = [`${deviceId}: remote settings version ${view.version} (${view.state})`];
    if (view.reported) {
      lines.push(`  reported: applies version ${view.reported.appliedVersion} (since ${new Date(view.reported.sinceMs).toISOString()})`);
      if (view.reported.refused) lines.push(`  refused version ${view.reported.refused.version}: ${view.reported.refused.problems.join('; ')}`);
    } else lines.push('  reported: nothing yet');
    lines.push(`  overlay: ${JSON.stringify(view.overlay)}`);
    for (const v of view.versions) lines.push(`  v${v.version} ${new Date(v.issuedAtMs).toISOString()} by ${v.issuedBy}: ${JSON.stringify(v.overlay)}`);
    return lines.join('\n');
  } finally {
    await directory.close();
  }
}
