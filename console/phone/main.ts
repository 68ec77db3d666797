import QRCode from 'qrcode';
import { MESSAGES, fill, type Lang } from './messages.js';
import { loadBinding, saveBinding, type StoredBinding } from './binding-store.js';
import { checkinView, QR_DECODER_URL, stopScanning } from './checkin.js';
import { declarationView, sendWaiting } from './declaration.js';
import { base64urlToBytes, makePhoneKey, phoneCode, publicJwk } from './proof.js';
import './styles.css';

/**
 * The worker's phone page (served by the hub at /phone/). Opened from a personal link
 * (/phone/#t=TOKEN): shows the Decree 13 notice, makes a non-extractable key, registers its public
 * half with the token and keeps the pass the hub returns. Then, online or not, it shows the pass as
 * a code redrawn every 30 s with a fresh proof. The daily health declaration (declaration.ts) is
 * kept while offline and sent when online, and so are check-ins scanned from checkpoint codes
 * (checkin.ts).
 */

const ROTATE_MS = 30_000;
const app = document.getElementById('app')!;
let lang: Lang = localStorage.getItem('sg-lang') === 'en' ? 'en' : 'vi';
let tab: 'pass' | 'declaration' | 'checkin' = 'pass';
let timers: number[] = [];
let wakeLock: { release(): Promise<void> } | undefined;

const t = () => MESSAGES[lang];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function clearTimers(): void {
  for (const id of timers) clearInterval(id);
  timers = [];
}

function frame(...content: Node[]): void {
  clearTimers();
  document.documentElement.lang = lang;
  const langButton = el('button', { type: 'button', class: 'lang', 'data-testid': 'language' }, t().language);
  langButton.addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    localStorage.setItem('sg-lang', lang);
    void route();
  });
  app.replaceChildren(el('header', {}, el('h1', {}, t().title), langButton), ...content);
}

function message(text: string, testId: string, retry?: () => void): void {
  const box = el('section', { class: 'message', 'data-testid': testId }, el('p', {}, text));
  if (retry) {
    const b = el('button', { type: 'button' }, t().retry);
    b.addEventListener('click', retry);
    box.append(b);
  }
  frame(box);
}

interface ApiError {
  error: string;
  refusal?: 'unknown' | 'used' | 'expired' | 'retired' | 'left';
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const csrf = (await (await fetch('../api/csrf', { credentials: 'same-origin' })).json()) as { token: string };
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf.token },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T | ApiError;
  if (!res.ok) throw Object.assign(new Error((json as ApiError).error ?? `HTTP ${res.status}`), { api: json as ApiError });
  return json as T;
}

function refusalText(err: unknown): string {
  const api = (err as { api?: ApiError }).api;
  if (api?.refusal) return t().refused[api.refusal];
  if (!api) return t().refused.network;
  return fill(t().refused.other, { error: api.error });
}

/** Opening a link: whose it is, the notice, then the key and the pass. */
async function openLink(token: string): Promise<void> {
  frame(el('p', { class: 'message' }, t().loading));
  let preview: { fullName: string; orgName: string; expiresAtMs: number };
  try {
    preview = await post('api/link', { token });
  } catch (err) {
    // The worker opened their link again (from the message) on the phone it already gave a pass to: show the pass.
    if ((err as { api?: ApiError }).api?.refusal === 'used' && (await loadBinding().catch(() => undefined))) {
      history.replaceState(null, '', location.pathname);
      await route();
      return;
    }
    message(refusalText(err), 'link-refused', () => void openLink(token));
    return;
  }
  const n = t().notice;
  const accept = el('button', { type: 'button', class: 'primary', 'data-testid': 'accept' }, n.accept);
  const decline = el('button', { type: 'button', 'data-testid': 'decline' }, n.decline);
  frame(
    el(
      'section',
      { class: 'notice', 'data-testid': 'notice' },
      el('h2', {}, n.heading),
      el('p', { class: 'law' }, n.law),
      el('p', { class: 'whom' }, fill(n.forWhom, { name: preview.fullName, org: preview.orgName })),
      el('p', {}, n.what),
      el('p', {}, n.why),
      el('p', {}, n.howLong),
      el('p', {}, fill(n.rights, { org: preview.orgName })),
      el('p', {}, fill(n.who, { org: preview.orgName })),
      el('div', { class: 'actions' }, accept, decline),
    ),
  );
  decline.addEventListener('click', () => message(n.declined, 'declined'));
  accept.addEventListener('click', () => void bind(token));
}

async function bind(token: string): Promise<void> {
  frame(el('p', { class: 'message' }, t().binding));
  if (!globalThis.crypto?.subtle) {
    message(t().refused.noCrypto, 'no-crypto');
    return;
  }
  let pair: CryptoKeyPair;
  try {
    pair = await makePhoneKey();
  } catch {
    message(t().refused.noCrypto, 'no-crypto');
    return;
  }
  try {
    const got = await post<{ pass: string; passId: string; workerId: string; fullName: string; orgName: string; expiresAtMs: number }>('api/redeem', {
      token,
      key: await publicJwk(pair.publicKey),
    });
    await saveBinding({ ...got, pass: base64urlToBytes(got.pass), key: pair.privateKey, noticeAcceptedAtMs: Date.now() });
  } catch (err) {
    message(refusalText(err), 'link-refused', () => void openLink(token));
    return;
  }
  // The token is spent: drop it from the address so a reload or a bookmark shows the pass.
  history.replaceState(null, '', location.pathname);
  await route();
}

function showTabs(binding: StoredBinding): HTMLElement {
  const nav = el('nav', { class: 'tabs' });
  for (const id of ['pass', 'declaration', 'checkin'] as const) {
    const b = el('button', { type: 'button', 'data-tab': id, ...(id === tab ? { 'aria-current': 'page' } : {}) }, t().tabs[id]);
    b.addEventListener('click', () => {
      tab = id;
      showBinding(binding);
    });
    nav.append(b);
  }
  return nav;
}

function showBinding(binding: StoredBinding): void {
  stopScanning();
  if (tab === 'checkin') {
    frame(checkinView(binding, lang, () => showBinding(binding)), showTabs(binding));
    return;
  }
  if (tab === 'declaration') {
    frame(declarationView(binding, lang, () => showBinding(binding)), showTabs(binding));
    return;
  }
  if (tab !== 'pass') {
    frame(showTabs(binding), el('section', { class: 'message', 'data-testid': `tab-${tab}` }, el('p', {}, t().soon)));
    return;
  }
  const p = t().pass;
  const canvas = el('canvas', { 'data-testid': 'qr', 'aria-label': p.show });
  const countdown = el('p', { class: 'countdown', 'data-testid': 'countdown' });
  const offline = el('p', { class: 'offline', 'data-testid': 'offline', hidden: '' }, p.offline);
  const full = el('button', { type: 'button', class: 'fullscreen' }, p.fullscreen);
  full.addEventListener('click', () => void document.documentElement.requestFullscreen?.().catch(() => undefined));
  const expired = binding.expiresAtMs <= Date.now();
  frame(
    el(
      'section',
      { class: 'pass', 'data-testid': 'pass' },
      el('p', { class: 'name', 'data-testid': 'name' }, binding.fullName),
      el('p', { class: 'org' }, `${binding.orgName} · ${binding.workerId}`),
      expired ? el('p', { class: 'expired', 'data-testid': 'expired' }, p.expired) : el('div', { class: 'code' }, canvas),
      el('p', { class: 'show' }, p.show),
      countdown,
      el('p', { class: 'hint' }, '☀ ', p.brightness),
      el('p', { class: 'expires' }, fill(p.expires, { date: new Date(binding.expiresAtMs).toLocaleDateString(lang === 'vi' ? 'vi-VN' : 'en-GB') })),
      offline,
      full,
    ),
    showTabs(binding),
  );
  if (expired) return;
  let nextAt = 0;
  const draw = async () => {
    const now = Date.now();
    const text = await phoneCode(binding.pass, binding.key, now);
    const size = Math.min(window.innerWidth * 0.9, window.innerHeight * 0.55, 520);
    await QRCode.toCanvas(canvas, text, { errorCorrectionLevel: 'M', margin: 4, width: Math.round(size) });
    canvas.dataset.code = text;
    canvas.dataset.drawnAt = String(now);
    nextAt = now + ROTATE_MS;
  };
  const tick = () => {
    offline.hidden = navigator.onLine;
    if (Date.now() >= nextAt) void draw();
    countdown.textContent = fill(p.refresh, { s: Math.max(0, Math.ceil((nextAt - Date.now()) / 1000)) });
  };
  void draw().then(tick);
  timers.push(window.setInterval(tick, 1_000));
  // Keep the screen on while the pass is shown (where the browser allows it).
  void (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<{ release(): Promise<void> }> } }).wakeLock
    ?.request('screen')
    .then((lock) => (wakeLock = lock))
    .catch(() => undefined);
}

async function route(): Promise<void> {
  const token = new URLSearchParams(location.hash.slice(1)).get('t');
  if (token) return openLink(token);
  const binding = await loadBinding().catch(() => undefined);
  if (binding) return showBinding(binding);
  message(t().none, 'no-pass');
}

/** Keeps the page's own files for offline use: the service worker answers from this cache offline. */
async function keepOffline(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  await navigator.serviceWorker.register('./sw.js', { scope: './' });
  // The photo decoder's .wasm is fetched only when a photo is read, which may be offline: kept now.
  const urls = [location.pathname, QR_DECODER_URL, ...performance.getEntriesByType('resource').map((e) => e.name)].filter((u) => {
    const url = new URL(u, location.href);
    return url.origin === location.origin && !url.pathname.includes('/api/');
  });
  const cache = await caches.open('safegate-phone-v1');
  await cache.addAll([...new Set(urls)]);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') void wakeLock?.release().catch(() => undefined);
  else void route();
});
window.addEventListener('hashchange', () => void route());
// What was made offline (declarations) goes to the hub as soon as the phone is online again.
window.addEventListener('online', () => void sendWaiting().then(async (r) => {
  if (r && tab !== 'pass') await route();
}));
void sendWaiting().catch(() => undefined);
void route();
void keepOffline().catch(() => undefined);
