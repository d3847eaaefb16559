// The web UI: static files Vite builds into dist/web, read once into memory and served with gzip
// when the browser takes it. Pages are client-side routes under /ui/, so a shared link such as
// /ui/experiments/3?filter=metrics.f1>0.9 reloads into the same view.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { AppError } from '../errors/index.js';
import { defineRoute, type RouteDef } from './route.js';

const PUBLIC = "The UI's static files hold no data; every page reads through the API with the user's own credentials.";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer | null;
}

/** Where the built UI is: dist/web beside src/ (run from source) or beside dist/src (installed). */
export function webRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'dist', 'web');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (existsSync(join(dir, 'web', 'index.html')) && existsSync(join(dir, 'web', 'assets'))) return join(dir, 'web');
    dir = dirname(dir);
  }
  return null;
}

function loadFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const rel = `${prefix}${entry.name}`;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${rel}/`);
      else {
        const body = readFileSync(join(dir, entry.name));
        const type = TYPES[extname(entry.name)] ?? 'application/octet-stream';
        const compressible = /text|json|svg/.test(type) && body.length > 1024;
        files.set(rel, { type, body, gzip: compressible ? gzipSync(body, { level: 9 }) : null });
      }
    }
  };
  walk(root, '');
  return files;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Capstan</title>
<body style="font:16px system-ui;max-width:40em;margin:4em auto">
<h1>Capstan is running</h1><p>The web UI was not built in this installation: run <code>npm run build</code>
in Capstan's directory and reload. The API is up: see <a href="/docs">/docs</a>.</p></body>`;

export function uiRoutes(root: string | null = webRoot()): RouteDef[] {
  let files: Map<string, StaticFile> | null = null;
  const load = () => (files ??= root ? loadFiles(root) : new Map());
  const send = (name: string, ctx: { request: { headers: Record<string, string | string[] | undefined> }; reply: any }, immutable: boolean) => {
    const file = load().get(name);
    if (!file) return null;
    const gzip = file.gzip && /\bgzip\b/.test(String(ctx.request.headers['accept-encoding'] ?? ''));
    ctx.reply
      .type(file.type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('vary', 'accept-encoding');
    if (gzip) ctx.reply.header('content-encoding', 'gzip');
    return ctx.reply.send(gzip ? file.gzip : file.body);
  };
  const page = async (_i: unknown, ctx: any) => {
    if (send('index.html', ctx, false) === null) ctx.reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(NOT_BUILT);
  };
  return [
    defineRoute({ method: 'GET', path: '/', tag: 'ui', summary: 'The web UI', access: { public: PUBLIC }, handler: page }),
    defineRoute({ method: 'GET', path: '/ui', tag: 'ui', summary: 'The web UI (a page of it)', access: { public: PUBLIC }, handler: page }),
    defineRoute({ method: 'GET', path: '/ui/*', tag: 'ui', summary: 'The web UI (a page of it)', access: { public: PUBLIC }, handler: page }),
    defineRoute({
      method: 'GET', path: '/assets/:file', tag: 'ui', summary: "The web UI's scripts and styles (content-hashed names, cached for a year)", access: { public: PUBLIC },
      handler: async (i, ctx) => {
        if (send(`assets/${i.file}`, ctx, true) === null) throw new AppError('RESOURCE_DOES_NOT_EXIST', `No UI asset ${i.file}.`);
      },
    }),
  ];
}
