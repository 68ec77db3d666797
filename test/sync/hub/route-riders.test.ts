import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkerRecord } from '../../../base/common/types.js';
import { rosterCodec } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.now();
const listed = (id: string) => listedWorker(id, NOW);
const dir = tempDir('safegate-riders-');
let n = 0;

/** A bus kiosk's roster as the downlink applies it. */
class BusKiosk {
  cursor = 0;
  readonly held = new Map<string, WorkerRecord>();
  constructor(private readonly d: HubDirectory) {}
  sync(): string {
    const parts = this.d.respondTo('kiosk-bus', { v: PROTOCOL_VERSION, stream: 'roster', cursor: this.cursor }, NOW);
    const kind = parts[0]!.kind;
    if (kind === 'current') return kind;
    if (kind === 'snapshot') this.held.clear();
    for (const c of parts.flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)))) {
      if (c.deleted) this.held.delete(c.key);
      else this.held.set(c.key, c.value);
    }
    this.cursor = parts[0]!.to;
    return kind;
  }
}

function shuttle(): { d: HubDirectory; bus: BusKiosk } {
  const d = new HubDirectory(join(dir.path, `directory-${++n}.db`));
  for (const o of ['org-a', 'org-c']) {
    d.addOrganisation({ id: o, name: o, kind: 'company' }, NOW);
    d.addSite({ id: `site-${o}`, orgId: o }, NOW);
  }
  d.uploadWorkers('org-a', [listed('x1'), listed('a2')], { nowMs: NOW });
  d.addCheckpoint({ id: 'bus-1', siteId: 'site-org-a', kind: 'bus' }, NOW);
  d.addRoute({ id: 'r1', orgIds: ['org-a'] }, NOW);
  d.setRouteRiders('r1', ['x1', 'a2']);
  d.setCheckpointRoutes('bus-1', ['r1']);
  d.placeDevices('bus-1', ['kiosk-bus'], NOW);
  const bus = new BusKiosk(d);
  bus.sync();
  expect([...bus.held.keys()].sort()).toEqual(['a2', 'x1']);
  return { d, bus };
}

describe('route riders follow the organisations the route serves', () => {
  it('a rider dropped by their organisation and listed by one the route does not serve leaves the bus kiosk, by delta and by snapshot', () => {
    const { d, bus } = shuttle();
    d.uploadWorkers('org-a', [listed('a2')], { nowMs: NOW + 1 });
    bus.sync();
    expect([...bus.held.keys()]).toEqual(['a2']);
    d.uploadWorkers('org-c', [listed('x1')], { nowMs: NOW + 2 });
    bus.sync();
    expect([...bus.held.keys()]).toEqual(['a2']);
    bus.cursor = 0;
    bus.sync();
    expect([...bus.held.keys()]).toEqual(['a2']);
    expect(d.routes().find((r) => r.id === 'r1')!.riders).toBe(1);
    d.close();
  });

  it('a rider removed from the roster (as by an erasure) is no longer a rider, and the bus kiosk drops them', () => {
    const { d, bus } = shuttle();
    d.removeWorkers(['x1']);
    expect(bus.sync()).toBe('snapshot');
    expect([...bus.held.keys()]).toEqual(['a2']);
    expect(d.routes().find((r) => r.id === 'r1')!.riders).toBe(1);
    d.close();
  });
});
