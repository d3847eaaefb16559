// Builds the web UI into dist/web, which `capstan up` serves at / (nothing is built at run time).
// `npm run web:dev` serves it with hot reload against a Capstan on CAPSTAN_URL (default :5050).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.CAPSTAN_URL ?? 'http://127.0.0.1:5050';

export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: Object.fromEntries(['/api', '/v2', '/healthz', '/readyz', '/metrics', '/docs'].map((p) => [p, api])),
  },
});
