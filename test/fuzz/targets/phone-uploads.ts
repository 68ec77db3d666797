import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { encode as base45Encode } from '@digitalbazaar/base45';
import { HubKeyring } from '../../../base/node/keys.js';
import { encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { keyIdOf } from '../../../base/node/keys.js';
import { CheckpointCodeError, CHECKPOINT_CODE_PREFIX, readCheckpointCode, rotatingCheckpointCode, staticCheckpointCode } from '../../../sync/hub/checkpoint-codes.js';
import { Declarations, DECLARATION_QUESTIONS, declarationPayloadSchema } from '../../../sync/hub/declarations.js';
import { Visits } from '../../../sync/hub/visits.js';
import { deflateSync } from 'node:zlib';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { PhoneUploadError, PhoneUploads, signPhoneUpload } from '../../../sync/hub/phone-uploads.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';

/**
 * What a phone page uploads on its own (sync/hub/phone-uploads.ts, sync/hub/declarations.ts):
 * whatever body arrives, the hub never throws anything but its refusal (with a status and words),
 * and keeps only a payload of the right shape signed by the phone its live pass is bound to.
 */

const NOW_MS = Date.parse('2026-11-27T01:00:00Z');
const ID = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 22, maxLength: 22 });
const jsonish: fc.Arbitrary<unknown> = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));

const answerFields = Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, fc.oneof(fc.boolean(), jsonish)])) as Record<string, fc.Arbitrary<unknown>>;

/** A declaration-like payload: mostly right, each field possibly wrong, extra or missing. */
const declarationLike = fc.record(
  {
    kind: fc.oneof(fc.constant('declaration'), jsonish),
    id: fc.oneof(ID, jsonish),
    madeAtMs: fc.oneof(fc.integer({ min: NOW_MS - 9 * 86_400_000, max: NOW_MS + 3_600_000 }), jsonish),
    answers: fc.oneof(
      fc.record({ ...answerFields, travelWhere: fc.string({ maxLength: 250 }) } as Record<string, fc.Arbitrary<unknown>>, { requiredKeys: [...DECLARATION_QUESTIONS] }),
      fc.dictionary(fc.string({ maxLength: 12 }), jsonish, { maxKeys: 4 }),
      jsonish,
    ),
    extra: jsonish,
  },
  { requiredKeys: ['kind', 'id', 'madeAtMs', 'answers'] },
);

type UploadInput =
  | { mode: 'body'; body: unknown }
  | { mode: 'signed'; signer: 'phone' | 'thief'; payload: unknown; raw: boolean; text: string }
  | { mode: 'tampered'; payload: unknown; field: 'pass' | 'payload' | 'sig'; value: string };

const uploadInput: fc.Arbitrary<UploadInput> = fc.oneof(
  fc.record({ mode: fc.constant('body' as const), body: fc.oneof(jsonish, fc.dictionary(fc.constantFrom('pass', 'payload', 'sig', 'x'), fc.oneof(jsonish, fc.base64String({ maxLength: 120 })), { maxKeys: 4 })) }),
  fc.record({ mode: fc.constant('signed' as const), signer: fc.constantFrom('phone' as const, 'thief' as const), payload: declarationLike, raw: fc.boolean(), text: fc.string({ maxLength: 60 }) }),
  fc.record({ mode: fc.constant('tampered' as const), payload: declarationLike, field: fc.constantFrom('pass' as const, 'payload' as const, 'sig' as const), value: fc.string({ maxLength: 120 }) }),
);

export async function phoneUploadTargets(closer: Closer): Promise<AnyFuzzTarget[]> {
  const dir = scratchDir('safegate-fuzz-uploads-');
  const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
  closer.add(async () => {
    await directory.close();
    dir.remove();
  });
  await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' }, NOW_MS);
  await directory.addSite({ id: 'site-a', orgId: 'ORG-A' });
  await directory.uploadWorkers('ORG-A', [{ line: 2, workerId: 'W1', fullName: 'Trần Thị Mai', team: 'Tổ 1', birthYear: null, sex: null, idNumber: null, phone: null, residence: null, siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 2 }], { nowMs: NOW_MS });
  const phonePassKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
  const links = new PhoneLinks({ sql: directory.sql, phonePassKey, now: () => NOW_MS });
  const passes = new PassRegistry({ sql: directory.sql, now: () => NOW_MS });
  const declarations = new Declarations({ sql: directory.sql, directory, uploads: new PhoneUploads(phonePassKey, passes), now: () => NOW_MS });
  const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const [made] = await links.make({ orgId: 'ORG-A', workerIds: ['W1'], madeBy: 'fuzz' });
  const pass = (await links.redeem(made!.token, phone.publicKey.export({ format: 'jwk' }))).pass;
  await directory.addCheckpoint({ id: 'canteen-a', siteId: 'site-a', kind: 'canteen', orgIds: ['ORG-A'] }, NOW_MS);
  const codeKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
  const codeRing = new HubKeyring();
  codeRing.add(codeKey, { role: 'checkpoint-code', source: 'fuzz' });
  const visits = new Visits({ sql: directory.sql, uploads: new PhoneUploads(phonePassKey, passes), checkpointCodeKey: codeKey, now: () => NOW_MS });
  const goodCodes = [staticCheckpointCode(codeKey, 'canteen-a'), rotatingCheckpointCode(codeKey, 'canteen-a', NOW_MS).code];
  return [
    target({
      name: 'phone declaration upload',
      weight: 60,
      smallRuns: 200,
      arbitrary: uploadInput,
      async run(input: UploadInput) {
        let body: unknown;
        let mayKeep = false;
        if (input.mode === 'body') body = input.body;
        else {
          const text = input.mode === 'signed' && input.raw ? input.text : JSON.stringify(input.payload);
          body = signPhoneUpload(pass, text, input.mode === 'signed' && input.signer === 'thief' ? thief : phone.privateKey);
          if (input.mode === 'tampered') {
            const original = (body as Record<string, string>)[input.field];
            body = { ...(body as object), [input.field]: input.value };
            mayKeep = input.value === original;
          } else mayKeep = input.signer === 'phone';
          if (mayKeep) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            mayKeep = declarationPayloadSchema.safeParse(parsed).success;
          }
        }
        try {
          const r = await declarations.submit(body);
          check(mayKeep, () => `kept an upload it should refuse: ${show(body)}`);
          check(r.workerId === 'W1' && (r.status === 'recorded' || r.status === 'duplicate') && r.declaredAtMs <= NOW_MS, () => `receipt ${show(r)}`);
        } catch (err) {
          if (!(err instanceof PhoneUploadError)) throw err;
          check([400, 401, 409].includes(err.status) && err.message.length > 0, () => `refusal ${err.status} ${err.message}`);
          // A refusal of a well-formed upload signed by the phone is only for its times (clock ahead, too old) or a taken id.
          if (mayKeep) check(/clock is ahead|7 days old|id is taken/.test(err.message), () => `refused a good upload: ${err.message} ${show(body)}`);
        }
      },
    }),
    target({
      name: 'checkpoint code reader',
      weight: 80,
      smallRuns: 300,
      arbitrary: codeInput,
      run(input: CodeInput) {
        let text: string;
        let mayRead = false;
        if (input.mode === 'text') text = input.text;
        else if (input.mode === 'claims') {
          // Signed by the hub's own key, but claims of any shape: only the two known shapes are read.
          text = CHECKPOINT_CODE_PREFIX + base45Encode(new Uint8Array(deflateSync(signCoseSign1(encodeCbor(new Map(input.claims)), codeKey, keyIdOf(codeKey)))));
        } else {
          const good = goodCodes[input.which]!;
          text = good.slice(0, input.cut) + input.tail;
          mayRead = text === good;
        }
        try {
          const code = readCheckpointCode(text, codeRing, NOW_MS);
          check(code.checkpointId.length > 0 && (code.kind === 'static' || (code.kind === 'rotating' && Number.isSafeInteger(code.windowStartMs))), () => `read ${show(code)}`);
          if (input.mode !== 'claims') check(mayRead, () => `an edited code was read: ${show(text, 80)}`);
        } catch (err) {
          if (!(err instanceof CheckpointCodeError)) throw err;
          check(err.message.length > 0, 'a refusal without its reason');
          check(!mayRead, () => `a good code refused: ${err.message}`);
        }
      },
    }),
    target({
      name: 'phone visit upload',
      weight: 60,
      smallRuns: 200,
      arbitrary: visitInput,
      async run(input: VisitInput) {
        const payload = JSON.stringify({ ...input.fields, code: input.code === 'static' || input.code === 'rotating' ? goodCodes[input.code === 'static' ? 0 : 1] : input.code });
        const body = signPhoneUpload(pass, payload, input.thief ? thief : phone.privateKey);
        try {
          const r = await visits.submit(body);
          check(!input.thief && r.workerId === 'W1' && r.checkpointId === 'canteen-a', () => `kept ${show(r)} for ${show(input)}`);
        } catch (err) {
          if (!(err instanceof PhoneUploadError)) throw err;
          check([400, 401, 409].includes(err.status) && err.message.length > 0, () => `refusal ${err.status} ${err.message}`);
        }
      },
    }),
  ];
}

type CodeInput =
  | { mode: 'text'; text: string }
  | { mode: 'claims'; claims: [number, unknown][] }
  | { mode: 'edited'; which: 0 | 1; cut: number; tail: string };

const BASE45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const codeInput: fc.Arbitrary<CodeInput> = fc.oneof(
  fc.record({ mode: fc.constant('text' as const), text: fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: fc.constantFrom(...BASE45), maxLength: 200 }).map((s) => CHECKPOINT_CODE_PREFIX + s)) }),
  fc.record({
    mode: fc.constant('claims' as const),
    claims: fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.oneof(jsonish, fc.constantFrom('canteen-a', 0, 1, 30, 1_790_000_010, -30, 2 ** 53))), { maxLength: 4 }),
  }),
  fc.record({ mode: fc.constant('edited' as const), which: fc.constantFrom(0 as const, 1 as const), cut: fc.nat({ max: 300 }), tail: fc.string({ unit: fc.constantFrom(...BASE45), maxLength: 4 }) }),
);

interface VisitInput {
  thief: boolean;
  code: unknown;
  fields: Record<string, unknown>;
}
const visitInput: fc.Arbitrary<VisitInput> = fc.record({
  thief: fc.boolean(),
  code: fc.oneof(fc.constantFrom('static', 'rotating'), jsonish),
  fields: fc.record(
    {
      kind: fc.oneof(fc.constant('visit'), jsonish),
      id: fc.oneof(ID, jsonish),
      scannedAtMs: fc.oneof(fc.integer({ min: NOW_MS - 15 * 86_400_000, max: NOW_MS + 3_600_000 }), jsonish),
      direction: fc.oneof(fc.constantFrom('in', 'out'), jsonish),
      extra: jsonish,
    },
    { requiredKeys: ['kind', 'id', 'scannedAtMs', 'direction'] },
  ),
});
