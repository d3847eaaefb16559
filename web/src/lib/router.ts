// A small history router: pages live under /ui/, and a page's filters and selections live in its
// query string, so any view can be shared as a link and survives a reload.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
const current = (): Route => ({ path: location.pathname.replace(/^\/ui(?=\/|$)/, '') || '/', query: new URLSearchParams(location.search) });
const notify = () => listeners.forEach((l) => l());
addEventListener('popstate', notify);

/** Goes to a page: `to` is a path inside the UI such as `/runs/abc?tab=metrics`. */
export function navigate(to: string, replace = false): void {
  const url = to.startsWith('/ui') ? to : `/ui${to}`;
  if (url === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', url);
  scrollTo(0, 0);
  notify();
}

/** Changes query parameters of the current page in place (null removes one); no new history entry. */
export function setQuery(patch: Record<string, string | null | undefined>): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  history.replaceState(null, '', `${location.pathname}${s ? `?${s}` : ''}`);
  notify();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const l = () => setRoute(current());
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return route;
}

/** `pattern` like `/runs/:id`; returns the parameters when `path` matches. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length && !pattern.endsWith('*')) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') {
      out['*'] = s.slice(i).map(decodeURIComponent).join('/');
      return out;
    }
    if (p[i].startsWith(':')) {
      if (s[i] === undefined || s[i] === '') return null;
      out[p[i].slice(1)] = decodeURIComponent(s[i]);
    } else if (p[i] !== s[i]) return null;
  }
  return out;
}

export const href = (to: string) => (to.startsWith('/ui') ? to : `/ui${to}`);

/** A link that navigates inside the UI without reloading (and opens a new tab on ctrl/cmd-click). */
export function onLinkClick(e: MouseEvent, to: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(to);
}
