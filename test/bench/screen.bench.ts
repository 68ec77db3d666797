/**
 * npm run bench:screen — from a QR code appearing in front of the camera to the result on screen.
 *
 * A kiosk core with 50 workers serves the screens over loopback; Debian's Chromium runs them with
 * its fake camera playing a video this bench makes: 50 passes, each shown for 0.6 s after 0.4 s of
 * empty scene. In the page, the bench watches the camera video's frames (requestVideoFrameCallback)
 * and notes when a frame with a code in it is presented, and notes when the result screen naming
 * that worker has been painted. The difference, per pass, is camera_to_screen_ms: frame capture
 * to decode (worker) to decision (core, over the transport) to React render and paint.
 * The last line is one JSON object. Target here: median at most 300 ms.
 */
import { loadSettings } from '../../src-main/core/config.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { createLogger } from '../../base/node/logger.js';
import { launchChromium, openScreens } from '../helpers/browser.js';
import { makeCameraVideo } from '../helpers/camera-video.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../helpers/fixtures.js';

const SCANS = Number(process.env.SCANS ?? 50);
const FPS = 30;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  const dir = tempDir('safegate-bench-screen-');
  const keys = hubKeys(dir.path);
  const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path, { screens: { resultSeconds: 2 } })), { headless: false, log: createLogger({ level: 'warn' }) });
  const now = Date.now();
  const names = Array.from({ length: SCANS }, (_, i) => `Người thử ${i + 1}`);
  kiosk.roster.upsertAll(names.map((displayName, i) => healthyWorker(`B${String(i + 1).padStart(4, '0')}`, now, { displayName })));
  kiosk.start();
  const segments = [{ text: null, frames: FPS }];
  for (let i = 0; i < SCANS; i++) segments.push({ text: null, frames: Math.round(0.4 * FPS) }, { text: passFor(keys, `B${String(i + 1).padStart(4, '0')}`), frames: Math.round(0.6 * FPS) } as never);
  const video = await makeCameraVideo(dir.path, segments, { fps: FPS });
  const server = await kiosk.startScreens();
  const browser = await launchChromium({ cameraVideo: video });
  try {
    const { page } = await openScreens(browser, server.screenUrl);
    await page.getByTestId('camera-video').waitFor();
    await page.waitForFunction(() => (document.querySelector('[data-testid=camera-video]') as HTMLVideoElement | null)?.readyState === 4, null, { timeout: 20_000 });
    // tsx compiles this file keeping function names with a helper the page does not have.
    await page.evaluate('globalThis.__name = (f) => f');
    await page.evaluate(() => {
      const video = document.querySelector('[data-testid=camera-video]') as HTMLVideoElement;
      const canvas = new OffscreenCanvas(16, 16);
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      const w = window as unknown as { __appear: number[]; __results: { name: string; at: number }[] };
      w.__appear = [];
      w.__results = [];
      let showing = false;
      const onFrame = (_now: number, meta: VideoFrameCallbackMetadata) => {
        // The centre of the scene: white when empty, about half dark when a code is there.
        const size = Math.min(video.videoWidth, video.videoHeight) / 3;
        ctx.drawImage(video, (video.videoWidth - size) / 2, (video.videoHeight - size) / 2, size, size, 0, 0, 16, 16);
        const px = ctx.getImageData(0, 0, 16, 16).data;
        let sum = 0;
        for (let i = 0; i < px.length; i += 4) sum += px[i]!;
        const code = sum / (px.length / 4) < 200;
        if (code && !showing) w.__appear.push(meta.captureTime ?? meta.presentationTime);
        showing = code;
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
      let lastSeq = '';
      new MutationObserver(() => {
        const result = document.querySelector('[data-testid=result]');
        const seq = result?.getAttribute('data-seq') ?? '';
        if (!result || seq === lastSeq) return;
        lastSeq = seq;
        const name = document.querySelector('[data-testid=result-name]')?.textContent ?? '';
        // Painted: the frame after the one this change lands in.
        requestAnimationFrame(() => setTimeout(() => w.__results.push({ name, at: performance.now() })));
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-seq'] });
    });
    const deadline = Date.now() + (SCANS + 15) * 1000;
    let got = 0;
    while (Date.now() < deadline) {
      got = await page.evaluate(() => (window as unknown as { __results: unknown[] }).__results.length);
      if (got >= SCANS) break;
      await page.waitForTimeout(500);
    }
    const { appear, results } = await page.evaluate(() => {
      const w = window as unknown as { __appear: number[]; __results: { name: string; at: number }[] };
      return { appear: w.__appear, results: w.__results };
    });
    // The video may start mid-loop: pair each result with the latest appearance before it.
    const latencies: number[] = [];
    for (const r of results) {
      if (!names.includes(r.name)) continue;
      const before = appear.filter((a) => a <= r.at);
      if (before.length) latencies.push(r.at - before.at(-1)!);
    }
    const events = [...kiosk.events.since(0)];
    console.log(`${results.length} results rendered for ${appear.length} code appearances; ${events.filter((e) => e.decision === 'allow').length} allowed events, ${events.filter((e) => e.source === 'camera').length} from the camera`);
    if (!latencies.length) throw new Error('no result was matched to a code appearance');
    console.log(`camera to screen over ${latencies.length} scans: median ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`);
    console.log(JSON.stringify({ camera_to_screen_ms_p50: Math.round(percentile(latencies, 50)), scans: latencies.length }));
  } finally {
    await browser.close();
    await kiosk.stop();
    dir.remove();
  }
}

await main();
