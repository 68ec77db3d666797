import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ALL_ROLES, errorSchema, identifierJson, orgScope, type ConsoleHubData } from './scope.js';

/** Trips listed per request on the Devices page, newest first. */
const DEFAULT_LISTED = 20;
const MAX_LISTED = 200;

/**
 * A bus unit's recent trips on the Devices page (issue 13), from the hub's trips read model
 * (sync/hub/trips.ts), each with its riders. Whom a viewer sees is decided by the store: a manager the
 * buses at checkpoints serving their organisation only (as the device list), and of their riders and
 * driver those their organisation's list held when the hub received the events (the count of the
 * others apart); operators and health officers every rider. Times are epoch ms, as on every console
 * route; positions are left out (the page does not show them).
 */
export function registerTripRoutes(app: FastifyInstance, hub: ConsoleHubData): void {
  const { directory, store } = hub;

  app.get(
    '/api/devices/:id/trips',
    {
      config: { access: ALL_ROLES },
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: identifierJson } },
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LISTED } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { id: string }; Querystring: { limit?: number } }>, reply) => {
      const scope = orgScope(req);
      if (scope !== undefined) {
        const served = (await directory.checkpoints()).some((c) => c.orgIds.includes(scope) && c.devices.includes(req.params.id));
        // The same answer as for a device that does not exist: a manager learns nothing of other organisations' buses.
        if (!served) return reply.code(404).send({ error: `no device ${req.params.id}` });
      }
      const trips = await store.trips({ deviceId: req.params.id, limit: req.query.limit ?? DEFAULT_LISTED, ...(scope !== undefined ? { orgId: scope } : {}) });
      // Where riders boarded and alighted is not on the page: positions stay at the hub (`safegate hub trips`).
      return {
        deviceId: req.params.id,
        trips: trips.map(({ startPosition: _s, endPosition: _e, riders, ...t }) => ({ ...t, riders: riders.map(({ boardedPosition: _b, alightedPosition: _a, ...r }) => r) })),
      };
    },
  );
}
