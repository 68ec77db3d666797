import { decode as base45Decode } from '@digitalbazaar/base45';
import { prepareZXingModule, readBarcodes, type ReaderOptions } from 'zxing-wasm/reader';
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';
import { decode as cborDecode } from 'cborg';
import type { StoredBinding } from './binding-store.js';
import { CHECKIN_MESSAGES } from './checkin-messages.js';
import { enqueue, flushOutbox, newUploadId, onFlushed, signUpload, type FlushResult } from './declaration-outbox.js';
import { fill, type Lang } from './messages.js';

/**
 * Check-in where there is no kiosk: the phone scans a checkpoint's signed QR code (the hub's
 * `SGC1:` code, sync/hub/checkpoint-codes.ts) with its camera (or from a photo), records the visit
 * (in; the same checkpoint again: out), signs it with the phone's key and puts it in the outbox, sent
 * now if online, else when the phone is (the hub keeps each once). Only the hub checks the code's
 * signature; the page reads the checkpoint id from it to know in from out.
 */

const PREFIX = 'SGC1:';
/** The checkpoint the worker is checked in at, and what became of the latest visit. */
const OPEN_KEY = 'sg-open-visit';
const LAST_KEY = 'sg-last-visit';

interface LastVisit {
  id: string;
  checkpointId: string;
  direction: 'in' | 'out';
  atMs: number;
  state: 'queued' | 'sent' | 'refused';
  error?: string;
}

function read<T>(key: string): T | undefined {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null') ?? undefined;
  } catch {
    return undefined;
  }
}

/** The checkpoint a code names (its signature is the hub's to check), or undefined for anything else. */
export async function checkpointOf(text: string): Promise<string | undefined> {
  if (!text.startsWith(PREFIX)) return undefined;
  try {
    const zipped = base45Decode(text.slice(PREFIX.length));
    const inflated = new Uint8Array(await new Response(new Blob([new Uint8Array(zipped)]).stream().pipeThrough(new DecompressionStream('deflate'))).arrayBuffer());
    // COSE_Sign1 (tag 18, one byte 0xd2 when present): [protected, unprotected, payload, signature]; the payload holds { 1: checkpoint id }.
    const cose = cborDecode(inflated[0] === 0xd2 ? inflated.subarray(1) : inflated, { useMaps: true }) as unknown;
    const payload = Array.isArray(cose) ? cose[2] : undefined;
    if (!(payload instanceof Uint8Array)) return undefined;
    const claims = cborDecode(payload, { useMaps: true }) as unknown;
    const id = claims instanceof Map ? claims.get(1) : undefined;
    return typeof id === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** After a flush: what became of the latest visit. */
function noteVisitFlush(result: FlushResult): void {
  const last = read<LastVisit>(LAST_KEY);
  if (!last) return;
  if (result.sent.some((i) => i.id === last.id)) localStorage.setItem(LAST_KEY, JSON.stringify({ ...last, state: 'sent' }));
  const refused = result.refused.find((r) => r.item.id === last.id);
  if (refused) {
    localStorage.setItem(LAST_KEY, JSON.stringify({ ...last, state: 'refused', error: refused.error }));
    // A refused check-in did not happen: the worker is not checked in there.
    if (last.direction === 'in' && read<{ checkpointId: string }>(OPEN_KEY)?.checkpointId === last.checkpointId) localStorage.removeItem(OPEN_KEY);
  }
}

onFlushed(noteVisitFlush);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/**
 * The QR decoder, zxing-cpp in WebAssembly (as the kiosk's camera uses), for the camera and for
 * photos: zxing-js's QR reader misses about one checkpoint code in ten even in a perfect image of it
 * (zxing-js/library#653), a code the worker could then never check in with. Its .wasm is one of the
 * page's own files, kept for offline use with the others (main.ts): a scan may well be offline.
 */
export const QR_DECODER_URL = new URL(wasmUrl, location.href).href;
const READ: ReaderOptions = { formats: ['QRCode'], tryHarder: true, tryRotate: true, maxNumberOfSymbols: 1 };
let decoderReady: Promise<unknown> | undefined;

/** The text of the QR code in a canvas's picture, if it holds one. */
async function readCanvas(canvas: HTMLCanvasElement): Promise<string | undefined> {
  decoderReady ??= prepareZXingModule({ overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? QR_DECODER_URL : prefix + path) }, fireImmediately: true }).catch((err: unknown) => {
    decoderReady = undefined;
    throw err;
  });
  await decoderReady;
  const [found] = await readBarcodes(canvas.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, canvas.width, canvas.height), READ);
  return found?.isValid && found.text ? found.text : undefined;
}

/**
 * Reads the QR in a photo of a code (the fallback where the camera cannot be used): drawn on a canvas
 * first, since the page's Content Security Policy lets no blob or data address load as an image.
 */
async function decodePhoto(photo: Blob): Promise<string | undefined> {
  try {
    const bitmap = await createImageBitmap(photo);
    const scale = Math.min(1, 1_600 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d', { willReadFrequently: true })!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return await readCanvas(canvas);
  } catch {
    return undefined;
  }
}

/** How often the camera's picture is read while scanning. */
const CAMERA_READ_MS = 150;
let camera: { stop(): void } | undefined;

/**
 * Shows the back camera in `video` and reads its picture until a code is found (`onCode`), the
 * camera cannot be used (`onFail`) or stopScanning().
 */
function scanWithCamera(video: HTMLVideoElement, onCode: (text: string) => void, onFail: () => void): void {
  let stopped = false;
  let stream: MediaStream | undefined;
  const stop = () => {
    stopped = true;
    stream?.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  };
  camera = { stop };
  void (async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      if (stopped) return stop();
      video.srcObject = stream;
      await video.play();
      const canvas = document.createElement('canvas');
      while (!stopped) {
        await new Promise((r) => setTimeout(r, CAMERA_READ_MS));
        if (stopped || video.readyState < 2 || !video.videoWidth) continue;
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext('2d', { willReadFrequently: true })!.drawImage(video, 0, 0);
        const text = await readCanvas(canvas);
        if (text !== undefined && !stopped) {
          stopScanning();
          onCode(text);
        }
      }
    } catch {
      // Stopped by the worker meanwhile, or no camera (or no decoder): only the latter is news.
      if (stopped) return;
      stopScanning();
      onFail();
    }
  })();
}

/** Stops the camera (leaving the tab, or a code was read). */
export function stopScanning(): void {
  camera?.stop();
  camera = undefined;
}

/** The check-in tab. `redraw` shows it again. */
export function checkinView(binding: StoredBinding, lang: Lang, redraw: () => void): HTMLElement {
  const t = CHECKIN_MESSAGES[lang];
  const section = el('section', { class: 'checkin', 'data-testid': 'checkin' }, el('h2', {}, t.heading), el('p', { class: 'intro' }, t.intro));
  const when = (ms: number) => new Date(ms).toLocaleTimeString(lang === 'vi' ? 'vi-VN' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
  const last = read<LastVisit>(LAST_KEY);
  if (last) {
    const what = fill(last.direction === 'in' ? t.checkedIn : t.checkedOut, { place: last.checkpointId, time: when(last.atMs) });
    const state = last.state === 'sent' ? t.sent : last.state === 'queued' ? t.queued : fill(t.refused, { error: last.error ?? '' });
    section.append(el('p', { class: `status ${last.state}`, 'data-testid': 'checkin-status', 'data-state': last.state, 'data-direction': last.direction }, what, ' ', state));
  }
  const open = read<{ checkpointId: string }>(OPEN_KEY);
  if (open) section.append(el('p', { class: 'open', 'data-testid': 'checkin-open' }, fill(t.open, { place: open.checkpointId })));
  const problem = el('p', { class: 'problem', role: 'alert', 'data-testid': 'checkin-problem', hidden: '' });
  const video = el('video', { 'data-testid': 'camera', muted: '', playsinline: '', hidden: '' });
  const scan = el('button', { type: 'button', class: 'primary', 'data-testid': 'scan' }, t.scan);
  const file = el('input', { type: 'file', accept: 'image/*', capture: 'environment', 'data-testid': 'photo' });
  const photo = el('label', { class: 'photo' }, t.photo, file);
  section.append(scan, video, photo, problem);

  const fail = (text: string) => {
    problem.textContent = text;
    problem.hidden = false;
  };
  const take = async (text: string) => {
    const checkpointId = await checkpointOf(text);
    if (!checkpointId) return fail(t.notCode);
    await record(binding, text, checkpointId);
    redraw();
  };
  scan.addEventListener('click', () => {
    if (camera) {
      stopScanning();
      video.hidden = true;
      scan.textContent = t.scan;
      return;
    }
    problem.hidden = true;
    video.hidden = false;
    scan.textContent = t.stop;
    scanWithCamera(
      video,
      (text) => void take(text),
      () => {
        video.hidden = true;
        scan.textContent = t.scan;
        fail(t.noCamera);
      },
    );
  });
  file.addEventListener('change', () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    problem.hidden = true;
    void decodePhoto(chosen).then((text) => (text === undefined ? fail(t.noQr) : take(text)));
  });
  return section;
}

async function record(binding: StoredBinding, code: string, checkpointId: string): Promise<void> {
  const open = read<{ checkpointId: string }>(OPEN_KEY);
  const direction = open?.checkpointId === checkpointId ? 'out' : 'in';
  const scannedAtMs = Date.now();
  const id = newUploadId();
  const payload = JSON.stringify({ kind: 'visit', id, scannedAtMs, code, direction });
  await enqueue({ id, kind: 'visit', body: await signUpload(binding.pass, payload, binding.key), queuedAtMs: scannedAtMs });
  if (direction === 'in') localStorage.setItem(OPEN_KEY, JSON.stringify({ checkpointId }));
  else localStorage.removeItem(OPEN_KEY);
  localStorage.setItem(LAST_KEY, JSON.stringify({ id, checkpointId, direction, atMs: scannedAtMs, state: 'queued' } satisfies LastVisit));
  await flushOutbox();
}
