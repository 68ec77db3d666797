import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DENY_REASONS, type DenyReason } from '../../base/common/reasons.js';
import { workerIdSchema } from '../../base/common/ids.js';
import { dayRangeIn, parseInstant } from '../../base/common/time.js';
import { cursorOf, type EventCursor, type EventFilter } from '../../sync/hub/store.js';
import { RevocationMarks } from '../../sync/hub/fleet/revocation-marks.js';
import { UnknownDeviceError } from '../../sync/hub/fleet/revocation.js';
import { ALL_ROLES, errorSchema, identifierJson, OPERATOR, orgScope, type ConsoleHubData } from './scope.js';

const DAY_MS = 86_400_000;

/** A device heard from within this long is online (kiosks report every minute by default). */
export const ONLINE_WITHIN_MS = 3 * 60_000;
/** A device not heard from for this long (or never) is marked silent. */
export const SILENT_AFTER_MS = 10 * 60_000;
/** At most this many passages are listed per request, newest first (the counts cover the whole day); `next` asks for the older ones. */
const MAX_LISTED = 500;
/** A page's end as the `before` of the next: time, sequence number and device (a device id has no colon). */
const CURSOR_PATTERN = '^\\d{1,16}:\\d{1,16}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const cursorText = (c: EventCursor) => `${c.timeMs}:${c.seq}:${c.deviceId}`;
function parseCursor(text: string): EventCursor {
  const [timeMs, seq, ...device] = text.split(':');
  return { timeMs: Number(timeMs), seq: Number(seq), deviceId: device.join(':') };
}
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
    for (const [siteId, devices] of await directory.sites()) for (const d of devices) at.set(d, { siteId, checkpointId: null });
    const allowed = new Set<string>();
    // A unit at a bus checkpoint runs trips (issue 13): the page offers its trips.
    const buses = new Set<string>();
    for (const c of await directory.checkpoints()) {
      for (const d of c.devices) {
        at.set(d, { siteId: c.siteId, checkpointId: c.id });
        if (c.kind === 'bus') buses.add(d);
        if (scope === undefined || c.orgIds.includes(scope)) allowed.add(d);
      }
    }
    // Enrolled devices not (yet) placed in a site are the province's: shown to those who see every device.
    const enrolled = new Map((hub.fleet ? await hub.fleet.book.devices() : []).map((d) => [d.deviceId, d]));
    // Revoked devices the hub never enrolled (provisioned by hand) are marked in the directory only.
    const revokedAt = new Map((hub.fleet ? await new RevocationMarks(directory.sql).list() : []).map((m) => [m.deviceId, m.revokedAtMs]));
    const ids = [...new Set([...at.keys(), ...(scope === undefined ? enrolled.keys() : [])])].filter((d) => scope === undefined || allowed.has(d)).sort();
    // One query for every device, however many a province has.
    const status = await store.deviceStatus(ids);
    const t = now();
    return ids.map((deviceId) => {
        const hb = status.get(deviceId)?.heartbeat;
        const lastSeenMs = status.get(deviceId)?.lastSeenMs ?? null;
        const quietMs = lastSeenMs === null ? null : Math.max(0, t - lastSeenMs);
        const e = enrolled.get(deviceId);
        return {
          deviceId,
          ...(at.get(deviceId) ?? { siteId: null, checkpointId: null }),
          bus: buses.has(deviceId),
          enrolled: e !== undefined,
          revoked: e?.revokedAtMs != null || revokedAt.has(deviceId),
          revokedAtMs: e?.revokedAtMs ?? revokedAt.get(deviceId) ?? null,
          // The kiosk's own figure when it reports one, else what the hub issued.
          certDaysLeft: hb?.fleet?.certDaysLeft ?? (e ? Math.round(((e.certNotAfterMs - t) / DAY_MS) * 10) / 10 : null),
          settingsVersion: hb?.fleet?.settingsVersion ?? null,
          settingsRefused: hb?.fleet?.settingsRefused ?? null,
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
      });
  });

  app.get(
    '/api/entries',
    {
      config: { access: ALL_ROLES },
      schema: {
        querystring: {
          type: 'object',
          required: ['day'],
          properties: {
            day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            site: identifierJson,
            worker: { type: 'string', maxLength: 64 },
            before: { type: 'string', pattern: CURSOR_PATTERN },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LISTED },
          },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Querystring: { day: string; site?: string; worker?: string; before?: string; limit?: number } }>, reply) => {
      const dayStart = parseInstant(req.query.day, zone);
      if (dayStart instanceof Error) return reply.code(400).send({ error: `day: ${dayStart.message}` });
      const { fromMs, toMs } = dayRangeIn(dayStart, zone);
      const scope = orgScope(req);
      const role = req.account!.role;
      const devices = req.query.site ? await directory.siteMembers(req.query.site) : undefined;
      const none = { day: req.query.day, total: 0, allowed: 0, denied: 0, deniedByReason: {}, entries: [], next: null };
      if (devices && devices.length === 0) return none;
      // A manager sees the passages stamped with their organisation (its list held the worker when the
      // hub received them), never those of a worker who was another's then; a worker is searched by id
      // or by name (on an uploaded list, of the manager's organisation for a manager), and by an id on
      // no list too for others.
      let workerIds: string[] | undefined;
      const term = req.query.worker?.trim();
      if (term) {
        const named = (await directory.searchWorkers(scope, term, 1000)).map((w) => w.workerId);
        workerIds = scope === undefined && workerIdSchema.safeParse(term).success ? [...new Set([...named, term])] : named;
      }
      if (workerIds?.length === 0) return none;
      // The day's events only, by their time as the hub dates them, counted and paged by the store.
      // Passages only: a declaration or a visitor record made at a kiosk is not someone going through.
      const filter: EventFilter = { ...(devices ? { deviceIds: devices } : {}), ...(workerIds ? { workerIds } : {}), ...(scope !== undefined ? { orgId: scope } : {}), sinceMs: fromMs, untilMs: toMs, passagesOnly: true };
      const limit = req.query.limit ?? MAX_LISTED;
      const [counts, page] = await Promise.all([
        store.eventCounts(filter),
        store.latestEvents({ ...filter, limit: limit + 1, ...(req.query.before ? { before: parseCursor(req.query.before) } : {}) }),
      ]);
      const listed = page.slice(0, limit);
      const mayReadHealth = role === 'health' || role === 'manager';
      const shown = (r: DenyReason) => (mayReadHealth || !DENY_REASONS[r]?.sensitive ? r : HEALTH_REASON_HIDDEN);
      const deniedByReason: Record<string, number> = {};
      let total = 0;
      let allowed = 0;
      let denied = 0;
      for (const c of counts) {
        total += c.count;
        if (c.decision === 'allow') allowed += c.count;
        else if (c.decision === 'deny') {
          denied += c.count;
          for (const r of new Set(c.reasons.map((x) => shown(x as DenyReason)))) deniedByReason[r] = (deniedByReason[r] ?? 0) + c.count;
        }
      }
      return {
        day: req.query.day,
        total,
        allowed,
        denied,
        deniedByReason,
        entries: listed.map((p) => ({
          deviceId: p.deviceId,
          checkpointId: p.checkpointId,
          whenMs: p.correctedWallMs ?? p.wallMs,
          clock: p.clock,
          direction: p.direction,
          workerId: p.workerId,
          orgId: p.orgId ?? null,
          decision: p.decision,
          reasons: [...new Set(p.reasons.map(shown))],
        })),
        next: page.length > limit ? cursorText(cursorOf(listed.at(-1)!)) : null,
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
      // A gate alert (the emergency release) reaches the managers of the organisations its checkpoint serves.
      const servedBy = new Map((await directory.checkpoints()).flatMap((c) => c.devices.map((d) => [d, c.orgIds] as const)));
      // A worker's alert goes by the organisation stamped on it at receipt, not by the list the worker is on now.
      const visible = all.filter((a) => scope === undefined || (a.workerId ? a.orgId === scope : (servedBy.get(a.deviceId) ?? []).includes(scope)));
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
            orgId: a.orgId ?? null,
            reasons: [...new Set(a.reasons.map((r) => (mayReadHealth || !DENY_REASONS[r as DenyReason]?.sensitive ? r : HEALTH_REASON_HIDDEN)))],
            // A supervisor's free text may name a health matter: only those who may read health see it.
            note: mayReadHealth ? (a.note ?? null) : null,
          };
        });
    },
  );

  // Revoking a (stolen) kiosk: cut off at the broker at once, its certificate on the CRL, the hub
  // refusing it; each step's outcome answered (and the call is on the audit trail like every other).
  app.post(
    '/api/devices/:id/revoke',
    { config: { access: OPERATOR }, schema: { params: { type: 'object', required: ['id'], properties: { id: identifierJson } }, response: { '4xx': errorSchema, '5xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const revoke = hub.fleet?.revoke;
      if (!revoke) return reply.code(503).send({ error: 'devices are revoked with `safegate hub devices revoke` on this hub' });
      try {
        return await revoke(req.params.id);
      } catch (err) {
        if (err instanceof UnknownDeviceError) return reply.code(404).send({ error: err.message });
        throw err;
      }
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
      const rev = await directory.publishNotice({ id: b.id, vi: b.vi, en: b.en ?? null, priority: b.priority, startsAtMs, expiresAtMs: b.expiresAtMs });
      return reply.code(201).send({ id: b.id, rev });
    },
  );

  app.delete(
    '/api/notices/:id',
    { config: { access: OPERATOR }, schema: { params: { type: 'object', required: ['id'], properties: { id: identifierJson } }, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      try {
        return { id: req.params.id, rev: await directory.withdrawNotice(req.params.id) };
      } catch (err) {
        return reply.code(404).send({ error: (err as Error).message });
      }
    },
  );
}
