import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EnrolmentBook } from '../../sync/hub/fleet/enrolment-book.js';
import type { RevocationReport } from '../../sync/hub/fleet/revocation.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import type { PassRegistry } from '../../sync/hub/passes.js';
import type { PhoneLinks } from '../../sync/hub/phone-links.js';
import type { PhoneUploadRoutes } from './phone-routes.js';
import type { HubStore } from '../../sync/hub/store.js';
import type { HubExports } from '../../sync/hub/exports.js';
import type { AlertBook } from '../../sync/hub/notify/alert-book.js';
import type { ConsoleRole } from './accounts.js';
import type { ConsoleReports } from './report-routes.js';
import type { ConsoleTracing } from './trace-routes.js';

/** What the console's pages read and change: the hub's directory (registry, notices) and its store (events, heartbeats). */
export interface ConsoleHubData {
  directory: HubDirectory;
  store: HubStore;
  /** The province time zone: days and the 15:00 deadline are read in it. */
  zone: string;
  /** The hub's pass registry (issue, list, revoke, print). */
  passes?: PassRegistry;
  /** Personal phone links and the phone page (console/server/phone-routes.ts), with where the page is built. */
  phone?: { links: PhoneLinks; uiFolder?: string; uploads?: PhoneUploadRoutes };
  /** Exports supervisors send from kiosks (console/server/export-routes.ts); absent without a device CA. */
  exports?: HubExports;
  /** Tracing (console/server/trace-routes.ts): the hub's Tracer and the saved traces. */
  tracing?: ConsoleTracing;
  /** The hub's alert book (sync/hub/notify/alert-book.ts): the Alerts page, live, with acknowledgement and who is told. */
  alerts?: AlertBook;
  /** Reports (console/server/report-routes.ts): the alerts' silence threshold their summaries count silent kiosks by. */
  reports?: ConsoleReports;
  /** The fleet (sync/hub/fleet/): enrolled and revoked devices on the Devices page, and revoking one there. */
  fleet?: ConsoleFleet;
}

export interface ConsoleFleet {
  book: Pick<EnrolmentBook, 'devices'>;
  /** Revokes a device (sync/hub/fleet/revocation.ts `revokeDevice`, with this hub process's broker link); absent: not from the console. */
  revoke?: (deviceId: string) => Promise<RevocationReport>;
}

export const ALL_ROLES: readonly ConsoleRole[] = ['operator', 'manager', 'health'];
export const OPERATOR: readonly ConsoleRole[] = ['operator'];
export const OPERATOR_OR_MANAGER: readonly ConsoleRole[] = ['operator', 'manager'];

/**
 * The organisation a request is confined to: a manager's own, nobody else's. Every data read takes
 * it and passes it to the store function, which scopes its query (undefined: every organisation).
 */
export function orgScope(req: FastifyRequest): string | undefined {
  return req.account?.role === 'manager' ? req.account.org : undefined;
}

/**
 * Refuses (403, written to the audit trail as refused) a manager naming another organisation; true
 * when the request may go on.
 */
export function mayReachOrg(req: FastifyRequest, reply: FastifyReply, orgId: string): boolean {
  const scope = orgScope(req);
  if (scope !== undefined && scope !== orgId) {
    void reply.code(403).send({ error: 'this organisation is not yours' });
    return false;
  }
  return true;
}

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string' },
    // A worker list's problems: the line, a stable code and its parameters the pages translate, and the English text.
    problems: {
      type: 'array',
      items: { type: 'object', properties: { line: { type: 'integer' }, code: { type: 'string' }, params: { type: 'object', additionalProperties: { type: ['string', 'number'] } }, message: { type: 'string' } } },
    },
  },
} as const;

export const identifierJson = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' } as const;
