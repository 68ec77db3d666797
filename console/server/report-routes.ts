import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../../base/node/logger.js';
import { dailySummary, SummaryError, withoutHealthReasons } from '../../sync/hub/reports/daily-summary.js';
import { LabourListBusyError, labourListFileName, makeLabourListXlsx, readLabourList } from '../../sync/hub/reports/labour-list.js';
import { keptLabourList, keptLabourLists } from '../../sync/hub/reports/scheduler.js';
import type { ConsoleRole, ConsoleStore } from './accounts.js';
import { ALL_ROLES, errorSchema, identifierJson, mayReachOrg, orgScope, type ConsoleHubData } from './scope.js';

/** What the reports need beyond the hub's data: the alerts' silence threshold (`alerts.silentKioskMinutes`). */
export interface ConsoleReports {
  silentAfterMs: number;
}

/** The alerts' default threshold (15 minutes), for a console given none. */
const DEFAULT_SILENT_AFTER_MS = 15 * 60_000;
/** Labour lists one account may make a minute: each reads a whole organisation (100,000 workers at most). */
const LISTS_PER_MINUTE = 10;
const SUMMARIES_PER_MINUTE = 60;

/** Who may have a labour list (named test results, ID numbers, phones): a manager (their own organisation) and health officers; never an operator. */
export const LABOUR_LIST_ROLES: readonly ConsoleRole[] = ['manager', 'health'];

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * Reports (sync/hub/reports/): a day's summary and the CV 2242 labour list.
 *
 * - GET /api/reports/summary?date=&org= — a manager their organisation's only (another's is 403 and
 *   on the audit trail as refused); operators and health officers any organisation's, or the
 *   province's without `org`. Health reasons are shown by code to health officers and managers (as
 *   the entries page does); an operator sees them counted as one.
 * - GET /api/reports/labour-list.xlsx?org=[&kept=true] — the list as the directory holds it now, or
 *   the one the scheduler kept at its time; a manager their own organisation's; health officers any
 *   (the list is what CV 2242 has employers report to the authorities). Never an operator's: it holds
 *   named test results, ID numbers and phones, and operators see no health data (their summaries
 *   count health reasons as one). Every download is on the audit trail with the organisation and its rows.
 * - GET /api/reports/labour-lists — the kept lists (organisation, day, workers), a manager's own;
 *   the same two roles as the lists themselves.
 */
export function registerReportRoutes(app: FastifyInstance, hub: ConsoleHubData, accounts: ConsoleStore, log: Logger, now: () => number): void {
  const { directory, store, zone } = hub;
  const silentAfterMs = hub.reports?.silentAfterMs ?? DEFAULT_SILENT_AFTER_MS;
  const audit = (req: FastifyRequest, action: string, target: string, outcome: 'ok' | 'refused') =>
    void accounts
      .audit({ at: new Date(now()).toISOString(), account: req.account?.name ?? '-', action, target, outcome, ip: req.ip })
      .catch((err: unknown) => log.error({ err: (err as Error).message }, 'audit entry not written'));

  app.get(
    '/api/reports/summary',
    {
      config: { access: ALL_ROLES, rateLimit: { max: SUMMARIES_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        querystring: { type: 'object', properties: { date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, org: identifierJson }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Querystring: { date?: string; org?: string } }>, reply) => {
      const role = req.account!.role;
      const orgId = req.query.org ?? orgScope(req);
      if (orgId !== undefined && !mayReachOrg(req, reply, orgId)) return reply;
      try {
        const summary = await dailySummary({ directory, store, zone, silentAfterMs }, { ...(req.query.date ? { day: req.query.date } : {}), ...(orgId !== undefined ? { orgId } : {}) }, now());
        const orgName = orgId === undefined ? null : ((await directory.organisations()).find((o) => o.id === orgId)?.name ?? null);
        // The zone: the page shows times as the province reads them, whatever the browser's zone.
        return { ...(role === 'health' || role === 'manager' ? summary : withoutHealthReasons(summary)), orgName, zone };
      } catch (err) {
        if (!(err instanceof SummaryError)) throw err;
        return reply.code(/^no organisation/.test(err.message) ? 404 : 400).send({ error: err.message });
      }
    },
  );

  app.get(
    '/api/reports/labour-list.xlsx',
    {
      config: { access: LABOUR_LIST_ROLES, rateLimit: { max: LISTS_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        querystring: { type: 'object', required: ['org'], properties: { org: identifierJson, kept: { type: 'boolean' } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Querystring: { org: string; kept?: boolean } }>, reply) => {
      const orgId = req.query.org;
      if (!mayReachOrg(req, reply, orgId)) {
        audit(req, 'labour list download', `organisation ${orgId}: not this account's`, 'refused');
        return reply;
      }
      let file: { body: Buffer; madeMs: number; rows: number } | undefined;
      if (req.query.kept) {
        const kept = await keptLabourList(directory.sql, orgId);
        file = kept && { body: kept.body, madeMs: kept.madeMs, rows: kept.workers };
        if (!file) return reply.code(404).send({ error: `no labour list of ${orgId} has been made by the schedule yet` });
      } else {
        const list = await readLabourList(directory.sql, orgId, now());
        if (!list) return reply.code(404).send({ error: `no organisation ${orgId}` });
        try {
          file = { body: await makeLabourListXlsx(list, zone), madeMs: list.madeMs, rows: list.rows.length };
        } catch (err) {
          if (!(err instanceof LabourListBusyError)) throw err;
          return reply.code(503).header('Retry-After', '60').send({ error: err.message });
        }
      }
      audit(req, 'labour list download', `organisation ${orgId}: ${file.rows} workers${req.query.kept ? ' (kept list)' : ''}`, 'ok');
      return reply
        .header('Content-Disposition', `attachment; filename="${labourListFileName(orgId, file.madeMs, zone)}"`)
        .header('Cache-Control', 'no-store')
        .type(XLSX_TYPE)
        .send(file.body);
    },
  );

  app.get(
    '/api/reports/labour-lists',
    {
      config: { access: LABOUR_LIST_ROLES },
      schema: {
        response: {
          200: { type: 'array', items: { type: 'object', properties: { orgId: { type: 'string' }, day: { type: 'string' }, madeMs: { type: 'integer' }, workers: { type: 'integer' } } } },
        },
      },
    },
    async (req) => keptLabourLists(directory.sql, orgScope(req)),
  );
}
