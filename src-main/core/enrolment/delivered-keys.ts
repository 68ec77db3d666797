import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { HubKeyring } from '../../../base/node/keys.js';
import { DownloadedKeys } from '../store/hub-data.js';

/**
 * Adds the hub keys this kiosk received over the keys stream (kept in its store) to a keyring of the
 * enrolment folder's installed keys: the kiosk's current keyring, the one the downlink verifies parts
 * with. So a remote settings document signed by a downlink key the hub rotated to after enrolment is
 * trusted, and only as far as the downlink trusts it (the keyring checks that an installed downlink
 * key vouched for it and its delivered lifetime). Read-only: a store that is not there yet, or that
 * this user cannot read, adds nothing (a document signed by such a key is then refused, as before).
 */
export function addDeliveredKeys(keyring: HubKeyring, storePath: string): void {
  if (!existsSync(storePath)) return;
  let db: Database.Database | undefined;
  try {
    db = new Database(storePath, { readonly: true, fileMustExist: true });
    new DownloadedKeys(db).loadInto(keyring);
  } catch {
    // No hub_keys table yet (a store from before the keys stream), or not readable here.
  } finally {
    db?.close();
  }
}
