import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubHealth } from '../../console/server/health-routes.js';
import { hubDirectoryAt, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { FakeNotifySocket } from '../helpers/notify-socket.js';

async function healthz(url: string): Promise<{ status: number; body: HubHealth; cache: string | null }> {
  const r = await fetch(`${url}/healthz`);
  return { status: r.status, body: (await r.json()) as HubHealth, cache: r.headers.get('cache-control') };
}

/** Polls /healthz until it answers with this HTTP status (the console may not listen yet, the link may take a moment). */
async function healthzUntil(url: string, status: number, timeoutMs = 20_000): Promise<{ status: number; body: HubHealth; cache: string | null }> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const r = await healthz(url);
      if (r.status === status) return r;
      last = r;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`/healthz did not answer ${status} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `GET /healthz` on a real `safegate hub run` (console enabled) and a real Mosquitto: 503 naming the
 * broker while the broker is down (the hub waits for it; its databases answer), 200 once it is up,
 * 503 again when it goes away. The hub's systemd READY=1 comes only once it is online.
 */
describe.each(directoryBackends)('hub health endpoint on $name', (backend) => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('answers 503 with the broker failing while the broker is down, 200 when it is up, 503 when it goes away', async () => {
    const dir = tempDir('safegate-healthz-');
    cleanups.push(() => dir.remove());
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    const broker = new TestBroker(dir.path, certs);
    broker.port = await freePort();
    cleanups.push(() => broker.stop());
    const consolePort = await freePort();
    const { path: directoryPath, env } = hubDirectoryAt(await backend.target());
    const config = join(dir.path, 'hub.yaml');
    writeFileSync(
      config,
      stringify({
        id: 'hub.1',
        broker: { url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') },
        store: { path: join(dir.path, 'hub.db') },
        directory: { path: directoryPath },
        console: { enabled: true, port: consolePort, database: join(dir.path, 'hub-console.db') },
      }),
    );
    const notify = await FakeNotifySocket.open(join(dir.path, 'notify.sock'));
    cleanups.push(() => notify.close());
    const hub: RunningProcess = safegateProcess(['hub', 'run', '--config', config], undefined, { env: { ...env, NOTIFY_SOCKET: notify.address } });
    cleanups.push(async () => {
      if (hub.child.exitCode === null && hub.child.signalCode === null) {
        hub.child.kill('SIGKILL');
        await once(hub.child, 'exit');
      }
    });
    const url = `http://127.0.0.1:${consolePort}`;

    const down = await healthzUntil(url, 503);
    expect(down.body).toEqual({
      status: 'failing',
      failing: ['broker'],
      checks: { store: { ok: true }, directory: { ok: true }, broker: { ok: false, detail: 'broker link down' } },
    });
    expect(down.cache).toBe('no-store');
    expect(notify.with('READY=1')).toEqual([]);
    expect(notify.with('STATUS=waiting for the broker')).toHaveLength(1);

    await broker.start();
    const up = await healthzUntil(url, 200);
    expect(up.body).toEqual({ status: 'ok', failing: [], checks: { store: { ok: true }, directory: { ok: true }, broker: { ok: true } } });
    const ready = await waitFor(() => notify.with('READY=1')[0], 'READY=1 once the hub is online', 10_000);
    expect(ready.msg).toContain('STATUS=hub hub.1 online');

    await broker.stop();
    const lost = await healthzUntil(url, 503);
    expect(lost.body.failing).toEqual(['broker']);

    // Rate-limited per address: a runaway poller is told to slow down.
    let limited = false;
    for (let i = 0; i < 200 && !limited; i++) limited = (await fetch(`${url}/healthz`)).status === 429;
    expect(limited).toBe(true);

    hub.child.kill('SIGTERM');
    const [code] = (await once(hub.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    await waitFor(() => notify.with('STOPPING=1')[0], 'STOPPING=1');
  });
});
