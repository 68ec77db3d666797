import type { ClockAnchor, WireEvent } from '../batch-codec.js';

export type ClockTrust = 'synced' | 'corrected' | 'unverified';

/**
 * When an event really happened, as far as the hub can tell. A kiosk whose clock was synchronised is
 * trusted, and so is a bus unit's event dated from its GPS fix (clockSource 'gps'); otherwise the
 * event is dated from the kiosk's monotonic clock and an anchor taken from a hub acknowledgement
 * during the same boot ('corrected'); without one it stays 'unverified', with its wall time kept as
 * reported but never silently trusted.
 */
export function dateEvent(e: WireEvent, anchor: ClockAnchor | null | undefined): { clock: ClockTrust; correctedWallMs: number | null } {
  const anchored = anchor && anchor.bootId === e.bootId ? anchor.hubTimeMs + Math.round((e.monoUs - anchor.monoUs) / 1000) : null;
  // A wall time read from the GPS (a bus unit without network or real-time clock) is as good as a
  // synchronised one, unless the hub's own anchor of the same boot says otherwise (a spoofed or
  // broken receiver): the hub's clock wins then.
  if (e.clockSource === 'gps' && anchored !== null && Math.abs(anchored - e.wallMs) > GPS_ANCHOR_TOLERANCE_MS) {
    return { clock: 'corrected', correctedWallMs: anchored };
  }
  if (e.clockSynced || e.clockSource === 'gps') return { clock: 'synced', correctedWallMs: e.wallMs };
  if (anchored !== null) return { clock: 'corrected', correctedWallMs: anchored };
  return { clock: 'unverified', correctedWallMs: null };
}

/** How far a GPS-dated event may be from the hub anchor's dating of it before the anchor wins. */
export const GPS_ANCHOR_TOLERANCE_MS = 60_000;
