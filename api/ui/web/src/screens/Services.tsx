import { useEffect, useState } from 'preact/hooks';
import { Badge } from '../components/Badge';
import { Link } from '../components/Link';
import { Loading, Notice } from '../components/Notice';
import { api } from '../lib/api';
import { ApiError, describe } from '../lib/errors';
import { takeFlash } from '../lib/flash';
import { driftBadge, EXPIRED_BADGE, formatTime, healthBadge, intentBadge, jobStateBadge, operationName, serviceBusy } from '../lib/format';
import { subscribeLive } from '../lib/live';
import { paths } from '../lib/router';
import { useTitle } from '../lib/title';
import { canChange, quotaLines, quotaText } from '../lib/roles';
import type { Me, QuotaUsage, Service } from '../lib/types';

/** upsert replaces the service with the same id, or adds it; the list stays sorted by name. */
export function upsertService(list: Service[], s: Service): Service[] {
  const i = list.findIndex((x) => x.id === s.id);
  const next = i >= 0 ? list.map((x) => (x.id === s.id ? s : x)) : [...list, s];
  return next.sort(byName);
}

const byName = (a: Service, b: Service) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);

export function ServicesScreen({ me }: { me: Me }) {
  useTitle('My services');
  const [services, setServices] = useState<Service[] | null>(null);
  const [quota, setQuota] = useState<QuotaUsage | null>(null);
  const [error, setError] = useState('');
  const [flash] = useState(takeFlash);

  const load = async () => {
    try {
      const list = await api.services();
      setServices(list.slice().sort(byName));
      setError('');
    } catch (err) {
      setError(describe(err));
    }
    // The usage is a help, not the page: a server without quotas just shows none.
    api.quota().then(setQuota, () => setQuota(null));
  };

  useEffect(() => {
    void load();
    // Live: refresh the service an event names; after a gap, everything.
    return subscribeLive({
      onStatus: (ev) => {
        api.service(ev.service).then(
          (s) => setServices((cur) => (cur ? upsertService(cur, s) : cur)),
          (err) => {
            if (err instanceof ApiError && err.status === 404) setServices((cur) => (cur ? cur.filter((x) => x.id !== ev.service) : cur));
          },
        );
      },
      onResync: () => void load(),
    });
  }, []);

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
      {error ? (
        <Notice tone="error">
          {error}{' '}
          <button type="button" class="button button--small" onClick={() => void load()}>
            Try again
          </button>
        </Notice>
      ) : null}
      {services === null && !error ? <Loading what="your services" /> : null}
      {services && services.length === 0 ? (
        <div class="empty">
          <p>You have no services yet.</p>
          {canChange(me) ? (
            <p>
              <Link href={paths.catalog()}>Pick one from the catalog</Link> to get started.
            </p>
          ) : null}
        </div>
      ) : null}
      {services && services.length > 0 ? (
        <ul class="svc-list" data-testid="services">
          {services.map((s) => (
            <ServiceRow key={s.id} s={s} />
          ))}
        </ul>
      ) : null}
    </section>
  );
}

function ServiceRow({ s }: { s: Service }) {
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
        <Badge badge={driftBadge(s.status.drift)} label="Drift" testid="drift-badge" />
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
