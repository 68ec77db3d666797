import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DENY_REASONS, type DenyReason } from '../../base/common/reasons.js';
import { dayRangeIn, parseInstant } from '../../base/common/time.js';
import { ALL_ROLES, errorSchema, identifierJson, OPERATOR, orgScope, type ConsoleHubData } from './scope.js';

/** A device heard from within this long is online (kiosks report every minute by default). */
export const ONLINE_WITHIN_MS = 3 * 60_000;
/** A device not heard from for this long (or never) is marked silent. */
export const SILENT_AFTER_MS = 10 * 60_000;
/** At most this many passages are listed per request (the counts cover the whole day). */
const MAX_LISTED = 500;
/** What a viewer who may not see health reasons sees in their place. */
export const HEALTH_REASON_HIDDEN = 'HEALTH';
/** Alerts whose kind itself tells a person's health status. */
const HEALTH_ALERT_KINDS: ReadonlySet<string> = new Set(['flagged-entry-attempt', 'quarantined-entry-attempt', 'confirmed-case-entry-attempt']);
/** What a viewer who may not see health reasons sees in place of such an alert's kind. */
export const HEALTH_ALERT_HIDDEN = 'health-entry-attempt';

/**
 * Devices (from heartbeats and the hub's last contact), entries (a day's passages at a site, denied
 * ones counted by reason) and notices (operators publish and withdraw). A manager sees the devices
 * at checkpoints serving their organisation and the passages of their own workers; health reasons
 * are shown to health officers and to the worker's own organisation's manager only.
 */
export function registerOperationsRoutes(app: FastifyInstance, hub: ConsoleHubData, now: () => number): void {
  const { directory, store, zone } = hub;

  app.get('/api/devices', { config: { access: ALL_ROLES } }, async (req) => {
    const scope = orgScope(req);
    const at = new Map<string, { siteId: string; checkpointId: string | null }>();
    for (const [siteId, devices] of directory.sites()) for (const d of devices) at.set(d, { siteId, checkpointId: null });
    const allowed = new Set<string>();
    for (const c of directory.checkpoints()) {
      for (const d of c.devices) {
        at.set(d, { siteId: c.siteId, checkpointId: c.id });
        if (scope === undefined || c.orgIds.includes(scope)) allowed.add(d);
      }
    }
    const ids = [...at.keys()].filter((d) => scope === undefined || allowed.has(d)).sort();
    const seen = await store.lastSeen(ids);
    const t = now();
    return Promise.all(
      ids.map(async (deviceId) => {
        const hb = await store.lastHeartbeat(deviceId);
        const lastSeenMs = seen.get(deviceId) ?? null;
        const quietMs = lastSeenMs === null ? null : Math.max(0, t - lastSeenMs);
        return {
          deviceId,
          ...at.get(deviceId)!,
          lastSeenMs,
          quietMs,
          online: quietMs !== null && quietMs <= ONLINE_WITHIN_MS,
          silent: quietMs === null || quietMs > SILENT_AFTER_MS,
          software: hb?.software ?? null,
          outboxDepth: hb?.outboxDepth ?? null,
          oldestUnsyncedAgeS: hb?.oldestUnsyncedAgeS ?? null,
          rosterAgeS: hb?.rosterAgeS ?? null,
          policyVersion: hb?.policyVersion ?? null,
          clockOffsetMs: hb?.clockOffsetMs ?? null,
          disk: hb?.disk?.level ?? null,
          heartbeatAtMs: hb?.atMs ?? null,
        };
      }),
    );
  });

  app.get(
    '/api/entries',
    {
      config: { access: ALL_ROLES },
      schema: {
        querystring: {
          type: 'object',
          required: ['day'],
          properties: { day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, site: identifierJson, worker: { type: 'string', maxLength: 64 } },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Querystring: { day: string; site?: string; worker?: string } }>, reply) => {
      const dayStart = parseInstant(req.query.day, zone);
      if (dayStart instanceof Error) return reply.code(400).send({ error: `day: ${dayStart.message}` });
      const { fromMs, toMs } = dayRangeIn(dayStart, zone);
      const scope = orgScope(req);
      const role = req.account!.role;
      const devices = req.query.site ? directory.siteMembers(req.query.site) : undefined;
      if (devices && devices.length === 0) return { day: req.query.day, total: 0, allowed: 0, denied: 0, deniedByReason: {}, entries: [] };
      const wanted = req.query.worker?.trim().toLowerCase() || undefined;
      // A worker is found by id or by name (on an uploaded list, of the manager's organisation for a manager).
      const named = wanted ? new Set(directory.searchWorkers(scope, req.query.worker!.trim(), 1000).map((w) => w.workerId)) : undefined;
      const passages = [];
      for (const deviceId of devices ?? [undefined]) {
        for await (const e of store.events({ ...(deviceId ? { deviceId } : {}), sinceMs: fromMs })) {
          const whenMs = e.correctedWallMs ?? e.wallMs;
          if (whenMs >= toMs || whenMs < fromMs) continue;
          if (wanted && !(e.workerId !== null && (e.workerId.toLowerCase().includes(wanted) || named!.has(e.workerId)))) continue;
          passages.push({ ...e, whenMs });
        }
      }
      const orgOf = directory.organisationsOf(passages.flatMap((p) => (p.workerId ? [p.workerId] : [])));
      // A manager sees their own workers' passages only; they may see their health reasons.
      const visible = scope === undefined ? passages : passages.filter((p) => p.workerId !== null && orgOf.get(p.workerId) === scope);
      const mayReadHealth = role === 'health' || role === 'manager';
      const shown = (r: DenyReason) => (mayReadHealth || !DENY_REASONS[r]?.sensitive ? r : HEALTH_REASON_HIDDEN);
      const deniedByReason: Record<string, number> = {};
      let allowed = 0;
      let denied = 0;
      for (const p of visible) {
        if (p.decision === 'allow') allowed++;
        else if (p.decision === 'deny') {
          denied++;
          for (const r of new Set(p.reasons.map(shown))) deniedByReason[r] = (deniedByReason[r] ?? 0) + 1;
        }
      }
      visible.sort((a, b) => b.whenMs - a.whenMs);
      return {
        day: req.query.day,
        total: visible.length,
        allowed,
        denied,
        deniedByReason,
        entries: visible.slice(0, MAX_LISTED).map((p) => ({
          deviceId: p.deviceId,
          checkpointId: p.checkpointId,
          whenMs: p.whenMs,
          clock: p.clock,
          direction: p.direction,
          workerId: p.workerId,
          orgId: p.workerId ? (orgOf.get(p.workerId) ?? null) : null,
          decision: p.decision,
          reasons: [...new Set(p.reasons.map(shown))],
        })),
      };
    },
  );

  app.get(
    '/api/alerts',
    {
      config: { access: ALL_ROLES },
      schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } }, additionalProperties: false }, response: { '4xx': errorSchema } },
    },
    async (req: FastifyRequest<{ Querystring: { limit?: number } }>) => {
      const scope = orgScope(req);
      const role = req.account!.role;
      const all = await store.alerts();
      const orgOf = directory.organisationsOf(all.flatMap((a) => (a.workerId ? [a.workerId] : [])));
      // A gate alert (the emergency release) reaches the managers of the organisations its checkpoint serves.
      const servedBy = new Map(directory.checkpoints().flatMap((c) => c.devices.map((d) => [d, c.orgIds] as const)));
      const visible = all.filter((a) => scope === undefined || (a.workerId ? orgOf.get(a.workerId) === scope : (servedBy.get(a.deviceId) ?? []).includes(scope)));
      const mayReadHealth = role === 'health' || role === 'manager';
      return visible
        .sort((a, b) => b.atMs - a.atMs)
        .slice(0, req.query.limit ?? 200)
        .map((a) => {
          const health = HEALTH_ALERT_KINDS.has(a.kind);
          return {
            deviceId: a.deviceId,
            kind: health && !mayReadHealth ? HEALTH_ALERT_HIDDEN : a.kind,
            atMs: a.atMs,
            checkpointId: a.checkpointId,
            workerId: a.workerId ?? null,
            orgId: a.workerId ? (orgOf.get(a.workerId) ?? null) : null,
            reasons: [...new Set(a.reasons.map((r) => (mayReadHealth || !DENY_REASONS[r as DenyReason]?.sensitive ? r : HEALTH_REASON_HIDDEN)))],
            // A supervisor's free text may name a health matter: only those who may read health see it.
            note: mayReadHealth ? (a.note ?? null) : null,
          };
        });
    },
  );

  app.get('/api/notices', { config: { access: ALL_ROLES } }, async () => directory.notices());

  app.post(
    '/api/notices',
    {
      config: { access: OPERATOR },
      schema: {
        body: {
          type: 'object',
          required: ['id', 'vi', 'priority', 'expiresAtMs'],
          properties: {
            id: identifierJson,
            vi: { type: 'string', minLength: 1, maxLength: 2_000 },
            en: { type: 'string', minLength: 1, maxLength: 2_000 },
            priority: { type: 'string', enum: ['info', 'important', 'urgent'] },
            startsAtMs: { type: 'integer', minimum: 0 },
            expiresAtMs: { type: 'integer', minimum: 1 },
          },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { id: string; vi: string; en?: string; priority: 'info' | 'important' | 'urgent'; startsAtMs?: number; expiresAtMs: number } }>, reply) => {
      const b = req.body;
      const startsAtMs = b.startsAtMs ?? now();
      if (b.expiresAtMs <= Math.max(startsAtMs, now())) return reply.code(400).send({ error: 'a notice must expire in the future, after it starts' });
      const rev = directory.publishNotice({ id: b.id, vi: b.vi, en: b.en ?? null, priority: b.priority, startsAtMs, expiresAtMs: b.expiresAtMs });
      return reply.code(201).send({ id: b.id, rev });
    },
  );

  app.delete(
    '/api/notices/:id',
    { config: { access: OPERATOR }, schema: { params: { type: 'object', required: ['id'], properties: { id: identifierJson } }, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      try {
        return { id: req.params.id, rev: directory.withdrawNotice(req.params.id) };
      } catch (err) {
        return reply.code(404).send({ error: (err as Error).message });
      }
    },
  );
}
