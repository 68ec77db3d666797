import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import type { WorkerRecord } from '../../../base/common/types.js';
import { streamCodecs } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { erasePerson, exportPerson, type PersonAuditLine, type PersonDataSources } from '../../../sync/hub/person-data.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { safegate } from '../../helpers/cli.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');
const PERSON = { workerId: 'A001', fullName: 'Trần Thị Mai', idNumber: '079190000001', phone: '0912345601', residence: 'KTX Tân Tạo, phòng 12' };

function listed(workerId: string, fullName: string, extra: Partial<ListedWorker> = {}): ListedWorker {
  return { line: 2, workerId, fullName, team: 'Tổ May 1', birthYear: 1990, sex: 'female', idNumber: null, phone: null, residence: null, siteId: null, testResult: 'negative', testedAtMs: NOW - 86_400_000, vaccineDoses: 2, ...extra };
}

describe('Decree 13 access and erasure at the hub', () => {
  const dir = tempDir('safegate-person-');
  let directory: HubDirectory;
  let passes: PassRegistry;
  let store: SqliteHubStore;
  let audit: PersonAuditLine[];
  let sources: PersonDataSources;
  let openLink: string;

  beforeEach(async () => {
    const directoryPath = join(dir.path, 'directory.db');
    directory = new HubDirectory(directoryPath);
    directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    directory.uploadWorkers('may-a', [listed(PERSON.workerId, PERSON.fullName, { idNumber: PERSON.idNumber, phone: PERSON.phone, residence: PERSON.residence }), listed('A002', 'Lê Văn Hùng', { line: 3 })], { nowMs: NOW });
    const key = generateSigningKeyPair('EdDSA');
    passes = new PassRegistry({ directoryPath, passKey: createPrivateKey(key.privatePem), now: () => NOW });
    passes.of('may-a').issue({ expiresAt: new Date(NOW + 30 * 86_400_000) });
    passes.of('may-a').issue({ workerIds: ['A001'], expiresAt: new Date(NOW + 30 * 86_400_000) });
    // A phone link used on the worker's phone (a phone pass), and a newer one not yet opened.
    const phonePassKey = generateSigningKeyPair('EdDSA');
    const links = new PhoneLinks({ directoryPath, phonePassKey: createPrivateKey(phonePassKey.privatePem), issuer: 'hub.1', now: () => NOW });
    try {
      const [used] = links.make({ orgId: 'may-a', workerIds: ['A001'], madeBy: 'acme-hr' });
      links.redeem(used!.token, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }));
      openLink = links.make({ orgId: 'may-a', workerIds: ['A001'], madeBy: 'acme-hr' })[0]!.token;
    } finally {
      links.close();
    }
    store = new SqliteHubStore(join(dir.path, 'hub.db'));
    const events = typicalEvents(30, 1, NOW - 86_400_000).map((e, i) => ({ ...e, workerId: i % 3 === 0 ? PERSON.workerId : 'A002' }));
    await store.ingest('kiosk-a', events, NOW);
    await store.recordAlert('kiosk-a', { v: 1, kind: 'quarantined-entry-attempt', seq: 4, atMs: NOW - 1000, checkpointId: 'gate-a', workerId: PERSON.workerId, reasons: ['QUARANTINE_ACTIVE'] }, NOW);
    audit = [];
    sources = { directory, passes, store, audit: (l) => audit.push(l), now: () => NOW };
  });
  afterEach(async () => {
    passes.close();
    directory.close();
    await store.close();
    dir.remove();
  });

  it('exports everything the hub holds about one person, and audits the request without naming them', async () => {
    const doc = await exportPerson(sources, PERSON.workerId, 'op:province');
    expect(doc.organisationList).toMatchObject({ orgId: 'may-a', fullName: PERSON.fullName, idNumber: PERSON.idNumber, phone: PERSON.phone, residence: PERSON.residence });
    expect(doc.roster).toMatchObject({ workerId: PERSON.workerId, displayName: PERSON.fullName, testResult: 'negative' });
    // Two printed passes and the phone pass of the first link, revoked when the second link was made.
    expect(doc.passes.map((p) => [p.kind, p.boundToPhone, p.state]).sort()).toEqual([['phone', true, 'revoked'], ['printed', false, 'live'], ['printed', false, 'live']]);
    expect(doc.phoneLinks).toHaveLength(2);
    expect(doc.phoneLinks[0]).toMatchObject({ madeBy: 'acme-hr', usedAtMs: NOW });
    expect(JSON.stringify(doc)).not.toContain(openLink);
    expect(doc.events).toHaveLength(10);
    expect(doc.events.every((e) => e.workerId === PERSON.workerId && /^2026-11-2\dT/.test(e.at))).toBe(true);
    expect(doc.alerts).toHaveLength(1);
    expect(JSON.stringify(doc)).not.toContain('A002');
    expect(audit).toEqual([{ at: new Date(NOW).toISOString(), requestId: doc.requestId, request: 'access', by: 'op:province', counts: { listRow: true, roster: true, passes: 3, phoneLinks: 2, shuttles: 0, events: 10, alerts: 1 } }]);
    for (const secret of Object.values(PERSON)) expect(JSON.stringify(audit)).not.toContain(secret);
    await expect(exportPerson(sources, 'nobody', 'op:province')).rejects.toThrow('the hub holds nothing about worker nobody');
  });

  it('erases a person everywhere on the hub: roster tombstone, list row, passes revoked onto the stream, events anonymised, alerts deleted', async () => {
    const passIds = passes.list({ workerId: PERSON.workerId }).map((p) => p.passId);
    const r = await erasePerson(sources, PERSON.workerId, 'op:province');
    expect(r).toMatchObject({ rosterRemoved: true, listRowDeleted: true, passesRevoked: 2, passRecordsDeleted: 3, phoneLinksDeleted: 2, eventsAnonymised: 10, alertsDeleted: 1 });
    expect(directory.hubOnlyWorker(PERSON.workerId)).toBeUndefined();
    expect(passes.list({ workerId: PERSON.workerId })).toEqual([]);
    expect(await store.personData(PERSON.workerId)).toEqual({ events: [], alerts: [] });
    // Kiosks: a tombstone on the roster, the passes on the revocations stream, nothing else about them.
    const roster = directory.respond({ v: PROTOCOL_VERSION, stream: 'roster', cursor: 1 }, NOW).flatMap((p) => p.body.map((b) => streamCodecs.roster.fromWire(b)));
    expect(roster.find((x) => x.key === PERSON.workerId)).toEqual({ deleted: true, key: PERSON.workerId });
    const revoked = directory.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor: 0 }, NOW).flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b).key));
    expect(revoked.sort()).toEqual([...passIds].sort());
    // The link not yet opened no longer finds anyone.
    const links = new PhoneLinks({ directoryPath: join(dir.path, 'directory.db'), now: () => NOW });
    try {
      expect(() => links.preview(openLink)).toThrow(expect.objectContaining({ refusal: 'unknown' }));
    } finally {
      links.close();
    }
    // The other worker is untouched.
    expect(directory.hubOnlyWorker('A002')).toBeDefined();
    expect(passes.list({ workerId: 'A002' })[0]?.state).toBe('live');
    expect((await store.personData('A002')).events).toHaveLength(20);
    expect(audit.map((l) => [l.request, l.requestId])).toEqual([['erasure', r.requestId]]);
    for (const secret of Object.values(PERSON)) expect(JSON.stringify(audit)).not.toContain(secret);
    await expect(erasePerson(sources, PERSON.workerId, 'op:province')).rejects.toThrow('the hub holds nothing about worker A001');
  });

  it('refuses to erase a person under an active health measure unless forced', async () => {
    const record = JSON.parse(
      (passes.database().prepare("SELECT value FROM records WHERE stream = 'roster' AND key = ?").get(PERSON.workerId) as { value: string }).value,
    ) as WorkerRecord;
    directory.importRoster([{ ...record, caseStatus: 'F1' }], false);
    await expect(erasePerson(sources, PERSON.workerId, 'op:province')).rejects.toThrow(/active health measure \(case status F1\)/);
    expect(directory.hubOnlyWorker(PERSON.workerId)).toBeDefined();
    expect(audit).toEqual([]);
    expect((await erasePerson(sources, PERSON.workerId, 'op:province', { force: true })).rosterRemoved).toBe(true);
  });

  it('runs as safegate hub person export and erase, the export file readable by its owner only, the audit log naming no one', () => {
    passes.close();
    directory.close();
    const config = join(dir.path, 'hub.yaml');
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: 'directory.db' }, store: { path: 'hub.db' } }));
    const out = join(dir.path, 'a001.json');
    const exported = safegate(['hub', 'person', 'export', '--worker', PERSON.workerId, '--out', out, '--config', config]);
    expect(exported.stderr).toBe('');
    expect(exported.stdout).toMatch(/a001\.json: 3 pass\(es\), 10 event\(s\), 1 alert\(s\); request [0-9a-f-]{36}/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ format: 'safegate-person-export/1', workerId: PERSON.workerId, organisationList: { residence: PERSON.residence } });
    const erased = safegate(['hub', 'person', 'erase', '--worker', PERSON.workerId, '--config', config]);
    expect(erased.stdout).toMatch(/^A001 erased from the hub: request [0-9a-f-]{36}/);
    expect(erased.stdout).toMatch(/10 event\(s\) anonymised/);
    const again = safegate(['hub', 'person', 'erase', '--worker', PERSON.workerId, '--config', config]);
    expect([again.status, again.stderr]).toEqual([2, 'safegate: the hub holds nothing about worker A001\n']);
    const log = readFileSync(join(dir.path, 'person-requests.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PersonAuditLine);
    expect(log.map((l) => l.request)).toEqual(['access', 'erasure']);
    for (const secret of Object.values(PERSON)) expect(JSON.stringify(log)).not.toContain(secret);
    // Reopened for afterEach.
    directory = new HubDirectory(join(dir.path, 'directory.db'));
    passes = new PassRegistry({ directoryPath: join(dir.path, 'directory.db') });
  });
});
