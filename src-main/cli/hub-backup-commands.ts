import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import * as tar from 'tar';
import { z } from 'zod';
import { loadHubSettings, type LoadedHubSettings } from '../../sync/hub/settings.js';
import { CliError } from './cli-error.js';

/**
 * `safegate hub backup` and `safegate hub restore`: one gzipped tar archive (0600) holding what a
 * hub cannot be rebuilt without: online-consistent copies of its SQLite databases (better-sqlite3's
 * backup API, safe while the hub runs) or, with DATABASE_URL, a `pg_dump` of its PostgreSQL
 * database; the PKI folder (`pki.dir`: the device CA's key); every key and file the settings name
 * (signing keys, the broker client certificate and key, the SMTP password file); and the settings
 * file. A manifest lists each file's part, mode, size and SHA-256.
 *
 * A restore never trusts a path from the archive: the settings file goes to `--config`, and every
 * other file goes where THOSE settings, read from there, put it (so a restore onto another folder
 * layout follows the settings' relative paths). Everything is verified before anything is written;
 * an existing file is replaced only with --force (SQLite's -wal/-shm files beside a replaced
 * database are removed with it, or SQLite would replay them into the restored copy).
 */

const FORMAT = 'safegate-hub-backup/1';
/** A part's name: what it is to the hub, which is also how a restore finds where it goes. */
const partSchema = z.union([
  z.enum(['settings', 'store', 'directory', 'console', 'postgres', 'signingKey', 'passKey', 'phonePassKey', 'checkpointCodeKey', 'smtpPassword', 'broker.ca', 'broker.cert', 'broker.key']),
  z.string().regex(/^pki\/(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,99}\/){0,4}[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/, 'a file inside the PKI folder'),
]);
type Part = z.infer<typeof partSchema>;
const manifestSchema = z
  .object({
    format: z.literal(FORMAT),
    createdAt: z.string(),
    hubId: z.string(),
    entries: z
      .array(
        z
          .object({
            part: partSchema,
            file: z.string().regex(/^files\/[0-9]{4}$/),
            mode: z.number().int().min(0).max(0o777),
            size: z.number().int().nonnegative(),
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
          })
          .strict(),
      )
      .max(10_000),
  })
  .strict();
type Manifest = z.infer<typeof manifestSchema>;

/** The PKI folder of the hub settings (`pki.dir`, H1's), resolved against the settings file; undefined when the settings have none. */
function pkiDirOf(loaded: LoadedHubSettings, configFile: string): string | undefined {
  const named = (loaded as { pkiDir?: unknown }).pkiDir ?? (loaded.settings as { pki?: { dir?: unknown } }).pki?.dir;
  return typeof named === 'string' && named ? resolve(dirname(resolve(configFile)), named) : undefined;
}

/** Every file a part stands for, where these settings keep it (databases only on SQLite). */
function partsOf(loaded: LoadedHubSettings, configFile: string, onPostgres: boolean): Map<Part, string> {
  const parts = new Map<Part, string>([['settings', resolve(configFile)]]);
  if (!onPostgres) {
    parts.set('store', loaded.storePath);
    parts.set('directory', loaded.directoryPath);
    if (loaded.settings.console.enabled || existsSync(loaded.consoleDatabasePath)) parts.set('console', loaded.consoleDatabasePath);
  }
  const named: [Part, string | undefined][] = [
    ['signingKey', loaded.signingKeyPath],
    ['passKey', loaded.passKeyPath],
    ['phonePassKey', loaded.phonePassKeyPath],
    ['checkpointCodeKey', loaded.checkpointCodeKeyPath],
    ['smtpPassword', loaded.smtpPasswordPath],
    ['broker.ca', loaded.broker.ca],
    ['broker.cert', loaded.broker.cert],
    ['broker.key', loaded.broker.key],
  ];
  for (const [part, file] of named) if (file) parts.set(part, file);
  return parts;
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The files of a folder, as paths relative to it (links and special files refused: a backup copies what is there). */
function filesUnder(root: string, at = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, at)).sort()) {
    const rel = at ? `${at}/${name}` : name;
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) out.push(...filesUnder(root, rel));
    else if (st.isFile()) out.push(rel);
    else throw new CliError(`${join(root, rel)}: not a file or folder (a link?); the PKI folder holds plain files only`);
  }
  return out;
}

/** PostgreSQL's URL without its password, and the password for PGPASSWORD (never on a command line others can read). */
function pgConnection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError('DATABASE_URL is not a URL (postgres://user:password@host:port/database)');
  }
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbname: u.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

function hasCommand(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** `safegate hub backup --config F --out FILE.tar.gz`: the archive (0600, refused if it exists) and a summary. */
export async function backupHub(configFile: string, out: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const loaded = loadHubSettings(configFile);
  const outPath = resolve(out);
  if (!/\.tar\.gz$|\.tgz$/.test(outPath)) throw new CliError(`--out ${out}: name the archive FILE.tar.gz`, 2);
  if (existsSync(outPath)) throw new CliError(`${outPath} exists already; choose another name (a backup never overwrites one)`);
  if (!existsSync(dirname(outPath))) throw new CliError(`${dirname(outPath)}: no such folder`);
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl && !hasCommand('pg_dump')) {
    throw new CliError(
      'DATABASE_URL is set but pg_dump is not installed: install the PostgreSQL client (Debian: apt install postgresql-client, the same major version as the server), or back the database up with your own PostgreSQL tooling and run this without DATABASE_URL for the files',
    );
  }
  const parts = partsOf(loaded, configFile, Boolean(databaseUrl));
  const pkiDir = pkiDirOf(loaded, configFile);
  // mkdtemp makes the staging folder 0700: it holds copies of private keys until the archive is made.
  const staging = mkdtempSync(join(tmpdir(), 'safegate-backup-'));
  try {
    mkdirSync(join(staging, 'files'), { mode: 0o700 });
    const manifest: Manifest = { format: FORMAT, createdAt: new Date().toISOString(), hubId: loaded.settings.id, entries: [] };
    const add = (part: Part, write: (dest: string) => void | Promise<void>, mode: number) =>
      (async () => {
        const file = `files/${String(manifest.entries.length).padStart(4, '0')}`;
        const dest = join(staging, file);
        await write(dest);
        chmodSync(dest, 0o600);
        manifest.entries.push({ part, file, mode: mode & 0o777, size: statSync(dest).size, sha256: sha256File(dest) });
      })();
    const pkiPresent = pkiDir !== undefined && existsSync(pkiDir);
    for (const [part, source] of parts) {
      // A key or certificate kept in the PKI folder goes in once, with the folder (it is restored there).
      if (pkiPresent && part !== 'settings' && resolve(source).startsWith(pkiDir + sep)) continue;
      if (!existsSync(source)) {
        // A database not made yet (a hub that never ran) is simply not there; a named key must be.
        if (part === 'store' || part === 'directory' || part === 'console') continue;
        throw new CliError(`${source} (${part} in the hub settings) does not exist; fix the settings or restore that file first`);
      }
      const mode = statSync(source).mode;
      if (part === 'store' || part === 'directory' || part === 'console') {
        // Online-consistent: SQLite's backup API copies a snapshot, whatever the hub writes meanwhile.
        await add(part, async (dest) => {
          const db = new Database(source, { readonly: true, fileMustExist: true });
          try {
            await db.backup(dest);
          } finally {
            db.close();
          }
        }, mode);
      } else {
        await add(part, (dest) => copyFileSync(source, dest), mode);
      }
    }
    if (pkiPresent) {
      for (const rel of filesUnder(pkiDir)) {
        const part = partSchema.safeParse(`pki/${rel}`);
        if (!part.success) throw new CliError(`${join(pkiDir, rel)}: a file name the backup does not take (letters, digits, dot, dash, underscore)`);
        await add(part.data, (dest) => copyFileSync(join(pkiDir, rel), dest), statSync(join(pkiDir, rel)).mode);
      }
    }
    if (databaseUrl) {
      const { dbname, env: pgEnv } = pgConnection(databaseUrl);
      await add('postgres', (dest) => {
        const r = spawnSync('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${dest}`, `--dbname=${dbname}`], { env: pgEnv, encoding: 'utf8', timeout: 30 * 60_000 });
        if (r.status !== 0) throw new CliError(`pg_dump failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
      }, 0o600);
    }
    writeFileSync(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    // The archive is 0600 from its first byte, written beside its final name, then renamed.
    const tmp = `${outPath}.${process.pid}.tmp`;
    closeSync(openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
    try {
      await tar.create({ gzip: true, file: tmp, cwd: staging, portable: true }, ['manifest.json', 'files']);
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, outPath);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    const lines = manifest.entries.map((e) => `  ${e.part} (${e.size} bytes)`);
    return [
      `backup of hub ${loaded.settings.id} written to ${outPath} (mode 0600): ${manifest.entries.length} file(s)`,
      ...lines,
      ...(pkiDir && !existsSync(pkiDir) ? [`warning: the PKI folder ${pkiDir} does not exist; no device CA in this backup`] : []),
      pkiDir && existsSync(pkiDir)
        ? 'It holds the device CA key and the hub signing keys: keep it offline and encrypted; whoever has it can enrol devices and sign for the hub.'
        : 'It holds the hub signing keys: keep it offline and encrypted.',
    ].join('\n');
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** `safegate hub restore --config F --from FILE.tar.gz [--force]`: verify everything, then put each file where the settings say. */
export async function restoreHub(configFile: string, from: string, force: boolean, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const archive = resolve(from);
  if (!existsSync(archive)) throw new CliError(`${archive}: no such file`);
  const staging = mkdtempSync(join(tmpdir(), 'safegate-restore-'));
  let settingsTmp: string | undefined;
  try {
    try {
      // tar refuses absolute names and `..` by default; strict makes any damaged entry an error.
      await tar.extract({ file: archive, cwd: staging, strict: true, preserveOwner: false });
    } catch (err) {
      throw new CliError(`${archive}: not a readable backup archive (${(err as Error).message})`);
    }
    let manifest: Manifest;
    try {
      manifest = manifestSchema.parse(JSON.parse(readFileSync(join(staging, 'manifest.json'), 'utf8')));
    } catch (err) {
      throw new CliError(`${archive}: no valid manifest (${err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message})`);
    }
    const seen = new Set<string>();
    for (const e of manifest.entries) {
      if (seen.has(e.part)) throw new CliError(`${archive}: ${e.part} is in the manifest twice`);
      seen.add(e.part);
      const file = join(staging, e.file);
      if (!existsSync(file) || !lstatSync(file).isFile()) throw new CliError(`${archive}: ${e.part} is missing from the archive`);
      if (statSync(file).size !== e.size || sha256File(file) !== e.sha256) throw new CliError(`${archive}: ${e.part} does not match its checksum; the archive is damaged, nothing was restored`);
    }
    const settingsEntry = manifest.entries.find((e) => e.part === 'settings');
    if (!settingsEntry) throw new CliError(`${archive}: no settings file in it`);
    const postgresEntry = manifest.entries.find((e) => e.part === 'postgres');
    const databaseUrl = env.DATABASE_URL;
    if (postgresEntry && !databaseUrl) throw new CliError(`${archive} holds a PostgreSQL dump: set DATABASE_URL to the (new, empty) database to restore it into`);
    if (postgresEntry && !hasCommand('pg_restore')) throw new CliError('pg_restore is not installed: install the PostgreSQL client (Debian: apt install postgresql-client), then restore again');

    // Where each file goes: as the restored settings say, read from where they will be.
    const target = resolve(configFile);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    settingsTmp = join(dirname(target), `.${basename(target)}.restore-${process.pid}`);
    copyFileSync(join(staging, settingsEntry.file), settingsTmp);
    chmodSync(settingsTmp, settingsEntry.mode);
    const loaded = loadHubSettings(settingsTmp);
    const parts = partsOf(loaded, settingsTmp, Boolean(postgresEntry));
    parts.set('settings', target);
    const pkiDir = pkiDirOf(loaded, settingsTmp);
    const destinationOf = (part: Part): string => {
      if (part.startsWith('pki/')) {
        if (!pkiDir) throw new CliError(`${archive} holds PKI files but the restored settings name no pki.dir`);
        const dest = resolve(pkiDir, part.slice('pki/'.length));
        if (relative(pkiDir, dest).startsWith('..') || !dest.startsWith(pkiDir + sep)) throw new CliError(`${part}: outside the PKI folder`);
        return dest;
      }
      const dest = parts.get(part);
      if (!dest) throw new CliError(`${archive} holds ${part}, which the restored settings do not name`);
      return dest;
    };
    const plan = manifest.entries.filter((e) => e.part !== 'postgres').map((e) => ({ entry: e, dest: destinationOf(e.part) }));
    const existing = plan.filter((p) => existsSync(p.dest)).map((p) => p.dest);
    // A running hub keeps writing into the files it has open, even once they are replaced: what it takes in
    // meanwhile would be lost. Never, not even with --force.
    const { processHoldingFile } = await import('../core/selftest/holder.js');
    for (const dest of existing) {
      const pid = processHoldingFile(dest);
      if (pid !== null) throw new CliError(`${dest} is open in process ${pid} (a running hub?): stop it first (systemctl stop safegate-hub), then restore`);
    }
    if (existing.length && !force) {
      throw new CliError(`refusing to overwrite ${existing.length} existing file(s) (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', ...' : ''}); stop the hub first, then use --force to replace them`);
    }

    for (const { entry, dest } of plan) {
      const dir = dirname(dest);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${dest}.restore-${process.pid}.tmp`;
      rmSync(tmp, { force: true });
      if (entry.part === 'settings') renameSync(settingsTmp, tmp);
      else copyFileSync(join(staging, entry.file), tmp);
      chmodSync(tmp, entry.mode);
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      if (entry.part === 'store' || entry.part === 'directory' || entry.part === 'console') {
        // A stale write-ahead log would be replayed into the restored database.
        rmSync(`${dest}-wal`, { force: true });
        rmSync(`${dest}-shm`, { force: true });
      }
      renameSync(tmp, dest);
    }
    settingsTmp = undefined;

    if (postgresEntry && databaseUrl) {
      const { dbname, env: pgEnv } = pgConnection(databaseUrl);
      const args = ['--no-owner', '--no-privileges', '--exit-on-error', ...(force ? ['--clean', '--if-exists'] : []), `--dbname=${dbname}`, join(staging, postgresEntry.file)];
      const r = spawnSync('pg_restore', args, { env: pgEnv, encoding: 'utf8', timeout: 60 * 60_000 });
      if (r.status !== 0) {
        throw new CliError(`pg_restore failed${force ? '' : ' (into a database that is not empty? use --force to replace what is there)'}: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
      }
    }
    return [
      `restored hub ${manifest.hubId} from ${archive} (made ${manifest.createdAt}): ${manifest.entries.length} file(s)`,
      ...plan.map((p) => `  ${p.entry.part} -> ${p.dest}`),
      ...(postgresEntry ? ['  postgres -> DATABASE_URL (pg_restore)'] : []),
    ].join('\n');
  } finally {
    if (settingsTmp) rmSync(settingsTmp, { force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}
