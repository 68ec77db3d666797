import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ClientCredentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** A free TCP port on loopback (bound and released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A private certificate authority for a test broker: a server certificate for 127.0.0.1 and client
 * certificates whose CN is the MQTT username (the device id, or "hub").
 */
export class TestCertificates {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=SafeGate Test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
    this.issue('server', '127.0.0.1', ['subjectAltName=IP:127.0.0.1,DNS:localhost']);
  }

  /** Issues (once) a certificate with this CN. */
  issue(name: string, cn = name, extensions: string[] = []): ClientCredentials {
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, `${extensions.join('\n')}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], this.dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.crt`], this.dir);
    return this.credentials(name);
  }

  credentials(name: string): ClientCredentials {
    return {
      ca: readFileSync(join(this.dir, 'ca.crt')),
      cert: readFileSync(join(this.dir, `${name}.crt`)),
      key: readFileSync(join(this.dir, `${name}.key`)),
    };
  }
}

/** The ACL SafeGate ships for brokers (config/mosquitto/safegate.acl): the tests use the real file. */
export const BROKER_ACL_FILE = fileURLToPath(new URL('../../config/mosquitto/safegate.acl', import.meta.url));

/**
 * A real Mosquitto 2 on a free loopback port with its own configuration: TLS with client
 * certificates (CN = username), per-device ACLs, and queues large enough that QoS 1 messages to a
 * slow subscriber are never dropped.
 */
export class TestBroker {
  port = 0;
  private process: ChildProcess | undefined;
  readonly log: string[] = [];

  /** The ACL in force: a copy of the shipped file, so a test can change it and `reloadAcl()`. */
  readonly aclFile: string;

  constructor(
    readonly dir: string,
    readonly certs: TestCertificates,
  ) {
    this.aclFile = join(dir, 'safegate.acl');
    writeFileSync(this.aclFile, readFileSync(BROKER_ACL_FILE));
  }

  /** Mosquitto re-reads its ACL on SIGHUP. */
  async reloadAcl(acl: string): Promise<void> {
    writeFileSync(this.aclFile, acl);
    this.process?.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        // As root, Mosquitto would switch to its own user, who cannot read this private temp folder.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        'per_listener_settings false',
        'allow_anonymous false',
        `listener ${this.port} 127.0.0.1`,
        `cafile ${join(this.certs.dir, 'ca.crt')}`,
        `certfile ${join(this.certs.dir, 'server.crt')}`,
        `keyfile ${join(this.certs.dir, 'server.key')}`,
        'require_certificate true',
        'use_identity_as_username true',
        `acl_file ${this.aclFile}`,
        // The default (1000) silently drops QoS 1 messages to a slow subscriber; 0 means no limit.
        'max_queued_messages 0',
        'max_queued_bytes 0',
        // Small packets (acknowledgements) must not wait for Nagle's algorithm: ~40 ms per round trip.
        'set_tcp_nodelay true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        '',
      ].join('\n'),
    );
    const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => this.log.push(d));
    this.process = proc;
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(this.port))) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}): ${this.log.join('')}`);
      if (Date.now() > deadline) throw new Error('mosquitto did not start in 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const proc = this.process;
    this.process = undefined;
    if (!proc || proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    await once(proc, 'exit');
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
