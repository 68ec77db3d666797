/**
 * The hub's work scheduler: one lane per device, so each device's messages are handled one at a
 * time and in the order they arrived (a device's batches commit in sequence order, its watermark
 * only moves forward), while different devices run side by side, at most `limit` at once (bounded by
 * what the database pool can take). Devices take turns: one with a backlog goes to the back of the
 * line after each message, so a busy kiosk does not hold up the others.
 *
 * A message identical to one still waiting in its device's lane is dropped: it is a resend of a batch
 * the kiosk has not heard back about yet, and the copy waiting will be stored and acknowledged.
 * The constructor only stores its limit.
 */
export interface LaneTask {
  /** Identical payloads from one device are the same message sent again. */
  readonly payload: Uint8Array;
  readonly topic: string;
  run(): Promise<void>;
}

export class DeviceLanes {
  private readonly waiting = new Map<string, LaneTask[]>();
  /** Devices with a message waiting and none running, in turn order. */
  private readonly ready: string[] = [];
  private readonly running = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private waitingCount = 0;
  /** Resends dropped because an identical message was still waiting. */
  collapsed = 0;

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`lane limit ${limit}: a positive integer`);
  }

  /** Messages waiting or running. */
  get size(): number {
    return this.running.size + this.waitingCount;
  }

  /** Queues a message of a device; false when an identical one was already waiting (dropped). */
  push(deviceId: string, task: LaneTask): boolean {
    let lane = this.waiting.get(deviceId);
    if (lane?.some((t) => t.topic === task.topic && sameBytes(t.payload, task.payload))) {
      this.collapsed++;
      return false;
    }
    if (!lane) {
      lane = [];
      this.waiting.set(deviceId, lane);
      if (!this.running.has(deviceId)) this.ready.push(deviceId);
    }
    lane.push(task);
    this.waitingCount++;
    this.drain();
    return true;
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.running.size < this.limit && this.ready.length > 0) {
      const deviceId = this.ready.shift()!;
      const lane = this.waiting.get(deviceId)!;
      const task = lane.shift()!;
      this.waitingCount--;
      if (lane.length === 0) this.waiting.delete(deviceId);
      this.running.add(deviceId);
      // A task reports its own failures; the lane only needs to know it ended.
      void task
        .run()
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(deviceId);
          if (this.waiting.has(deviceId)) this.ready.push(deviceId);
          this.drain();
          if (this.size === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
          }
        });
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
