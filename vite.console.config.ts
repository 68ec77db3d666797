import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The hub console's pages, built into build/console-ui, which `safegate hub run` serves
// (console/server/server.ts DEFAULT_UI_FOLDER). Nothing is fetched from outside.
export default defineConfig({
  root: 'console/ui',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../../build/console-ui',
    emptyOutDir: true,
    target: 'chrome120',
    sourcemap: true,
    reportCompressedSize: false,
  },
});
