import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DeclarationReceipt } from '../../sync/hub/declarations.js';
import { PhoneLinkError, type LinkRefusal, type PhoneLinks } from '../../sync/hub/phone-links.js';
import { PhoneUploadError } from '../../sync/hub/phone-uploads.js';
import type { VisitReceipt } from '../../sync/hub/visits.js';

/** Where `npm run build` puts the phone page (vite.phone.config.ts). */
export const DEFAULT_PHONE_UI_FOLDER = fileURLToPath(new URL('../../phone-ui/', import.meta.url));

/**
 * Opening links and binding a phone, per client address a minute. Generous: a whole factory's
 * workers may open their links at once behind one NAT address; the token (256 random bits) is what
 * keeps strangers out, the limit only keeps one address from flooding the hub.
 */
const LINK_LOOKUPS_PER_MINUTE = 120;
const BINDINGS_PER_MINUTE = 60;
/** Phone uploads (declarations, visits) per client address a minute: a factory behind one NAT address at the start of a shift. */
const UPLOADS_PER_MINUTE = 600;

/** What a phone signs and sends on its own (base/common/phone-upload.ts). */
const uploadBodyJson = {
  type: 'object',
  required: ['pass', 'payload', 'sig'],
  properties: { pass: { type: 'string', maxLength: 4096 }, payload: { type: 'string', maxLength: 8192 }, sig: { type: 'string', maxLength: 100 } },
  additionalProperties: false,
} as const;

/** What the phone page's uploads reach (sync/hub/declarations.ts); absent: the routes are not served. */
export interface PhoneUploadRoutes {
  /** Takes a signed declaration; throws PhoneUploadError for a refusal. */
  declare?: (body: unknown) => Promise<DeclarationReceipt>;
  /** Takes a signed checkpoint visit (sync/hub/visits.ts); throws PhoneUploadError for a refusal. */
  visit?: (body: unknown) => Promise<VisitReceipt>;
}

function refuseUpload(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof PhoneUploadError)) throw err;
  return reply.code(err.status).send({ error: err.message });
}

const tokenJson = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } as const;
const coordinateJson = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } as const;
const errorJson = { type: 'object', required: ['error'], properties: { error: { type: 'string' }, refusal: { type: 'string' } }, additionalProperties: false } as const;

const STATUS: Record<LinkRefusal, number> = { unknown: 404, used: 410, expired: 410, retired: 410, left: 410 };

function refuse(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof PhoneLinkError)) throw err;
  if (err.refusal) return reply.code(STATUS[err.refusal]).send({ error: err.message, refusal: err.refusal });
  return reply.code(/no phone-pass key/.test(err.message) ? 503 : 400).send({ error: err.message });
}

/**
 * The worker's phone page and its two calls, public and authenticated only by the link's token
 * (which rides in the request body, never in an address, so no log or Referer carries it):
 * - POST /phone/api/link   whose an open link is (shown with the Decree 13 notice);
 * - POST /phone/api/redeem uses the link once: binds a phone pass to the phone's public key.
 * - POST /phone/api/visit  a check-in or check-out scanned from a checkpoint code, signed alike;
 * - POST /phone/api/declaration  a daily health declaration, signed by the phone's key
 *   (base/common/phone-upload.ts): the phone pass it carries says whose it is.
 * All take the console's CSRF token like every other state-changing call, and are rate limited.
 * The page itself is static, served at /phone/ (a service worker keeps it for offline use).
 */
export async function registerPhoneRoutes(app: FastifyInstance, links: PhoneLinks, uiFolder = DEFAULT_PHONE_UI_FOLDER, uploads: PhoneUploadRoutes = {}): Promise<void> {
  app.post(
    '/phone/api/link',
    {
      config: { access: 'public', rateLimit: { max: LINK_LOOKUPS_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        body: { type: 'object', required: ['token'], properties: { token: tokenJson }, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            required: ['fullName', 'orgName', 'expiresAtMs'],
            properties: { fullName: { type: 'string' }, orgName: { type: 'string' }, expiresAtMs: { type: 'integer' } },
            additionalProperties: false,
          },
          '4xx': errorJson,
        },
      },
    },
    async (req, reply) => {
      try {
        return await links.preview((req.body as { token: string }).token);
      } catch (err) {
        return refuse(reply, err);
      }
    },
  );

  app.post(
    '/phone/api/redeem',
    {
      config: { access: 'public', rateLimit: { max: BINDINGS_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        body: {
          type: 'object',
          required: ['token', 'key'],
          properties: {
            token: tokenJson,
            key: {
              type: 'object',
              required: ['kty', 'crv', 'x', 'y'],
              properties: { kty: { const: 'EC' }, crv: { const: 'P-256' }, x: coordinateJson, y: coordinateJson },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            required: ['pass', 'passId', 'workerId', 'fullName', 'orgName', 'expiresAtMs'],
            properties: {
              pass: { type: 'string' },
              passId: { type: 'string' },
              workerId: { type: 'string' },
              fullName: { type: 'string' },
              orgName: { type: 'string' },
              expiresAtMs: { type: 'integer' },
            },
            additionalProperties: false,
          },
          '4xx': errorJson,
          '5xx': errorJson,
        },
      },
    },
    async (req, reply) => {
      const body = req.body as { token: string; key: unknown };
      try {
        const bound = await links.redeem(body.token, body.key);
        return { ...bound, pass: Buffer.from(bound.pass).toString('base64url') };
      } catch (err) {
        return refuse(reply, err);
      }
    },
  );

  const declare = uploads.declare;
  if (declare) {
    // A daily health declaration, signed by the phone's key (no cookie): kept once by its id, however often it is sent.
    app.post(
      '/phone/api/declaration',
      {
        config: { access: 'public', rateLimit: { max: UPLOADS_PER_MINUTE, timeWindow: 60_000 } },
        schema: {
          body: uploadBodyJson,
          response: {
            200: {
              type: 'object',
              required: ['status', 'declaredAtMs'],
              properties: { status: { type: 'string', enum: ['recorded', 'duplicate'] }, declaredAtMs: { type: 'integer' } },
              additionalProperties: false,
            },
            '4xx': errorJson,
            '5xx': errorJson,
          },
        },
      },
      async (req, reply) => {
        try {
          const r = await declare(req.body);
          return { status: r.status, declaredAtMs: r.declaredAtMs };
        } catch (err) {
          return refuseUpload(reply, err);
        }
      },
    );
  }

  const visit = uploads.visit;
  if (visit) {
    // A check-in or check-out scanned from a checkpoint code, signed by the phone's key: kept once by its id.
    app.post(
      '/phone/api/visit',
      {
        config: { access: 'public', rateLimit: { max: UPLOADS_PER_MINUTE, timeWindow: 60_000 } },
        schema: {
          body: uploadBodyJson,
          response: {
            200: {
              type: 'object',
              required: ['status', 'checkpointName', 'direction', 'atMs', 'timeVerified'],
              properties: {
                status: { type: 'string', enum: ['recorded', 'duplicate'] },
                checkpointName: { type: 'string' },
                direction: { type: 'string', enum: ['in', 'out'] },
                atMs: { type: 'integer' },
                timeVerified: { type: 'boolean' },
              },
              additionalProperties: false,
            },
            '4xx': errorJson,
            '5xx': errorJson,
          },
        },
      },
      async (req, reply) => {
        try {
          const r = await visit(req.body);
          return { status: r.status, checkpointName: r.checkpointName, direction: r.direction, atMs: r.atMs, timeVerified: r.timeVerified };
        } catch (err) {
          return refuseUpload(reply, err);
        }
      },
    );
  }

  app.get('/phone', { config: {} }, async (_req, reply) => reply.redirect('/phone/', 301));
  if (existsSync(uiFolder)) {
    await app.register(fastifyStatic, { root: uiFolder, prefix: '/phone/', decorateReply: false, index: 'index.html', cacheControl: false });
  } else {
    app.get('/phone/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('SafeGate phone page: not built (npm run build)'));
  }
}
