import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { createLogger } from '../../../base/node/logger.js';
import { EvdevScanner } from '../../../device/scanner/evdev-scanner.js';
import { ScanLineFramer, type FramedLine } from '../../../device/scanner/framing.js';
import type { ScannerState } from '../../../device/scanner/scanner.js';
import type { Settings } from '../config.js';
import { errorText, fail, pass, warn, type CheckOutcome } from './check.js';
import { heldStateUnknown, type RunningKiosk } from './running-kiosk.js';

type ScannerSettings = Settings['scanner'];

/** Lines framed from an opened scanner port, one at a time. */
export interface ScanLineSource {
  /** The next framed line (valid or refused), or null when none came within `timeoutMs`. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<FramedLine | null>;
  close(): Promise<void>;
}

/** Finds and opens the scanner the settings name; throws with the reason when it cannot. */
export type OpenScanner = (s: ScannerSettings) => Promise<{ path: string; lines: ScanLineSource }>;

/** Asking the operator to scan: where the prompt goes and how long to wait. null: do not ask. */
export interface ScanRequest {
  timeoutMs: number;
  prompt(text: string): void;
}

export interface ScannerCheckInput {
  settings: ScannerSettings;
  /** A kiosk running on these settings holds the port: what it says of its scanner is reported, the port is not fought for. */
  running: RunningKiosk | null;
  ask: ScanRequest | null;
  open?: OpenScanner;
}

const where = (s: ScannerSettings) =>
  s.source === 'evdev' ? (s.evdevPath ?? '(no evdevPath set)') : s.path ? s.path : s.usb ? `USB ${s.usb.vendorId}:${s.usb.productId}` : '(no port set)';

/**
 * The scanner: the port present and openable, then (when the operator is there) one code read through
 * the kiosk's own framer. Only the length of what was read is reported, never the text.
 */
export async function scannerCheck(input: ScannerCheckInput, signal?: AbortSignal): Promise<CheckOutcome> {
  const s = input.settings;
  if (s.source === 'none') return warn('no scanner in the settings (scanner.source: none): codes only from the camera', 'set scanner.source: serial and scanner.path (or usb) if this kiosk has a scanner');
  if (s.source === 'stdin') return warn('simulated scanner (scanner.source: stdin): no hardware to test', 'set scanner.source: serial on a real kiosk');
  if (input.running) return runningScanner(s, input.running);
  let opened: { path: string; lines: ScanLineSource };
  try {
    opened = await (input.open ?? (s.source === 'evdev' ? openEvdevScanner : openSerialScanner))(s);
  } catch (err) {
    const text = errorText(err);
    if (s.source === 'evdev') return fail(`${where(s)}: cannot open (${text})`, evdevAction(text));
    const action = /EACCES|permission denied/i.test(text)
      ? "add the kiosk's user to the dialout group (the package does), or fix the device's permissions"
      : /lock|busy/i.test(text)
        ? 'another program holds the port: stop it (is a kiosk running under another user?)'
        : "plug the scanner in; check scanner.path or scanner.usb (`ls -l /dev/serial/by-id/`)";
    return fail(`${where(s)}: cannot open (${text})`, action);
  }
  try {
    if (!input.ask) return warn(`${opened.path} opens; reading not tried (--no-scan, or no terminal to ask at)`, 'run `safegate selftest` at the kiosk\'s terminal and scan a code when asked');
    const seconds = Math.round(input.ask.timeoutMs / 1000);
    input.ask.prompt(`scan any code now (within ${seconds} s)`);
    const line = await opened.lines.next(input.ask.timeoutMs, signal);
    if (line === null) {
      if (s.source === 'evdev') return fail(`${opened.path} opens, but nothing was read in ${seconds} s`, 'scan a code when asked; set the scanner to keyboard (HID) mode, US layout, Enter after each code');
      return fail(`${opened.path} opens, but nothing was read in ${seconds} s`, `scan a code when asked; check the scanner's line suffix (scanner.suffix: ${s.suffix}) and speed (scanner.baudRate: ${s.baudRate})`);
    }
    if (line.kind === 'rejected') {
      if (s.source === 'evdev') return fail(`${opened.path}: the scanner typed a line the kiosk refuses (${line.reason}: ${line.detail})`, `set the scanner to the US keyboard layout with Enter after each code and no other keys; codes up to ${s.maxLineLength} characters`);
      return fail(`${opened.path}: the scanner sent a line the kiosk refuses (${line.reason}: ${line.detail})`, `check the scanner's settings: line suffix (scanner.suffix: ${s.suffix}), UTF-8 output, codes up to ${s.maxLineLength} bytes`);
    }
    return pass(`${opened.path}: read a code of ${[...line.text].length} characters`);
  } finally {
    await opened.lines.close();
  }
}

/** The running kiosk's own scanner, as it sees it (the supervisor screen's self-test). */
export function liveScannerCheck(settings: ScannerSettings, state: ScannerState | undefined): CheckOutcome {
  if ((settings.source !== 'serial' && settings.source !== 'evdev') || state === undefined) return scannerCheckWithoutPort(settings);
  if (state === 'ready') return pass(`${where(settings)}: connected; scan a code to see it work`);
  return fail(`${where(settings)}: ${state}`, "plug the scanner in; check scanner.path or scanner.usb; the kiosk reconnects by itself");
}

/** The scanner of a kiosk running beside the self-test, as that kiosk last said (its runtime status, every 2 s). */
function runningScanner(s: ScannerSettings, k: RunningKiosk): CheckOutcome {
  const state = k.status?.scanner;
  if (state === undefined) return heldStateUnknown(k, 'scanner state');
  const who = `the running kiosk (pid ${k.pid})`;
  if (state === 'ready') return pass(`${where(s)}: held by ${who}, connected; scan a code at the gate to see it work`);
  if (state === 'connecting') return warn(`${where(s)}: ${who} is opening it`, 'run the self-test again in a few seconds');
  return fail(`${where(s)}: ${who} says ${state ?? 'no scanner'}`, 'plug the scanner in; check scanner.path or scanner.usb (`ls -l /dev/serial/by-id/`); the kiosk reconnects by itself');
}

function scannerCheckWithoutPort(s: ScannerSettings): CheckOutcome {
  if (s.source === 'stdin') return warn('simulated scanner (scanner.source: stdin): no hardware to test', 'set scanner.source: serial on a real kiosk');
  return warn('no scanner in the settings (scanner.source: none): codes only from the camera', 'set scanner.source: serial and scanner.path (or usb) if this kiosk has a scanner');
}

function evdevAction(text: string): string {
  if (/EACCES|permission/i.test(text)) return "add the kiosk's user to the input group, or fix the device's permissions";
  if (/another program holds/i.test(text)) return 'stop the program that holds the scanner (a desktop session, or a kiosk running under another user)';
  return "plug the scanner in; set scanner.evdevPath to its /dev/input/by-id/usb-...-event-kbd (`ls -l /dev/input/by-id/`)";
}

/**
 * A keyboard-mode scanner's input device, opened and grabbed as the kiosk does (the grab is the part
 * most likely to fail on a real unit), read through the kiosk's own decoder. `grab: false` only for a
 * test that feeds a FIFO.
 */
export function openEvdevScanner(s: ScannerSettings, o: { grab?: boolean } = {}): Promise<{ path: string; lines: ScanLineSource }> {
  const path = s.evdevPath;
  if (!path) return Promise.reject(new Error('no scanner.evdevPath configured'));
  // Connecting waits no longer than this for the device to open (or to say why it cannot).
  const OPEN_TIMEOUT_MS = 5_000;
  const scanner = new EvdevScanner({ path, grab: o.grab ?? true, maxLineLength: s.maxLineLength, layout: s.evdevLayout, reconnect: { initialMs: OPEN_TIMEOUT_MS, maxMs: OPEN_TIMEOUT_MS } }, createLogger({ level: 'silent' }));
  const queue: FramedLine[] = [];
  let wake: (() => void) | undefined;
  const take = (l: FramedLine) => {
    queue.push(l);
    wake?.();
  };
  scanner.on('line', take);
  scanner.on('rejected', take);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => void scanner.stop().then(() => reject(new Error('the device did not open in time'))), OPEN_TIMEOUT_MS);
    scanner.on('state', (state, detail) => {
      if (state === 'ready') {
        clearTimeout(timer);
        resolve({
          path,
          lines: {
            async next(timeoutMs, signal) {
              const deadline = Date.now() + timeoutMs;
              while (queue.length === 0) {
                const left = deadline - Date.now();
                if (left <= 0 || signal?.aborted) return null;
                await Promise.race([new Promise<void>((r) => (wake = r)), sleep(left, undefined, { ref: false })]);
                wake = undefined;
              }
              return queue.shift()!;
            },
            close: () => scanner.stop(),
          },
        });
      } else if (state === 'disconnected') {
        clearTimeout(timer);
        void scanner.stop().then(() => reject(new Error(detail ?? 'cannot open the device')));
      }
    });
    scanner.start();
  });
}

/** The real port: found by path or USB ids, opened (locked, as the kiosk does), framed by the kiosk's framer. */
export const openSerialScanner: OpenScanner = async (s) => {
  let path: string;
  if (s.path) {
    if (!existsSync(s.path)) throw new Error('no such device');
    path = s.path;
  } else if (s.usb) {
    const usb = s.usb;
    const match = (await SerialPort.list()).find((p) => p.vendorId?.toLowerCase() === usb.vendorId && p.productId?.toLowerCase() === usb.productId);
    if (!match) throw new Error(`no serial port with USB id ${usb.vendorId}:${usb.productId}`);
    path = match.path;
  } else throw new Error('no scanner path or USB ids configured');
  const port = new SerialPort({ path, baudRate: s.baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const framer = new ScanLineFramer(s.suffix, s.maxLineLength);
  port.on('error', () => {});
  port.pipe(framer);
  const queue: FramedLine[] = [];
  let wake: (() => void) | undefined;
  framer.on('data', (l: FramedLine) => {
    queue.push(l);
    wake?.();
  });
  return {
    path,
    lines: {
      async next(timeoutMs, signal) {
        const deadline = Date.now() + timeoutMs;
        while (queue.length === 0) {
          const left = deadline - Date.now();
          if (left <= 0 || signal?.aborted) return null;
          await Promise.race([new Promise<void>((r) => (wake = r)), sleep(left, undefined, { ref: false })]);
          wake = undefined;
        }
        return queue.shift()!;
      },
      async close() {
        port.unpipe(framer);
        if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
      },
    },
  };
};
