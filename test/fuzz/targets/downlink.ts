import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { defaultPolicy } from '../../../base/common/policy/policy.js';
import { DOWNLINK_STREAMS, type DataChange, type DownlinkStream, type WorkerRecord } from '../../../base/common/types.js';
import { decodeCbor, encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { HubKeyring, generateSigningKeyPair, keyIdOf, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { silentLogger } from '../../../base/node/logger.js';
import { openStore } from '../../../src-main/core/store/database.js';
import { DownlinkState } from '../../../src-main/core/store/downlink-state.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../../src-main/core/store/hub-data.js';
import { Notices } from '../../../src-main/core/store/notices.js';
import { Roster } from '../../../src-main/core/store/roster.js';
import { DownloadedPlacement } from '../../../src-main/core/store/placement.js';
import { HubSupervisors } from '../../../src-main/core/supervisor/hub-supervisors.js';
import { MAX_REVISION, openDownlink, rosterCodec, sealDownlink, streamCodecs, type DownlinkPart, type StreamCodec } from '../../../sync/downlink-codec.js';
import { Downlink, type ReceiveOutcome } from '../../../sync/downlink.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';
import { deeplyNested } from './batch.js';

const DAY = 86_400_000;
/** The kiosk's clock for every downlink input (the keys stream's lifetimes count from it). */
const NOW = Date.parse('2026-11-27T08:00:00Z');

// ---- records of every stream: valid ones, near misses and garbage ----------------------------------

const workerIds = fc.constantFrom('W1', 'W2', 'W3', 'W4', 'B-100', 'x'.repeat(64));
const time = fc.option(fc.oneof(fc.integer({ min: NOW - 400 * DAY, max: NOW + 400 * DAY }), fc.constantFrom(0, -1, 2 ** 53 - 1)), { nil: null });
const worker: fc.Arbitrary<WorkerRecord> = fc.record({
  workerId: workerIds,
  displayName: fc.string({ minLength: 1, maxLength: 30 }),
  company: fc.string({ maxLength: 10 }),
  team: fc.string({ maxLength: 10 }),
  declaredAt: time,
  declarationFlagged: fc.boolean(),
  testResult: fc.constantFrom('negative' as const, 'positive' as const, null),
  testedAt: time,
  vaccineDoses: fc.integer({ min: 0, max: 99 }),
  quarantineUntil: time,
  caseStatus: fc.constantFrom('none' as const, 'F0' as const, 'F1' as const),
}).chain((w) =>
  // A worker of the province list, or of an organisation's (with its organisation and site).
  fc.oneof(fc.constant(w), fc.record({ orgId: fc.constantFrom('org-a', 'org.b'), siteId: fc.constantFrom('site-1', 'kcn_2') }).map((at) => ({ ...w, ...at }))),
);

const supervisorValue = fc.record({
  id: fc.constantFrom('hub-0a1b2c3d4e5f', 'hub-ffffffffffff', 'supervisor'),
  siteId: fc.constantFrom('site-1', 'kcn_2'),
  name: fc.constantFrom('Nguyễn Thị Lan', 'Trần Văn Bình'),
  pinHash: fc.constantFrom(`scrypt$15$8$1$${'A'.repeat(22)}==$${'B'.repeat(43)}=`, `scrypt$14$8$1$${'C'.repeat(22)}==$${'D'.repeat(43)}=`),
});

const placementValue = fc.record({
  deviceId: fc.constantFrom('kiosk-fuzz', 'kiosk-other'),
  checkpointId: fc.constantFrom('gate-1', null),
  siteId: fc.constantFrom('site-1', 'kcn_2'),
  orgIds: fc.array(fc.constantFrom('org-a', 'org.b'), { maxLength: 2 }),
});

const odd: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.constantFrom(-1, 0, 1, 2 ** 53, 1e300, 0.5, '', 'x'.repeat(130), null, undefined, true, [], new Map([[1, 2]]), new Map([['a', new Map([[2, 3]])]])),
  fc.string({ maxLength: 8 }),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
  fc.uint8Array({ maxLength: 4 }),
);

/** Replaces one element of a record (or one field of its value) with something odd. */
const nearMiss = <T>(record: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.tuple(record, fc.nat(), odd, fc.string({ maxLength: 12 })).map(([r, at, v, field]) => {
    if (!Array.isArray(r)) return r;
    const copy = [...(r as unknown[])];
    const i = at % copy.length;
    const inner = copy[i];
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner) && !(inner instanceof Uint8Array)) {
      const keys = Object.keys(inner);
      copy[i] = { ...inner, [at % 3 === 0 ? field : keys[at % keys.length] ?? field]: v };
    } else copy[i] = v;
    return copy;
  });

const noticeValue = fc.record({
  id: fc.constantFrom('n-1', 'n-2', 'n.3'),
  vi: fc.string({ minLength: 1, maxLength: 40 }),
  en: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: null }),
  priority: fc.constantFrom('info', 'important', 'urgent'),
  startsAtMs: fc.integer({ min: 0, max: NOW + DAY }),
  expiresAtMs: fc.integer({ min: 1, max: NOW + 30 * DAY }),
});
const revocationValue = fc.record({
  passId: fc.oneof(fc.constantFrom('deadbeef00010203', '0123456789abcdef'), fc.stringMatching(/^[0-9a-f]{16}$/)),
  revokedAtMs: fc.integer({ min: 1, max: NOW }),
});

interface KeyMaterial {
  /** Installed: the kiosk's downlink anchor and its pass key (keys/<role>/). */
  downlink: GeneratedKeyPair;
  pass: GeneratedKeyPair;
  /** Keys the hub may deliver over the keys stream (and a key nobody vouches for). */
  nextPass: GeneratedKeyPair;
  nextDownlink: GeneratedKeyPair;
  stranger: GeneratedKeyPair;
  es256: GeneratedKeyPair;
  privates: Record<Signer, KeyObject>;
}
type Signer = 'downlink' | 'pass' | 'nextDownlink' | 'stranger';

function keyRecordArb(k: KeyMaterial): fc.Arbitrary<unknown[]> {
  const rec = (pair: GeneratedKeyPair, role: string, notAfterMs?: number) => [0, pair.kid, { kid: pair.kid, role, publicPem: pair.publicPem, ...(notAfterMs ? { notAfterMs } : {}) }];
  return fc.oneof(
    fc.constantFrom(
      rec(k.nextPass, 'pass'),
      rec(k.nextDownlink, 'downlink'),
      rec(k.es256, 'pass', NOW + DAY),
      rec(k.nextPass, 'downlink'),
      // An installed key sent again under another role: it keeps its installed role.
      rec(k.pass, 'downlink'),
      rec(k.downlink, 'pass'),
      [0, k.nextPass.kid, { kid: k.nextPass.kid, role: 'pass', publicPem: k.nextDownlink.publicPem }],
      [0, k.nextPass.kid, { kid: k.nextPass.kid, role: 'admin', publicPem: k.nextPass.publicPem }],
      [0, k.nextPass.kid, { kid: k.nextPass.kid, role: 'pass', publicPem: '-----BEGIN PUBLIC KEY-----\nnot a key at all, just text\n-----END PUBLIC KEY-----\n' }],
      [1, k.nextPass.kid],
      [1, k.downlink.kid],
    ),
    fc.integer({ min: -DAY, max: 4 * 365 * DAY }).map((d) => rec(k.nextPass, 'pass', NOW + d)),
  );
}

function recordsFor(stream: DownlinkStream, k: KeyMaterial, validOnly: boolean): fc.Arbitrary<unknown> {
  const valid: Record<DownlinkStream, fc.Arbitrary<unknown>> = {
    roster: fc.oneof(
      { weight: 4, arbitrary: worker.map((w) => rosterCodec.toWire({ deleted: false, key: w.workerId, value: w })) },
      { weight: 1, arbitrary: workerIds.map((id) => [1, id]) },
    ),
    notices: fc.oneof(
      { weight: 4, arbitrary: noticeValue.map((n) => [0, n.id, n]) },
      { weight: 1, arbitrary: fc.constantFrom([1, 'n-1'], [1, 'n-2'], [0, 'n-9', { id: 'n-1', vi: 'x', en: null, priority: 'info', startsAtMs: 0, expiresAtMs: 1 }]) },
    ),
    revocations: fc.oneof({ weight: 4, arbitrary: revocationValue.map((r) => [0, r.passId, r]) }, { weight: 1, arbitrary: revocationValue.map((r) => [1, r.passId]) }),
    policy: fc
      .tuple(fc.integer({ min: 0, max: 1_000_000_001 }), fc.constantFrom<unknown>(undefined, { '==': [1, 1] }, { var: '__proto__' }, { method: ['x', 'toString'] }, { nope: [] }, { var: 'worker.caseStatus' }))
      .map(([version, logic]) => {
        const document = structuredClone(defaultPolicy()) as { version: number; rules: { logic: unknown }[] };
        document.version = version;
        if (logic !== undefined && document.rules[0]) document.rules[0].logic = logic;
        return [0, 'current', { document }];
      }),
    keys: keyRecordArb(k),
    placement: fc.oneof({ weight: 4, arbitrary: placementValue.map((p) => [0, p.deviceId, p]) }, { weight: 1, arbitrary: placementValue.map((p) => [1, p.deviceId]) }),
    // This kiosk takes no settings stream (not wired below): every settings part is refused unread.
    settings: placementValue.map((p) => [0, p.deviceId, { deviceId: p.deviceId, version: 2, document: 'AAAA' }]),
    // Nor a dcc stream (HC1 off): refused unread too.
    dcc: fc.constantFrom([0, 'AAAAAAAAAAA=', { kid: 'AAAAAAAAAAA=', certificate: 'AAAA' }], [1, 'AAAAAAAAAAA=']),
    supervisors: fc.oneof(
      { weight: 4, arbitrary: supervisorValue.map((s) => [0, s.id, s]) },
      { weight: 1, arbitrary: supervisorValue.map((s) => [1, s.id]) },
      // A PIN hash whose cost would hang a kiosk (2^30), and a peppered one: refused.
      { weight: 1, arbitrary: supervisorValue.map((s) => [0, s.id, { ...s, pinHash: s.pinHash.replace(/^scrypt\$15/, 'scrypt$30') }]) },
      { weight: 1, arbitrary: supervisorValue.map((s) => [0, s.id, { ...s, pinHash: s.pinHash.replace(/^scrypt\$/, 'scrypt-pepper$') }]) },
    ),
  };
  if (validOnly) return valid[stream];
  return fc.oneof({ weight: 6, arbitrary: valid[stream] }, { weight: 2, arbitrary: nearMiss(valid[stream]) }, { weight: 1, arbitrary: odd }, { weight: 1, arbitrary: fc.array(odd, { maxLength: 4 }) });
}

// ---- messages ------------------------------------------------------------------------------------

/** A revision or issue time relative to what the kiosk holds when the message arrives, or absolute. */
type Rel = { rel: number } | { abs: number };
const rel = (near: number[]): fc.Arbitrary<Rel> =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...near).map((r) => ({ rel: r })) }, { weight: 1, arbitrary: fc.oneof(fc.nat(), fc.constantFrom(MAX_REVISION, MAX_REVISION + 1, -1, 2 ** 53)).map((a) => ({ abs: a })) });

interface PartRecipe {
  type: 'part';
  signer: Signer;
  stream: DownlinkStream;
  kind: 'snapshot' | 'delta' | 'current' | string;
  from: Rel;
  to: Rel;
  part: number;
  parts: number;
  issued: Rel;
  body: unknown[];
  extra: [string, unknown][];
  flips: [number, number][];
}
export type DownlinkMessage =
  | { type: 'bytes'; bytes: Uint8Array }
  | { type: 'signed'; signer: Signer; value: unknown }
  | { type: 'signed-bytes'; signer: Signer; payload: Uint8Array }
  | PartRecipe
  | { type: 'transfer'; parts: PartRecipe[] };

function messageArb(k: KeyMaterial): fc.Arbitrary<DownlinkMessage> {
  const anySigner = fc.constantFrom<Signer>('downlink', 'downlink', 'downlink', 'nextDownlink', 'pass', 'stranger');
  const goodSigner = fc.constantFrom<Signer>('downlink', 'downlink', 'downlink', 'nextDownlink');
  const body = (stream: DownlinkStream) =>
    fc.oneof(
      // Every record valid (so transfers get applied), or valid ones mixed with near misses and garbage.
      { weight: 3, arbitrary: fc.array(recordsFor(stream, k, true), { maxLength: 6 }) },
      { weight: 2, arbitrary: fc.array(recordsFor(stream, k, false), { maxLength: 6 }) },
    );
  /** A part as the hub would send it (only its body may be wrong), or one with any header at all. */
  const part = (wild: boolean) =>
    fc.constantFrom(...DOWNLINK_STREAMS).chain((stream) =>
      fc.record({
        type: fc.constant('part' as const),
        signer: wild ? anySigner : goodSigner,
        stream: fc.constant(stream),
        kind: wild ? fc.oneof({ weight: 9, arbitrary: fc.constantFrom('snapshot', 'delta', 'current') }, fc.constantFrom('Snapshot', '')) : fc.constantFrom('snapshot', 'delta', 'delta', 'current'),
        from: wild ? rel([0, -1, 1]) : fc.constant({ rel: 0 }),
        to: wild ? rel([1, 2, 0, -1]) : fc.constantFrom({ rel: 1 }, { rel: 1 }, { rel: 2 }, { rel: 0 }),
        part: wild ? fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 2 }) }, fc.constantFrom(-1, 10_000, 0.5)) : fc.constant(0),
        parts: wild ? fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.constantFrom(0, 10_000, 10_001)) : fc.constant(1),
        issued: wild ? rel([1000, 0, -1000, 1]) : fc.constantFrom({ rel: 1000 }, { rel: 1000 }, { rel: 0 }, { rel: -1000 }),
        body: body(stream),
        extra: wild ? (fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, fc.array(fc.tuple(fc.constantFrom('v', 'body', 'stream', 'extra', 'to', '__proto__'), odd), { maxLength: 2 })) as fc.Arbitrary<[string, unknown][]>) : fc.constant([]),
        flips: wild ? (fc.oneof({ weight: 8, arbitrary: fc.constant([]) }, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 2 })) as fc.Arbitrary<[number, number][]>) : fc.constant([]),
      }),
    );
  /** A transfer in several parts, delivered in any order, some parts twice or not at all. */
  const transfer = fc.constantFrom(...DOWNLINK_STREAMS).chain((stream) =>
    fc
      .record({
        signer: goodSigner,
        kind: fc.constantFrom('snapshot', 'delta'),
        to: fc.constantFrom({ rel: 1 }, { rel: 2 }),
        issued: fc.constantFrom({ rel: 1000 }, { rel: 5 }),
        bodies: fc.array(body(stream), { minLength: 2, maxLength: 3 }),
        order: fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 5 }),
      })
      .map(({ bodies, order, ...t }) => ({
        type: 'transfer' as const,
        parts: order.map(
          (i): PartRecipe => ({ type: 'part', stream, from: { rel: 0 }, part: i % bodies.length, parts: bodies.length, body: bodies[i % bodies.length]!, extra: [], flips: [], ...t }),
        ),
      })),
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.record({ type: fc.constant('bytes' as const), bytes: fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 1, max: 30_000 }).map((n) => deeplyNested(n))) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('signed-bytes' as const),
        signer: anySigner,
        payload: fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.integer({ min: 1, max: 30_000 }).map((n) => deeplyNested(n, 0xa1 + (n % 2) * -0x20))),
      }),
    },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('signed' as const), signer: anySigner, value: fc.oneof(odd, fc.dictionary(fc.string({ maxLength: 6 }), odd, { maxKeys: 9 })) }) },
    { weight: 3, arbitrary: part(true) },
    { weight: 6, arbitrary: part(false) },
    { weight: 2, arbitrary: transfer },
  ) as fc.Arbitrary<DownlinkMessage>;
}

// ---- the store's state, to tell whether a message changed anything ----------------------------------

const TABLES = {
  cursors: 'SELECT stream, cursor, applied_at, checked_at, issued_at FROM downlink_cursors ORDER BY stream',
  staging: 'SELECT stream, kind, from_rev, to_rev, part, parts, hex(body) AS body FROM downlink_staging ORDER BY stream, part',
  workers: 'SELECT * FROM workers ORDER BY worker_id',
  notices: 'SELECT * FROM notices ORDER BY id',
  revoked: 'SELECT * FROM revoked_passes ORDER BY pass_id',
  policy: 'SELECT * FROM downloaded_policy',
  keys: 'SELECT * FROM hub_keys ORDER BY kid',
  placement: 'SELECT * FROM placement ORDER BY device_id',
  supervisors: 'SELECT id, name, hash, origin FROM supervisors ORDER BY id',
} as const;
type Snapshot = Record<keyof typeof TABLES | 'ring', string>;

export function downlinkTargets(closer: Closer): AnyFuzzTarget[] {
  const pair = (alg: 'EdDSA' | 'ES256' = 'EdDSA') => generateSigningKeyPair(alg);
  const material = { downlink: pair(), pass: pair(), nextPass: pair(), nextDownlink: pair(), stranger: pair(), es256: pair('ES256') };
  const k: KeyMaterial = {
    ...material,
    privates: {
      downlink: createPrivateKey(material.downlink.privatePem),
      pass: createPrivateKey(material.pass.privatePem),
      nextDownlink: createPrivateKey(material.nextDownlink.privatePem),
      stranger: createPrivateKey(material.stranger.privatePem),
    },
  };

  const dir = scratchDir('safegate-fuzz-downlink-');
  const db = openStore(join(dir.path, 'kiosk.db'));
  closer.add(() => {
    db.close();
    dir.remove();
  });
  const state = new DownlinkState(db);
  const roster = new Roster(db);
  const notices = new Notices(db);
  const revocations = new Revocations(db);
  const downloadedPolicy = new DownloadedPolicy(db);
  const downloadedKeys = new DownloadedKeys(db);
  const placement = new DownloadedPlacement(db, 'kiosk-fuzz');
  const hubSupervisors = new HubSupervisors(db, Buffer.alloc(32, 7));
  let ring = new HubKeyring();
  const freshRing = () => {
    ring = new HubKeyring();
    ring.add(createPublicKey(k.downlink.publicPem), { role: 'downlink', source: 'fuzz' });
    ring.add(createPublicKey(k.pass.publicPem), { role: 'pass', source: 'fuzz' });
    downloadedKeys.loadInto(ring);
  };
  freshRing();
  // Wired as test/sync/downlink.test.ts wires it (and src-main/app/kiosk.ts).
  const downlink = new Downlink(
    'kiosk-fuzz',
    state,
    () => ring,
    {
      roster: (kind, changes) => roster.applyChanges(kind, changes),
      notices: (kind, changes) => notices.applyChanges(kind, changes),
      revocations: (kind, changes) => revocations.applyChanges(kind, changes),
      policy: (kind, changes) => downloadedPolicy.applyChanges(kind, changes),
      keys: (kind, changes) => downloadedKeys.applyChanges(kind, changes, ring, NOW),
      placement: (kind, changes) => placement.applyChanges(kind, changes),
      supervisors: (kind, changes) => hubSupervisors.applyChanges(kind, changes, NOW),
    },
    silentLogger,
    { now: () => NOW },
  );

  // A starting point with data in every stream, so deltas, replays and re-bases have something to meet.
  const seal = (p: Partial<DownlinkPart>, signer: Signer = 'downlink') =>
    sealDownlink({ v: 1, stream: 'roster', kind: 'snapshot', from: 0, to: 1, part: 0, parts: 1, issuedAtMs: NOW - DAY, body: [], ...p }, k.privates[signer]);
  const w = (id: string): WorkerRecord => ({ workerId: id, displayName: id, company: '', team: '', declaredAt: NOW - DAY, declarationFlagged: false, testResult: null, testedAt: null, vaccineDoses: 2, quarantineUntil: null, caseStatus: 'none' });
  for (const [p, want] of [
    [seal({ stream: 'roster', to: 3, body: ['W1', 'W2', 'W3'].map((id) => rosterCodec.toWire({ deleted: false, key: id, value: w(id) })) }), 'applied'],
    [seal({ stream: 'notices', to: 1, body: [[0, 'n-1', { id: 'n-1', vi: 'Thông báo', en: null, priority: 'info', startsAtMs: 0, expiresAtMs: NOW + DAY }]] }), 'applied'],
    [seal({ stream: 'keys', to: 1, body: [[0, k.nextDownlink.kid, { kid: k.nextDownlink.kid, role: 'downlink', publicPem: k.nextDownlink.publicPem }]] }), 'applied'],
    [seal({ stream: 'revocations', kind: 'delta', from: 0, to: 2, part: 0, parts: 2, body: [[0, 'deadbeef00010203', { passId: 'deadbeef00010203', revokedAtMs: NOW - DAY }]] }), 'staged'],
  ] as const) {
    const got = downlink.receive(p, NOW - DAY);
    if (got.status !== want) throw new Error(`downlink fuzz set-up: ${show(got)}`);
  }

  const queries = Object.entries(TABLES).map(([name, sql]) => [name as keyof typeof TABLES, db.prepare(sql)] as const);
  const snapshot = (): Snapshot => {
    const s = {} as Snapshot;
    for (const [name, query] of queries) s[name] = JSON.stringify(query.all());
    s.ring = JSON.stringify(ring.list().map((t) => [t.kid, t.role, t.origin, t.anchorKid ?? null, t.notAfterMs ?? null]));
    return s;
  };
  const changed = (a: Snapshot, b: Snapshot) => (Object.keys(a) as (keyof Snapshot)[]).filter((t) => a[t] !== b[t]);

  const resolve = (r: Rel, base: number) => ('rel' in r ? base + r.rel : r.abs);
  const build = (m: Exclude<DownlinkMessage, { type: 'transfer' }>): Uint8Array => {
    if (m.type === 'bytes') return m.bytes;
    const key = k.privates[m.signer];
    if (m.type === 'signed') return signCoseSign1(cborEncode(m.value), key, keyIdOf(key));
    if (m.type === 'signed-bytes') return signCoseSign1(m.payload, key, keyIdOf(key));
    const cursor = state.cursor(m.stream).cursor;
    const issuedBase = state.issuedAt(m.stream) ?? NOW - DAY;
    const doc = new Map<string, unknown>([
      ['v', 1],
      ['stream', m.stream],
      ['kind', m.kind],
      ['from', m.kind === 'snapshot' && 'rel' in m.from && m.from.rel === 0 ? 0 : resolve(m.from, cursor)],
      ['to', resolve(m.to, cursor)],
      ['part', m.part],
      ['parts', m.parts],
      ['issuedAtMs', resolve(m.issued, issuedBase)],
      ['body', m.body],
    ]);
    for (const [f, v] of m.extra) doc.set(f, v);
    const bytes = signCoseSign1(cborEncode(doc), key, keyIdOf(key));
    for (const [at, x] of m.flips) bytes[at % bytes.length]! ^= x;
    return bytes;
  };

  const runOne = (m: Exclude<DownlinkMessage, { type: 'transfer' }>): ReceiveOutcome => {
    const bytes = build(m);
    const before = snapshot();
    const stagedBefore = m.type === 'part' ? state.staged(m.stream) : undefined;
    const issuedBefore = m.type === 'part' ? state.issuedAt(m.stream) : null;
    const outcome = downlink.receive(bytes, NOW);
    const after = snapshot();
    const diff = changed(before, after);
    const status = outcome.status;
    check(['rejected', 'stale', 'current', 'staged', 'applied'].includes(status), () => `outcome ${show(outcome)}`);
    if (status === 'rejected' || status === 'stale') {
      check(diff.length === 0, () => `a ${status} message (${show(outcome)}) changed ${diff.join(', ')}`);
      check('detail' in outcome && outcome.detail.length > 0, 'a refusal without its reason');
    } else if (status === 'current') {
      // A confirmation renews the data's age (it moves the cursor row), and only when signed after the last one.
      check(diff.length === 1 && diff[0] === 'cursors', () => `a confirmation changed ${diff.join(', ') || 'nothing'}`);
      const issuedAt = openDownlink(bytes, ring, NOW);
      check(issuedAt.ok && (issuedBefore === null || issuedAt.part.issuedAtMs > issuedBefore), () => `a confirmation issued at ${issuedAt.ok ? issuedAt.part.issuedAtMs : '?'} was taken after one issued at ${issuedBefore}`);
    } else if (status === 'staged') {
      check(diff.every((t) => t === 'staging'), () => `a staged part changed ${diff.join(', ')}`);
      check(outcome.have >= 1 && outcome.have < outcome.parts, () => `staged ${show(outcome)}`);
    } else {
      const stream = outcome.stream;
      check(state.cursor(stream).cursor === outcome.to && state.staged(stream) === undefined, () => `applied ${show(outcome)} but the cursor is ${show(state.cursor(stream))}`);
      // A single-part transfer: every record is in the store as the part said (the last change of a key wins).
      const opened = openDownlink(bytes, ring, NOW);
      check(opened.ok && (issuedBefore === null || opened.part.issuedAtMs >= issuedBefore), () => `a transfer issued before the data held was applied`);
      if (opened.ok && opened.part.parts === 1 && stagedBefore === undefined && stream === 'roster') checkRoster(opened.part, roster);
    }
    return outcome;
  };

  return [
    target({
      name: 'downlink: bytes and signed parts',
      weight: 25,
      smallRuns: 300,
      arbitrary: fc.array(messageArb(k), { minLength: 1, maxLength: 5 }),
      run(messages: DownlinkMessage[]) {
        // Each input starts from the same state: its messages run in a transaction that is rolled back.
        db.exec('BEGIN');
        try {
          for (const m of messages) for (const one of m.type === 'transfer' ? m.parts : [m]) runOne(one);
        } finally {
          db.exec('ROLLBACK');
          freshRing();
        }
      },
    }),
    target({
      name: 'downlink: stream records',
      weight: 20,
      smallRuns: 400,
      arbitrary: fc.constantFrom(...DOWNLINK_STREAMS).chain((stream) => fc.record({ stream: fc.constant(stream), record: recordsFor(stream, k, false) })),
      run({ stream, record }: { stream: DownlinkStream; record: unknown }) {
        const codec = streamCodecs[stream] as StreamCodec<unknown>;
        let wire: unknown;
        try {
          // As a record travels: CBOR, maps arriving as Maps (a record CBOR cannot carry refuses the whole part).
          wire = decodeCbor(encodeCbor(record));
        } catch {
          return;
        }
        let change: DataChange<unknown>;
        try {
          change = codec.fromWire(wire);
        } catch (err) {
          check(err instanceof Error && err.message.length > 0, () => `fromWire threw ${show(err)}`);
          return;
        }
        // A record taken is what the store gets: staged records are read back with fromChecked, which must agree.
        check(isDeepStrictEqual(codec.fromChecked(wire), change), () => `fromChecked gives ${show(codec.fromChecked(wire))}, fromWire ${show(change)}`);
        const again = codec.fromWire(decodeCbor(encodeCbor(codec.toWire(change))));
        check(isDeepStrictEqual(again, change), () => `${stream} record ${show(change)} came back as ${show(again)}`);
      },
    }),
  ];
}

function checkRoster(part: DownlinkPart, roster: Roster): void {
  const last = new Map<string, unknown>();
  for (const r of part.body) {
    const c = rosterCodec.fromChecked(r);
    last.set(c.key, c.deleted ? undefined : c.value);
  }
  for (const [id, value] of last) {
    const held = roster.get(id);
    check(JSON.stringify(held) === JSON.stringify(value), () => `roster ${part.kind}: ${id} is ${show(held)}, the part said ${show(value)}`);
  }
  if (part.kind === 'snapshot') check(roster.count() === [...last.values()].filter(Boolean).length, () => `a snapshot of ${last.size} workers left ${roster.count()}`);
}
