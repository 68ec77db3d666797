import { Option, type Command } from 'commander';
import { CliError } from './cli-error.js';

/**
 * `safegate hub alerts ...`: who is told about alerts (recipients: e-mail addresses and webhooks per
 * organisation and site, or province-wide), the alert book with its delivery states, and a test
 * message to one recipient. The hub's modules load only when a command runs (the command starts fast).
 */
export function registerAlertCommands(hub: Command): void {
  const alerts = hub.command('alerts').description('alerts that reach people: the alert book, its deliveries (e-mail, webhooks) and who is told');
  const recipients = alerts.command('recipients').description('who is told: e-mail addresses and webhook endpoints per organisation and site, or province-wide');
  recipients
    .command('add')
    .description("name a recipient; a webhook's HMAC secret is printed once (or read from --secret-file)")
    .option('--org <id>', 'alerts of this organisation (and alerts with no organisation at its --site)')
    .option('--province', 'province-wide: alerts of every organisation (health officers)')
    .option('--site <id>', 'only alerts at this site')
    .option('--email <address>', 'send e-mail to this address')
    .option('--webhook <url>', 'POST to this http(s) URL, signed with HMAC-SHA256')
    .option('--secret-file <file>', "the webhook's HMAC secret, read from this file (16 to 200 characters); made by the hub when not given")
    .option('--category <list>', 'only these categories, comma-separated: health, override, gate, device, compliance (all when not given)')
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: AddOptions) => console.log(await addRecipient(o)));
  recipients
    .command('list')
    .description('the recipients (secrets are never listed)')
    .option('--org <id>', "only this organisation's")
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org?: string; json?: boolean }) => console.log(await listRecipients(o)));
  recipients
    .command('update')
    .description("change a recipient's address (same channel) or categories; its deliveries stay, unsent ones go to the new address")
    .argument('<id>', 'recipient id (r-...)')
    .option('--email <address>', 'the new e-mail address (an e-mail recipient)')
    .option('--webhook <url>', 'the new webhook URL (a webhook recipient; its secret stays)')
    .option('--category <list>', 'only these categories from now on, comma-separated: health, override, gate, device, compliance')
    .option('--all-categories', 'every category from now on')
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: UpdateOptions) => console.log(await updateRecipient(id, o)));
  recipients
    .command('remove')
    .description('remove a recipient; its unsent deliveries end as cancelled (kept in the record)')
    .argument('<id>', 'recipient id (r-...)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string }) => console.log(await removeRecipient(o.config, id)));
  alerts
    .command('list')
    .description('alerts, newest first, with their acknowledgement and delivery states (no worker names or reasons: see the console)')
    .option('--org <id>', "only this organisation's alerts")
    .option('--unacknowledged', 'only alerts nobody has acknowledged')
    .addOption(new Option('--limit <n>', 'at most this many').default('50'))
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: ListOptions) => console.log(await listAlerts(o)));
  alerts
    .command('test')
    .description('send a test message to one recipient now (not recorded as a delivery); fails with the reason if not accepted')
    .requiredOption('--recipient <id>', 'recipient id (r-...)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; recipient: string }) => console.log(await testRecipient(o)));
}

interface AddOptions {
  config: string;
  org?: string;
  province?: boolean;
  site?: string;
  email?: string;
  webhook?: string;
  secretFile?: string;
  category?: string;
  json?: boolean;
}

interface UpdateOptions {
  config: string;
  email?: string;
  webhook?: string;
  category?: string;
  allCategories?: boolean;
  json?: boolean;
}

interface ListOptions {
  config: string;
  org?: string;
  unacknowledged?: boolean;
  limit: string;
  json?: boolean;
}

/** Opens the directory and the alert book for one command; a refusal becomes a one-line CLI error (exit 2). */
async function withBook<T>(configFile: string, act: (ctx: BookContext) => Promise<T>): Promise<T> {
  const [{ HubDirectory }, { directoryTarget, loadHubSettings }, { AlertBook, AlertBookError }] = await Promise.all([
    import('../../sync/hub/directory.js'),
    import('../../sync/hub/settings.js'),
    import('../../sync/hub/notify/alert-book.js'),
  ]);
  const loaded = loadHubSettings(configFile);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  try {
    return await act({ directory, book: new AlertBook({ sql: directory.sql, undeliveredAfterAttempts: loaded.settings.alerts.undeliveredAfterAttempts, undeliveredAfterMs: loaded.settings.alerts.undeliveredAfterMinutes * 60_000 }), loaded });
  } catch (err) {
    if (err instanceof AlertBookError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    await directory.close();
  }
}

type BookContext = {
  directory: import('../../sync/hub/directory.js').HubDirectory;
  book: import('../../sync/hub/notify/alert-book.js').AlertBook;
  loaded: import('../../sync/hub/settings.js').LoadedHubSettings;
};

async function addRecipient(o: AddOptions): Promise<string> {
  if (Boolean(o.org) === Boolean(o.province)) throw new CliError('give --org <id> or --province (one of them)', 2);
  if (Boolean(o.email) === Boolean(o.webhook)) throw new CliError('give --email <address> or --webhook <url> (one of them)', 2);
  if (o.secretFile && !o.webhook) throw new CliError('--secret-file is for a webhook', 2);
  let secret: string | undefined;
  if (o.secretFile) {
    const { readInputFile } = await import('./cli-error.js');
    secret = readInputFile(o.secretFile).toString('utf8').trim();
  }
  const categories = o.category
    ?.split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  return withBook(o.config, async ({ directory, book }) => {
    if (o.org && !(await directory.hasOrganisation(o.org))) throw new CliError(`no organisation ${o.org} (safegate hub org list)`, 2);
    if (o.site) {
      const site = (await directory.registeredSites()).find((s) => s.id === o.site);
      if (!site) throw new CliError(`no site ${o.site} (safegate hub site list)`, 2);
      if (o.org && site.orgId !== null && site.orgId !== o.org) throw new CliError(`site ${o.site} belongs to ${site.orgId}, not ${o.org}`, 2);
    }
    const r = await book.addRecipient({
      orgId: o.org ?? null,
      siteId: o.site ?? null,
      channel: o.email ? 'email' : 'webhook',
      address: (o.email ?? o.webhook)!,
      ...(secret !== undefined ? { secret } : {}),
      ...(categories?.length ? { categories: categories as never } : {}),
    });
    if (o.json) return JSON.stringify(r);
    const lines = [`recipient ${r.recipientId} added: ${r.channel} ${r.address} for ${r.orgId ?? 'the province'}${r.siteId ? ` at site ${r.siteId}` : ''}${r.categories ? ` (${r.categories.join(', ')})` : ''}`];
    if (r.channel === 'webhook' && secret === undefined) lines.push(`webhook secret (shown once; the receiver checks X-SafeGate-Signature with it): ${r.secret}`);
    return lines.join('\n');
  });
}

async function listRecipients(o: { config: string; org?: string; json?: boolean }): Promise<string> {
  return withBook(o.config, async ({ book }) => {
    const list = await book.listRecipients(o.org);
    const shown = list.map(({ secret: _secret, ...r }) => r);
    if (o.json) return JSON.stringify(shown);
    if (!shown.length) return 'no recipients (safegate hub alerts recipients add)';
    return shown
      .map((r) => `${r.recipientId}  ${r.channel.padEnd(7)}  ${(r.orgId ?? 'province').padEnd(12)}  ${(r.siteId ?? 'all sites').padEnd(12)}  ${(r.categories?.join(',') ?? 'all').padEnd(12)}${r.disabled ? '  held' : ''}  ${r.address}`)
      .join('\n');
  });
}

async function updateRecipient(id: string, o: UpdateOptions): Promise<string> {
  if (o.email && o.webhook) throw new CliError('give --email or --webhook, not both (a recipient keeps its channel)', 2);
  if (o.category && o.allCategories) throw new CliError('give --category or --all-categories, not both', 2);
  const address = o.email ?? o.webhook;
  const categories = o.allCategories
    ? null
    : o.category
      ?.split(',')
      .map((c) => c.trim())
      .filter(Boolean);
  if (address === undefined && categories === undefined) throw new CliError('nothing to change: give --email, --webhook, --category or --all-categories', 2);
  return withBook(o.config, async ({ book }) => {
    const before = await book.recipient(id);
    if (!before) throw new CliError(`no recipient ${id} (safegate hub alerts recipients list)`, 2);
    if (o.email && before.channel !== 'email') throw new CliError(`${id} is a webhook: give --webhook <url>`, 2);
    if (o.webhook && before.channel !== 'webhook') throw new CliError(`${id} is an e-mail recipient: give --email <address>`, 2);
    const r = await book.updateRecipient(id, { ...(address !== undefined ? { address } : {}), ...(categories !== undefined ? { categories: categories as never } : {}) });
    if (!r) throw new CliError(`no recipient ${id} (safegate hub alerts recipients list)`, 2);
    if (o.json) return JSON.stringify(r);
    return `recipient ${r.recipientId} updated: ${r.channel} ${r.address}${r.categories ? ` (${r.categories.join(', ')})` : ' (all categories)'}; its deliveries are kept`;
  });
}

async function removeRecipient(configFile: string, id: string): Promise<string> {
  return withBook(configFile, async ({ book }) => {
    if (!(await book.removeRecipient(id))) throw new CliError(`no recipient ${id} (safegate hub alerts recipients list)`, 2);
    return `recipient ${id} removed; its unsent deliveries are cancelled`;
  });
}

async function listAlerts(o: ListOptions): Promise<string> {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 5_000) throw new CliError('--limit is a whole number from 1 to 5000', 2);
  const { localTimeIn } = await import('../../base/common/time.js');
  return withBook(o.config, async ({ book, loaded }) => {
    const alerts = await book.list({ ...(o.org ? { orgId: o.org } : {}), unacknowledgedOnly: Boolean(o.unacknowledged), limit });
    const deliveries = await book.deliveries(alerts.map((a) => a.alertId));
    const byAlert = new Map<string, typeof deliveries>();
    for (const d of deliveries) byAlert.set(d.alertId, [...(byAlert.get(d.alertId) ?? []), d]);
    if (o.json) return JSON.stringify(alerts.map(({ dedupKey: _k, ...a }) => ({ ...a, deliveries: byAlert.get(a.alertId) ?? [] })));
    if (!alerts.length) return 'no alerts';
    const zone = loaded.settings.time.zone;
    return alerts
      .map((a) => {
        const ds = byAlert.get(a.alertId) ?? [];
        const states = ds.length ? ds.map((d) => `${d.recipientId}:${d.undelivered ? 'undelivered' : d.state}${d.attempts ? `(${d.attempts})` : ''}`).join(' ') : 'nobody to tell';
        const ack = a.acknowledgedAtMs ? `ack ${a.acknowledgedBy} ${localTimeIn(a.acknowledgedAtMs, zone)}` : 'not acknowledged';
        return `${a.alertId}  ${localTimeIn(a.atMs, zone)}  ${a.category.padEnd(10)}  ${(a.category === 'health' ? 'health' : a.kind).padEnd(20)}  ${(a.orgId ?? '-').padEnd(10)}  ${(a.siteId ?? '-').padEnd(10)}  ${ack}  ${states}`;
      })
      .join('\n');
  });
}

async function testRecipient(o: { config: string; recipient: string }): Promise<string> {
  const [{ Dispatcher }, { createMailer }, { alertSettingsOf }] = await Promise.all([
    import('../../sync/hub/notify/dispatcher.js'),
    import('../../sync/hub/notify/mailer.js'),
    import('../../sync/hub/notify/alert-service.js'),
  ]);
  return withBook(o.config, async ({ book, loaded }) => {
    const r = await book.recipient(o.recipient);
    if (!r) throw new CliError(`no recipient ${o.recipient} (safegate hub alerts recipients list)`, 2);
    let s;
    try {
      s = alertSettingsOf(loaded);
    } catch (err) {
      throw new CliError((err as Error).message, 2);
    }
    const mailer = createMailer(s.smtp, s.from);
    try {
      await new Dispatcher({ book, mailer, consoleUrl: s.consoleUrl, zone: s.zone, webhookTimeoutMs: s.webhookTimeoutMs }).sendTest(r);
    } catch (err) {
      throw new CliError(`the test message to ${r.recipientId} (${r.channel}) was not accepted: ${(err as Error).message}`, 1);
    } finally {
      mailer.close();
    }
    return `test message accepted by ${r.recipientId} (${r.channel} ${r.address})`;
  });
}
