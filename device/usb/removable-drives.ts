/**
 * Removable drives (USB sticks) the kiosk can write an export to. The port the supervisor desk
 * uses; two adapters: udisks2 over D-Bus (production: mounts a plugged drive for the kiosk's user,
 * polkit permitting) and mounted folders (drives some other agent mounts under a folder; tests and
 * machines without udisks2). One contract test runs against what this machine can run.
 */
export interface RemovableDrive {
  /** Stable while the drive stays plugged in; matches DRIVE_ID_PATTERN (base/common/ids.ts). */
  id: string;
  /** The filesystem label, or the vendor and model when it has none. */
  label: string;
  sizeBytes: number | null;
}

export interface WrittenFile {
  drive: RemovableDrive;
  fileName: string;
  bytes: number;
}

export class DriveError extends Error {
  override name = 'DriveError';
  /**
   * Whether the drive may be pulled out after this failure, when the adapter knows: true when
   * nothing of it is left mounted (unmounted again, or no longer plugged in), false when it is still
   * mounted; undefined when the adapter did not try (the caller may eject it).
   */
  readonly safeToRemove: boolean | undefined;
  constructor(message: string, options: { cause?: unknown; safeToRemove?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.safeToRemove = options.safeToRemove;
  }
}

export interface RemovableDrives {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Drives plugged in now, with a writable filesystem. */
  list(): Promise<RemovableDrive[]>;
  /**
   * Writes a new file at the drive's top folder (mounting it first if needed), then fsyncs the file
   * and the folder: once this resolves the bytes are on the drive. Never overwrites: a name taken
   * gets a " (2)" suffix. Throws DriveError with a plain reason; a file it could not finish is
   * removed, and a drive this call mounted is unmounted again (the error says whether that worked).
   */
  write(driveId: string, fileName: string, bytes: Uint8Array): Promise<WrittenFile>;
  /** Unmounts the drive (and powers it off where the system can), so it is safe to pull out. */
  eject(driveId: string): Promise<void>;
  /** Called when drives come or go. Returns a function that removes the listener. */
  onChange(listener: () => void): () => void;
}

/** An export file name as the desk makes it: nothing a filesystem could read as a path. */
export const EXPORT_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** `name.ext`, `name (2).ext`, ... : the first of these that `taken` says is free. */
export function freeName(fileName: string, taken: (name: string) => boolean): string {
  if (!taken(fileName)) return fileName;
  const dot = fileName.lastIndexOf('.');
  const stem = dot > 0 ? fileName.slice(0, dot) : fileName;
  const ext = dot > 0 ? fileName.slice(dot) : '';
  for (let n = 2; n < 1000; n++) {
    const candidate = `${stem} (${n})${ext}`;
    if (!taken(candidate)) return candidate;
  }
  throw new DriveError('the drive already holds too many files of this name');
}
