import type { Command } from 'commander';
import type { HubDirectory } from '../../sync/hub/directory.js';
import type { HubSettings } from '../../sync/hub/settings.js';
import type { HubStore } from '../../sync/hub/store.js';
import { CliError } from './cli-error.js';

/**
 * `safegate hub report ...`: the CV 2242 labour list of an organisation as XLSX, and a day's summary
 * (an organisation's or the province's) as text or JSON. Health reasons are counted as one, as the
 * console shows them to an operator. The hub's modules load only when a command runs.
 */
export function registerReportCommands(hub: Command): void {
  const report = hub.command('report').description('reports: the CV 2242 labour list (XLSX) and the daily summary');
  report
    .command('labour-list')
    .description("an organisation's CV 2242 labour list as XLSX (it holds ID numbers and phones: the file is readable by you only)")
    .requiredOption('--org <id>', 'the organisation')
    .requiredOption('--out <file.xlsx>', 'where to write it (an existing file is never overwritten)')
    .option('--kept', 'the list the schedule kept (at reports.labourListTime) instead of the current one')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org: string; out: string; kept?: boolean }) => console.log(await writeLabourList(o)));
  report
    .command('summary')
    .description("a day's summary: passages and denials by reason, alerts, silent kiosks, list age and test compliance")
    .option('--org <id>', "this organisation's (default: the province's)")
    .option('--date <YYYY-MM-DD>', 'the day in the province zone (default today)')
    .option('--json', 'machine-readable JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org?: string; date?: string; json?: boolean }) => console.log(await showSummary(o)));
}

/** The hub's directory and store as `safegate hub run` opens them (PostgreSQL with DATABASE_URL), for one command. */
async function withHub<T>(configFile: string, act: (hub: { directory: HubDirectory; store: HubStore; settings: HubSettings }) => Promise<T>): Promise<T> {
  const [{ HubDirectory }, { directoryTarget, loadHubSettings }] = await Promise.all([import('../../sync/hub/directory.js'), import('../../sync/hub/settings.js')]);
  const loaded = loadHubSettings(configFile);
  const url = process.env.DATABASE_URL;
  const store = url ? await (await import('../../sync/hub/pg-store.js')).PgHubStore.open(url, 2) : new (await import('../../sync/hub/store.js')).SqliteHubStore(loaded.storePath);
  try {
    const directory = await HubDirectory.open(directoryTarget(loaded));
    try {
      return await act({ directory, store, settings: loaded.settings });
    } finally {
      await directory.close();
    }
  } finally {
    await store.close();
  }
}

async function writeLabourList(o: { config: string; org: string; out: string; kept?: boolean }): Promise<string> {
  const { writeFileSync } = await import('node:fs');
  const [{ readLabourList, labourListXlsx }, { keptLabourList }] = await Promise.all([import('../../sync/hub/reports/labour-list.js'), import('../../sync/hub/reports/scheduler.js')]);
  const { localTimeIn } = await import('../../base/common/time.js');
  return withHub(o.config, async ({ directory, settings }) => {
    const zone = settings.time.zone;
    let file: { body: Buffer; madeMs: number; workers: number };
    if (o.kept) {
      const kept = await keptLabourList(directory.sql, o.org);
      if (!kept) throw new CliError(`no labour list of ${o.org} has been kept by the schedule yet (it is made at reports.labourListTime by \`safegate hub run\`)`);
      file = kept;
    } else {
      const list = await readLabourList(directory.sql, o.org, Date.now());
      if (!list) throw new CliError(`no organisation ${o.org} (see \`safegate hub org list\`)`);
      file = { body: await labourListXlsx(list, zone), madeMs: list.madeMs, workers: list.rows.length };
    }
    try {
      writeFileSync(o.out, file.body, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new CliError(`cannot write ${o.out} (${(err as NodeJS.ErrnoException).code ?? String(err)}; an existing file is never overwritten)`);
    }
    return `${o.out}: the labour list of ${o.org}, ${file.workers} worker(s), as of ${localTimeIn(file.madeMs, zone)} (province time)`;
  });
}

async function showSummary(o: { config: string; org?: string; date?: string; json?: boolean }): Promise<string> {
  const { dailySummary, SummaryError, summaryText, withoutHealthReasons } = await import('../../sync/hub/reports/daily-summary.js');
  return withHub(o.config, async ({ directory, store, settings }) => {
    let summary;
    try {
      summary = withoutHealthReasons(
        await dailySummary(
          { directory, store, zone: settings.time.zone, silentAfterMs: settings.alerts.silentKioskMinutes * 60_000 },
          { ...(o.date !== undefined ? { day: o.date } : {}), ...(o.org !== undefined ? { orgId: o.org } : {}) },
          Date.now(),
        ),
      );
    } catch (err) {
      if (err instanceof SummaryError) throw new CliError(err.message);
      throw err;
    }
    if (o.json) return JSON.stringify(summary, null, 2);
    const orgName = o.org === undefined ? null : ((await directory.organisations()).find((x) => x.id === o.org)?.name ?? null);
    return summaryText(summary, orgName, settings.time.zone, 'en');
  });
}
