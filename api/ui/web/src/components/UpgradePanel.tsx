import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api';
import { describe } from '../lib/errors';
import { formatTime } from '../lib/format';
import { navigate, paths } from '../lib/router';
import type { Job, Service, TemplateVersion, Upgrade } from '../lib/types';
import { isFinal } from '../lib/types';
import { PlanView } from './JobParts';
import { Notice } from './Notice';

/**
 * The service's version: the offer of a newer one with its release notes, and moving to
 * any published version (a downgrade too) in two steps: the plan, read here, then the
 * apply, followed on its job page.
 */
export function UpgradePanel({ svc, disabled }: { svc: Service; disabled: boolean }) {
  const [versions, setVersions] = useState<TemplateVersion[] | null>(null);
  const [target, setTarget] = useState('');
  const [plan, setPlan] = useState<Upgrade | null>(null);
  const [planJob, setPlanJob] = useState<Job | null>(null);
  const [error, setError] = useState('');
  const [working, setWorking] = useState('');
  const offer = svc.upgrade;

  useEffect(() => {
    api.versions(svc.template).then(setVersions, () => setVersions([]));
  }, [svc.template, svc.template_version]);
  useEffect(() => {
    setTarget(offer?.to ?? '');
    setPlan(null);
    setPlanJob(null);
  }, [svc.template_version, offer?.to]);

  // Follow the plan job until it ends (its plan is read from the final record).
  useEffect(() => {
    if (!plan?.job || (planJob && isFinal(planJob.state))) return;
    let stop = false;
    const tick = async () => {
      try {
        const j = await api.job(svc.id, plan.job!.id);
        if (stop) return;
        setPlanJob(j);
        if (!isFinal(j.state)) setTimeout(() => void tick(), 500);
      } catch (err) {
        if (!stop) setError(describe(err));
      }
    };
    void tick();
    return () => {
      stop = true;
    };
  }, [plan?.job?.id]);

  const others = (versions ?? []).filter((v) => v.version !== svc.template_version && !v.retired);

  const planMove = async () => {
    setError('');
    setWorking('plan');
    setPlan(null);
    setPlanJob(null);
    try {
      setPlan(await api.upgrade(svc.id, target, false));
    } catch (err) {
      setError(describe(err));
    }
    setWorking('');
  };
  const applyMove = async () => {
    setError('');
    setWorking('apply');
    try {
      const u = await api.upgrade(svc.id, target, true);
      navigate(paths.job(svc.id, u.job!.id));
      return;
    } catch (err) {
      setError(describe(err));
    }
    setWorking('');
  };

  return (
    <section class="panel" aria-labelledby="version-title" data-testid="version-panel">
      <h2 id="version-title">Version</h2>
      <p>
        This service runs version <strong data-testid="service-version">{svc.template_version || 'unknown'}</strong> of its
        template; a new version never changes it until you move it.
      </p>
      {offer ? (
        <Notice tone="info" title={`Upgrade available: ${offer.from} → ${offer.to}`} testid="upgrade-offer">
          {offer.release_notes ? <p data-testid="release-notes">{offer.release_notes}</p> : null}
          <p>Review the plan first: nothing changes until you apply it.</p>
        </Notice>
      ) : null}
      {others.length > 0 ? (
        <div class="actions actions--wrap">
          <label for="upgrade-target">Move to version</label>
          <select id="upgrade-target" value={target} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)} data-testid="upgrade-target">
            <option value="">choose…</option>
            {others.map((v) => (
              <option key={v.version} value={v.version}>
                {v.version}
                {v.latest ? ' (latest)' : ''} · published {formatTime(v.published_at)}
              </option>
            ))}
          </select>
          <button type="button" class="button" disabled={disabled || !!working || !target} onClick={() => void planMove()} data-testid="upgrade-plan">
            {working === 'plan' ? 'Planning…' : 'Review the plan'}
          </button>
        </div>
      ) : versions !== null ? (
        <p class="muted">No other version of this template is published.</p>
      ) : null}
      {error ? <Notice tone="error" testid="upgrade-error">{error}</Notice> : null}
      {plan ? (
        <div class="stack" data-testid="upgrade-plan-result">
          <h3>
            Plan: version {plan.from} → {plan.to}
          </h3>
          {plan.added_inputs.length > 0 ? <p>New inputs, set to their defaults: {plan.added_inputs.join(', ')}.</p> : null}
          {plan.removed_inputs.length > 0 ? <p>Inputs this version no longer has (dropped): {plan.removed_inputs.join(', ')}.</p> : null}
          {!planJob || !isFinal(planJob.state) ? (
            <p class="muted">Planning…</p>
          ) : planJob.state === 'succeeded' && planJob.plan ? (
            <>
              <PlanView plan={planJob.plan} />
              <div class="actions">
                <button type="button" class="button button--primary" disabled={disabled || !!working} onClick={() => void applyMove()} data-testid="upgrade-apply">
                  {working === 'apply' ? 'Starting…' : `Move to version ${plan.to}`}
                </button>
              </div>
            </>
          ) : (
            <Notice tone="error">The plan failed: {planJob.error || planJob.state}.</Notice>
          )}
        </div>
      ) : null}
    </section>
  );
}
