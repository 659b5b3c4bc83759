import { useEffect, useState } from 'preact/hooks';
import { TemplateIcon } from '../components/Icon';
import { Link } from '../components/Link';
import { Loading, Notice } from '../components/Notice';
import { api } from '../lib/api';
import { categories, categoryLabel, filterTemplates } from '../lib/catalog';
import { describe } from '../lib/errors';
import { takeFlash } from '../lib/flash';
import { paths } from '../lib/router';
import { useTitle } from '../lib/title';
import type { Me, Template } from '../lib/types';

function readQuery(): { q: string; category: string } {
  const p = new URLSearchParams(location.search);
  return { q: p.get('q') ?? '', category: p.get('category') ?? '' };
}

export function CatalogScreen({ me }: { me: Me }) {
  useTitle('Catalog');
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [error, setError] = useState('');
  const [{ q, category }, setFilter] = useState(readQuery);
  const [flash] = useState(takeFlash);

  const load = async () => {
    setError('');
    try {
      setTemplates(await api.catalog());
    } catch (err) {
      setError(describe(err));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  // Keep the filter in the address, so a reload or a shared link shows the same list.
  useEffect(() => {
    const p = new URLSearchParams();
    if (q) p.set('q', q);
    if (category) p.set('category', category);
    const s = p.toString();
    history.replaceState(null, '', s ? `${location.pathname}?${s}` : location.pathname);
  }, [q, category]);

  const cats = templates ? categories(templates) : [];
  const shown = templates ? filterTemplates(templates, q, category) : [];

  return (
    <section class="stack" aria-labelledby="catalog-title">
      <div class="page-head">
        <h1 id="catalog-title" tabIndex={-1}>
          Catalog
        </h1>
        <p class="lead">
          Pick what you need. SpawnIt asks a few questions and deploys it for you
          {me.single_user ? ' (single-user mode: everything runs as the local user).' : '.'}
        </p>
      </div>
      {flash ? <Notice tone={flash.tone}>{flash.text}</Notice> : null}
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div class="field field--inline">
          <label for="catalog-q">Search</label>
          <input
            id="catalog-q"
            type="search"
            value={q}
            placeholder="e.g. database, minecraft"
            autocomplete="off"
            onInput={(e) => setFilter({ q: e.currentTarget.value, category })}
          />
        </div>
        <div class="field field--inline">
          <label for="catalog-cat">Category</label>
          <select id="catalog-cat" value={category} onChange={(e) => setFilter({ q, category: e.currentTarget.value })}>
            <option value="">All categories</option>
            {cats.map((c) => (
              <option key={c} value={c}>
                {categoryLabel(c)}
              </option>
            ))}
          </select>
        </div>
      </form>
      {error ? (
        <Notice tone="error">
          {error}{' '}
          <button type="button" class="button button--small" onClick={() => void load()}>
            Try again
          </button>
        </Notice>
      ) : null}
      {templates === null && !error ? <Loading what="the catalog" /> : null}
      {templates ? (
        <>
          <p class="muted" role="status" aria-live="polite" data-testid="catalog-count">
            {shown.length === templates.length
              ? `${shown.length} ${shown.length === 1 ? 'service' : 'services'} available`
              : `${shown.length} of ${templates.length} services match`}
          </p>
          {shown.length === 0 ? (
            <p>
              Nothing matches.{' '}
              <button type="button" class="linklike" onClick={() => setFilter({ q: '', category: '' })}>
                Clear the search
              </button>
            </p>
          ) : (
            <ul class="cards" data-testid="catalog">
              {shown.map((t) => (
                <li key={t.id} class="card" data-template={t.id}>
                  <div class="card__head">
                    <TemplateIcon icon={t.icon} size="lg" />
                    <div>
                      <h2 class="card__title">
                        <Link href={paths.template(t.id)} class="card__link">
                          {t.name}
                        </Link>
                      </h2>
                      <span class="tag">{categoryLabel(t.category)}</span>
                    </div>
                  </div>
                  <p class="card__desc">{t.description}</p>
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </section>
  );
}
