import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { TRIP_ID_PATTERN } from '../../base/common/bus.js';
import { DENY_REASONS, isSensitive, DENY_REASON_CODES } from '../../base/common/reasons.js';
import type { GateEvent } from '../../base/common/types.js';
import { createLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import { launchChromium, overflowProblems, resize, screenshotAt, type Viewport } from '../helpers/browser.js';
import { healthyWorker, hubKeys, passFor, tempDir, waitFor, writeKioskConfig } from '../helpers/fixtures.js';
import { TestCertificates } from '../helpers/mosquitto.js';
import { fixCycle, noFixCycle } from '../helpers/nmea.js';
import { PtyPair } from '../helpers/pty.js';

/**
 * The driver screen of a bus unit in real Chromium (Debian's, through playwright-core) against a
 * real kiosk in bus mode in this process: checkpoint kind bus, capacity 2, two routes, its serial
 * scanner a real pty, the screens over the loopback transport, its hub unreachable (a bus out of
 * coverage), its roster last confirmed four days ago (old data: the bus lets riders on anyway), and
 * an NMEA receiver on a second pty that has no fix at first, then one, then loses it. A trip is started from the screen's
 * button (choosing the route), riders board through the pty, a third is refused as the bus is full
 * (a see-driver tile), one alights, and the trip is ended from the screen (a second tap confirms).
 * What the screen shows is asserted against what the kiosk recorded (its event log); the sounds are
 * read from the page's WebAudio oscillators. Screenshots in test-output/screens/<viewport>/driver-*.png.
 */
const LANDSCAPE: Viewport[] = [
  { width: 800, height: 480 },
  { width: 1024, height: 600 },
  { width: 1280, height: 800 },
];
const ROUTES = [
  { id: 'r1', name: 'KTX Vĩnh Tân – KCN Tân Đông Hiệp' },
  { id: 'r2', name: 'KTX Bình An – KCN Sóng Thần' },
];
/** What each outcome's sound is made of (src-renderer/sound.ts): oscillator type and frequency of each tone. */
const SOUNDS = {
  allow: ['sine:880', 'sine:1320'],
  deny: ['square:220', 'square:220', 'square:220'],
  'see-driver': ['triangle:740', 'triangle:370'],
};
const HEALTH_TEXTS = DENY_REASON_CODES.filter(isSensitive).flatMap((c) => [c, DENY_REASONS[c].vi, DENY_REASONS[c].en]);

/** Records every tone the page starts, before the page's own scripts run. */
const TONE_RECORDER = `
  window.__tones = [];
  const create = BaseAudioContext.prototype.createOscillator;
  BaseAudioContext.prototype.createOscillator = function () {
    const osc = create.call(this);
    const start = osc.start.bind(osc);
    osc.start = (when) => { window.__tones.push(osc.type + ':' + osc.frequency.value); return start(when); };
    return osc;
  };
`;

describe('the driver screen of a bus unit (800x480 first) against a real kiosk in bus mode', () => {
  const dir = tempDir('safegate-driver-');
  const keys = hubKeys(dir.path);
  const pty = new PtyPair(dir.path);
  const gpsPty = new PtyPair(dir.path, 'gps');
  const here = { lat: 10.912345, lon: 106.754321 };
  /** What the receiver sends each 300 ms. */
  let gpsMode: 'fix' | 'no-fix' = 'no-fix';
  let feeder: NodeJS.Timeout | undefined;
  const logs: string[] = [];
  let kiosk: Kiosk;
  let browser: Browser;
  let page: Page;
  const startedAt = Date.now() - 1_000;

  beforeAll(async () => {
    await pty.plug();
    await gpsPty.plug();
    feeder = setInterval(() => void gpsPty.write(gpsMode === 'fix' ? fixCycle({ ...here, utcMs: Date.now() }) : noFixCycle(Date.now())).catch(() => undefined), 300);
    const certs = new TestCertificates(join(dir.path, 'certs'));
    certs.issue('test-kiosk-01');
    const files = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'test-kiosk-01.crt'), key: join(certs.dir, 'test-kiosk-01.key') };
    // Port 9 on loopback refuses: the hub is out of reach the whole test. Far more free space asked
    // for than any disk has: the storage warning shows too.
    const file = writeKioskConfig(dir.path, {
      scannerPath: pty.devicePath,
      direction: 'both',
      hub: { broker: { url: 'mqtts://127.0.0.1:9', ...files } },
      store: { lowSpaceWarnMB: 1_048_576 },
      screens: { camera: { enabled: false } },
    });
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    doc.checkpoint!.kind = 'bus';
    doc.checkpoint!.name = 'Xe 61B-123.45';
    doc.bus = { plate: '61B-123.45', capacity: 2, routes: ROUTES, drivers: ['D0001'] };
    doc.gps = { source: 'nmea', path: gpsPty.devicePath, baudRate: 9600, fixMaxAgeSeconds: 2 };
    writeFileSync(file, stringify(doc));
    // Its log is kept here, not printed (the low-disk and offline-link lines are expected).
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
    kiosk = new Kiosk(loadSettings(file), { headless: true, log });
    // The hub last confirmed the roster four days ago (the default policy allows 72 hours).
    const fourDaysAgo = Date.now() - 4 * 86_400_000;
    kiosk.downlinkState.markChecked('roster', { hubMs: fourDaysAgo, checkedAtMs: fourDaysAgo });
    kiosk.start();
    await waitFor(() => (kiosk.scanner?.state === 'ready' ? true : undefined), 'scanner ready', 30_000);
    kiosk.roster.upsertAll([
      healthyWorker('W0001', startedAt, { displayName: 'Nguyễn Văn An' }),
      healthyWorker('W0002', startedAt, { displayName: 'Trần Thị Bình' }),
      healthyWorker('W0003', startedAt, { displayName: 'Lê Văn Cường' }),
      healthyWorker('H0001', startedAt, { displayName: 'Phạm Thị Dung', caseStatus: 'F0' }),
      healthyWorker('D0001', startedAt, { displayName: 'Tài xế Hùng' }),
    ]);
    const server = await kiosk.startScreens();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: LANDSCAPE[0], locale: 'vi-VN' });
    await context.addInitScript(TONE_RECORDER);
    page = await context.newPage();
    await page.goto(server.screenUrl);
    await page.getByTestId('driver').waitFor({ timeout: 30_000 });
  }, 90_000);

  afterAll(async () => {
    clearInterval(feeder);
    await browser?.close();
    await kiosk?.stop();
    await pty.unplug();
    await gpsPty.unplug();
    dir.remove();
  });

  const events = (): GateEvent[] => [...kiosk.events.since(startedAt)];
  const tones = (): Promise<string[]> => page.evaluate(() => (window as unknown as { __tones: string[] }).__tones.slice());
  const text = (testId: string) => page.getByTestId(testId).first().textContent();
  const tiles = () => page.getByTestId('driver-tile');

  /** Sends a rider's pass through the pty and waits for its tile (newest first) and the tones it played. */
  async function scan(workerId: string): Promise<{ tones: string[] }> {
    const before = await tiles().count();
    const tonesBefore = (await tones()).length;
    const newestSeq = before ? await tiles().first().getAttribute('data-seq') : null;
    await pty.write(passFor(keys, workerId) + '\r');
    await expect.poll(async () => ((await tiles().count()) > 0 ? tiles().first().getAttribute('data-seq') : null)).not.toBe(newestSeq);
    await expect.poll(async () => (await tones()).length).toBeGreaterThan(tonesBefore);
    // All of one sound's tones start at once (scheduled ahead on the audio clock).
    return { tones: (await tones()).slice(tonesBefore) };
  }

  /** Screenshot at the size, then: nothing overflows, no message key shows as it is. */
  async function check(name: string, v: Viewport = LANDSCAPE[0]!): Promise<void> {
    await resize(page, v);
    await screenshotAt(page, v, name);
    expect(await overflowProblems(page), `${name} at ${v.width}x${v.height}`).toEqual([]);
    expect(await page.locator('body').innerText(), name).not.toMatch(/\b(driver|reason)\.[A-Za-z_.-]+/);
  }

  it('with no trip: the plate, "no trip", 0 of 2 aboard, the start button and the warnings (old data, storage, offline with the backlog, GPS without a fix)', async () => {
    expect(await page.getByTestId('driver').getAttribute('data-trip')).toBe('none');
    expect(await text('plate')).toBe('61B-123.45');
    expect(await text('no-trip')).toBe('Chưa có chuyến');
    expect(await text('aboard')).toBe('0');
    expect(await text('capacity')).toBe('2');
    expect(await page.getByTestId('trip-button').getAttribute('data-action')).toBe('start');
    expect(await text('trip-button')).toBe('BẮT ĐẦU CHUYẾN');
    await page.getByTestId('warn-storage').waitFor();
    expect(await text('warn-storage')).toMatch(/Bộ nhớ/);
    expect(await text('warn-stale')).toBe('Dữ liệu cũ — vẫn cho lên xe');
    await expect.poll(() => text('warn-link')).toBe(`Mất kết nối — chờ gửi: ${kiosk.events.outboxDepth().count}`);
    await expect.poll(() => text('warn-gps'), { timeout: 30_000 }).toBe('GPS: chưa bắt được tín hiệu');
    expect(await page.getByTestId('warn-gps').getAttribute('data-level')).toBe('warn');
    // The gate's screens are not shown on a bus: no idle screen, no full-screen results.
    expect(await page.getByTestId('idle').count()).toBe(0);
    await check('driver-no-trip');
  });

  it('start trip: the button asks for the route (two routes), the trip opens on it, the kiosk records TRIP_STARTED with the route and the GPS fix', async () => {
    gpsMode = 'fix';
    await expect.poll(() => text('warn-gps'), { timeout: 30_000 }).toBe('GPS: có vị trí');
    expect(await page.getByTestId('warn-gps').getAttribute('data-level')).toBe('ok');
    await page.getByTestId('trip-button').click();
    await page.getByTestId('route-chooser').waitFor();
    expect(await page.getByTestId('route-chooser').locator('button[data-testid^=route-r]').allTextContents()).toEqual(ROUTES.map((r) => r.name));
    await check('driver-route-chooser');
    await page.getByTestId('route-r1').click();
    await page.locator('[data-testid=driver][data-trip=open]').waitFor();
    expect(await page.getByTestId('route-chooser').count()).toBe(0);
    expect(await text('trip-since')).toMatch(/^Chuyến từ \d\d:\d\d$/);
    expect(await text('trip-route')).toBe(ROUTES[0]!.name);
    expect(await page.getByTestId('trip-button').getAttribute('data-action')).toBe('end');
    expect(await text('trip-button')).toBe('KẾT THÚC CHUYẾN');
    const started = events().filter((e) => e.reasons.includes('TRIP_STARTED'));
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ source: 'trip', decision: 'allow', direction: 'entry', routeId: 'r1', position: here });
    expect(started[0]!.tripId).toMatch(TRIP_ID_PATTERN);
    await check('driver-start-trip');
  });

  it('boarding: each rider a green tile with the name and the allow sound; a health refusal a red HEALTH tile that names nothing; the bus shows full at 2 of 2', async () => {
    const tripId = events().find((e) => e.reasons.includes('TRIP_STARTED'))!.tripId;
    const an = await scan('W0001');
    expect(an.tones).toEqual(SOUNDS.allow);
    const first = tiles().first();
    expect(await first.getAttribute('data-outcome')).toBe('allow');
    expect(await first.getAttribute('data-direction')).toBe('entry');
    expect(await first.getByTestId('tile-word').textContent()).toBe('LÊN XE');
    expect(await first.getByTestId('tile-name').textContent()).toMatch(/Nguyễn Văn An/);
    await expect.poll(() => text('aboard')).toBe('1');

    const health = await scan('H0001');
    expect(health.tones).toEqual(SOUNDS.deny);
    const refused = tiles().first();
    expect(await refused.getAttribute('data-outcome')).toBe('deny');
    expect(await refused.getAttribute('data-reason')).toBe('HEALTH');
    expect(await refused.getByTestId('tile-word').textContent()).toBe('Y TẾ');
    expect(await refused.getByTestId('tile-name').count()).toBe(0);
    const html = await page.evaluate(() => document.documentElement.outerHTML);
    for (const t of [...HEALTH_TEXTS, 'Phạm Thị Dung']) expect(html).not.toContain(t);
    expect(await text('aboard')).toBe('1');

    await scan('W0002');
    await expect.poll(() => text('aboard')).toBe('2');
    expect(await page.getByTestId('occupancy').getAttribute('data-full')).toBe('true');
    expect(await text('bus-full')).toBe('XE ĐÃ ĐẦY');
    expect(await tiles().count()).toBe(3);
    // What the kiosk recorded: the two boardings on this trip, the refusal too.
    const scans = events().filter((e) => e.source === 'serial');
    expect(scans.map((e) => [e.workerId, e.decision, e.direction, e.tripId, e.position])).toEqual([
      ['W0001', 'allow', 'entry', tripId, here],
      ['H0001', 'deny', 'entry', tripId, here],
      ['W0002', 'allow', 'entry', tripId, here],
    ]);
    // Out of coverage, every event waits to be sent: the driver sees the backlog grow.
    const depth = kiosk.events.outboxDepth().count;
    expect(depth).toBeGreaterThanOrEqual(4);
    await expect.poll(() => text('warn-link')).toBe(`Mất kết nối — chờ gửi: ${depth}`);
    await check('driver-boarding');
  });

  it('full bus: a third rider is refused BUS_FULL, shown as an amber see-driver tile "XE ĐẦY" with its own sound; fits 800x480 to 1280x800 in both languages', async () => {
    const full = await scan('W0003');
    expect(full.tones).toEqual(SOUNDS['see-driver']);
    const tile = tiles().first();
    expect(await tile.getAttribute('data-outcome')).toBe('see-driver');
    expect(await tile.getAttribute('data-reason')).toBe('BUS_FULL');
    expect(await tile.getByTestId('tile-word').textContent()).toBe('XE ĐẦY');
    expect(await tile.getByTestId('tile-name').count()).toBe(0);
    expect(await text('aboard')).toBe('2');
    const refusal = events().at(-1)!;
    expect(refusal).toMatchObject({ workerId: 'W0003', decision: 'deny', reasons: ['BUS_FULL'] });
    await check('driver-full-bus');
    for (const v of LANDSCAPE.slice(1)) await check('driver-full-bus', v);
    // Portrait works too (a panel mounted the other way).
    await check('driver-full-bus', { width: 480, height: 800 });
    await page.getByTestId('language').click();
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('en');
    expect(await tile.getByTestId('tile-word').textContent()).toBe('FULL');
    expect(await text('bus-full')).toBe('BUS FULL');
    for (const v of LANDSCAPE) await check('driver-full-bus-en', v);
    await page.getByTestId('language').click();
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('vi');
    await resize(page, LANDSCAPE[0]!);
  });

  it('alighting: a rider aboard scans again and gets off (exit tile, one seat free)', async () => {
    const off = await scan('W0001');
    expect(off.tones).toEqual(SOUNDS.allow);
    const tile = tiles().first();
    expect(await tile.getAttribute('data-outcome')).toBe('allow');
    expect(await tile.getAttribute('data-direction')).toBe('exit');
    expect(await tile.getByTestId('tile-word').textContent()).toBe('XUỐNG XE');
    await expect.poll(() => text('aboard')).toBe('1');
    expect(await page.getByTestId('occupancy').getAttribute('data-full')).toBe('false');
    expect(events().at(-1)).toMatchObject({ workerId: 'W0001', decision: 'allow', direction: 'exit' });
  });

  it('end trip: the first tap only asks to confirm; the second ends it, the rider still aboard alights with it', async () => {
    const tripId = events().find((e) => e.reasons.includes('TRIP_STARTED'))!.tripId;
    await page.getByTestId('trip-button').click();
    expect(await page.getByTestId('trip-button').getAttribute('data-action')).toBe('confirm-end');
    expect(await text('trip-button')).toBe('CHẠM LẦN NỮA ĐỂ KẾT THÚC');
    await check('driver-end-confirm');
    expect(events().some((e) => e.reasons.includes('TRIP_ENDED'))).toBe(false);
    expect(await page.getByTestId('driver').getAttribute('data-trip')).toBe('open');

    await page.getByTestId('trip-button').click();
    await page.locator('[data-testid=driver][data-trip=none]').waitFor();
    expect(await text('no-trip')).toBe('Chưa có chuyến');
    expect(await text('aboard')).toBe('0');
    expect(await page.getByTestId('trip-button').getAttribute('data-action')).toBe('start');
    const tail = events().filter((e) => e.source === 'trip').slice(-2);
    expect(tail.map((e) => [e.reasons[0], e.workerId, e.tripId])).toEqual([
      ['ALIGHTED_AT_TRIP_END', 'W0002', tripId],
      ['TRIP_ENDED', null, tripId],
    ]);
    // The last scans stay on the screen after the trip.
    expect(await tiles().count()).toBe(5);
    await check('driver-end-trip');
  });

  it('a trip a rider\'s first scan opened has no route yet: the screen says so and the driver chooses it; the GPS losing its fix shows; a trip ended by the command leaves the screen by itself', async () => {
    const boarded = await scan('W0003');
    expect(boarded.tones).toEqual(SOUNDS.allow);
    await page.locator('[data-testid=driver][data-trip=open]').waitFor();
    expect(await text('trip-route')).toMatch(/^Chưa chọn tuyến/);
    await expect.poll(() => text('aboard')).toBe('1');
    await page.getByTestId('choose-route').click();
    await page.getByTestId('route-chooser').waitFor();
    await check('driver-choose-route');
    await page.getByTestId('route-r2').click();
    await expect.poll(() => text('trip-route')).toBe(ROUTES[1]!.name);
    expect(await page.getByTestId('choose-route').count()).toBe(0);
    expect(kiosk.bus!.view().trip).toMatchObject({ routeId: 'r2', startedBy: 'first-scan', aboard: 1 });
    // The receiver loses its fix (under a bridge): the driver sees it.
    gpsMode = 'no-fix';
    await expect.poll(() => text('warn-gps'), { timeout: 30_000 }).toBe('GPS: chưa bắt được tín hiệu');
    // `safegate trip end` (the control socket) ends it: the screen follows at its next look.
    kiosk.bus!.endTrip('command');
    await page.locator('[data-testid=driver][data-trip=none]').waitFor({ timeout: 30_000 });
    expect(await text('aboard')).toBe('0');
  });

  it('the driver card starts the trip and ends it: the screen follows, each time with the allow chime and no tile', async () => {
    const tilesBefore = await tiles().count();
    for (const [state, reason] of [['open', 'TRIP_STARTED'], ['none', 'TRIP_ENDED']] as const) {
      const tonesBefore = (await tones()).length;
      await pty.write(passFor(keys, 'D0001') + '\r');
      await page.locator(`[data-testid=driver][data-trip=${state}]`).waitFor({ timeout: 30_000 });
      await expect.poll(async () => (await tones()).slice(tonesBefore)).toEqual(SOUNDS.allow);
      expect(events().at(-1)).toMatchObject({ workerId: 'D0001', reasons: [reason], source: 'trip' });
    }
    expect(await tiles().count()).toBe(tilesBefore);
  });

  it('the kiosk logged no rider name and no health reason through all of it', () => {
    expect(logs.length).toBeGreaterThan(0);
    const all = logs.join('\n');
    for (const t of ['Nguyễn Văn An', 'Trần Thị Bình', 'Lê Văn Cường', 'Phạm Thị Dung', ...HEALTH_TEXTS]) expect(all).not.toContain(t);
  });
});
