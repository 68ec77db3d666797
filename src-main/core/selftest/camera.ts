import { constants, accessSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config.js';
import { pass, warn, type CheckOutcome } from './check.js';

export interface CameraCheckInput {
  camera: Settings['screens']['camera'];
  /** A screenless unit (headless, or screens.show: none) reads codes from its scanner only. */
  screenless: boolean;
  devDir?: string;
}

/** A camera: a /dev/video* node present and readable. Never a fail: the scanner reads codes too. */
export function cameraCheck(input: CameraCheckInput): CheckOutcome {
  if (input.screenless) return warn('screenless unit: no camera used (codes from the scanner only)');
  if (!input.camera.enabled) return warn('camera off in the settings (screens.camera.enabled: false)');
  const dir = input.devDir ?? '/dev';
  let nodes: string[];
  try {
    nodes = readdirSync(dir).filter((n) => /^video\d+$/.test(n)).sort();
  } catch {
    nodes = [];
  }
  if (nodes.length === 0) return warn('no camera (/dev/video*) found: codes from the scanner only', 'plug the camera in (USB) or enable the camera module; check `ls /dev/video*`');
  const readable = nodes.filter((n) => {
    try {
      accessSync(join(dir, n), constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (readable.length === 0) return warn(`${nodes.map((n) => join(dir, n)).join(', ')} present but not readable by this user`, "give the kiosk's user the video group (the package does)");
  return pass(`${readable.map((n) => join(dir, n)).join(', ')} present and readable`);
}
