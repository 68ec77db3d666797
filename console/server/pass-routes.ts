import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassSheetError } from '../../sync/hub/pass-sheet.js';
import { MAX_PASS_DAYS, PassError, type OrganisationPasses, type PassRecord, type PassRegistry } from '../../sync/hub/passes.js';
import { ALL_ROLES, errorSchema, identifierJson, mayReachOrg, OPERATOR_OR_MANAGER } from './scope.js';

const orgParams = { type: 'object', required: ['org'], properties: { org: identifierJson } } as const;
const passIdJson = { type: 'string', pattern: '^[0-9a-f]{16}$' } as const;
const expiresJson = { type: 'integer', minimum: 1 } as const;
const DAY_MS = 86_400_000;
/**
 * Sheets and bulk issues one account may ask a minute. Each signs up to thousands of passes or draws
 * up to 200 cards, so one account (or a stolen session) repeating them could keep the hub's cores and
 * its directory's write lock busy; a manager printing a team's sheets or issuing a few teams' passes
 * stays well under these.
 */
export const SHEETS_PER_ACCOUNT_PER_MINUTE = 6;
export const ISSUES_PER_ACCOUNT_PER_MINUTE = 10;
/** Rate limited per signed-in account (the hooks before have set it), by address for anyone else. */
const perAccount = (max: number) => ({ max, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => (req.account ? `account:${req.account.name}` : `ip:${req.ip}`) });

/**
 * A pass as the console lists it (the QR text never leaves but on a printed sheet), with the worker's
 * name and team from the organisation's list (null once they left it); never their ID number, phone or residence.
 */
const passRow = {
  type: 'object',
  properties: {
    passId: { type: 'string' },
    workerId: { type: 'string' },
    fullName: { type: ['string', 'null'] },
    team: { type: ['string', 'null'] },
    orgId: { type: 'string' },
    kind: { type: 'string' },
    issuedAtMs: { type: 'integer' },
    expiresAtMs: { type: 'integer' },
    revokedAtMs: { type: ['integer', 'null'] },
    revokedBecause: { type: ['string', 'null'] },
    state: { type: 'string' },
  },
  additionalProperties: false,
} as const;

/**
 * An organisation's passes (sync/hub/passes.ts): issue per organisation, team or workers, list,
 * revoke by pass or by worker, and print a team's A4 sheet (a PDF download, in parts of at most
 * MAX_CARDS_PER_SHEET cards, drawn off the event loop). Sheets and bulk issues are rate limited per
 * account. Every call goes
 * through the organisation's desk (`registry.of(org)`), which cannot reach another organisation's
 * passes; a manager naming another organisation is refused before that.
 */
export function registerPassRoutes(app: FastifyInstance, passes: PassRegistry, zone: string, now: () => number): void {
  /** The organisation's desk, or a refusal already sent (another's organisation, an unknown one). */
  const desk = async (req: FastifyRequest<{ Params: { org: string } }>, reply: FastifyReply): Promise<OrganisationPasses | undefined> => {
    if (!mayReachOrg(req, reply, req.params.org)) return undefined;
    try {
      return await passes.of(req.params.org);
    } catch (err) {
      if (!(err instanceof PassError)) throw err;
      void reply.code(404).send({ error: err.message });
      return undefined;
    }
  };
  const refusal = (reply: FastifyReply, err: unknown) => {
    if (err instanceof PassError) return reply.code(/^no |not on /.test(err.message) ? 404 : 400).send({ error: err.message });
    throw err;
  };
  const checkExpiry = (expiresAtMs: number): string | undefined => {
    if (expiresAtMs <= now()) return 'the expiry must be in the future';
    if (expiresAtMs > now() + MAX_PASS_DAYS * DAY_MS) return `a pass is valid for at most ${MAX_PASS_DAYS} days`;
    return undefined;
  };
  const publicPass = ({ passId, workerId, orgId, kind, issuedAtMs, expiresAtMs, revokedAtMs, revokedBecause, state }: PassRecord) => ({
    passId,
    workerId,
    orgId,
    kind,
    issuedAtMs,
    expiresAtMs,
    revokedAtMs,
    revokedBecause,
    state,
  });

  app.get(
    '/api/organisations/:org/passes',
    {
      config: { access: ALL_ROLES },
      schema: {
        params: orgParams,
        querystring: { type: 'object', properties: { worker: identifierJson, team: { type: 'string', minLength: 1, maxLength: 120 }, limit: { type: 'integer', minimum: 1, maximum: 1000 } }, additionalProperties: false },
        response: { 200: { type: 'array', items: passRow }, '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Querystring: { worker?: string; team?: string; limit?: number } }>, reply) => {
      const d = await desk(req, reply);
      if (!d) return reply;
      const listed = await d.list({ ...(req.query.worker ? { workerId: req.query.worker } : {}), ...(req.query.team ? { team: req.query.team } : {}), limit: req.query.limit ?? 200 });
      const names = await d.workerNames(listed.map((p) => p.workerId));
      return listed.map((p) => ({ ...publicPass(p), fullName: names.get(p.workerId)?.fullName ?? null, team: names.get(p.workerId)?.team ?? null }));
    },
  );

  app.get('/api/organisations/:org/teams', { config: { access: ALL_ROLES }, schema: { params: orgParams, response: { '4xx': errorSchema } } }, async (req: FastifyRequest<{ Params: { org: string } }>, reply) => {
    const d = await desk(req, reply);
    if (!d) return reply;
    return d.teams();
  });

  app.post(
    '/api/organisations/:org/passes',
    {
      config: { access: OPERATOR_OR_MANAGER, rateLimit: perAccount(ISSUES_PER_ACCOUNT_PER_MINUTE) },
      schema: {
        params: orgParams,
        body: {
          type: 'object',
          required: ['expiresAtMs'],
          properties: { team: { type: 'string', minLength: 1, maxLength: 120 }, workerIds: { type: 'array', items: identifierJson, minItems: 1, maxItems: 10_000 }, expiresAtMs: expiresJson },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Body: { team?: string; workerIds?: string[]; expiresAtMs: number } }>, reply) => {
      const d = await desk(req, reply);
      if (!d) return reply;
      const bad = checkExpiry(req.body.expiresAtMs);
      if (bad) return reply.code(400).send({ error: bad });
      let report;
      try {
        report = await d.issueYielding({ ...(req.body.team !== undefined ? { team: req.body.team } : {}), ...(req.body.workerIds ? { workerIds: req.body.workerIds } : {}), expiresAt: new Date(req.body.expiresAtMs) });
      } catch (err) {
        return refusal(reply, err);
      }
      return reply.code(201).send({ issued: report.issued.length, alreadyHeld: report.alreadyHeld, leftList: report.leftList, passes: report.issued.map(publicPass) });
    },
  );

  app.post(
    '/api/organisations/:org/passes/:passId/revoke',
    { config: { access: OPERATOR_OR_MANAGER }, schema: { params: { type: 'object', required: ['org', 'passId'], properties: { org: identifierJson, passId: passIdJson } }, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { org: string; passId: string } }>, reply) => {
      const d = await desk(req, reply);
      if (!d) return reply;
      let revoked;
      try {
        revoked = await d.revokePass(req.params.passId);
      } catch (err) {
        return refusal(reply, err);
      }
      return publicPass(revoked);
    },
  );

  app.post(
    '/api/organisations/:org/workers/:worker/revoke',
    { config: { access: OPERATOR_OR_MANAGER }, schema: { params: { type: 'object', required: ['org', 'worker'], properties: { org: identifierJson, worker: identifierJson } }, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { org: string; worker: string } }>, reply) => {
      const d = await desk(req, reply);
      if (!d) return reply;
      let revoked;
      try {
        revoked = await d.revokeWorker(req.params.worker);
      } catch (err) {
        return refusal(reply, err);
      }
      return { revoked: revoked.length, passes: revoked.map(publicPass) };
    },
  );

  // A sheet issues a pass to each team member without one, so it is a change (POST, CSRF), never a plain link.
  app.post(
    '/api/organisations/:org/sheet',
    {
      config: { access: OPERATOR_OR_MANAGER, rateLimit: perAccount(SHEETS_PER_ACCOUNT_PER_MINUTE) },
      schema: {
        params: orgParams,
        body: {
          type: 'object',
          required: ['team'],
          // part: a team of more than MAX_CARDS_PER_SHEET workers is printed in parts (1, 2, ...), X-Sheet-Parts says how many.
          properties: { team: { type: 'string', minLength: 1, maxLength: 120 }, expiresAtMs: expiresJson, part: { type: 'integer', minimum: 1, maximum: 1000 } },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { org: string }; Body: { team: string; expiresAtMs?: number; part?: number } }>, reply) => {
      const d = await desk(req, reply);
      if (!d) return reply;
      const expiresAtMs = req.body.expiresAtMs ?? now() + 365 * DAY_MS;
      const bad = checkExpiry(expiresAtMs);
      if (bad) return reply.code(400).send({ error: bad });
      let sheet;
      try {
        sheet = await d.sheet(req.body.team, { expiresAt: new Date(expiresAtMs), zone, ...(req.body.part !== undefined ? { part: req.body.part } : {}) });
      } catch (err) {
        if (err instanceof PassSheetError && err.busy) return reply.code(503).header('Retry-After', '60').send({ error: err.message });
        if (err instanceof PassSheetError) return reply.code(500).send({ error: err.message });
        return refusal(reply, err);
      }
      // An ASCII name for any browser, and the team's own name (Vietnamese) for those that read RFC 6266's filename*.
      const name = `passes-${req.params.org}-${req.body.team}${sheet.parts > 1 ? `-${sheet.part}-of-${sheet.parts}` : ''}.pdf`;
      const ascii = name.normalize('NFD').replace(/\p{M}/gu, '').replace(/[đĐ]/g, 'd').replace(/[^A-Za-z0-9._-]+/g, '-');
      return reply
        .type('application/pdf')
        .header('Content-Disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`)
        .header('X-Passes', String(sheet.passes))
        .header('X-Passes-Issued', String(sheet.issued))
        .header('X-Sheet-Part', String(sheet.part))
        .header('X-Sheet-Parts', String(sheet.parts))
        .send(Buffer.from(sheet.pdf));
    },
  );
}
