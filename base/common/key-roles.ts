/**
 * The roles a hub signing key can have. A key is trusted for exactly one role and verifies only what
 * that role may sign, so a key that leaks from one duty (printing passes at a company office) cannot
 * forge another (the data the hub sends down, which includes the keys themselves).
 *
 * To add a role (phone-bound passes, checkpoint codes, signed settings, a device CA, a certificate
 * trust list, a visitor-hash key): add an entry here, give what it signs a name in `SignedArtifact`,
 * and verify with `openSigned(bytes, keyring, role)`. Installed keys go in `keys/<role>/`.
 */
export type SignedArtifact = 'worker-pass' | 'phone-pass' | 'downlink-part' | 'checkpoint-code' | 'device-settings';

export interface KeyRoleRule {
  description: string;
  /** What a key of this role may sign; a signature on anything else is refused. */
  signs: readonly SignedArtifact[];
  /**
   * Who may bring a new key of this role to a kiosk: IT staff always (the `keys/<role>/` folder,
   * trust anchors); the hub too when true, over the keys stream, signed by an installed downlink key.
   */
  rotatableByHub: boolean;
  /** The longest a key delivered by the hub stays trusted after it arrives (installed keys: until removed). */
  maxDeliveredLifetimeDays: number;
}

export const KEY_ROLES = {
  pass: {
    description: 'signs worker passes (the QR codes workers show)',
    signs: ['worker-pass'],
    rotatableByHub: true,
    maxDeliveredLifetimeDays: 3 * 365,
  },
  /**
   * Its own role, not `pass`: pass keys also sign printed passes at company offices, and a pass key
   * that leaked from one must not let anyone make phone-bound passes (carrying their own phone's key)
   * for gates that accept only those. Phone passes are made only by the hub, online, through a
   * worker's personal link.
   */
  'phone-pass': {
    description: 'signs phone-bound worker passes (the pass a phone page holds with its own key)',
    signs: ['phone-pass'],
    rotatableByHub: true,
    maxDeliveredLifetimeDays: 3 * 365,
  },
  /**
   * The QR codes posted where there is no kiosk (a team, a canteen, a rest area, a bus): the worker's
   * phone scans one and uploads the visit; only the hub checks them (sync/hub/checkpoint-codes.ts), so
   * kiosks never need this key. Its own role: a leaked code key forges visits, nothing at a gate.
   */
  'checkpoint-code': {
    description: 'signs checkpoint QR codes (check-in where there is no kiosk), checked by the hub only',
    signs: ['checkpoint-code'],
    rotatableByHub: false,
    maxDeliveredLifetimeDays: 3 * 365,
  },
  downlink: {
    description: 'signs what the hub sends down to kiosks (roster, notices, revocations, policy, keys, a device\'s settings)',
    signs: ['downlink-part', 'device-settings'],
    rotatableByHub: true,
    maxDeliveredLifetimeDays: 2 * 365,
  },
} as const satisfies Record<string, KeyRoleRule>;

export type KeyRole = keyof typeof KEY_ROLES;
export const KEY_ROLE_NAMES = Object.keys(KEY_ROLES) as KeyRole[];

export function isKeyRole(s: string): s is KeyRole {
  return Object.hasOwn(KEY_ROLES, s);
}

/** The role whose keys may sign this artifact (one per artifact). */
export function roleFor(artifact: SignedArtifact): KeyRole {
  const role = KEY_ROLE_NAMES.find((r) => (KEY_ROLES[r].signs as readonly SignedArtifact[]).includes(artifact));
  if (!role) throw new Error(`no key role signs ${artifact}`);
  return role;
}
