import { describe, expect, it } from 'vitest';
import { DeviceLanes } from '../../../sync/hub/device-lanes.js';

/** A task that runs until released, recording when it started and ended. */
function gated(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    release,
    task: {
      topic: `t/${name}`,
      payload: Buffer.from(name),
      run: async () => {
        log.push(`start ${name}`);
        await done;
        log.push(`end ${name}`);
      },
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('hub device lanes', () => {
  it("runs one device's messages one at a time, in arrival order", async () => {
    const lanes = new DeviceLanes(4);
    const log: string[] = [];
    const a1 = gated(log, 'a1');
    const a2 = gated(log, 'a2');
    const a3 = gated(log, 'a3');
    for (const g of [a1, a2, a3]) lanes.push('kiosk-a', g.task);
    await tick();
    expect(log).toEqual(['start a1']);
    a2.release(); // finishing out of order changes nothing: a2 has not started
    a3.release();
    await tick();
    expect(log).toEqual(['start a1']);
    a1.release();
    await lanes.idle();
    expect(log).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
  });

  it('runs different devices side by side, never more than the limit at once, taking turns', async () => {
    const lanes = new DeviceLanes(2);
    const log: string[] = [];
    const a1 = gated(log, 'a1');
    const a2 = gated(log, 'a2');
    const b1 = gated(log, 'b1');
    const c1 = gated(log, 'c1');
    lanes.push('kiosk-a', a1.task);
    lanes.push('kiosk-a', a2.task);
    lanes.push('kiosk-b', b1.task);
    lanes.push('kiosk-c', c1.task);
    await tick();
    expect(log).toEqual(['start a1', 'start b1']);
    expect(lanes.size).toBe(4);
    a1.release();
    await tick();
    // kiosk-c waited its turn: it goes before kiosk-a's second message.
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start c1']);
    b1.release();
    c1.release();
    a2.release();
    await lanes.idle();
    expect(log.filter((l) => l.startsWith('start'))).toEqual(['start a1', 'start b1', 'start c1', 'start a2']);
    expect(lanes.size).toBe(0);
  });

  it('drops a resend identical to a message still waiting, and goes on after a failed one', async () => {
    const lanes = new DeviceLanes(1);
    const log: string[] = [];
    const first = gated(log, 'first');
    lanes.push('kiosk-a', first.task);
    const ran: string[] = [];
    const batch = (id: string) => ({ topic: 'safegate/v1/kiosk-a/events', payload: Buffer.from(id), run: async () => void ran.push(id) });
    expect(lanes.push('kiosk-a', batch('1-10'))).toBe(true);
    expect(lanes.push('kiosk-a', batch('1-10'))).toBe(false);
    expect(lanes.push('kiosk-a', batch('11-20'))).toBe(true);
    // Another device's identical bytes are its own message.
    expect(lanes.push('kiosk-b', batch('1-10'))).toBe(true);
    expect(lanes.collapsed).toBe(1);
    lanes.push('kiosk-a', { topic: 'x', payload: Buffer.from('boom'), run: () => Promise.reject(new Error('store down')) });
    lanes.push('kiosk-a', batch('21-30'));
    first.release();
    await lanes.idle();
    expect(ran).toEqual(['1-10', '1-10', '11-20', '21-30']);
    // Once the first copy has run, the same bytes are a new delivery again (the kiosk did not hear the acknowledgement).
    expect(lanes.push('kiosk-a', batch('1-10'))).toBe(true);
    await lanes.idle();
  });
});
