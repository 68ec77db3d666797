import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_DOC_PATH, protocolDocText } from '../../sync/write-protocol-doc.js';
import {
  PayloadError,
  alertSchema,
  batchAckSchema,
  heartbeatSchema,
  livePassageSchema,
  parseJsonPayload,
  parseSiteStream,
  siteStreamSchema,
  parseTopic,
  syncRequestSchema,
  topics,
  type TopicName,
} from '../../sync/protocol.js';

const docText = readFileSync(PROTOCOL_DOC_PATH, 'utf8');

async function parsed() {
  const { document, diagnostics } = await new Parser().parse(docText);
  const errors = diagnostics.filter((d) => d.severity === 0);
  expect(errors.map((e) => `${e.path.join('.')}: ${e.message}`)).toEqual([]);
  return document!;
}

/** One payload the code sends, per JSON topic. */
const samples = {
  acks: batchAckSchema.parse({ v: 1, batchId: 'b-1-500', firstSeq: 1, lastSeq: 500, hubTimeMs: Date.now(), gaps: [[3, 4]] }),
  alerts: alertSchema.parse({ v: 1, kind: 'quarantined-entry-attempt', seq: 7, atMs: Date.now(), checkpointId: 'gate-a', workerId: 'W1', reasons: ['QUARANTINE_ACTIVE'] }),
  syncRequest: syncRequestSchema.parse({ v: 1, stream: 'roster', cursor: 12, resume: { to: 14, parts: 3, have: [0, 2] } }),
  passages: livePassageSchema.parse({ v: 1, seq: 42, atMs: Date.now(), checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit', workerId: 'W1' }),
  site: siteStreamSchema.parse({
    v: 1,
    site: 'site-1',
    hub: 'hub.1',
    sentAtMs: Date.now(),
    items: [{ kind: 'passage', deviceId: 'kiosk-b', seq: 42, atMs: Date.now(), checkpointId: 'gate-b', zoneId: 'factory-1', direction: 'exit', workerId: 'W1' }],
  }),
  heartbeat: heartbeatSchema.parse({ v: 1, atMs: Date.now(), software: '0.1.0', outboxDepth: 3, oldestUnsyncedAgeS: 12.5, scanner: 'ready', gpio: 'simulated', clockOffsetMs: -4, rosterAgeS: 30, policyVersion: 1, fleet: { enrolled: true, certDaysLeft: 120.4, settingsVersion: 3, settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: Number must be less than or equal to 10000'] } } }),
};

describe('hub protocol contract (AsyncAPI 3)', () => {
  it('the committed document is what the code generates (run `npm run protocol:doc` after a change)', () => {
    expect(docText).toBe(protocolDocText());
  });

  it('is a valid AsyncAPI 3 document', async () => {
    const doc = await parsed();
    expect(doc.version()).toBe('3.0.0');
  });

  it('has a channel for every topic the code uses, with the same address', async () => {
    const doc = await parsed();
    const addresses = doc.channels().all().map((c) => c.address());
    for (const name of Object.keys(topics) as TopicName[]) {
      expect(addresses).toContain(topics[name]('{deviceId}'));
    }
  });

  it.each(Object.entries(samples))('a %s payload the code sends validates against the document', async (name, sample) => {
    const doc = await parsed();
    const channel = doc.channels().all().find((c) => c.address() === topics[name as TopicName]('{deviceId}'))!;
    const schema = channel.messages().all()[0]!.payload()!.json();
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(schema);
    expect(validate(JSON.parse(JSON.stringify(sample))), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...sample, v: 2 })).toBe(false);
  });

  it('parses only its own topics', () => {
    expect(parseTopic('safegate/v1/kiosk-01/events')).toEqual({ deviceId: 'kiosk-01', name: 'events' });
    expect(parseTopic('safegate/v1/kiosk-01/sync-request')).toEqual({ deviceId: 'kiosk-01', name: 'syncRequest' });
    for (const t of ['safegate/v2/kiosk-01/events', 'safegate/v1/Kiosk!/events', 'safegate/v1/kiosk-01/nope', 'safegate/v1/kiosk-01/events/x']) {
      expect(parseTopic(t)).toBeUndefined();
    }
  });

  it('refuses a malformed JSON payload with a reason', () => {
    expect(() => parseJsonPayload('acks', Buffer.from('{'))).toThrow(PayloadError);
    expect(() => parseJsonPayload('acks', Buffer.from('{"v":1,"batchId":"b","firstSeq":1,"lastSeq":-1,"hubTimeMs":1}'))).toThrow(/lastSeq/);
    expect(parseJsonPayload('acks', Buffer.from(JSON.stringify(samples.acks)))).toEqual(samples.acks);
  });

  it('reads a site-stream message item by item: an unknown kind or a bad item is skipped and counted, a bad envelope refused', () => {
    const passage = samples.site.items[0]!;
    const message = {
      ...samples.site,
      items: [passage, { kind: 'visitor-approval', workerId: 'W1' }, { ...passage, direction: 'sideways' }, { ...passage, reasons: ['CASE_F0'] }, { kind: 'declaration', workerId: 'W1', flagged: false }],
    };
    const read = parseSiteStream(Buffer.from(JSON.stringify(message)));
    expect(read.items).toEqual([passage]);
    // A declaration without its time is out of shape, and would carry nothing a gate can use.
    expect(read.skipped).toEqual({ unknownKind: 1, invalid: 3 });
    expect(() => parseSiteStream(Buffer.from(JSON.stringify({ ...samples.site, site: 'no site!' })))).toThrow(PayloadError);
    expect(() => parseSiteStream(Buffer.from(JSON.stringify({ ...samples.site, items: [{ no: 'kind' }] })))).toThrow(PayloadError);
    expect(() => parseSiteStream(Buffer.from('[]'))).toThrow(PayloadError);
  });
});
