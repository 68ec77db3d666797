import { createHash, timingSafeEqual, verify, X509Certificate } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { DEVICE_ID_PATTERN } from '../../base/common/ids.js';
import {
  EXPORT_HEADERS,
  EXPORT_MAX_SKEW_MS,
  exportDescriptionSchema,
  exportSignedText,
  type ExportDescription,
} from '../../base/node/export-upload.js';
import type { HubDirectory } from './directory.js';
import { chunksOf, inList, type HubSql, type HubSqlExecutor } from './hub-sql.js';

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
  supervisor_id: string;
  supervisor_name: string;
  file_name: string;
  format: 'csv' | 'xlsx';
  rows: number;
  made_ms: number;
  received_ms: number;
  size: number;
}

/** Every column but the file itself (a trusted constant). */
const COLUMNS = sql.raw('e.export_id, e.device_id, e.site_id, e.checkpoint_id, e.supervisor_id, e.supervisor_name, e.file_name, e.format, e.rows, e.made_ms, e.received_ms, e.size');

const toExport = (r: ExportRow, orgIds: string[]): ReceivedExport => ({
  exportId: r.export_id,
  deviceId: r.device_id,
  siteId: r.site_id,
  checkpointId: r.checkpoint_id,
  orgIds,
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
  private readonly db: HubSql;
  private readonly ca: X509Certificate;
  private readonly now: () => number;

  /** Only stores its dependencies (`sql`: the directory's database, which the caller opened and closes). */
  constructor(private readonly options: { sql: HubSql; directory: Pick<HubDirectory, 'placementOf'>; caPem: string | Buffer; now?: () => number }) {
    this.ca = new X509Certificate(options.caPem);
    this.db = options.sql;
    this.now = options.now ?? Date.now;
  }

  /**
   * Checks an upload's headers and body (throws ExportRefusal) and stores it once. `stored` is false
   * when this export id was already stored with this same body (a retry).
   */
  async receive(headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<{ stored: boolean; export: ReceivedExport }> {
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

    const placement = await this.options.directory.placementOf(deviceId);
    if (!placement) throw new ExportRefusal(403, `device ${deviceId} is not registered at the hub (placed at a site): ask the province operator`);

    // One writer at a time: a retry racing its first copy finds it stored, never a second row.
    return this.db.write(async (tx) => {
      const held = await tx.get<{ device_id: string; sha256: Buffer }>(sql`SELECT device_id, sha256 FROM kiosk_exports WHERE export_id = ${description.exportId}`);
      if (held) {
        if (held.device_id !== deviceId || held.sha256.length !== digest.length || !timingSafeEqual(held.sha256, digest)) {
          throw new ExportRefusal(409, `export ${description.exportId} was already received with another file`);
        }
        return { stored: false, export: (await exportsWhere(tx, sql`e.export_id = ${description.exportId}`))[0]! };
      }
      const d = description;
      await tx.run(
        sql`INSERT INTO kiosk_exports (export_id, device_id, site_id, checkpoint_id, supervisor_id, supervisor_name, file_name, format, rows, made_ms, received_ms, size, sha256, body)
            VALUES (${d.exportId}, ${deviceId}, ${placement.siteId}, ${placement.checkpointId}, ${d.supervisorId}, ${d.supervisorName}, ${d.fileName}, ${d.format}, ${d.rows}, ${d.madeMs}, ${now}, ${body.length}, ${digest}, ${body})`,
      );
      if (placement.orgIds.length) {
        await tx.run(sql`INSERT INTO kiosk_export_orgs (export_id, org_id) VALUES ${sql.join(placement.orgIds.map((o) => sql`(${d.exportId}, ${o})`))}`);
      }
      return { stored: true, export: (await exportsWhere(tx, sql`e.export_id = ${d.exportId}`))[0]! };
    });
  }

  /** Received exports, newest first; `orgId` confines them to those of a checkpoint serving it. */
  async list(orgId?: string, limit = 500): Promise<ReceivedExport[]> {
    return orgId === undefined
      ? exportsWhere(this.db, sql`1 = 1`, limit)
      : exportsWhere(this.db, sql`e.export_id IN (SELECT k.export_id FROM kiosk_export_orgs k WHERE k.org_id = ${orgId})`, limit);
  }

  async get(exportId: string, orgId?: string): Promise<ReceivedExport | undefined> {
    const [e] = await exportsWhere(this.db, sql`e.export_id = ${exportId}`);
    return e && (orgId === undefined || e.orgIds.includes(orgId)) ? e : undefined;
  }

  /** The file, for someone who may see the export (see `get`). */
  async file(exportId: string, orgId?: string): Promise<{ export: ReceivedExport; body: Buffer } | undefined> {
    const e = await this.get(exportId, orgId);
    if (!e) return undefined;
    const row = await this.db.get<{ body: Buffer }>(sql`SELECT body FROM kiosk_exports WHERE export_id = ${exportId}`);
    return row ? { export: e, body: row.body } : undefined;
  }

  /** Retention: exports received before this time are deleted (their organisations with them). */
  async purgeBefore(ms: number): Promise<{ exports: number }> {
    return { exports: await this.db.run(sql`DELETE FROM kiosk_exports WHERE received_ms < ${ms}`) };
  }
}

/** Exports matching `where` (over `kiosk_exports e`), newest first, each with the organisations it was stored for. */
async function exportsWhere(db: HubSqlExecutor, where: RawBuilder<unknown>, limit = 500): Promise<ReceivedExport[]> {
  const rows = await db.all<ExportRow>(sql`SELECT ${COLUMNS} FROM kiosk_exports e WHERE ${where} ORDER BY e.received_ms DESC, e.export_id LIMIT ${limit}`);
  const orgs = new Map<string, string[]>();
  for (const ids of chunksOf(rows.map((r) => r.export_id))) {
    for (const o of await db.all<{ export_id: string; org_id: string }>(sql`SELECT export_id, org_id FROM kiosk_export_orgs WHERE export_id IN ${inList(ids)}`)) {
      orgs.set(o.export_id, [...(orgs.get(o.export_id) ?? []), o.org_id]);
    }
  }
  // Sorted here, not by the database's collation, so both backends list them alike.
  return rows.map((r) => toExport(r, (orgs.get(r.export_id) ?? []).sort()));
}

function commonName(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  return cns.length === 1 ? cns[0] : undefined;
}
