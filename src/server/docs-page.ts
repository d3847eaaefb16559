/** A self-contained page that renders /api/openapi.json (no external scripts: works offline). */
export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Capstan API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#1d2433}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
details{margin:.3rem 0;border:1px solid #e3e6ee;border-radius:6px;padding:.3rem .6rem}
summary{cursor:pointer}code{background:#f3f4f8;padding:0 .25rem;border-radius:3px}
.m{display:inline-block;width:4.2rem;font-weight:600}.GET{color:#0a7}.POST{color:#06c}.PUT{color:#a60}.PATCH{color:#a60}.DELETE{color:#c33}
pre{background:#f6f7fb;padding:.5rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>Capstan API</h1><p>Machine-readable: <a href="/api/openapi.json"><code>/api/openapi.json</code></a> (OpenAPI 3.1).</p>
<div id="out">Loading…</div>
<script>
fetch('/api/openapi.json').then(r => r.json()).then(doc => {
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    (byTag[op.tags?.[0] || 'other'] ||= []).push({ path, method: method.toUpperCase(), op });
  }
  const out = document.getElementById('out'); out.textContent = '';
  for (const [tag, ops] of Object.entries(byTag)) {
    const h = document.createElement('h2'); h.textContent = tag; out.append(h);
    for (const { path, method, op } of ops) {
      const d = document.createElement('details');
      const s = document.createElement('summary');
      const m = document.createElement('span'); m.className = 'm ' + method; m.textContent = method;
      const c = document.createElement('code'); c.textContent = path;
      s.append(m, c, ' — ' + (op.summary || '')); d.append(s);
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify({ parameters: op.parameters, requestBody: op.requestBody?.content }, null, 2);
      d.append(pre); out.append(d);
    }
  }
});
</script></body></html>`;
