import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * An enrolment retried with the same key (issue 12, review r1 finding 6): the device's current
 * certificate is kept whole (PEM), so a kiosk whose answer was lost after the hub used its token gets
 * the same certificate again instead of TOKEN_USED. NULL for devices enrolled before this step, and
 * once a renewal replaced the enrolment's certificate.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`ALTER TABLE fleet_devices ADD COLUMN cert_pem TEXT;`);
}
