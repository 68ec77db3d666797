import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { TripRefusal, type BusView, type TripControl } from '../../base/common/bus.js';
import { identifierSchema } from '../../base/common/ids.js';
import { ensurePrivateDir } from '../../base/node/private-files.js';

/**
 * The control socket of a bus unit: how `safegate trip start|end|status` on the same machine drives
 * the running kiosk's trips (TripControl). A Unix socket, 0600, in the kiosk's private runtime folder
 * (core/runtime.ts, RuntimeFiles.control), so only the kiosk's own user reaches it. One connection
 * carries one request: one JSON line in, one JSON line out, then the kiosk closes it.
 *
 * Requests are validated at the door (CONTROL_REQUEST); a request longer than MAX_REQUEST_BYTES, one
 * that is not JSON or not a known method, or a connection that says nothing for CONNECTION_TIMEOUT_MS
 * gets {ok:false} with a reason (where the connection is still there) and is closed. Nothing a
 * client sends can stop the kiosk.
 */

/** The largest request line (a request is a method and at most a route id). */
export const MAX_REQUEST_BYTES = 4 * 1024;
/** How long one connection may take, from connect to its reply. */
export const CONNECTION_TIMEOUT_MS = 5_000;
/** The largest reply a client reads (a BusView with its tiles is a few KB). */
export const MAX_REPLY_BYTES = 256 * 1024;
/** sun_path of a Unix socket holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export const controlRequestSchema = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('trip.start'), routeId: identifierSchema.optional() }),
  z.strictObject({ method: z.literal('trip.end') }),
  z.strictObject({ method: z.literal('trip.status') }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

/**
 * Why a request failed: `refused` (TripRefusal: the trip state does not allow it, or no such route;
 * nothing changed), `bad-request` (malformed, too long, too slow), `internal` (the kiosk failed; logged there).
 */
export type ControlErrorKind = 'refused' | 'bad-request' | 'internal';
export type ControlReply = { ok: true; result: BusView } | { ok: false; error: string; kind: ControlErrorKind };

/** What a client accepts as a reply: the shape it relies on; the rest of a BusView is passed through. */
const geoPointSchema = z.looseObject({ lat: z.number(), lon: z.number() });
const busViewSchema = z.looseObject({
  plate: z.string(),
  capacity: z.number(),
  routes: z.array(z.looseObject({ id: z.string(), name: z.string() })),
  trip: z
    .looseObject({
      tripId: z.string(),
      routeId: z.string().nullable(),
      startedAtMs: z.number(),
      startedBy: z.string(),
      aboard: z.number(),
    })
    .nullable(),
  tiles: z.array(z.looseObject({})),
  gps: z.looseObject({ state: z.string(), position: geoPointSchema.nullable(), datingFromGps: z.boolean() }),
  staleData: z.boolean(),
});
const controlReplySchema = z.union([
  z.strictObject({ ok: z.literal(true), result: busViewSchema }),
  z.strictObject({ ok: z.literal(false), error: z.string().max(2_000), kind: z.enum(['refused', 'bad-request', 'internal']) }),
]);

export interface ControlSocketOptions {
  /** The socket file (RuntimeFiles.control): its folder is made private (0700) and checked. */
  path: string;
  trips: TripControl;
  log: Logger;
}

export interface ControlSocket {
  /** Stops listening, ends open connections and removes the socket file. */
  close(): Promise<void>;
}

/** Starts the control socket. Throws (with the reason) when the path is unusable or another kiosk listens on it. */
export async function startControlSocket(o: ControlSocketOptions): Promise<ControlSocket> {
  if (Buffer.byteLength(o.path) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`control socket path is too long for a Unix socket (${Buffer.byteLength(o.path)} bytes, at most ${MAX_SOCKET_PATH_BYTES}): ${o.path}; set SAFEGATE_RUNTIME_DIR to a shorter folder`);
  }
  ensurePrivateDir(dirname(o.path));
  await removeStaleSocket(o.path);
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    serveOne(socket, o.trips, o.log);
  });
  server.maxConnections = 16;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The folder is private already; the socket itself is made the kiosk user's only as well.
  chmodSync(o.path, 0o600);
  server.on('error', (err) => o.log.error({ err: err.message }, 'control socket failed'));
  o.log.info({ path: o.path }, 'control socket listening');
  let closed: Promise<void> | undefined;
  return {
    close: () =>
      (closed ??= closeServer(server, connections).then(() => {
        try {
          unlinkSync(o.path);
        } catch {
          // Already gone (node removes it on close on some versions).
        }
      })),
  };
}

function closeServer(server: Server, connections: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const c of connections) c.destroy();
    server.close(() => resolve());
  });
}

/**
 * A socket file left by a kiosk that crashed is removed, but only a socket nobody answers on: a
 * second kiosk started with the same settings must not take the first one's socket away.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; remove it`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered) throw new Error(`another kiosk is listening on ${path} (the same settings are running already)`);
  unlinkSync(path);
}

function serveOne(socket: Socket, trips: TripControl, log: Logger): void {
  let buffered = '';
  let done = false;
  const reply = (r: ControlReply): void => {
    if (done) return;
    done = true;
    // Once the reply is out, the connection is over (one request each), whatever the client still sends.
    socket.end(`${JSON.stringify(r)}\n`, () => socket.destroy());
  };
  const bad = (error: string): void => reply({ ok: false, error, kind: 'bad-request' });
  socket.setEncoding('utf8');
  // A whole connection, not an idle time: a client trickling bytes is cut off as well.
  const deadline = setTimeout(() => {
    if (done) socket.destroy();
    else bad(`no complete request within ${CONNECTION_TIMEOUT_MS / 1000} s`);
  }, CONNECTION_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(deadline));
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    if (done) return;
    buffered += chunk;
    const newline = buffered.indexOf('\n');
    if (newline < 0) {
      if (Buffer.byteLength(buffered) > MAX_REQUEST_BYTES) bad(`request longer than ${MAX_REQUEST_BYTES} bytes`);
      return;
    }
    const line = buffered.slice(0, newline);
    if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) return bad(`request longer than ${MAX_REQUEST_BYTES} bytes`);
    reply(answer(line, trips, log));
  });
  socket.on('end', () => {
    if (!done) bad('the request must end with a newline');
  });
}

function answer(line: string, trips: TripControl, log: Logger): ControlReply {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, error: 'the request is not JSON', kind: 'bad-request' };
  }
  const parsed = controlRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return { ok: false, error: `not a control request (${where}${issue?.message ?? 'invalid'}); methods: trip.start, trip.end, trip.status`, kind: 'bad-request' };
  }
  const request = parsed.data;
  try {
    const result =
      request.method === 'trip.start' ? trips.startTrip('command', request.routeId) : request.method === 'trip.end' ? trips.endTrip('command') : trips.view();
    if (request.method !== 'trip.status') log.info({ method: request.method, tripId: result.trip?.tripId ?? null }, 'trip request from the control socket');
    return { ok: true, result };
  } catch (err) {
    if (err instanceof TripRefusal) return { ok: false, error: err.message, kind: 'refused' };
    log.error({ err: (err as Error).message, method: request.method }, 'control request failed');
    return { ok: false, error: 'the kiosk could not do it (see its log)', kind: 'internal' };
  }
}

/** No kiosk answers on the socket (none running with these settings, or it is not a bus unit). */
export class ControlUnavailable extends Error {
  override name = 'ControlUnavailable';
}

/**
 * Sends one request to the kiosk listening on `path` and returns its reply. Throws ControlUnavailable
 * when nobody listens there, and an Error for a reply that is missing, too long, or not a reply.
 */
export function requestControl(path: string, request: ControlRequest, timeoutMs = CONNECTION_TIMEOUT_MS + 1_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let buffered = '';
    const socket = createConnection(path);
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`the kiosk did not answer within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? new ControlUnavailable(`nobody listens on ${path}`, { cause: err })
            : new Error(`cannot reach the kiosk's control socket ${path} (${err.code ?? err.message})`, { cause: err }),
        ),
      ),
    );
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REPLY_BYTES) return finish(() => reject(new Error(`the kiosk's reply is longer than ${MAX_REPLY_BYTES} bytes`)));
      const newline = buffered.indexOf('\n');
      if (newline >= 0) finish(() => settleReply(buffered.slice(0, newline), resolve, reject));
    });
    socket.on('end', () => finish(() => reject(new Error('the kiosk closed the control socket without a reply'))));
  });
}

function settleReply(line: string, resolve: (r: ControlReply) => void, reject: (e: Error) => void): void {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return reject(new Error('the kiosk replied with something that is not JSON'));
  }
  const parsed = controlReplySchema.safeParse(json);
  if (!parsed.success) return reject(new Error('the kiosk replied with something that is not a control reply'));
  resolve(parsed.data as ControlReply);
}
