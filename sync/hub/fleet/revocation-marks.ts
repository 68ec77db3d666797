import { sql } from 'kysely';
import type { HubSql, HubSqlExecutor } from '../hub-sql.js';
import type { CrlEntry } from './pki.js';

/** A revoked device as the directory holds it. */
export interface RevocationMark {
  deviceId: string;
  revokedAtMs: number;
  /** When a hub process last confirmed the broker cut-off since the device was (last) revoked; null: not yet. */
  cutOffAtMs: number | null;
}

/**
 * The directory's revocation marks (table fleet_revocations, directory 0023): every revoked device,
 * enrolled here or not, and whether a hub process has confirmed its broker cut-off. Enrolled devices
 * are also marked in fleet_devices.revoked_ms (the enrolment server's renewal check, `hub devices`);
 * a device marked only there (before 0023) counts as revoked and not yet confirmed.
 */
export class RevocationMarks {
  constructor(private readonly sql: HubSql) {}

  /**
   * Marks a device revoked (the first time counts) and asks the hub processes for a fresh broker
   * cut-off (cutoff_ms back to NULL). `enrolled`: the hub issued it certificates (`serials`, what the
   * CRL lists); otherwise only the deny and the refusal apply. With `onlyEnrolled`, a device the hub
   * never enrolled is left unmarked ('unknown').
   */
  async mark(deviceId: string, nowMs: number, o: { onlyEnrolled?: boolean } = {}): Promise<{ enrolled: boolean; serials: string[] } | 'unknown'> {
    return this.sql.write(async (tx) => {
      const enrolled = (await tx.run(sql`UPDATE fleet_devices SET revoked_ms = coalesce(revoked_ms, ${nowMs}) WHERE device_id = ${deviceId}`)) > 0;
      if (!enrolled && o.onlyEnrolled) return 'unknown' as const;
      const row = await tx.get<{ revoked_ms: number }>(sql`SELECT revoked_ms FROM fleet_devices WHERE device_id = ${deviceId}`);
      const revokedMs = row ? Number(row.revoked_ms) : nowMs;
      await tx.run(
        sql`INSERT INTO fleet_revocations (device_id, revoked_ms, cutoff_ms) VALUES (${deviceId}, ${revokedMs}, ${null})
            ON CONFLICT (device_id) DO UPDATE SET cutoff_ms = NULL`,
      );
      const serials = await tx.all<{ serial_hex: string }>(sql`SELECT serial_hex FROM fleet_certificates WHERE device_id = ${deviceId}`);
      return { enrolled, serials: serials.map((s) => s.serial_hex).sort() };
    });
  }

  /** Every revoked device. */
  async list(): Promise<RevocationMark[]> {
    const rows = await this.sql.all<{ device_id: string; revoked_ms: number | string; cutoff_ms: number | string | null }>(
      sql`SELECT device_id, revoked_ms, cutoff_ms FROM fleet_revocations
          UNION ALL
          SELECT device_id, revoked_ms, NULL AS cutoff_ms FROM fleet_devices
            WHERE revoked_ms IS NOT NULL AND device_id NOT IN (SELECT device_id FROM fleet_revocations)`,
    );
    return rows
      .map((r) => ({ deviceId: r.device_id, revokedAtMs: Number(r.revoked_ms), cutOffAtMs: r.cutoff_ms === null ? null : Number(r.cutoff_ms) }))
      .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }

  /** A hub process cut these devices off at the broker: recorded where not confirmed yet. */
  async confirmCutOff(marks: readonly Pick<RevocationMark, 'deviceId' | 'revokedAtMs'>[], nowMs: number): Promise<void> {
    if (!marks.length) return;
    await this.sql.write(async (tx) => {
      for (const m of marks) {
        await tx.run(
          sql`INSERT INTO fleet_revocations (device_id, revoked_ms, cutoff_ms) VALUES (${m.deviceId}, ${m.revokedAtMs}, ${nowMs})
              ON CONFLICT (device_id) DO UPDATE SET cutoff_ms = coalesce(fleet_revocations.cutoff_ms, excluded.cutoff_ms)`,
        );
      }
    });
  }

  /** When a hub process confirmed this device's cut-off (null: not yet, or not revoked). */
  async cutOffAt(deviceId: string): Promise<number | null> {
    const row = await this.sql.get<{ cutoff_ms: number | string | null }>(sql`SELECT cutoff_ms FROM fleet_revocations WHERE device_id = ${deviceId}`);
    return row?.cutoff_ms == null ? null : Number(row.cutoff_ms);
  }

  /**
   * Writes the CA's revocation list under the directory's write lock (one writer at a time across
   * every process: two revokes at once cannot drop each other's serials or repeat a CRL number), the
   * serials read inside the lock. Resolves to what `write` resolved to.
   */
  async writeCrl<T>(write: (entries: CrlEntry[]) => Promise<T>): Promise<T> {
    return this.sql.write(async (tx) => write(await revokedSerialsIn(tx)));
  }
}

/** Every certificate of every revoked device (what the CRL lists), in serial order. */
export async function revokedSerialsIn(tx: HubSqlExecutor): Promise<CrlEntry[]> {
  const rows = await tx.all<{ serial_hex: string; revoked_ms: number | string }>(
    sql`SELECT c.serial_hex, d.revoked_ms FROM fleet_certificates c JOIN fleet_devices d ON d.device_id = c.device_id WHERE d.revoked_ms IS NOT NULL`,
  );
  return rows.map((r) => ({ serialHex: r.serial_hex, revokedAtMs: Number(r.revoked_ms) })).sort((a, b) => (a.serialHex < b.serialHex ? -1 : a.serialHex > b.serialHex ? 1 : 0));
}
