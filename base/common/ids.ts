import { z } from 'zod';

/**
 * Identifiers, one rule each, used wherever they cross a boundary (settings, CSV, passes, MQTT
 * payloads, the renderer API). Isomorphic: the screens use them too.
 */

/**
 * A device id names the device's MQTT topics and is its certificate's CN. `hub` is reserved: its
 * topics would sit beside the hubs' own (safegate/v1/hub/status).
 */
export const DEVICE_ID_PATTERN = /^(?!hub$)[a-z0-9][a-z0-9-]{1,62}$/;
export const DEVICE_ID_RULE = 'lower-case letters, digits and dashes, 2 to 63 characters, starting with a letter or digit (not "hub")';
export const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN, DEVICE_ID_RULE);

/**
 * A hub process's identity (its certificate's CN and MQTT client id): `hub.` and a name. The dot can
 * never appear in a device id, so no device certificate can take the hub's rights at the broker.
 */
export const HUB_ID_PATTERN = /^hub\.[a-z0-9][a-z0-9-]{0,31}$/;
export const HUB_ID_RULE = '"hub." followed by lower-case letters, digits and dashes (e.g. hub.1)';
export const hubIdSchema = z.string().regex(HUB_ID_PATTERN, HUB_ID_RULE);

/**
 * Identifiers people type and print: a worker id (a printed badge carries one), a checkpoint, zone
 * or notice id.
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const IDENTIFIER_RULE = '1 to 64 characters: letters, digits, dot, underscore and dash';
export const identifierSchema = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);
export const workerIdSchema = identifierSchema;

/** A supervisor id: what `safegate supervisor add` takes, the PIN pad sends and the audit trail records. */
export const SUPERVISOR_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;
export const SUPERVISOR_ID_RULE = 'a supervisor id is 1 to 32 lower-case letters, digits, dot, dash or underscore, starting with a letter or digit';

/** A removable drive's id as the kiosk lists it (a block device's name, or a mount point's place under the drives folder). */
export const DRIVE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DRIVE_ID_RULE = 'a drive id as supervisor.drives lists it';

/** A pass id (the CWT `cti`): 8 random bytes as 16 lower-case hex digits. */
export const PASS_ID_PATTERN = /^[0-9a-f]{16}$/;
export const passIdSchema = z.string().regex(PASS_ID_PATTERN, '16 lower-case hex digits');

export function isWorkerId(s: string): boolean {
  return IDENTIFIER_PATTERN.test(s);
}
