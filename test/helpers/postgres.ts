import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './mosquitto.js';

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!found) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql; scripts/setup.sh test does it)');
  return found;
}

/**
 * A throwaway PostgreSQL server for tests: its own cluster in a temp folder, on a free loopback
 * port, stopped (immediately) at the end. As root it runs as the `postgres` user, as PostgreSQL
 * requires.
 */
export class TestPostgres {
  port = 0;
  private readonly data: string;
  private readonly bin = binDir();
  private readonly asRoot = process.getuid?.() === 0;

  constructor(private readonly dir: string) {
    this.data = join(dir, 'pgdata');
  }

  private run(tool: string, args: string[]): void {
    const cmd = join(this.bin, tool);
    if (this.asRoot) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    else execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  async start(): Promise<void> {
    this.port = await freePort();
    mkdirSync(this.data, { recursive: true });
    if (this.asRoot) {
      const { uid, gid } = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
      chownSync(this.dir, uid, gid);
      chownSync(this.data, uid, gid);
    }
    this.run('initdb', ['-D', this.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    this.run('pg_ctl', ['-D', this.data, '-w', '-l', join(this.dir, 'postgres.log'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, 'start']);
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A fresh, empty database; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  async stop(): Promise<void> {
    if (!this.port) return;
    this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', 'stop']);
    this.port = 0;
  }
}
