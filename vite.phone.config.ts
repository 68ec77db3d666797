import { defineConfig } from 'vite';

// The worker's phone page (PWA), built into build/phone-ui, which the hub's console server serves at
// /phone/ (console/server/phone-routes.ts). Plain TypeScript, no framework: it must load fast on a
// cheap phone. Nothing is fetched from outside.
export default defineConfig({
  root: 'console/phone',
  base: './',
  build: {
    outDir: '../../build/phone-ui',
    emptyOutDir: true,
    target: 'chrome111',
    sourcemap: true,
    reportCompressedSize: false,
  },
});
