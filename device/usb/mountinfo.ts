import { readFile } from 'node:fs/promises';

/** One line of /proc/self/mountinfo (see proc(5)), the fields a drive list needs. */
export interface MountEntry {
  mountId: number;
  /** major:minor of the filesystem's device. */
  device: string;
  mountPoint: string;
  readOnly: boolean;
  fsType: string;
  source: string;
}

/** Undoes the kernel's octal escapes (\040 for a space, \011, \012, \134) in mount points. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parses /proc/self/mountinfo. A line that does not have the documented shape is skipped, never
 * thrown on: the kernel may add fields, and what we cannot read is no drive of ours.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 10 || sep < 6 || fields.length < sep + 3) continue;
    const mountId = Number(fields[0]);
    if (!Number.isSafeInteger(mountId)) continue;
    const options = fields[5]!.split(',');
    out.push({
      mountId,
      device: fields[2]!,
      mountPoint: unescapeOctal(fields[4]!),
      readOnly: options.includes('ro'),
      fsType: unescapeOctal(fields[sep + 1]!),
      source: unescapeOctal(fields[sep + 2]!),
    });
  }
  return out;
}

export async function readMountInfo(file = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(file, 'utf8'));
}

/**
 * Watches the mount table: calls `onChange` when a mount comes or goes. The kernel signals changes to
 * /proc/self/mountinfo with poll(2) priority events, which Node cannot wait for, and inotify does
 * not see /proc; so the table is read again every `intervalMs` (a read of a few kB) and compared.
 */
export class MountWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private reading: Promise<void> | undefined;

  constructor(
    private readonly onChange: (mounts: MountEntry[]) => void,
    private readonly intervalMs = 1000,
    private readonly file = '/proc/self/mountinfo',
  ) {}

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the table now (also what the timer does); resolves once any change is reported. */
  check(): Promise<void> {
    this.reading ??= (async () => {
      try {
        const text = await readFile(this.file, 'utf8');
        // Compared without the mount ids' order noise: the table as a set of lines.
        const key = text.split('\n').sort().join('\n');
        if (key !== this.last) {
          const first = this.last === '';
          this.last = key;
          if (!first) this.onChange(parseMountInfo(text));
        }
      } catch {
        // An unreadable table (no /proc) means no change we can report.
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}
