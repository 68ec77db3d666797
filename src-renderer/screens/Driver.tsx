import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { BusView, DriverTile, KioskApi, ScreenState } from '../../src-main/api/contract.js';
import { reasonCategory } from '../../base/common/reasons.js';
import { formatDateTime } from '../i18n/i18n.js';

/** How long the end-trip button waits for its confirming second tap. */
export const END_CONFIRM_MS = 5_000;
/** How long a refused trip request's message stays. */
const ERROR_SHOWN_MS = 8_000;

/**
 * The driver screen of a bus unit (7-inch landscape first): glanceable from the driver's seat. The
 * trip (none, or since when and on which route), riders aboard against capacity as one big figure,
 * the last scans as big tiles (colour plus a symbol plus one word; a name only on an allow, never a
 * health reason), what needs the driver's attention (old data, storage, GPS, the link), and one big
 * button that starts the trip or ends it (ending asks for a second tap, so a brush of the hand does
 * not alight everyone). With several routes the driver picks one on starting, or later when a
 * rider's first scan opened the trip.
 */
export function DriverScreen({
  api,
  state,
  covered,
  onBus,
}: {
  api: KioskApi;
  state: ScreenState;
  covered: boolean;
  /** The view a trip request answered with: shown at once, before the next state poll. */
  onBus: (bus: BusView) => void;
}) {
  const { t } = useTranslation();
  const bus = state.bus!;
  const trip = bus.trip;
  // Both belong to the trip they were asked on (keyed by its id, '' for none): a trip that opened or
  // closed elsewhere meanwhile (a driver card, the command) drops a half-done request by itself.
  const tripKey = trip?.tripId ?? '';
  const [choosingFor, setChoosingFor] = useState<string | null>(null);
  const [confirmFor, setConfirmFor] = useState<string | null>(null);
  const choosing = choosingFor === tripKey;
  const confirmEnd = trip !== null && confirmFor === tripKey;
  const setChoosing = (on: boolean) => setChoosingFor(on ? tripKey : null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirmTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(confirmTimer.current), []);

  const errorTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(errorTimer.current), []);
  const request = (call: () => Promise<BusView>) => {
    setBusy(true);
    setError(null);
    clearTimeout(errorTimer.current);
    call()
      .then(onBus, (err: unknown) => {
        // Refused (a trip opened or closed meanwhile by a card or the command): say why for a while,
        // and show the trip as it is now rather than at the next look.
        setError(err instanceof Error ? err.message : String(err));
        errorTimer.current = setTimeout(() => setError(null), ERROR_SHOWN_MS);
        api.call('screen.state', {}).then((s) => s.bus && onBus(s.bus), () => undefined);
      })
      .finally(() => setBusy(false));
  };
  const start = (routeId?: string) => {
    setChoosing(false);
    request(() => api.call('bus.startTrip', routeId === undefined ? {} : { routeId }));
  };
  const chooseRoute = (routeId: string) => {
    setChoosing(false);
    request(() => api.call('bus.chooseRoute', { routeId }));
  };
  const onMainButton = () => {
    if (!trip) {
      if (bus.routes.length > 1) setChoosing(true);
      else start(bus.routes[0]?.id);
      return;
    }
    if (!confirmEnd) {
      setConfirmFor(tripKey);
      clearTimeout(confirmTimer.current);
      confirmTimer.current = setTimeout(() => setConfirmFor(null), END_CONFIRM_MS);
      return;
    }
    clearTimeout(confirmTimer.current);
    setConfirmFor(null);
    request(() => api.call('bus.endTrip', {}));
  };

  const zone = state.timeZone;
  const routeName = (id: string | null) => (id === null ? null : (bus.routes.find((r) => r.id === id)?.name ?? id));
  const full = trip !== null && trip.aboard >= bus.capacity;
  const route = trip ? routeName(trip.routeId) : null;

  return (
    <main className={`driver${trip ? ' driver-trip' : ''}`} data-testid="driver" data-trip={trip ? 'open' : 'none'} inert={covered} aria-hidden={covered}>
      <section className="driver-trip-state" data-testid="trip-state">
        <div className="driver-plate" data-testid="plate">
          {bus.plate}
        </div>
        {trip ? (
          <>
            <div className="driver-trip-line" data-testid="trip-since">
              {t('driver.tripSince', { time: formatDateTime(trip.startedAtMs, zone, { date: false }) })}
            </div>
            <div className="driver-route" data-testid="trip-route">
              {route ?? (bus.routes.length > 0 ? t('driver.noRoute') : null)}
              {trip.routeId === null && bus.routes.length > 0 ? (
                <button type="button" className="driver-choose" data-testid="choose-route" disabled={busy} onClick={() => setChoosing(true)}>
                  {t('driver.chooseRoute')}
                </button>
              ) : null}
            </div>
          </>
        ) : (
          <div className="driver-trip-line driver-no-trip" data-testid="no-trip">
            {t('driver.noTrip')}
          </div>
        )}
      </section>

      <section className={`driver-occupancy${full ? ' driver-full' : ''}`} data-testid="occupancy" data-full={full} aria-label={t('driver.aboardLabel')}>
        <div className="driver-figure">
          <span data-testid="aboard">{trip ? trip.aboard : 0}</span>
          <span className="driver-capacity">
            /<span data-testid="capacity">{bus.capacity}</span>
          </span>
        </div>
        <div className="driver-figure-label">{full ? <strong data-testid="bus-full">{t('driver.full')}</strong> : t('driver.aboard')}</div>
      </section>

      <div className="driver-action">
        <button
          type="button"
          className={`driver-button ${trip ? (confirmEnd ? 'driver-button-confirm' : 'driver-button-end') : 'driver-button-start'}`}
          data-testid="trip-button"
          data-action={trip ? (confirmEnd ? 'confirm-end' : 'end') : 'start'}
          disabled={busy}
          onClick={onMainButton}
        >
          {trip ? (confirmEnd ? t('driver.confirmEnd') : t('driver.endTrip')) : t('driver.startTrip')}
        </button>
        {error ? (
          <p className="driver-error" data-testid="driver-error" role="alert">
            {t('driver.refused', { message: error })}
          </p>
        ) : null}
      </div>

      <section className="driver-tiles" data-testid="tiles" aria-label={t('driver.lastScans')} aria-live="polite">
        {bus.tiles.length === 0 ? <p className="driver-tiles-empty">{t('driver.noScans')}</p> : null}
        {bus.tiles.map((tile, i) => (
          <Tile key={`${tile.seq ?? 'x'}-${tile.atMs}-${i}`} tile={tile} zone={zone} />
        ))}
      </section>

      <footer className="driver-status" data-testid="driver-status">
        <Warnings state={state} />
      </footer>

      {choosing ? (
        <div className="dialog-backdrop" data-testid="route-chooser">
          <div className="dialog driver-routes" role="dialog" aria-modal="true" aria-labelledby="driver-routes-title">
            <h2 id="driver-routes-title">{t('driver.pickRoute')}</h2>
            <div className="dialog-body driver-route-list">
              {bus.routes.map((r) => (
                <button key={r.id} type="button" data-testid={`route-${r.id}`} onClick={() => (trip ? chooseRoute(r.id) : start(r.id))}>
                  {r.name}
                </button>
              ))}
            </div>
            <div className="dialog-buttons">
              <button type="button" data-testid="route-cancel" onClick={() => setChoosing(false)}>
                {t('supervisor.cancel')}
              </button>
            </div>
          </div>
        </div>
      ) : null}
    </main>
  );
}

/** The one word a tile shows: boarded or alighted, else the refusal in a word (its category's word when it has none of its own). */
export function tileWordKey(tile: DriverTile): string {
  if (tile.outcome === 'allow') return tile.direction === 'exit' ? 'driver.word.alighted' : 'driver.word.boarded';
  const r = tile.reason;
  if (r === null) return 'driver.word.refused';
  if (r === 'HEALTH') return 'driver.word.HEALTH';
  if (r in WORDS) return `driver.word.${r}`;
  return `driver.word.${reasonCategory(r)}`;
}

/** Reasons with a word of their own on a tile (the others say their category's word). */
const WORDS = { BUS_FULL: 1, WRONG_ROUTE: 1, PASS_EXPIRED: 1, PASS_REVOKED: 1, UNKNOWN_WORKER: 1, DATA_TOO_OLD: 1, CLOCK_UNVERIFIED: 1, STORE_UNAVAILABLE: 1 };

const SYMBOL: Record<DriverTile['outcome'], string> = { allow: '✔', deny: '✖', 'see-driver': '⚠' };

function Tile({ tile, zone }: { tile: DriverTile; zone: string }) {
  const { t } = useTranslation();
  return (
    <div
      className={`driver-tile driver-tile-${tile.outcome}`}
      data-testid="driver-tile"
      data-outcome={tile.outcome}
      data-direction={tile.direction}
      data-reason={tile.reason ?? ''}
      data-seq={tile.seq ?? ''}
    >
      <span className="driver-tile-symbol" aria-hidden="true">
        {SYMBOL[tile.outcome]}
      </span>
      <span className="driver-tile-word" data-testid="tile-word">
        {t(tileWordKey(tile))}
      </span>
      <span className="driver-tile-meta">
        <time>{formatDateTime(tile.atMs, zone, { date: false })}</time>
        {tile.outcome === 'allow' && tile.displayName ? (
          <span className="driver-tile-name" data-testid="tile-name">
            {' '}
            {tile.displayName}
          </span>
        ) : null}
      </span>
    </div>
  );
}

/** What the driver should know about: old data (the bus lets riders on anyway), storage, GPS, the link and its backlog. */
function Warnings({ state }: { state: ScreenState }) {
  const { t } = useTranslation();
  const bus = state.bus!;
  const items: { key: string; level: 'ok' | 'warn' | 'alert'; text: string }[] = [];
  if (bus.staleData) items.push({ key: 'stale', level: 'alert', text: t('driver.staleData') });
  if (state.storage.level !== 'ok') items.push({ key: 'storage', level: state.storage.level === 'critical' ? 'alert' : 'warn', text: t(`idle.storage.${state.storage.level}`) });
  if (state.storage.heldEvents > 0) items.push({ key: 'held', level: 'warn', text: t('idle.storage.held', { count: state.storage.heldEvents }) });
  if (bus.gps.state !== 'none') {
    const text = t(`driver.gps.${bus.gps.state}`) + (bus.gps.datingFromGps ? ` · ${t('driver.gps.clock')}` : '');
    items.push({ key: 'gps', level: bus.gps.state === 'fix' ? 'ok' : 'warn', text });
  }
  if (state.link === 'offline' || state.link === 'connecting') {
    items.push({ key: 'link', level: 'warn', text: t('driver.offline', { count: state.outbox.depth }) });
  } else if (state.link === 'online') {
    items.push({ key: 'link', level: 'ok', text: t('idle.link.online') });
  }
  return (
    <>
      {items.map((w) => (
        <span key={w.key} className={`driver-warn driver-warn-${w.level}`} data-testid={`warn-${w.key}`} data-level={w.level} role={w.level === 'alert' ? 'alert' : undefined}>
          {w.text}
        </span>
      ))}
    </>
  );
}
