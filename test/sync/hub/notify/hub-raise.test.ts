import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../base/node/logger.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { Hub } from '../../../../sync/hub/hub.js';
import { AlertBook, type RaisedAlert } from '../../../../sync/hub/notify/alert-book.js';
import { SqliteHubStore } from '../../../../sync/hub/store.js';
import { PROTOCOL_VERSION, topics, type Alert } from '../../../../sync/protocol.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { listedWorker } from '../../../helpers/listed-worker.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');

/** A book whose first raise fails (the directory's database away for a moment). */
class FlakyBook extends AlertBook {
  failures = 1;
  override async raise(a: RaisedAlert, nowMs?: number) {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('directory unreachable');
    }
    return super.raise(a, nowMs);
  }
}

/**
 * The hub raises a kiosk's alert before acknowledging it, and again on every receipt (a duplicate
 * too): when booking fails after the store kept the alert, the kiosk gets no acknowledgement, sends
 * it again, and the resend (a duplicate for the store) books it.
 */
describe.each(directoryBackends)("a kiosk alert the book missed is booked on the kiosk's resend (directory on $name)", (backend) => {
  it('no acknowledgement while the book failed; the resend, a duplicate for the store, books it once with its deliveries', async () => {
    const dir = tempDir('safegate-hub-raise-');
    const directory = await HubDirectory.open(await backend.target());
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      await directory.addOrganisation({ id: 'may-a', name: 'May A', kind: 'company' });
      await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
      await directory.assignSite('xuong-1', ['kiosk-1']);
      await directory.uploadWorkers('may-a', [listedWorker('W-Q1', NOW, 'xuong-1')], { nowMs: NOW });
      const book = new FlakyBook({ sql: directory.sql });
      const mail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
      const hub = new Hub({ broker: { url: 'mqtt://127.0.0.1:1' } as never, clientId: 'hub.1', alerts: { book, directory } }, store, createLogger({ level: 'fatal' }));
      const acks: string[] = [];
      const reply = async (topic: string, payload: string | Uint8Array) => void acks.push(`${topic} ${String(payload)}`);
      const alert: Alert = { v: PROTOCOL_VERSION, kind: 'quarantined-entry-attempt', seq: 3, atMs: NOW - 1_000, checkpointId: 'cong-1', workerId: 'W-Q1', reasons: ['QUARANTINE_ACTIVE'] };
      const payload = Buffer.from(JSON.stringify(alert));

      await expect(hub.handle(topics.alerts('kiosk-1'), payload, reply)).rejects.toThrow('directory unreachable');
      expect(acks).toEqual([]);
      expect(await book.list()).toEqual([]);
      // The store kept it (the kiosk's resend is a duplicate there).
      expect(await store.recordAlert('kiosk-1', alert, NOW)).toBe(false);

      await hub.handle(topics.alerts('kiosk-1'), payload, reply);
      expect(acks).toHaveLength(1);
      expect(JSON.parse(acks[0]!.split(' ').slice(1).join(' '))).toMatchObject({ kind: 'alert', seq: 3 });
      const booked = await book.list();
      expect(booked).toHaveLength(1);
      expect(booked[0]).toMatchObject({ dedupKey: 'kiosk:kiosk-1:3', source: 'kiosk', category: 'health', orgId: 'may-a', siteId: 'xuong-1', deviceId: 'kiosk-1', seq: 3 });
      expect((await book.deliveries([booked[0]!.alertId])).map((d) => [d.recipientId, d.state])).toEqual([[mail.recipientId, 'pending']]);
      // A further resend (the acknowledgement lost) changes nothing.
      await hub.handle(topics.alerts('kiosk-1'), payload, reply);
      expect(acks).toHaveLength(2);
      expect(await book.list()).toHaveLength(1);
    } finally {
      await store.close();
      await directory.close();
      dir.remove();
    }
  });
});
