import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import QRCode from 'qrcode';
import { CheckpointCodeError, rotatingCheckpointCode, staticCheckpointCode } from '../../sync/hub/checkpoint-codes.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { CliError } from './errors.js';

/**
 * `safegate hub checkpoint code --checkpoint C [--rotating] [--png FILE]`: the signed QR code of a
 * checkpoint where there is no kiosk (sync/hub/checkpoint-codes.ts), for workers' phones to scan.
 * Static: the text to print (and with --png an image sized to print and post). Rotating: the code of
 * the current 30-second window and when the next is due (a kiosk screen or a small page shows them).
 */
export async function checkpointCode(configFile: string, o: { checkpoint: string; rotating?: boolean; png?: string; nowMs?: number }): Promise<string> {
  const loaded = loadHubSettings(configFile);
  if (!loaded.checkpointCodeKeyPath) throw new CliError('the hub settings have no checkpointCodeKey: make one with `safegate keys generate --role checkpoint-code` and name its private file there');
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(loaded.checkpointCodeKeyPath));
  } catch (err) {
    throw new CliError(`checkpointCodeKey ${loaded.checkpointCodeKeyPath}: not a readable private key (${(err as Error).message})`);
  }
  const directory = await HubDirectory.open(directoryTarget(loaded));
  let name: string;
  try {
    const found = (await directory.checkpoints()).find((c) => c.id === o.checkpoint);
    if (!found) throw new CliError(`no checkpoint ${o.checkpoint} (register it with \`safegate hub checkpoint add\`)`);
    name = found.name;
  } finally {
    await directory.close();
  }
  const nowMs = o.nowMs ?? Date.now();
  let code: string;
  let lines: string[];
  try {
    if (o.rotating) {
      const r = rotatingCheckpointCode(key, o.checkpoint, nowMs);
      code = r.code;
      lines = [code, `rotating code of ${o.checkpoint} (${name}) for ${new Date(r.windowStartMs).toISOString()}; the next is due at ${new Date(r.nextAtMs).toISOString()}, and this one is refused a minute after that`];
    } else {
      code = staticCheckpointCode(key, o.checkpoint);
      lines = [code, `static code of ${o.checkpoint} (${name}): post it where workers check in; a photo of it works as well as the paper`];
    }
  } catch (err) {
    if (err instanceof CheckpointCodeError) throw new CliError(err.message);
    throw err;
  }
  if (o.png) {
    // Medium error correction and a quiet zone of 4 modules: a posted code scanned by a phone from arm's length.
    await QRCode.toFile(o.png, code, { type: 'png', errorCorrectionLevel: 'M', margin: 4, width: 1_024 });
    lines.push(`image: ${o.png}`);
  }
  return lines.join('\n');
}
