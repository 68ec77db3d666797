import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_ID_PATTERN, EXPORT_MAX_BYTES, EXPORT_UPLOAD_PATH, exportDescriptionSchema, signExportUpload, type ExportDescription } from '../../../base/node/export-upload.js';

/** Sending to the hub failed; the export is kept on the kiosk (`kept`) to send again. */
export class HubSendError extends Error {
  override name = 'HubSendError';
  constructor(
    message: string,
    readonly exportId: string,
    /** The hub answered and refused (a status), or could not be reached (undefined). */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface HubExportFile {
  fileName: string;
  format: 'csv' | 'xlsx';
  rows: number;
  bytes: Uint8Array;
}

export interface PendingHubExport {
  exportId: string;
  fileName: string;
  rows: number;
  size: number;
  madeMs: number;
}

export interface HubExportSenderOptions {
  /** The hub console's address (settings `hub.consoleUrl`), e.g. https://hub.example.vn/ */
  consoleUrl: string;
  deviceId: string;
  /** The kiosk's MQTT client certificate and key (PEM): the province CA issued them to this device. */
  certPem: Buffer | string;
  keyPem: Buffer | string;
  /** Trusted for an https hub besides the public roots (the broker's CA: a province's private CA). */
  caPem?: Buffer | string | undefined;
  /** Where unsent exports wait (one .json and one .bin per export). */
  outboxDir: string;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Sends a supervisor's export to the hub's console over HTTP(S), signed with the kiosk's MQTT client
 * key (base/node/export-upload.ts). Each export is written to the outbox first and removed only once
 * the hub has stored it, so an unreachable or refusing hub loses nothing: it waits to be sent again
 * under the same export id, which the hub stores once however often it arrives.
 */
export class HubExportSender {
  constructor(private readonly o: HubExportSenderOptions) {
    mkdirSync(o.outboxDir, { recursive: true });
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Keeps the export in the outbox, then sends it. */
  async send(file: HubExportFile, supervisor: { id: string; name: string }): Promise<{ exportId: string; status: 'stored' | 'already-stored' }> {
    const exportId = randomBytes(16).toString('base64url');
    const description: ExportDescription = exportDescriptionSchema.parse({
      exportId,
      fileName: file.fileName,
      format: file.format,
      rows: file.rows,
      supervisorId: supervisor.id,
      supervisorName: supervisor.name,
      madeMs: this.now(),
    });
    if (file.bytes.length > EXPORT_MAX_BYTES) {
      throw new HubSendError(`the export is larger than the hub takes (${EXPORT_MAX_BYTES / 1024 / 1024} MiB): export a shorter period`, exportId, 413);
    }
    // The body first, then its description by rename: an outbox entry is whole or absent.
    writeFileSync(join(this.o.outboxDir, `${exportId}.bin`), file.bytes);
    writeFileSync(join(this.o.outboxDir, `${exportId}.json.tmp`), JSON.stringify(description));
    renameSync(join(this.o.outboxDir, `${exportId}.json.tmp`), join(this.o.outboxDir, `${exportId}.json`));
    return this.upload(description, file.bytes);
  }

  /** Exports waiting to be sent, oldest first. */
  pending(): PendingHubExport[] {
    const out: PendingHubExport[] = [];
    for (const name of readdirSync(this.o.outboxDir)) {
      if (!name.endsWith('.json')) continue;
      const d = this.read(name.slice(0, -5));
      if (d) out.push({ exportId: d.description.exportId, fileName: d.description.fileName, rows: d.description.rows, size: d.body.length, madeMs: d.description.madeMs });
    }
    return out.sort((a, b) => a.madeMs - b.madeMs);
  }

  /**
   * Retention: an export still waiting after this long is deleted (it names workers; the entry log it
   * came from is purged by the same retention). Returns how many went.
   */
  purgeBefore(ms: number): number {
    const dir = this.o.outboxDir;
    const names = readdirSync(dir);
    let n = 0;
    for (const id of new Set(names.map((name) => name.replace(/\.(json|bin|json\.tmp)$/, '')))) {
      const files = names.filter((name) => name.startsWith(`${id}.`));
      // A half-written entry (no readable description) is judged by its files' age.
      const madeMs = this.read(id)?.description.madeMs ?? Math.max(...files.map((name) => statSync(join(dir, name)).mtimeMs));
      if (madeMs >= ms) continue;
      for (const name of files) rmSync(join(dir, name), { force: true });
      n++;
    }
    return n;
  }

  /** Sends a waiting export again (the same id: the hub stores it once). */
  async resend(exportId: string): Promise<{ exportId: string; status: 'stored' | 'already-stored' }> {
    const d = EXPORT_ID_PATTERN.test(exportId) ? this.read(exportId) : undefined;
    if (!d) throw new HubSendError(`no export ${exportId} is waiting to be sent`, exportId, 404);
    return this.upload(d.description, d.body);
  }

  private read(exportId: string): { description: ExportDescription; body: Buffer } | undefined {
    try {
      const parsed = exportDescriptionSchema.safeParse(JSON.parse(readFileSync(join(this.o.outboxDir, `${exportId}.json`), 'utf8')));
      if (!parsed.success || parsed.data.exportId !== exportId) return undefined;
      return { description: parsed.data, body: readFileSync(join(this.o.outboxDir, `${exportId}.bin`)) };
    } catch {
      return undefined;
    }
  }

  private async upload(description: ExportDescription, body: Uint8Array): Promise<{ exportId: string; status: 'stored' | 'already-stored' }> {
    const { exportId } = description;
    const headers = signExportUpload({ deviceId: this.o.deviceId, description, body, certPem: this.o.certPem, keyPem: this.o.keyPem, nowMs: this.now() });
    const url = new URL(EXPORT_UPLOAD_PATH, this.o.consoleUrl.endsWith('/') ? this.o.consoleUrl : `${this.o.consoleUrl}/`);
    let answer: { status: number; text: string };
    try {
      answer = await this.post(url, headers, body);
    } catch (err) {
      throw new HubSendError(`the hub could not be reached (${(err as Error).message}); the export is kept on this kiosk: send it again later`, exportId);
    }
    let message: string | undefined;
    let status: string | undefined;
    try {
      const json = JSON.parse(answer.text) as { error?: unknown; status?: unknown };
      message = typeof json.error === 'string' ? json.error : undefined;
      status = typeof json.status === 'string' ? json.status : undefined;
    } catch {
      message = undefined;
    }
    if ((answer.status === 200 || answer.status === 201) && (status === 'stored' || status === 'already-stored')) {
      rmSync(join(this.o.outboxDir, `${exportId}.json`), { force: true });
      rmSync(join(this.o.outboxDir, `${exportId}.bin`), { force: true });
      return { exportId, status };
    }
    throw new HubSendError(`the hub refused the export (${answer.status}: ${message ?? 'no reason given'}); it is kept on this kiosk`, exportId, answer.status);
  }

  private post(url: URL, headers: Record<string, string>, body: Uint8Array): Promise<{ status: number; text: string }> {
    const timeoutMs = this.o.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      // A fresh connection each time: a kept-alive one the hub has since closed would fail as "socket hang up".
      const options = { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, timeout: timeoutMs, agent: false };
      const req =
        url.protocol === 'https:'
          ? httpsRequest(url, { ...options, ...(this.o.caPem ? { ca: [...rootCertificates, this.o.caPem.toString()] } : {}) })
          : httpRequest(url, options);
      req.on('timeout', () => req.destroy(new Error(`no answer in ${Math.round(timeoutMs / 1000)} s`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 64 * 1024) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.end(body);
    });
  }
}
