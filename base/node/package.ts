import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root folder (holding SafeGate's package.json), from source or from build/. */
export function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'safegate') return dir;
  }
  throw new Error('cannot find the SafeGate package root');
}

/** The built screens (npm run build). */
export function rendererDir(): string {
  return join(packageRoot(), 'build', 'renderer');
}

/** This SafeGate's version, from its package.json. */
export const SOFTWARE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();
