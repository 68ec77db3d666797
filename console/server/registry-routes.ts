import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CHECKPOINT_KINDS, ORGANISATION_KINDS, RegistryError, type CheckpointKind, type OrganisationKind } from '../../sync/hub/directory.js';
import { MAX_LIST_BYTES, parseWorkerList, WorkerListError } from '../../sync/hub/registry-upload.js';
import { ALL_ROLES, errorSchema, identifierJson, mayReachOrg, OPERATOR, OPERATOR_OR_MANAGER, orgScope, type ConsoleHubData } from './scope.js';

/** The content types a worker list may be sent as: the file's bytes, CSV or XLSX (told apart by its first bytes). */
export const LIST_CONTENT_TYPES = ['text/csv', 'application/octet-stream', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'];

/** A worker as a list shows them: never ID number, phone or residence (the response schema drops anything else). */
const workerRow = {
  type: 'object',
  required: ['workerId', 'orgId', 'siteId', 'team', 'fullName'],
  properties: { workerId: { type: 'string' }, orgId: { type: 'string' }, siteId: { type: 'string' }, team: { type: 'string' }, fullName: { type: 'string' } },
  additionalProperties: false,
} as const;

const nameJson = { type: 'string', minLength: 1, maxLength: 120 } as const;

/** Turns a registry refusal into a 400/409 answer with its reason; anything else is the server's fault. */
function refusal(reply: FastifyReply, err: unknown) {
  if (err instanceof WorkerListError) return reply.code(422).send({ error: err.message.split('\n')[0], problems: err.problems });
  if (err instanceof RegistryError) return reply.code(/already exists|belongs to another/.test(err.message) ? 409 : /^no (checkpoint|site|organisation) /.test(err.message) ? 404 : 400).send({ error: err.message });
  throw err;
}

/**
 * Organisations, sites and checkpoints (operators add them; a manager reads their own organisation's),
 * an organisation's CV 2242 worker list (upload, all or nothing, every bad row by line; search) and
 * every organisation's list age and 15:00 standing.
 */
export function registerRegistryRoutes(app: FastifyInstance, hub: ConsoleHubData, now: () => number): void {
  const { directory, zone } = hub;

  app.get('/api/organisations', { config: { access: ALL_ROLES } }, async (req) => {
    const scope = orgScope(req);
    const standing = new Map((await directory.listCompliance(now(), zone)).map((c) => [c.orgId, c]));
    return (await directory.organisations())
      .filter((o) => scope === undefined || o.id === scope)
      .map((o) => ({ ...o, compliance: standing.get(o.id) ?? null }));
  });

  app.post(
    '/api/organisations',
    {
      config: { access: OPERATOR },
      schema: {
        body: { type: 'object', required: ['id', 'name', 'kind'], properties: { id: identifierJson, name: nameJson, kind: { type: 'string', enum: ORGANISATION_KINDS } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { id: string; name: string; kind: OrganisationKind } }>, reply) => {
      try {
        await directory.addOrganisation(req.body, now());
      } catch (err) {
        return refusal(reply, err);
      }
      return reply.code(201).send({ id: req.body.id });
    },
  );

  app.get(
    '/api/sites',
    { config: { access: ALL_ROLES }, schema: { querystring: { type: 'object', properties: { org: identifierJson }, additionalProperties: false } } },
    async (req: FastifyRequest<{ Querystring: { org?: string } }>, reply) => {
      const org = req.query.org ?? orgScope(req);
      if (org !== undefined && !mayReachOrg(req, reply, org)) return reply;
      try {
        return await directory.registeredSites(org);
      } catch (err) {
        return refusal(reply, err);
      }
    },
  );

  app.post(
    '/api/sites',
    {
      config: { access: OPERATOR },
      schema: {
        body: { type: 'object', required: ['id', 'orgId'], properties: { id: identifierJson, orgId: identifierJson, name: nameJson }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { id: string; orgId: string; name?: string } }>, reply) => {
      let outcome;
      try {
        outcome = await directory.addSite(req.body, now());
      } catch (err) {
        return refusal(reply, err);
      }
      return reply.code(201).send({ id: req.body.id, outcome });
    },
  );

  app.get(
    '/api/checkpoints',
    { config: { access: ALL_ROLES }, schema: { querystring: { type: 'object', properties: { site: identifierJson }, additionalProperties: false } } },
    async (req: FastifyRequest<{ Querystring: { site?: string } }>) => {
      const scope = orgScope(req);
      // A manager sees the checkpoints that serve their organisation (a shared gate included).
      return (await directory.checkpoints(req.query.site)).filter((c) => scope === undefined || c.orgIds.includes(scope));
    },
  );

  app.post(
    '/api/checkpoints',
    {
      config: { access: OPERATOR },
      schema: {
        body: {
          type: 'object',
          required: ['id', 'siteId', 'kind'],
          properties: {
            id: identifierJson,
            siteId: identifierJson,
            name: nameJson,
            kind: { type: 'string', enum: CHECKPOINT_KINDS },
            orgIds: { type: 'array', items: identifierJson, maxItems: 200 },
          },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { id: string; siteId: string; name?: string; kind: CheckpointKind; orgIds?: string[] } }>, reply) => {
      try {
        await directory.addCheckpoint(req.body, now());
      } catch (err) {
        return refusal(reply, err);
      }
      return reply.code(201).send({ id: req.body.id });
    },
  );

  const deviceIdJson = { type: 'string', pattern: '^(?!hub$)[a-z0-9][a-z0-9-]{1,62}$' } as const;

  // Devices are placed at a checkpoint (and so join its site's live stream and get its workers).
  app.post(
    '/api/checkpoints/:id/devices',
    {
      config: { access: OPERATOR },
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: identifierJson } },
        body: { type: 'object', required: ['deviceIds'], properties: { deviceIds: { type: 'array', items: deviceIdJson, minItems: 1, maxItems: 500 } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { id: string }; Body: { deviceIds: string[] } }>, reply) => {
      let changed;
      try {
        changed = await directory.placeDevices(req.params.id, req.body.deviceIds, now());
      } catch (err) {
        return refusal(reply, err);
      }
      return { changed };
    },
  );

  // Which organisations a checkpoint serves (their workers reach its kiosks).
  app.post(
    '/api/checkpoints/:id/organisations',
    {
      config: { access: OPERATOR },
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: identifierJson } },
        body: { type: 'object', required: ['orgIds'], properties: { orgIds: { type: 'array', items: identifierJson, minItems: 1, maxItems: 200 } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { id: string }; Body: { orgIds: string[] } }>, reply) => {
      let r;
      try {
        r = await directory.setCheckpointOrganisations(req.params.id, req.body.orgIds);
      } catch (err) {
        return refusal(reply, err);
      }
      return r;
    },
  );

  app.get('/api/compliance', { config: { access: ALL_ROLES } }, async (req) => {
    const scope = orgScope(req);
    return (await directory.listCompliance(now(), zone)).filter((c) => scope === undefined || c.orgId === scope);
  });

  // The list's bytes as the body: CSV or XLSX. The parser keeps the server's 64 KB limit; only the
  // upload route raises it to the list's own (larger is refused before it is read, and only once
  // the caller is signed in with a role that may upload: the access hook runs before the body is read).
  app.addContentTypeParser(LIST_CONTENT_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post(
    '/api/organisations/:org/workers',
    {
      config: { access: OPERATOR_OR_MANAGER },
      bodyLimit: MAX_LIST_BYTES,
      schema: {
        params: { type: 'object', required: ['org'], properties: { org: identifierJson } },
        querystring: { type: 'object', properties: { site: identifierJson }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Querystring: { site?: string }; Body: unknown }>, reply) => {
      if (!mayReachOrg(req, reply, req.params.org)) return reply;
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
        return reply.code(415).send({ error: `send the list's file as the body (${LIST_CONTENT_TYPES.join(', ')})` });
      }
      const at = now();
      try {
        const list = await parseWorkerList(req.body, zone, at);
        const r = await directory.uploadWorkers(req.params.org, list, { ...(req.query.site ? { siteId: req.query.site } : {}), nowMs: at });
        return r;
      } catch (err) {
        return refusal(reply, err);
      }
    },
  );

  app.get(
    '/api/organisations/:org/workers',
    {
      config: { access: ALL_ROLES },
      schema: {
        params: { type: 'object', required: ['org'], properties: { org: identifierJson } },
        querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 100 }, limit: { type: 'integer', minimum: 1, maximum: 500 } }, additionalProperties: false },
        response: { 200: { type: 'array', items: workerRow }, '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Querystring: { q?: string; limit?: number } }>, reply) => {
      if (!mayReachOrg(req, reply, req.params.org)) return reply;
      if (!(await directory.hasOrganisation(req.params.org))) return reply.code(404).send({ error: `no organisation ${req.params.org}` });
      return directory.searchWorkers(req.params.org, (req.query.q ?? '').trim(), req.query.limit ?? 200);
    },
  );
}
