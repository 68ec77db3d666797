import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root folder (holding package.json), from source or from build/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the SafeGate package root');
    dir = up;
  }
  return dir;
}

/** The built screens (npm run build:renderer). */
export function rendererDir(): string {
  return join(packageRoot(), 'build', 'renderer');
}
