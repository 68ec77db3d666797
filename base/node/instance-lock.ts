import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * One process at a time per resource (a kiosk's store): two `safegate run` on the same settings would
 * both drive the same relay and write the same event sequence. The lock is a Unix socket in Linux's
 * abstract namespace, named by a hash of the resource: binding it is atomic, only one process can
 * hold it, and the kernel releases it the moment the process ends however it ends (SIGKILL, power
 * loss of the process, a crash), so there is no stale lock file to clean up and no race between two
 * starting at once. Abstract sockets exist on Linux only (every SafeGate target); elsewhere the lock
 * is not taken (`held: false`) and the caller goes on as before.
 */

export class InstanceLockedError extends Error {
  override name = 'InstanceLockedError';
  constructor(readonly resource: string) {
    super(`another SafeGate process is already running with ${resource}; stop it first (or use other settings)`);
  }
}

export interface InstanceLock {
  /** Whether a lock was taken (false where the platform has no abstract sockets). */
  readonly held: boolean;
  release(): Promise<void>;
}

/** The canonical name of a file that may not exist yet: its folder's real path and its name. */
export function canonicalPath(file: string): string {
  const abs = resolve(file);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/** The abstract socket name for `kind` and `resource` (at most 107 bytes: a hash, never the path). */
export function lockAddress(kind: string, resource: string): string {
  return `\0safegate-${kind}-${createHash('sha256').update(resource).digest('hex').slice(0, 40)}`;
}

/**
 * Takes the lock on `resource` (e.g. the store's canonical path) for this process, or throws
 * InstanceLockedError when another process holds it. The socket never accepts anything: a connection
 * to it is closed at once.
 */
export async function acquireInstanceLock(kind: string, resource: string, platform: NodeJS.Platform = process.platform): Promise<InstanceLock> {
  if (platform !== 'linux') return { held: false, release: async () => {} };
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => fail(err.code === 'EADDRINUSE' ? new InstanceLockedError(resource) : err));
    server.listen(lockAddress(kind, resource), () => {
      server.removeAllListeners('error');
      ok();
    });
  });
  // Held for as long as the process lives, without keeping it alive by itself.
  server.unref();
  server.on('error', () => {});
  let released = false;
  return {
    held: true,
    release: () =>
      released
        ? Promise.resolve()
        : new Promise<void>((ok) => {
            released = true;
            server.close(() => ok());
          }),
  };
}
