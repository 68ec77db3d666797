import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import WebSocket from 'ws';
import { createLogger } from '../../../base/node/logger.js';
import { REQUESTS, METHODS, type Method } from '../../../src-main/api/contract.js';
import { DECLARATION_QUESTIONS } from '../../../base/common/declaration.js';
import type { ApiErrorCode, WireReply } from '../../../src-main/api/errors.js';
import { WireClient, type WebSocketClass } from '../../../src-main/api/wire-client.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { healthyWorker, hubKeys, passFor, writeKioskConfig } from '../../helpers/fixtures.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';

const PIN = '135790';
/** Stands for a supervisor session token that is valid when the call is made. */
const TOKEN = 'FUZZ-VALID-SESSION-TOKEN';
const CODES: readonly ApiErrorCode[] = ['bad-request', 'unknown-method', 'not-signed-in', 'refused', 'internal', 'transport'];
const CANARY = 'CANARY-OUTSIDE-THE-RENDERER-DIR';
const ANSWER_MS = 2_000;

// ---- renderer API calls ------------------------------------------------------------------------

const DAY = 86_400_000;
const token = fc.oneof({ weight: 3, arbitrary: fc.constant(TOKEN) }, fc.string({ maxLength: 70 }), fc.constant('x'.repeat(32)));
const query = fc.record(
  {
    fromMs: fc.oneof({ weight: 4, arbitrary: fc.constant(Date.now() - DAY) }, fc.integer(), fc.constant(-1)),
    toMs: fc.oneof({ weight: 4, arbitrary: fc.constant(Date.now() + 60_000) }, fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.constant(Date.now() + 40 * DAY)),
    search: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('W1', 'Nguyễn', '%', "'", '\\', 'x'.repeat(90))),
    decision: fc.constantFrom('allow', 'deny', 'all', 'maybe'),
  },
  { requiredKeys: ['fromMs', 'toMs'] },
);
const answerSets = fc.oneof(
  fc.record(Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, fc.boolean()]))),
  fc.constantFrom({}, { fever: 'yes' }, { travel: true, where: 'Hà Nội' }, null),
);
const visitText = fc.oneof(fc.constantFrom('Phòng nhân sự', 'Giao hàng', '', '   ', 'x'.repeat(81)), fc.string({ maxLength: 30 }));
/** Parameters that are nearly right for each method, so the handlers behind validation are reached. */
const nearParams = (scanTexts: string[]): Record<Method, fc.Arbitrary<unknown>> => ({
  'screen.state': fc.constantFrom({}, undefined, null),
  'scan.submit': fc.record({ text: fc.oneof(fc.constantFrom(...scanTexts), fc.string({ maxLength: 50 }), fc.constant('x'.repeat(4097))), source: fc.constantFrom('camera', 'keyboard', 'serial') }),
  'supervisor.accounts': fc.constantFrom({}, undefined, null, { token: TOKEN }),
  'supervisor.login': fc.record({
    supervisorId: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('fuzz', 'nobody') }, fc.string({ maxLength: 40 }), fc.constantFrom('Bad Id', '', 'x'.repeat(33))),
    pin: fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 70 }) }, fc.constantFrom(PIN, '0000', '12345678901234')),
  }),
  'supervisor.logout': fc.record({ token }),
  'supervisor.log': fc.record({ token, query, limit: fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.constantFrom(0, 2001, 0.5)) }, { requiredKeys: ['token', 'query'] }),
  'supervisor.inside': fc.record({ token }),
  'supervisor.trace': fc.record(
    {
      token,
      search: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('W1', 'Nguyễn', '%', '', 'x'.repeat(90))),
      workerId: fc.constantFrom('W1', 'W2', 'Bad Id', ''),
      fromMs: fc.oneof({ weight: 4, arbitrary: fc.constant(Date.now() - 14 * DAY) }, fc.integer(), fc.constant(-1)),
      toMs: fc.oneof({ weight: 4, arbitrary: fc.constant(Date.now() + 60_000) }, fc.integer({ min: 0, max: 4_000_000_000_000 })),
      windowMinutes: fc.constantFrom(5, 15, 30, 60, 7, 0, 1.5),
    },
    { requiredKeys: ['token', 'fromMs', 'toMs'] },
  ),
  'supervisor.override': fc.record(
    {
      token,
      seq: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer()),
      reasonCode: fc.constantFrom('medical-clearance-shown', 'scanner-fault', 'other', 'because', ''),
      note: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('    ok    ', 'Đã xét nghiệm âm tính tại chỗ', 'x'.repeat(501))),
    },
    { requiredKeys: ['token', 'seq', 'reasonCode'] },
  ),
  'supervisor.drives': fc.record({ token }),
  'supervisor.export': fc.record(
    { token, query, format: fc.constantFrom('csv', 'xlsx', 'pdf'), language: fc.constantFrom('vi', 'en', 'fr'), driveId: fc.constantFrom('sdb1', '../etc', 'no-such-drive', ''), toHub: fc.constantFrom(true, false, 'yes') },
    { requiredKeys: ['token', 'query', 'format', 'language'] },
  ),
  'supervisor.sendWaiting': fc.record({ token }),
  'supervisor.selftest': fc.record({ token }),
  'bus.startTrip': fc.record({ routeId: fc.constantFrom('R1', 'R2', 'Bad Id', '', 'x'.repeat(90)) }, { requiredKeys: [] }),
  'bus.endTrip': fc.constantFrom({}, undefined, null, { force: true }),
  'bus.chooseRoute': fc.record({ routeId: fc.constantFrom('R1', 'R2', 'Bad Id', '') }),
  'declaration.submit': fc.record({ token, answers: answerSets }, { requiredKeys: ['token'] }),
  'visitor.register': fc.record(
    { token, agreed: fc.constantFrom(true, false, 'yes'), host: visitText, purpose: visitText, answers: answerSets },
    { requiredKeys: ['token', 'agreed'] },
  ),
  'visitor.cancel': fc.record({ token }),
  'supervisor.visitors': fc.record({ token }),
  'supervisor.decideVisitor': fc.record(
    { token, visitorId: fc.constantFrom('vk1.' + '0'.repeat(32), 'v.' + 'a'.repeat(32), 'Bad Id', ''), approve: fc.constantFrom(true, false, 1) },
    { requiredKeys: ['token', 'visitorId'] },
  ),
});
/** Values the Electron IPC transport can deliver (structured clone), beyond JSON. */
const cloneable: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(undefined, new Date(0), new Map([['text', 'W1']]), new Set([1]), new Uint8Array([1, 2]), 10n, Number.NaN, -0),
  fc.dictionary(fc.constantFrom('text', 'source', 'token', 'pin', 'query', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

export interface CallInput {
  method: unknown;
  params: unknown;
}
export const callInput = (scanTexts: string[]): fc.Arbitrary<CallInput> => {
  const near = nearParams(scanTexts);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...METHODS).chain((m) => fc.record({ method: fc.constant(m), params: fc.oneof({ weight: 4, arbitrary: near[m] }, cloneable) })) },
    {
      weight: 1,
      arbitrary: fc.record({
        method: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'screen.State', 'screen.state ', 'kiosk.shutdown'), cloneable),
        params: cloneable,
      }),
    },
  );
};

function withToken(v: unknown, tokenNow: string): unknown {
  if (v === TOKEN) return tokenNow;
  if (Array.isArray(v)) return v.map((x) => withToken(x, tokenNow));
  if (v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v) as object | null)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: withToken(x, tokenNow), enumerable: true, configurable: true, writable: true });
    return out;
  }
  return v;
}
const mentionsToken = (v: unknown): boolean => JSON.stringify(v ?? null, (_k, x: unknown) => (typeof x === 'bigint' ? 0 : x))?.includes(TOKEN) ?? false;

/** What every reply must be, for the method and parameters it answers. */
export function checkReply(method: unknown, params: unknown, reply: WireReply): void {
  check(reply !== null && typeof reply === 'object' && typeof reply.ok === 'boolean', () => `not a WireReply: ${show(reply)}`);
  check(JSON.stringify(reply) !== undefined, 'a reply that does not serialise');
  const known = typeof method === 'string' && Object.hasOwn(REQUESTS, method);
  if (reply.ok) {
    check(known && REQUESTS[method as Method].safeParse(params ?? {}).success, () => `${show(method)} with ${show(params)} answered ok`);
    check(reply.result !== undefined, 'ok without a result');
    return;
  }
  check(CODES.includes(reply.error.code) && typeof reply.error.message === 'string', () => `error ${show(reply.error)}`);
  if (!known) check(reply.error.code === 'unknown-method', () => `unknown method ${show(method)} answered ${reply.error.code}`);
  else if (!REQUESTS[method as Method].safeParse(params ?? {}).success) check(reply.error.code === 'bad-request', () => `bad params for ${String(method)} answered ${reply.error.code}`);
  else check(['not-signed-in', 'refused'].includes(reply.error.code), () => `${String(method)} with ${show(params)} failed: ${show(reply.error)}`);
}

// ---- WebSocket messages ----------------------------------------------------------------------------

export type WsMessage =
  | { kind: 'call'; id: number; method: unknown; params: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'raw-text'; bytes: Uint8Array }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'json'; value: unknown };
export const wsMessage = (scanTexts: string[]): fc.Arbitrary<WsMessage> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.integer(), callInput(scanTexts)).map(([id, c]) => ({ kind: 'call' as const, id, method: c.method, params: c.params })) },
    { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'raw-text' as const, bytes })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.record({ t: fc.constantFrom('call', 'reply', 'event', 'Call'), id: fc.oneof(fc.integer(), fc.constantFrom(1.5, 2 ** 53, -1, '1', null)), method: fc.constantFrom(...METHODS), params: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
          fc.constant({ t: 'call', id: 1, method: 'scan.submit', params: { text: 'x'.repeat(70_000), source: 'camera' } }),
        )
        .map((value) => ({ kind: 'json' as const, value })),
    },
  );

// ---- raw HTTP/1.1 ------------------------------------------------------------------------------

export type HttpInput =
  | { kind: 'bytes'; bytes: Uint8Array }
  | {
      kind: 'request';
      method: string;
      target: string;
      version: string;
      host: 'right' | 'wrong' | 'none' | 'twice';
      upgrade: boolean;
      protocols: 'secret' | 'secret-only' | 'wrong-secret' | 'none' | 'garbage';
      origin: 'none' | 'right' | 'foreign' | 'null';
      headers: [string, string][];
      eol: '\r\n' | '\n';
      body: Uint8Array;
      afterwards: Uint8Array;
      halfClose: boolean;
    };
/** Requests for the screens' files, well formed but for their targets (paths out of the renderer folder). */
const TRAVERSALS = ['/..%2fsecret-canary.html', '/..%2Fsecret-canary.html', '/assets/..%2f..%2fsecret-canary.html', '/../secret-canary.html', '/%2e%2e/secret-canary.html', '/.%2e/secret-canary.html', '/..\\secret-canary.html', '/..%5csecret-canary.html', '/renderer/..%2f..%2fsecret-canary.html'];
const fileRequest: fc.Arbitrary<HttpInput> = fc.record({
  kind: fc.constant('request' as const),
  method: fc.constantFrom('GET', 'GET', 'HEAD'),
  target: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...TRAVERSALS) }, fc.constantFrom('/', '/index.html', '/assets/app.js', '/assets/', '/nothing.js', '/passes.html', '/constructor', '/__proto__', '/toString'), fc.webPath()),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
  host: fc.constant('right' as const),
  upgrade: fc.constant(false),
  protocols: fc.constant('none' as const),
  origin: fc.constantFrom('none' as const, 'right' as const),
  headers: fc.constant<[string, string][]>([]),
  eol: fc.constant('\r\n' as const),
  body: fc.constant(new Uint8Array()),
  afterwards: fc.constant(new Uint8Array()),
  // A client that half-closes first gets no file: Node's server drops an answer not yet written when the client ends.
  halfClose: fc.constant(false),
});
export const httpInput: fc.Arbitrary<HttpInput> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
  { weight: 3, arbitrary: fileRequest },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      method: fc.oneof({ weight: 8, arbitrary: fc.constant('GET') }, { weight: 2, arbitrary: fc.constantFrom('HEAD', 'POST', 'OPTIONS', 'PUT', 'CONNECT', 'PRI') }, fc.string({ maxLength: 8 })),
      target: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom('/', '/api', '//[/api', 'http://[::1/api', '/api?x=1', '/API', '/api/', '*', '', '/index.html', '/assets/app.js', '/%', '/%zz', '//etc/passwd', 'http://127.0.0.1/api', '/\u00e9', '/a%00b.js') },
        // Ways out of the renderer folder to the file beside it.
        { weight: 2, arbitrary: fc.constantFrom(...TRAVERSALS) },
        fc.string({ maxLength: 30 }),
        fc.webPath(),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', ''),
      host: fc.constantFrom('right' as const, 'right' as const, 'right' as const, 'right' as const, 'wrong' as const, 'none' as const, 'twice' as const),
      upgrade: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, fc.constant(true)),
      protocols: fc.constantFrom('secret' as const, 'secret-only' as const, 'wrong-secret' as const, 'none' as const, 'garbage' as const),
      origin: fc.constantFrom('none' as const, 'right' as const, 'foreign' as const, 'null' as const),
      headers: fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom('Content-Length', 'Transfer-Encoding', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Upgrade', 'Expect', 'X-Forwarded-Host'), fc.string({ maxLength: 10 })),
          fc.oneof(fc.constantFrom('0', '5', '-1', '99999999999999999999', 'chunked', 'close', 'keep-alive', 'Upgrade', 'websocket', '13', '8', '100-continue', 'dGhlIHNhbXBsZSBub25jZQ=='), fc.string({ maxLength: 20 })),
        ),
        { maxLength: 3 },
      ),
      eol: fc.constantFrom('\r\n' as const, '\r\n' as const, '\n' as const),
      body: fc.oneof({ weight: 3, arbitrary: fc.constant(new Uint8Array()) }, fc.uint8Array({ maxLength: 40 })),
      afterwards: fc.oneof({ weight: 3, arbitrary: fc.constant(new Uint8Array()) }, fc.uint8Array({ maxLength: 40 }), fc.constant(new Uint8Array([0x81, 0x85, 1, 2, 3, 4, 0x49, 0x67, 0x6f, 0x68, 0x6e]))),
      halfClose: fc.boolean(),
    }),
  },
);

export function requestBytes(input: HttpInput, port: number, secret: string): Uint8Array {
  if (input.kind === 'bytes') return input.bytes;
  const e = input.eol;
  const lines = [`${input.method} ${input.target} ${input.version}`.trimEnd()];
  const host = `127.0.0.1:${port}`;
  if (input.host === 'right' || input.host === 'twice') lines.push(`Host: ${host}`);
  if (input.host === 'wrong') lines.push('Host: evil.example');
  if (input.host === 'twice') lines.push('Host: evil.example');
  if (input.upgrade) lines.push('Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
  const protocols = { secret: `safegate.v1, secret.${secret}`, 'secret-only': `secret.${secret}`, 'wrong-secret': `safegate.v1, secret.${secret.slice(1)}x`, none: undefined, garbage: '\u00ff,,, ,secret.' }[input.protocols];
  if (protocols !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocols}`);
  if (input.origin !== 'none') lines.push(`Origin: ${{ right: `http://${host}`, foreign: 'http://evil.example', null: 'null' }[input.origin]}`);
  for (const [k, v] of input.headers) lines.push(`${k}: ${v}`);
  return new Uint8Array(Buffer.concat([Buffer.from(lines.join(e) + e + e, 'latin1'), input.body, input.afterwards]));
}

// ---- the targets -------------------------------------------------------------------------------

export interface ApiFixture {
  targets: AnyFuzzTarget[];
  /** A correct connection still works: the screen API over the WebSocket, and a screen file over HTTP. */
  stillServes(): Promise<void>;
}

export async function apiTargets(closer: Closer): Promise<ApiFixture> {
  const dir = scratchDir('safegate-fuzz-api-');
  closer.add(() => dir.remove());
  const keys = hubKeys(dir.path);
  const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path, { checkpointKind: 'zone' })), { headless: false, log: createLogger({ level: 'silent' }) });
  closer.add(async () => {
    await kiosk.stop();
  });
  const now = Date.now();
  kiosk.roster.upsertAll([healthyWorker('W1', now), healthyWorker('W2', now, { quarantineUntil: now + 30 * DAY }), healthyWorker('W3', now, { caseStatus: 'F1' })]);
  kiosk.start();
  await kiosk.supervisor.addSupervisor({ id: 'fuzz', name: 'Fuzz', pin: PIN });
  const rendererDir = join(dir.path, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>SafeGate</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'export {};');
  // Must never be served: it is beside the renderer folder, not in it.
  writeFileSync(join(dir.path, 'secret-canary.html'), CANARY);
  // A generated page too, as the demo serves its pass sheet.
  const server = await kiosk.startScreens({ rendererDir, pages: { '/passes.html': () => '<!doctype html><title>passes</title>' } });
  const port = Number(new URL(server.origin).port);
  const scanTexts = ['W1', 'W2', 'W3', 'NOBODY', passFor(keys, 'W1'), passFor(keys, 'W2'), passFor(keys, 'W3'), passFor(keys, 'W1', { expiresInMs: -1 }), 'SG1:garbage'];

  // A session token that is valid when a call names it.
  let session: string | undefined;
  const validToken = async (): Promise<string> => {
    if (session) return session;
    // Wrong PINs from the fuzzer may have locked the screen; the harness unlocks it to sign in.
    kiosk.db.prepare("UPDATE supervisors SET failed = 0, lockouts = 0, locked_until = NULL WHERE id = 'fuzz'").run();
    const login = await kiosk.supervisor.login('fuzz', PIN);
    if (!login.ok) throw new Error(`fuzz set-up: cannot sign in (${login.reason})`);
    return (session = login.token);
  };
  const service = kiosk.screenService;
  // Warm up the lazily loaded exporters, so their first load is not taken for a hang.
  const day = { fromMs: now - DAY, toMs: now + 60_000 };
  for (const format of ['xlsx', 'csv'] as const) {
    const r = await service.dispatch('supervisor.export', { token: await validToken(), query: day, format, language: 'vi' });
    if (!r.ok) throw new Error(`fuzz set-up: export ${format} failed: ${show(r)}`);
  }

  const dispatch = async (method: unknown, rawParams: unknown): Promise<WireReply> => {
    const usesToken = mentionsToken(rawParams);
    const params = usesToken ? withToken(rawParams, await validToken()) : rawParams;
    const reply = await service.dispatch(method, params);
    checkReply(method, params, reply);
    if (usesToken && (method === 'supervisor.logout' || (!reply.ok && reply.error.code === 'not-signed-in'))) session = undefined;
    return reply;
  };

  // One authenticated WebSocket, opened again whenever the server closes it.
  let ws: { socket: WebSocket; closed: Promise<number>; inbox: unknown[]; wake: () => void } | undefined;
  const open = async () => {
    const socket = new WebSocket(server.apiUrl, ['safegate.v1', `secret.${server.secret}`]);
    const inbox: unknown[] = [];
    const conn = { socket, inbox, wake: () => {}, closed: new Promise<number>((r) => socket.on('close', (code) => r(code))) };
    socket.on('message', (data) => {
      inbox.push(JSON.parse(String(data)));
      conn.wake();
    });
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: ${res.statusCode}`)));
    });
    return conn;
  };
  closer.add(() => ws?.socket.terminate());

  const sendOne = async (m: WsMessage): Promise<void> => {
    ws ??= await open();
    const conn = ws;
    let expectReply: number | undefined;
    let tooBig = false;
    if (m.kind === 'call') {
      const params = mentionsToken(m.params) ? withToken(m.params, await validToken()) : m.params;
      const text = JSON.stringify({ t: 'call', id: m.id, method: m.method, params }, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));
      tooBig = Buffer.byteLength(text) > 64 * 1024;
      if (Number.isSafeInteger(m.id)) expectReply = m.id;
      conn.socket.send(text);
    } else if (m.kind === 'text' || m.kind === 'json') {
      const text = m.kind === 'text' ? m.text : JSON.stringify(m.value);
      tooBig = Buffer.byteLength(text) > 64 * 1024;
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = undefined;
      }
      const call = msg as { t?: unknown; id?: unknown } | null;
      if (call && typeof call === 'object' && call.t === 'call' && typeof call.id === 'number' && Number.isSafeInteger(call.id)) expectReply = call.id;
      conn.socket.send(text);
    } else conn.socket.send(Buffer.from(m.bytes), { binary: m.kind === 'binary' });
    if (tooBig) expectReply = undefined;

    const deadline = Date.now() + ANSWER_MS;
    const closedCode = conn.closed.then((code) => ({ code }));
    for (;;) {
      const reply = conn.inbox.find((x): x is { t: 'reply'; id: number } & WireReply => (x as { t?: string }).t === 'reply');
      if (reply) {
        conn.inbox.splice(conn.inbox.indexOf(reply), 1);
        check(expectReply !== undefined && reply.id === expectReply, () => `a reply ${show(reply)} to ${show(m)}`);
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        // The server is stuck on this connection: the next message gets a new one.
        conn.socket.terminate();
        ws = undefined;
        check(false, () => `no answer and no close for ${show(m)}`);
      }
      const woke = await Promise.race([new Promise<'message'>((r) => (conn.wake = () => r('message'))), closedCode, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), left))]);
      if (typeof woke === 'object') {
        ws = undefined;
        check(expectReply === undefined, () => `the connection closed (${woke.code}) instead of answering ${show(m, 200)}`);
        return;
      }
    }
  };

  const rawHttp = async (input: HttpInput): Promise<void> => {
    const bytes = requestBytes(input, port, server.secret);
    const halfClose = input.kind === 'bytes' || input.halfClose || input.body.length > 0 || input.afterwards.length > 0 || input.eol === '\n' || input.version !== 'HTTP/1.1';
    const answer = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      const done = (closed: boolean) => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ text, closed });
      };
      const timer = setTimeout(() => done(false), ANSWER_MS);
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        text += d;
        // Without a half-close, a complete answer is enough: the connection may stay open for keep-alive.
        const headEnd = text.indexOf('\r\n\r\n');
        if (halfClose || headEnd < 0) return;
        const length = /^content-length: *(\d+)/im.exec(text.slice(0, headEnd))?.[1];
        if (/^HEAD /.test(Buffer.from(bytes).toString('latin1')) || text.length >= headEnd + 4 + Number(length ?? 0)) done(false);
      });
      socket.on('close', () => done(true));
      socket.on('error', () => done(true));
      socket.on('connect', () => (halfClose ? socket.end(Buffer.from(bytes)) : socket.write(Buffer.from(bytes))));
    });
    check(answer.closed || answer.text.startsWith('HTTP/1.1 '), () => `no answer and no close for ${show(Buffer.from(bytes).toString('latin1'), 200)}`);
    check(!answer.text.includes(CANARY), () => `a file outside the renderer folder was served for ${show(Buffer.from(bytes).toString('latin1'), 200)}`);
    if (/^HTTP\/1\.1 101/.test(answer.text)) {
      const request = Buffer.from(bytes).toString('latin1');
      check(request.includes(`secret.${server.secret}`) && request.includes('safegate.v1'), () => `upgraded without the secret: ${show(request, 300)}`);
    }
  };

  const stillServes = async (): Promise<void> => {
    const client = new WireClient({ url: server.apiUrl, secret: server.secret, WebSocket: WebSocket as unknown as WebSocketClass });
    await client.connect();
    try {
      const state = await client.call('screen.state', {});
      check(state.deviceId === 'test-kiosk-01', () => `screen.state after fuzzing: ${show(state)}`);
    } finally {
      client.close();
    }
    const res = await fetch(`${server.origin}/`);
    check(res.status === 200 && (await res.text()).includes('SafeGate'), `GET / answered ${res.status} after fuzzing`);
  };

  return {
    stillServes,
    targets: [
      target({
        name: 'screen API dispatch',
        weight: 15,
        smallRuns: 240,
        arbitrary: callInput(scanTexts),
        run: async ({ method, params }: CallInput) => void (await dispatch(method, params)),
      }),
      target({
        name: 'screen API WebSocket',
        weight: 5,
        smallRuns: 80,
        arbitrary: fc.array(wsMessage(scanTexts), { minLength: 1, maxLength: 4 }),
        async run(messages: WsMessage[]) {
          for (const m of messages) await sendOne(m);
        },
      }),
      target({ name: 'loopback raw HTTP', weight: 5, smallRuns: 250, arbitrary: httpInput, run: rawHttp }),
    ],
  };
}
