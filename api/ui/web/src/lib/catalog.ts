// Catalog search and filtering.

import type { Template } from './types';

const KNOWN: Record<string, string> = {
  database: 'Databases',
  devops: 'DevOps tools',
  game: 'Game servers',
  web: 'Web',
  test: 'Testing',
};

export function categoryLabel(c: string): string {
  if (KNOWN[c]) return KNOWN[c];
  const s = c.replace(/[-_]+/g, ' ').trim();
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : 'Other';
}

export function categories(ts: Template[]): string[] {
  return Array.from(new Set(ts.map((t) => t.category).filter((c) => !!c))).sort((a, b) =>
    categoryLabel(a).localeCompare(categoryLabel(b)),
  );
}

const norm = (s: string) =>
  s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();

/** filterTemplates keeps the templates in the category (all when empty) whose text has every word of the query. */
export function filterTemplates(ts: Template[], query: string, category: string): Template[] {
  const words = norm(query).split(/\s+/).filter(Boolean);
  return ts
    .filter((t) => !category || t.category === category)
    .filter((t) => {
      if (words.length === 0) return true;
      const hay = norm([t.name, t.description, t.category, categoryLabel(t.category), t.id].join(' '));
      return words.every((w) => hay.includes(w));
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
