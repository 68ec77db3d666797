import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { checkPrivateDir, writePrivateFile } from '../../base/node/private-files.js';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { SimulatedInput } from './simulated-input.js';

/**
 * Driving simulated inputs from outside the kiosk (`safegate gpio set emergency on`), for tests and
 * the demo: a small JSON file of input states, `{"emergency": true}`, in the kiosk's private runtime
 * folder, which the kiosk polls. A file rather than a socket or the loopback API: it opens no port
 * and needs no token, only the folder's permissions (0700, the kiosk's user) guard it, and it works
 * on a screenless unit too. The kiosk reads it only for inputs that are simulated; a kiosk with real
 * GPIO never looks at it. A file that is not what this module writes is refused with a reason.
 */

export const INPUT_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
const MAX_BYTES = 4096;
const POLL_MS = 200;

const controlSchema = z
  .record(z.string(), z.boolean('on or off: true or false'))
  .superRefine((r, ctx) => {
    for (const name of Object.keys(r)) {
      if (!INPUT_NAME_PATTERN.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'not an input name (lower-case letters, digits and dashes)' });
    }
    if (Object.keys(r).length > 16) ctx.addIssue({ code: 'custom', message: 'at most 16 inputs' });
  });

export type InputStates = Record<string, boolean>;

export class InputControlError extends Error {
  override name = 'InputControlError';
}

/** The states in the file; {} when there is none. Throws InputControlError for anything else. */
export function readInputControl(file: string): InputStates {
  let fd: number;
  try {
    // The folder first: one someone else made (or opened) is not ours to believe.
    checkPrivateDir(dirname(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InputControlError((err as Error).message);
  }
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InputControlError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const st = fstatSync(fd);
    checkPrivate(st, file);
    if (st.size > MAX_BYTES) throw new InputControlError(`${file}: ${st.size} bytes, more than an input control file holds (${MAX_BYTES})`);
    const buf = Buffer.alloc(st.size);
    const n = st.size ? readSync(fd, buf, 0, st.size, 0) : 0;
    let raw: unknown;
    try {
      raw = JSON.parse(buf.subarray(0, n).toString('utf8'));
    } catch {
      throw new InputControlError(`${file}: not JSON`);
    }
    const r = controlSchema.safeParse(raw);
    if (!r.success) throw new InputControlError(`${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
    return r.data;
  } finally {
    closeSync(fd);
  }
}

/** Sets one input's state: the file is read, changed and replaced atomically (0600 in a 0700 folder). */
export function setInputControl(file: string, name: string, active: boolean): InputStates {
  if (!INPUT_NAME_PATTERN.test(name)) throw new InputControlError(`"${name}" is not an input name`);
  let states: InputStates;
  try {
    states = readInputControl(file);
  } catch {
    // A damaged file is replaced by one that says only this.
    states = {};
  }
  states[name] = active;
  try {
    writePrivateFile(file, JSON.stringify(states));
  } catch (err) {
    throw new InputControlError(`cannot write ${file}: ${(err as Error).message}`);
  }
  return states;
}

function checkPrivate(st: Stats, file: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) throw new InputControlError(`${file}: owned by another user (uid ${st.uid})`);
  if (st.mode & 0o022) throw new InputControlError(`${file}: writable by other users; refused`);
}

/**
 * Applies the file to the simulated inputs it names, at start and whenever it changes (polled: the
 * file is replaced by rename, which a poll sees whatever the filesystem). Inputs it does not name
 * are left as they are; a name the kiosk has no simulated input for is refused, as is a bad file.
 */
export class InputControlWatcher {
  private timer: NodeJS.Timeout | undefined;
  private lastRefusal = '';

  constructor(
    readonly file: string,
    private readonly inputs: ReadonlyMap<string, SimulatedInput>,
    private readonly onRefused: (reason: string) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.apply();
    // Read every poll rather than on a stat change: a change made before the first stat of a
    // watchFile would never be seen, and the file is a few bytes. Applying is idempotent.
    this.timer = setInterval(() => this.apply(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the file and drives the inputs (also what each poll that sees a change does). */
  apply(): void {
    let states: InputStates;
    try {
      states = readInputControl(this.file);
    } catch (err) {
      this.refuse((err as Error).message);
      return;
    }
    const unknown = Object.keys(states).filter((n) => !this.inputs.has(n));
    if (unknown.length) this.refuse(`${this.file}: no simulated input named ${unknown.join(', ')} (this kiosk has: ${[...this.inputs.keys()].join(', ') || 'none'})`);
    else this.lastRefusal = '';
    for (const [name, active] of Object.entries(states)) this.inputs.get(name)?.setActive(active);
  }

  private refuse(reason: string): void {
    // Said once per distinct problem, not on every poll.
    if (reason === this.lastRefusal) return;
    this.lastRefusal = reason;
    this.onRefused(reason);
  }
}
