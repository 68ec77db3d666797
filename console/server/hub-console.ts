import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../base/node/logger.js';
import { Declarations, type DeclarationReceipt } from '../../sync/hub/declarations.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import { HubExports } from '../../sync/hub/exports.js';
import { AlertBook } from '../../sync/hub/notify/alert-book.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { PhoneLinks } from '../../sync/hub/phone-links.js';
import { PhoneUploads } from '../../sync/hub/phone-uploads.js';
import { Visits } from '../../sync/hub/visits.js';
import type { HubSettings } from '../../sync/hub/settings.js';
import type { HubStore } from '../../sync/hub/store.js';
import { DEFAULT_TRACE_OPTIONS, publishedResetHours, Tracer, type TraceRequest } from '../../sync/hub/trace.js';
import { SavedTraces } from '../../sync/hub/traces.js';
import type { ConsoleStore } from './accounts.js';
import { openConsoleStore } from './open-store.js';
import { ConsoleServer } from './server.js';
import type { HubHealth } from './health-routes.js';
import type { ConsoleFleet } from './scope.js';


/**
 * A console a hub process serves, with the store of its accounts; `stop()` closes that store. The
 * pass registry, phone links, declarations, visits and exports work on the hub's directory handle,
 * which the caller opened and closes after the console stopped.
 */
export interface HubConsole {
  server: ConsoleServer;
  store: ConsoleStore;
  /** Exports received from kiosks (with a device CA): the hub's retention purges them. */
  exports: HubExports | undefined;
  /** Phone declarations and checkpoint visits (with a phone-pass key): the hub's retention purges them. */
  declarations: Declarations | undefined;
  visits: Visits | undefined;
  /** Traces started from the console: the hub's retention purges them. */
  traces: SavedTraces;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one place a hub process's console is put together (`safegate hub run` and the demo): its
 * accounts' store, the hub's directory and event store it shows, and the settings it listens by.
 * Undefined when the settings switch the console off.
 */
export async function openHubConsole(o: {
  settings: HubSettings['console'];
  databasePath: string;
  /** PostgreSQL for the console's accounts too (the hub's DATABASE_URL); the SQLite file otherwise. */
  databaseUrl?: string | undefined;
  /** The hub's directory (SQLite or PostgreSQL): the pass registry, links, declarations, visits and exports keep their rows in its database. */
  directory: HubDirectory;
  /** The hub's pass key; without it passes are listed and revoked but not issued or printed. */
  passKey?: KeyObject;
  /** The hub's phone-pass key; without it phone links are made but cannot be used (no phone pass is issued). */
  phonePassKey?: KeyObject;
  /** Where the phone page is built (default build/phone-ui). */
  phoneUiFolder?: string;
  /** The hub's checkpoint-code key: with the phone-pass key, phones upload the visits they scan (sync/hub/visits.ts). */
  checkpointCodeKey?: KeyObject;
  /** A worker's declaration changed their roster record: pass it to their kiosks (the hub's live site stream). */
  onDeclaration?: (receipt: DeclarationReceipt) => void;
  /** The CA that issues kiosks' MQTT client certificates (PEM): kiosks sign their exports with them. Without it no export is taken. */
  deviceCaPem?: Buffer | string | undefined;
  /** The issuer written into the passes the console issues (the hub's id). */
  issuer: string;
  /** The hub's alert book, the one its kiosk alerts are raised in (so an open Alerts page hears of them at once); one on the directory otherwise. */
  alertBook?: AlertBook;
  store: HubStore;
  zone: string;
  /** The hub settings' `trace` (canteen window; reset hours, else the published policy's, read at each trace). */
  trace?: HubSettings['trace'] | undefined;
  /** The alerts' silence threshold (`alerts.silentKioskMinutes`), by which the Reports page counts silent kiosks. */
  silentKioskMs?: number;
  /** Enrolled and revoked devices on the Devices page, and revoking there (console/server/scope.ts ConsoleFleet). */
  fleet?: ConsoleFleet;
  log: Logger;
  uiFolder?: string;
  /** The hub process's self-check, served as `GET /healthz` (console/server/health-routes.ts). */
  health?: () => Promise<HubHealth>;
}): Promise<HubConsole | undefined> {
  if (!o.settings.enabled) return undefined;
  const accounts = await openConsoleStore(o);
  const { sql } = o.directory;
  const passes = new PassRegistry({ sql, issuer: o.issuer, ...(o.passKey ? { passKey: o.passKey } : {}) });
  const exports = o.deviceCaPem ? new HubExports({ sql, directory: o.directory, caPem: o.deviceCaPem }) : undefined;
  const phoneLinks = new PhoneLinks({ sql, issuer: o.issuer, ...(o.phonePassKey ? { phonePassKey: o.phonePassKey } : {}) });
  // Phone uploads are checked against the hub's phone-pass key: without one there are no phone passes to send them.
  const declarations = o.phonePassKey ? new Declarations({ sql, directory: o.directory, uploads: new PhoneUploads(o.phonePassKey, passes), zone: o.zone }) : undefined;
  const visits = o.phonePassKey && o.checkpointCodeKey ? new Visits({ sql, uploads: new PhoneUploads(o.phonePassKey, passes), checkpointCodeKey: o.checkpointCodeKey }) : undefined;
  const traces = new SavedTraces({ sql });
  const tracing = {
    // The options at each trace: the policy's reset time may have been republished since the hub started.
    tracer: {
      trace: async (r: TraceRequest) => {
        const resetHours = o.trace?.resetHours ?? (await publishedResetHours(o.directory)) ?? DEFAULT_TRACE_OPTIONS.resetHours;
        return new Tracer({ store: o.store, directory: o.directory }, { canteenWindowMinutes: o.trace?.canteenWindowMinutes ?? DEFAULT_TRACE_OPTIONS.canteenWindowMinutes, resetHours }).trace(r);
      },
    },
    saved: traces,
  };
  const visit = visits ? (body: unknown) => visits.submit(body) : undefined;
  const declare = declarations
    ? async (body: unknown) => {
        const receipt = await declarations.submit(body);
        if (receipt.rosterChanged) o.onDeclaration?.(receipt);
        return receipt;
      }
    : undefined;
  const server = new ConsoleServer({
    store: accounts,
    host: o.settings.host,
    port: o.settings.port,
    trustProxy: o.settings.trustProxy,
    lockoutBaseMs: o.settings.lockoutSeconds * 1000,
    log: o.log,
    hub: { directory: o.directory, store: o.store, zone: o.zone, passes, phone: { links: phoneLinks, ...(o.phoneUiFolder ? { uiFolder: o.phoneUiFolder } : {}), ...(declare ? { uploads: { declare, ...(visit ? { visit } : {}) } } : {}) }, ...(exports ? { exports } : {}), tracing, alerts: o.alertBook ?? new AlertBook({ sql }), ...(o.silentKioskMs ? { reports: { silentAfterMs: o.silentKioskMs } } : {}), ...(o.fleet ? { fleet: o.fleet } : {}) },
    ...(o.checkpointCodeKey ? { checkpointCodeKey: o.checkpointCodeKey } : {}),
    ...(o.health ? { health: o.health } : {}),
    ...(o.uiFolder ? { uiFolder: o.uiFolder } : {}),
  });
  return {
    server,
    store: accounts,
    exports,
    declarations,
    visits,
    traces,
    start: async () => {
      try {
        await server.start();
      } catch (err) {
        await accounts.close();
        throw err;
      }
    },
    stop: async () => {
      await server.stop();
      await accounts.close();
    },
  };
}
