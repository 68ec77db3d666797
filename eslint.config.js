// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

/**
 * Layers by runtime (see ../shared/CONVENTIONS.md), lowest first. Each layer may import the ones
 * below it and never one above or beside it; a wrong import fails lint with a message naming the
 * rule. test/lint/layers.test.ts proves every arrow below is refused.
 *
 *   base/common    the ground floor, isomorphic: types, reasons, identifiers, time, policy, key roles
 *   base/node      the ground floor, Node only: COSE signing, keys, passes, the SQLite opener, logging
 *   device/        hardware ports and adapters (scanner, GPIO, camera decoders, keyboard wedge)
 *   sync/          hub sync over MQTT, and the reference hub
 *   src-main/core  the kiosk core: settings, decisions, the gatekeeper, the store, the supervisor desk
 *   src-main/api   the renderer API (contract, screen service, transports)
 *   src-main/app   the composition root: wires core, devices, sync and api
 *   src-main/cli   the `safegate` command
 *   src-main/shell the Electron shell, the only code that may import electron
 *   src-renderer/  the screens, DOM only
 *   console/server the hub's web console (Fastify): base/ and sync/hub only; only the `safegate` command starts it
 *   console/ui     the console's pages, DOM only: base/common and its own files
 */

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'http2',
  'https', 'net', 'os', 'path', 'process', 'readline', 'stream', 'tls', 'url', 'util', 'worker_threads', 'zlib',
];
/** Packages that exist only in Node; isomorphic code (the screens run it too) may not use them. */
const nodeOnlyPackages = ['better-sqlite3', 'pino', 'mqtt', 'serialport', 'onoff', 'pg', 'ws', 'sharp', 'aedes', 'exceljs', 'commander', 'yaml', 'koffi', 'epoll', 'gps'];

const NO_ELECTRON = (layer) => ({ name: 'electron', message: `Layer rule: ${layer} is plain Node and runs headless (tests, bus units); only src-main/shell/ may import electron.` });
const NO_NODE = (layer) => [
  ...nodeBuiltins.map((name) => ({ name, message: `Layer rule: ${layer} is isomorphic (the screens run it too) and may not import Node modules.` })),
  ...nodeOnlyPackages.map((name) => ({ name, message: `Layer rule: ${layer} is isomorphic (the screens run it too) and may not import the Node-only package ${name}.` })),
];
const NODE_PREFIX = (layer) => ({ group: ['node:*'], message: `Layer rule: ${layer} is isomorphic (the screens run it too) and may not import Node modules.` });
const above = (layer, folders, why = '') =>
  folders.map((f) => ({ group: [`**/${f}/**`], message: `Layer rule: ${layer} may not import ${f}/ (a layer above or beside it)${why}.` }));

/** Per layer: its files, and the import specifiers (gitignore-style) it may not use. */
const LAYERS = [
  {
    files: ['base/common/**/*.ts'],
    paths: [NO_ELECTRON('base/common/'), ...NO_NODE('base/common/')],
    patterns: [
      NODE_PREFIX('base/common/'),
      { group: ['**/node/**'], message: 'Layer rule: base/common/ is isomorphic and may not import base/node/.' },
      ...above('base/common/', ['device', 'sync', 'src-main', 'src-renderer', 'console'], '; the ground floor imports nothing above it'),
    ],
  },
  {
    files: ['base/node/**/*.ts'],
    paths: [NO_ELECTRON('base/node/')],
    patterns: above('base/node/', ['device', 'sync', 'src-main', 'src-renderer', 'console'], '; the ground floor imports nothing above it'),
  },
  {
    files: ['device/**/*.ts'],
    ignores: ['device/camera/**', 'device/wedge/**'],
    paths: [NO_ELECTRON('device/')],
    patterns: above('device/', ['sync', 'src-main', 'src-renderer', 'console'], '; hardware ports sit below the kiosk core and sync'),
  },
  {
    // Isomorphic device modules: the screens' worker runs the QR decoders, the screens the wedge.
    files: ['device/camera/**/*.ts', 'device/wedge/**/*.ts'],
    paths: [NO_ELECTRON('device/camera and device/wedge'), ...NO_NODE('device/camera and device/wedge')],
    patterns: [NODE_PREFIX('device/camera and device/wedge'), ...above('device/', ['sync', 'src-main', 'src-renderer']), { group: ['**/base/node/**'], message: 'Layer rule: isomorphic device modules may not import base/node/.' }],
  },
  {
    files: ['sync/**/*.ts'],
    paths: [NO_ELECTRON('sync/')],
    patterns: above('sync/', ['device', 'src-main', 'src-renderer', 'console'], '; sync and the hub share only the ground floor (base/) with the kiosk'),
  },
  {
    files: ['src-main/core/**/*.ts'],
    paths: [NO_ELECTRON('the kiosk core')],
    patterns: [
      ...above('the kiosk core (src-main/core)', ['sync', 'api', 'app', 'cli', 'shell', 'src-renderer', 'console'], '; the composition root (src-main/app) wires the core to sync and the screens'),
    ],
  },
  {
    files: ['src-main/api/**/*.ts'],
    ignores: ['src-main/api/contract.ts', 'src-main/api/wire-client.ts', 'src-main/api/errors.ts'],
    paths: [NO_ELECTRON('the renderer API (src-main/api)')],
    patterns: above('the renderer API (src-main/api)', ['sync', 'app', 'cli', 'shell', 'src-renderer', 'console']),
  },
  {
    // The renderer API's shared modules: the screens import them, so they are isomorphic too.
    files: ['src-main/api/contract.ts', 'src-main/api/wire-client.ts', 'src-main/api/errors.ts'],
    paths: [NO_ELECTRON('the renderer API contract'), ...NO_NODE('the renderer API contract')],
    patterns: [
      NODE_PREFIX('the renderer API contract'),
      ...above('the renderer API contract', ['sync', 'app', 'cli', 'shell', 'src-renderer', 'core', 'device']),
      { group: ['**/base/node/**'], message: 'Layer rule: the renderer API contract is isomorphic and may not import base/node/.' },
    ],
  },
  {
    files: ['src-main/app/**/*.ts'],
    paths: [NO_ELECTRON('the composition root (src-main/app)')],
    patterns: above('the composition root (src-main/app)', ['cli', 'shell', 'src-renderer', 'console']),
  },
  {
    files: ['src-main/cli/**/*.ts'],
    paths: [NO_ELECTRON('the safegate command (src-main/cli)')],
    patterns: above('the safegate command (src-main/cli)', ['shell', 'src-renderer']),
  },
  {
    files: ['console/server/**/*.ts'],
    paths: [NO_ELECTRON('the hub console (console/server)')],
    patterns: [
      ...above('the hub console (console/server)', ['device', 'src-main', 'src-renderer', 'ui'], '; it serves the hub, which shares only base/ with the kiosk'),
      { group: ['**/sync/*', '!**/sync/hub', '**/sync/!(hub)/**'], message: 'Layer rule: the hub console (console/server) may import sync/hub/ only, not the kiosk side of sync/.' },
    ],
  },
  {
    files: ['src-main/shell/**/*.ts'],
    paths: [],
    patterns: above('the Electron shell', ['core', 'app', 'cli', 'sync', 'device', 'src-renderer', 'console'], '; it talks to the core over the renderer API'),
  },
];

export default tseslint.config(
  { ignores: ['build/**', 'dist/**', 'node_modules/**', 'var/**', 'test-output/**', 'tools/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Type-aware checks where a forgotten promise would lose a scan or an acknowledgement silently.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { project: ['./tsconfig.node.json', './tsconfig.web.json', './tsconfig.test.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
    },
  },
  ...LAYERS.map((l) => ({
    files: l.files,
    ...(l.ignores ? { ignores: l.ignores } : {}),
    rules: { 'no-restricted-imports': ['error', { paths: l.paths, patterns: l.patterns }] },
  })),
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'Layer rule: src-renderer/ is DOM-only; use the typed API the preload exposes.' },
            ...NO_NODE('src-renderer/ (DOM only)'),
          ],
          patterns: [
            { group: ['node:*'], message: 'Layer rule: src-renderer/ is DOM-only and may not import Node modules.' },
            {
              // Anything under base/, src-main/, device/ or sync/ except the isomorphic modules.
              regex: '(^|/)(base/(?!common/)|src-main/(?!api/(contract|wire-client|errors)\\.js$)|device/(?!camera/|wedge/)|sync/)',
              message:
                'Layer rule: src-renderer/ may import only the isomorphic modules (base/common, the renderer API contract and wire client, device/camera, device/wedge); talk to the core over the renderer API.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['console/ui/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'Layer rule: console/ui/ is DOM-only.' }, ...NO_NODE('console/ui/ (DOM only)')],
          patterns: [
            { group: ['node:*'], message: 'Layer rule: console/ui/ is DOM-only and may not import Node modules.' },
            {
              regex: '(^|/)(base/(?!common/)|src-main/|src-renderer/|device/|sync/|server/)',
              message: 'Layer rule: console/ui/ may import only base/common and its own files; it talks to the console server over its HTTP API.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['console/phone/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'Layer rule: console/phone/ is DOM-only.' }, ...NO_NODE('console/phone/ (DOM only)')],
          patterns: [
            { group: ['node:*'], message: 'Layer rule: console/phone/ is DOM-only and may not import Node modules.' },
            {
              regex: '(^|/)(base/(?!common/)|src-main/|src-renderer/|device/|sync/|server/|ui/)',
              message: 'Layer rule: console/phone/ may import only base/common and its own files; it talks to the hub over its HTTP API.',
            },
          ],
        },
      ],
    },
  },
);
