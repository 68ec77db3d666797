import { hashPassword, newAccountSchema, AccountError, type ConsoleStore } from '../../console/server/accounts.js';
import { openConsoleStore } from '../../console/server/open-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { CliError } from './errors.js';

/**
 * `safegate hub user add|list`: console accounts. The password is the first line of stdin, never
 * an argument, where `ps` and shell history would show it. The first operator is made this way.
 */
async function withConsoleStore<T>(configFile: string, use: (store: ConsoleStore) => Promise<T>): Promise<T> {
  const loaded = loadHubSettings(configFile);
  // Where `hub run` keeps them: PostgreSQL when DATABASE_URL is set, else the SQLite file.
  const store = await openConsoleStore({ databasePath: loaded.consoleDatabasePath, databaseUrl: process.env.DATABASE_URL });
  try {
    return await use(store);
  } catch (err) {
    if (err instanceof AccountError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    await store.close();
  }
}

export async function addConsoleUser(configFile: string, o: { name: string; role: string; org?: string }, stdinText: string): Promise<string> {
  const password = stdinText.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new CliError('no password on stdin: pipe it in, e.g. `printf %s "$PASSWORD" | safegate hub user add ...`', 2);
  const parsed = newAccountSchema.safeParse({ name: o.name, role: o.role, ...(o.org !== undefined ? { org: o.org } : {}), password });
  if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => i.message).join('; '), 2);
  const org = parsed.data.org;
  if (org !== undefined) {
    // A manager manages a registered organisation; the console refuses their sign-in otherwise too.
    const directory = await HubDirectory.open(directoryTarget(loadHubSettings(configFile)));
    try {
      if (!(await directory.hasOrganisation(org))) throw new CliError(`no organisation ${org} in the hub's registry (add it first with \`safegate hub org add\`)`, 2);
    } finally {
      await directory.close();
    }
  }
  return withConsoleStore(configFile, async (store) => {
    await store.addAccount(parsed.data, await hashPassword(parsed.data.password), Date.now());
    return `console account "${parsed.data.name}" added (${parsed.data.role}${parsed.data.org ? ` of ${parsed.data.org}` : ''})`;
  });
}

export function listConsoleUsers(configFile: string): Promise<string> {
  return withConsoleStore(configFile, async (store) => {
    const accounts = await store.accounts();
    if (accounts.length === 0) return 'no console accounts (add the first operator with `safegate hub user add --role operator`)';
    return accounts.map((a) => [a.name, a.role, a.org ?? '-', a.createdAt].join('\t')).join('\n');
  });
}
