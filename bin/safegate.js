#!/usr/bin/env -S node --max-semi-space-size=2
// The `safegate` command. Runs the compiled CLI; `npm run build` produces it.
// --max-semi-space-size=2: a gate kiosk makes small, short-lived garbage at a steady pace; a young
// generation of at most 2 MB (V8 lets it grow to 16) keeps it under 100 MB on a 1-2 GB board, and
// each collection short. (Run as `node bin/safegate.js` it still works, with V8's default.)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../build/src-main/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('safegate: not built yet; run `npm run build` in the SafeGate folder first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
