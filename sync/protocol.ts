import { z } from 'zod';
import { DEVICE_ID_PATTERN, identifierSchema, workerIdSchema } from '../base/common/ids.js';
import { ALERT_KINDS, DOWNLINK_STREAMS, GATE_ALERT_KINDS, type AlertKind, type DownlinkStream, type HealthFigures } from '../base/common/types.js';
import { issuesText } from '../base/common/validation.js';

export { DOWNLINK_STREAMS, type DownlinkStream };

/**
 * The kiosk–hub protocol, version 1: every topic and every payload type, in one place. The
 * human-readable contract is docs/hub-protocol.asyncapi.yaml; a test checks that the two agree.
 *
 * Acknowledgements are application-level (carried in payloads), so the protocol works the same over
 * MQTT 5 and MQTT 3.1.1 brokers.
 */
export const PROTOCOL_VERSION = 1;
const ROOT = `safegate/v${PROTOCOL_VERSION}`;

const TOPIC_SEGMENTS: Record<string, keyof typeof topics> = {
  events: 'events',
  alerts: 'alerts',
  heartbeat: 'heartbeat',
  acks: 'acks',
  'sync-request': 'syncRequest',
  downlink: 'downlink',
  passages: 'passages',
  site: 'site',
  presence: 'presence',
};

export const topics = {
  /** device → hub: a batch of gate events (binary, see batch-codec.ts), QoS 1. */
  events: (deviceId: string) => `${ROOT}/${deviceId}/events`,
  /** device → hub: something a manager must know now (JSON), QoS 1, ahead of the backlog. */
  alerts: (deviceId: string) => `${ROOT}/${deviceId}/alerts`,
  /** device → hub: health and backlog figures (JSON), QoS 0. */
  heartbeat: (deviceId: string) => `${ROOT}/${deviceId}/heartbeat`,
  /** hub → device: acknowledgement of a committed batch or a stored alert (JSON), QoS 1. */
  acks: (deviceId: string) => `${ROOT}/${deviceId}/acks`,
  /** device → hub: "send me what is newer than my cursor" for one data stream (JSON), QoS 1. */
  syncRequest: (deviceId: string) => `${ROOT}/${deviceId}/sync-request`,
  /** hub → device: one signed part of a data stream (COSE_Sign1, see downlink-codec.ts), QoS 1. */
  downlink: (deviceId: string) => `${ROOT}/${deviceId}/downlink`,
  /**
   * device → hub: each allowed passage at once (JSON), QoS 1, for the live site stream. Not the
   * event log: the same passage still reaches the hub exactly once in an event batch.
   */
  passages: (deviceId: string) => `${ROOT}/${deviceId}/passages`,
  /**
   * hub → device: the live stream of the device's site (JSON), QoS 1: what the site's other kiosks
   * just saw, and a beat when there is nothing, so the kiosk knows the stream is alive. Only hub
   * processes may publish it, and a device may read only its own (broker ACL).
   */
  site: (deviceId: string) => `${ROOT}/${deviceId}/site`,
  /**
   * device → every hub process: whether the device's link is up (JSON, QoS 1, retained; the link's
   * will says offline, so a link cut without a goodbye reads offline at once). Not a shared
   * subscription: each hub process must know which of a site's devices it cannot hear.
   */
  presence: (deviceId: string) => `${ROOT}/${deviceId}/presence`,
} as const;

export type TopicName = keyof typeof topics;

/**
 * hub → every device: whether a hub process is online (JSON, QoS 1, retained; a hub's will says
 * offline). A kiosk resends what is unacknowledged as soon as a hub comes online, instead of waiting
 * for its acknowledgement timeout.
 */
export const HUB_STATUS_TOPIC = `${ROOT}/hub/status`;

/** Shared-subscription filters the hub uses so several hub processes share the load. */
export const hubSubscriptions = {
  events: `$share/safegate-hub/${ROOT}/+/events`,
  alerts: `$share/safegate-hub/${ROOT}/+/alerts`,
  heartbeat: `$share/safegate-hub/${ROOT}/+/heartbeat`,
  syncRequest: `$share/safegate-hub/${ROOT}/+/sync-request`,
  passages: `$share/safegate-hub/${ROOT}/+/passages`,
} as const;

/** Parses a topic back into its device id and name; undefined for anything that is not ours. */
export function parseTopic(topic: string): { deviceId: string; name: TopicName } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || `${parts[0]}/${parts[1]}` !== ROOT) return undefined;
  const [, , deviceId, segment] = parts as [string, string, string, string];
  const name = Object.hasOwn(TOPIC_SEGMENTS, segment) ? TOPIC_SEGMENTS[segment] : undefined;
  if (!DEVICE_ID_PATTERN.test(deviceId) || !name) return undefined;
  return { deviceId, name };
}

export const batchAckSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    batchId: z.string().min(1).max(64),
    /** The batch's events, firstSeq to lastSeq inclusive, are committed at the hub (only those: with
     * several batches in flight and several hub processes, acknowledgements may arrive out of order). */
    firstSeq: z.number().int().positive(),
    lastSeq: z.number().int().positive(),
    /** The hub's clock when it acknowledged, epoch ms: the kiosk derives its clock offset from it. */
    hubTimeMs: z.number().int().positive(),
    /** Sequence numbers the hub has never received below lastSeq (a gap report), as [from, to] ranges. */
    gaps: z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])).max(100).default([]),
  })
  .strict();
export type BatchAck = z.infer<typeof batchAckSchema>;

export const alertAckSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    kind: z.literal('alert'),
    /** The alert's event sequence number: the hub has stored it (once, however often it came). */
    seq: z.number().int().positive(),
    hubTimeMs: z.number().int().positive(),
  })
  .strict();
export type AlertAck = z.infer<typeof alertAckSchema>;

/** What arrives on a device's acks topic: a batch acknowledgement, or an alert's. */
export const ackSchema = z.union([batchAckSchema, alertAckSchema]);
export type Ack = z.infer<typeof ackSchema>;

export const hubStatusSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    /** The hub process (its id, e.g. hub.1). */
    hub: z.string().min(1).max(64),
    online: z.boolean(),
    atMs: z.number().int().nonnegative(),
  })
  .strict();
export type HubStatus = z.infer<typeof hubStatusSchema>;

export const presenceSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    online: z.boolean(),
    /** The device's clock when it wrote this (for a will: when it connected), epoch ms. */
    atMs: z.number().int().nonnegative(),
  })
  .strict();
export type Presence = z.infer<typeof presenceSchema>;

export const alertSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    kind: z.enum(ALERT_KINDS as [AlertKind, ...AlertKind[]]),
    seq: z.number().int().positive(),
    atMs: z.number().int().positive(),
    checkpointId: identifierSchema,
    workerId: workerIdSchema.optional().describe('the person; absent only on alerts about the gate itself (emergency-open, emergency-cleared, bus-stale-data)'),
    reasons: z.array(z.string().max(40)).max(20),
    note: z.string().max(500).optional().describe("a supervisor's written reason, on supervisor-override alerts"),
  })
  .strict()
  .refine((a) => (a.workerId === undefined) === GATE_ALERT_KINDS.includes(a.kind), {
    message: 'an alert about a person names the worker; an alert about the gate itself names none',
    path: ['workerId'],
  });
export type Alert = z.infer<typeof alertSchema>;

export const heartbeatSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    atMs: z.number().int().positive(),
    software: z.string().max(40),
    outboxDepth: z.number().int().nonnegative(),
    oldestUnsyncedAgeS: z.number().nonnegative().nullable(),
    scanner: z.enum(['stopped', 'connecting', 'ready', 'disconnected']),
    gpio: z.enum(['real', 'simulated']),
    clockOffsetMs: z.number().nullable(),
    /** Seconds since the hub last confirmed the roster current; null if never. */
    rosterAgeS: z.number().nonnegative().nullable(),
    policyVersion: z.number().int().nonnegative(),
    /** Events the kiosk holds in memory because its store could not take them (a full disk). */
    heldEvents: z.number().int().nonnegative().default(0),
    /** Free space on the kiosk's store, and whether it is using its reserve. */
    disk: z
      .object({ freeBytes: z.number().nonnegative().nullable(), reserveInUse: z.boolean(), level: z.enum(['ok', 'low', 'critical']) })
      .strict()
      .nullable()
      .default(null),
    /** Enrolment, certificate and remote settings (issue 12); null from kiosks that cannot tell. */
    fleet: z
      .object({
        enrolled: z.boolean(),
        /** Days until the device certificate expires, 1 decimal; null without one. */
        certDaysLeft: z.number().nullable(),
        /** The newest applied settings document version (0: none). */
        settingsVersion: z.number().int().nonnegative(),
        /** The last remote settings document the kiosk refused, and its problems. */
        settingsRefused: z
          .object({ version: z.number().int().positive(), problems: z.array(z.string().max(300)).max(20) })
          .strict()
          .nullable(),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();
export type Heartbeat = z.infer<typeof heartbeatSchema>;
// The kiosk's own figures (base/common/types.ts) are exactly what the heartbeat carries.
export type HeartbeatCarriesHealth = HealthFigures extends Omit<Heartbeat, 'v' | 'atMs' | 'clockOffsetMs'> ? true : never;
const _heartbeatCarriesHealth: HeartbeatCarriesHealth = true;
void _heartbeatCarriesHealth;


export const syncRequestSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    stream: z.enum(DOWNLINK_STREAMS),
    /** The revision the kiosk has applied (0: nothing yet). */
    cursor: z.number().int().nonnegative(),
    /** A transfer the kiosk has partly received: the hub sends only the missing parts if it still can. */
    resume: z
      .object({ to: z.number().int().positive(), parts: z.number().int().positive(), have: z.array(z.number().int().nonnegative()).max(10_000) })
      .optional(),
  })
  .strict();
export type SyncRequest = z.infer<typeof syncRequestSchema>;

/**
 * One allowed passage as a kiosk reports it live: who (a worker id; an allow always names a worker on
 * the roster), where, which way and when. Nothing health-related and no name (Decree 13: the least
 * the other kiosks' anti-passback needs).
 */
export const livePassageSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    /** The event's sequence number in the kiosk's log (the same event reaches the hub in a batch too). */
    seq: z.number().int().positive(),
    atMs: z.number().int().positive(),
    checkpointId: identifierSchema,
    zoneId: identifierSchema,
    direction: z.enum(['entry', 'exit']),
    workerId: workerIdSchema,
  })
  .strict();
export type LivePassage = z.infer<typeof livePassageSchema>;

/**
 * An admit the kiosk reported live whose passage sensor then saw nobody go through (the event
 * ADMITTED_NOT_PASSED): the other kiosks take that passage back. `seq` and `atMs` are the outcome
 * event's, `admitSeq` the admit's.
 */
export const liveRetractionSchema = livePassageSchema
  .extend({ kind: z.literal('retraction'), admitSeq: z.number().int().positive() })
  .strict();
export type LiveRetraction = z.infer<typeof liveRetractionSchema>;

/** What a kiosk sends on its passages topic: a passage, or the retraction of one. */
export const liveReportSchema = z.union([livePassageSchema, liveRetractionSchema]);
export type LiveReport = z.infer<typeof liveReportSchema>;

/** A passage on the site stream: the live report plus the device that saw it. */
export const sitePassageSchema = livePassageSchema
  .omit({ v: true })
  .extend({ kind: z.literal('passage'), deviceId: z.string().regex(DEVICE_ID_PATTERN) })
  .strict();
export type SitePassage = z.infer<typeof sitePassageSchema>;

/** A retraction on the site stream: the live report plus the device whose admit it takes back. */
export const siteRetractionSchema = liveRetractionSchema
  .omit({ v: true })
  .extend({ deviceId: z.string().regex(DEVICE_ID_PATTERN) })
  .strict();
export type SiteRetraction = z.infer<typeof siteRetractionSchema>;

/**
 * A worker's health declaration made on their phone (sync/hub/declarations.ts): only when and
 * whether it was flagged, what a gate decides by; never the answers. A kiosk keeps it in its roster
 * record when it is newer than what that holds.
 */
export const siteDeclarationSchema = z
  .object({
    kind: z.literal('declaration'),
    workerId: workerIdSchema,
    /** When the worker declared (the phone's time, never later than the hub's), epoch ms. */
    declaredAtMs: z.number().int().positive(),
    flagged: z.boolean(),
  })
  .strict();
export type SiteDeclaration = z.infer<typeof siteDeclarationSchema>;

/**
 * What the site stream carries, by `kind`: passages and retractions, and workers' health
 * declarations; visitor approvals join as a new kind, and a kiosk that does not know a kind skips
 * that item (and says so) instead of refusing the whole message, so hubs can be upgraded before kiosks.
 */
export const SITE_ITEM_KINDS = ['passage', 'retraction', 'declaration'] as const;
export const siteItemSchemas = { passage: sitePassageSchema, retraction: siteRetractionSchema, declaration: siteDeclarationSchema } as const satisfies Record<(typeof SITE_ITEM_KINDS)[number], z.ZodType>;
export type SiteItem = SitePassage | SiteRetraction | SiteDeclaration;
/** The items a device's passages bring (each names the device that saw it). */
export type SiteDeviceItem = SitePassage | SiteRetraction;

/** Devices named as offline in one site-stream message at most. */
export const MAX_SITE_DEVICES = 1_000;

/** Items in one site-stream message at most (a hub splits a longer backlog). */
export const MAX_SITE_ITEMS = 500;

export const siteStreamSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    /** The site this stream is for; a kiosk accepts only its own site's. */
    site: identifierSchema,
    /** The hub process that sent it (hub.1, ...). */
    hub: z.string().min(1).max(64),
    /** The hub's clock when it sent this, epoch ms. */
    sentAtMs: z.number().int().positive(),
    /** What happened at the site's other kiosks; empty in a beat. Each item is checked by its kind. */
    items: z.array(z.looseObject({ kind: z.string().min(1).max(40) })).max(MAX_SITE_ITEMS),
    /**
     * The site's devices the hub cannot hear now (their link's presence says offline, or, without a
     * presence, not seen lately): what they record reaches nobody until they are back, so a kiosk does
     * not count the stream as current while one that can record exits is among them.
     */
    offline: z.array(z.string().regex(DEVICE_ID_PATTERN)).max(MAX_SITE_DEVICES).default([]),
  })
  .strict();
export type SiteStreamMessage = Omit<z.infer<typeof siteStreamSchema>, 'items'> & { items: SiteItem[] };

/** A site-stream message read by a kiosk: the items it knows, and how many it skipped and why. */
export interface ReadSiteStream {
  site: string;
  hub: string;
  sentAtMs: number;
  items: SiteItem[];
  offline: string[];
  skipped: { unknownKind: number; invalid: number };
}

/** JSON payloads by topic; `events` and `downlink` are binary and have their own codecs. */
export const jsonPayloadSchemas = {
  alerts: alertSchema,
  heartbeat: heartbeatSchema,
  acks: ackSchema,
  hubStatus: hubStatusSchema,
  syncRequest: syncRequestSchema,
  passages: liveReportSchema,
  site: siteStreamSchema,
  presence: presenceSchema,
} as const;

export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** Parses an incoming JSON payload for a topic, or throws PayloadError naming what is wrong. */
export function parseJsonPayload<N extends keyof typeof jsonPayloadSchemas>(
  name: N,
  payload: Uint8Array,
): z.infer<(typeof jsonPayloadSchemas)[N]> {
  if (payload.length > 64 * 1024) throw new PayloadError(`${name}: payload of ${payload.length} bytes is too large`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw new PayloadError(`${name}: not JSON`);
  }
  const r = jsonPayloadSchemas[name].safeParse(raw);
  if (!r.success) throw new PayloadError(`${name}: ${issuesText(r.error)}`);
  return r.data as z.infer<(typeof jsonPayloadSchemas)[N]>;
}

/**
 * Reads a site-stream message: the envelope must be valid (else PayloadError); each item is checked
 * by the schema of its kind, and an item of a kind this kiosk does not know, or that does not match
 * its kind's schema, is skipped and counted.
 */
export function parseSiteStream(payload: Uint8Array): ReadSiteStream {
  const envelope = parseJsonPayload('site', payload);
  const items: SiteItem[] = [];
  const skipped = { unknownKind: 0, invalid: 0 };
  for (const raw of envelope.items) {
    const schema = Object.hasOwn(siteItemSchemas, raw.kind) ? siteItemSchemas[raw.kind as keyof typeof siteItemSchemas] : undefined;
    if (!schema) {
      skipped.unknownKind++;
      continue;
    }
    const r = schema.safeParse(raw);
    if (r.success) items.push(r.data);
    else skipped.invalid++;
  }
  return { site: envelope.site, hub: envelope.hub, sentAtMs: envelope.sentAtMs, items, offline: envelope.offline, skipped };
}
