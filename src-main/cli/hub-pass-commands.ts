import { createPrivateKey, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { PASS_ID_PATTERN } from '../../base/common/ids.js';
import { localTimeIn } from '../../base/common/time.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { PassSheetError } from '../../sync/hub/pass-sheet.js';
import { DEFAULT_PASS_DAYS, PassError, PassRegistry, type PassRecord } from '../../sync/hub/passes.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { CliError, parseIsoTime, readInputFile } from './errors.js';

/**
 * `safegate hub pass issue|list|revoke|sheet`: the hub's pass registry from the shell. Each command
 * opens the registry, acts, and closes it; a refusal (an unknown organisation, a worker not on its
 * list, a pass of another organisation) is the operator's message, exit code 2.
 */
async function withPasses<T>(configFile: string, needKey: boolean, act: (r: PassRegistry, zone: string, directory: HubDirectory) => Promise<T>): Promise<T> {
  const loaded = loadHubSettings(configFile);
  let passKey: KeyObject | undefined;
  if (needKey) {
    if (!loaded.passKeyPath) throw new CliError(`${configFile}: no passKey; make one with \`safegate keys generate --role pass --out DIR\` and name its .key.pem as passKey in the hub settings`, 2);
    try {
      passKey = createPrivateKey(readInputFile(loaded.passKeyPath));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`passKey ${loaded.passKeyPath}: not a private key in PEM form`);
    }
  }
  const directory = await HubDirectory.open(directoryTarget(loaded));
  const registry = new PassRegistry({ sql: directory.sql, ...(passKey ? { passKey } : {}) });
  try {
    return await act(registry, loaded.settings.time.zone, directory);
  } catch (err) {
    if (err instanceof PassError) throw new CliError(err.message, 2);
    if (err instanceof PassSheetError) throw new CliError(err.message);
    throw err;
  } finally {
    await directory.close();
  }
}

/** `--expires`: a date or time (province zone when it has no offset), or a number of days such as `90d`; a year by default. */
export function expiryArgument(value: string | undefined, zone: string, nowMs = Date.now()): Date {
  if (value === undefined) return new Date(nowMs + DEFAULT_PASS_DAYS * 86_400_000);
  const days = /^(\d{1,4})d$/.exec(value);
  if (days) return new Date(nowMs + Number(days[1]) * 86_400_000);
  return parseIsoTime(value, '--expires', zone);
}

function workerList(text: string): string[] {
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new CliError('--workers: name at least one worker id (a,b,c)', 2);
  return ids;
}

function passLine(p: PassRecord, zone: string): string {
  const revoked = p.revokedAtMs === null ? '' : ` ${localTimeIn(p.revokedAtMs, zone)} (${p.revokedBecause ?? ''})`;
  return `${p.passId}\t${p.workerId}\t${p.kind}\t${p.state}${revoked}\tissued ${localTimeIn(p.issuedAtMs, zone)}\texpires ${localTimeIn(p.expiresAtMs, zone)}`;
}

/** `safegate hub pass issue --org O [--team T | --workers a,b] [--expires ...]`. */
export async function issueHubPasses(configFile: string, o: { org: string; team?: string; workers?: string; expires?: string; codes?: boolean }): Promise<string> {
  if (o.team !== undefined && o.workers !== undefined) throw new CliError('name a team (--team) or workers (--workers), not both', 2);
  return withPasses(configFile, true, async (r, zone) => {
    const expiresAt = expiryArgument(o.expires, zone);
    const report = await (await r.of(o.org)).issue({ expiresAt, ...(o.team !== undefined ? { team: o.team } : {}), ...(o.workers !== undefined ? { workerIds: workerList(o.workers) } : {}) });
    const whom = o.team !== undefined ? ` in team ${o.team}` : '';
    const lines = [`${report.issued.length} pass(es) issued to ${o.org}'s workers${whom}, valid until ${localTimeIn(expiresAt.getTime(), zone)}`];
    if (report.alreadyHeld) lines.push(`${report.alreadyHeld} of them already held a live pass, which stays valid until it expires or is revoked (\`safegate hub pass revoke --pass ID\`)`);
    for (const p of report.issued) lines.push(o.codes ? `${p.passId}\t${p.workerId}\t${p.code}` : `${p.passId}\t${p.workerId}`);
    return lines.join('\n');
  });
}

/** `safegate hub pass list --org O [--worker W]`: one pass a line, newest first. */
export async function listHubPasses(configFile: string, o: { org: string; worker?: string; json?: boolean }): Promise<string> {
  return withPasses(configFile, false, async (r, zone) => {
    const passes = await (await r.of(o.org)).list(o.worker !== undefined ? { workerId: o.worker } : {});
    if (o.json) return passes.map((p) => JSON.stringify(p)).join('\n');
    if (passes.length === 0) return o.worker !== undefined ? `no pass for ${o.worker} in ${o.org}` : `${o.org} has no passes yet (\`safegate hub pass issue --org ${o.org}\`)`;
    return passes.map((p) => passLine(p, zone)).join('\n');
  });
}

/**
 * `safegate hub pass revoke --pass ID | --worker W` (or the pass id as an argument, as before). A pass
 * the registry does not know (signed elsewhere with `safegate pass issue`) is still put on the
 * revocations stream, so kiosks refuse it.
 */
export async function revokeHubPasses(configFile: string, o: { pass?: string; worker?: string; org?: string }): Promise<string> {
  if ((o.pass === undefined) === (o.worker === undefined)) throw new CliError('name a pass (--pass ID) or a worker (--worker W), one of them', 2);
  if (o.pass !== undefined && !PASS_ID_PATTERN.test(o.pass)) throw new CliError(`pass id ${JSON.stringify(o.pass)}: expected 16 lower-case hex digits, as \`hub pass list\` or \`safegate pass verify\` shows`, 2);
  const passId = o.pass;
  return withPasses(configFile, false, async (r, zone, directory) => {
    if (passId !== undefined) {
      const held = await r.pass(passId);
      if (!held && o.org === undefined) {
        const rev = await directory.revokePass(passId);
        return `pass ${passId} is not in the hub's registry (signed elsewhere); put on the revocations stream anyway (revision ${rev}): kiosks refuse it after their next download`;
      }
      if (held?.state === 'revoked') return `pass ${passId} was already revoked ${localTimeIn(held.revokedAtMs!, zone)}`;
      const p = o.org !== undefined ? await (await r.of(o.org)).revokePass(passId) : await r.revokePass(passId);
      return `pass ${p.passId} of ${p.workerId} revoked; kiosks refuse it after their next download`;
    }
    const worker = o.worker!;
    const revoked = o.org !== undefined ? await (await r.of(o.org)).revokeWorker(worker) : await r.revokeWorker(worker);
    if (revoked.length === 0) {
      if ((await r.list({ workerId: worker })).length === 0) throw new PassError(`no pass was ever issued to ${worker}`);
      return `${worker} holds no live pass (nothing to revoke)`;
    }
    return [`${revoked.length} live pass(es) of ${worker} revoked; kiosks refuse them after their next download`, ...revoked.map((p) => p.passId)].join('\n');
  });
}

/** `safegate hub pass sheet --org O --team T --out FILE.pdf`: a team's A4 sheet of printed passes. */
export async function printHubPassSheet(configFile: string, o: { org: string; team: string; out: string; expires?: string; part?: string }): Promise<string> {
  return withPasses(configFile, true, async (r, zone) => {
    const part = o.part === undefined ? undefined : /^[1-9][0-9]{0,3}$/.test(o.part) ? Number(o.part) : undefined;
    if (o.part !== undefined && part === undefined) throw new CliError(`--part ${JSON.stringify(o.part)}: expected a part number from 1`);
    const sheet = await (await r.of(o.org)).sheet(o.team, { expiresAt: expiryArgument(o.expires, zone), zone, ...(part !== undefined ? { part } : {}) });
    const { pdf, passes, pages, issued } = sheet;
    try {
      writeFileSync(o.out, pdf, { mode: 0o600 });
    } catch (err) {
      throw new CliError(`cannot write ${o.out} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return `${o.out}: ${passes} pass(es) of team ${o.team}${sheet.parts > 1 ? ` (part ${sheet.part} of ${sheet.parts})` : ''} on ${pages} page(s)${issued ? `, ${issued} of them issued now for workers who had no live printed pass` : ''}; the file holds live passes: keep it as you would the cards`;
  });
}
