import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../base/node/logger.js';
import { openStore } from '../../src-main/core/store/database.js';
import { RemotePassages } from '../../src-main/core/store/remote-passages.js';
import type { WireEvent } from '../../sync/batch-codec.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { SiteRelay, type SiteRelayOptions } from '../../sync/hub/site-relay.js';
import { PayloadError, parseSiteStream, siteItemSchemas, topics, type LivePassage, type LiveRetraction, type SiteDeviceItem } from '../../sync/protocol.js';
import { SiteStream } from '../../sync/site-stream.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { typicalEvents } from '../helpers/events.js';
import { tempDir } from '../helpers/fixtures.js';

const NOW = 1_800_000_000_000;
const tick = () => new Promise((r) => setImmediate(r));

function live(seq: number, workerId: string, direction: 'entry' | 'exit' = 'exit', atMs = NOW): LivePassage {
  return { v: 1, seq, atMs, checkpointId: 'gate-b', zoneId: 'factory-1', direction, workerId };
}

/** The relay asks the directory which devices share a site (a query each): what it sends comes once the answers are in. */
describe.each(directoryBackends)('site relay (hub side) on $name', (backend) => {
  let directory: HubDirectory;
  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    await directory.assignSite('site-1', ['kiosk-a', 'kiosk-b', 'kiosk-d']);
    await directory.assignSite('site-2', ['kiosk-c']);
  });
  afterAll(async () => {
    await directory.close();
  });

  function relay(extra: Partial<SiteRelayOptions> = {}) {
    const sent: { topic: string; items: SiteDeviceItem[]; site: string; offline: string[] }[] = [];
    const r = new SiteRelay({
      hubId: 'hub.1',
      sites: directory,
      beatMs: 60_000,
      maxAgeMs: 16 * 3_600_000,
      now: () => NOW,
      log: silentLogger,
      publish: (topic, payload) => {
        const m = parseSiteStream(Buffer.from(payload));
        sent.push({ topic, items: m.items.filter((i): i is SiteDeviceItem => i.kind !== 'declaration'), site: m.site, offline: m.offline });
        return Promise.resolve();
      },
      ...extra,
    });
    return { r, sent };
  }

  it('reads the site map once per 2 s however many batches its devices send, and follows a move after that', async () => {
    let now = NOW;
    let reads = 0;
    let cSite = 'site-2';
    const sites = {
      sites: async () => {
        reads++;
        return new Map([
          ['site-1', ['kiosk-a', 'kiosk-b', ...(cSite === 'site-1' ? ['kiosk-c'] : [])]],
          ['site-2', cSite === 'site-2' ? ['kiosk-c', 'kiosk-e'] : ['kiosk-e']],
        ]);
      },
    };
    const { r, sent } = relay({ sites, now: () => now });
    for (let i = 1; i <= 5; i++) {
      for (const d of ['kiosk-a', 'kiosk-c']) await r.onIngested(d, [{ ...typicalEvents(1, i, NOW - 60_000)[0]!, workerId: `W${i}`, decision: 'allow' }]);
      await tick();
      now += 300;
    }
    expect(reads).toBe(1);
    await vi.waitFor(() => expect(sent.some((m) => m.topic === topics.site('kiosk-e'))).toBe(true));
    cSite = 'site-1';
    now += 2_000;
    sent.length = 0;
    await r.onIngested('kiosk-c', [{ ...typicalEvents(1, 9, NOW - 60_000)[0]!, workerId: 'W9', decision: 'allow' }]);
    expect(reads).toBe(2);
    // kiosk-c is now at site-1: its passage goes to site-1's kiosks, not to kiosk-e.
    await vi.waitFor(() => expect(sent.map((m) => m.topic).sort()).toEqual([topics.site('kiosk-a'), topics.site('kiosk-b')]));
  });

  it("sends a passage to the sender's site only, not back to the sender, passages of one turn together", async () => {
    const { r, sent } = relay();
    // Two reports of one turn (the relay looks the device's site up once for both).
    expect(await Promise.all([r.onLivePassage('kiosk-b', live(1, 'W1')), r.onLivePassage('kiosk-b', live(2, 'W2'))])).toEqual(['queued', 'queued']);
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent.map((s) => s.topic).sort()).toEqual([topics.site('kiosk-a'), topics.site('kiosk-d')]);
    expect(sent.every((s) => s.site === 'site-1' && s.items.map((i) => i.workerId).join() === 'W1,W2')).toBe(true);
    expect(sent[0]!.items[0]).toMatchObject({ kind: 'passage', deviceId: 'kiosk-b', seq: 1, direction: 'exit' });
  });

  it('relays from a batch only what the live path did not bring, and only allowed passages of named workers', async () => {
    const { r, sent } = relay();
    await r.onLivePassage('kiosk-b', live(1, 'W1'));
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    sent.length = 0;
    const event = (seq: number, over: Partial<WireEvent> = {}): WireEvent => ({
      seq, wallMs: NOW, monoUs: 0, bootId: 'b', clockSynced: true, checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit',
      credentialKind: 'pass', workerId: `W${seq}`, codeHash: null, decision: 'allow', reasons: [], source: 'serial', policyVersion: 1, ...over,
    });
    const queued = await r.onIngested('kiosk-b', [
      event(1),
      event(2),
      event(3, { decision: 'deny', reasons: ['CASE_F0'] }),
      event(4, { workerId: null, codeHash: 'ab'.repeat(16) }),
      event(5, { wallMs: NOW - 17 * 3_600_000 }),
      // A bus trip's events are no passage through the site's zones: neither a boarding nor a trip's own alighting.
      event(6, { direction: 'entry', tripId: 'T00abcdef-012345' }),
      event(7, { source: 'trip', reasons: ['ALIGHTED_AT_TRIP_END'], tripId: 'T00abcdef-012345' }),
      // A declaration taken on the kiosk's screen (issue 14) is a record, not a passage; nor is a visitor's registration.
      event(8, { source: 'declaration', direction: 'entry', declaration: { answers: 0 } }),
      event(9, { source: 'visitor', direction: 'entry', workerId: null, credentialKind: 'cccd', visitorId: 'vk1.0123456789abcdef0123456789abcdef', reasons: ['VISITOR_REGISTERED'] }),
    ]);
    expect(queued).toBe(1);
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent.map((s) => s.items.map((i) => i.seq))).toEqual([[2], [2]]);
    // Nothing health-related travels: the item has exactly the passage's fields.
    expect(Object.keys(sent[0]!.items[0]!).sort()).toEqual(['atMs', 'checkpointId', 'deviceId', 'direction', 'kind', 'seq', 'workerId', 'zoneId']);
  });

  it('a device in no site is not relayed; every device of every site hears a beat', async () => {
    const { r, sent } = relay();
    expect(await r.onLivePassage('kiosk-z', live(1, 'W1'))).toBe('no-site');
    await tick();
    expect(sent).toEqual([]);
    r.start();
    r.stop();
    await vi.waitFor(() => expect(sent).toHaveLength(4));
    expect(sent.map((s) => `${s.topic} ${s.site} ${s.items.length}`).sort()).toEqual(
      ['kiosk-a', 'kiosk-b', 'kiosk-d'].map((d) => `${topics.site(d)} site-1 0`).concat(`${topics.site('kiosk-c')} site-2 0`).sort(),
    );
  });

  it('refuses a passage dated more than the skew ahead of its clock, dates one less ahead at its clock, and rate-limits each device', async () => {
    const { r, sent } = relay({ liveRate: { burst: 3, everyMs: 60_000 } });
    expect(await r.onLivePassage('kiosk-b', live(1, 'W1', 'entry', NOW + 3_600_000))).toBe('future');
    expect(await r.onLivePassage('kiosk-b', live(2, 'W1', 'entry', NOW + 5_000))).toBe('queued');
    await vi.waitFor(() => expect(sent).not.toHaveLength(0));
    expect(sent[0]!.items[0]).toMatchObject({ seq: 2, atMs: NOW });
    // A batch's far-ahead event is not relayed either.
    const ahead: WireEvent = {
      seq: 9, wallMs: NOW + 3_600_000, monoUs: 0, bootId: 'b', clockSynced: true, checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit',
      credentialKind: 'pass', workerId: 'W1', codeHash: null, decision: 'allow', reasons: [], source: 'serial', policyVersion: 1,
    };
    expect(await r.onIngested('kiosk-b', [ahead])).toBe(0);
    expect(await r.onLivePassage('kiosk-b', live(3, 'W2'))).toBe('queued');
    expect(await r.onLivePassage('kiosk-b', live(4, 'W3'))).toBe('rate-limited');
    // Another device has its own allowance.
    expect(await r.onLivePassage('kiosk-a', live(5, 'W3'))).toBe('queued');
  });

  it('relays a retraction live, and from a batch as the retraction of the latest admit it relayed', async () => {
    const { r, sent } = relay();
    const retraction: LiveRetraction = { v: 1, kind: 'retraction', seq: 2, admitSeq: 1, atMs: NOW, checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit', workerId: 'W1' };
    expect(await r.onLivePassage('kiosk-b', retraction)).toBe('queued');
    await vi.waitFor(() => expect(sent).not.toHaveLength(0));
    expect(sent[0]!.items).toEqual([{ kind: 'retraction', deviceId: 'kiosk-b', seq: 2, admitSeq: 1, atMs: NOW, checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit', workerId: 'W1' }]);
    sent.length = 0;
    const event = (seq: number, over: Partial<WireEvent> = {}): WireEvent => ({
      seq, wallMs: NOW, monoUs: 0, bootId: 'b', clockSynced: true, checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit',
      credentialKind: 'pass', workerId: 'W7', codeHash: null, decision: 'allow', reasons: [], source: 'serial', policyVersion: 1, ...over,
    });
    const notPassed = { decision: 'deny' as const, reasons: ['ADMITTED_NOT_PASSED' as const], source: 'input' as const };
    expect(await r.onIngested('kiosk-b', [event(10), event(11, notPassed), event(12, { ...notPassed, workerId: 'W8' })])).toBe(2);
    await vi.waitFor(() => expect(sent).not.toHaveLength(0));
    expect(sent[0]!.items.map((i) => (i.kind === 'retraction' ? `retract ${i.admitSeq}` : `pass ${i.seq}`))).toEqual(['pass 10', 'retract 10']);
  });

  it("names the site's devices it cannot hear: presence offline (at once), or silent without a presence", async () => {
    let now = NOW;
    const seen = new Map([['kiosk-d', NOW - 1_000]]);
    const { r, sent } = relay({ now: () => now, lastSeen: () => Promise.resolve(seen), silentAfterMs: 60_000 });
    await r.onPresence('kiosk-a', true);
    await r.onPresence('kiosk-b', true);
    sent.length = 0;
    r.start();
    r.stop();
    await vi.waitFor(() => expect(sent).toHaveLength(4));
    // kiosk-d has no presence and was never read from the store before the first beat.
    expect(sent.find((m) => m.topic === topics.site('kiosk-a'))?.offline).toEqual(['kiosk-d']);
    sent.length = 0;
    await r.onPresence('kiosk-b', false);
    expect(sent.map((m) => m.topic).sort()).toEqual(['kiosk-a', 'kiosk-b', 'kiosk-d'].map((d) => topics.site(d)));
    expect(sent.every((m) => m.offline.join() === 'kiosk-b' && m.items.length === 0)).toBe(true);
    now += 61_000;
    expect(r.offlineMembers(['kiosk-a', 'kiosk-b', 'kiosk-d'])).toEqual(['kiosk-b', 'kiosk-d']);
  });

  it('a device moved to another site hears the new one', async () => {
    await directory.assignSite('site-2', ['kiosk-d']);
    expect(await directory.siteOf('kiosk-d')).toBe('site-2');
    expect(await directory.siteMembers('site-1')).toEqual(['kiosk-a', 'kiosk-b']);
    expect(await directory.unassignSite(['kiosk-d'])).toBe(1);
    expect(await directory.siteOf('kiosk-d')).toBeUndefined();
    await expect(directory.assignSite('site 1', ['kiosk-a'])).rejects.toThrow();
    await expect(directory.assignSite('site-1', ['Kiosk_A'])).rejects.toThrow();
  });
});

describe('site stream (kiosk side) and the remote passages it keeps', () => {
  const dir = tempDir('safegate-sitestream-');
  const db = openStore(join(dir.path, 'kiosk.db'));
  const store = new RemotePassages(db);
  afterAll(() => {
    db.close();
    dir.remove();
  });
  let mono = 0;
  const stream = new SiteStream(
    { deviceId: 'kiosk-a', siteId: 'site-1', freshMs: 1_000, monotonicMs: () => mono, wallMs: () => NOW + mono },
    { record: (ps) => store.record(ps.map((p) => ({ ...p })), NOW - 16 * 3_600_000, NOW + 10_000), retract: (rs) => store.retract(rs) },
    silentLogger,
  );
  const message = (site: string, items: unknown[], offline?: string[]) => Buffer.from(JSON.stringify({ v: 1, site, hub: 'hub.1', sentAtMs: NOW, items, ...(offline ? { offline } : {}) }));
  const item = (seq: number, workerId: string, direction: 'entry' | 'exit', atMs: number, deviceId = 'kiosk-b') => ({ kind: 'passage', deviceId, seq, atMs, checkpointId: 'gate-b', zoneId: 'factory-1', direction, workerId });

  it('is fresh for freshMs after any valid message of its own site, stale at once when the link drops', () => {
    expect(stream.isFresh()).toBe(false);
    expect(stream.currentSinceMs()).toBeNull();
    stream.onOnline(() => {});
    stream.onMessage(topics.site('kiosk-a'), message('site-1', []));
    expect(stream.isFresh()).toBe(true);
    expect(stream.currentSinceMs()).toBe(NOW);
    mono += 900;
    stream.onMessage(topics.site('kiosk-a'), message('site-1', []));
    // Heard again in time: current since the first message, without a break.
    expect(stream.currentSinceMs()).toBe(NOW);
    mono += 1_001;
    expect(stream.isFresh()).toBe(false);
    expect(stream.currentSinceMs()).toBeNull();
    stream.onMessage(topics.site('kiosk-a'), message('site-1', []));
    expect(stream.currentSinceMs()).toBe(NOW + 1_901);
    stream.onOffline();
    expect(stream.isFresh()).toBe(false);
  });

  it("refuses another site's stream and malformed messages: nothing kept, not fresh", () => {
    stream.onMessage(topics.site('kiosk-a'), message('site-2', [item(1, 'W9', 'exit', NOW)]));
    stream.onMessage(topics.site('kiosk-a'), Buffer.from('{"v":1'));
    expect(stream.isFresh()).toBe(false);
    expect(store.lastPassage('W9', 'factory-1')).toBeNull();
  });

  it('keeps the latest passage per person and zone, ignores its own and older ones, purges past the reset', () => {
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(1, 'W1', 'entry', NOW - 60_000), item(2, 'W1', 'exit', NOW - 30_000), item(3, 'W2', 'exit', NOW, 'kiosk-a')]));
    expect(store.lastPassage('W1', 'factory-1')).toEqual({ direction: 'exit', atMs: NOW - 30_000 });
    expect(store.lastPassage('W2', 'factory-1')).toBeNull();
    // An older passage arriving late (from a batch) does not replace a newer one.
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(1, 'W1', 'entry', NOW - 60_000)]));
    expect(store.lastPassage('W1', 'factory-1')?.direction).toBe('exit');
    // Older than the reset: not kept at all.
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(4, 'W3', 'entry', NOW - 17 * 3_600_000)]));
    expect(store.lastPassage('W3', 'factory-1')).toBeNull();
    expect(store.purgeBefore(NOW - 45_000)).toBe(0);
    expect(store.purgeBefore(NOW)).toBe(1);
    expect(store.count()).toBe(0);
  });

  it('is not current while another device of the site is offline, and current again from when it is back', () => {
    stream.onMessage(topics.site('kiosk-a'), message('site-1', []));
    expect(stream.currentSinceMs()).not.toBeNull();
    // Its own name in the list does not count (it hears itself).
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [], ['kiosk-a']));
    expect(stream.currentSinceMs()).not.toBeNull();
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [], ['kiosk-b']));
    expect(stream.isFresh()).toBe(true);
    expect(stream.currentSinceMs()).toBeNull();
    expect(stream.offlineDevices()).toEqual(['kiosk-b']);
    mono += 500;
    stream.onMessage(topics.site('kiosk-a'), message('site-1', []));
    expect(stream.currentSinceMs()).toBe(NOW + mono);
  });

  it('ignores passages dated ahead of its clock, and the purge removes future-dated rows', () => {
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(20, 'W5', 'entry', NOW + 3_600_000)]));
    expect(store.lastPassage('W5', 'factory-1')).toBeNull();
    // A row dated ahead (kept while the clock was not synchronised) goes at the next purge.
    store.record([{ workerId: 'W5', zoneId: 'factory-1', direction: 'entry', atMs: NOW + 3_600_000, deviceId: 'kiosk-b', checkpointId: 'gate-b', seq: 21 }], 0);
    expect(store.lastPassage('W5', 'factory-1')?.atMs).toBe(NOW + 3_600_000);
    expect(store.purge(NOW - 16 * 3_600_000, NOW + 10_000)).toBe(1);
    expect(store.lastPassage('W5', 'factory-1')).toBeNull();
  });

  it('a retraction puts back the passage the admit replaced, removes one that replaced nothing, and keeps a late copy of the admit out', () => {
    const retraction = (seq: number, admitSeq: number, workerId: string) => ({ kind: 'retraction', deviceId: 'kiosk-b', seq, admitSeq, atMs: NOW, checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'entry', workerId });
    // W6 left by kiosk-b, then was admitted in by it but never went through.
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(30, 'W6', 'exit', NOW - 60_000), item(31, 'W6', 'entry', NOW - 1_000)]));
    expect(store.lastPassage('W6', 'factory-1')?.direction).toBe('entry');
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [retraction(32, 31, 'W6')]));
    expect(store.lastPassage('W6', 'factory-1')).toEqual({ direction: 'exit', atMs: NOW - 60_000 });
    // The admit relayed again from a batch later: not kept.
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(31, 'W6', 'entry', NOW - 1_000)]));
    expect(store.lastPassage('W6', 'factory-1')?.direction).toBe('exit');
    // W7's only passage was the admit: nothing is known of them any more.
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(40, 'W7', 'entry', NOW - 1_000), retraction(41, 40, 'W7')]));
    expect(store.lastPassage('W7', 'factory-1')).toBeNull();
    // A retraction of an admit that is no longer the latest changes nothing.
    stream.onMessage(topics.site('kiosk-a'), message('site-1', [item(50, 'W8', 'entry', NOW - 2_000), item(51, 'W8', 'exit', NOW - 1_000), retraction(52, 50, 'W8')]));
    expect(store.lastPassage('W8', 'factory-1')?.direction).toBe('exit');
  });

  it('the lookup of a person in a zone uses its key', () => {
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT direction, at_ms FROM remote_passages WHERE worker_id = ? AND zone_id = ?').all('W1', 'z') as { detail: string }[];
    expect(plan.map((p) => p.detail).join()).toMatch(/USING PRIMARY KEY/);
  });
});

describe('reading site-stream messages (property)', () => {
  const passage = fc.record({
    kind: fc.constant('passage'),
    deviceId: fc.constantFrom('kiosk-b', 'Kiosk_B', 'hub'),
    seq: fc.oneof(fc.integer({ min: 1, max: 1e6 }), fc.constant(0), fc.double()),
    atMs: fc.integer({ min: -1, max: 2e12 }),
    checkpointId: fc.constantFrom('gate-b', '', 'x'.repeat(65)),
    zoneId: fc.constant('factory-1'),
    direction: fc.constantFrom('entry', 'exit', 'both'),
    workerId: fc.string({ maxLength: 70 }),
  });
  const item = fc.oneof(passage, fc.record({ kind: fc.string({ maxLength: 50 }) }), fc.jsonValue(), passage.map((p) => ({ ...p, reasons: ['CASE_F0'] })));
  const envelope = fc.record({ v: fc.constantFrom(1, 2), site: fc.constantFrom('site-1', 'site 1'), hub: fc.constant('hub.1'), sentAtMs: fc.integer({ min: 0, max: 2e12 }), items: fc.array(item, { maxLength: 8 }) });

  it('every message is refused with PayloadError or read into items that each satisfy their kind; none is lost uncounted', () => {
    fc.assert(
      fc.property(fc.oneof(envelope, fc.jsonValue()), (raw) => {
        let read;
        try {
          read = parseSiteStream(Buffer.from(JSON.stringify(raw) ?? 'null'));
        } catch (err) {
          expect(err).toBeInstanceOf(PayloadError);
          return;
        }
        for (const i of read.items) expect(siteItemSchemas[i.kind].safeParse(i).success).toBe(true);
        expect(read.items.length + read.skipped.unknownKind + read.skipped.invalid).toBe((raw as { items: unknown[] }).items.length);
      }),
      { seed: 9, numRuns: 300 },
    );
  });
});
