import { createHash, timingSafeEqual, verify, X509Certificate } from 'node:crypto';
import { openDatabase, type SqliteDatabase } from '../../base/node/sqlite.js';
import { DEVICE_ID_PATTERN } from '../../base/common/ids.js';
import {
  EXPORT_HEADERS,
  EXPORT_MAX_SKEW_MS,
  exportDescriptionSchema,
  exportSignedText,
  type ExportDescription,
} from '../../base/node/export-upload.js';
import { DIRECTORY_MIGRATIONS, type HubDirectory } from './directory.js';

/** An upload the hub refuses: `status` is the HTTP answer, `message` says why in words a supervisor can act on. */
export class ExportRefusal extends Error {
  override name = 'ExportRefusal';
  constructor(
    readonly status: 400 | 401 | 403 | 409 | 413,
    message: string,
  ) {
    super(message);
  }
}

export interface ReceivedExport {
  exportId: string;
  deviceId: string;
  siteId: string | null;
  checkpointId: string | null;
  orgIds: string[];
  supervisorId: string;
  supervisorName: string;
  fileName: string;
  format: 'csv' | 'xlsx';
  rows: number;
  madeMs: number;
  receivedMs: number;
  size: number;
}

interface ExportRow {
  export_id: string;
  device_id: string;
  site_id: string | null;
  checkpoint_id: string | null;
  orgs: string | null;
  supervisor_id: string;
  supervisor_name: string;
  file_name: string;
  format: 'csv' | 'xlsx';
  rows: number;
  made_ms: number;
  received_ms: number;
  size: number;
}

const COLUMNS =
  "e.export_id, e.device_id, e.site_id, e.checkpoint_id, e.supervisor_id, e.supervisor_name, e.file_name, e.format, e.rows, e.made_ms, e.received_ms, e.size, (SELECT group_concat(org_id, ',') FROM kiosk_export_orgs o WHERE o.export_id = e.export_id) AS orgs";

const toExport = (r: ExportRow): ReceivedExport => ({
  exportId: r.export_id,
  deviceId: r.device_id,
  siteId: r.site_id,
  checkpointId: r.checkpoint_id,
  orgIds: r.orgs ? r.orgs.split(',').sort() : [],
  supervisorId: r.supervisor_id,
  supervisorName: r.supervisor_name,
  fileName: r.file_name,
  format: r.format,
  rows: r.rows,
  madeMs: r.made_ms,
  receivedMs: r.received_ms,
  size: r.size,
});

/**
 * Kiosk exports received by the hub (directory migration 0013), and the check of an upload: the
 * device certificate it carries was issued by the province CA the hub trusts (the one that signs
 * the broker's client certificates) to the device it names, is in its validity period, signed the
 * body's SHA-256 with the export's description and a time within EXPORT_MAX_SKEW_MS of the hub's,
 * and the device is registered at the hub (placed at a site: a device taken out of service by an
 * operator can no longer send). An export id already stored with the same body is answered as
 * stored again (a retry), with another body as a conflict.
 */
export class HubExports {
  private readonly db: SqliteDatabase;
  private readonly ca: X509Certificate;
  private readonly now: () => number;

  constructor(private readonly options: { directoryPath: string; directory: Pick<HubDirectory, 'placementOf'>; caPem: string | Buffer; now?: () => number }) {
    this.ca = new X509Certificate(options.caPem);
    this.db = openDatabase(options.directoryPath, { migrations: DIRECTORY_MIGRATIONS, busyTimeoutMs: 5_000 });
    this.now = options.now ?? Date.now;
  }

  /**
   * Checks an upload's headers and body (throws ExportRefusal) and stores it once. `stored` is false
   * when this export id was already stored with this same body (a retry).
   */
  receive(headers: Record<string, string | string[] | undefined>, body: Buffer): { stored: boolean; export: ReceivedExport } {
    const header = (name: string): string => {
      const v = headers[name];
      if (typeof v !== 'string' || v === '') throw new ExportRefusal(400, `the ${name} header is missing`);
      return v;
    };
    const deviceId = header(EXPORT_HEADERS.device);
    if (!DEVICE_ID_PATTERN.test(deviceId)) throw new ExportRefusal(400, `${EXPORT_HEADERS.device} is not a device id`);
    const descriptionText = header(EXPORT_HEADERS.export);
    let description: ExportDescription;
    try {
      const parsed = exportDescriptionSchema.safeParse(JSON.parse(Buffer.from(descriptionText, 'base64url').toString('utf8')));
      if (!parsed.success) throw new ExportRefusal(400, `the export's description is out of shape: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      description = parsed.data;
    } catch (err) {
      if (err instanceof ExportRefusal) throw err;
      throw new ExportRefusal(400, `${EXPORT_HEADERS.export} is not base64url JSON`);
    }
    const timeText = header(EXPORT_HEADERS.time);
    const timeMs = /^\d{1,15}$/.test(timeText) ? Number(timeText) : NaN;
    if (!Number.isSafeInteger(timeMs)) throw new ExportRefusal(400, `${EXPORT_HEADERS.time} is not a time in milliseconds`);
    const now = this.now();
    if (Math.abs(now - timeMs) > EXPORT_MAX_SKEW_MS) {
      throw new ExportRefusal(401, `the kiosk's clock is ${Math.round((timeMs - now) / 60_000)} min from the hub's (at most ${EXPORT_MAX_SKEW_MS / 60_000} min): set its time, then send again`);
    }

    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(header(EXPORT_HEADERS.certificate), 'base64'));
    } catch {
      throw new ExportRefusal(400, `${EXPORT_HEADERS.certificate} is not a certificate`);
    }
    if (!cert.checkIssued(this.ca) || !cert.verify(this.ca.publicKey)) throw new ExportRefusal(401, "the device's certificate was not issued by the province CA this hub trusts");
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) throw new ExportRefusal(401, "the device's certificate is not valid now (expired or not yet valid)");
    if (commonName(cert) !== deviceId) throw new ExportRefusal(401, `the certificate is not ${deviceId}'s`);
    const digest = createHash('sha256').update(body).digest();
    const signature = Buffer.from(header(EXPORT_HEADERS.signature), 'base64');
    let good: boolean;
    try {
      good = verify('sha256', exportSignedText(deviceId, descriptionText, digest.toString('hex'), timeMs), cert.publicKey, signature);
    } catch {
      good = false;
    }
    if (!good) throw new ExportRefusal(401, 'the signature does not match the file: it was changed on the way or not signed by this device; send it again');

    const placement = this.options.directory.placementOf(deviceId);
    if (!placement) throw new ExportRefusal(403, `device ${deviceId} is not registered at the hub (placed at a site): ask the province operator`);

    return this.db
      .transaction(() => {
        const held = this.db.prepare('SELECT device_id, sha256 FROM kiosk_exports WHERE export_id = ?').get(description.exportId) as { device_id: string; sha256: Buffer } | undefined;
        if (held) {
          if (held.device_id !== deviceId || held.sha256.length !== digest.length || !timingSafeEqual(held.sha256, digest)) {
            throw new ExportRefusal(409, `export ${description.exportId} was already received with another file`);
          }
          return { stored: false, export: this.get(description.exportId)! };
        }
        this.db
          .prepare(
            `INSERT INTO kiosk_exports (export_id, device_id, site_id, checkpoint_id, supervisor_id, supervisor_name, file_name, format, rows, made_ms, received_ms, size, sha256, body)
             VALUES (@exportId, @deviceId, @siteId, @checkpointId, @supervisorId, @supervisorName, @fileName, @format, @rows, @madeMs, @receivedMs, @size, @sha256, @body)`,
          )
          .run({ ...description, deviceId, siteId: placement.siteId, checkpointId: placement.checkpointId, receivedMs: now, size: body.length, sha256: digest, body });
        const org = this.db.prepare('INSERT INTO kiosk_export_orgs (export_id, org_id) VALUES (?, ?)');
        for (const o of placement.orgIds) org.run(description.exportId, o);
        return { stored: true, export: this.get(description.exportId)! };
      })
      .immediate();
  }

  /** Received exports, newest first; `orgId` confines them to those of a checkpoint serving it. */
  list(orgId?: string, limit = 500): ReceivedExport[] {
    const rows = (
      orgId === undefined
        ? this.db.prepare(`SELECT ${COLUMNS} FROM kiosk_exports e ORDER BY e.received_ms DESC LIMIT ?`).all(limit)
        : this.db
            .prepare(`SELECT ${COLUMNS} FROM kiosk_export_orgs k JOIN kiosk_exports e ON e.export_id = k.export_id WHERE k.org_id = ? ORDER BY e.received_ms DESC LIMIT ?`)
            .all(orgId, limit)
    ) as ExportRow[];
    return rows.map(toExport);
  }

  get(exportId: string, orgId?: string): ReceivedExport | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM kiosk_exports e WHERE e.export_id = ?`).get(exportId) as ExportRow | undefined;
    if (!row) return undefined;
    const e = toExport(row);
    return orgId === undefined || e.orgIds.includes(orgId) ? e : undefined;
  }

  /** The file, for someone who may see the export (see `get`). */
  file(exportId: string, orgId?: string): { export: ReceivedExport; body: Buffer } | undefined {
    const e = this.get(exportId, orgId);
    if (!e) return undefined;
    const { body } = this.db.prepare('SELECT body FROM kiosk_exports WHERE export_id = ?').get(exportId) as { body: Buffer };
    return { export: e, body };
  }

  /** Retention: exports received before this time are deleted. */
  purgeBefore(ms: number): { exports: number } {
    return { exports: this.db.prepare('DELETE FROM kiosk_exports WHERE received_ms < ?').run(ms).changes };
  }

  close(): void {
    this.db.close();
  }
}

function commonName(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  return cns.length === 1 ? cns[0] : undefined;
}
