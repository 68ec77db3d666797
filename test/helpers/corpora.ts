import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Test data made outside this project lives in a `shared/corpora` folder beside the repository
 * (../shared/corpora; the nearest one up the tree), or where SAFEGATE_CORPORA points. Missing data
 * is an error, not a skip: a test that cannot run must say so.
 */
export function corpus(name: string): string {
  const repo = resolve(import.meta.dirname, '../..');
  let root = process.env.SAFEGATE_CORPORA;
  for (let dir = dirname(repo); !root; dir = dirname(dir)) {
    if (existsSync(join(dir, 'shared', 'corpora'))) root = join(dir, 'shared', 'corpora');
    else if (dirname(dir) === dir) break;
  }
  const path = root ? resolve(root, name) : undefined;
  if (!path || !existsSync(path)) {
    throw new Error(`test corpus ${name} not found (looked for shared/corpora beside ${repo} and above it; set SAFEGATE_CORPORA to the corpora folder)`);
  }
  return path;
}
