import { loadSettings } from '../core/config.js';
import { openStore } from '../core/store/database.js';
import { openStoreSecrets } from '../core/store/secrets.js';
import { createLogger } from '../../base/node/logger.js';
import { SupervisorAccountError, SupervisorAccounts, type SupervisorListing } from '../core/supervisor/accounts.js';
import { PinFormatError } from '../core/supervisor/pin.js';
import { localTimeIn } from '../../base/common/time.js';
import { CliError } from './errors.js';

/**
 * `safegate supervisor add|remove|list|set-pin`: named supervisors on a kiosk without a hub. A PIN
 * is read from stdin (its first line), never from the command line, where `ps` and shell history
 * would show it.
 */

async function withAccounts<T>(configFile: string, use: (accounts: SupervisorAccounts, zone: string) => Promise<T> | T): Promise<T> {
  const loaded = loadSettings(configFile);
  const db = openStore(loaded.paths.store);
  try {
    const { pinPepper } = openStoreSecrets(loaded.paths.keyFile, db, createLogger({ level: loaded.settings.log.level }));
    return await use(new SupervisorAccounts(db, pinPepper), loaded.settings.time.zone);
  } catch (err) {
    if (err instanceof SupervisorAccountError || err instanceof PinFormatError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    db.close();
  }
}

/** The first line of what came on stdin, without its line end. */
export function pinFromStdin(text: string): string {
  const pin = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (pin === '') throw new CliError('no PIN on stdin: pipe it in, e.g. `printf %s "$PIN" | safegate supervisor add ...`', 2);
  return pin;
}

export function addSupervisor(configFile: string, id: string, name: string, stdinText: string): Promise<string> {
  const pin = pinFromStdin(stdinText);
  return withAccounts(configFile, async (accounts) => {
    await accounts.add({ id, name, pin }, Date.now());
    return `supervisor "${id}" (${name.trim()}) added`;
  });
}

export function setSupervisorPin(configFile: string, id: string, stdinText: string): Promise<string> {
  const pin = pinFromStdin(stdinText);
  return withAccounts(configFile, async (accounts) => {
    await accounts.setPin(id, pin, Date.now());
    return `PIN of supervisor "${id}" set; their lockout cleared`;
  });
}

export function removeSupervisor(configFile: string, id: string): Promise<string> {
  return withAccounts(configFile, (accounts) => {
    accounts.remove(id, Date.now());
    const left = accounts.count();
    return `supervisor "${id}" removed${left === 0 ? '; no supervisor can sign in on this kiosk now (add one with `safegate supervisor add`)' : ''}`;
  });
}

export function listSupervisors(configFile: string, json: boolean): Promise<string> {
  return withAccounts(configFile, (accounts, zone) => formatSupervisors(accounts.list(), Date.now(), zone, json));
}

/** One line per supervisor: id, name, created, last login, locked or not (tab-separated, with a header); never a hash. */
export function formatSupervisors(list: SupervisorListing[], nowMs: number, zone: string, json: boolean): string {
  const locked = (s: SupervisorListing) => s.lockedUntilMs !== null && s.lockedUntilMs > nowMs;
  if (json) {
    return JSON.stringify(
      list.map((s) => ({
        id: s.id,
        name: s.name,
        created: new Date(s.createdMs).toISOString(),
        lastLogin: s.lastLoginMs === null ? null : new Date(s.lastLoginMs).toISOString(),
        locked: locked(s),
        lockedUntil: locked(s) ? new Date(s.lockedUntilMs!).toISOString() : null,
      })),
    );
  }
  if (list.length === 0) return 'no supervisors (add one with `safegate supervisor add --config FILE --id ID --name NAME`, PIN on stdin)';
  const lines = [['id', 'name', 'created', 'last login', 'locked'].join('\t')];
  for (const s of list) {
    lines.push(
      [
        s.id,
        s.name.replace(/\s+/g, ' '),
        localTimeIn(s.createdMs, zone),
        s.lastLoginMs === null ? 'never' : localTimeIn(s.lastLoginMs, zone),
        locked(s) ? `until ${localTimeIn(s.lockedUntilMs!, zone)}` : 'no',
      ].join('\t'),
    );
  }
  return lines.join('\n');
}
