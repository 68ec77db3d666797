import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { decodeCbor, encodeCbor, signCoseSign1 } from '../base/node/cose.js';
import { keyIdOf, publicKeyWithId, type HubKeyring, type TrustedKey } from '../base/node/keys.js';
import { openSigned } from '../base/node/signed.js';
import { KEY_ROLE_NAMES, type KeyRole } from '../base/common/key-roles.js';
import { signerFromDer } from '../base/node/dcc/index.js';
import type { DataChange, DccSignerRecord, DeviceSettingsRecord, HubKeyRecord, HubSupervisor, Notice, Placement, PolicyDocument, Revocation, WorkerRecord } from '../base/common/types.js';
import { parsePolicy } from '../base/common/policy/policy.js';
import { SUPERVISOR_ID_PATTERN, deviceIdSchema, identifierSchema, passIdSchema, workerIdSchema } from '../base/common/ids.js';
import { issuesText } from '../base/common/validation.js';
import { DOWNLINK_STREAMS, PROTOCOL_VERSION, type DownlinkStream } from './protocol.js';

/**
 * One part of a downlink transfer, signed by a hub key the kiosk already trusts (COSE_Sign1 over
 * CBOR, the same envelope as worker passes). A transfer takes the kiosk's data from revision `from`
 * to revision `to` in `parts` parts; the kiosk applies it only when every part has arrived.
 */
/**
 * Highest revision a part may name. Revisions count changes at the hub (one per import or
 * publication), so this is far beyond any real stream; the bound keeps a part that claims an absurd
 * revision from being taken at all.
 */
export const MAX_REVISION = 2 ** 31 - 1;

export const downlinkPartSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    stream: z.enum(DOWNLINK_STREAMS),
    /** snapshot: replaces everything; delta: changes since `from`; current: nothing new since `to`. */
    kind: z.enum(['snapshot', 'delta', 'current']),
    from: z.number().int().nonnegative().max(MAX_REVISION),
    to: z.number().int().nonnegative().max(MAX_REVISION),
    part: z.number().int().nonnegative(),
    parts: z.number().int().positive().max(10_000),
    issuedAtMs: z.number().int().positive(),
    body: z.array(z.unknown()).max(20_000),
  })
  .strict()
  .refine((p) => p.part < p.parts, { message: 'part number beyond the part count' })
  .refine((p) => p.kind !== 'snapshot' || p.from === 0, { message: 'a snapshot starts from 0' })
  .refine((p) => p.kind === 'current' || p.to > p.from, { message: 'a transfer must move forward' });
export type DownlinkPart = z.infer<typeof downlinkPartSchema>;

export type DownlinkRejection = 'MALFORMED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE';

export function sealDownlink(part: DownlinkPart, privateKey: KeyObject): Uint8Array {
  return signCoseSign1(encodeCbor(part), privateKey, keyIdOf(privateKey));
}

/** Largest downlink message a kiosk takes (a part of 5,000 roster records is about 400 KB). */
export const MAX_DOWNLINK_BYTES = 4 * 1024 * 1024;

/**
 * Verifies and parses a downlink part: signed by a key trusted for the downlink role (see
 * key-roles.ts); anything unsigned, wrongly signed, signed by a pass key or malformed is refused.
 */
export function openDownlink(
  bytes: Uint8Array,
  keyring: HubKeyring,
  nowMs: number,
): { ok: true; part: DownlinkPart; signer: TrustedKey } | { ok: false; reason: DownlinkRejection; detail: string } {
  if (bytes.length > MAX_DOWNLINK_BYTES) return { ok: false, reason: 'MALFORMED', detail: 'larger than 4 MiB' };
  const opened = openSigned(bytes, keyring, 'downlink-part', nowMs);
  if (!opened.ok) return { ok: false, reason: opened.failure, detail: opened.detail };
  let raw: unknown;
  try {
    raw = decodeCbor(opened.payload);
  } catch (err) {
    return { ok: false, reason: 'MALFORMED', detail: `payload is not CBOR: ${(err as Error).message}` };
  }
  const parsed = downlinkPartSchema.safeParse(raw instanceof Map ? Object.fromEntries(raw) : raw);
  if (!parsed.success) return { ok: false, reason: 'MALFORMED', detail: issuesText(parsed.error) };
  return { ok: true, part: parsed.data, signer: opened.signer };
}

// ---- stream codecs: how each stream's records travel --------------------------------------------

export interface StreamCodec<T> {
  toWire(c: DataChange<T>): unknown[];
  /** Validates a record from the wire; throws with a reason. */
  fromWire(v: unknown): DataChange<T>;
  /** For records validated on arrival and staged by us: mapping only. */
  fromChecked(v: unknown): DataChange<T>;
}

const time = z.number().int().nullable();
/** A worker's record on the wire; a worker on an organisation's list also carries its organisation and site. */
const rosterWireFields = [
  z.literal(0),
  workerIdSchema,
  z.string().min(1).max(120),
  z.string().max(120),
  z.string().max(120),
  time,
  z.boolean(),
  z.enum(['negative', 'positive']).nullable(),
  time,
  z.number().int().min(0).max(99),
  time,
  z.enum(['none', 'F0', 'F1']),
] as const;
const rosterWireSchema = z.union([
  z.tuple([z.literal(1), workerIdSchema]),
  z.tuple([...rosterWireFields]),
  z.tuple([...rosterWireFields, identifierSchema, identifierSchema]),
]);

/**
 * Roster records are positional: [0, id, name, company, team, declaredAt, flagged, test, testedAt,
 * doses, quarantine, case], then organisation and site for a worker on an organisation's list; or [1, id].
 */
export const rosterCodec: StreamCodec<WorkerRecord> = {
  toWire(c) {
    if (c.deleted) return [1, c.key];
    const w = c.value;
    const record = [0, w.workerId, w.displayName, w.company, w.team, w.declaredAt, w.declarationFlagged, w.testResult, w.testedAt, w.vaccineDoses, w.quarantineUntil, w.caseStatus];
    return w.orgId !== undefined && w.siteId !== undefined ? [...record, w.orgId, w.siteId] : record;
  },
  fromWire(v) {
    return rosterCodec.fromChecked(rosterWireSchema.parse(v));
  },
  fromChecked(v) {
    const r = v as z.infer<typeof rosterWireSchema>;
    if (r[0] === 1) return { deleted: true, key: r[1] };
    const [, workerId, displayName, company, team, declaredAt, declarationFlagged, testResult, testedAt, vaccineDoses, quarantineUntil, caseStatus, orgId, siteId] = r;
    return {
      deleted: false,
      key: workerId,
      value: {
        workerId, displayName, company, team, declaredAt, declarationFlagged, testResult, testedAt, vaccineDoses, quarantineUntil, caseStatus,
        ...(orgId !== undefined && siteId !== undefined ? { orgId, siteId } : {}),
      },
    };
  },
};

export const noticeSchema = z
  .object({
    id: identifierSchema,
    vi: z.string().min(1).max(2_000),
    en: z.string().min(1).max(2_000).nullable(),
    priority: z.enum(['info', 'important', 'urgent']),
    startsAtMs: z.number().int().nonnegative(),
    expiresAtMs: z.number().int().positive(),
  })
  .strict()
  .refine((n) => n.expiresAtMs > n.startsAtMs, { message: 'a notice must expire after it starts' });

/** CBOR maps arrive as Maps (keys keep their types); JSON-like values want plain objects. */
function plain(v: unknown): unknown {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) {
      if (typeof k !== 'string') throw new Error('record maps must have text keys');
      out[k] = plain(x);
    }
    return out;
  }
  return Array.isArray(v) ? v.map(plain) : v;
}

/** Other streams carry one object per record: [0, key, value] or [1, key]. */
function keyedCodec<T>(schema: z.ZodType<T>, keyOf: (v: T) => string): StreamCodec<T> {
  const wire = z.union([z.tuple([z.literal(1), z.string().min(1).max(64)]), z.tuple([z.literal(0), z.string().min(1).max(64), z.unknown()])]);
  return {
    toWire: (c) => (c.deleted ? [1, c.key] : [0, c.key, c.value]),
    fromWire(v) {
      const r = wire.parse(v);
      if (r[0] === 1) return { deleted: true, key: r[1] };
      const value = schema.parse(plain(r[2]));
      if (keyOf(value) !== r[1]) throw new Error(`record key ${r[1]} does not match its content`);
      return { deleted: false, key: r[1], value };
    },
    fromChecked(v) {
      const r = v as [0, string, unknown] | [1, string];
      if (r[0] === 1) return { deleted: true, key: r[1] };
      return { deleted: false, key: r[1], value: plain(r[2]) as T };
    },
  };
}

const revocationSchema = z.object({ passId: passIdSchema, revokedAtMs: z.number().int().positive() }).strict();

/**
 * A hub supervisor: the PIN as an unpeppered scrypt hash (the kiosk peppers it on arrival) whose
 * cost is bounded, so a record cannot make a kiosk spend minutes or gigabytes on one sign-in.
 */
const hubSupervisorSchema = z
  .object({
    id: z.string().regex(SUPERVISOR_ID_PATTERN),
    siteId: identifierSchema,
    name: z.string().trim().min(1).max(80).regex(/^[^\p{Cc}]+$/u, 'no control characters'),
    pinHash: z.string().regex(/^scrypt\$1[4-7]\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/, 'an scrypt PIN hash (2^14 to 2^17, r 8, p 1)'),
  })
  .strict();

/** Where the hub placed one device: one record, keyed by the device id (a kiosk takes only its own). */
const placementSchema = z
  .object({
    deviceId: deviceIdSchema,
    checkpointId: identifierSchema.nullable(),
    siteId: identifierSchema,
    orgIds: z.array(identifierSchema).max(500),
  })
  .strict();

/** The largest signed settings document a kiosk takes (a whole kiosk settings file is a few KiB). */
export const MAX_SETTINGS_DOCUMENT_BYTES = 64 * 1024;

/**
 * A device's newest remote settings document: one record, keyed by the device id (a kiosk takes only
 * its own). The document's signature and content are the kiosk's to check (acceptRemoteSettings).
 */
const deviceSettingsRecordSchema = z
  .object({
    deviceId: deviceIdSchema,
    version: z.number().int().min(2).max(Number.MAX_SAFE_INTEGER),
    document: z
      .string()
      .min(4)
      .max(Math.ceil(MAX_SETTINGS_DOCUMENT_BYTES / 3) * 4)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64'),
  })
  .strict();

/** A policy document travels whole; it must pass the same checks as a local policy file. */
const policyDocumentSchema = z
  .object({ document: z.unknown() })
  .strict()
  .superRefine((v, ctx) => {
    try {
      parsePolicy(v.document, 'policy from the hub');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const hubKeySchema = z
  .object({
    kid: z.string().min(1).max(64),
    role: z.enum(KEY_ROLE_NAMES as [KeyRole, ...KeyRole[]]),
    publicPem: z.string().min(40).max(4_096),
    /** The hub may end the key's trust earlier than its role's longest delivered lifetime. */
    notAfterMs: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    try {
      publicKeyWithId(v.publicPem, v.kid);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** The largest HC1 signer certificate a record carries (real DSCs are 1-2 KiB). */
export const MAX_DCC_CERTIFICATE_BYTES = 8 * 1024;

/**
 * An HC1 signer of the hub's trust list: one record per kid, the certificate's DER in base64. The
 * certificate must parse as X.509, so a kiosk never holds a signer it could not use.
 */
const dccSignerSchema = z
  .object({
    kid: z.string().min(1).max(64).regex(/^[A-Za-z0-9+/_-]+={0,2}$/, 'a base64 key id'),
    country: z.string().regex(/^[A-Za-z0-9-]{1,8}$/, 'a country code').optional(),
    certificate: z
      .string()
      .min(4)
      .max(Math.ceil(MAX_DCC_CERTIFICATE_BYTES / 3) * 4)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64'),
  })
  .strict()
  .superRefine((v, ctx) => {
    const der = Buffer.from(v.certificate, 'base64');
    if (der.length > MAX_DCC_CERTIFICATE_BYTES) {
      ctx.addIssue({ code: 'custom', path: ['certificate'], message: `larger than ${MAX_DCC_CERTIFICATE_BYTES} bytes` });
      return;
    }
    try {
      signerFromDer(der, 'certificate', { kid: v.kid });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['certificate'], message: (err as Error).message });
    }
  });

export interface StreamTypes {
  roster: WorkerRecord;
  notices: Notice;
  revocations: Revocation;
  policy: PolicyDocument;
  keys: HubKeyRecord;
  placement: Placement;
  supervisors: HubSupervisor;
  settings: DeviceSettingsRecord;
  dcc: DccSignerRecord;
}

export const streamCodecs: { [S in DownlinkStream]: StreamCodec<StreamTypes[S]> } = {
  roster: rosterCodec,
  notices: keyedCodec<Notice>(noticeSchema, (n) => n.id),
  revocations: keyedCodec<Revocation>(revocationSchema, (r) => r.passId),
  policy: keyedCodec<PolicyDocument>(policyDocumentSchema as z.ZodType<PolicyDocument>, () => 'current'),
  keys: keyedCodec<HubKeyRecord>(hubKeySchema, (k) => k.kid),
  placement: keyedCodec<Placement>(placementSchema, (p) => p.deviceId),
  supervisors: keyedCodec<HubSupervisor>(hubSupervisorSchema, (s) => s.id),
  settings: keyedCodec<DeviceSettingsRecord>(deviceSettingsRecordSchema, (s) => s.deviceId),
  dcc: keyedCodec<DccSignerRecord>(dccSignerSchema, (s) => s.kid),
};

export { dccSignerSchema, deviceSettingsRecordSchema, hubKeySchema, hubSupervisorSchema, placementSchema, policyDocumentSchema, revocationSchema };
