import type { FastifyInstance, FastifyRequest } from 'fastify';
import { linkUrl, MAX_LINK_HOURS, PhoneLinkError, type LinkRecord, type PhoneLinks } from '../../sync/hub/phone-links.js';
import { ALL_ROLES, errorSchema, identifierJson, mayReachOrg, OPERATOR_OR_MANAGER } from './scope.js';

const orgParams = { type: 'object', required: ['org'], properties: { org: identifierJson } } as const;

/** A link as a list shows it: never its token (given once, when it is made). */
const linkRow = {
  type: 'object',
  properties: {
    linkId: { type: 'string' },
    workerId: { type: 'string' },
    orgId: { type: 'string' },
    madeBy: { type: 'string' },
    madeAtMs: { type: 'integer' },
    expiresAtMs: { type: 'integer' },
    usedAtMs: { type: ['integer', 'null'] },
    retiredAtMs: { type: ['integer', 'null'] },
    passId: { type: ['string', 'null'] },
    state: { type: 'string' },
  },
  additionalProperties: false,
} as const;

/**
 * An organisation's phone links (sync/hub/phone-links.ts): a manager (or an operator) makes one per
 * worker or for a team, to send by SMS or Zalo; a new link retires the worker's old phone. Each
 * link's address is given once, in the answer that makes it, and is built on the address the
 * console was reached by (the TLS proxy's, with console.trustProxy).
 */
export function registerLinkRoutes(app: FastifyInstance, links: PhoneLinks): void {
  app.get(
    '/api/organisations/:org/phone-links',
    {
      config: { access: ALL_ROLES },
      schema: {
        params: orgParams,
        querystring: { type: 'object', properties: { worker: identifierJson, limit: { type: 'integer', minimum: 1, maximum: 1000 } }, additionalProperties: false },
        response: { 200: { type: 'array', items: linkRow }, '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Querystring: { worker?: string; limit?: number } }>, reply) => {
      if (!mayReachOrg(req, reply, req.params.org)) return reply;
      const records: LinkRecord[] = await links.list({ orgId: req.params.org, ...(req.query.worker ? { workerId: req.query.worker } : {}), limit: req.query.limit ?? 200 });
      return records;
    },
  );

  app.post(
    '/api/organisations/:org/phone-links',
    {
      config: { access: OPERATOR_OR_MANAGER },
      schema: {
        params: orgParams,
        body: {
          type: 'object',
          properties: {
            team: { type: 'string', minLength: 1, maxLength: 120 },
            workerIds: { type: 'array', items: identifierJson, minItems: 1, maxItems: 5_000 },
            hours: { type: 'integer', minimum: 1, maximum: MAX_LINK_HOURS },
          },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Body: { team?: string; workerIds?: string[]; hours?: number } }>, reply) => {
      if (!mayReachOrg(req, reply, req.params.org)) return reply;
      let made;
      try {
        made = await links.make({
          orgId: req.params.org,
          madeBy: req.account!.name,
          ...(req.body.team !== undefined ? { team: req.body.team } : {}),
          ...(req.body.workerIds ? { workerIds: req.body.workerIds } : {}),
          ...(req.body.hours !== undefined ? { hours: req.body.hours } : {}),
        });
      } catch (err) {
        if (err instanceof PhoneLinkError) return reply.code(/^no |not on /.test(err.message) ? 404 : 400).send({ error: err.message });
        throw err;
      }
      const base = `${req.protocol}://${req.host}`;
      return reply.code(201).send(made.map((l) => ({ linkId: l.linkId, workerId: l.workerId, fullName: l.fullName, team: l.team, expiresAtMs: l.expiresAtMs, url: linkUrl(base, l.token) })));
    },
  );
}
