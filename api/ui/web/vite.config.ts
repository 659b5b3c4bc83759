import { writeFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const outDir = resolve(import.meta.dirname, '../dist');

// emptyOutDir removes everything in dist/, including the committed placeholder that lets
// `go build` embed the folder before the UI was ever built: put it back after each build.
function keepPlaceholder(): Plugin {
  return {
    name: 'spawnit-keep-placeholder',
    apply: 'build',
    closeBundle() {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(resolve(outDir, '.keep'), '');
    },
  };
}

// The dev server proxies the API to a running `spawnit serve` (or the mock server in
// e2e/mock-server.mjs): SPAWNIT_DEV_API=http://127.0.0.1:8080 npm run dev
const api = process.env.SPAWNIT_DEV_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [keepPlaceholder()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // Inline nothing as data: URIs so the Go handler's Content-Security-Policy can stay strict.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/auth': { target: api, changeOrigin: false },
    },
  },
});
