import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Test data made outside this project lives beside the repository in ../shared/corpora (or where
 * SAFEGATE_CORPORA points). Missing data is an error, not a skip: a test that cannot run must say so.
 */
export function corpus(name: string): string {
  const root = process.env.SAFEGATE_CORPORA ?? resolve(import.meta.dirname, '../../../shared/corpora');
  const dir = resolve(root, name);
  if (!existsSync(dir)) throw new Error(`test corpus ${name} not found at ${dir} (set SAFEGATE_CORPORA to the corpora folder)`);
  return dir;
}
