// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

/**
 * Modules both runtimes share: the renderer API contract and its wire client, the deny-reason
 * catalogue and the words of the gate's world, and the isomorphic device modules (QR decoders,
 * keyboard wedge). The screens may import these and nothing else outside src-renderer/; they in
 * turn may import neither Node modules nor the DOM-only layer.
 */
const SHARED_MODULES = [
  'src-main/api/contract.ts',
  'src-main/api/wire-client.ts',
  'src-main/api/errors.ts',
  'src-main/core/reasons.ts',
  'src-main/core/types.ts',
  'device/camera/**/*.ts',
  'device/wedge/**/*.ts',
];

/**
 * Layers by runtime (see ../shared/CONVENTIONS.md):
 *   device/, sync/, src-main/ (except src-main/shell/) : plain Node, never Electron or the DOM
 *   src-main/shell/                                   : the only code that may import electron
 *   src-renderer/                                      : DOM only, never Node modules
 *   device/                                            : the lowest layer; it never sees the kiosk core or sync
 */
const NODE_LAYER_MESSAGE = (layer) =>
  `Layer rule: ${layer} is plain Node and runs headless (tests, bus units); only src-main/shell/ may import electron.`;

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'http2',
  'https', 'net', 'os', 'path', 'process', 'readline', 'stream', 'tls', 'url', 'util', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['build/**', 'dist/**', 'node_modules/**', 'var/**', 'test-output/**', 'tools/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['device/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: NODE_LAYER_MESSAGE('device/') }],
          patterns: [
            { group: ['**/src-main/**', '**/sync/**'], message: 'Layer rule: device/ is the lowest layer and may not import the kiosk core (src-main/) or sync/.' },
            { group: ['**/src-renderer/**'], message: 'Layer rule: device/ may not import the DOM layer (src-renderer/).' },
          ],
        },
      ],
    },
  },
  {
    files: ['sync/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: NODE_LAYER_MESSAGE('sync/') }],
          patterns: [{ group: ['**/src-renderer/**'], message: 'Layer rule: sync/ may not import the DOM layer (src-renderer/).' }],
        },
      ],
    },
  },
  {
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/shell/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: NODE_LAYER_MESSAGE('the kiosk core (src-main/ outside shell/)') }],
          patterns: [
            { group: ['**/src-renderer/**'], message: 'Layer rule: the kiosk core may not import the DOM layer (src-renderer/); talk over the renderer API.' },
            { group: ['**/shell/**'], message: 'Layer rule: the kiosk core may not import the Electron shell; the shell depends on the core, not the reverse.' },
          ],
        },
      ],
    },
  },
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
            ...nodeBuiltins.map((name) => ({ name, message: 'Layer rule: src-renderer/ is DOM-only and may not import Node modules.' })),
          ],
          patterns: [
            { group: ['node:*'], message: 'Layer rule: src-renderer/ is DOM-only and may not import Node modules.' },
            {
              // Anything under src-main/, device/ or sync/ except the shared modules.
              regex: '(^|/)(src-main|device|sync)/(?!api/(contract|wire-client|errors)\\.js$|core/(reasons|types)\\.js$|camera/|wedge/)',
              message: 'Layer rule: src-renderer/ may import only the shared modules (renderer API contract, reasons, isomorphic device modules); talk to the core over the renderer API.',
            },
          ],
        },
      ],
    },
  },
  {
    files: SHARED_MODULES,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'Layer rule: shared modules run in the screens too; no Electron.' },
            ...nodeBuiltins.map((name) => ({ name, message: 'Layer rule: shared modules run in the screens too; no Node modules.' })),
          ],
          patterns: [
            { group: ['node:*'], message: 'Layer rule: shared modules run in the screens too; no Node modules.' },
            { group: ['**/src-renderer/**'], message: 'Layer rule: shared modules may not import the DOM layer.' },
          ],
        },
      ],
    },
  },
);
