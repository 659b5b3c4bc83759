import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../components/Announcer';
import { Badge } from '../components/Badge';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ContainerPanel } from '../components/ContainerPanel';
import { DriftView, OutputsView } from '../components/JobParts';
import { Link } from '../components/Link';
import { RevisionsPanel } from '../components/Revisions';
import { UpgradePanel } from '../components/UpgradePanel';
import { Loading, Notice } from '../components/Notice';
import { api, type JobAction } from '../lib/api';
import { ApiError, describe } from '../lib/errors';
import { mapFieldErrors, FORM_EXPIRES_KEY } from '../lib/form';
import { setFlash, takeFlash, type Flash } from '../lib/flash';
import {
  driftAnnouncement,
  driftBadge,
  EXPIRED_BADGE,
  plural,
  statusDriftBadge,
  STOPPED_BADGE,
  finalSentence,
  formatDuration,
  formatTime,
  healthBadge,
  intentBadge,
  jobStateBadge,
  operationName,
  targetLabel,
  serviceBusy,
} from '../lib/format';
import { appendPage, applyStatusEvent, JOBS_PAGE, MAX_PAGE, mergeNewestJobs, outputsSource, shownDrift, type Paged } from '../lib/listing';
import { subscribeLive } from '../lib/live';
import { savedSentence, settingsBody, settingsForm, type SettingsForm } from '../lib/settings';
import { navigate, paths } from '../lib/router';
import { useTitle } from '../lib/title';
import { useJobFollow } from '../lib/useJobFollow';
import { canChange } from '../lib/roles';
import type { DriftReport, Job, Me, Service, Template } from '../lib/types';
import { isFinal } from '../lib/types';

const MASK = '********';

export function ServiceScreen({ id, me }: { id: string; me: Me }) {
  const [svc, setSvc] = useState<Service | null>(null);
  const [gone, setGone] = useState(false);
  const [loadError, setLoadError] = useState('');
  const [tpl, setTpl] = useState<Template | null>(null);
  const [jobs, setJobs] = useState<Paged<Job> | null>(null);
  const [olderBusy, setOlderBusy] = useState(false);
  const [focusJob, setFocusJob] = useState('');
  const svcRef = useRef(svc);
  svcRef.current = svc;
  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;
  const [drift, setDrift] = useState<DriftReport | null>(null);
  const [outJob, setOutJob] = useState<Job | null>(null);
  const [notice, setNotice] = useState<Flash | null>(takeFlash);
  const [working, setWorking] = useState('');
  const [confirm, setConfirm] = useState<'destroy' | 'delete' | 'recover' | null>(null);
  const [alsoDestroy, setAlsoDestroy] = useState(true);
  const [followId, setFollowId] = useState<string | null>(null);
  // After "Mark as recovered" its button is gone: focus goes to the heading once the dialog has closed.
  const focusHeading = useRef(false);
  useTitle(svc ? svc.name : 'Service');

  // Reloads overlap (a status event and a job's end each start one) and their answers can
  // arrive out of order: only the answer to the newest request of each kind is applied, so
  // an older answer (the job still running) never overwrites a newer one.
  const latest = useRef({ service: 0, jobs: 0, drift: 0 });

  const loadService = async () => {
    const n = ++latest.current.service;
    const stale = () => n !== latest.current.service;
    try {
      const s = await api.service(id);
      if (stale()) return s;
      setSvc(s);
      setLoadError('');
      const lj = s.status.last_job;
      // Follow a running job right here, so its end refreshes the page even without the tenant stream.
      if (lj && !isFinal(lj.state)) setFollowId(lj.id);
      return s;
    } catch (err) {
      if (stale()) return null;
      if (err instanceof ApiError && err.status === 404) setGone(true);
      else setLoadError(describe(err));
      return null;
    }
  };

  const loadJobs = async () => {
    const n = ++latest.current.jobs;
    try {
      // The newest page on top of what is shown: older pages read already stay.
      const page = await api.jobsPage(id, { limit: JOBS_PAGE });
      if (n !== latest.current.jobs) return;
      const list = mergeNewestJobs(jobsRef.current, page);
      jobsRef.current = list;
      setJobs(list);
      // Outputs are those of the last successful apply, unless a destroy came after it;
      // with neither among the jobs shown, older pages are read (not shown) to find them.
      let found = outputsSource(list.items);
      let cursor = list.next;
      for (let i = 0; !found.decided && cursor && i < 20; i++) {
        const older = await api.jobsPage(id, { limit: MAX_PAGE, cursor });
        if (n !== latest.current.jobs) return;
        found = outputsSource(older.items);
        cursor = older.next_cursor;
      }
      if (found.job) {
        const out = await api.job(id, found.job.id);
        if (n === latest.current.jobs) setOutJob(out);
      } else setOutJob(null);
    } catch {
      // The page still works without the history.
    }
  };

  /** "Older jobs": the next page of the history, below the jobs shown. */
  const loadOlderJobs = async () => {
    const cur = jobsRef.current;
    if (!cur?.next || olderBusy) return;
    setOlderBusy(true);
    try {
      const page = await api.jobsPage(id, { limit: JOBS_PAGE, cursor: cur.next });
      const latestList = jobsRef.current ?? cur;
      const next = appendPage(latestList, page);
      jobsRef.current = next;
      setJobs(next);
      const firstNew = page.items.find((j) => !latestList.items.some((x) => x.id === j.id));
      if (firstNew) setFocusJob(firstNew.id);
      announce(`${plural(next.items.length, 'job')} shown${next.next ? '; older jobs can be loaded' : ''}.`);
    } catch (err) {
      setNotice({ tone: 'error', text: `The older jobs could not be read. ${describe(err)}` });
    }
    setOlderBusy(false);
  };

  // After "Older jobs", focus moves to the first job added.
  useEffect(() => {
    if (!focusJob) return;
    document.querySelector<HTMLElement>(`[data-job="${CSS.escape(focusJob)}"] a`)?.focus();
    setFocusJob('');
  }, [focusJob]);

  const loadDrift = async () => {
    const n = ++latest.current.drift;
    try {
      const d = await api.drift(id);
      if (n === latest.current.drift) setDrift(d);
    } catch {
      if (n === latest.current.drift) setDrift(null);
    }
  };

  const loadAll = async () => {
    const s = await loadService();
    if (!s) return;
    await Promise.all([loadJobs(), loadDrift()]);
  };

  useEffect(() => {
    void (async () => {
      const s = await loadService();
      if (!s) return;
      api.template(s.template).then(setTpl, () => setTpl(null));
      await Promise.all([loadJobs(), loadDrift()]);
    })();
    return subscribeLive({
      onStatus: (ev) => {
        if (ev.service !== id) return;
        // A drift shows at once, from the event itself; the reads below bring the rest.
        const cur = svcRef.current;
        if (cur && ev.kind === 'drift') {
          const said = driftAnnouncement(cur.name, cur.status, ev);
          if (said) announce(said);
          setSvc((s) => (s ? applyStatusEvent(s, ev) : s));
        }
        void loadService();
        void loadJobs();
        if (ev.kind === 'drift' || ev.kind === 'job') void loadDrift();
      },
      onResync: () => void loadAll(),
    });
  }, [id]);

  const follow = useJobFollow(id, followId, () => {
    void loadAll();
  });
  const followed = jobs?.items.find((j) => j.id === followId);
  const followState = follow.log.state ?? followed?.state;
  const lastFollowAnnounce = useRef('');
  useEffect(() => {
    if (!followId || !followState || !isFinal(followState)) return;
    const key = followId + followState;
    if (lastFollowAnnounce.current === key) return;
    lastFollowAnnounce.current = key;
    announce(finalSentence(followed?.operation ?? 'drift', followState));
  }, [followId, followState]);

  const start = async (action: JobAction, stay = false) => {
    setNotice(null);
    setWorking(action);
    try {
      const job = await api.startJob(id, action);
      if (stay) {
        setFollowId(job.id);
        setJobs((cur) => ({ items: [job, ...(cur?.items ?? []).filter((j) => j.id !== job.id)], next: cur?.next }));
        setSvc((s) => (s ? { ...s, status: { ...s.status, busy: true, last_job: { id: job.id, operation: job.operation, state: job.state } } } : s));
        announce(`${operationName(action)} started.`);
      } else {
        navigate(paths.job(id, job.id));
        return;
      }
    } catch (err) {
      setNotice({ tone: 'error', text: describe(err) });
    }
    setWorking('');
  };

  const destroy = async () => {
    setConfirm(null);
    await start('destroy');
  };

  const remove = async () => {
    setWorking('delete');
    setNotice(null);
    try {
      const job = await api.deleteService(id, deployed && alsoDestroy);
      setConfirm(null);
      if (job) {
        setFlash({ tone: 'info', text: 'The service is being destroyed; it disappears from your list once that succeeds.' });
        navigate(paths.job(id, job.id));
      } else {
        setFlash({ tone: 'success', text: `“${svc?.name ?? id}” was deleted.` });
        navigate(paths.services());
      }
    } catch (err) {
      setConfirm(null);
      setNotice({ tone: 'error', text: describe(err) });
      setWorking('');
    }
  };

  const recover = async () => {
    setWorking('recover');
    setNotice(null);
    try {
      const updated = await api.recover(id);
      focusHeading.current = true;
      setConfirm(null);
      setSvc(updated);
      setNotice({ tone: 'success', text: `“${updated.name}” is marked as recovered: SpawnIt accepts applies and destroys again.` });
    } catch (err) {
      setConfirm(null);
      setNotice({ tone: 'error', text: `The service was not marked as recovered. ${describe(err)}` });
      // Show what changed meanwhile (a job that started, say).
      void loadService();
    }
    setWorking('');
  };

  useEffect(() => {
    if (confirm !== null || !focusHeading.current) return;
    focusHeading.current = false;
    // After this render's effects, so the dialog has closed and the page is focusable again.
    const t = setTimeout(() => document.getElementById('svc-title')?.focus(), 0);
    return () => clearTimeout(t);
  }, [confirm]);

  if (gone) {
    return (
      <section class="stack">
        <h1 tabIndex={-1}>Service not found</h1>
        <p>This service does not exist any more (it may have been deleted), or it belongs to someone else.</p>
        <p>
          <Link href={paths.services()}>Back to my services</Link>
        </p>
      </section>
    );
  }
  if (!svc) {
    return (
      <section class="stack">
        <h1 tabIndex={-1}>Service</h1>
        {loadError ? <Notice tone="error">{loadError}</Notice> : <Loading what="the service" />}
      </section>
    );
  }

  const busy = serviceBusy(svc) || (!!followId && !follow.ended && !isFinal(followState));
  const deployed = svc.status.intent === 'applied' || !!svc.status.needs_recovery;
  // A destroyed service can still be checked: resources left behind show as orphaned.
  const everDeployed = deployed || svc.status.intent === 'destroyed';
  // A drift Docker reported and OpenTofu has not confirmed yet is shown as such; once
  // confirmed, the last check's report says it.
  const unconfirmed = !!svc.status.drift_unconfirmed;
  const driftStatus = shownDrift(svc.status, drift);
  const needsRepair = deployed && !unconfirmed && (driftStatus === 'drifted' || driftStatus === 'missing');
  const last = svc.status.last_job;
  const dis = busy || !!working;
  const health = healthBadge(svc.status.health, svc.status.health_message);
  const canAccept = tpl?.accept_drift !== false;

  return (
    <section class="stack" aria-labelledby="svc-title">
      <p class="crumbs">
        <Link href={paths.services()}>My services</Link> <span aria-hidden="true">›</span> {svc.name}
      </p>
      <div class="page-head">
        <h1 id="svc-title" tabIndex={-1}>
          {svc.name}
        </h1>
        <p class="muted">
          {tpl ? tpl.name : svc.template}
          {svc.template_version ? ` ${svc.template_version}` : ''} · {targetLabel(svc.target)} · created{' '}
          {formatTime(svc.created_at)}
        </p>
        <div class="badges" data-testid="service-status">
          <Badge badge={intentBadge(svc.status.intent)} label="Deployment" testid="intent-badge" />
          <Badge badge={unconfirmed ? statusDriftBadge(svc.status) : driftBadge(driftStatus)} label="Drift" testid="drift-badge" />
          {busy ? <Badge badge={{ tone: 'info', text: 'Busy', hint: 'A job is running for this service.' }} label="Activity" testid="busy-badge" /> : null}
          {health ? <Badge badge={health} label="Health" testid="health-badge" /> : null}
          {svc.status.expired ? <Badge badge={EXPIRED_BADGE} label="Expiry" testid="expired-badge" /> : null}
          {svc.status.stopped ? <Badge badge={STOPPED_BADGE} label="Running" testid="stopped-badge" /> : null}
        </div>
        {health && svc.status.health !== 'healthy' && svc.status.health_message ? (
          <p class="muted" data-testid="health-message">
            Health: {svc.status.health_message}
            {svc.status.health_checked_at ? ` (checked ${formatTime(svc.status.health_checked_at)})` : ''}
          </p>
        ) : null}
      </div>

      {notice ? <Notice tone={notice.tone} testid="service-notice">{notice.text}</Notice> : null}
      {svc.status.needs_recovery ? (
        <Notice tone="error" title="This service needs recovery" testid="recovery-notice">
          <p>
            SpawnIt could not save or verify this service’s OpenTofu state. Until the state is repaired, SpawnIt refuses to
            apply or destroy the service.
          </p>
          {svc.status.recovery_note ? <p data-testid="recovery-note">What SpawnIt found: {svc.status.recovery_note}.</p> : null}
          <p>
            An operator repairs the state first, for example by pushing the errored.tfstate that SpawnIt kept (
            <code>tofu state push</code>). Then mark the service as recovered under Actions.
          </p>
        </Notice>
      ) : null}
      {svc.status.leftovers?.length ? (
        <Notice tone="warn" title="Objects left outside this service’s state" testid="leftovers-notice">
          <p>
            A cancelled or failed job left these Docker objects, carrying this service’s labels, that OpenTofu does not
            track, and SpawnIt could not remove them yet. The next apply or destroy tries again.
          </p>
          <ul data-testid="leftovers">
            {svc.status.leftovers.map((l) => (
              <li key={`${l.kind}:${l.id}`}>
                {l.kind} <code>{l.name || l.id.slice(0, 12)}</code>
                {l.reason ? `: ${l.reason}` : ''}
              </li>
            ))}
          </ul>
        </Notice>
      ) : null}
      {svc.status.expired ? (
        <Notice tone="info" title="This service expired" testid="expired-notice">
          Its expiry passed, so SpawnIt destroyed it; its configuration is kept. Applying it again deploys it again
          {svc.expires_at ? ', and it expires again unless you move or remove the expiry in Settings below' : ''}.
        </Notice>
      ) : null}
      {unconfirmed ? (
        <Notice tone="warn" title={`${driftBadge(driftStatus).text}, awaiting confirmation`} testid="drift-unconfirmed">
          <p>
            {svc.status.drift_signal ? `Docker reported: “${svc.status.drift_signal}”.` : 'Docker reported a change to this service.'} SpawnIt
            is checking with OpenTofu to confirm it; this page updates when the check is done.
          </p>
        </Notice>
      ) : null}
      {needsRepair ? (
        <Notice tone="warn" title={driftStatus === 'missing' ? 'Parts of this service are missing' : 'This service was changed outside SpawnIt'}>
          <p>{driftBadge(driftStatus).hint}</p>
          <p>
            Repair applies the configuration again and undoes the changes.
            {canAccept
              ? ' Keep the changes records what runs now as the service’s state; the configuration then differs from it until you apply again.'
              : ' This service’s template does not allow keeping the changes.'}
          </p>
        </Notice>
      ) : null}

      {busy && (followId || last) ? (
        <div class="banner banner--info" data-testid="running-job">
          <div class="banner__row">
            <span class="spinner" aria-hidden="true" />
            <p class="banner__text">
              {operationName(followed?.operation ?? last?.operation ?? 'apply')} is running.{' '}
              <Link href={paths.job(id, followId ?? last!.id)}>Watch it live</Link>
            </p>
          </div>
        </div>
      ) : null}

      {/* A viewer's role allows none of the actions: they are not shown (the server refuses them anyway). */}
      <section class="panel" aria-labelledby="actions-title" hidden={!canChange(me)}>
        <h2 id="actions-title">Actions</h2>
        {busy ? <p class="muted">Actions are available again when the running job has finished.</p> : null}
        <div class="actions actions--wrap" data-testid="service-actions">
          {svc.status.needs_recovery ? (
            <button type="button" class="button button--primary" disabled={dis} onClick={() => setConfirm('recover')} data-testid="action-recover">
              Mark as recovered
            </button>
          ) : null}
          {needsRepair ? (
            <button
              type="button"
              class={`button${svc.status.needs_recovery ? '' : ' button--primary'}`}
              disabled={dis}
              onClick={() => void start('remediate')}
              data-testid="remediate"
            >
              {working === 'remediate' ? 'Starting…' : 'Repair (apply the configuration again)'}
            </button>
          ) : null}
          {needsRepair && canAccept ? (
            <button type="button" class="button" disabled={dis} onClick={() => void start('accept')} data-testid="accept">
              {working === 'accept' ? 'Starting…' : 'Keep the changes (accept)'}
            </button>
          ) : null}
          <button type="button" class="button" disabled={dis} onClick={() => void start('plan')} data-testid="action-plan">
            Review plan
          </button>
          <button
            type="button"
            class={`button${needsRepair || svc.status.needs_recovery ? '' : ' button--primary'}`}
            disabled={dis}
            onClick={() => void start('apply')}
            data-testid="action-apply"
          >
            {deployed ? 'Apply' : 'Deploy (apply)'}
          </button>
          <button type="button" class="button" disabled={dis || !everDeployed} onClick={() => void start('drift', true)} data-testid="action-drift">
            {working === 'drift' ? 'Starting…' : 'Check drift'}
          </button>
          <button type="button" class="button button--danger-outline" disabled={dis || !deployed} onClick={() => setConfirm('destroy')} data-testid="action-destroy">
            Destroy
          </button>
          <button type="button" class="button button--danger-outline" disabled={dis} onClick={() => setConfirm('delete')} data-testid="action-delete">
            Delete
          </button>
        </div>
        {!everDeployed ? (
          <p class="help">Check drift and Destroy become available once the service is deployed.</p>
        ) : !deployed ? (
          <p class="help">Destroy becomes available once the service is deployed again.</p>
        ) : null}
      </section>

      {deployed && (svc.target ?? svc.provider) === 'docker' && !svc.status.needs_recovery ? <ContainerPanel svc={svc} disabled={busy} onChanged={setSvc} /> : null}

      <div class="grid2">
        <section class="panel" aria-labelledby="out-title">
          <h2 id="out-title">Endpoints and outputs</h2>
          {outJob?.outputs ? (
            <OutputsView
              key={outJob.id}
              outputs={outJob.outputs}
              reveal={canChange(me) ? async () => (await api.job(id, outJob.id, true)).outputs ?? {} : undefined}
            />
          ) : (
            <p class="muted">{deployed ? 'No outputs recorded.' : 'Deploy the service to see its addresses here.'}</p>
          )}
        </section>

        <section class="panel" aria-labelledby="drift-title">
          <h2 id="drift-title">Drift</h2>
          {drift ? <DriftView report={drift} /> : <p class="muted">No drift check yet.</p>}
        </section>
      </div>

      <UpgradePanel svc={svc} disabled={dis} />

      <section class="panel" aria-labelledby="inputs-title">
        <h2 id="inputs-title">Configuration</h2>
        <InputsView svc={svc} tpl={tpl} />
      </section>

      {canChange(me) ? <SettingsPanel svc={svc} onSaved={setSvc} /> : null}

      <section class="panel" aria-labelledby="jobs-title">
        <h2 id="jobs-title">History</h2>
        {jobs === null ? (
          <Loading what="the history" />
        ) : jobs.items.length === 0 ? (
          <p class="muted">No jobs yet.</p>
        ) : (
          <>
            <JobTable service={id} jobs={jobs.items} />
            {jobs.next ? (
              <p>
                <button type="button" class="button" data-testid="jobs-older" disabled={olderBusy} onClick={() => void loadOlderJobs()}>
                  {olderBusy ? 'Loading…' : 'Older jobs'}
                </button>
              </p>
            ) : null}
          </>
        )}
      </section>

      <RevisionsPanel svc={svc} />

      <ConfirmDialog
        open={confirm === 'destroy'}
        title={`Destroy “${svc.name}”?`}
        confirmLabel="Destroy"
        danger
        busy={!!working}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void destroy()}
      >
        <p>Everything this service deployed is removed, including its data. Its settings are kept, so you can deploy it again later.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'recover'}
        title={`Mark “${svc.name}” as recovered?`}
        confirmLabel={working === 'recover' ? 'Marking…' : 'Mark as recovered'}
        busy={working === 'recover'}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void recover()}
      >
        <p>Do this only once an operator has repaired the service’s OpenTofu state, for example by pushing the errored.tfstate SpawnIt kept.</p>
        <p>SpawnIt then accepts applies and destroys again, and OpenTofu works from the stored state as it is. If that state is still wrong, the next apply may create resources twice or lose track of some.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'delete'}
        title={`Delete “${svc.name}”?`}
        confirmLabel={deployed && alsoDestroy ? 'Destroy and delete' : 'Delete'}
        danger
        busy={working === 'delete'}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void remove()}
      >
        <p>The service and its settings are removed from SpawnIt.</p>
        {deployed ? (
          <>
            <div class="check">
              <input id="also-destroy" type="checkbox" checked={alsoDestroy} onChange={(e) => setAlsoDestroy(e.currentTarget.checked)} />
              <label for="also-destroy">Also destroy its infrastructure (containers, volumes and data)</label>
            </div>
            {!alsoDestroy ? (
              <p class="help">The service is still deployed: SpawnIt refuses to forget it while its infrastructure exists.</p>
            ) : null}
          </>
        ) : null}
      </ConfirmDialog>
    </section>
  );
}

/** Service settings (expiry, automatic repair), saved with PATCH; independent of the inputs, no If-Match. */
function SettingsPanel({ svc, onSaved }: { svc: Service; onSaved: (s: Service) => void }) {
  const [form, setForm] = useState<SettingsForm>(() => settingsForm(svc));
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [fieldError, setFieldError] = useState('');
  const [result, setResult] = useState<Flash | null>(null);

  // Follow changes made elsewhere (another tab, the tenant stream) unless the user is editing.
  useEffect(() => {
    if (!dirty) setForm(settingsForm(svc));
  }, [svc.expires_at, svc.auto_remediate]);

  const edit = (patch: Partial<SettingsForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setDirty(true);
    setResult(null);
    if ('expires' in patch) setFieldError('');
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    const b = settingsBody(svc, form);
    if (!b.ok) {
      setFieldError(b.error);
      document.getElementById('settings-expires')?.focus();
      return;
    }
    setFieldError('');
    if (!b.changed) {
      setDirty(false);
      setResult({ tone: 'info', text: 'Nothing to save: the settings are unchanged.' });
      return;
    }
    setSaving(true);
    try {
      const updated = await api.updateSettings(svc.id, b.body);
      setDirty(false);
      setForm(settingsForm(updated));
      onSaved(updated);
      const text = savedSentence(b.body, updated, formatTime);
      setResult({ tone: 'success', text });
      announce(text);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'validation_failed' && err.fields.length > 0) {
        const mapped = mapFieldErrors([], err.fields);
        const onExpiry = mapped.fields[FORM_EXPIRES_KEY];
        if (onExpiry) {
          setFieldError(onExpiry);
          document.getElementById('settings-expires')?.focus();
        }
        const rest = [...mapped.general];
        if (rest.length > 0 || !onExpiry) setResult({ tone: 'error', text: rest.join(' ') || describe(err) });
      } else if (err instanceof ApiError && err.status === 400 && /expir/i.test(err.serverMessage)) {
        setFieldError('Choose a time in the future.');
        document.getElementById('settings-expires')?.focus();
      } else {
        setResult({ tone: 'error', text: `The settings were not saved. ${describe(err)}` });
      }
    }
    setSaving(false);
  };

  const describedBy = ['settings-expires-help', fieldError ? 'settings-expires-error' : ''].filter(Boolean).join(' ');
  return (
    <section class="panel" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form class="stack" onSubmit={(e) => void save(e)} noValidate data-testid="service-settings">
        <div class={`field${fieldError ? ' field--invalid' : ''}`}>
          <label for="settings-expires">Expires</label>
          <p class="help" id="settings-expires-help">
            {svc.expires_at
              ? `Currently ${svc.status.expired ? 'expired' : 'expires'} ${formatTime(svc.expires_at)}. `
              : 'Currently never expires. '}
            When it expires, SpawnIt destroys the service and keeps its configuration. Leave empty to keep it.
          </p>
          <div class="actions actions--wrap">
            <input
              id="settings-expires"
              type="datetime-local"
              value={form.expires}
              aria-invalid={fieldError ? 'true' : undefined}
              aria-describedby={describedBy}
              disabled={saving}
              onInput={(e) => edit({ expires: e.currentTarget.value })}
            />
            <button type="button" class="button" disabled={saving || form.expires === ''} onClick={() => edit({ expires: '' })} data-testid="remove-expiry">
              Remove expiry
            </button>
          </div>
          {fieldError ? (
            <p class="field-error" id="settings-expires-error" data-testid="error-settings-expires">
              <span aria-hidden="true">⚠ </span>
              {fieldError}
            </p>
          ) : null}
        </div>
        <div class="check">
          <input
            id="settings-auto-remediate"
            type="checkbox"
            checked={form.autoRemediate}
            aria-describedby="settings-auto-remediate-help"
            disabled={saving}
            onChange={(e) => edit({ autoRemediate: e.currentTarget.checked })}
          />
          <label for="settings-auto-remediate">Repair drift automatically</label>
        </div>
        <p class="help" id="settings-auto-remediate-help">
          When a drift check finds the service changed or missing, SpawnIt applies the configuration again on its own.
        </p>
        {result ? <Notice tone={result.tone} testid="settings-notice">{result.text}</Notice> : null}
        <div class="actions">
          <button type="submit" class="button button--primary" disabled={saving} data-testid="save-settings">
            {saving ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      </form>
    </section>
  );
}

function InputsView({ svc, tpl }: { svc: Service; tpl: Template | null }) {
  const fields = tpl?.inputs ?? [];
  const known = new Map(fields.map((f) => [f.name, f]));
  const names = [...fields.map((f) => f.name).filter((n) => n in svc.inputs), ...Object.keys(svc.inputs).filter((n) => !known.has(n)).sort()];
  if (names.length === 0) return <p class="muted">This service has no inputs.</p>;
  return (
    <dl class="kv" data-testid="inputs">
      {names.map((n) => {
        const f = known.get(n);
        const v = svc.inputs[n];
        const secret = v === MASK || f?.type === 'secret' || f?.sensitive;
        return (
          <div class="kv__row" key={n}>
            <dt>{f?.label ?? n}</dt>
            <dd>
              {secret ? (
                v === '' || v === undefined || v === null ? (
                  <span class="muted">not set</span>
                ) : (
                  <span class="masked">
                    <span aria-hidden="true">••••••••</span>
                    <span class="visually-hidden">hidden</span>
                  </span>
                )
              ) : typeof v === 'boolean' ? (
                v ? 'Yes' : 'No'
              ) : v === null || v === undefined || v === '' ? (
                <span class="muted">not set</span>
              ) : (
                <code class="value">{String(v)}</code>
              )}
            </dd>
          </div>
        );
      })}
    </dl>
  );
}

function JobTable({ service, jobs }: { service: string; jobs: Job[] }) {
  return (
    <div class="table-wrap" role="region" aria-label="Job history" tabIndex={0}>
      <table class="table" data-testid="jobs">
        <caption class="visually-hidden">Jobs of this service, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Result</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} data-job={j.id}>
              <th scope="row">
                <Link href={paths.job(service, j.id)}>{operationName(j.operation)}</Link>
              </th>
              <td>
                <Badge badge={jobStateBadge(j.state)} />
              </td>
              <td>{formatTime(j.started_at ?? j.created_at)}</td>
              <td>{formatDuration(j.started_at, j.ended_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
