import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../base/node/logger.js';
import type { PassRegistry } from '../../sync/hub/passes.js';
import { erasePerson, exportPerson, PersonDataError, type PersonAuditLine, type PersonDataSources } from '../../sync/hub/person-data.js';
import type { ConsoleStore } from './accounts.js';
import { errorSchema, identifierJson, OPERATOR, type ConsoleHubData } from './scope.js';

/**
 * Decree 13 requests about one person (sync/hub/person-data.ts), for operators: access (everything
 * the hub holds, one JSON document to download) and erasure. The worker id travels in the body, so
 * the audit trail's entry for the call (which records the path) names no one; each request writes
 * one more entry with its request id and counts, which goes on the person's request form.
 */
export function registerPersonRoutes(app: FastifyInstance, hub: ConsoleHubData & { passes: PassRegistry }, accounts: ConsoleStore, log: Logger, now: () => number): void {
  const sources = (req: FastifyRequest): PersonDataSources => ({
    directory: hub.directory,
    passes: hub.passes,
    store: hub.store,
    now,
    audit: (line: PersonAuditLine) =>
      void accounts
        .audit({
          at: line.at,
          account: req.account?.name ?? '-',
          action: `person ${line.request}`,
          target: `request ${line.requestId}: ${Object.entries(line.counts)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ')}`,
          outcome: 'ok',
          ip: req.ip,
        })
        .catch((err: unknown) => log.error({ err: (err as Error).message }, 'audit entry not written')),
  });
  const refusal = (reply: FastifyReply, err: unknown) => {
    if (err instanceof PersonDataError) return reply.code(/holds nothing/.test(err.message) ? 404 : 409).send({ error: err.message });
    throw err;
  };

  app.post(
    '/api/person-requests/access',
    {
      config: { access: OPERATOR },
      schema: { body: { type: 'object', required: ['workerId'], properties: { workerId: identifierJson }, additionalProperties: false }, response: { '4xx': errorSchema } },
    },
    async (req: FastifyRequest<{ Body: { workerId: string } }>, reply) => {
      let doc;
      try {
        doc = await exportPerson(sources(req), req.body.workerId, `console:${req.account!.name}`);
      } catch (err) {
        return refusal(reply, err);
      }
      // It holds the ID number, phone and residence: a download, never cached.
      return reply
        .header('Content-Disposition', `attachment; filename="person-${doc.requestId}.json"`)
        .header('Cache-Control', 'no-store')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(doc, null, 2));
    },
  );

  app.post(
    '/api/person-requests/erasure',
    {
      config: { access: OPERATOR },
      schema: {
        body: { type: 'object', required: ['workerId'], properties: { workerId: identifierJson, force: { type: 'boolean' } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { workerId: string; force?: boolean } }>, reply) => {
      try {
        return await erasePerson(sources(req), req.body.workerId, `console:${req.account!.name}`, { force: req.body.force === true });
      } catch (err) {
        return refusal(reply, err);
      }
    },
  );
}
