import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { brokerSettingsSchema, type BrokerSettings } from '../../base/common/broker-settings.js';
import { DEVICE_ID_PATTERN, DEVICE_ID_RULE, IDENTIFIER_PATTERN, identifierSchema, workerIdSchema } from '../../base/common/ids.js';
import { SettingsError, type SettingsProblem } from '../../base/common/settings-error.js';
import { timeZoneSchema } from '../../base/common/time.js';
import { problemsOf } from '../../base/common/validation.js';
import { addDeliveredKeys } from './enrolment/delivered-keys.js';
import { ENROLMENT_FILES, layerSettings, readEnrolment, readRemoteDocument, type EnrolledFolder } from './enrolment/folder.js';

export { SettingsError, type SettingsProblem };

/**
 * The kiosk's one settings file (YAML or JSON). Every field has a description and, where a sensible
 * one exists, a default; `safegate config schema` prints this as JSON Schema for IT staff.
 *
 * Every object here is a `z.strictObject`: a misspelled key is an error, never a silent default
 * (test/src-main/core/config.test.ts walks the schema and fails on any object that is not strict).
 */

const CHECKPOINT_KINDS = ['gate', 'zone', 'team', 'canteen', 'dormitory', 'bus'] as const;
export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];

const outputSchema = (defaults: { pin: number; pulseMs: number }) =>
  z
    .strictObject({
      pin: z
        .number()
        .int()
        .min(0)
        .max(63)
        .default(defaults.pin)
        .describe('BCM line number on the GPIO header (not the physical pin number)'),
      activeLow: z.boolean().default(false).describe('true when the output is energised by driving the line low'),
      pulseMs: z
        .number()
        .int()
        .min(10)
        .max(60_000)
        .default(defaults.pulseMs)
        .describe('how long one signal keeps the output on'),
      maxOnMs: z
        .number()
        .int()
        .min(10)
        .max(600_000)
        .default(15_000)
        .describe('safety limit: the output is forced off after this long, whatever asked for it'),
    })
    .refine((o) => o.maxOnMs >= o.pulseMs, { message: 'maxOnMs must be at least pulseMs', path: ['maxOnMs'] })
    .prefault({});

const hexId = z
  .string()
  .regex(/^[0-9a-fA-F]{4}$/, 'expected four hex digits, e.g. "0483"')
  .transform((s) => s.toLowerCase());

const inputSchema = z.strictObject({
  pin: z.number().int().min(0).max(63).describe('BCM line number on the GPIO header (not the physical pin number)'),
  activeLow: z
    .boolean()
    .default(true)
    .describe('true: active when the line is pulled low, as a contact to ground with the pull-up does'),
});

export const settingsSchema = z
  .strictObject({
    device: z
      .strictObject({
        id: z
          .string()
          .regex(DEVICE_ID_PATTERN, DEVICE_ID_RULE)
          .describe('this kiosk\'s id, unique in the province; it names its MQTT topics'),
      })
      .describe('the device itself'),
    checkpoint: z
      .strictObject({
        id: identifierSchema.describe('checkpoint id, unique within the organisation'),
        name: z.string().min(1).max(120).describe('name shown on screen, e.g. "Cổng A"'),
        kind: z.enum(CHECKPOINT_KINDS).describe('what this checkpoint guards'),
        zone: identifierSchema
          .optional()
          .describe('zone the checkpoint opens into; anti-passback by zone uses it (defaults to the checkpoint id)'),
        direction: z
          .enum(['entry', 'exit', 'both'])
          .default('entry')
          .describe('which way people pass; "both" infers each scan\'s direction from the person\'s last passage'),
        site: identifierSchema
          .optional()
          .describe(
            'site the checkpoint belongs to (the hub assigns this device to it: `safegate hub device assign`); with a hub, the site\'s kiosks share their passages live, so anti-passback by zone counts exits at other kiosks',
          ),
      })
      .transform((c) => ({ ...c, zone: c.zone ?? c.id })),
    scanner: z
      .strictObject({
        source: z
          .enum(['serial', 'evdev', 'stdin', 'none'])
          .default('serial')
          .describe(
            'serial: a barcode scanner on a serial or USB-serial port; evdev: a keyboard-mode (HID) USB scanner read from its Linux input device (a unit without screens; see evdevPath); stdin: lines typed on the terminal (simulation); none: no scanner',
          ),
        evdevPath: z
          .string()
          .startsWith('/')
          .optional()
          .describe('with source evdev: the scanner\'s input device, best by id (e.g. /dev/input/by-id/usb-<maker>-event-kbd); it is grabbed, so its keys reach nothing else'),
        evdevLayout: z.enum(['us']).default('us').describe('with source evdev: the keyboard layout the scanner types in (set the scanner to US)'),
        path: z.string().optional().describe('serial device path, e.g. /dev/ttyACM0 (or use usb)'),
        usb: z
          .strictObject({ vendorId: hexId, productId: hexId })
          .optional()
          .describe('find the scanner by USB vendor and product id instead of a fixed path'),
        baudRate: z.number().int().positive().default(9600).describe('serial speed'),
        suffix: z.enum(['CR', 'LF', 'CRLF']).default('CR').describe('what the scanner sends after each code'),
        maxLineLength: z
          .number()
          .int()
          .min(16)
          .max(65_536)
          .default(4096)
          .describe('longest code accepted, in bytes; a longer line is dropped and logged'),
      })
      .refine((s) => s.source !== 'serial' || Boolean(s.path) !== Boolean(s.usb), {
        message: 'a serial scanner needs exactly one of path or usb',
        path: ['path'],
      })
      .refine((s) => s.source !== 'evdev' || s.evdevPath !== undefined, {
        message: 'an evdev scanner needs evdevPath (its input device, e.g. /dev/input/by-id/usb-...-event-kbd)',
        path: ['evdevPath'],
      })
      .prefault({}),
    gate: z
      .strictObject({
        gpio: z
          .enum(['real', 'simulated', 'auto'])
          .default('auto')
          .describe('real: sysfs GPIO via onoff; simulated: record transitions only; auto: real where GPIO is accessible'),
        sysfsRoot: z.string().default('/sys/class/gpio').describe('sysfs GPIO folder'),
        chipLabel: z
          .string()
          .optional()
          .describe('label of the GPIO chip that drives the header; by default the known Raspberry Pi labels are tried'),
        relay: outputSchema({ pin: 17, pulseMs: 3000 }).describe('door or turnstile relay'),
        greenLight: outputSchema({ pin: 27, pulseMs: 3000 }).describe('green "pass" light'),
        redLight: outputSchema({ pin: 22, pulseMs: 3000 }).describe('red "stop" light'),
        buzzer: outputSchema({ pin: 23, pulseMs: 150 }).describe('buzzer; pulseMs is the length of one beep'),
        inputs: z
          .strictObject({
            debounceMs: z
              .number()
              .int()
              .min(0)
              .max(1_000)
              .default(50)
              .describe('a contact must hold a new state this long before it counts (contacts bounce for a few ms)'),
            emergency: inputSchema
              .optional()
              .describe('emergency release (e.g. the fire panel\'s dry contact): while active the gate is held open, scans are still logged, and the hub is alerted'),
            passage: inputSchema
              .extend({
                graceMs: z
                  .number()
                  .int()
                  .min(0)
                  .max(60_000)
                  .default(2_000)
                  .describe('time after the relay pulse in which an admitted person must pass the sensor'),
              })
              .optional()
              .describe('door contact or turnstile sensor: an admit counts as "passed" (and inside) only when it sees someone go through'),
          })
          .prefault({})
          .describe('GPIO inputs; without them the gate works as before'),
      })
      .superRefine((g, ctx) => {
        // One line, one job: an input on an output's line would read the relay back, not the contact.
        const lines: [string, number | undefined][] = [
          ['relay', g.relay.pin],
          ['greenLight', g.greenLight.pin],
          ['redLight', g.redLight.pin],
          ['buzzer', g.buzzer.pin],
          ['inputs.emergency', g.inputs.emergency?.pin],
          ['inputs.passage', g.inputs.passage?.pin],
        ];
        const seen = new Map<number, string>();
        for (const [name, pin] of lines) {
          if (pin === undefined) continue;
          const other = seen.get(pin);
          if (other) ctx.addIssue({ code: 'custom', path: [...name.split('.'), 'pin'], message: `line ${pin} is already the ${other}'s; each signal needs its own line` });
          else seen.set(pin, name);
        }
      })
      .prefault({}),
    bus: z
      .strictObject({
        plate: z.string().trim().min(1).max(20).describe('the bus\'s number plate, shown on the driver screen and in trips at the hub'),
        capacity: z.number().int().min(1).max(200).default(45).describe('seats and standing places: boarding is refused (BUS_FULL) once this many are aboard'),
        routes: z
          .array(
            z.strictObject({
              id: identifierSchema.describe('route id'),
              name: z.string().trim().min(1).max(80).describe('route name the driver picks from, e.g. "KTX Vĩnh Tân – KCN Tân Đông Hiệp"'),
              riders: z
                .array(workerIdSchema)
                .max(2_000)
                .optional()
                .describe('workers who ride this route; others are refused (WRONG_ROUTE); absent: anyone may ride'),
            }),
          )
          .max(50)
          .default([])
          .refine((r) => new Set(r.map((x) => x.id)).size === r.length, 'route ids must differ')
          .describe('the routes this bus runs; with several, the driver chooses one when starting a trip'),
        defaultRoute: identifierSchema
          .optional()
          .describe('with several routes: the route a trip takes when nobody chose one (a driver card, a rider\'s first scan: a unit without screens); one of routes'),
        drivers: z
          .array(workerIdSchema)
          .max(200)
          .default([])
          .describe('workers whose pass (or accepted badge) is a driver card: scanning it starts the trip, or ends the open one'),
        autoEndMinutes: z.number().int().min(10).max(1_440).default(180).describe('a trip left open this long ends by itself (riders aboard alight with it)'),
        depot: z
          .strictObject({
            lat: z.number().min(-90).max(90),
            lon: z.number().min(-180).max(180),
            radiusM: z.number().min(20).max(5_000).default(150).describe('the depot geofence radius, metres'),
            dwellSeconds: z.number().int().min(10).max(3_600).default(120).describe('the bus must stay inside the geofence this long before the trip ends'),
          })
          .optional()
          .describe('where the bus parks: an open trip ends when the bus stays inside this circle (needs gps)'),
      })
      .optional()
      .describe('a shuttle bus (checkpoint kind bus): trips, occupancy, routes, driver cards'),
    visitors: z
      .strictObject({
        enabled: z.boolean().default(false).describe('register visitors here by the QR on their citizen ID card (CCCD) or an HC1 health certificate; needs a screen'),
        hosts: z
          .array(z.string().trim().min(1).max(80))
          .max(50)
          .default([])
          .describe('whom visitors come to see (people or departments) to pick from; the visitor may also type another'),
        purposes: z
          .array(z.string().trim().min(1).max(80))
          .max(50)
          .default(['Họp / Meeting', 'Giao hàng / Delivery', 'Sửa chữa / Repairs', 'Phỏng vấn / Interview'])
          .describe('why they come, to pick from; the visitor may also type another'),
        keyFile: z
          .string()
          .default('visitor.key')
          .describe('the keyring of the visitor pseudonym key (relative to this settings file; root-only, 0600): the ID number is kept only as a keyed hash'),
        keyRotationDays: z
          .number()
          .int()
          .min(1)
          .max(3_650)
          .optional()
          .describe('a new pseudonym key this often (never more often than store.retentionDays; absent: store.retentionDays); retired keys are kept for matching'),
      })
      .prefault({})
      .describe('visitors (issue 14): registration, notice and consent, supervisor approval (the policy decides whether one is needed)'),
    dcc: z
      .strictObject({
        enabled: z.boolean().default(true).describe('read EU-format health certificates (HC1:) and verify them offline against the trust list the hub sends'),
      })
      .prefault({})
      .describe('EU Digital COVID Certificates and Vietnam\'s vaccine passport (same format)'),
    gps: z
      .strictObject({
        source: z
          .enum(['none', 'gpsd', 'nmea'])
          .default('none')
          .describe('none: no position; gpsd: the gpsd daemon (Debian package gpsd); nmea: an NMEA 0183 receiver on a serial port'),
        host: z.string().default('127.0.0.1').describe('with gpsd: its address'),
        port: z.number().int().min(1).max(65_535).default(2947).describe('with gpsd: its port'),
        path: z.string().optional().describe('with nmea: the receiver\'s serial device, e.g. /dev/ttyACM0 or /dev/serial0'),
        baudRate: z.number().int().positive().default(9600).describe('with nmea: serial speed'),
        fixMaxAgeSeconds: z.number().int().min(1).max(300).default(10).describe('a fix older than this counts as "no fix"'),
        clock: z
          .boolean()
          .default(true)
          .describe('date events from the GPS time while the system clock is not synchronised (a bus that booted without network or real-time clock)'),
      })
      .refine((g) => g.source !== 'nmea' || Boolean(g.path), { message: 'an nmea receiver needs path', path: ['path'] })
      .prefault({})
      .describe('the unit\'s GPS receiver: each event records where it happened, and GPS time dates events when nothing else can'),
    store: z
      .strictObject({
        path: z.string().default('safegate.db').describe('SQLite database file (relative to this settings file)'),
        retentionDays: z
          .number()
          .int()
          .min(1)
          .max(365)
          .default(28)
          .describe('events older than this are purged: once the hub has them, or at once on a kiosk without a hub'),
        keyFile: z
          .string()
          .default('safegate.key')
          .describe(
            'private key file (relative to this settings file; made 0600 on first start) for the keyed hash of unknown codes and the supervisor PIN pepper, kept out of the database so a copy of the database alone reveals neither',
          ),
        reserveMB: z
          .number()
          .int()
          .min(0)
          .max(10_240)
          .default(32)
          .describe('disk space kept in reserve (a file of zeros beside the database), given up the moment the disk is full so scans are still recorded'),
        lowSpaceWarnMB: z
          .number()
          .int()
          .min(1)
          .max(1_048_576)
          .default(256)
          .describe('below this much free disk space the kiosk warns (log, heartbeat, screens, status)'),
      })
      .prefault({}),
    hub: z
      .strictObject({
        keysDir: z
          .string()
          .default('keys')
          .describe('folder of the hub\'s trusted public signing keys (*.pub.pem), several at once during rotation'),
        broker: brokerSettingsSchema
          .optional()
          .describe('the hub\'s MQTT broker; without it the kiosk works standalone and keeps every event'),
        consoleUrl: z
          .url({ protocol: /^https?$/, error: 'expected http:// or https:// followed by the hub console\'s address' })
          .optional()
          .describe("the hub console's address (https://...), where supervisors send exports, signed with the broker's client certificate; without it exports go to drives only"),
        batch: z
          .strictObject({
            maxEvents: z.number().int().min(1).max(5_000).default(2_000).describe('events in one uplink batch at most (a backlog drains in batches of this size; a live gate sends what it has after maxAgeMs)'),
            maxBytes: z.number().int().min(1_024).max(256 * 1024).default(256 * 1024).describe('encoded size of one batch at most'),
            maxAgeMs: z.number().int().min(0).max(600_000).default(2_000).describe('a smaller batch waits at most this long for more events'),
          })
          .prefault({}),
        ackTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('resend a batch the hub has not acknowledged by then'),
        heartbeatSeconds: z.number().int().min(5).max(3_600).default(60).describe('how often the kiosk reports its health to the hub'),
        siteStream: z
          .strictObject({
            freshMs: z
              .number()
              .int()
              .min(500)
              .max(600_000)
              .default(15_000)
              .describe(
                "the site stream counts as fresh while the hub was heard within this long (longer than the hub's siteStream.beatMs); while it is stale an entry-only checkpoint does not refuse for anti-passback",
              ),
          })
          .prefault({})
          .describe('the live site stream (with checkpoint.site)'),
      })
      .refine((h) => h.consoleUrl === undefined || Boolean(h.broker?.cert && h.broker.key), {
        message: 'hub.consoleUrl needs hub.broker.cert and hub.broker.key: the kiosk signs the exports it sends with them',
        path: ['consoleUrl'],
      })
      .prefault({}),
    enrolment: z
      .strictObject({
        dir: z
          .string()
          .optional()
          .describe(
            'folder where the kiosk keeps what the hub gave it at enrolment: its key and certificate, the hub CA and keys, the signed settings (relative to this settings file; default: a folder "enrolment" beside the database)',
          ),
        renewBeforeDays: z
          .number()
          .min(1)
          .max(3_650)
          .optional()
          .describe('renew the device certificate when fewer days than this are left (default: a third of its lifetime), give or take a few days per device'),
        caFingerprint: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters (the SHA-256 of the hub CA certificate)')
          .optional()
          .describe(
            "the province hub CA's SHA-256 fingerprint (64 hex, as `safegate hub pki init` prints it): when set, an enrolment code for any other CA is refused (CA_MISMATCH) before the kiosk contacts anything",
          ),
      })
      .prefault({})
      .describe('enrolment with the hub (`safegate enrol`, or an enrolment code scanned at the gate); not used when hub.broker is in this file'),
    policy: z
      .strictObject({
        file: z.string().optional().describe('policy document to use until the hub sends one; default: the built-in policy'),
      })
      .prefault({}),
    badge: z
      .strictObject({
        pattern: z
          .string()
          .default(IDENTIFIER_PATTERN.source)
          .refine(isValidRegExp, 'not a valid regular expression')
          .describe('what a printed employee-number badge looks like (by default any worker id)'),
      })
      .prefault({}),
    clock: z
      .strictObject({
        syncedWhen: z
          .enum(['timesyncd', 'always', 'never'])
          .default('timesyncd')
          .describe('how to tell that the wall clock is synchronised (timesyncd: /run/systemd/timesync/synchronized exists)'),
      })
      .prefault({}),
    time: z
      .strictObject({ zone: timeZoneSchema })
      .prefault({})
      .describe('the province time zone (day boundaries on the screens and in exports)'),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      })
      .prefault({}),
    screens: z
      .strictObject({
        show: z
          .enum(['auto', 'electron', 'chromium', 'address', 'none'])
          .default('auto')
          .describe(
            'how the screens are shown: electron (the kiosk window), chromium (Chromium in kiosk mode over the loopback transport), ' +
              'address (print the address to open), none (screenless unit); auto: electron if available, else chromium, else address',
          ),
        port: z
          .number()
          .int()
          .min(0)
          .max(65_535)
          .default(0)
          .describe('loopback port the screens are served on (127.0.0.1 only); 0 picks a free one'),
        language: z.enum(['vi', 'en']).default('vi').describe('language the screens start in (workers can switch)'),
        resultSeconds: z.number().min(1).max(30).default(4).describe('how long a result stays on screen before the idle screen returns'),
        discreet: z
          .boolean()
          .default(true)
          .describe('the public result screen never shows a health reason, only what to do (healthGuidance); the supervisor screen shows the reason'),
        healthGuidance: z
          .enum(['see-guard', 'medical-room'])
          .default('see-guard')
          .describe('what the public screen tells a person refused for a health reason in discreet mode: see the gate guard, or go to the medical room'),
        languageResetSeconds: z
          .number()
          .int()
          .min(5)
          .max(600)
          .default(30)
          .describe('after a worker switches language, the screens return to `language` after each result and after this long without a touch'),
        camera: z
          .strictObject({
            enabled: z.boolean().default(true).describe('read QR codes from the camera'),
            decoder: z
              .enum(['combined', 'zxing-wasm', 'zxing-js'])
              .default('combined')
              .describe('QR decoder: combined (zxing-cpp in WebAssembly, then more strategies on frames with a code it could not read, within a per-frame budget: see npm run bench:decode), zxing-wasm (zxing-cpp alone) or zxing-js (@zxing/library)'),
            width: z.number().int().min(160).max(3840).default(640).describe('camera frame width asked for'),
            height: z.number().int().min(120).max(2160).default(480).describe('camera frame height asked for'),
          })
          .prefault({}),
        supervisor: z
          .strictObject({
            maxFailedLogins: z.number().int().min(1).max(20).default(5).describe("wrong PINs in a row before a supervisor's sign-in locks"),
            lockoutMinutes: z.number().int().min(1).max(1_440).default(1).describe("a supervisor's first lockout; each further lockout in a row doubles it"),
            maxLockoutMinutes: z.number().int().min(1).max(10_080).default(60).describe('the longest a lockout grows to'),
            sessionMinutes: z.number().int().min(1).max(120).default(10).describe('an idle supervisor session ends after this long'),
            drives: z
              .enum(['auto', 'udisks2', 'folder', 'off'])
              .default('auto')
              .describe('where USB exports go: udisks2 mounts a plugged drive over D-Bus; folder lists drives mounted under drivesFolder by something else; auto tries udisks2; off offers none'),
            drivesFolder: z
              .string()
              .startsWith('/')
              .default('/media')
              .describe('with drives: folder, each filesystem mounted directly under this folder is a drive'),
          })
          .refine((s) => s.maxLockoutMinutes >= s.lockoutMinutes, { message: 'maxLockoutMinutes must be at least lockoutMinutes', path: ['maxLockoutMinutes'] })
          .prefault({}),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    if (s.checkpoint.kind === 'bus' && !s.bus) ctx.addIssue({ code: 'custom', path: ['bus'], message: 'a bus checkpoint needs a bus section (at least its plate)' });
    if (s.bus?.defaultRoute !== undefined && !s.bus.routes.some((r) => r.id === s.bus!.defaultRoute)) {
      ctx.addIssue({ code: 'custom', path: ['bus', 'defaultRoute'], message: `no route ${s.bus.defaultRoute} in bus.routes` });
    }
    if (s.bus && s.checkpoint.kind !== 'bus') ctx.addIssue({ code: 'custom', path: ['bus'], message: 'a bus section needs checkpoint.kind bus' });
    if (s.bus?.depot && s.gps.source === 'none') ctx.addIssue({ code: 'custom', path: ['bus', 'depot'], message: 'a depot geofence needs a GPS receiver (gps.source)' });
  });

function isValidRegExp(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

export type Settings = z.infer<typeof settingsSchema>;
export type CheckpointSettings = Settings['checkpoint'];
export type OutputSettings = Settings['gate']['relay'];

/** Validates an already-parsed settings object; every problem is listed, not just the first. */
export function parseSettings(raw: unknown, file = '(settings)'): Settings {
  const result = settingsSchema.safeParse(raw);
  if (!result.success) {
    throw new SettingsError(file, problemsOf(result.error, { schema: settingsSchema, input: raw }));
  }
  return result.data;
}

/** One layer the effective settings were made of, for `safegate config check` and the log. */
export interface SettingsLayer {
  layer: 'file' | 'enrolment' | 'remote';
  /** The settings document's version (enrolment: 1; remote: 2 and up). */
  version?: number;
  source: string;
}

export interface LoadedSettings {
  settings: Settings;
  /** Absolute paths derived from the settings, resolved against the settings file's folder. */
  paths: { store: string; keysDir: string; policyFile: string | undefined; keyFile: string };
  /** The broker settings with its TLS file paths made absolute, if the kiosk syncs. */
  broker: BrokerSettings | undefined;
  file: string;
  /**
   * The layers laid over each other (file < enrolment < remote), and why a layer was left out (a
   * remote document that no longer checks: the caller logs these). Absent: the file alone.
   */
  layers?: { applied: SettingsLayer[]; ignored: string[] };
  /**
   * The enrolment folder (enrolled, waiting for enrolment, or a standalone kiosk that could be
   * enrolled); absent when the file names hub.broker itself (enrolment is not used).
   */
  enrolmentDir?: string;
}

/** What `safegate run` starts from: a kiosk ready to run, or one that must be enrolled first. */
export type SettingsForRun =
  | { kind: 'ready'; loaded: LoadedSettings }
  | {
      kind: 'not-enrolled';
      /** The local file's settings with placeholder device and checkpoint (NOT_ENROLLED) and no broker. */
      loaded: LoadedSettings;
      enrolmentDir: string;
      /** Why, in words (no enrolment yet, or what is broken in the folder). */
      reason: string;
      /**
       * The folder is there but does not check (what is wrong): the box was enrolled once, so it
       * takes no code scanned at the gate; IT re-enrols it at the shell (safegate enrol --force).
       */
      damaged?: string;
    };

/** The device id and checkpoint a kiosk waiting for enrolment carries; never used for a gate decision or a topic. */
export const NOT_ENROLLED = {
  device: { id: 'not-enrolled' },
  checkpoint: { id: 'not-enrolled', name: 'Chưa đăng ký / Not enrolled', kind: 'gate' as CheckpointKind },
} as const;

/**
 * Effective settings for every command but `run`: the local file, laid under the enrolment document
 * and the newest remote document when the kiosk is enrolled (see loadSettingsForRun). A kiosk that
 * is not enrolled (and whose file does not name a device and checkpoint) is refused with a reason.
 */
export function loadSettings(file: string, nowMs = Date.now()): LoadedSettings {
  const r = loadSettingsForRun(file, nowMs);
  if (r.kind === 'not-enrolled') {
    throw new SettingsError(r.loaded.file, [
      { path: '', message: `this kiosk is not enrolled (${r.reason}); enrol it: safegate enrol --config ${file} --token-file CODE, or scan its enrolment code at the gate` },
    ]);
  }
  return r.loaded;
}

/**
 * The layers, lowest first: the local file; the enrolment document (checkpoint, site, GPIO profile);
 * the newest remote document; then what enrolment fixes (device.id, hub.broker with the folder's
 * certificate, hub.keysDir = the folder's keys). A file that names `hub.broker` itself runs exactly
 * as before and enrolment is not used. A file with no enrolment that names a device and checkpoint
 * is a standalone (or hand-provisioned) kiosk, as before. Each layer is checked again at every load;
 * a remote document that fails is left out (listed in `layers.ignored`), a broken enrolment makes the
 * kiosk not enrolled. Throws SettingsError when the file itself (or the result) is invalid.
 */
export function loadSettingsForRun(file: string, nowMs = Date.now()): SettingsForRun {
  const abs = resolve(file);
  const raw = readSettingsFile(abs);
  if (!isRecord(raw)) return { kind: 'ready', loaded: withPaths(parseSettings(raw, abs), abs) };
  const hub = raw['hub'];
  if (isRecord(hub) && hub['broker'] !== undefined) return { kind: 'ready', loaded: withPaths(parseSettings(raw, abs), abs) };

  // The file on its own (placeholders where enrolment will fill in): its own problems come first.
  const fileAlone = parseSettings({ device: NOT_ENROLLED.device, checkpoint: NOT_ENROLLED.checkpoint, ...raw }, abs);
  const base = dirname(abs);
  const enrolmentDir = fileAlone.enrolment.dir
    ? resolve(base, fileAlone.enrolment.dir)
    : join(dirname(resolve(base, fileAlone.store.path)), 'enrolment');
  const fileLayer: SettingsLayer = { layer: 'file', source: abs };
  const reading = readEnrolment(enrolmentDir, nowMs);

  if (reading.kind !== 'enrolled') {
    if (reading.kind === 'none' && raw['device'] !== undefined && raw['checkpoint'] !== undefined) {
      return { kind: 'ready', loaded: withPaths(parseSettings(raw, abs), abs, { enrolmentDir }) };
    }
    const reason = reading.kind === 'none' ? `no enrolment in ${enrolmentDir}` : `enrolment in ${enrolmentDir} is broken: ${reading.problem}`;
    const loaded = withPaths(fileAlone, abs, { layers: { applied: [fileLayer], ignored: [] }, enrolmentDir });
    return { kind: 'not-enrolled', loaded, enrolmentDir, reason, ...(reading.kind === 'broken' ? { damaged: reading.problem } : {}) };
  }

  const folder = reading.folder;
  // The remote document is checked with the kiosk's current keyring: installed plus delivered keys.
  addDeliveredKeys(folder.keyring, resolve(base, fileAlone.store.path));
  const applied: SettingsLayer[] = [fileLayer, { layer: 'enrolment', version: folder.enrolment.version, source: join(folder.dir, ENROLMENT_FILES.settings) }];
  const ignored: string[] = [];
  let layered = layerSettings(raw, folder.enrolment.settings);
  const remote = readRemoteDocument(folder, nowMs);
  if (remote && !remote.ok) {
    ignored.push(`${ENROLMENT_FILES.remote} left out: ${remote.problems.join('; ')}`);
  } else if (remote?.ok && remote.doc.version <= folder.enrolment.version) {
    ignored.push(`${ENROLMENT_FILES.remote} left out: version ${remote.doc.version} is not newer than the enrolment document's`);
  } else if (remote?.ok) {
    const candidate = layerSettings(layered, remote.doc.settings);
    const check = settingsSchema.safeParse(withEnrolmentIdentity(candidate, folder));
    if (check.success) {
      layered = candidate;
      applied.push({ layer: 'remote', version: remote.doc.version, source: join(folder.dir, ENROLMENT_FILES.remote) });
    } else {
      const problems = problemsOf(check.error, { schema: settingsSchema, input: candidate }).map((p) => `${p.path || '(top)'}: ${p.message}`);
      ignored.push(`${ENROLMENT_FILES.remote} left out (version ${remote.doc.version}): ${problems.join('; ')}`);
    }
  }
  const settings = parseSettings(withEnrolmentIdentity(layered, folder), abs);
  return { kind: 'ready', loaded: withPaths(settings, abs, { layers: { applied, ignored }, enrolmentDir: folder.dir }) };
}

/** What enrolment fixes whatever the layers say: the device id, the broker's TLS files, the hub keys. */
export function withEnrolmentIdentity(layered: unknown, folder: EnrolledFolder): unknown {
  const s = isRecord(layered) ? layered : {};
  const hub = isRecord(s['hub']) ? s['hub'] : {};
  const broker = isRecord(hub['broker']) ? hub['broker'] : {};
  return layerSettings(s, {
    device: { id: folder.state.deviceId },
    hub: {
      keysDir: folder.paths.keys,
      broker: { ...broker, url: typeof broker['url'] === 'string' ? broker['url'] : folder.state.brokerUrl, ca: folder.paths.ca, cert: folder.paths.cert, key: folder.paths.key },
    },
  });
}

/** The settings file as parsed YAML/JSON, not yet validated; SettingsError when unreadable. */
export function readSettingsFile(abs: string): unknown {
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new SettingsError(abs, [{ path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new SettingsError(abs, [{ path: '', message: `not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}` }]);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function withPaths(settings: Settings, abs: string, extra: Pick<LoadedSettings, 'layers' | 'enrolmentDir'> = {}): LoadedSettings {
  const base = dirname(abs);
  const b = settings.hub.broker;
  const at = (f: string | undefined) => (f ? resolve(base, f) : undefined);
  return {
    settings,
    file: abs,
    broker: b ? { ...b, ca: at(b.ca), cert: at(b.cert), key: at(b.key) } : undefined,
    paths: {
      store: resolve(base, settings.store.path),
      keysDir: resolve(base, settings.hub.keysDir),
      keyFile: resolve(base, settings.store.keyFile),
      policyFile: settings.policy.file ? resolve(base, settings.policy.file) : undefined,
    },
    ...extra,
  };
}

export function settingsJsonSchema(): unknown {
  return z.toJSONSchema(settingsSchema, { io: 'input' });
}
