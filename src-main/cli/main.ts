import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Argument, Command, CommanderError, Option } from 'commander';
import { SettingsError } from '../../base/common/settings-error.js';
import { problemLine } from '../../base/common/validation.js';
import { DEFAULT_DECODER, type DecoderName } from '../../device/camera/decoder.js';
import type { ScreenMode } from './screens-launcher.js';
import { CliError } from './cli-error.js';
import { registerAlertCommands } from './alert-commands.js';
import { registerDevicesCommands } from './devices-commands.js';
import { registerTripHubCommands } from './trip-hub-commands.js';
import { registerReportCommands } from './report-commands.js';
import { registerDeviceSettingsCommands } from './device-settings-commands.js';
import { registerEnrolCommands } from './enrol-commands.js';
import { registerFleetHubCommands } from './fleet-hub-commands.js';
import { registerSelftestCommand } from './selftest-commands.js';
import { registerTripCommands } from './trip-commands.js';
import { registerDccCommands } from './dcc-commands.js';
import { KEY_ROLE_NAMES, type KeyRole } from '../../base/common/key-roles.js';

/**
 * Each command loads what it needs when it runs, so `--help` and `pass verify` answer at once and a
 * kiosk never loads the hub's database driver or the demo's broker.
 */
const commands = () => import('./commands.js');
const passCommands = () => import('./pass-commands.js');
const hubCommands = () => import('./hub-commands.js');
const supervisorCommands = () => import('./supervisor-commands.js');
const registryCommands = () => import('./registry-commands.js');
const consoleCommands = () => import('./console-commands.js');
const hubPassCommands = () => import('./hub-pass-commands.js');
const hubLinkCommands = () => import('./hub-link-commands.js');
const hubPersonCommands = () => import('./hub-person-commands.js');

/** `safegate 0.1.0 (Node.js v20.19.0)`: the package's version, from its package.json wherever this file runs from (build/ or source). */
export function versionText(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'safegate' && pkg.version) return `safegate ${pkg.version} (Node.js ${process.version})`;
    } catch {
      // Not here; look one folder up.
    }
  }
  return `safegate (version unknown: no package.json found) (Node.js ${process.version})`;
}

function buildProgram(): Command {
  const program = new Command('safegate')
    .description('SafeGate gate kiosk: scan, decide offline, open, log, sync')
    .version(versionText(), '-V, --version', 'print the version of SafeGate and of Node.js')
    .exitOverride()
    .configureOutput({
      // Usage errors are one line, like every other failure.
      outputError: (str, write) => write(`safegate: ${str.replace(/^error: /, '').trim()} (see --help)\n`),
    });

  program
    .command('run')
    .description('run the kiosk')
    .requiredOption('--config <file>', 'settings file (YAML or JSON)')
    .option('--headless', 'screenless unit: lights and buzzer only')
    .addOption(new Option('--screens <how>', 'how to show the screens (default: screens.show in the settings)').choices(['auto', 'electron', 'chromium', 'address', 'none']))
    .action(async (o: { config: string; headless?: boolean; screens?: ScreenMode }) => (await commands()).runKiosk(o.config, Boolean(o.headless), o.screens));

  program
    .command('decode')
    .description('read QR codes from image files with the kiosk\'s decoder (e.g. a camera snapshot): one line per image, name<TAB>text or error')
    .argument('<image...>', 'image files (PNG, JPEG, WebP)')
    .addOption(new Option('--decoder <name>', 'QR decoder').choices(['combined', 'zxing-wasm', 'zxing-js']).default(DEFAULT_DECODER))
    .action(async (images: string[], o: { decoder: DecoderName }) => {
      const { lines, failures } = await (await commands()).decodeImages(images, o.decoder);
      for (const l of lines) console.log(l);
      if (failures) process.exitCode = 1;
    });

  const supervisor = program.command('supervisor').description('named supervisors of a kiosk without a hub (PINs on stdin, never on the command line)');
  const readStdin = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  supervisor
    .command('add')
    .description('add a supervisor; their PIN (6 to 12 digits) is the first line of stdin, stored only as a scrypt hash')
    .requiredOption('--config <file>', 'settings file (YAML or JSON)')
    .requiredOption('--id <id>', 'a short id: lower-case letters, digits, dot, dash or underscore (recorded with what they do)')
    .requiredOption('--name <name>', 'the name the PIN pad shows')
    .action(async (o: { config: string; id: string; name: string }) => console.log(await (await supervisorCommands()).addSupervisor(o.config, o.id, o.name, await readStdin())));
  supervisor
    .command('set-pin')
    .description("set a supervisor's PIN (6 to 12 digits, the first line of stdin) and clear their lockout")
    .requiredOption('--config <file>', 'settings file (YAML or JSON)')
    .requiredOption('--id <id>', 'the supervisor')
    .action(async (o: { config: string; id: string }) => console.log(await (await supervisorCommands()).setSupervisorPin(o.config, o.id, await readStdin())));
  supervisor
    .command('remove')
    .description('remove a supervisor (what they did stays in the audit trail and the log)')
    .requiredOption('--config <file>', 'settings file (YAML or JSON)')
    .requiredOption('--id <id>', 'the supervisor')
    .action(async (o: { config: string; id: string }) => console.log(await (await supervisorCommands()).removeSupervisor(o.config, o.id)));
  supervisor
    .command('list')
    .description('list supervisors: id, name, created, last login, locked or not')
    .requiredOption('--config <file>', 'settings file (YAML or JSON)')
    .option('--json', 'one JSON array')
    .action(async (o: { config: string; json?: boolean }) => console.log(await (await supervisorCommands()).listSupervisors(o.config, Boolean(o.json))));

  const keys = program.command('keys').description('hub signing keys');
  keys
    .command('generate')
    .description('make a hub signing key pair (private key for the hub, public key for kiosks)')
    .requiredOption('--out <dir>', 'folder to write the key pair into')
    .addOption(new Option('--alg <algorithm>', 'signature algorithm').choices(['EdDSA', 'ES256']).default('EdDSA'))
    .addOption(
      new Option('--role <role>', 'what the key signs: pass (worker passes) or downlink (data the hub sends to kiosks); one key, one role')
        .choices(KEY_ROLE_NAMES)
        .makeOptionMandatory(),
    )
    .action(async (o: { out: string; alg: 'EdDSA' | 'ES256'; role: KeyRole }) => console.log((await passCommands()).generateKeys(o.out, o.alg, o.role)));

  const pass = program.command('pass').description('worker passes (signed QR codes)');
  pass
    .command('issue')
    .description("print a signed pass's QR text")
    .requiredOption('--key <file>', "hub private key (PEM)")
    .requiredOption('--worker <id>', 'worker id')
    .option('--expires <iso8601>', 'expiry (default: one year from now)')
    .option('--issuer <name>', 'issuer name written into the pass', 'safegate-hub')
    .action(async (o: { key: string; worker: string; expires?: string; issuer: string }) => {
      const { IDENTIFIER_RULE, isWorkerId } = await import('../../base/common/ids.js');
      if (!isWorkerId(o.worker)) throw new CliError(`--worker: ${IDENTIFIER_RULE}`, 2);
      console.log(await (await passCommands()).issuePassText(o.key, o.worker, o.expires, o.issuer));
    });
  pass
    .command('verify')
    .description('check a pass offline and explain the result')
    .argument('<text>', 'the QR text (quote it: it may contain spaces)')
    .requiredOption('--keys <dir>', "a kiosk's keys folder (keys/pass/*.pub.pem), or a folder of pass public keys")
    .option('--at <iso8601>', 'check as of this time instead of now')
    .action(async (text: string, o: { keys: string; at?: string }) => {
      const { ok, report } = await (await passCommands()).explainPass(text, o.keys, o.at);
      console.log(report);
      if (!ok) process.exitCode = 1;
    });

  const roster = program.command('roster').description('the local worker roster');
  roster
    .command('import')
    .description('import workers from a CSV file; all rows or none')
    .argument('<file.csv>', 'UTF-8 CSV with a header row')
    .requiredOption('--config <file>', 'settings file')
    .option('--replace', 'replace the whole roster instead of adding and updating')
    .action(async (file: string, o: { config: string; replace?: boolean }) => console.log((await commands()).importRoster(file, o.config, Boolean(o.replace))));

  program
    .command('log')
    .description('print the local entry log')
    .requiredOption('--config <file>', 'settings file')
    .option('--since <iso8601>', 'only events at or after this time (without an offset: in the province time zone)')
    .option('--utc', 'times in UTC instead of the province time zone (time.zone in the settings)')
    .option('--json', 'one JSON object per line (times as ISO 8601 UTC in wallTime)')
    .action(async (o: { config: string; since?: string; utc?: boolean; json?: boolean }) => {
      const [{ readLog }, { eventJsonLine, formatEventLine }] = await Promise.all([commands(), import('./log-format.js')]);
      const { zone, events } = readLog(o.config, o.since);
      for (const e of events) process.stdout.write((o.json ? eventJsonLine(e) : formatEventLine(e, o.utc ? 'utc' : { zone })) + '\n');
    });

  program
    .command('status')
    .description('outbox depth, how old the downloaded data is, notices in force')
    .requiredOption('--config <file>', 'settings file')
    .option('--json', 'one JSON object')
    .action(async (o: { config: string; json?: boolean }) => {
      const s = (await commands()).statusOf(o.config);
      console.log(o.json ? JSON.stringify(s) : (await commands()).formatStatus(s));
    });

  const gpio = program.command('gpio').description("the gate's simulated inputs (tests and the demo; real inputs are wired contacts)");
  gpio
    .command('set')
    .description('drive a simulated input of the running kiosk: emergency release or passage sensor')
    .addArgument(new Argument('<input>', 'which input').choices(['emergency', 'passage']))
    .addArgument(new Argument('<state>', 'on, off, or pulse (on, then off: one person through the sensor)').choices(['on', 'off', 'pulse']))
    .requiredOption('--config <file>', 'settings file')
    .action(async (input: 'emergency' | 'passage', state: 'on' | 'off' | 'pulse', o: { config: string }) =>
      console.log(await (await import('./gpio-commands.js')).setGpioInput(o.config, input, state)),
    );

  registerSelftestCommand(program);

  registerTripCommands(program);

  registerEnrolCommands(program);

  registerDccCommands(program);

  const config = program.command('config').description('the settings file');
  config
    .command('check')
    .description('validate a settings file and list every problem')
    .requiredOption('--config <file>', 'settings file')
    .action(async (o: { config: string }) => {
      const forRun = (await import('../core/config.js')).loadSettingsForRun(o.config);
      // A packaged kiosk's file before enrolment is valid on its own: say so, and what comes next.
      if (forRun.kind === 'not-enrolled') {
        if ('damaged' in forRun && forRun.damaged) throw new CliError(`${o.config}: the file is valid, but ${forRun.reason}; re-enrol with \`safegate enrol --force\``, 1);
        console.log(`${o.config}: OK (not enrolled yet: scan an enrolment code at the kiosk, or \`safegate enrol --config ${o.config} --token-file CODE\`)`);
        return;
      }
      const loaded = forRun.loaded;
      // An enrolled kiosk's settings are layers: say which applied (with versions) and which were left out.
      const layers = loaded.layers ? ` (layers: ${loaded.layers.applied.map((l) => (l.version ? `${l.layer} v${l.version}` : l.layer)).join(' < ')})` : '';
      console.log(`${o.config}: OK${layers}${(loaded.layers?.ignored ?? []).map((w) => `\n  ${w}`).join('')}`);
    });
  config
    .command('schema')
    .description('print the settings JSON Schema (with defaults and descriptions)')
    .action(async () => console.log((await commands()).configSchemaText()));

  const hub = program.command('hub').description('the reference hub (provincial side)');
  registerFleetHubCommands(hub);
  hub
    .command('run')
    .description('run the hub: ingest kiosk event batches, store them durably, acknowledge them')
    .requiredOption('--config <file>', 'hub settings file (YAML or JSON)')
    .action(async (o: { config: string }) => (await hubCommands()).runHub(o.config));
  hub
    .command('backup')
    .description("write one archive (0600) of what the hub cannot be rebuilt without: its databases (online-consistent; pg_dump with DATABASE_URL), the PKI folder (device CA key), the keys the settings name, the settings file")
    .requiredOption('--config <file>', 'hub settings file')
    .requiredOption('--out <file.tar.gz>', 'the archive to write (never overwritten)')
    .action(async (o: { config: string; out: string }) => console.log(await (await import('./hub-backup-commands.js')).backupHub(o.config, o.out)));
  hub
    .command('restore')
    .description('restore a `hub backup` archive: checksums verified first, the settings file to --config, every other file where those settings put it, with its mode (stop the hub first)')
    .requiredOption('--config <file>', 'where the hub settings file goes (the other files go where it says)')
    .requiredOption('--from <file.tar.gz>', 'the archive')
    .option('--force', 'replace files that exist (and, on PostgreSQL, what the database holds)')
    .action(async (o: { config: string; from: string; force?: boolean }) => console.log(await (await import('./hub-backup-commands.js')).restoreHub(o.config, o.from, Boolean(o.force))));
  const hubRoster = hub.command('roster').description('the roster the hub publishes to kiosks');
  hubRoster
    .command('import')
    .description('import workers from a CSV file (all rows or none); kiosks download the changes')
    .argument('<file.csv>', 'UTF-8 CSV with a header row (same columns as `safegate roster import`)')
    .requiredOption('--config <file>', 'hub settings file')
    .option('--replace', "workers missing from the file are removed (not those on an organisation's list: `hub roster upload` replaces those)")
    .action(async (file: string, o: { config: string; replace?: boolean }) => console.log(await (await hubCommands()).importHubRoster(file, o.config, Boolean(o.replace))));
  hubRoster
    .command('remove')
    .description('remove workers from the roster kiosks download; the hub keeps no record of them but a tombstone')
    .argument('<workerId...>', 'worker ids')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (ids: string[], o: { config: string }) => console.log(await (await hubCommands()).removeHubWorkers(o.config, ids)));
  hubRoster
    .command('upload')
    .description("an organisation's CV 2242 worker list (CSV or XLSX, all rows or none) replaces that organisation's workers only; kiosks download the changes")
    .argument('<file>', 'CSV (UTF-8) or XLSX with a header row: worker id, full name, year of birth, sex, ID card number, phone, current residence, team, test date, test result, vaccine doses (Vietnamese or English headers)')
    .requiredOption('--org <id>', 'the organisation whose list this is')
    .option('--site <id>', "the organisation's site for rows that name none (needed when it has several)")
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (file: string, o: { config: string; org: string; site?: string }) => console.log(await (await registryCommands()).uploadHubWorkerList(o.config, file, o)));
  const notice = hub.command('notice').description('government notices shown on kiosks');
  notice
    .command('publish')
    .description('publish a notice; kiosks keep and show it until it expires')
    .requiredOption('--config <file>', 'hub settings file')
    .requiredOption('--vi <text>', 'the notice in Vietnamese')
    .option('--en <text>', 'the notice in English')
    .addOption(new Option('--priority <level>', 'how prominently kiosks show it').choices(['info', 'important', 'urgent']).default('important'))
    .option('--starts <iso8601>', 'shown from (default: now)')
    .requiredOption('--expires <iso8601>', 'shown until')
    .option('--id <id>', 'notice id (publishing the same id again replaces it)')
    .action(async (o: { config: string; vi: string; en?: string; priority: 'info' | 'important' | 'urgent'; starts?: string; expires: string; id?: string }) =>
      console.log(await (await hubCommands()).publishHubNotice(o.config, o)),
    );
  notice
    .command('withdraw')
    .description('withdraw a notice before it expires')
    .argument('<id>', 'notice id')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string }) => console.log(await (await hubCommands()).withdrawHubNotice(o.config, id)));
  const hubPass = hub.command('pass').description("worker passes the hub signs with its pass key (passKey), recorded in its pass registry");
  hubPass
    .command('issue')
    .description("issue printed passes to an organisation's workers: all of them, one team or the ones named (each must be on its uploaded list)")
    .requiredOption('--org <id>', 'the organisation')
    .addOption(new Option('--team <team>', 'only this team (as in the list\'s team column)').conflicts('workers'))
    .option('--workers <ids>', 'only these workers, comma-separated')
    .option('--expires <when>', 'valid until: a date or time (province zone), or a number of days such as 90d (default: a year)')
    .option('--codes', "also print each pass's QR text")
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org: string; team?: string; workers?: string; expires?: string; codes?: boolean }) => console.log(await (await hubPassCommands()).issueHubPasses(o.config, o)));
  hubPass
    .command('list')
    .description("an organisation's passes, newest first: pass id, worker, kind, state, issued, expires")
    .requiredOption('--org <id>', 'the organisation')
    .option('--worker <id>', 'only this worker')
    .option('--json', 'one JSON object a line')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org: string; worker?: string; json?: boolean }) => console.log(await (await hubPassCommands()).listHubPasses(o.config, o)));
  hubPass
    .command('revoke')
    .description('revoke a pass, or every live pass of a worker; kiosks refuse them after their next download')
    .argument('[passId]', 'pass id (16 hex digits), the same as --pass')
    .option('--pass <id>', 'the pass id, as `hub pass list` or `safegate pass verify` shows it')
    .option('--worker <id>', 'every live pass of this worker')
    .option('--org <id>', 'refuse unless the pass or worker is of this organisation')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (passId: string | undefined, o: { config: string; pass?: string; worker?: string; org?: string }) =>
      console.log(await (await hubPassCommands()).revokeHubPasses(o.config, { ...o, ...(passId !== undefined ? { pass: o.pass ?? passId } : {}) })),
    );
  hubPass
    .command('sheet')
    .description("print a team's passes on A4 (PDF: eight cards a page, cut lines); workers without a live printed pass are issued one")
    .requiredOption('--org <id>', 'the organisation')
    .requiredOption('--team <team>', 'the team')
    .requiredOption('--out <file.pdf>', 'the PDF to write (it holds live passes: keep it as you would the cards)')
    .option('--expires <when>', 'for passes issued now: valid until a date or time, or a number of days such as 90d (default: a year)')
    .option('--part <n>', 'a team of more than 200 workers is printed in parts of 200 (by name): this part, from 1')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org: string; team: string; out: string; expires?: string; part?: string }) => console.log(await (await hubPassCommands()).printHubPassSheet(o.config, o)));
  const hubLink = hub.command('link').description("personal phone links: each worker opens theirs once on their phone to get a phone-bound pass (the hub only makes them; the organisation sends them)");
  hubLink
    .command('make')
    .description("make a single-use link for each named worker or each worker of a team (on the organisation's list); a worker's earlier phone pass is revoked")
    .requiredOption('--org <id>', 'the organisation')
    .addOption(new Option('--team <team>', 'every worker of this team').conflicts('workers'))
    .option('--workers <ids>', 'these workers, comma-separated')
    .option('--hours <n>', 'how long each link can be used (default 72, at most 720)')
    .option('--base-url <url>', "the address phones reach the console at (behind the TLS proxy); default the console's own address")
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org: string; team?: string; workers?: string; hours?: string; baseUrl?: string }) => console.log(await (await hubLinkCommands()).makeHubLinks(o.config, o)));
  hubLink
    .command('list')
    .description("an organisation's phone links, newest first: link id, worker, state (open, used, expired, retired), and the pass a used link issued")
    .requiredOption('--org <id>', 'the organisation')
    .option('--worker <id>', 'only this worker')
    .option('--json', 'one JSON object a line')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org: string; worker?: string; json?: boolean }) => console.log(await (await hubLinkCommands()).listHubLinks(o.config, o)));
  hub
    .command('policy')
    .description('the entry policy kiosks apply')
    .command('publish')
    .description('publish a policy document (JSON, see docs/policy.md); its version must be newer')
    .argument('<file.json>', 'policy document')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (file: string, o: { config: string }) => console.log(await (await hubCommands()).publishHubPolicy(o.config, file)));
  const hubKeys = hub.command('keys').description('hub signing keys kiosks trust (rotation)');
  hubKeys
    .command('publish')
    .description('publish a new hub public key for one role; kiosks trust it once a transfer signed by a downlink key they have installed brings it')
    .argument('<file.pub.pem>', 'public key from `safegate keys generate`')
    .requiredOption('--config <file>', 'hub settings file')
    .addOption(new Option('--role <role>', 'what the key signs').choices(KEY_ROLE_NAMES).makeOptionMandatory())
    .option('--not-after <iso8601>', 'kiosks stop trusting it then (at the latest after the role\'s longest lifetime)')
    .action(async (file: string, o: { config: string; role: KeyRole; notAfter?: string }) => console.log(await (await hubCommands()).publishHubKey(o.config, file, o.role, o.notAfter)));
  hubKeys
    .command('retire')
    .description('stop kiosks trusting a key published with `hub keys publish`')
    .argument('<kid>', 'key id')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (kid: string, o: { config: string }) => console.log(await (await hubCommands()).retireHubKey(o.config, kid)));
  const hubDccTrust = hub
    .command('dcc')
    .description('EU Digital COVID Certificates (HC1) at the kiosks')
    .command('trust')
    .description('the HC1 signer certificates (DSCs) the kiosks with HC1 on download, signed by the downlink key');
  hubDccTrust
    .command('import')
    .description('replace the trust list with the signers of a file (a PEM or DER certificate, the EU gateway trustList JSON, or {"certificates": [...]}, signed or not); a refused file changes nothing')
    .argument('<file>', 'the trust file')
    .option('--list-key <file.pem>', "the list publisher's public key or certificate: the file must then be the signed form and its signature must verify")
    .option('--json', 'one JSON object: revision, signers, added, changed, removed, unchanged')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (file: string, o: { config: string; listKey?: string; json?: boolean }) => console.log(await (await hubCommands()).importHubDccTrust(o.config, file, o)));
  hubDccTrust
    .command('list')
    .description('the signers kiosks download: kid, country, valid from, valid to, subject')
    .option('--json', 'one JSON object a line')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; json?: boolean }) => {
      const out = await (await hubCommands()).listHubDccTrust(o.config, o);
      if (out) console.log(out);
    });
  hub
    .command('events')
    .description('print what the hub has ingested, one JSON object per line')
    .requiredOption('--config <file>', 'hub settings file')
    .option('--device <id>', 'only this device')
    .option('--since <iso8601>', 'only events at or after this time')
    .option('--json', 'JSON lines (the only format)')
    .action(async (o: { config: string; device?: string; since?: string }) => (await hubCommands()).printHubEvents(o.config, o));
  const hubDevice = hub.command('device').description("one device: its site and checkpoint (a site's devices share its live stream), and the settings the hub sends it");
  hubDevice
    .command('assign')
    .description('put devices in a site, or at a checkpoint and so in its site (moving them from another one)')
    .argument('<device...>', 'device ids (their certificate CN)')
    .addOption(new Option('--site <id>', 'site id (as in the kiosks\' checkpoint.site)').conflicts('checkpoint'))
    .option('--checkpoint <id>', 'a checkpoint registered with `hub checkpoint add` (the devices join its site)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (ids: string[], o: { config: string; site?: string; checkpoint?: string }) => {
      if (o.checkpoint !== undefined) console.log(await (await registryCommands()).placeHubDevices(o.config, o.checkpoint, ids));
      else if (o.site !== undefined) console.log(await (await hubCommands()).assignHubDevices(o.config, o.site, ids));
      else throw new CliError('name the site (--site) or the checkpoint (--checkpoint) the devices go to', 2);
    });
  hubDevice
    .command('unassign')
    .description('take devices out of their site: they hear no site stream')
    .argument('<device...>', 'device ids')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (ids: string[], o: { config: string }) => console.log(await (await hubCommands()).unassignHubDevices(o.config, ids)));
  hubDevice
    .command('list')
    .description('each site and its devices')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string }) => console.log(await (await hubCommands()).listHubDevices(o.config)));
  registerDeviceSettingsCommands(hubDevice);
  hub
    .command('trace')
    .description(
      "narrow tracing: who shared a zone, team, canteen, dormitory or bus with a worker or a visitor (F1; F2 on request), from the kiosks' passages and phone check-ins, by place and day; " +
        'also the visitors on the case\'s sites while the case was there, and a visitor case\'s own visits. --json keys: caseWorkerId (a worker id or the visitor\'s pseudonym), caseKind (worker|visitor), ' +
        'fromMs, toMs, options, casePresence, contacts (kind worker|visitor; a visitor has visitor {name, host, purpose} and orgId the organisation of the site where they met the case), visitorsOnSite ({visitorId, orgId, visitor, siteId, enteredMs, leftMs|null, overlapMinutes, unverifiedClock}), ' +
        'caseVisits (a visitor case: {siteId, visitor, enteredMs, leftMs|null, unverifiedClock})',
    )
    .option('--worker <id>', 'the index case: a worker id')
    .option('--visitor <pseudonym>', "the index case: a visitor, by the pseudonym the kiosk keeps (v<key id>.<32 hex digits>)")
    .option('--from <time>', 'start of the period (ISO 8601; a plain date or a time without offset is in the province zone; default 14 days before --to)')
    .option('--to <time>', 'end of the period (default now); at most 60 days after --from')
    .option('--second-degree', "also the F2: the F1's own contacts")
    .option('--json', 'print the trace as JSON')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; worker?: string; visitor?: string; from?: string; to?: string; secondDegree?: boolean; json?: boolean }) => console.log(await (await import('./trace-commands.js')).traceHubWorker(o.config, o)));
  registerAlertCommands(hub);
  registerDevicesCommands(hub);
  registerTripHubCommands(hub);
  registerReportCommands(hub);
  hub
    .command('declaration')
    .description('health declarations: a health officer clears a flagged one (it otherwise stands for the rest of its day)')
    .command('clear')
    .description("clear a worker's flagged declaration: their kiosks admit them again at their next roster download; who, when and why are kept at the hub")
    .argument('<worker>', 'the worker id')
    .requiredOption('--reason <text>', 'why (one line, kept with who cleared it and when)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (worker: string, o: { config: string; reason: string }) => console.log(await (await import('./hub-declaration-commands.js')).clearHubDeclaration(o.config, worker, o)));
  const hubPerson = hub.command('person').description('Decree 13 requests about one person: access (export) and erasure; each writes an audit line that names no one');
  hubPerson
    .command('export')
    .description('everything the hub holds about one worker (list row, roster record, passes, events, alerts) as one JSON document')
    .requiredOption('--worker <id>', 'the worker id')
    .option('--out <file.json>', 'write it to this new file (0600) instead of stdout')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; worker: string; out?: string }) => console.log(await (await hubPersonCommands()).exportHubPerson(o.config, o)));
  hubPerson
    .command('erase')
    .description("remove one worker everywhere on the hub: roster (kiosks drop them), list row, passes (revoked), events anonymised, alerts deleted")
    .requiredOption('--worker <id>', 'the worker id')
    .option('--force', 'erase even under an active health measure (F0/F1, quarantine) once the health authority says tracing is done')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; worker: string; force?: boolean }) => console.log(await (await hubPersonCommands()).eraseHubPerson(o.config, o)));
  const hubOrg = hub.command('org').description('organisations (companies, agencies, markets) and their worker lists');
  hubOrg
    .command('add')
    .description('register an organisation')
    .argument('<id>', 'organisation id (letters, digits, dot, underscore, dash)')
    .requiredOption('--name <name>', 'its name, as workers know it')
    .addOption(new Option('--kind <kind>', 'what it is').choices(['company', 'agency', 'market']).default('company'))
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; name: string; kind: 'company' | 'agency' | 'market' }) => console.log(await (await registryCommands()).addHubOrganisation(o.config, id, o)));
  hubOrg
    .command('list')
    .description('each organisation: kind, sites, workers, when its worker list was uploaded, name')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string }) => console.log(await (await registryCommands()).listHubOrganisations(o.config)));
  const hubSite = hub.command('site').description("an organisation's sites (a site's devices share its live stream)");
  hubSite
    .command('add')
    .description('register a site of an organisation (a site already named by `hub device assign` is given to it, devices included)')
    .argument('<id>', 'site id')
    .requiredOption('--org <id>', 'the organisation it belongs to')
    .option('--name <name>', 'its name (the id when not given)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; org: string; name?: string }) => console.log(await (await registryCommands()).addHubSite(o.config, id, o)));
  hubSite
    .command('list')
    .description('each site: organisation, devices, checkpoints, name')
    .option('--org <id>', 'only this organisation')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; org?: string }) => console.log(await (await registryCommands()).listHubSites(o.config, o)));
  const hubCheckpoint = hub.command('checkpoint').description('checkpoints at each site and the organisations they serve');
  hubCheckpoint
    .command('add')
    .description('register a checkpoint at a site')
    .argument('<id>', 'checkpoint id')
    .requiredOption('--site <id>', 'the site it is at')
    .addOption(new Option('--kind <kind>', 'what it is').choices(['gate', 'zone', 'team', 'canteen', 'dormitory', 'bus']).makeOptionMandatory())
    .option('--name <name>', 'its name (the id when not given)')
    .option('--org <id...>', "the organisations it serves (the site's organisation when not given)")
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; site: string; kind: 'gate' | 'zone' | 'team' | 'canteen' | 'dormitory' | 'bus'; name?: string; org?: string[] }) =>
      console.log(await (await registryCommands()).addHubCheckpoint(o.config, id, o)),
    );
  hubCheckpoint
    .command('serve')
    .description("set the organisations a checkpoint serves: its kiosks receive those organisations' workers only")
    .argument('<id>', 'checkpoint id')
    .requiredOption('--org <id...>', 'the organisations it serves from now on (all of them)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; org: string[] }) => console.log(await (await registryCommands()).serveHubCheckpoint(o.config, id, o.org)));
  hubCheckpoint
    .command('list')
    .description('each checkpoint: kind, site, organisations served, name')
    .option('--site <id>', 'only this site')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; site?: string }) => console.log(await (await registryCommands()).listHubCheckpoints(o.config, o)));
  hubCheckpoint
    .command('routes')
    .description("link a bus checkpoint to the routes it rides: its kiosks receive those routes' riders as their roster")
    .argument('<id>', 'a checkpoint of kind bus')
    .requiredOption('--route <id...>', 'the routes it rides (all of them)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; route: string[] }) => console.log(await (await registryCommands()).linkHubCheckpointRoutes(o.config, id, o.route)));
  hubCheckpoint
    .command('code')
    .description("a checkpoint's signed QR code for check-in where there is no kiosk: workers' phone pages scan it (static, or --rotating: the current 30-second code)")
    .requiredOption('--checkpoint <id>', 'a checkpoint registered with `hub checkpoint add`')
    .option('--rotating', "the current code of a rotating one (refused a minute after its 30 s window)")
    .option('--png <file>', 'also write the code as a PNG image to print')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; checkpoint: string; rotating?: boolean; png?: string }) =>
      console.log(await (await import('./checkpoint-code-commands.js')).checkpointCode(o.config, o)),
    );
  const hubSupervisor = hub.command('supervisor').description("supervisors of a site, with a kiosk PIN: sent signed to the site's kiosks (PINs on stdin, never on the command line)");
  hubSupervisor
    .command('add')
    .description("add a supervisor of a site; their PIN (10 to 12 digits) is the first line of stdin, kept only as a scrypt hash")
    .requiredOption('--site <id>', 'their site')
    .requiredOption('--name <name>', 'their name, as the kiosk shows it')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; site: string; name: string }) => console.log(await (await registryCommands()).addHubSupervisor(o.config, o, await readStdin())));
  hubSupervisor
    .command('remove')
    .description('remove a hub supervisor: every kiosk of their site drops them at its next sync')
    .argument('<id>', 'the supervisor (hub supervisor list)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string }) => console.log(await (await registryCommands()).removeHubSupervisor(o.config, id)));
  hubSupervisor
    .command('rotate')
    .description("new random PINs for every hub supervisor of a site (printed once), e.g. when one of its kiosks is lost: the kiosks take them at their next sync")
    .requiredOption('--site <id>', 'the site')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; site: string }) => console.log(await (await registryCommands()).rotateHubSupervisors(o.config, o)));
  hubSupervisor
    .command('list')
    .description('hub supervisors: id, site, name')
    .option('--site <id>', 'only this site')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string; site?: string }) => console.log(await (await registryCommands()).listHubSupervisors(o.config, o)));
  const hubVehicle = hub.command('vehicle').description('shuttle vehicles: plate, the organisations they carry for, drivers');
  hubVehicle
    .command('add')
    .description('register a vehicle')
    .argument('<id>', 'vehicle id')
    .requiredOption('--plate <plate>', 'its number plate, e.g. 51B-123.45')
    .requiredOption('--org <id...>', 'the organisations it carries for')
    .option('--driver-worker <id...>', "drivers who are workers on an organisation's list")
    .option('--driver-name <name...>', 'drivers who are not (named)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; plate: string; org: string[]; driverWorker?: string[]; driverName?: string[] }) =>
      console.log(await (await registryCommands()).addHubVehicle(o.config, id, o)),
    );
  hubVehicle
    .command('drivers')
    .description("set a vehicle's drivers (the whole list; a driver left out, named or not, is removed)")
    .argument('<id>', 'vehicle id')
    .option('--driver-worker <id...>', "drivers who are workers on an organisation's list")
    .option('--driver-name <name...>', 'drivers who are not (named)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; driverWorker?: string[]; driverName?: string[] }) => console.log(await (await registryCommands()).setHubVehicleDrivers(o.config, id, o)));
  hubVehicle
    .command('list')
    .description('each vehicle: plate, organisations, drivers, routes')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string }) => console.log(await (await registryCommands()).listHubVehicles(o.config)));
  const hubRoute = hub.command('route').description('shuttle routes: the organisations they serve, their vehicle and riders');
  hubRoute
    .command('add')
    .description('register a route')
    .argument('<id>', 'route id')
    .requiredOption('--org <id...>', 'the organisations it serves')
    .option('--vehicle <id>', 'the vehicle that runs it')
    .option('--name <name>', 'its name (the id when not given)')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (id: string, o: { config: string; org: string[]; vehicle?: string; name?: string }) => console.log(await (await registryCommands()).addHubRoute(o.config, id, o)));
  hubRoute
    .command('list')
    .description('each route: organisations, vehicle, riders, bus checkpoints, name')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string }) => console.log(await (await registryCommands()).listHubRoutes(o.config)));
  hubRoute
    .command('riders')
    .description("set who rides a route (the whole list): worker ids, or a file of them, one a line; each on the list of an organisation the route serves")
    .argument('<file-or-ids...>', 'a file of worker ids, or the ids')
    .requiredOption('--route <id>', 'the route')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (args: string[], o: { config: string; route: string }) => console.log(await (await registryCommands()).setHubRouteRiders(o.config, o.route, args)));
  const hubUser = hub.command('user').description('web console accounts (the console is served by `safegate hub run`)');
  hubUser
    .command('add')
    .description('add a console account; its password (12 to 200 characters) is the first line of stdin, never an argument')
    .requiredOption('--config <file>', 'hub settings file')
    .requiredOption('--name <name>', 'the account name used to sign in')
    .addOption(new Option('--role <role>', 'operator (everything), manager (one organisation) or health (read-only, every organisation)').choices(['operator', 'manager', 'health']).makeOptionMandatory())
    .option('--org <id>', "the organisation a manager manages (managers only)")
    .action(async (o: { config: string; name: string; role: string; org?: string }) =>
      console.log(await (await consoleCommands()).addConsoleUser(o.config, o, await readStdin())),
    );
  hubUser
    .command('list')
    .description('console accounts: name, role, organisation, created')
    .requiredOption('--config <file>', 'hub settings file')
    .action(async (o: { config: string }) => console.log(await (await consoleCommands()).listConsoleUsers(o.config)));

  program
    .command('demo')
    .description('set up and run a demo kiosk in a folder: keys, roster, sample passes, simulated scanner and GPIO')
    .option('--dir <dir>', 'demo folder', 'var/demo')
    .addOption(new Option('--screens <how>', 'how to show the screens').choices(['auto', 'electron', 'chromium', 'address', 'none']).default('auto'))
    .action(async (o: { dir: string; screens: ScreenMode }) => (await import('./demo.js')).runDemo(o.dir, o.screens));

  return program;
}

/**
 * Turns any failure into one line on stderr and a non-zero exit code; a settings file's problems
 * follow that line, one per line ("path: what is wrong, what is expected").
 */
function reasonOf(err: unknown): { message: string; code: number; details?: string[] } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof SettingsError) {
    const n = err.problems.length;
    // The file itself (unreadable, not YAML) is one line; problems inside it are listed one per line.
    if (n === 1 && !err.problems[0]!.path) return { message: `${err.file}: ${err.problems[0]!.message}`, code: 2 };
    return { message: `invalid settings in ${err.file} (${n} problem${n === 1 ? '' : 's'}):`, code: 2, details: err.problems.map(problemLine) };
  }
  // Refusals whose message is already the one-line reason (matched by name: their modules load lazily).
  if (err instanceof Error && ['RosterImportError', 'PolicyError', 'StoreVersionError', 'KeyFileError'].includes(err.name)) {
    return { message: err.message, code: 1 };
  }
  return { message: err instanceof Error ? err.message : String(err), code: 1 };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (and help for --help, which is exit 0).
      return err.exitCode;
    }
    const { message, code, details = [] } = reasonOf(err);
    const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');
    process.stderr.write([`safegate: ${oneLine(message)}`, ...details.map((d) => `  ${oneLine(d)}`)].join('\n') + '\n');
    return code;
  }
}
