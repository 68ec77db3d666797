import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The screens are built into build/renderer with relative paths, so the same files load from the
// Electron app protocol and from the loopback server. Nothing is fetched from outside: the
// decoder's .wasm is bundled as an asset.
export default defineConfig({
  root: 'src-renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../build/renderer',
    emptyOutDir: true,
    target: 'chrome120',
    assetsInlineLimit: 0,
    sourcemap: true,
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
});
