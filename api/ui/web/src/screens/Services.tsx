import { Component } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../components/Announcer';
import { Badge } from '../components/Badge';
import { Link } from '../components/Link';
import { Loading, Notice } from '../components/Notice';
import { api } from '../lib/api';
import { ApiError, describe } from '../lib/errors';
import { takeFlash } from '../lib/flash';
import { driftAnnouncement, EXPIRED_BADGE, statusDriftBadge, formatTime, healthBadge, intentBadge, jobStateBadge, operationName, serviceBusy } from '../lib/format';
import { subscribeLive } from '../lib/live';
import { appendPage, applyStatusEvent, dropService, firstPage, listSearch, listSummary, parseListQuery, putService, resyncLimit, type ListQuery, type Paged } from '../lib/listing';
import { onRouteChange, paths } from '../lib/router';
import { useTitle } from '../lib/title';
import { canChange, quotaLines, quotaText } from '../lib/roles';
import type { Me, QuotaUsage, Service } from '../lib/types';

/** How long typing pauses before the search goes to the server. */
const SEARCH_DELAY_MS = 300;

export function ServicesScreen({ me }: { me: Me }) {
  useTitle('My services');
  const [query, setQuery] = useState<ListQuery>(() => parseListQuery(location.search));
  const [text, setText] = useState(query.q);
  const [list, setList] = useState<Paged<Service> | null>(null);
  const [loading, setLoading] = useState<'' | 'search' | 'more'>('search');
  const [quota, setQuota] = useState<QuotaUsage | null>(null);
  const [error, setError] = useState('');
  const [flash] = useState(takeFlash);
  const [focusId, setFocusId] = useState('');

  // The callbacks of the live stream and of answers read the current values here.
  const listRef = useRef(list);
  listRef.current = list;
  const queryRef = useRef(query);
  queryRef.current = query;
  // Each read of the first page (a search, a resync) supersedes the ones before it and
  // any further page being read: only the newest one's answer is shown.
  const gen = useRef(0);
  const abort = useRef<AbortController | null>(null);
  const perService = useRef(new Map<string, number>());
  const debounce = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = async (q: ListQuery, opts: { limit?: number; announceIt?: boolean } = {}) => {
    const n = ++gen.current;
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setLoading('search');
    try {
      const page = await api.servicesPage({ limit: opts.limit ?? q.limit, q: q.q }, ctl.signal);
      if (n !== gen.current) return;
      const next = firstPage(page);
      setList(next);
      setError('');
      if (opts.announceIt) announce(listSummary(next.items.length, next.next !== undefined, q.q));
    } catch (err) {
      if (n !== gen.current || (err instanceof DOMException && err.name === 'AbortError')) return;
      setError(describe(err));
    }
    if (n === gen.current) setLoading('');
  };

  const loadMore = async () => {
    const cur = listRef.current;
    if (!cur?.next || loading) return;
    const n = gen.current;
    const q = queryRef.current;
    setLoading('more');
    try {
      const page = await api.servicesPage({ limit: q.limit, q: q.q, cursor: cur.next }, abort.current?.signal);
      if (n !== gen.current) return;
      const next = appendPage(listRef.current ?? cur, page);
      const firstNew = page.items.find((s) => !cur.items.some((x) => x.id === s.id));
      setList(next);
      setError('');
      if (firstNew) setFocusId(firstNew.id);
      announce(listSummary(next.items.length, next.next !== undefined, q.q));
    } catch (err) {
      if (n !== gen.current || (err instanceof DOMException && err.name === 'AbortError')) return;
      setError(describe(err));
    }
    if (n === gen.current) setLoading('');
  };

  /** search applies the text typed: the address keeps it (reload, back), the server filters. */
  const search = (raw: string) => {
    clearTimeout(debounce.current);
    const q = raw.trim();
    if (q === queryRef.current.q) return;
    const next = { ...queryRef.current, q };
    setQuery(next);
    history.replaceState(null, '', paths.services() + listSearch(next));
    void load(next, { announceIt: true });
  };

  const onType = (value: string) => {
    setText(value);
    clearTimeout(debounce.current);
    debounce.current = setTimeout(() => search(value), SEARCH_DELAY_MS);
  };

  // Refresh one service named by an event; only the newest read of each is applied.
  const refresh = (id: string) => {
    const n = (perService.current.get(id) ?? 0) + 1;
    perService.current.set(id, n);
    const g = gen.current;
    api.service(id).then(
      (s) => {
        if (perService.current.get(id) !== n || g !== gen.current) return;
        setList((cur) => (cur ? putService(cur, s, queryRef.current.q) : cur));
      },
      (err) => {
        if (perService.current.get(id) !== n || g !== gen.current) return;
        if (err instanceof ApiError && err.status === 404) setList((cur) => (cur ? dropService(cur, id) : cur));
      },
    );
  };

  useEffect(() => {
    void load(query);
    // The usage is a help, not the page: a server without quotas just shows none.
    api.quota().then(setQuota, () => setQuota(null));
    // Live: the rows shown follow what an event names (a drift at once, from the event
    // itself); a service not shown is read only when the list is complete and could show
    // it. After a gap, the rows shown are read again.
    const stopLive = subscribeLive({
      onStatus: (ev) => {
        const cur = listRef.current;
        if (!cur) return;
        const shown = cur.items.find((x) => x.id === ev.service);
        if (shown) {
          const said = driftAnnouncement(shown.name, shown.status, ev);
          if (said) announce(said);
          setList((l) => (l ? { ...l, items: l.items.map((x) => applyStatusEvent(x, ev)) } : l));
        } else if (cur.next !== undefined) return;
        refresh(ev.service);
      },
      onResync: () => void load(queryRef.current, { limit: resyncLimit(listRef.current?.items.length ?? 0, queryRef.current.limit) }),
    });
    // "My services" in the menu, or back and forward, change only the address's search.
    const stopRoute = onRouteChange(() => {
      if (location.pathname !== paths.services()) return;
      const next = parseListQuery(location.search);
      if (next.q === queryRef.current.q && next.limit === queryRef.current.limit) return;
      clearTimeout(debounce.current);
      setQuery(next);
      setText(next.q);
      void load(next);
    });
    return () => {
      stopLive();
      stopRoute();
      clearTimeout(debounce.current);
      abort.current?.abort();
    };
  }, []);

  // After "Show more", focus moves to the first new row, where reading goes on.
  useEffect(() => {
    if (!focusId) return;
    document.querySelector<HTMLElement>(`[data-service="${CSS.escape(focusId)}"] a`)?.focus();
    setFocusId('');
  }, [focusId]);

  const services = list?.items ?? null;
  return (
    <section class="stack" aria-labelledby="services-title">
      <div class="page-head page-head--row">
        <h1 id="services-title" tabIndex={-1}>
          My services
        </h1>
        {canChange(me) ? (
          <Link href={paths.catalog()} class="button button--primary">
            Deploy something new
          </Link>
        ) : null}
      </div>
      {quota ? <QuotaView quota={quota} /> : null}
      {!canChange(me) ? (
        <Notice tone="info" testid="viewer-notice">
          You can look at these services; deploying and changing them needs the deployer role.
        </Notice>
      ) : null}
      {flash ? <Notice tone={flash.tone}>{flash.text}</Notice> : null}
      <form
        class="filters"
        role="search"
        aria-label="Services"
        onSubmit={(e) => {
          e.preventDefault();
          search(text);
        }}
      >
        <div class="field field--inline">
          <label for="services-q">Search services</label>
          <input
            id="services-q"
            type="search"
            value={text}
            placeholder="name, id or template"
            autocomplete="off"
            aria-describedby="services-q-help"
            aria-controls="services-list"
            onInput={(e) => onType(e.currentTarget.value)}
          />
          <p id="services-q-help" class="help visually-hidden">
            The list shows the services whose name, id or template contains this text.
          </p>
        </div>
      </form>
      {error ? (
        <Notice tone="error">
          {error}{' '}
          <button type="button" class="button button--small" onClick={() => void load(queryRef.current)}>
            Try again
          </button>
        </Notice>
      ) : null}
      {services === null && !error ? <Loading what="your services" /> : null}
      {services && services.length === 0 && query.q ? (
        <div class="empty" data-testid="services-empty">
          <p>No services match “{query.q}”.</p>
          <p>
            <button
              type="button"
              class="linklike"
              onClick={() => {
                setText('');
                search('');
                document.getElementById('services-q')?.focus();
              }}
            >
              Clear the search
            </button>
          </p>
        </div>
      ) : null}
      {services && services.length === 0 && !query.q ? (
        <div class="empty" data-testid="services-empty">
          <p>You have no services yet.</p>
          {canChange(me) ? (
            <p>
              <Link href={paths.catalog()}>Pick one from the catalog</Link> to get started.
            </p>
          ) : null}
        </div>
      ) : null}
      {services && services.length > 0 ? (
        <ul class="svc-list" id="services-list" data-testid="services" aria-busy={loading === 'search' ? 'true' : undefined}>
          {services.map((s) => (
            <ServiceRow key={s.id} s={s} />
          ))}
        </ul>
      ) : null}
      {list && list.items.length > 0 ? (
        <div class="list-more">
          <p class="muted" data-testid="services-count">
            {listSummary(list.items.length, list.next !== undefined, query.q)}
          </p>
          {list.next !== undefined ? (
            <button type="button" class="button" data-testid="services-more" disabled={loading !== ''} onClick={() => void loadMore()}>
              {loading === 'more' ? 'Loading…' : 'Show more services'}
            </button>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

// Rows re-render only when their service changed: an event about one service in a list
// of thousands redraws one row.
class ServiceRow extends Component<{ s: Service }> {
  shouldComponentUpdate(next: { s: Service }) {
    return next.s !== this.props.s;
  }
  render() {
    return <ServiceRowView s={this.props.s} />;
  }
}

function ServiceRowView({ s }: { s: Service }) {
  const busy = serviceBusy(s);
  const last = s.status.last_job;
  const health = healthBadge(s.status.health, s.status.health_message);
  return (
    <li class="svc" data-service={s.id}>
      <div class="svc__main">
        <h2 class="svc__name">
          <Link href={paths.service(s.id)}>{s.name}</Link>
        </h2>
        <p class="muted svc__meta">
          {s.template}
          {s.template_version ? ` ${s.template_version}` : ''} · created {formatTime(s.created_at)}
          {s.expires_at ? ` · expires ${formatTime(s.expires_at)}` : ''}
        </p>
      </div>
      <div class="svc__status">
        <Badge badge={intentBadge(s.status.intent)} label="Deployment" testid="intent-badge" />
        <Badge badge={statusDriftBadge(s.status)} label="Drift" testid="drift-badge" />
        {busy ? <Badge badge={{ tone: 'info', text: 'Busy', hint: 'A job is running for this service.' }} label="Activity" testid="busy-badge" /> : null}
        {health ? <Badge badge={health} label="Health" testid="health-badge" /> : null}
        {s.status.expired ? <Badge badge={EXPIRED_BADGE} label="Expiry" testid="expired-badge" /> : null}
        {s.upgrade ? (
          <Badge
            badge={{ tone: 'info', text: `Upgrade: ${s.upgrade.to}`, hint: `Version ${s.upgrade.to} of the template is available (this service runs ${s.upgrade.from}).` }}
            label="Version"
            testid="upgrade-badge"
          />
        ) : null}
        {s.status.needs_recovery ? (
          <Badge badge={{ tone: 'bad', text: 'Needs recovery', hint: 'SpawnIt could not save or verify its OpenTofu state.' }} label="Attention" testid="recovery-badge" />
        ) : null}
      </div>
      {s.status.drift_unconfirmed ? (
        <p class="svc__job" data-testid="drift-signal">
          Awaiting confirmation: {s.status.drift_signal ? `Docker reported “${s.status.drift_signal}”; ` : ''}SpawnIt is checking with OpenTofu.
        </p>
      ) : null}
      {last ? (
        <p class="svc__job">
          <Link href={paths.job(s.id, last.id)}>
            Last job: {operationName(last.operation)} — {jobStateBadge(last.state).text.toLowerCase()}
          </Link>
        </p>
      ) : null}
    </li>
  );
}

/** The tenant's quota: what it uses of each limit. */
function QuotaView({ quota }: { quota: QuotaUsage }) {
  const lines = quotaLines(quota);
  return (
    <p class="quota muted" data-testid="quota">
      <span class="visually-hidden">Quota: </span>
      {lines.map((l, i) => (
        <span key={l.what} class={l.full ? 'quota__item quota__item--full' : 'quota__item'} data-quota={l.what}>
          {i > 0 ? ' · ' : ''}
          {quotaText(l)}
          {l.full ? ' (limit reached)' : ''}
        </span>
      ))}
    </p>
  );
}
