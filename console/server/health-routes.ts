import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../base/node/logger.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import type { HubStore } from '../../sync/hub/store.js';

/** The parts of a hub process a monitoring system is told about. */
export const HUB_HEALTH_PARTS = ['store', 'directory', 'broker'] as const;
export type HubHealthPart = (typeof HUB_HEALTH_PARTS)[number];

export interface HubHealth {
  status: 'ok' | 'failing';
  /** The parts that failed, in HUB_HEALTH_PARTS order (empty when ok). */
  failing: HubHealthPart[];
  /** Each part: ok, or what failed in a few words (never a database error's text: it may name hosts or users). */
  checks: Record<HubHealthPart, { ok: boolean; detail?: string }>;
}

/** A database that has not answered in this long counts as down (a monitoring poll must not hang). */
const PROBE_TIMEOUT_MS = 3_000;
/** Polls one address may make a minute: a monitoring system polls every few seconds at most. */
export const HEALTH_POLLS_PER_MINUTE = 120;

/**
 * How a hub process checks itself for `GET /healthz`: the event store and the directory each answer
 * a trivial query (SQLite or PostgreSQL alike), and the broker link is up. The caller gives the link's
 * state, since the console starts before the link does.
 */
export function hubHealthProbe(o: { store: HubStore; directory: HubDirectory; brokerLinkUp: () => boolean; log: Logger; timeoutMs?: number }): () => Promise<HubHealth> {
  const timeoutMs = o.timeoutMs ?? PROBE_TIMEOUT_MS;
  const probe = async (part: HubHealthPart, query: () => Promise<unknown>): Promise<{ ok: boolean; detail?: string }> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        query(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { ok: true };
    } catch (err) {
      o.log.warn({ part, err: (err as Error).message }, 'health check failed');
      return { ok: false, detail: /^no answer within/.test((err as Error).message) ? (err as Error).message : 'query failed' };
    } finally {
      clearTimeout(timer);
    }
  };
  return async () => {
    const [store, directory] = await Promise.all([
      // A device id no kiosk has: one indexed lookup, nothing read.
      probe('store', () => o.store.lastSeen(['healthz.probe'])),
      probe('directory', () => o.directory.sql.get(sql<{ one: number }>`SELECT 1 AS one`)),
    ]);
    const broker = o.brokerLinkUp() ? { ok: true } : { ok: false, detail: 'broker link down' };
    const checks = { store, directory, broker };
    const failing = HUB_HEALTH_PARTS.filter((p) => !checks[p].ok);
    return { status: failing.length ? 'failing' : 'ok', failing, checks };
  };
}

const checkSchema = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' }, detail: { type: 'string' } }, additionalProperties: false } as const;
const healthResponse = {
  type: 'object',
  required: ['status', 'failing', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failing'] },
    failing: { type: 'array', items: { type: 'string', enum: HUB_HEALTH_PARTS } },
    checks: { type: 'object', required: [...HUB_HEALTH_PARTS], properties: Object.fromEntries(HUB_HEALTH_PARTS.map((p) => [p, checkSchema])), additionalProperties: false },
  },
  additionalProperties: false,
} as const;

/**
 * `GET /healthz` for monitoring: no sign-in, nothing personal, rate-limited per address, never cached;
 * 200 `{ status: "ok", ... }` when every part answers, 503 with the parts that failed otherwise. Not
 * under /api/, so the audit trail does not fill with polls.
 */
export function registerHealthRoutes(app: FastifyInstance, health: () => Promise<HubHealth>): void {
  app.get(
    '/healthz',
    {
      config: { access: 'public', rateLimit: { max: HEALTH_POLLS_PER_MINUTE, timeWindow: 60_000 } },
      schema: { response: { 200: healthResponse, 503: healthResponse } },
    },
    async (_req, reply) => {
      const report = await health();
      reply.header('Cache-Control', 'no-store');
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );
}
