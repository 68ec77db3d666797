import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../base/node/logger.js';
import { dayKeyIn } from '../../base/common/time.js';
import { periodOf, TraceError, type TraceRequest, type TraceResult } from '../../sync/hub/trace.js';
import { SavedTraces, TRACE_ID_PATTERN, traceCsv, traceExportRows, tracedWorkers, traceXlsx, type SavedTraceSummary, type TraceView } from '../../sync/hub/traces.js';
import type { ConsoleStore } from './accounts.js';
import { errorSchema, identifierJson, orgScope, type ConsoleHubData } from './scope.js';
import type { ConsoleRole } from './accounts.js';

/** Tracing is health data: health officers (every organisation) and managers (their own). Operators run the hub, not the tracing. */
export const TRACE_ROLES: readonly ConsoleRole[] = ['health', 'manager'];
/** Traces running at once in this hub process (each holds weeks of events in memory): a third waits its turn, refused as busy. */
export const MAX_TRACES_AT_ONCE = 2;
let tracesRunning = 0;
/** Traces one address may start a minute: a trace reads weeks of events. */
const TRACES_PER_MINUTE = 20;

/** What the console needs to trace: the Tracer (sync/hub/trace.ts) and the saved traces. */
export interface ConsoleTracing {
  tracer: { trace(request: TraceRequest): Promise<TraceResult> };
  saved: SavedTraces;
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: TRACE_ID_PATTERN.source } }, additionalProperties: false } as const;

/**
 * The console's tracing (issue 11): start a trace of a worker (the Tracer runs, its result is saved),
 * list and open earlier ones, mark a contact as told, export a trace for the health authority as
 * XLSX or CSV. A health officer traces any worker and sees every contact; a manager traces a worker
 * on their organisation's list only and sees their organisation's contacts, with a count of the
 * others (the health officer has them). Operators have no access: a trace says who is a case and who
 * was near them, which is health data (Decree 13), and operators see no health reasons elsewhere
 * either. Every start, view, mark and export writes one more audit entry naming the trace and its
 * counts, never a worker (the worker of a mark travels in a `:worker` parameter the trail leaves out).
 */
export function registerTraceRoutes(app: FastifyInstance, hub: ConsoleHubData & { tracing: ConsoleTracing }, accounts: ConsoleStore, log: Logger, now: () => number): void {
  const { directory, zone, tracing } = hub;
  const audit = (req: FastifyRequest, action: string, target: string, outcome: 'ok' | 'refused' | 'failed') =>
    void accounts
      .audit({ at: new Date(now()).toISOString(), account: req.account?.name ?? '-', action, target, outcome, ip: req.ip })
      .catch((err: unknown) => log.error({ err: (err as Error).message }, 'audit entry not written'));

  /** A trace this viewer may open, or 404 (another organisation's looks like none, and the attempt is on the record). */
  const viewOr404 = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, action: string): Promise<TraceView | undefined> => {
    const view = await tracing.saved.view(req.params.id, orgScope(req));
    if (!view) {
      if (await tracing.saved.exists(req.params.id)) audit(req, action, `trace ${req.params.id}: not this organisation's`, 'refused');
      void reply.code(404).send({ error: 'no such trace' });
    }
    return view;
  };

  /**
   * A trace as the page shows it: names and teams (from the lists) of the case and of the contacts
   * this viewer may see; visitors by the name and visit they gave, and those on the case's sites meanwhile.
   */
  const shown = async (view: TraceView) => {
    const workers = await tracedWorkers(directory.sql, [view.caseWorkerId, ...view.result.contacts.map((c) => c.workerId)]);
    const marks = new Map(view.notifiedMarks.map((m) => [m.workerId, m]));
    const person = (id: string) => {
      const w = workers.get(id);
      return { fullName: w?.fullName ?? null, team: w?.team ?? null };
    };
    return {
      zone,
      trace: summaryOf(view),
      case: { workerId: view.caseWorkerId, orgId: view.caseOrgId, ...person(view.caseWorkerId) },
      casePresence: view.result.casePresence,
      // A visitor contact (issue 14) is named by their visit: the name they gave, whom they visited and why.
      contacts: view.result.contacts.map((c) => ({ ...c, ...(c.kind === 'visitor' ? { fullName: c.visitor?.name ?? null, team: null } : person(c.workerId)), notified: marks.get(c.workerId) ?? null })),
      contactsElsewhere: view.contactsElsewhere,
      // Visitors on the case's sites meanwhile, already scoped to the viewer's organisation's sites (viewOf).
      visitorsOnSite: view.result.visitorsOnSite ?? [],
    };
  };

  app.post(
    '/api/traces',
    {
      config: { access: TRACE_ROLES, rateLimit: { max: TRACES_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        body: {
          type: 'object',
          required: ['workerId'],
          properties: { workerId: identifierJson, from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 }, secondDegree: { type: 'boolean' } },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { workerId: string; from?: string; to?: string; secondDegree?: boolean } }>, reply) => {
      const t = now();
      const period = periodOf(req.body.from, req.body.to, t, zone);
      if (typeof period === 'string') return reply.code(400).send({ error: period });
      const scope = orgScope(req);
      const caseOrgId = (await directory.organisationsOf([req.body.workerId])).get(req.body.workerId) ?? null;
      if (scope !== undefined && caseOrgId !== scope) {
        audit(req, 'trace start', 'a worker not on this organisation\'s list', 'refused');
        return reply.code(403).send({ error: `worker ${req.body.workerId} is not on your organisation's list: a health officer traces workers of other organisations` });
      }
      const secondDegree = req.body.secondDegree === true;
      if (tracesRunning >= MAX_TRACES_AT_ONCE) {
        audit(req, 'trace start', `busy: ${tracesRunning} traces running`, 'refused');
        return reply.code(503).header('Retry-After', '5').send({ error: `${tracesRunning} traces are running: busy, try again in a moment` });
      }
      let result: TraceResult | TraceError;
      tracesRunning++;
      try {
        result = await tracing.tracer.trace({ workerId: req.body.workerId, ...period, secondDegree });
      } catch (err) {
        if (!(err instanceof TraceError)) throw err;
        result = err;
      } finally {
        tracesRunning--;
      }
      if (result instanceof TraceError) {
        // The Tracer's own refusal: a worker the hub knows nothing of (404), or a request out of its bounds (400).
        audit(req, 'trace start', /is known/.test(result.message) ? 'a worker unknown to the hub' : 'refused by the tracer', 'refused');
        return reply.code(/is known/.test(result.message) ? 404 : 400).send({ error: result.message });
      }
      const saved = await tracing.saved.save({ result, secondDegree, startedBy: req.account!.name, scopeOrgId: scope ?? null, caseOrgId });
      const f1 = result.contacts.filter((c) => c.degree === 1).length;
      audit(req, 'trace start', `trace ${saved.traceId}: ${dayKeyIn(period.fromMs, zone)} to ${dayKeyIn(period.toMs - 1, zone)}, F1 ${f1}, F2 ${result.contacts.length - f1}`, 'ok');
      return reply.code(201).send(await shown((await tracing.saved.view(saved.traceId, scope))!));
    },
  );

  app.get(
    '/api/traces',
    { config: { access: TRACE_ROLES }, schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500 } }, additionalProperties: false } } },
    async (req: FastifyRequest<{ Querystring: { limit?: number } }>) => {
      const list = await tracing.saved.list(orgScope(req), req.query.limit ?? 200);
      const names = await tracedWorkers(directory.sql, list.map((s) => s.caseWorkerId));
      // The province zone and the hub's time with them: the page shows every time and day in the zone, and offers the last 14 days by the hub's clock.
      return { zone, nowMs: now(), traces: list.map((s) => ({ ...summaryOf(s), caseName: names.get(s.caseWorkerId)?.fullName ?? null })) };
    },
  );

  app.get(
    '/api/traces/:id',
    { config: { access: TRACE_ROLES }, schema: { params: idParams, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const view = await viewOr404(req, reply, 'trace view');
      if (!view) return reply;
      audit(req, 'trace view', `trace ${view.traceId}: ${view.result.contacts.length} contacts shown`, 'ok');
      return shown(view);
    },
  );

  app.post(
    '/api/traces/:id/contacts/:worker/notified',
    {
      config: { access: TRACE_ROLES, rateLimit: { max: 300, timeWindow: 60_000 } },
      schema: { params: { type: 'object', required: ['id', 'worker'], properties: { id: idParams.properties.id, worker: identifierJson }, additionalProperties: false }, response: { '4xx': errorSchema } },
    },
    async (req: FastifyRequest<{ Params: { id: string; worker: string } }>, reply) => {
      const scope = orgScope(req);
      if (!(await tracing.saved.get(req.params.id, scope))) {
        if (await tracing.saved.exists(req.params.id)) audit(req, 'trace contact notified', `trace ${req.params.id}: not this organisation's`, 'refused');
        return reply.code(404).send({ error: 'no such trace' });
      }
      const mark = await tracing.saved.markNotified(req.params.id, req.params.worker, req.account!.name, scope);
      if (!mark) {
        audit(req, 'trace contact notified', `trace ${req.params.id}: not a contact this account may see`, 'refused');
        return reply.code(404).send({ error: 'no such contact in this trace' });
      }
      const rank = (await tracing.saved.view(req.params.id, scope))?.result.contacts.find((c) => c.workerId === req.params.worker)?.rank;
      audit(req, 'trace contact notified', `trace ${req.params.id}: contact ranked ${String(rank ?? '-')}`, 'ok');
      return mark;
    },
  );

  for (const format of ['csv', 'xlsx'] as const) {
    app.get(
      `/api/traces/:id/export.${format}`,
      {
        config: { access: TRACE_ROLES, rateLimit: { max: 30, timeWindow: 60_000 } },
        schema: { params: idParams, querystring: { type: 'object', properties: { lang: { type: 'string', enum: ['vi', 'en'] } }, additionalProperties: false }, response: { '4xx': errorSchema } },
      },
      async (req: FastifyRequest<{ Params: { id: string }; Querystring: { lang?: 'vi' | 'en' } }>, reply) => {
        const view = await viewOr404(req, reply, 'trace export');
        if (!view) return reply;
        const lang = req.query.lang ?? 'vi';
        const workers = await tracedWorkers(directory.sql, view.result.contacts.map((c) => c.workerId));
        const rows = traceExportRows(view, workers, zone, lang);
        audit(req, 'trace export', `trace ${view.traceId}: ${format}, ${view.result.contacts.length} contacts, ${rows.length - 1} rows`, 'ok');
        const name = `truy-vet-${dayKeyIn(view.startedMs, zone)}-${view.traceId.slice(0, 8)}.${format}`;
        // Names and where people were: a download, never cached.
        return reply
          .header('Content-Disposition', `attachment; filename="${name}"`)
          .header('Cache-Control', 'no-store')
          .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
          .send(Buffer.from(format === 'csv' ? traceCsv(rows) : await traceXlsx(rows, lang)));
      },
    );
  }
}

/** A saved trace's summary as the console sends it (the viewer's count of contacts when given a view). */
function summaryOf(s: SavedTraceSummary & Partial<Pick<TraceView, 'result' | 'contactsElsewhere'>>) {
  return {
    traceId: s.traceId,
    caseWorkerId: s.caseWorkerId,
    caseOrgId: s.caseOrgId,
    scopeOrgId: s.scopeOrgId,
    fromMs: s.fromMs,
    toMs: s.toMs,
    secondDegree: s.secondDegree,
    options: s.options,
    startedBy: s.startedBy,
    startedMs: s.startedMs,
    contacts: s.result ? s.result.contacts.length : s.contacts,
    notified: s.notified,
  };
}
