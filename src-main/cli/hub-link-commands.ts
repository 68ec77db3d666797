import { userInfo } from 'node:os';
import { localTimeIn } from '../../base/common/time.js';
import { PhoneLinkError, PhoneLinks, linkUrl, type LinkRecord } from '../../sync/hub/phone-links.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { CliError } from './errors.js';

/**
 * `safegate hub link make|list`: personal phone links from the shell. The hub only makes the links;
 * the organisation sends them to its workers (SMS, Zalo). A refusal is the operator's message, exit 2.
 */
async function withLinks<T>(configFile: string, act: (links: PhoneLinks, zone: string, baseUrl: string) => Promise<T>): Promise<T> {
  const loaded = loadHubSettings(configFile);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  const links = new PhoneLinks({ sql: directory.sql });
  const { host, port } = loaded.settings.console;
  try {
    return await act(links, loaded.settings.time.zone, `http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  } catch (err) {
    if (err instanceof PhoneLinkError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    await directory.close();
  }
}

function baseUrlArgument(value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--base-url ${JSON.stringify(value)}: not an address (e.g. https://safegate.example.gov.vn)`, 2);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CliError('--base-url: an http(s) address', 2);
  if (url.search || url.hash) throw new CliError('--base-url: no query or fragment', 2);
  return url.href.replace(/\/+$/, '');
}

/** `safegate hub link make --org O (--workers a,b | --team T) [--hours 72] [--base-url URL]`: one link a line. */
export async function makeHubLinks(configFile: string, o: { org: string; workers?: string; team?: string; hours?: string; baseUrl?: string; by?: string }): Promise<string> {
  if ((o.workers === undefined) === (o.team === undefined)) throw new CliError('name the workers (--workers a,b) or a team (--team T), one of them', 2);
  const hours = o.hours === undefined ? undefined : Number(o.hours);
  if (hours !== undefined && !Number.isInteger(hours)) throw new CliError(`--hours ${JSON.stringify(o.hours)}: a whole number of hours`, 2);
  return withLinks(configFile, async (links, zone, consoleUrl) => {
    const base = baseUrlArgument(o.baseUrl, consoleUrl);
    const workerIds = o.workers?.split(',').map((s) => s.trim()).filter(Boolean);
    const made = await links.make({
      orgId: o.org,
      ...(workerIds ? { workerIds } : { team: o.team! }),
      madeBy: o.by ?? `cli:${userInfo().username}`,
      ...(hours !== undefined ? { hours } : {}),
    });
    const until = localTimeIn(made[0]!.expiresAtMs, zone);
    return [
      `${made.length} link(s) for ${o.org}, each for one worker's phone, usable once until ${until}; send each to its worker only (the hub sends nothing). A worker's earlier phone pass is revoked.`,
      ...made.map((l) => `${l.workerId}\t${l.fullName}\t${linkUrl(base, l.token)}`),
    ].join('\n');
  });
}

function linkLine(l: LinkRecord, zone: string): string {
  const when = l.usedAtMs !== null ? ` used ${localTimeIn(l.usedAtMs, zone)}` : l.retiredAtMs !== null ? ` retired ${localTimeIn(l.retiredAtMs, zone)}` : ` until ${localTimeIn(l.expiresAtMs, zone)}`;
  return `${l.linkId}\t${l.workerId}\t${l.state}${when}\tmade ${localTimeIn(l.madeAtMs, zone)} by ${l.madeBy}${l.passId ? `\tpass ${l.passId}` : ''}`;
}

/** `safegate hub link list --org O [--worker W]`: links newest first (never their tokens). */
export async function listHubLinks(configFile: string, o: { org: string; worker?: string; json?: boolean }): Promise<string> {
  return withLinks(configFile, async (links, zone) => {
    const list = await links.list({ orgId: o.org, ...(o.worker !== undefined ? { workerId: o.worker } : {}) });
    if (o.json) return list.map((l) => JSON.stringify(l)).join('\n');
    if (list.length === 0) return `no phone links for ${o.org}${o.worker !== undefined ? `'s worker ${o.worker}` : ''} (\`safegate hub link make --org ${o.org} --team T\`)`;
    return list.map((l) => linkLine(l, zone)).join('\n');
  });
}
