import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KioskApi, PassageView } from '../../../src-main/api/contract.js';
import { ApiError, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from '../../../src-main/api/errors.js';
import { createBridgeApi, createCallHandler, type InvokeEventLike } from '../../../src-main/api/ipc.js';
import { createRelay, relayEvents } from '../../../src-main/api/relay.js';
import { WireClient, type WebSocketClass } from '../../../src-main/api/wire-client.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { createLogger } from '../../../base/node/logger.js';
import { APP_START_URL, isAppUrl } from '../../../src-main/shell/window-config.js';
import type { Transition } from '../../../device/gpio/output.js';
import { healthyWorker, hubKeys, passFor, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';

/**
 * An in-memory stand-in for Electron's IPC (Electron cannot start here): messages are copied with
 * structuredClone as Electron does, and each invoke carries the sending frame's URL, so the
 * preload bridge and the main-process handler under test are the real ones.
 */
class InMemoryIpc {
  private handler: ((event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>) | undefined;
  private readonly toRenderer = new EventEmitter();
  constructor(public frameUrl: string) {}
  handle(channel: string, handler: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void {
    if (channel === IPC_CALL_CHANNEL) this.handler = handler;
  }
  /** webContents.send */
  send(channel: string, ...args: unknown[]): void {
    this.toRenderer.emit(channel, {}, ...structuredClone(args));
  }
  readonly renderer = {
    invoke: async (channel: string, ...args: unknown[]) => {
      if (channel !== IPC_CALL_CHANNEL || !this.handler) throw new Error(`no handler for ${channel}`);
      return structuredClone(await this.handler({ senderFrame: { url: this.frameUrl, parent: null } }, ...structuredClone(args)));
    },
    on: (channel: string, l: (event: unknown, ...args: unknown[]) => void) => this.toRenderer.on(channel, l),
    removeListener: (channel: string, l: (event: unknown, ...args: unknown[]) => void) => this.toRenderer.off(channel, l),
  };
}

interface Connected {
  api: KioskApi;
  close(): Promise<void>;
}

/** A WireClient connected to the kiosk's real LoopbackServer, as the screens in Chromium and the Electron shell use it. */
async function loopbackClient(kiosk: Kiosk, dir: string): Promise<WireClient> {
  const rendererDir = join(dir, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  const server = await kiosk.startScreens({ rendererDir });
  const client = new WireClient({ url: server.apiUrl, secret: server.secret, WebSocket: WebSocket as unknown as WebSocketClass });
  await client.connect();
  return client;
}

const transports: Record<string, (kiosk: Kiosk, dir: string) => Promise<Connected>> = {
  async loopback(kiosk, dir) {
    const client = await loopbackClient(kiosk, dir);
    return { api: client, close: async () => client.close() };
  },
  async 'electron-ipc'(kiosk) {
    const ipc = new InMemoryIpc(APP_START_URL);
    ipc.handle(IPC_CALL_CHANNEL, createCallHandler(kiosk.screenService, isAppUrl));
    kiosk.screenService.start();
    const forward = (p: PassageView) => ipc.send(IPC_EVENT_CHANNEL, 'passage', p);
    kiosk.screenService.on('passage', forward);
    return { api: createBridgeApi(ipc.renderer), close: async () => void kiosk.screenService.off('passage', forward) };
  },
  /**
   * The path in the Electron deployment, all of it but Electron: the preload's bridge -> IPC -> the
   * main process's handler -> the shell's relay -> WireClient -> the kiosk's LoopbackServer, and
   * pushed events back from the WireClient through the relay to webContents.send.
   */
  async 'electron-relay'(kiosk, dir) {
    const client = await loopbackClient(kiosk, dir);
    const ipc = new InMemoryIpc(APP_START_URL);
    ipc.handle(IPC_CALL_CHANNEL, createCallHandler(createRelay(client), isAppUrl));
    const stopEvents = relayEvents(client, (event, payload) => ipc.send(IPC_EVENT_CHANNEL, event, payload));
    return {
      api: createBridgeApi(ipc.renderer),
      close: async () => {
        stopEvents();
        client.close();
      },
    };
  },
};

describe.each(Object.keys(transports))('the renderer API over the %s transport', (transport) => {
  let dir: ReturnType<typeof tempDir>;
  let kiosk: Kiosk;
  let conn: Connected;
  let keys: ReturnType<typeof hubKeys>;
  const transitions: Transition[] = [];

  beforeEach(async () => {
    dir = tempDir('safegate-api-');
    keys = hubKeys(dir.path);
    const file = writeKioskConfig(dir.path, { screens: { supervisor: { maxFailedLogins: 3 } } });
    kiosk = new Kiosk(loadSettings(file), { headless: false, log: createLogger({ level: 'silent' }), onTransition: (t) => transitions.push(t) });
    kiosk.roster.upsertAll([
      healthyWorker('W1', Date.now(), { displayName: 'Nguyễn Văn An' }),
      healthyWorker('W2', Date.now(), { caseStatus: 'F1' }),
      healthyWorker('W3', Date.now(), { quarantineUntil: Date.now() + 86_400_000 }),
    ]);
    kiosk.start();
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '135790' });
    conn = await transports[transport]!(kiosk, dir.path);
  });

  afterEach(async () => {
    await conn.close();
    await kiosk.stop();
    dir.remove();
    transitions.length = 0;
  });

  const failure = async (p: Promise<unknown>): Promise<ApiError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  };

  it('answers screen.state with the checkpoint, link, outbox, data age and notices', async () => {
    const s = await conn.api.call('screen.state', {});
    expect(s).toMatchObject({ apiVersion: 1, deviceId: 'test-kiosk-01', checkpoint: { id: 'gate-a', name: 'Cổng A', direction: 'entry' }, language: 'vi', link: 'standalone' });
    expect(s.outbox).toEqual({ depth: 0, oldestUnsyncedAgeS: null });
    expect(s.supervisorsConfigured).toBe(true);
    expect(s.gate).toEqual({ mode: 'normal' });
    expect(s.camera.decoder).toBe('combined');
  });

  it('decides a submitted scan, opens the gate, and pushes the passage to the screens', async () => {
    const pushed: PassageView[] = [];
    const off = conn.api.on('passage', (p) => pushed.push(p));
    const view = await conn.api.call('scan.submit', { text: passFor(keys, 'W1'), source: 'camera' });
    expect(view).toMatchObject({ outcome: 'allow', displayName: 'Nguyễn Văn An', reasons: [], direction: 'entry' });
    await waitFor(() => (pushed.length ? true : undefined), 'the pushed passage');
    expect(pushed[0]!.seq).toBe(view.seq);
    expect(transitions.some((t) => t.output === 'relay' && t.active)).toBe(true);
    const [event] = [...kiosk.events.since(0)];
    expect(event).toMatchObject({ seq: view.seq, source: 'camera', decision: 'allow', workerId: 'W1' });
    off();
  });

  it('refuses malformed calls with a bad-request error and unknown methods by name, and keeps serving', async () => {
    expect((await failure(conn.api.call('scan.submit', { text: '', source: 'camera' }))).code).toBe('bad-request');
    expect((await failure(conn.api.call('scan.submit', { text: 'x', source: 'serial' as 'camera' }))).code).toBe('bad-request');
    expect((await failure(conn.api.call('scan.submit', { text: 'x'.repeat(5000), source: 'keyboard' }))).code).toBe('bad-request');
    expect((await failure(conn.api.call('screen.state', { extra: 1 } as never))).code).toBe('bad-request');
    expect((await failure(conn.api.call('kiosk.shutdown' as 'screen.state', {}))).code).toBe('unknown-method');
    expect([...kiosk.events.since(0)]).toHaveLength(0);
    expect((await conn.api.call('screen.state', {})).checkpoint.id).toBe('gate-a');
  });

  it('keeps health reasons out of what the public screen receives (discreet mode): a kind and what to do instead', async () => {
    const pushed: string[] = [];
    const off = conn.api.on('passage', (p) => pushed.push(JSON.stringify(p)));
    const answers = [];
    for (const id of ['W2', 'W3']) answers.push(await conn.api.call('scan.submit', { text: passFor(keys, id), source: 'keyboard' }));
    await waitFor(() => (pushed.length === 2 ? true : undefined), 'both passages pushed');
    off();
    for (const view of answers) {
      expect(view).toMatchObject({ outcome: 'deny', kind: 'health', reasons: [], guidance: 'see-guard' });
    }
    // Neither the answer nor the pushed event carries a health reason, in any field.
    for (const wire of [...pushed, ...answers.map((a) => JSON.stringify(a))]) {
      expect(wire).not.toMatch(/F1_TEST_REQUIRED|QUARANTINE_ACTIVE|CASE_F0|DECLARATION|VACCINATION/);
    }
    // A procedural refusal keeps its reason and says what to do next.
    await conn.api.call('scan.submit', { text: passFor(keys, 'W1'), source: 'keyboard' });
    const expired = await conn.api.call('scan.submit', { text: passFor(keys, 'W1', { issuedAgoMs: 2 * 86_400_000, expiresInMs: -60_000 }), source: 'keyboard' });
    expect(expired).toMatchObject({ outcome: 'deny', kind: 'credential', reasons: ['PASS_EXPIRED'], guidance: 'renew-pass' });
  });

  it('runs the supervisor desk: PIN lockout, log with the health reason, override with an alert, export, and refuses calls without a session', async () => {
    const denied = await conn.api.call('scan.submit', { text: passFor(keys, 'W2'), source: 'keyboard' });
    expect(denied).toMatchObject({ outcome: 'deny', kind: 'health', reasons: [] });

    expect(await conn.api.call('supervisor.login', { supervisorId: 'lan', pin: '000000' })).toMatchObject({ ok: false, reason: 'wrong-pin', attemptsLeft: 2 });
    const login = await conn.api.call('supervisor.login', { supervisorId: 'lan', pin: '135790' });
    if (!login.ok) throw new Error('login failed');
    expect(login.supervisor).toEqual({ id: 'lan', name: 'Nguyễn Thị Lan' });
    const { token } = login;
    const day = { fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000 };
    const log = await conn.api.call('supervisor.log', { token, query: day, limit: 100 });
    expect(log.summary).toEqual({ entries: 0, exits: 0, denied: 1 });
    // The supervisor, signed in, reads the reason the public screen did not show.
    expect(log.rows[0]).toMatchObject({ seq: denied.seq, decision: 'deny', workerId: 'W2', reasons: ['F1_TEST_REQUIRED'], overriddenBySeq: null, overridable: true });

    expect((await failure(conn.api.call('supervisor.override', { token, seq: denied.seq!, reasonCode: 'other', note: 'ok' }))).code).toBe('bad-request');
    const allowed = await conn.api.call('supervisor.override', { token, seq: denied.seq!, reasonCode: 'negative-test-shown', note: 'Đã xét nghiệm âm tính tại chỗ' });
    expect(allowed).toMatchObject({ outcome: 'allow', kind: 'override', reasons: ['SUPERVISOR_OVERRIDE'] });
    expect((await failure(conn.api.call('supervisor.override', { token, seq: denied.seq!, reasonCode: 'other', note: 'again, twice' }))).code).toBe('refused');
    expect(kiosk.events.unsentAlerts(10).map((a) => [a.kind, a.event.seq])).toContainEqual(['supervisor-override', allowed.seq]);
    // The summary follows the search, as the rows do.
    expect((await conn.api.call('supervisor.log', { token, query: { ...day, search: 'W1' }, limit: 100 })).summary).toEqual({ entries: 0, exits: 0, denied: 0 });
    expect((await conn.api.call('supervisor.log', { token, query: { ...day, search: 'w2' }, limit: 100 })).summary).toEqual({ entries: 1, exits: 0, denied: 1 });
    const after = await conn.api.call('supervisor.log', { token, query: day, limit: 100 });
    expect(after.rows.find((r) => r.seq === denied.seq)!.overriddenBySeq).toBe(allowed.seq);
    const actions = kiosk.supervisor.auditTrail().map((a) => a.action);
    expect(actions.slice(actions.indexOf('login-failed'))).toEqual(['login-failed', 'login', 'view-log', 'override', 'view-log', 'view-log', 'view-log']);
    expect(kiosk.supervisor.auditTrail().find((a) => a.action === 'override')!.detail).toContain('Đã xét nghiệm âm tính tại chỗ');

    const file = await conn.api.call('supervisor.export', { token, query: day, format: 'csv', language: 'en' });
    if (file.target !== 'download') throw new Error('expected the file back');
    const csv = Buffer.from(file.base64, 'base64');
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(file.rows).toBe(2);
    expect(csv.toString('utf8')).toContain('Let through by a supervisor');

    expect((await conn.api.call('supervisor.inside', { token })).workers.map((w) => w.workerId)).toEqual(['W2']);
    await conn.api.call('supervisor.logout', { token });
    expect((await failure(conn.api.call('supervisor.log', { token, query: day, limit: 10 }))).code).toBe('not-signed-in');
    expect((await failure(conn.api.call('supervisor.inside', { token: 'x'.repeat(32) }))).code).toBe('not-signed-in');
  });
});

describe('transport guards', () => {
  it('the loopback server refuses a connection without the secret, with a foreign Origin or a foreign Host', async () => {
    const dir = tempDir('safegate-api-');
    hubKeys(dir.path);
    const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, log: createLogger({ level: 'silent' }) });
    kiosk.start();
    try {
      const server = await kiosk.startScreens({ rendererDir: dir.path });
      const attempt = (protocols: string[], headers: Record<string, string> = {}) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(server.apiUrl, protocols, { headers });
          ws.on('open', () => (ws.close(), resolve('open')));
          ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
          ws.on('error', () => resolve('error'));
        });
      expect(await attempt(['safegate.v1', `secret.${server.secret}`])).toBe('open');
      expect(await attempt(['safegate.v1'])).toBe('403');
      expect(await attempt(['safegate.v1', 'secret.wrong'])).toBe('403');
      expect(await attempt(['safegate.v1', `secret.${server.secret}`], { Origin: 'http://evil.example' })).toBe('403');
      expect(await attempt(['safegate.v1', `secret.${server.secret}`], { Host: 'evil.example' })).toBe('403');
      expect(await attempt(['safegate.v1', `secret.${server.secret}`], { Origin: server.origin })).toBe('open');
    } finally {
      await kiosk.stop();
      dir.remove();
    }
  });

  it('a malformed request on the loopback socket is refused, never a crash (e.g. an upgrade for //[/api)', async () => {
    const dir = tempDir('safegate-api-');
    hubKeys(dir.path);
    const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, log: createLogger({ level: 'silent' }) });
    kiosk.start();
    try {
      const server = await kiosk.startScreens({ rendererDir: dir.path });
      const port = Number(new URL(server.origin).port);
      const raw = (request: string) =>
        new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.end(request));
          let answer = '';
          socket.setEncoding('latin1').on('data', (d: string) => (answer += d));
          socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
          socket.on('error', () => resolve('error'));
        });
      const upgrade = (target: string) =>
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: safegate.v1, secret.${server.secret}\r\n\r\n`;
      expect(await raw(upgrade('//[/api'))).toMatch(/^HTTP\/1.1 40[03]/);
      expect(await raw(upgrade('/api?x=1'))).toMatch(/^HTTP\/1.1 403/);
      expect(await raw(upgrade('http://[::1/api'))).toMatch(/^HTTP\/1.1 40[03]/);
      expect(await raw('GET //[/ HTTP/1.1\r\nHost: 127.0.0.1:' + port + '\r\n\r\n')).toMatch(/^HTTP\/1.1 (400|404)/);
      expect(await raw('\x00\x01\x02 garbage\r\n\r\n')).toMatch(/^HTTP\/1.1 400|^$/);
      // Still serving: a proper connection works.
      const ws = new WebSocket(server.apiUrl, ['safegate.v1', `secret.${server.secret}`]);
      await new Promise<void>((resolve, reject) => (ws.on('open', () => resolve()), ws.on('error', reject)));
      ws.close();
    } finally {
      await kiosk.stop();
      dir.remove();
    }
  });

  it('the Electron relay refuses what the loopback link cannot carry, with the IPC codes, and keeps the link for calls in flight', async () => {
    const dir = tempDir('safegate-api-');
    hubKeys(dir.path);
    const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, log: createLogger({ level: 'silent' }) });
    kiosk.start();
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '135790' });
    const conn = await transports['electron-relay']!(kiosk, dir.path);
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof ApiError ? e.code : `not an ApiError: ${String(e)}`));
    try {
      // A PIN check takes a while (scrypt): it is still in flight when the oversized call goes out.
      const inFlight = conn.api.call('supervisor.login', { supervisorId: 'lan', pin: '000000' });
      expect(await code(conn.api.call('scan.submit', { text: 'x'.repeat(70_000), source: 'camera' }))).toBe('bad-request');
      expect(await inFlight).toMatchObject({ ok: false, reason: 'wrong-pin' });
      expect(await code(conn.api.call('scan.submit', { text: 1n as unknown as string, source: 'camera' }))).toBe('bad-request');
      expect(await code(conn.api.call('x'.repeat(100_000) as 'screen.state', {}))).toBe('unknown-method');
      expect(await code(conn.api.call({ method: 'screen.state' } as unknown as 'screen.state', {}))).toBe('unknown-method');
      expect((await conn.api.call('screen.state', {})).checkpoint.id).toBe('gate-a');
    } finally {
      await conn.close();
      await kiosk.stop();
      dir.remove();
    }
  });

  it("the relay passes the core's error codes through and makes anything else an 'internal' error", async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the relay must cope with whatever a client rejects with
    const failing = (err: unknown) => createRelay({ call: () => Promise.reject(err) });
    expect(await failing(new ApiError('not-signed-in', 'session expired')).dispatch('supervisor.inside', {})).toEqual({ ok: false, error: { code: 'not-signed-in', message: 'session expired' } });
    expect(await failing(new ApiError('transport', 'link down')).dispatch('screen.state', {})).toMatchObject({ ok: false, error: { code: 'transport' } });
    // A Node error carries a code too (ECONNRESET): it is not an API error code and must not reach the screens as one.
    const nodeError = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(await failing(nodeError).dispatch('screen.state', {})).toEqual({ ok: false, error: { code: 'internal', message: 'the kiosk could not complete this request' } });
    expect(await failing('a string').dispatch('screen.state', {})).toMatchObject({ ok: false, error: { code: 'internal' } });
  });

  it('the IPC handler answers only the app page in its main frame', async () => {
    const calls: unknown[] = [];
    const handler = createCallHandler({ dispatch: async (m) => (calls.push(m), { ok: true, result: 1 }) }, isAppUrl);
    expect(await handler({ senderFrame: { url: APP_START_URL, parent: null } }, 'screen.state', {})).toEqual({ ok: true, result: 1 });
    for (const frame of [{ url: 'https://evil.example/', parent: null }, { url: APP_START_URL, parent: {} }, null]) {
      const reply = await handler({ senderFrame: frame }, 'screen.state', {});
      expect(reply).toMatchObject({ ok: false, error: { code: 'refused' } });
    }
    expect(calls).toHaveLength(1);
  });
});
