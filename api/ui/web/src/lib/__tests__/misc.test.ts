import { describe, expect, it } from 'vitest';
import { buildURL, requestHeaders, setCsrfToken } from '../api';
import { categories, categoryLabel, filterTemplates } from '../catalog';
import { driftBadge, DRIFT, finalSentence, iconOf, isLink, outputText } from '../format';
import { parseRoute, paths } from '../router';
import type { Template } from '../types';

describe('router', () => {
  it('parses every screen and round-trips paths', () => {
    expect(parseRoute('/')).toEqual({ name: 'catalog' });
    expect(parseRoute('/catalog')).toEqual({ name: 'catalog' });
    expect(parseRoute(paths.template('httpecho'))).toEqual({ name: 'template', id: 'httpecho' });
    expect(parseRoute(paths.services())).toEqual({ name: 'services' });
    expect(parseRoute(paths.service('s-1'))).toEqual({ name: 'service', id: 's-1' });
    expect(parseRoute(paths.job('s-1', 'j 2'))).toEqual({ name: 'job', service: 's-1', job: 'j 2' });
    expect(parseRoute('/services/a/jobs')).toMatchObject({ name: 'notfound' });
    expect(parseRoute('/catalog/%E0%A4%A')).toMatchObject({ name: 'notfound' });
  });
});

describe('api requests', () => {
  it('sends CSRF and Content-Type on state-changing requests only', () => {
    setCsrfToken('tok');
    expect(requestHeaders('GET')).toEqual({ Accept: 'application/json' });
    expect(requestHeaders('POST')).toEqual({ Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRF-Token': 'tok' });
    expect(requestHeaders('delete')['X-CSRF-Token']).toBe('tok');
    setCsrfToken(undefined);
    expect(requestHeaders('PUT')['X-CSRF-Token']).toBeUndefined();
  });
  it('builds query strings without undefined values', () => {
    expect(buildURL('/x', { after: 5, reveal: undefined })).toBe('/x?after=5');
    expect(buildURL('/x', {})).toBe('/x');
  });
});

describe('catalog filter', () => {
  const t = (id: string, name: string, category: string, description = ''): Template => ({
    id, name, category, description, version: '1', inputs: [], targets: ['docker'], providers: ['docker'],
  });
  const all = [t('postgres', 'PostgreSQL', 'database', 'Relational database'), t('redis', 'Redis', 'database', 'Key-value store'), t('minecraft', 'Minecraft server', 'game'), t('gitea', 'Gitea', 'devops', 'Git service with issues')];
  it('searches name, description and category, every word', () => {
    expect(filterTemplates(all, 'database', '').map((x) => x.id)).toEqual(['postgres', 'redis']);
    expect(filterTemplates(all, 'git issues', '').map((x) => x.id)).toEqual(['gitea']);
    expect(filterTemplates(all, 'MINE', '').map((x) => x.id)).toEqual(['minecraft']);
    expect(filterTemplates(all, 'game servers', '').map((x) => x.id)).toEqual(['minecraft']);
    expect(filterTemplates(all, '', 'database').map((x) => x.id)).toEqual(['postgres', 'redis']);
    expect(filterTemplates(all, 'redis', 'game')).toEqual([]);
  });
  it('lists categories with labels', () => {
    expect(categories(all)).toEqual(['database', 'devops', 'game']);
    expect(categoryLabel('test')).toBe('Testing');
    expect(categoryLabel('home_lab')).toBe('Home lab');
  });
});

describe('format', () => {
  it('has a badge with text for every drift status', () => {
    for (const s of Object.keys(DRIFT)) expect(driftBadge(s).text.length).toBeGreaterThan(0);
    expect(driftBadge('missing')).toMatchObject({ tone: 'bad', text: 'Missing' });
    expect(driftBadge(undefined).text).toBe('Not checked');
  });
  it('turns icons into text or images that cannot run script', () => {
    expect(iconOf('🧪')).toEqual({ kind: 'text', text: '🧪' });
    const svg = iconOf('<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>');
    expect(svg.kind).toBe('image');
    expect(svg.kind === 'image' && svg.src.startsWith('data:image/svg+xml')).toBe(true);
    expect(iconOf('data:image/png;base64,AAAA')).toEqual({ kind: 'image', src: 'data:image/png;base64,AAAA' });
    expect(iconOf('')).toEqual({ kind: 'none' });
  });
  it('links only http(s) outputs', () => {
    expect(isLink('http://127.0.0.1:18080/')).toBe(true);
    expect(isLink('javascript:alert(1)')).toBe(false);
    expect(outputText({ a: 1 })).toBe('{"a":1}');
  });
  it('words final states', () => {
    expect(finalSentence('apply', 'succeeded')).toBe('Deployed: the service is up to date.');
    expect(finalSentence('apply', 'failed', 'port is already allocated')).toBe('Apply failed: port is already allocated.');
    expect(finalSentence('destroy', 'cancelled')).toBe('Destroy was cancelled.');
  });
});
