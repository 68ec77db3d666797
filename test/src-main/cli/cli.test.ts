import { createPrivateKey } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { sealEnvelope } from '../../../base/node/envelope.js';
import { keyIdOf } from '../../../base/node/keys.js';
import { PASS_PREFIX } from '../../../base/node/pass.js';
import { safegate } from '../../helpers/cli.js';
import { tempDir, writeKioskConfig } from '../../helpers/fixtures.js';

const COMMANDS = [[], ['run'], ['keys', 'generate'], ['pass', 'issue'], ['pass', 'verify'], ['roster', 'import'], ['log'], ['config', 'check'], ['config', 'schema'], ['demo']];

function oneLineError(r: { status: number | null; stderr: string }): string {
  expect(r.status).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('safegate CLI', () => {
  const dirs: { remove(): void; path: string }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const dir = () => {
    const d = tempDir('safegate-cli-');
    dirs.push(d);
    return d.path;
  };

  it.each(COMMANDS.map((c) => [c.join(' ') || '(top)', c]))('%s has --help', (_n, cmd) => {
    const r = safegate([...(cmd as string[]), '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: safegate/);
  });

  it('keys generate, pass issue, pass verify: a round trip, with the private key kept private', () => {
    const d = dir();
    const gen = safegate(['keys', 'generate', '--role', 'pass', '--out', join(d, 'hub')]);
    expect(gen.status).toBe(0);
    const files = readdirSync(join(d, 'hub'));
    const priv = join(d, 'hub', files.find((f) => f.endsWith('.key.pem'))!);
    expect(statSync(priv).mode & 0o777).toBe(0o600);
    const issued = safegate(['pass', 'issue', '--key', priv, '--worker', 'W0001', '--expires', '2099-01-01T00:00:00Z']);
    expect(issued.status).toBe(0);
    const text = issued.stdout.trim();
    expect(text).toMatch(/^SG1:[0-9A-Z $%*+\-./:]+$/);
    const ok = safegate(['pass', 'verify', text, '--keys', join(d, 'hub')]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/worker: +W0001/);
    expect(ok.stdout).toMatch(/result: +VALID/);
    const late = safegate(['pass', 'verify', text, '--keys', join(d, 'hub'), '--at', '2100-01-01']);
    expect(late.status).toBe(1);
    expect(late.stdout).toMatch(/INVALID PASS_EXPIRED/);
  });

  it('explains a signed pass whose times no date can show (year 300,000) instead of crashing', () => {
    const d = dir();
    safegate(['keys', 'generate', '--role', 'pass', '--out', join(d, 'hub')]);
    const key = createPrivateKey(readFileSync(join(d, 'hub', readdirSync(join(d, 'hub')).find((f) => f.endsWith('.key.pem'))!)));
    const claims = new Map<number, unknown>([[1, 'hub'], [2, 'W1'], [4, 1e13], [6, 1e13 - 60]]);
    const text = sealEnvelope(signCoseSign1(encodeCbor(claims), key, keyIdOf(key)), PASS_PREFIX);
    const r = safegate(['pass', 'verify', text, '--keys', join(d, 'hub')]);
    expect(r.stderr).not.toMatch(/RangeError|Invalid time value/);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/INVALID MALFORMED_CODE/);
  });

  it('refuses to start a kiosk whose runtime folder another user could have made or written', () => {
    const d = dir();
    const config = writeKioskConfig(d);
    const shared = join(d, 'shm-safegate');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const before = process.env.SAFEGATE_RUNTIME_DIR;
    process.env.SAFEGATE_RUNTIME_DIR = shared;
    try {
      const r = safegate(['run', '--config', config, '--headless']);
      expect(r.status).not.toBe(0);
      expect(oneLineError(r)).toMatch(/runtime folder cannot be trusted: .*open to other users \(mode 777\); it must be 0700/);
    } finally {
      if (before === undefined) delete process.env.SAFEGATE_RUNTIME_DIR;
      else process.env.SAFEGATE_RUNTIME_DIR = before;
    }
  });

  it('explains a forged or garbled pass and exits non-zero', () => {
    const d = dir();
    safegate(['keys', 'generate', '--role', 'pass', '--out', join(d, 'hub')]);
    const r = safegate(['pass', 'verify', 'SG1:NOT*REAL', '--keys', join(d, 'hub')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/INVALID MALFORMED_CODE/);
  });

  it.each([
    [['pass', 'issue', '--key', '/nonexistent.pem', '--worker', 'W1'], /cannot read \/nonexistent.pem/],
    [['pass', 'issue', '--key', '/etc/hostname', '--worker', 'W1'], /not a private key/],
    [['pass', 'verify', 'SG1:X', '--keys', '/nonexistent'], /cannot read the keys folder/],
    [['log', '--config', '/nonexistent.yaml'], /cannot read the file/],
    [['run', '--config', '/nonexistent.yaml', '--headless'], /cannot read the file/],
    [['keys', 'generate', '--role', 'pass', '--out', '/tmp/x', '--alg', 'RSA'], /Allowed choices are EdDSA, ES256/],
    [['keys', 'generate', '--out', '/tmp/x'], /--role <role>' not specified/],
    [['keys', 'generate', '--out', '/tmp/x', '--role', 'both'], /Allowed choices are pass, phone-pass, checkpoint-code, downlink/],
    [['roster', 'import', '/nonexistent.csv', '--config', '/nonexistent.yaml'], /cannot read/],
  ])('refuses bad input with a one-line reason: %j', (args, reason) => {
    expect(oneLineError(safegate(args as string[]))).toMatch(reason);
  });

  it('pass issue refuses a past expiry and a bad date', () => {
    const d = dir();
    safegate(['keys', 'generate', '--role', 'pass', '--out', d]);
    const key = join(d, readdirSync(d).find((f) => f.endsWith('.key.pem'))!);
    expect(oneLineError(safegate(['pass', 'issue', '--key', key, '--worker', 'W1', '--expires', '2001-01-01']))).toMatch(/in the past/);
    expect(oneLineError(safegate(['pass', 'issue', '--key', key, '--worker', 'W1', '--expires', 'tomorrow']))).toMatch(/ISO 8601/);
    expect(oneLineError(safegate(['pass', 'issue', '--key', key, '--worker', 'bad id!']))).toMatch(/--worker/);
  });

  it('run and config check list every settings problem, one per line, a misspelled nested key among them', () => {
    const d = dir();
    const bad = join(d, 'bad.yaml');
    writeFileSync(bad, 'device: { id: "X Y" }\ncheckpoint: { id: g, name: G, kind: moon, direciton: exit }\nscanner: { source: none }\nhub: { batch: { maxEvents: lots } }\n');
    for (const args of [['config', 'check', '--config', bad], ['run', '--config', bad, '--headless']]) {
      const r = safegate(args);
      expect(r.status).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe(`safegate: invalid settings in ${bad} (4 problems):`);
      expect(lines.slice(1)).toEqual([
        expect.stringMatching(/^ {2}device\.id: .*, got "X Y"$/),
        '  checkpoint.kind: must be one of "gate", "zone", "team", "canteen", "dormitory", "bus", got "moon"',
        '  checkpoint.direciton: unknown setting; did you mean "direction"?',
        '  hub.batch.maxEvents: must be a whole number from 1 to 5000, got "lots"',
      ]);
    }
    const good = writeKioskConfig(d);
    expect(safegate(['config', 'check', '--config', good]).stdout).toBe(`${good}: OK\n`);
  });

  it('roster import reports bad rows by line and imports nothing; a good file then imports', () => {
    const d = dir();
    writeKioskConfig(d);
    const config = join(d, 'kiosk.yaml');
    const bad = join(d, 'bad.csv');
    writeFileSync(bad, 'worker_id,display_name,vaccine_doses\nW1,An,2\nW2,Bình,two\nW3,,1\n');
    const line = oneLineError(safegate(['roster', 'import', bad, '--config', config]));
    expect(line).toMatch(/nothing imported: line 3: vaccine_doses: .*line 4: display_name/);
    const good = join(d, 'good.csv');
    writeFileSync(good, 'worker_id,display_name,vaccine_doses\nW1,An,2\nW2,Bình,3\n');
    const r = safegate(['roster', 'import', good, '--config', config]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/imported 2 worker\(s\); roster now holds 2/);
  });

  it('log --json prints the entry log as JSON lines, filtered by --since', async () => {
    const d = dir();
    const config = writeKioskConfig(d, { scannerSource: 'stdin' });
    safegate(['keys', 'generate', '--role', 'pass', '--out', join(d, 'keys', 'pass')]);
    // The simulated scanner reads stdin; the kiosk stops by itself when its input ends.
    const run = safegate(['run', '--config', config, '--headless'], { input: 'GARBAGE{}\nW-1\n' });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    const out = safegate(['log', '--config', config, '--json']);
    expect(out.status).toBe(0);
    const events = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => [e.seq, e.decision, e.reasons, e.source])).toEqual([
      [1, 'deny', ['MALFORMED_CODE'], 'stdin'],
      [2, 'deny', ['UNKNOWN_WORKER'], 'stdin'],
    ]);
    expect(safegate(['log', '--config', config, '--json', '--since', '2099-01-01']).stdout).toBe('');
    // People read the province's local time with its offset; --utc and JSON give UTC; all the same instant.
    const local = safegate(['log', '--config', config]).stdout.split('\n')[0]!;
    expect(local).toMatch(/^ +1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+07\?? {2}entry {2}DENY/);
    const utc = safegate(['log', '--config', config, '--utc']).stdout.split('\n')[0]!;
    expect(utc).toMatch(/^ +1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\?? {2}entry {2}DENY/);
    const instant = (line: string, re: RegExp) => Date.parse(re.exec(line)![1]!.replace(' ', 'T') + re.exec(line)![2]!.replace(/^\+07$/, '+07:00').replace('UTC', 'Z'));
    const at = Math.floor(Date.parse(events[0].wallTime) / 1000) * 1000;
    expect(events[0].wallTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(instant(local, /(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\+07)/)).toBe(at);
    expect(instant(utc, /(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (UTC)/)).toBe(at);
  });

  it('--version names the package version and the Node.js version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = safegate([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`safegate ${pkg.version} (Node.js ${process.version})\n`);
    }
  });

  it('config schema prints a JSON Schema with descriptions', () => {
    const r = safegate(['config', 'schema']);
    const schema = JSON.parse(r.stdout);
    expect(schema.properties.checkpoint.properties.kind.description).toBe('what this checkpoint guards');
  });
});
