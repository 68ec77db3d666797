import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layer rules in eslint.config.js, tried with the real config: each arrow that would break the
 * layering is refused with a message naming the rule, and the arrows the design relies on pass.
 * (Type-aware rules are switched off here: the snippets are not part of a TypeScript project.)
 */
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: {
    languageOptions: { parserOptions: { project: false, projectService: false } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-misused-promises': 'off',
      '@typescript-eslint/await-thenable': 'off',
      '@typescript-eslint/return-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
});

async function layerErrors(file: string, specifier: string): Promise<string[]> {
  const [result] = await eslint.lintText(`import * as x from '${specifier}';\nexport default x;\n`, { filePath: file });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const REFUSED: [file: string, specifier: string, why: RegExp][] = [
  // The ground floor imports nothing above it.
  ['base/common/x.ts', '../../src-main/core/gatekeeper.js', /base\/common\/ may not import src-main/],
  ['base/common/x.ts', '../../sync/protocol.js', /base\/common\/ may not import sync/],
  ['base/common/x.ts', '../../device/gpio/output.js', /may not import device/],
  ['base/common/x.ts', '../node/keys.js', /may not import base\/node/],
  ['base/common/x.ts', 'node:fs', /isomorphic/],
  ['base/common/x.ts', 'better-sqlite3', /Node-only package better-sqlite3/],
  ['base/node/x.ts', '../../src-main/core/config.js', /base\/node\/ may not import src-main/],
  ['base/node/x.ts', '../../sync/uplink.js', /base\/node\/ may not import sync/],
  ['base/node/x.ts', 'electron', /only src-main\/shell\/ may import electron/],
  // Devices sit below the core and sync.
  ['device/scanner/x.ts', '../../src-main/core/gatekeeper.js', /device\/ may not import src-main/],
  ['device/gpio/x.ts', '../../sync/uplink.js', /device\/ may not import sync/],
  ['device/camera/x.ts', 'node:fs', /isomorphic/],
  // Sync and the hub share only the ground floor with the kiosk.
  ['sync/x.ts', '../src-main/core/store/downlink-state.js', /sync\/ may not import src-main/],
  ['sync/hub/x.ts', '../../src-main/core/config.js', /sync\/ may not import src-main/],
  ['sync/x.ts', '../device/scanner/scanner.js', /sync\/ may not import device/],
  // The kiosk core never reaches up into sync, the renderer API, the composition root or the shell.
  ['src-main/core/x.ts', '../../sync/uplink.js', /kiosk core \(src-main\/core\) may not import sync/],
  ['src-main/core/store/x.ts', '../../api/screen-service.js', /kiosk core \(src-main\/core\) may not import api/],
  ['src-main/core/x.ts', '../app/kiosk.js', /kiosk core \(src-main\/core\) may not import app/],
  ['src-main/core/x.ts', '../cli/main.js', /may not import cli/],
  ['src-main/core/x.ts', '../shell/main.js', /may not import shell/],
  ['src-main/core/x.ts', 'electron', /only src-main\/shell\/ may import electron/],
  ['src-main/api/x.ts', '../../sync/uplink.js', /renderer API \(src-main\/api\) may not import sync/],
  ['src-main/api/x.ts', '../app/kiosk.js', /renderer API \(src-main\/api\) may not import app/],
  ['src-main/api/contract.ts', 'node:crypto', /isomorphic/],
  ['src-main/api/contract.ts', '../core/config.js', /contract may not import core/],
  ['src-main/app/x.ts', '../cli/main.js', /composition root \(src-main\/app\) may not import cli/],
  ['src-main/app/x.ts', '../shell/main.js', /may not import shell/],
  ['src-main/shell/x.ts', '../core/gatekeeper.js', /Electron shell may not import core/],
  // The screens are DOM-only and see only the isomorphic modules.
  ['src-renderer/x.ts', 'node:fs', /DOM-only/],
  ['src-renderer/x.ts', '../base/node/keys.js', /only the isomorphic modules/],
  ['src-renderer/x.ts', '../src-main/core/gatekeeper.js', /only the isomorphic modules/],
  ['src-renderer/x.ts', '../sync/protocol.js', /only the isomorphic modules/],
  ['src-renderer/x.ts', '../device/gpio/output.js', /only the isomorphic modules/],
  // The hub console: its server sees base/ and sync/hub only, its pages base/common only, and no layer below the command imports it.
  ['console/server/x.ts', '../../src-main/core/config.js', /hub console \(console\/server\) may not import src-main/],
  ['console/server/x.ts', '../../sync/uplink.js', /may import sync\/hub\/ only/],
  ['console/server/x.ts', '../../device/gpio/output.js', /hub console \(console\/server\) may not import device/],
  ['console/server/x.ts', '../ui/api.js', /hub console \(console\/server\) may not import ui/],
  ['sync/hub/x.ts', '../../console/server/server.js', /sync\/ may not import console/],
  ['src-main/app/x.ts', '../../console/server/server.js', /composition root \(src-main\/app\) may not import console/],
  ['console/ui/x.ts', 'node:fs', /console\/ui\/ is DOM-only/],
  ['console/ui/x.ts', '../server/accounts.js', /console\/ui\/ may import only base\/common/],
  ['console/ui/x.ts', '../../base/node/keys.js', /console\/ui\/ may import only base\/common/],
  ['console/ui/x.ts', '../../sync/hub/settings.js', /console\/ui\/ may import only base\/common/],
];

const ALLOWED: [file: string, specifier: string][] = [
  ['base/node/x.ts', '../common/types.js'],
  ['device/scanner/x.ts', '../../base/common/backoff.js'],
  ['sync/x.ts', '../base/node/cose.js'],
  ['sync/hub/x.ts', '../../base/node/sqlite.js'],
  ['src-main/core/x.ts', '../../base/node/keys.js'],
  ['src-main/core/x.ts', '../../device/gpio/gate-signals.js'],
  ['src-main/api/x.ts', '../core/gatekeeper.js'],
  ['src-main/app/x.ts', '../../sync/uplink.js'],
  ['src-main/app/x.ts', '../api/loopback-server.js'],
  ['src-main/cli/x.ts', '../app/kiosk.js'],
  ['src-main/shell/x.ts', 'electron'],
  ['src-main/shell/x.ts', '../api/wire-client.js'],
  ['src-renderer/x.ts', '../base/common/reasons.js'],
  ['src-renderer/x.ts', '../src-main/api/contract.js'],
  ['src-renderer/x.ts', '../device/wedge/wedge.js'],
  ['console/server/x.ts', '../../sync/hub/settings.js'],
  ['console/server/x.ts', '../../base/node/sqlite.js'],
  ['console/ui/x.ts', '../../base/common/ids.js'],
  ['console/ui/x.ts', './api.js'],
  ['src-main/cli/x.ts', '../../console/server/server.js'],
];

describe('layer rules (eslint.config.js)', () => {
  it.each(REFUSED)('refuses %s importing %s', async (file, specifier, why) => {
    const errors = await layerErrors(file, specifier);
    expect(errors.length, `${file} -> ${specifier} should be refused`).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(why);
  });

  it.each(ALLOWED)('allows %s importing %s', async (file, specifier) => {
    expect(await layerErrors(file, specifier)).toEqual([]);
  });
});
