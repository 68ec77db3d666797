import type { KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { identifierSchema } from '../../base/common/ids.js';
import { rotatingCheckpointCode } from '../../sync/hub/checkpoint-codes.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import { errorSchema, identifierJson, OPERATOR_OR_MANAGER, orgScope } from './scope.js';

/**
 * Rotating-code calls one account may make a minute for one checkpoint. A display asks once a window
 * (30 s) and, while the hub does not answer, a few times more; two screens signed in as the same
 * account at one checkpoint stay well under this. Keyed by account and checkpoint, so a manager's
 * displays at many canteens do not share one budget.
 */
export const ROTATING_CODES_PER_ACCOUNT_PER_MINUTE = 30;

const rotatingCodeResponse = {
  type: 'object',
  required: ['checkpointId', 'name', 'code', 'windowStartMs', 'nextAtMs', 'hubTimeMs'],
  properties: {
    checkpointId: { type: 'string' },
    name: { type: 'string' },
    code: { type: 'string' },
    windowStartMs: { type: 'integer' },
    nextAtMs: { type: 'integer' },
    hubTimeMs: { type: 'integer' },
  },
  additionalProperties: false,
} as const;

/**
 * The rotating checkpoint code a display shows (console/ui/pages/CheckpointDisplay.tsx): the code of
 * the window holding the hub's time, when the next is due, and the hub's time itself, so the screen
 * redraws on the hub's clock rather than its own. Kiosks and tablets never hold the checkpoint-code
 * key: the hub signs each window's code and the screen only draws it. Operators reach every
 * checkpoint; a manager only one that serves their organisation; health officers none (they read,
 * and a check-in code is not theirs to hand out).
 */
export function registerCheckpointCodeRoutes(app: FastifyInstance, directory: HubDirectory, key: KeyObject | undefined, now: () => number): void {
  app.get(
    '/api/checkpoints/:id/rotating-code',
    {
      config: {
        access: OPERATOR_OR_MANAGER,
        rateLimit: {
          max: ROTATING_CODES_PER_ACCOUNT_PER_MINUTE,
          timeWindow: 60_000,
          keyGenerator: (req: FastifyRequest) => `${req.account ? `account:${req.account.name}` : `ip:${req.ip}`}:${(req.params as { id?: string }).id ?? ''}`,
        },
      },
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: identifierJson } },
        response: { 200: rotatingCodeResponse, '4xx': errorSchema, 503: errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      // A code is good for its window only: no browser or proxy may keep it.
      void reply.header('Cache-Control', 'no-store');
      const id = identifierSchema.safeParse(req.params.id);
      if (!id.success) return reply.code(400).send({ error: `checkpoint id: ${id.error.issues[0]?.message ?? 'not an identifier'}` });
      if (!key) {
        return reply.code(503).send({ error: 'this hub has no checkpoint-code key, so it shows no rotating codes: make one with `safegate keys generate --role checkpoint-code` and name it as checkpointCodeKey in the hub settings' });
      }
      const checkpoint = (await directory.checkpoints()).find((c) => c.id === id.data);
      if (!checkpoint) return reply.code(404).send({ error: `no checkpoint ${id.data}` });
      const scope = orgScope(req);
      if (scope !== undefined && !checkpoint.orgIds.includes(scope)) return reply.code(403).send({ error: 'this checkpoint does not serve your organisation' });
      const hubTimeMs = now();
      const r = rotatingCheckpointCode(key, checkpoint.id, hubTimeMs);
      return { checkpointId: checkpoint.id, name: checkpoint.name, code: r.code, windowStartMs: r.windowStartMs, nextAtMs: r.nextAtMs, hubTimeMs };
    },
  );
}
