import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll waits for a state a page or process reaches after real work (a network round trip,
    // a render, a child process): that is the synchronisation, and its deadline is no timing target.
    // Vitest's 1 s default failed such waits on a loaded machine; a test that needs a bound says so.
    expect: { poll: { timeout: 10_000 } },
    // Integration tests start real processes (socat, the kiosk); two cores, so keep parallelism modest.
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      // Code the tests run in their own process. What runs only in a child process (the `safegate`
      // command, the hub run in tests as processes) or only in a browser or Electron is tested there
      // and not counted here.
      // The `safegate` command's own files (src-main/cli) run only in the child processes the CLI tests
      // start, so they are not counted: counting them measured those tests as 0 % and hid the rest.
      include: ['base/**/*.ts', 'device/**/*.ts', 'sync/**/*.ts', 'src-main/**/*.ts'],
      exclude: ['src-main/cli/**', 'src-main/shell/main.ts', 'src-main/shell/preload.ts', 'sync/write-protocol-doc.ts', '**/*.d.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      // Measured on this code base at issue 12's end without src-main/cli (lines 94.1 %, statements
      // 91.1 %, functions 93.3 %, branches 83.5 %), a little below, so the test command fails when
      // coverage drops.
      thresholds: { lines: 90, statements: 87, functions: 89, branches: 80 },
    },
  },
});
