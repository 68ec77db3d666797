import { z } from 'zod';
import { dccSignerSchema, deviceSettingsRecordSchema, hubSupervisorSchema, placementSchema } from './downlink-codec.js';
import {
  HUB_STATUS_TOPIC,
  PROTOCOL_VERSION,
  alertAckSchema,
  alertSchema,
  batchAckSchema,
  heartbeatSchema,
  hubStatusSchema,
  liveReportSchema,
  presenceSchema,
  sitePassageSchema,
  siteRetractionSchema,
  siteDeclarationSchema,
  siteStreamSchema,
  syncRequestSchema,
} from './protocol.js';

/**
 * Builds the AsyncAPI 3 document for the hub protocol from the code's own topics and schemas, so
 * the written contract (docs/hub-protocol.asyncapi.yaml, `npm run protocol:doc`) cannot drift from
 * what the code sends; a test checks the committed file is current and valid.
 */
export function hubProtocolDocument(): Record<string, unknown> {
  const json = (schema: z.ZodType) => {
    const s = z.toJSONSchema(schema, { io: 'output', target: 'draft-07' }) as Record<string, unknown>;
    delete s.$schema;
    return s;
  };
  const deviceParam = { deviceId: { description: 'the kiosk\'s device id (settings device.id); also its certificate CN and MQTT username' } };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'SafeGate hub protocol',
      version: `${PROTOCOL_VERSION}.0.0`,
      description:
        'Kiosk <-> provincial hub over MQTT 5 or 3.1.1. Acknowledgements are carried in payloads, not relied on from the broker. ' +
        'Topics are versioned (safegate/v1/...) and per device; a device may publish only its own uplink topics and read only its own downlink topics (broker ACLs).',
    },
    defaultContentType: 'application/json',
    channels: {
      events: {
        address: 'safegate/v1/{deviceId}/events',
        parameters: deviceParam,
        messages: { eventBatch: { $ref: '#/components/messages/eventBatch' } },
      },
      alerts: {
        address: 'safegate/v1/{deviceId}/alerts',
        parameters: deviceParam,
        messages: { alert: { $ref: '#/components/messages/alert' } },
      },
      heartbeat: {
        address: 'safegate/v1/{deviceId}/heartbeat',
        parameters: deviceParam,
        messages: { heartbeat: { $ref: '#/components/messages/heartbeat' } },
      },
      acks: {
        address: 'safegate/v1/{deviceId}/acks',
        parameters: deviceParam,
        messages: { batchAck: { $ref: '#/components/messages/batchAck' }, alertAck: { $ref: '#/components/messages/alertAck' } },
      },
      hubStatus: {
        address: HUB_STATUS_TOPIC,
        messages: { hubStatus: { $ref: '#/components/messages/hubStatus' } },
      },
      syncRequest: {
        address: 'safegate/v1/{deviceId}/sync-request',
        parameters: deviceParam,
        messages: { syncRequest: { $ref: '#/components/messages/syncRequest' } },
      },
      downlink: {
        address: 'safegate/v1/{deviceId}/downlink',
        parameters: deviceParam,
        messages: { downlinkPart: { $ref: '#/components/messages/downlinkPart' } },
      },
      passages: {
        address: 'safegate/v1/{deviceId}/passages',
        parameters: deviceParam,
        messages: { livePassage: { $ref: '#/components/messages/livePassage' } },
      },
      site: {
        address: 'safegate/v1/{deviceId}/site',
        parameters: deviceParam,
        messages: { siteStream: { $ref: '#/components/messages/siteStream' } },
      },
      presence: {
        address: 'safegate/v1/{deviceId}/presence',
        parameters: deviceParam,
        messages: { presence: { $ref: '#/components/messages/presence' } },
      },
    },
    operations: {
      sendEventBatch: {
        action: 'send',
        channel: { $ref: '#/channels/events' },
        summary: 'Kiosk uploads a batch of gate events (QoS 1); it keeps them until a batchAck covers them.',
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      sendAlert: {
        action: 'send',
        channel: { $ref: '#/channels/alerts' },
        summary: 'Kiosk raises an alert at once, ahead of the event backlog (QoS 1); it keeps it until an alertAck for it arrives.',
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      sendHeartbeat: {
        action: 'send',
        channel: { $ref: '#/channels/heartbeat' },
        summary: 'Kiosk reports its health every N seconds (QoS 0).',
        bindings: { mqtt: { qos: 0, retain: false } },
      },
      sendSyncRequest: {
        action: 'send',
        channel: { $ref: '#/channels/syncRequest' },
        summary: 'Kiosk asks for what is newer than its cursor of a stream, naming parts it already holds (QoS 1).',
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      receiveDownlinkPart: {
        action: 'receive',
        channel: { $ref: '#/channels/downlink' },
        summary: 'Hub sends signed parts of a snapshot or delta; the kiosk applies a transfer only when complete (QoS 1).',
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      receiveBatchAck: {
        action: 'receive',
        channel: { $ref: '#/channels/acks' },
        messages: [{ $ref: '#/channels/acks/messages/batchAck' }],
        summary: 'Hub acknowledges a batch only after committing it durably (QoS 1).',
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      receiveAlertAck: {
        action: 'receive',
        channel: { $ref: '#/channels/acks' },
        messages: [{ $ref: '#/channels/acks/messages/alertAck' }],
        summary: 'Hub acknowledges an alert only after storing it (QoS 1); the kiosk resends it until then.',
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      sendLivePassage: {
        action: 'send',
        channel: { $ref: '#/channels/passages' },
        summary:
          "Kiosk reports each allowed passage at once for the live site stream, and takes one back (kind retraction) when its passage sensor saw nobody go through (QoS 1, not retried: the same events reach the hub exactly once in a batch, and the hub relays them from there if the live report was lost). The hub refuses a time more than a few seconds ahead of its clock, dates none later than its clock, and limits how many a device may send.",
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      receiveSiteStream: {
        action: 'receive',
        channel: { $ref: '#/channels/site' },
        summary:
          "Hub relays the allowed passages (and retractions) of the site's other devices at once, and beats (no items) every beatMs; every message names the site's devices the hub cannot hear (offline). Only hub processes may publish here, each device reads only its own copy, and the hub's site map decides who belongs to a site (QoS 1).",
        bindings: { mqtt: { qos: 1, retain: false } },
      },
      sendPresence: {
        action: 'send',
        channel: { $ref: '#/channels/presence' },
        summary:
          "Kiosk says its link is up once connected and down on a clean stop (retained); its will says down when the link is cut without a goodbye. Every hub process reads it (not shared), to name the site's devices it cannot hear.",
        bindings: { mqtt: { qos: 1, retain: true } },
      },
      receiveHubStatus: {
        action: 'receive',
        channel: { $ref: '#/channels/hubStatus' },
        summary: 'Each hub process announces itself online (retained; its will says offline); kiosks resend what is unacknowledged at once.',
        bindings: { mqtt: { qos: 1, retain: true } },
      },
    },
    components: {
      schemas: { sitePassage: json(sitePassageSchema), siteRetraction: json(siteRetractionSchema), siteDeclaration: json(siteDeclarationSchema), placement: json(placementSchema), hubSupervisor: json(hubSupervisorSchema), deviceSettingsRecord: json(deviceSettingsRecordSchema), dccSigner: json(dccSignerSchema) },
      messages: {
        eventBatch: {
          name: 'eventBatch',
          contentType: 'application/octet-stream',
          summary: 'One format byte (the lowest that carries the batch: 2; 3 when it holds a bus unit\'s events: trip, route, position, GPS clock; 4 when it holds the gate for everyone\'s: visitors, kiosk declarations, visit details, credential kinds cccd and dcc; the hub also reads 1), then columnar events (classes, people listed once, byte planes) mostly under Brotli; see sync/batch-codec.ts.',
          payload: { type: 'string', format: 'binary' },
        },
        alert: { name: 'alert', payload: json(alertSchema) },
        heartbeat: { name: 'heartbeat', payload: json(heartbeatSchema) },
        batchAck: { name: 'batchAck', payload: json(batchAckSchema) },
        alertAck: { name: 'alertAck', payload: json(alertAckSchema) },
        hubStatus: { name: 'hubStatus', payload: json(hubStatusSchema) },
        syncRequest: { name: 'syncRequest', payload: json(syncRequestSchema) },
        livePassage: { name: 'livePassage', payload: json(liveReportSchema) },
        presence: { name: 'presence', payload: json(presenceSchema) },
        siteStream: {
          name: 'siteStream',
          summary: 'Items are checked by their kind (components.schemas: sitePassage, siteRetraction, siteDeclaration); a kiosk skips an item of a kind it does not know, so new kinds (visitor approvals) can be added hub first.',
          payload: json(siteStreamSchema),
        },
        downlinkPart: {
          name: 'downlinkPart',
          contentType: 'application/cose',
          summary:
            'COSE_Sign1 (RFC 9052) by a trusted hub key over CBOR {v, stream, kind: snapshot|delta|current, from, to, part, parts, issuedAtMs, body}; see sync/downlink-codec.ts. Streams: roster (per device: the workers of the organisations its checkpoint serves, or the province list for a device at no checkpoint; a change of scope comes as a snapshot; positional records, with organisation and site ids for a worker on an organisation\'s list), notices, revocations, policy, keys, placement (per device: its own record, components.schemas.placement) and supervisors (per device: the hub supervisors of its site, components.schemas.hubSupervisor; a device moved to another site gets a snapshot) and settings (per device: its newest remote settings document, components.schemas.deviceSettingsRecord: the deviceSettingsDocument JSON signed as COSE_Sign1 by a downlink key, artifact device-settings, base64; the kiosk checks it and reports the version it applies or refuses in its heartbeat\'s fleet block) and dcc (every device: the HC1 signer certificates of the hub\'s trust list, one record per kid, components.schemas.dccSigner, the certificate DER in base64, at most 8 KiB; at most 256 records a part; a kiosk with HC1 off never asks for it).',
          payload: { type: 'string', format: 'binary' },
        },
      },
    },
  };
}
