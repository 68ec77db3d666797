import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { basename, join } from 'node:path';
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

/** Just enough of a CA for `openssl ca` to revoke certificates and sign revocation lists. */
const CA_CONFIG = `[ ca ]
default_ca = test_ca

[ test_ca ]
database = index.txt
crlnumber = crlnumber
certificate = ca.crt
private_key = ca.key
default_md = sha256
default_crl_days = 2
`;

/**
 * A private certificate authority for a test broker: a server certificate for 127.0.0.1, client
 * certificates whose CN is the MQTT username (a device id, or a hub process's hub.N), and a
 * certificate revocation list (`crlFile`, empty until `revoke`).
 */
export class TestCertificates {
  /** The CA's current revocation list (PEM); the broker reads it when it starts. */
  readonly crlFile: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=SafeGate Test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
    this.issue('server', '127.0.0.1', ['subjectAltName=IP:127.0.0.1,DNS:localhost']);
    writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'crlnumber'), '01\n');
    this.crlFile = join(dir, 'crl.pem');
    this.writeCrl();
  }

  /** Issues (once) a certificate with this CN. */
  issue(name: string, cn = name, extensions: string[] = []): ClientCredentials {
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, `${extensions.join('\n')}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], this.dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.crt`], this.dir);
    return this.credentials(name);
  }

  /** Puts this certificate on the revocation list; a broker refuses it from its next start. */
  revoke(name: string): void {
    openssl(['ca', '-config', 'ca.cnf', '-revoke', `${name}.crt`], this.dir);
    this.writeCrl();
  }

  credentials(name: string): ClientCredentials {
    return {
      ca: readFileSync(join(this.dir, 'ca.crt')),
      cert: readFileSync(join(this.dir, `${name}.crt`)),
      key: readFileSync(join(this.dir, `${name}.key`)),
    };
  }

  private writeCrl(): void {
    openssl(['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem'], this.dir);
  }
}

/** The ACL SafeGate ships for brokers (config/mosquitto/safegate.acl): the tests use the real file. */
export const BROKER_ACL_FILE = fileURLToPath(new URL('../../config/mosquitto/safegate.acl', import.meta.url));

/** The broker configuration SafeGate ships (config/mosquitto/safegate.conf): the tests run the real file. */
export const BROKER_CONF_FILE = fileURLToPath(new URL('../../config/mosquitto/safegate.conf', import.meta.url));

/**
 * The initial dynamic-security configuration SafeGate ships (config/mosquitto/dynamic-security.json:
 * the role `safegate-revoked`, no clients): each test broker runs on a writable copy of it.
 */
export const BROKER_DYNSEC_FILE = fileURLToPath(new URL('../../config/mosquitto/dynamic-security.json', import.meta.url));

/**
 * The dynamic-security plugin the shipped configuration loads, on this machine: the path the file
 * names (Debian's amd64 one) when it exists, else the same library in another multiarch folder.
 */
function dynsecPlugin(shipped: string): string {
  const named = /^\s*plugin\s+(\S+)\s*$/m.exec(shipped)?.[1];
  if (!named) throw new Error(`${BROKER_CONF_FILE}: no plugin line (the dynamic-security plugin)`);
  if (existsSync(named)) return named;
  for (const arch of readdirSync('/usr/lib')) {
    const candidate = join('/usr/lib', arch, basename(named));
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`the dynamic-security plugin ${named} is not installed (Debian: mosquitto package)`);
}

/** The files a broker's TLS listener runs on: the CA, the broker's certificate and key, the CA's revocation list. */
export interface BrokerPkiFiles {
  ca: string;
  cert: string;
  key: string;
  crl: string;
}

/**
 * A hub PKI folder's files for the broker (`pki.dir` of the hub settings: ca.crt, server.crt,
 * server.key, crl.pem), so a test broker runs on the CA the hub enrols devices with.
 */
export function brokerPkiFilesIn(dir: string): BrokerPkiFiles {
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), crl: join(dir, 'crl.pem') };
}

/**
 * Lines a host's own mosquitto.conf decides (Debian's sets the pid file, persistence and logging,
 * then includes conf.d/); the test broker sets them itself, so the shipped file must leave them out.
 */
const HOST_SETTINGS = new Set(['user', 'pid_file', 'persistence', 'persistence_location', 'persistence_file', 'autosave_interval', 'log_dest', 'log_type', 'include_dir']);

/**
 * The shipped configuration with the test's files, port and loopback address in place of the ones
 * it names, and the host's settings (user, persistence, logging) for a throwaway broker. Each
 * replaced setting must appear exactly once; any other path in the file is an error, so the file
 * cannot gain a setting the tests silently run without.
 */
function testBrokerConfig(shipped: string, local: Record<string, string>, host: string[]): string {
  const seen = new Map<string, number>();
  const lines = shipped.split('\n').map((line, i) => {
    const setting = /^\s*([A-Za-z0-9_.]+)\s+(.*?)\s*$/.exec(line);
    if (!setting || line.trimStart().startsWith('#')) return line;
    const [, key, value] = setting as unknown as [string, string, string];
    const where = `${BROKER_CONF_FILE}:${i + 1}`;
    if (HOST_SETTINGS.has(key)) throw new Error(`${where}: ${key} belongs in the host's mosquitto.conf, not in the SafeGate listener file`);
    if (key in local) {
      seen.set(key, (seen.get(key) ?? 0) + 1);
      return `${key} ${local[key]}`;
    }
    if (value.includes('/')) throw new Error(`${where}: ${key} names a file the test broker does not provide; add it to TestBroker`);
    return line;
  });
  for (const key of Object.keys(local)) {
    if (seen.get(key) !== 1) throw new Error(`${BROKER_CONF_FILE}: expected one ${key} line, found ${seen.get(key) ?? 0}`);
  }
  return [...host, ...lines, ''].join('\n');
}

/**
 * A real Mosquitto 2 on a free loopback port running the shipped configuration
 * (config/mosquitto/safegate.conf) with the shipped ACL and dynamic-security plugin: TLS with client
 * certificates (CN = username = client id), a revocation list, per-device ACLs, the deny list of
 * revoked devices, bounded packets and queues. It runs on a TestCertificates CA, or on given PKI
 * files (e.g. a hub's `pki.dir`, `brokerPkiFilesIn`), so devices the hub enrolled can connect.
 */
export class TestBroker {
  port = 0;
  private process: ChildProcess | undefined;
  readonly log: string[] = [];

  /** The ACL in force: a copy of the shipped file, so a test can change it and `reloadAcl()`. */
  readonly aclFile: string;
  /**
   * The dynamic-security configuration in force: a writable copy of the shipped one, which the
   * broker rewrites at each change and keeps across restarts (as /var/lib/mosquitto does).
   */
  readonly dynsecFile: string;
  private readonly pki: BrokerPkiFiles;

  constructor(
    readonly dir: string,
    pki: TestCertificates | BrokerPkiFiles,
  ) {
    this.aclFile = join(dir, 'safegate.acl');
    writeFileSync(this.aclFile, readFileSync(BROKER_ACL_FILE));
    this.dynsecFile = join(dir, 'dynamic-security.json');
    writeFileSync(this.dynsecFile, readFileSync(BROKER_DYNSEC_FILE));
    this.pki =
      pki instanceof TestCertificates
        ? { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'server.crt'), key: join(pki.dir, 'server.key'), crl: pki.crlFile }
        : pki;
  }

  /** Mosquitto re-reads its ACL on SIGHUP. */
  async reloadAcl(acl: string): Promise<void> {
    writeFileSync(this.aclFile, acl);
    this.process?.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
  }

  /** SIGHUP, as `systemctl reload mosquitto`: Mosquitto 2.0.11 re-reads its ACL file and each listener's certificates and CRL. */
  async reload(): Promise<void> {
    this.process?.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  /** Starts the broker; the shipped configuration, the ACL copy and the CRL are read afresh. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const conf = join(this.dir, 'mosquitto.conf');
    const shipped = readFileSync(BROKER_CONF_FILE, 'utf8');
    writeFileSync(
      conf,
      testBrokerConfig(
        shipped,
        {
          listener: `${this.port} 127.0.0.1`,
          cafile: this.pki.ca,
          certfile: this.pki.cert,
          keyfile: this.pki.key,
          crlfile: this.pki.crl,
          acl_file: this.aclFile,
          plugin: dynsecPlugin(shipped),
          plugin_opt_config_file: this.dynsecFile,
        },
        [
          // As root, Mosquitto would switch to its own user, who cannot read this private temp folder.
          ...(process.getuid?.() === 0 ? ['user root'] : []),
          'persistence false',
          'log_dest stderr',
          'log_type error',
          'log_type warning',
          'log_type notice',
        ],
      ),
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
