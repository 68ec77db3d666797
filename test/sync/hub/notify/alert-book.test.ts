import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook, AlertBookError, type RaisedAlert } from '../../../../sync/hub/notify/alert-book.js';
import { directoryBackends } from '../../../helpers/directory-db.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');

function kioskAlert(seq: number, over: Partial<RaisedAlert> = {}): RaisedAlert {
  return {
    dedupKey: `kiosk:gate-1:${seq}`,
    source: 'kiosk',
    kind: 'quarantined-entry-attempt',
    category: 'health',
    orgId: 'may-a',
    siteId: 'xuong-1',
    checkpointId: 'cong-1',
    deviceId: 'gate-1',
    seq,
    atMs: NOW - 1_000,
    ...over,
  };
}

describe.each(directoryBackends)('the alert book on $name', (backend) => {
  let directory: HubDirectory;
  let book: AlertBook;

  beforeEach(async () => {
    directory = await HubDirectory.open(await backend.target());
    book = new AlertBook({ sql: directory.sql, undeliveredAfterAttempts: 3, undeliveredAfterMs: 600_000 });
  });
  afterEach(async () => {
    await directory.close();
  });

  it('records an alert once per dedup key, with one pending delivery per matching recipient, in the same step', async () => {
    const orgMail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    const siteHook = await book.addRecipient({ orgId: 'may-a', siteId: 'xuong-1', channel: 'webhook', address: 'https://sms.example/hook' }, NOW);
    const province = await book.addRecipient({ orgId: null, siteId: null, channel: 'email', address: 'soyte@tinh.gov.vn' }, NOW);
    await book.addRecipient({ orgId: 'may-a', siteId: 'xuong-2', channel: 'email', address: 'x2@may-a.vn' }, NOW); // another site
    await book.addRecipient({ orgId: 'may-b', siteId: null, channel: 'email', address: 'b@may-b.vn' }, NOW); // another org
    await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'gate@may-a.vn', categories: ['gate'] }, NOW); // other category
    expect(siteHook.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const first = await book.raise(kioskAlert(1), NOW);
    expect(first.isNew).toBe(true);
    expect(first.alertId).toMatch(/^a-[0-9a-f]{10}$/);
    const again = await book.raise(kioskAlert(1), NOW + 5_000);
    expect(again).toEqual({ alertId: first.alertId, isNew: false });

    const deliveries = await book.deliveries([first.alertId], NOW);
    expect(deliveries.map((d) => d.recipientId).sort()).toEqual([orgMail.recipientId, siteHook.recipientId, province.recipientId].sort());
    expect(deliveries.every((d) => d.state === 'pending' && d.attempts === 0 && !d.undelivered)).toBe(true);
    expect(await book.get(first.alertId)).toMatchObject({ category: 'health', orgId: 'may-a', siteId: 'xuong-1', deviceId: 'gate-1', seq: 1, raisedAtMs: NOW, acknowledgedAtMs: null });

    // An alert nobody is to be told is still recorded.
    await book.removeRecipient(province.recipientId, NOW);
    const lonely = await book.raise(kioskAlert(2, { orgId: 'may-c', siteId: 'xuong-9' }), NOW);
    expect(await book.deliveries([lonely.alertId], NOW)).toEqual([]);
    expect((await book.list()).map((a) => a.alertId)).toContain(lonely.alertId);
    expect((await book.list({ orgId: 'may-c' })).map((a) => a.alertId)).toEqual([lonely.alertId]);
  });

  it('a gate alert (no organisation) reaches province-wide recipients and those who named its site; an organisation-wide alert (no site) every recipient of the organisation', async () => {
    const site = await book.addRecipient({ orgId: 'may-b', siteId: 'xuong-1', channel: 'email', address: 'bv@may-b.vn' }, NOW);
    const orgOnly = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'a@may-a.vn' }, NOW);
    const orgSite = await book.addRecipient({ orgId: 'may-a', siteId: 'xuong-2', channel: 'email', address: 'a2@may-a.vn' }, NOW);
    const province = await book.addRecipient({ orgId: null, siteId: null, channel: 'email', address: 'soyte@tinh.gov.vn' }, NOW);
    const gate = await book.raise(kioskAlert(3, { kind: 'emergency-open', category: 'gate', orgId: null }), NOW);
    expect((await book.deliveries([gate.alertId])).map((d) => d.recipientId).sort()).toEqual([site.recipientId, province.recipientId].sort());
    const list = await book.raise({ dedupKey: 'hub:list-stale:may-a:2026-11-27', source: 'hub', kind: 'list-stale', category: 'compliance', orgId: 'may-a', siteId: null, checkpointId: null, deviceId: null, seq: null, atMs: NOW }, NOW);
    expect((await book.deliveries([list.alertId])).map((d) => d.recipientId).sort()).toEqual([orgOnly.recipientId, orgSite.recipientId, province.recipientId].sort());
  });

  it("an alert about a site's device (no worker) reaches the organisation-wide recipients of the site's organisation and of those its checkpoint serves", async () => {
    for (const id of ['may-a', 'may-b', 'may-c']) await directory.addOrganisation({ id, name: id, kind: 'company' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a', name: 'Xưởng 1' }, NOW);
    await directory.addCheckpoint({ id: 'cong-1', siteId: 'xuong-1', name: 'Cổng 1', kind: 'gate', orgIds: ['may-b'] }, NOW);
    const owner = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'a@may-a.vn' }, NOW);
    const served = await book.addRecipient({ orgId: 'may-b', siteId: null, channel: 'email', address: 'b@may-b.vn' }, NOW);
    await book.addRecipient({ orgId: 'may-a', siteId: 'xuong-2', channel: 'email', address: 'a2@may-a.vn' }, NOW); // another site
    await book.addRecipient({ orgId: 'may-c', siteId: null, channel: 'email', address: 'c@may-c.vn' }, NOW); // not served here
    const gate = await book.raise(kioskAlert(4, { kind: 'emergency-open', category: 'gate', orgId: null, siteId: 'xuong-1', checkpointId: 'cong-1' }), NOW);
    expect((await book.deliveries([gate.alertId])).map((d) => d.recipientId).sort()).toEqual([owner.recipientId, served.recipientId].sort());
    // A silent kiosk placed at the gate: known by its device.
    await directory.placeDevices('cong-1', ['gate-9'], NOW);
    const silent = await book.raise({ dedupKey: 'hub:kiosk-silent:gate-9:1', source: 'hub', kind: 'kiosk-silent', category: 'device', orgId: null, siteId: null, checkpointId: null, deviceId: 'gate-9', seq: null, atMs: NOW }, NOW);
    expect((await book.deliveries([silent.alertId])).map((d) => d.recipientId)).toEqual([served.recipientId]);
  });

  it('acknowledges once, lists unacknowledged ones, and every change moves the change cursor', async () => {
    await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    const start = await book.currentCursor();
    const a = await book.raise(kioskAlert(1), NOW);
    const b = await book.raise(kioskAlert(2), NOW + 1);
    let changes = await book.changesSince(start);
    expect(changes.alerts.map((x) => x.alertId)).toEqual([a.alertId, b.alertId]);
    const cursor = changes.cursor;
    expect(await book.changesSince(cursor)).toEqual({ alerts: [], cursor });

    expect(await book.acknowledge(a.alertId, 'manager:lan', NOW + 10)).toBe(true);
    expect(await book.acknowledge(a.alertId, 'manager:hoa', NOW + 20)).toBe(false);
    expect(await book.get(a.alertId)).toMatchObject({ acknowledgedBy: 'manager:lan', acknowledgedAtMs: NOW + 10 });
    await expect(book.acknowledge('a-0000000000', 'x', NOW)).rejects.toThrow(AlertBookError);
    expect((await book.list({ unacknowledgedOnly: true })).map((x) => x.alertId)).toEqual([b.alertId]);

    changes = await book.changesSince(cursor);
    expect(changes.alerts.map((x) => x.alertId)).toEqual([a.alertId]);
    // A delivery's state is a change of its alert too.
    const [due] = await book.dueDeliveries(NOW + 100, 1);
    await book.markFailed(due!.alert.alertId, due!.recipient.recipientId, 'connection refused', NOW + 5_100, NOW + 100);
    expect((await book.changesSince(changes.cursor)).alerts.map((x) => x.alertId)).toEqual([due!.alert.alertId]);
  });

  it('leases due deliveries so no two senders take the same one, records every attempt, and never drops one', async () => {
    const r = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'webhook', address: 'http://127.0.0.1:9/hook', secret: 'a-secret-of-sixteen+' }, NOW);
    const { alertId } = await book.raise(kioskAlert(1), NOW);
    const leased = await book.dueDeliveries(NOW, 10, 30_000);
    expect(leased).toHaveLength(1);
    expect(leased[0]!.recipient).toMatchObject({ recipientId: r.recipientId, secret: 'a-secret-of-sixteen+' });
    expect(await book.dueDeliveries(NOW + 1_000, 10)).toEqual([]); // held by the lease
    expect(await book.dueDeliveries(NOW + 31_000, 10)).toHaveLength(1); // the lease ran out (a sender died): taken again

    for (let i = 1; i <= 3; i++) await book.markFailed(alertId, r.recipientId, 'HTTP 500', NOW + i * 10_000, NOW + i * 1_000);
    let [d] = await book.deliveries([alertId], NOW + 4_000);
    expect(d).toMatchObject({ state: 'failed', attempts: 3, lastError: 'HTTP 500', nextAttemptAtMs: NOW + 30_000, undelivered: true });
    expect(await book.dueDeliveries(NOW + 29_000, 10)).toEqual([]);
    expect(await book.nextDueMs()).toBe(NOW + 30_000);
    expect(await book.dueDeliveries(NOW + 30_000, 10)).toHaveLength(1);
    await book.markSent(alertId, r.recipientId, NOW + 30_500);
    await book.markFailed(alertId, r.recipientId, 'late failure of a stale lease', NOW + 99_000, NOW + 31_000); // changes nothing
    [d] = await book.deliveries([alertId], NOW + 31_000);
    expect(d).toMatchObject({ state: 'sent', attempts: 4, sentAtMs: NOW + 30_500, lastError: 'HTTP 500', undelivered: false });
    expect(await book.dueDeliveries(NOW + 999_000, 10)).toEqual([]);
  });

  it("a late result of a lease that ran out is recorded as an attempt but never frees another process's live lease (two books on one database)", async () => {
    const other = new AlertBook({ sql: directory.sql });
    const r = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'webhook', address: 'http://127.0.0.1:9/hook' }, NOW);
    const { alertId } = await book.raise(kioskAlert(1), NOW);
    const [first] = await book.dueDeliveries(NOW, 10, 1_000);
    // The first sender's attempt outlives its lease: the second process takes the delivery.
    const [second] = await other.dueDeliveries(NOW + 1_500, 10, 1_000);
    expect(second!.leaseToken).not.toBe(first!.leaseToken);
    // The first one's late failure: recorded, but the second's lease holds (no third sender meanwhile).
    await book.markFailed(alertId, r.recipientId, 'HTTP 500', NOW + 1_600, NOW + 1_600, first!.leaseToken);
    expect(await book.dueDeliveries(NOW + 1_700, 10, 1_000)).toEqual([]);
    let [d] = await book.deliveries([alertId], NOW + 1_700);
    expect(d).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 500', lastAttemptAtMs: NOW + 1_600, nextAttemptAtMs: NOW });
    // The live lease's result applies.
    await other.markFailed(alertId, r.recipientId, 'HTTP 502', NOW + 5_000, NOW + 2_000, second!.leaseToken);
    [d] = await book.deliveries([alertId], NOW + 2_000);
    expect(d).toMatchObject({ state: 'failed', attempts: 2, lastError: 'HTTP 502', nextAttemptAtMs: NOW + 5_000 });
    // Sent under a lease that then ran out and was taken again: the message went, so it is sent; the later holder's result is one more attempt.
    const [third] = await book.dueDeliveries(NOW + 5_000, 10, 1_000);
    const [fourth] = await other.dueDeliveries(NOW + 6_500, 10, 1_000);
    await book.markSent(alertId, r.recipientId, NOW + 6_600, third!.leaseToken);
    expect(await other.dueDeliveries(NOW + 9_000, 10, 1_000)).toEqual([]);
    await other.markFailed(alertId, r.recipientId, 'no answer within 10000 ms', NOW + 99_000, NOW + 7_000, fourth!.leaseToken);
    [d] = await book.deliveries([alertId], NOW + 7_000);
    expect(d).toMatchObject({ state: 'sent', attempts: 4, sentAtMs: NOW + 6_600, lastError: 'HTTP 502', lastAttemptAtMs: NOW + 7_000 });
  });

  it("a round with only a held recipient's deliveries due is answered by a read, without the directory's write lock", async () => {
    let writes = 0;
    const counted = new Proxy(directory.sql, {
      get(target, key) {
        if (key === 'write') return (fn: Parameters<typeof target.write>[0]) => (writes++, target.write(fn));
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const watched = new AlertBook({ sql: counted });
    const r = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    await book.raise(kioskAlert(1), NOW);
    expect(await book.setRecipientDisabled(r.recipientId, true)).toBe(true);
    for (let i = 0; i < 5; i++) expect(await watched.dueDeliveries(NOW + i * 1_000, 10)).toEqual([]);
    expect(writes).toBe(0);
    // Resumed: the next round leases it (one write).
    await book.setRecipientDisabled(r.recipientId, false);
    expect(await watched.dueDeliveries(NOW + 6_000, 10)).toHaveLength(1);
    expect(writes).toBe(1);
  });

  it('a held recipient gets nothing new and its deliveries wait; a removed one ends its unsent deliveries as cancelled, kept', async () => {
    const r = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    const { alertId } = await book.raise(kioskAlert(1), NOW);
    expect(await book.setRecipientDisabled(r.recipientId, true)).toBe(true);
    expect(await book.dueDeliveries(NOW, 10)).toEqual([]);
    const held = await book.raise(kioskAlert(2), NOW);
    expect(await book.deliveries([held.alertId])).toEqual([]);
    await book.setRecipientDisabled(r.recipientId, false);
    expect((await book.listRecipients('may-a')).map((x) => [x.recipientId, x.secret])).toEqual([[r.recipientId, null]]);
    expect(await book.removeRecipient(r.recipientId, NOW)).toBe(true);
    expect(await book.removeRecipient(r.recipientId, NOW)).toBe(false);
    expect(await book.deliveries([alertId])).toMatchObject([{ state: 'cancelled', lastError: 'recipient removed' }]);
    expect(await book.listRecipients()).toEqual([]);
  });

  it("updates a recipient's address or categories keeping its deliveries (the next attempt goes to the new address); an alert whose deliveries were all cancelled, none sent, is undelivered", async () => {
    const hook = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'webhook', address: 'https://old.example/hook', secret: 'a-secret-of-sixteen+' }, NOW);
    const { alertId } = await book.raise(kioskAlert(1), NOW);
    const [first] = await book.dueDeliveries(NOW, 10, 1_000);
    await book.markFailed(alertId, hook.recipientId, 'HTTP 500', NOW + 100, NOW + 50, first!.leaseToken);
    const updated = await book.updateRecipient(hook.recipientId, { address: 'https://new.example/hook', categories: ['health', 'gate'] });
    expect(updated).toMatchObject({ recipientId: hook.recipientId, channel: 'webhook', address: 'https://new.example/hook', categories: ['health', 'gate'], secret: null });
    const [again] = await book.dueDeliveries(NOW + 200, 10);
    expect(again!.recipient).toMatchObject({ address: 'https://new.example/hook', secret: 'a-secret-of-sixteen+' });
    expect(again!.attempts).toBe(1);
    // The filter now leaves out other categories; null takes every one again.
    const override = await book.raise(kioskAlert(2, { kind: 'supervisor-override', category: 'override' }), NOW);
    expect(await book.deliveries([override.alertId])).toEqual([]);
    expect((await book.listRecipients('may-a'))[0]!.categories).toEqual(['health', 'gate']);
    expect((await book.updateRecipient(hook.recipientId, { categories: null }))!.categories).toBeNull();
    await expect(book.updateRecipient(hook.recipientId, { address: 'quanly@may-a.vn' })).rejects.toThrow(/not a URL/);
    await expect(book.updateRecipient(hook.recipientId, { categories: ['weather' as 'gate'] })).rejects.toThrow(/unknown alert category/);
    await expect(book.updateRecipient(hook.recipientId, {})).rejects.toThrow(/nothing to change/);
    expect(await book.updateRecipient('r-00000000', { address: 'https://x.example/h' })).toBeUndefined();

    // Removed with the delivery unsent: cancelled, and the alert reached nobody.
    expect(await book.removeRecipient(hook.recipientId, NOW + 300)).toBe(true);
    expect(await book.deliveries([alertId], NOW + 300)).toMatchObject([{ state: 'cancelled', undelivered: true }]);
    expect(await book.updateRecipient(hook.recipientId, { address: 'https://x.example/h' })).toBeUndefined();
    // One sent beside the cancelled one: delivered.
    const mail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    const other = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'pho@may-a.vn' }, NOW);
    const b = await book.raise(kioskAlert(3), NOW);
    await book.markSent(b.alertId, mail.recipientId, NOW + 400);
    await book.removeRecipient(other.recipientId, NOW + 500);
    const states = Object.fromEntries((await book.deliveries([b.alertId], NOW + 500)).map((d) => [d.recipientId, [d.state, d.undelivered]]));
    expect(states).toEqual({ [mail.recipientId]: ['sent', false], [other.recipientId]: ['cancelled', false] });
  });

  it('refuses a bad address, channel, category or secret with a clear message', async () => {
    await expect(book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'not an address' })).rejects.toThrow(/not an e-mail address/);
    await expect(book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'webhook', address: 'ftp://x.vn/h' })).rejects.toThrow(/http or https/);
    await expect(book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'webhook', address: 'https://u:p@x.vn/h' })).rejects.toThrow(/no user or password/);
    await expect(book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'webhook', address: 'https://x.vn/h', secret: 'short' })).rejects.toThrow(/16 to 200/);
    await expect(book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'sms' as 'email', address: 'x' })).rejects.toThrow(/email or webhook/);
    await expect(book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'a@b.vn', categories: ['weather' as 'gate'] })).rejects.toThrow(/unknown alert category/);
  });
  it('the retention removes old alerts whose deliveries all ended, never one still undelivered, and removed recipients left with nothing', async () => {
    const DAY = 86_400_000;
    const r = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW - 30 * DAY);
    const gone = await book.addRecipient({ orgId: 'may-b', siteId: null, channel: 'email', address: 'b@may-b.vn' }, NOW - 30 * DAY);
    const sent = await book.raise(kioskAlert(1), NOW - 30 * DAY);
    const unsent = await book.raise(kioskAlert(2), NOW - 30 * DAY);
    const nobody = await book.raise(kioskAlert(3, { orgId: 'may-c' }), NOW - 30 * DAY);
    const recent = await book.raise(kioskAlert(4), NOW - DAY);
    await book.raise(kioskAlert(5, { orgId: 'may-b' }), NOW - 30 * DAY);
    await book.markSent(sent.alertId, r.recipientId, NOW - 30 * DAY);
    await book.removeRecipient(gone.recipientId, NOW - 20 * DAY);
    expect(await book.purgeBefore(NOW - 28 * DAY)).toEqual({ alerts: 3, deliveries: 2, recipients: 1 });
    expect((await book.list()).map((a) => a.alertId).sort()).toEqual([unsent.alertId, recent.alertId].sort());
    expect(await book.get(nobody.alertId)).toBeUndefined();
    expect((await book.deliveries([unsent.alertId]))[0]).toMatchObject({ state: 'pending' });
  });

  it('a purge of the newest-changed alert never lets its change number be given again: an open console misses nothing', async () => {
    const DAY = 86_400_000;
    await book.raise(kioskAlert(1), NOW - 30 * DAY);
    const old = await book.raise(kioskAlert(2), NOW - 30 * DAY); // nobody to tell: ends at once
    // A console holds the cursor of the old alert's change, the newest in the book.
    const held = await book.currentCursor();
    expect((await book.get(old.alertId))!.changeSeq).toBe(held);
    expect((await book.purgeBefore(NOW - 28 * DAY)).alerts).toBe(2);
    expect(await book.currentCursor()).toBe(held);
    const fresh = await book.raise(kioskAlert(3), NOW);
    const changes = await book.changesSince(held);
    expect(changes.alerts.map((a) => a.alertId)).toEqual([fresh.alertId]);
    expect(changes.cursor).toBeGreaterThan(held);
    // Acknowledging moves it on again, past the purged numbers.
    expect(await book.acknowledge(fresh.alertId, 'op', NOW)).toBe(true);
    expect((await book.changesSince(changes.cursor)).alerts.map((a) => a.alertId)).toEqual([fresh.alertId]);
  });
});
