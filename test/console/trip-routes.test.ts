import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import type { HubTrip } from '../../sync/hub/trips.js';
import { categoryOfKioskAlert } from '../../sync/hub/notify/alert-book.js';
import { alertSchema } from '../../sync/protocol.js';
import { busTripEvents } from '../helpers/bus-events.js';
import { tempDir } from '../helpers/fixtures.js';

const PASSWORD = 'a long enough password';
const T0 = Date.parse('2026-11-26T05:30:00Z');

async function client(base: string, name: string) {
  const cookies = new Map<string, string>();
  const send = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const headers: Record<string, string> = {};
    // The token first: its secret's cookie must travel with the request.
    if (method !== 'GET') headers['x-csrf-token'] = ((await (await send('GET', '/api/csrf')).json()) as { token: string }).token;
    headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      cookies.set(k, v);
    }
    return r;
  };
  expect((await send('POST', '/api/login', { name, password: PASSWORD })).status).toBe(200);
  return async <T>(path: string) => {
    const r = await send('GET', path);
    return { status: r.status, body: (await r.json()) as T };
  };
}

/**
 * The Devices page's trips (console/server/trip-routes.ts) over a real hub directory and store: the
 * device list marks bus units; an operator and a health officer see every rider of a bus's trips; a
 * manager only the buses serving their organisation and, of their riders and driver, those their
 * organisation's list held (the others counted); bad input refused.
 */
describe('console: a bus unit\'s trips on the Devices page', () => {
  const dir = tempDir('safegate-console-trips-');
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    server = new ConsoleServer({ store: accounts, host: '127.0.0.1', port: 0, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }), hub: { directory, store, zone: 'Asia/Ho_Chi_Minh' } });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'B', kind: 'company' });
    await directory.addSite({ id: 'kcn', orgId: 'ORG-A' });
    // A shared shuttle carries both companies' workers; another serves B only.
    await directory.addCheckpoint({ id: 'xe-chung', siteId: 'kcn', kind: 'bus', orgIds: ['ORG-A', 'ORG-B'] });
    await directory.addCheckpoint({ id: 'xe-b', siteId: 'kcn', kind: 'bus', orgIds: ['ORG-B'] });
    await directory.addCheckpoint({ id: 'cong', siteId: 'kcn', kind: 'gate', orgIds: ['ORG-A', 'ORG-B'] });
    await directory.assignSite('kcn', ['bus-chung', 'bus-b', 'kiosk-gate']);
    await directory.placeDevices('xe-chung', ['bus-chung']);
    await directory.placeDevices('xe-b', ['bus-b']);
    await directory.placeDevices('cong', ['kiosk-gate']);
    // As the hub receives them: each event stamped with its worker's organisation then.
    const orgOf = new Map([
      ['W020000', 'ORG-A'],
      ['W020037', 'ORG-A'],
      ['W020074', 'ORG-B'],
      ['D000007', 'ORG-B'],
    ]);
    await store.ingestMany([
      { deviceId: 'bus-chung', events: busTripEvents({ startMs: T0, riders: 3, routeId: 'R1' }), receivedMs: T0, orgOf },
      { deviceId: 'bus-b', events: busTripEvents({ startMs: T0, riders: 2 }), receivedMs: T0, orgOf },
    ]);
    const hash = await hashPassword(PASSWORD);
    await accounts.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'mgr-a', role: 'manager', org: 'ORG-A', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'mgr-b', role: 'manager', org: 'ORG-B', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'med', role: 'health', password: PASSWORD }, hash, Date.now());
    await server.start();
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    await accounts.close();
    await store.close();
    await directory.close();
    dir.remove();
  });

  it('marks bus units in the device list', async () => {
    const get = await client(server.url, 'op');
    const devices = (await get<{ deviceId: string; bus: boolean }[]>('/api/devices')).body;
    expect(Object.fromEntries(devices.map((d) => [d.deviceId, d.bus]))).toEqual({ 'bus-chung': true, 'bus-b': true, 'kiosk-gate': false });
  });

  it('shows an operator and a health officer every rider of a bus unit\'s trips', async () => {
    for (const name of ['op', 'med']) {
      const get = await client(server.url, name);
      const r = await get<{ deviceId: string; trips: HubTrip[] }>('/api/devices/bus-chung/trips');
      expect(r.status).toBe(200);
      expect(r.body.trips).toHaveLength(1);
      expect(r.body.trips[0]).toMatchObject({ deviceId: 'bus-chung', routeId: 'R1', driverWorkerId: 'D000007', refused: 2, endReason: 'TRIP_ENDED' });
      expect(r.body.trips[0]!.riders.map((x) => [x.workerId, x.alightedBy])).toEqual([
        ['W020000', 'scan'],
        ['W020037', 'scan'],
        ['W020074', 'trip-end'],
      ]);
      expect(r.body.trips[0]!.ridersElsewhere).toBeUndefined();
      // Positions stay at the hub: the page shows none.
      expect(JSON.stringify(r.body)).not.toMatch(/Position|"lat"/);
    }
  });

  it("shows a manager their organisation's riders only (the others counted, the other company's driver unnamed), and no bus that does not serve them", async () => {
    const get = await client(server.url, 'mgr-a');
    const r = await get<{ trips: HubTrip[] }>('/api/devices/bus-chung/trips');
    expect(r.status).toBe(200);
    expect(r.body.trips[0]!.riders.map((x) => x.workerId)).toEqual(['W020000', 'W020037']);
    expect(r.body.trips[0]!.ridersElsewhere).toBe(1);
    expect(r.body.trips[0]!.driverWorkerId).toBeNull();
    expect((await get<{ error: string }>('/api/devices/bus-b/trips')).status).toBe(404);
    expect((await get<{ error: string }>('/api/devices/bus-nowhere/trips')).status).toBe(404);
  });

  it("a bus's stale-data alert (a trip started on an old roster, fail open) reaches the hub as a gate alert, shown to the managers its bus serves", async () => {
    const alert = alertSchema.parse({ v: 1, kind: 'bus-stale-data', seq: 99, atMs: T0, checkpointId: 'xe-b', reasons: [] });
    // About the bus itself: naming a worker is refused.
    expect(alertSchema.safeParse({ ...alert, workerId: 'W020000' }).success).toBe(false);
    expect(categoryOfKioskAlert('bus-stale-data')).toBe('gate');
    await store.recordAlert('bus-b', alert, T0);
    const kinds = async (name: string) => (await (await client(server.url, name))<{ deviceId: string; kind: string }[]>('/api/alerts')).body.filter((a) => a.deviceId === 'bus-b').map((a) => a.kind);
    expect(await kinds('op')).toEqual(['bus-stale-data']);
    // bus-b serves ORG-B only: ORG-A's manager is not told.
    expect(await kinds('mgr-a')).toEqual([]);
    expect(await kinds('mgr-b')).toEqual(['bus-stale-data']);
  });

  it('refuses a bad device id or limit, and lists no trips for a gate kiosk', async () => {
    const get = await client(server.url, 'op');
    expect((await get('/api/devices/bus%20x/trips')).status).toBe(400);
    expect((await get('/api/devices/bus-chung/trips?limit=0')).status).toBe(400);
    expect((await get('/api/devices/bus-chung/trips?limit=9999')).status).toBe(400);
    expect((await get('/api/devices/bus-chung/trips?what=1')).status).toBe(400);
    expect((await get<{ trips: unknown[] }>('/api/devices/kiosk-gate/trips')).body.trips).toEqual([]);
  });
});
