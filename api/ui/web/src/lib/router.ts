// A small history-API router. The Go handler answers every non-API path with
// index.html, so these URLs can be bookmarked and reloaded.

export type Route =
  | { name: 'catalog' }
  | { name: 'template'; id: string }
  | { name: 'services' }
  | { name: 'service'; id: string }
  | { name: 'job'; service: string; job: string }
  | { name: 'notfound'; path: string };

const seg = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
};

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter((p) => p !== '');
  const dec = parts.map(seg);
  if (dec.some((p) => p === null)) return { name: 'notfound', path: pathname };
  const p = dec as string[];
  if (p.length === 0) return { name: 'catalog' };
  if (p[0] === 'catalog') {
    if (p.length === 1) return { name: 'catalog' };
    if (p.length === 2) return { name: 'template', id: p[1] };
  }
  if (p[0] === 'services') {
    if (p.length === 1) return { name: 'services' };
    if (p.length === 2) return { name: 'service', id: p[1] };
    if (p.length === 4 && p[2] === 'jobs') return { name: 'job', service: p[1], job: p[3] };
  }
  return { name: 'notfound', path: pathname };
}

const enc = encodeURIComponent;

export const paths = {
  catalog: () => '/catalog',
  template: (id: string) => `/catalog/${enc(id)}`,
  services: () => '/services',
  service: (id: string) => `/services/${enc(id)}`,
  job: (service: string, job: string) => `/services/${enc(service)}/jobs/${enc(job)}`,
};

const listeners = new Set<() => void>();

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  for (const l of listeners) l();
}

export function onRouteChange(fn: () => void): () => void {
  listeners.add(fn);
  window.addEventListener('popstate', fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener('popstate', fn);
  };
}

/** Whether a click on a link should be left to the browser (new tab, download…). */
export function isPlainClick(e: MouseEvent): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey && !e.defaultPrevented;
}
