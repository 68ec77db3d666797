import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../../base/node/logger.js';
import {
  AccountError,
  CONSOLE_ROLES,
  DECOY_HASH,
  hashPassword,
  lockoutMs,
  newAccountSchema,
  newSessionToken,
  tokenHash,
  verifyPassword,
  type ConsoleAccount,
  type ConsoleRole,
  type ConsoleStore,
} from './accounts.js';
import { registerAlertRoutes } from './alert-routes.js';
import { registerCheckpointCodeRoutes } from './checkpoint-code-routes.js';
import { registerExportRoutes } from './export-routes.js';
import { registerHealthRoutes, type HubHealth } from './health-routes.js';
import { registerLinkRoutes } from './link-routes.js';
import { registerOperationsRoutes } from './operations-routes.js';
import { registerPassRoutes } from './pass-routes.js';
import { registerPersonRoutes } from './person-routes.js';
import { registerPhoneRoutes } from './phone-routes.js';
import { registerRegistryRoutes } from './registry-routes.js';
import { registerReportRoutes } from './report-routes.js';
import { registerTraceRoutes } from './trace-routes.js';
import { registerTripRoutes } from './trip-routes.js';
import type { ConsoleHubData } from './scope.js';

/**
 * Who may call a route: anyone, a kiosk signing its request (no cookie, so no CSRF token: the route
 * checks the device's signature itself, console/server/export-routes.ts), or signed-in accounts of
 * these roles. Every route says which.
 */
export type RouteAccess = 'public' | 'device' | readonly ConsoleRole[];

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    account: ConsoleAccount | undefined;
  }
}

export const SESSION_COOKIE = 'sg_session';
const SESSION_MS = 8 * 3_600_000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/**
 * Sign-in attempts one address may make a minute, whatever the accounts: the per-account lockout
 * stops guessing one password, this stops trying one password on many accounts. Generous, since a
 * whole office may share one address behind NAT.
 */
const LOGINS_PER_IP_PER_MINUTE = 60;
/**
 * The only state-changing calls a read-only role makes: ending its own session, and a health
 * officer's own tracing work (starting a trace, marking a contact as told: console/server/trace-routes.ts).
 */
const READ_ONLY_SAFE_CHANGES = new Set(['/api/logout', '/api/traces', '/api/traces/:id/contacts/:worker/notified']);
/** Where `npm run build` puts the console's pages (vite, console/ui/vite.config.ts). */
export const DEFAULT_UI_FOLDER = fileURLToPath(new URL('../../console-ui/', import.meta.url));

export interface ConsoleServerOptions {
  store: ConsoleStore;
  host: string;
  port: number;
  /**
   * Behind a TLS reverse proxy: its X-Forwarded-Proto says whether the browser used HTTPS (the
   * session cookie is then Secure) and X-Forwarded-For names the client in the audit trail.
   */
  trustProxy: boolean;
  /** The first lockout after repeated wrong passwords; each further wrong one doubles it. */
  lockoutBaseMs: number;
  log: Logger;
  /** The hub's registry and store the pages show; without it only accounts and the audit trail are served. */
  hub?: ConsoleHubData;
  /** The hub's checkpoint-code key: rotating check-in codes for displays (console/server/checkpoint-code-routes.ts). */
  checkpointCodeKey?: KeyObject;
  /** The hub process's self-check: served as `GET /healthz` for monitoring (console/server/health-routes.ts). */
  health?: () => Promise<HubHealth>;
  uiFolder?: string;
  now?: () => number;
}

const accountResponse = {
  type: 'object',
  required: ['name', 'role'],
  properties: { name: { type: 'string' }, role: { type: 'string', enum: CONSOLE_ROLES }, org: { type: 'string' } },
  additionalProperties: false,
} as const;
const errorResponse = { type: 'object', required: ['error'], properties: { error: { type: 'string' }, retryAfterSeconds: { type: 'integer' } } } as const;

const publicAccount = (a: ConsoleAccount) => ({ name: a.name, role: a.role, ...(a.org ? { org: a.org } : {}) });

/**
 * The hub's web console: accounts with roles, sessions in HttpOnly SameSite=Strict cookies, CSRF
 * tokens on every state-changing request, login rate limiting with a lockout that doubles, and an
 * audit trail of every sign-in and every API call. The constructor only stores its options.
 */

/** Route parameters that name a person: the audit trail keeps the parameter's name in their place. */
const PERSON_PARAMS: ReadonlySet<string> = new Set(['worker']);

/**
 * What an audit line says a request was about: its route with the parameters filled in, except those
 * naming a person (a worker id stays out of the trail, as person-data.ts promises); a path that
 * matched no route is not kept at all (it may hold anything).
 */
export function auditTarget(route: string | undefined, params: Record<string, string> | undefined): string {
  if (route === undefined) return '(no route)';
  return route.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => (PERSON_PARAMS.has(name) || params?.[name] === undefined ? whole : encodeURIComponent(params[name])));
}

export class ConsoleServer {
  private app: FastifyInstance | undefined;
  private readonly routeTable: { method: string; url: string; access: RouteAccess | undefined }[] = [];

  constructor(private readonly options: ConsoleServerOptions) {}

  /** The address it listens on (http://host:port), once started. */
  get url(): string {
    const address = this.app?.server.address();
    if (!address || typeof address === 'string') throw new Error('the console is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async start(): Promise<void> {
    if (this.app) return;
    const app = await this.build();
    try {
      await app.listen({ host: this.options.host, port: this.options.port });
    } catch (err) {
      await app.close();
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`the console cannot listen on ${this.options.host}:${this.options.port} (${code}); change console.host or console.port in the hub settings`, { cause: err });
    }
    this.app = app;
    this.options.log.info({ url: this.url }, 'console listening');
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }

  /** Every route and who may call it, once started (a test calls each as every role). */
  get routes(): readonly { method: string; url: string; access: RouteAccess | undefined }[] {
    return this.routeTable;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private async build(): Promise<FastifyInstance> {
    const { store, log, trustProxy } = this.options;
    this.routeTable.length = 0;
    // An unknown field or query key is refused (400), not silently dropped (Fastify's default).
    const app = Fastify({ logger: false, trustProxy, bodyLimit: 64 * 1024, ajv: { customOptions: { removeAdditional: false } } });
    app.decorateRequest('account', undefined);
    app.addHook('onRoute', (route) => {
      const access = route.config?.access;
      // Health officers only read: a route that changes something cannot be opened to them by mistake.
      const changes = [route.method].flat().some((m) => !SAFE_METHODS.has(m));
      if (changes && Array.isArray(access) && access.includes('health') && !READ_ONLY_SAFE_CHANGES.has(route.url)) {
        throw new Error(`console route ${route.url} changes data and may not be open to health officers (read-only)`);
      }
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD') this.routeTable.push({ method, url: route.url, access: route.config?.access });
      }
    });
    await app.register(fastifyCookie);
    await app.register(fastifyCsrf, {
      sessionPlugin: '@fastify/cookie',
      getToken: (req) => req.headers['x-csrf-token'] as string | undefined,
      // Behind the TLS proxy the secret's cookie never travels in clear either.
      cookieOpts: { httpOnly: true, sameSite: 'strict', path: '/', secure: trustProxy },
    });
    await app.register(fastifyRateLimit, { global: false });

    app.addHook('onSend', async (req, reply, payload) => {
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('Referrer-Policy', 'no-referrer');
      // The phone page reads checkpoint codes (camera and photo) with a WebAssembly decoder: it may compile
      // WebAssembly ('wasm-unsafe-eval', no other eval); the console may not.
      const scripts = req.url.startsWith('/phone/') ? "; script-src 'self' 'wasm-unsafe-eval'" : '';
      reply.header('Content-Security-Policy', `default-src 'self'${scripts}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`);
      return payload;
    });

    // Who is asking; then the CSRF token of a state-changing call; then whether they may: one chain of
    // hooks for every route, and a route that does not say who may call it is refused.
    app.addHook('onRequest', async (req) => {
      const token = req.cookies[SESSION_COOKIE];
      if (token) req.account = (await store.session(tokenHash(token), this.now()))?.account;
    });
    app.addHook('onRequest', (req, reply, done) => {
      const access = req.routeOptions.config.access;
      if (access === undefined || access === 'device' || SAFE_METHODS.has(req.method)) return done();
      // @fastify/csrf-protection answers 403 itself when the token or its secret's cookie is missing or wrong.
      app.csrfProtection(req, reply, done);
    });
    app.addHook('onRequest', async (req, reply) => {
      const access = req.routeOptions.config.access;
      if (access === undefined) {
        if (req.url.startsWith('/api/')) return reply.code(404).send({ error: 'no such route' });
        return; // pages and static files: the UI itself asks /api/me who is signed in
      }
      if (access === 'public' || access === 'device') return;
      if (!req.account) return reply.code(401).send({ error: 'sign in first' });
      if (!access.includes(req.account.role)) return reply.code(403).send({ error: 'your role may not do this' });
    });

    // Every API call is in the audit trail, allowed or refused (sign-ins write their own entry).
    app.addHook('onResponse', async (req, reply) => {
      if (!req.url.startsWith('/api/') || req.routeOptions.url === '/api/login' || req.routeOptions.url === '/api/csrf') return;
      const status = reply.statusCode;
      await store
        .audit({
          at: new Date(this.now()).toISOString(),
          account: req.account?.name ?? '-',
          action: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`,
          target: auditTarget(req.routeOptions.url, req.params as Record<string, string> | undefined),
          outcome: status < 400 ? 'ok' : status === 401 || status === 403 || status === 429 ? 'refused' : 'failed',
          ip: req.ip,
        })
        .catch((err: unknown) => log.error({ err: (err as Error).message }, 'audit entry not written'));
    });

    app.setErrorHandler((err: { statusCode?: number; message: string; code?: string }, _req, reply) => {
      const status = err.statusCode ?? 500;
      if (status >= 500) log.error({ err: err.message }, 'console request failed');
      return reply.code(status).send({ error: status >= 500 ? 'internal error' : err.message });
    });

    app.get('/api/csrf', { config: { access: 'public' } }, async (_req, reply) => ({ token: reply.generateCsrf() }));

    app.post(
      '/api/login',
      {
        config: { access: 'public', rateLimit: { max: LOGINS_PER_IP_PER_MINUTE, timeWindow: 60_000 } },
        schema: {
          body: {
            type: 'object',
            required: ['name', 'password'],
            properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 200 } },
            additionalProperties: false,
          },
          response: { 200: accountResponse, 401: errorResponse, 403: errorResponse, 429: errorResponse },
        },
      },
      async (req: FastifyRequest<{ Body: { name: string; password: string } }>, reply) => this.login(req, reply),
    );

    app.post('/api/logout', { config: { access: CONSOLE_ROLES } }, async (req, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      if (token) await store.endSession(tokenHash(token));
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true };
    });

    app.get('/api/me', { config: { access: CONSOLE_ROLES }, schema: { response: { 200: accountResponse } } }, async (req) => publicAccount(req.account!));

    app.get(
      '/api/accounts',
      { config: { access: ['operator'] }, schema: { response: { 200: { type: 'array', items: accountResponse } } } },
      async () => (await store.accounts()).map(publicAccount),
    );

    app.post(
      '/api/accounts',
      {
        config: { access: ['operator'] },
        schema: {
          body: {
            type: 'object',
            required: ['name', 'role', 'password'],
            properties: { name: { type: 'string' }, role: { type: 'string', enum: CONSOLE_ROLES }, org: { type: 'string' }, password: { type: 'string' } },
            additionalProperties: false,
          },
          response: { 201: accountResponse, '4xx': errorResponse },
        },
      },
      async (req, reply) => {
        const parsed = newAccountSchema.safeParse(req.body);
        if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
        const directory = this.options.hub?.directory;
        if (parsed.data.org !== undefined && directory && !(await directory.hasOrganisation(parsed.data.org))) {
          return reply.code(400).send({ error: `no organisation ${parsed.data.org} in the hub's registry` });
        }
        try {
          await store.addAccount(parsed.data, await hashPassword(parsed.data.password), this.now());
        } catch (err) {
          if (err instanceof AccountError) return reply.code(409).send({ error: err.message });
          throw err;
        }
        return reply.code(201).send(publicAccount({ ...parsed.data, org: parsed.data.org, createdAt: '' }));
      },
    );

    app.get(
      '/api/audit',
      { config: { access: ['operator'] }, schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } } } },
      async (req: FastifyRequest<{ Querystring: { limit?: number } }>) => store.auditTrail(req.query.limit ?? 200),
    );

    if (this.options.health) registerHealthRoutes(app, this.options.health);
    if (this.options.hub) {
      registerRegistryRoutes(app, this.options.hub, () => this.now());
      registerCheckpointCodeRoutes(app, this.options.hub.directory, this.options.checkpointCodeKey, () => this.now());
      registerOperationsRoutes(app, this.options.hub, () => this.now());
      registerTripRoutes(app, this.options.hub);
      const passes = this.options.hub.passes;
      if (passes) {
        registerPassRoutes(app, passes, this.options.hub.zone, () => this.now());
        registerPersonRoutes(app, { ...this.options.hub, passes }, store, log, () => this.now());
      }
      if (this.options.hub.alerts) {
        // A live alert stream outlasts its request: it asks again, now and then, whether its session holds.
        const signedIn = async (req: FastifyRequest) => {
          const token = req.cookies[SESSION_COOKIE];
          return token !== undefined && (await store.session(tokenHash(token), this.now())) !== undefined;
        };
        registerAlertRoutes(app, { book: this.options.hub.alerts, directory: this.options.hub.directory, store: this.options.hub.store }, store, log, () => this.now(), signedIn);
      }
      if (this.options.hub.tracing) registerTraceRoutes(app, { ...this.options.hub, tracing: this.options.hub.tracing }, store, log, () => this.now());
      if (this.options.hub.exports) registerExportRoutes(app, this.options.hub.exports, store, log, () => this.now());
      registerReportRoutes(app, this.options.hub, store, log, () => this.now());
      if (this.options.hub.phone) {
        await registerPhoneRoutes(app, this.options.hub.phone.links, this.options.hub.phone.uiFolder, this.options.hub.phone.uploads);
        registerLinkRoutes(app, this.options.hub.phone.links);
      }
    }

    const ui = this.options.uiFolder ?? DEFAULT_UI_FOLDER;
    if (existsSync(ui)) await app.register(fastifyStatic, { root: ui, index: 'index.html' });
    else app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('SafeGate console: the pages are not built (npm run build); the API is at /api/'));
    return app;
  }

  private async login(req: FastifyRequest<{ Body: { name: string; password: string } }>, reply: FastifyReply) {
    const { store, lockoutBaseMs } = this.options;
    const { name, password } = req.body;
    const now = this.now();
    const audit = (outcome: 'ok' | 'refused', target: string) =>
      store.audit({ at: new Date(now).toISOString(), account: name, action: 'login', target, outcome, ip: req.ip });
    const account = await store.account(name);
    if (account && account.lockedUntil > now) {
      const retryAfterSeconds = Math.ceil((account.lockedUntil - now) / 1000);
      await audit('refused', 'locked');
      reply.header('Retry-After', String(retryAfterSeconds));
      return reply.code(429).send({ error: 'too many wrong passwords: this account is locked for a while', retryAfterSeconds });
    }
    // An unknown name costs the same work as a wrong password, so timing does not tell which names exist.
    const matches = await verifyPassword(password, account?.passwordHash ?? DECOY_HASH);
    if (!account || !matches) {
      if (!account) {
        await audit('refused', 'wrong name or password');
        return reply.code(401).send({ error: 'wrong name or password' });
      }
      const failures = account.failures + 1;
      const lockMs = lockoutMs(failures, lockoutBaseMs);
      await store.recordFailure(name, failures, lockMs ? now + lockMs : 0);
      await audit('refused', 'wrong name or password');
      return reply.code(401).send({ error: 'wrong name or password', ...(lockMs ? { retryAfterSeconds: Math.ceil(lockMs / 1000) } : {}) });
    }
    // A manager's organisation must be in the registry: an account naming one that is not has nothing to manage.
    const directory = this.options.hub?.directory;
    if (account.role === 'manager' && directory && !(await directory.hasOrganisation(account.org ?? ''))) {
      await audit('refused', `organisation ${account.org ?? '-'} not registered`);
      return reply.code(403).send({ error: `organisation ${account.org ?? '-'} is not in the hub's registry: ask the province operator` });
    }
    await store.recordSuccess(name);
    const token = newSessionToken();
    await store.createSession(tokenHash(token), name, now + SESSION_MS);
    // Secure whenever the browser came over HTTPS: with trustProxy, the TLS proxy's X-Forwarded-Proto says so.
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/', secure: req.protocol === 'https', maxAge: SESSION_MS / 1000 });
    await audit('ok', 'signed in');
    return publicAccount(account);
  }
}
