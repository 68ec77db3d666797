import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import type { WorkerRecord } from '../../../base/common/types.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { streamCodecs } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { erasePerson, exportPerson, type PersonAuditLine, type PersonDataSources } from '../../../sync/hub/person-data.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');
const PERSON = { workerId: 'A001', fullName: 'Trần Thị Mai', idNumber: '079190000001', phone: '0912345601', residence: 'KTX Tân Tạo, phòng 12' };

function listed(workerId: string, fullName: string, extra: Partial<ListedWorker> = {}): ListedWorker {
  return { line: 2, workerId, fullName, team: 'Tổ May 1', birthYear: 1990, sex: 'female', idNumber: null, phone: null, residence: null, siteId: null, testResult: 'negative', testedAtMs: NOW - 86_400_000, vaccineDoses: 2, ...extra };
}

describe.each(directoryBackends)('Decree 13 access and erasure at the hub on $name', (backend) => {
  let dir: ReturnType<typeof tempDir>;
  let target: HubSqlTarget;
  let directory: HubDirectory;
  let passes: PassRegistry;
  let store: HubStore;
  let audit: PersonAuditLine[];
  let sources: PersonDataSources;
  let openLink: string;

  beforeEach(async () => {
    dir = tempDir('safegate-person-');
    target = await backend.target();
    directory = await HubDirectory.open(target);
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.uploadWorkers('may-a', [listed(PERSON.workerId, PERSON.fullName, { idNumber: PERSON.idNumber, phone: PERSON.phone, residence: PERSON.residence }), listed('A002', 'Lê Văn Hùng', { line: 3 })], { nowMs: NOW });
    const key = generateSigningKeyPair('EdDSA');
    passes = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(key.privatePem), now: () => NOW });
    await (await passes.of('may-a')).issue({ expiresAt: new Date(NOW + 30 * 86_400_000) });
    await (await passes.of('may-a')).issue({ workerIds: ['A001'], expiresAt: new Date(NOW + 30 * 86_400_000) });
    // A phone link used on the worker's phone (a phone pass), and a newer one not yet opened.
    const phonePassKey = generateSigningKeyPair('EdDSA');
    const links = new PhoneLinks({ sql: directory.sql, phonePassKey: createPrivateKey(phonePassKey.privatePem), issuer: 'hub.1', now: () => NOW });
    const [used] = await links.make({ orgId: 'may-a', workerIds: ['A001'], madeBy: 'acme-hr' });
    await links.redeem(used!.token, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }));
    openLink = (await links.make({ orgId: 'may-a', workerIds: ['A001'], madeBy: 'acme-hr' }))[0]!.token;
    // The hub store where `safegate hub run` keeps it: beside the directory in PostgreSQL, else its own SQLite file.
    store = target.kind === 'postgres' ? await PgHubStore.open(target.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    const events = typicalEvents(30, 1, NOW - 86_400_000).map((e, i) => ({ ...e, workerId: i % 3 === 0 ? PERSON.workerId : 'A002' }));
    await store.ingest('kiosk-a', events, NOW);
    await store.recordAlert('kiosk-a', { v: 1, kind: 'quarantined-entry-attempt', seq: 4, atMs: NOW - 1000, checkpointId: 'gate-a', workerId: PERSON.workerId, reasons: ['QUARANTINE_ACTIVE'] }, NOW);
    audit = [];
    sources = { directory, passes, store, audit: (l) => audit.push(l), now: () => NOW };
  });
  afterEach(async () => {
    await directory?.close();
    await store?.close();
    dir.remove();
  });

  it('exports everything the hub holds about one person, and audits the request without naming them', async () => {
    const doc = await exportPerson(sources, PERSON.workerId, 'op:province');
    expect(doc.organisationList).toMatchObject({ orgId: 'may-a', fullName: PERSON.fullName, idNumber: PERSON.idNumber, phone: PERSON.phone, residence: PERSON.residence });
    expect(doc.roster).toMatchObject({ workerId: PERSON.workerId, displayName: PERSON.fullName, testResult: 'negative' });
    // Two printed passes and the phone pass of the first link, revoked when the second link was made.
    expect(doc.passes.map((p) => [p.kind, p.boundToPhone, p.state]).sort()).toEqual([['phone', true, 'revoked'], ['printed', false, 'live'], ['printed', false, 'live']]);
    expect(doc.phoneLinks).toHaveLength(2);
    // Both made at NOW: which comes first is not defined, so the used one is looked for.
    expect(doc.phoneLinks).toContainEqual(expect.objectContaining({ madeBy: 'acme-hr', usedAtMs: NOW }));
    expect(JSON.stringify(doc)).not.toContain(openLink);
    expect(doc.events).toHaveLength(10);
    expect(doc.events.every((e) => e.workerId === PERSON.workerId && /^2026-11-2\dT/.test(e.at))).toBe(true);
    expect(doc.alerts).toHaveLength(1);
    expect(JSON.stringify(doc)).not.toContain('A002');
    expect(audit).toEqual([{ at: new Date(NOW).toISOString(), requestId: doc.requestId, request: 'access', by: 'op:province', counts: { listRow: true, roster: true, passes: 3, phoneLinks: 2, shuttles: 0, events: 10, alerts: 1, traces: 0 } }]);
    for (const secret of Object.values(PERSON)) expect(JSON.stringify(audit)).not.toContain(secret);
    await expect(exportPerson(sources, 'nobody', 'op:province')).rejects.toThrow('the hub holds nothing about worker nobody');
  });

  it('erases a person everywhere on the hub: roster tombstone, list row, passes revoked onto the stream, events anonymised, alerts deleted', async () => {
    const passIds = (await passes.list({ workerId: PERSON.workerId })).map((p) => p.passId);
    const r = await erasePerson(sources, PERSON.workerId, 'op:province');
    expect(r).toMatchObject({ rosterRemoved: true, listRowDeleted: true, passesRevoked: 2, passRecordsDeleted: 3, phoneLinksDeleted: 2, eventsAnonymised: 10, alertsDeleted: 1 });
    expect(await directory.hubOnlyWorker(PERSON.workerId)).toBeUndefined();
    expect(await passes.list({ workerId: PERSON.workerId })).toEqual([]);
    expect(await store.personData(PERSON.workerId)).toEqual({ events: [], alerts: [] });
    // Kiosks: a tombstone on the roster, the passes on the revocations stream, nothing else about them.
    const roster = (await directory.respond({ v: PROTOCOL_VERSION, stream: 'roster', cursor: 1 }, NOW)).flatMap((p) => p.body.map((b) => streamCodecs.roster.fromWire(b)));
    expect(roster.find((x) => x.key === PERSON.workerId)).toEqual({ deleted: true, key: PERSON.workerId });
    const revoked = (await directory.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor: 0 }, NOW)).flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b).key));
    expect(revoked.sort()).toEqual([...passIds].sort());
    // The link not yet opened no longer finds anyone.
    const links = new PhoneLinks({ sql: directory.sql, now: () => NOW });
    await expect(links.preview(openLink)).rejects.toThrow(expect.objectContaining({ refusal: 'unknown' }));
    // The other worker is untouched.
    expect(await directory.hubOnlyWorker('A002')).toBeDefined();
    expect((await passes.list({ workerId: 'A002' }))[0]?.state).toBe('live');
    expect((await store.personData('A002')).events).toHaveLength(20);
    expect(audit.map((l) => [l.request, l.requestId])).toEqual([['erasure', r.requestId]]);
    for (const secret of Object.values(PERSON)) expect(JSON.stringify(audit)).not.toContain(secret);
    await expect(erasePerson(sources, PERSON.workerId, 'op:province')).rejects.toThrow('the hub holds nothing about worker A001');
  });

  it('refuses to erase a person under an active health measure unless forced', async () => {
    const record = JSON.parse((await directory.sql.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'roster' AND key = ${PERSON.workerId}`))!.value) as WorkerRecord;
    await directory.importRoster([{ ...record, caseStatus: 'F1' }], false);
    await expect(erasePerson(sources, PERSON.workerId, 'op:province')).rejects.toThrow(/active health measure \(case status F1\)/);
    expect(await directory.hubOnlyWorker(PERSON.workerId)).toBeDefined();
    expect(audit).toEqual([]);
    expect((await erasePerson(sources, PERSON.workerId, 'op:province', { force: true })).rosterRemoved).toBe(true);
  });

  it('runs as safegate hub person export and erase, the export file readable by its owner only, the audit log naming no one', async () => {
    // The command opens the same database (a SQLite file's one connection, or PostgreSQL) while this one stays open.
    const at = hubDirectoryAt(target);
    const config = join(dir.path, 'hub.yaml');
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path }, store: { path: 'hub.db' } }));
    const out = join(dir.path, 'a001.json');
    const cli = (args: string[]) => safegate([...args, '--config', config], { env: at.env });
    const exported = cli(['hub', 'person', 'export', '--worker', PERSON.workerId, '--out', out]);
    expect(exported.stderr).toBe('');
    expect(exported.stdout).toMatch(/a001\.json: 3 pass\(es\), 10 event\(s\), 1 alert\(s\); request [0-9a-f-]{36}/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ format: 'safegate-person-export/1', workerId: PERSON.workerId, organisationList: { residence: PERSON.residence } });
    const erased = cli(['hub', 'person', 'erase', '--worker', PERSON.workerId]);
    expect(erased.stdout).toMatch(/^A001 erased from the hub: request [0-9a-f-]{36}/);
    expect(erased.stdout).toMatch(/10 event\(s\) anonymised/);
    const again = cli(['hub', 'person', 'erase', '--worker', PERSON.workerId]);
    expect([again.status, again.stderr]).toEqual([2, 'safegate: the hub holds nothing about worker A001\n']);
    // The log lies beside the directory file (SQLite), or beside the settings (PostgreSQL: no directory file appears).
    if (target.kind === 'postgres') expect(existsSync(join(dir.path, at.path))).toBe(false);
    const log = readFileSync(join(target.kind === 'sqlite' ? dirname(target.path) : dir.path, 'person-requests.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PersonAuditLine);
    expect(log.map((l) => l.request)).toEqual(['access', 'erasure']);
    for (const secret of Object.values(PERSON)) expect(JSON.stringify(log)).not.toContain(secret);
    expect(await directory.hubOnlyWorker(PERSON.workerId)).toBeUndefined();
  });
});
