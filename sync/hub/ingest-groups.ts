import type { IngestRequest, IngestResult } from './store.js';

export interface IngestGroupsOptions {
  /** Stores several batches in one transaction, results in the order given (HubStore.ingestMany). */
  ingestMany(batches: readonly IngestRequest[]): Promise<IngestResult[]>;
  /** Groups being stored at once (each a round trip and a commit). */
  maxInFlight: number;
  /** Batches in one group at most. */
  maxBatches: number;
}

interface Waiting {
  batch: IngestRequest;
  resolve(r: IngestResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit: the batches that the hub's device lanes hand over while a group is being stored (and
 * those of one turn of the event loop) go to the store together, as one transaction, so a hub pays
 * its per-commit cost (a query, a round trip, a commit) once per group rather than once per batch.
 * Each caller's promise settles only after the commit that holds its batch, so a batch is still
 * acknowledged only once it is durable. The lanes keep one batch per device running at a time, so a
 * device's batches still go in order. When a group fails, its batches are tried again one by one,
 * so one batch the store refuses does not hold back the others. The constructor only stores its
 * options.
 */
export class IngestGroups {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Groups stored and batches in them, for the hub's figures. */
  groups = 0;
  batches = 0;

  constructor(private readonly options: IngestGroupsOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`maxInFlight ${options.maxInFlight}: a positive integer`);
    if (!Number.isInteger(options.maxBatches) || options.maxBatches < 1) throw new RangeError(`maxBatches ${options.maxBatches}: a positive integer`);
  }

  /** Stores one batch with whatever else is waiting; resolves after its commit. */
  ingest(batch: IngestRequest): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.schedule();
    });
  }

  /** Sends the next group at the end of this turn of the event loop, once a slot is free. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    const group = this.queue.splice(0, this.options.maxBatches);
    this.inFlight++;
    this.groups++;
    this.batches += group.length;
    void this.store(group).finally(() => {
      this.inFlight--;
      this.schedule();
    });
    this.schedule();
  }

  private async store(group: Waiting[]): Promise<void> {
    try {
      const results = await this.options.ingestMany(group.map((w) => w.batch));
      group.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      // Nothing of the group was stored (one transaction): each batch alone, so a bad one fails only itself.
      for (const w of group) {
        try {
          const [r] = await this.options.ingestMany([w.batch]);
          w.resolve(r!);
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
}
