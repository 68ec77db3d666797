import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventName, Events } from './contract.js';
import type { ScreenEndpoint } from './screen-service.js';
import { CONTENT_TYPES, SECURITY_HEADERS, WS_PROTOCOL, WS_SECRET_PREFIX } from './security.js';

export interface LoopbackServerOptions {
  /** Built screens (index.html and assets). */
  rendererDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Extra generated pages by path, e.g. the demo pass sheet (served with the same headers). */
  pages?: Record<string, () => string | Promise<string>>;
}

/** Largest message a screen may send (a scan is at most 4 KiB of text). */
const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * The loopback transport: serves the screens and carries the renderer API over one WebSocket on
 * 127.0.0.1 only. A connection must present this run's secret (a subprotocol), and a browser's
 * Origin and Host must be this server, so neither a web page elsewhere (DNS rebinding, cross-site
 * WebSocket) nor another local user without the secret can drive the kiosk.
 */
export class LoopbackServer {
  readonly secret = randomBytes(24).toString('base64url');
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private port = 0;
  private readonly forward = new Map<EventName, (payload: never) => void>();

  constructor(
    private readonly service: ScreenEndpoint,
    private readonly options: LoopbackServerOptions,
    private readonly log: Logger,
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The address a screen opens; the secret travels in the fragment, which is never sent to a server. */
  get screenUrl(): string {
    return `${this.origin}/#secret=${this.secret}`;
  }

  get apiUrl(): string {
    return `ws://127.0.0.1:${this.port}/api`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.serveFile(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'serving a screen file failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_BYTES,
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    });
    server.on('upgrade', (req, socket, head) => {
      // Everything on this socket is untrusted input: a refusal, never a crash.
      socket.on('error', () => socket.destroy());
      let refusal: string | undefined;
      try {
        refusal = this.refuseUpgrade(req);
      } catch {
        refusal = 'malformed request';
      }
      if (refusal) {
        this.log.warn({ reason: refusal }, 'screen connection refused');
        const status = refusal === 'malformed request' ? '400 Bad Request' : '403 Forbidden';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
        return;
      }
      try {
        wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'screen connection refused');
        socket.destroy();
      }
    });
    server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolvePromise();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.wss = wss;
    for (const event of ['passage'] as const) {
      const f = (payload: Events[typeof event]) => this.broadcast(event, payload);
      this.forward.set(event, f as (p: never) => void);
      this.service.on(event, f);
    }
    this.log.info({ origin: this.origin }, 'screens served on loopback');
  }

  async stop(): Promise<void> {
    for (const [event, f] of this.forward) this.service.off(event, f as never);
    this.forward.clear();
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    this.wss?.close();
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      // A browser keeps idle HTTP connections open; close() alone would wait for them.
      server.closeAllConnections();
      await closed;
    }
  }

  private refuseUpgrade(req: IncomingMessage): string | undefined {
    // The request target is compared as text: only exactly /api (no query, no other spelling) is ours.
    if (req.url !== '/api') return 'wrong path';
    if (req.headers.host !== `127.0.0.1:${this.port}`) return 'wrong Host header';
    const origin = req.headers.origin;
    // Browsers always send Origin; only a local process (the Electron shell's relay) omits it.
    if (origin !== undefined && origin !== this.origin) return 'foreign Origin';
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    const secret = offered.find((p) => p.startsWith(WS_SECRET_PREFIX))?.slice(WS_SECRET_PREFIX.length) ?? '';
    const a = Buffer.from(secret);
    const b = Buffer.from(this.secret);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return 'missing or wrong secret';
    if (!offered.includes(WS_PROTOCOL)) return 'unsupported protocol';
    return undefined;
  }

  private attach(ws: WebSocket): void {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text only');
      let msg: { t?: unknown; id?: unknown; method?: unknown; params?: unknown };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        return ws.close(1007, 'not JSON');
      }
      // Any JSON may arrive (null, a number, an array): only an object can be a call.
      if (msg === null || typeof msg !== 'object' || msg.t !== 'call' || typeof msg.id !== 'number' || !Number.isSafeInteger(msg.id)) {
        return ws.close(1008, 'not a call');
      }
      const id = msg.id;
      void this.service.dispatch(msg.method, msg.params).then((reply) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'reply', id, ...reply }));
      });
    });
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'screen connection error'));
  }

  private broadcast<E extends EventName>(event: E, payload: Events[E]): void {
    const text = JSON.stringify({ t: 'event', event, payload });
    for (const ws of this.wss?.clients ?? []) if (ws.readyState === ws.OPEN) ws.send(text);
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = { ...SECURITY_HEADERS, 'Cache-Control': 'no-store' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (req.headers.host !== `127.0.0.1:${this.port}`) {
      res.writeHead(421, headers).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', this.origin).pathname);
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    const page = this.options.pages?.[path];
    if (page) {
      res.writeHead(200, { ...headers, 'Content-Type': CONTENT_TYPES['.html']! }).end(await page());
      return;
    }
    const root = resolve(this.options.rendererDir);
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    const type = CONTENT_TYPES[extname(file)];
    if (!file.startsWith(root + sep) || !type) {
      res.writeHead(404, headers).end();
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': info.size });
    res.end(req.method === 'HEAD' ? undefined : await readFile(file));
  }
}
