import { useEffect, useRef, useState } from 'preact/hooks';
import { ConfirmDialog } from './ConfirmDialog';
import { Loading, Notice } from './Notice';
import { api } from '../lib/api';
import { describe } from '../lib/errors';
import { setFlash } from '../lib/flash';
import { formatTime, outputText } from '../lib/format';
import { navigate, paths } from '../lib/router';
import type { Revision, RevisionComparison, Service } from '../lib/types';

const MASK = '********';

const KIND_NAMES: Record<string, string> = {
  create: 'Created',
  update: 'Inputs changed',
  restore: 'Restored',
  upgrade: 'Version changed',
  apply: 'Applied',
};

function what(r: Revision): string {
  const name = KIND_NAMES[r.kind] ?? r.kind;
  return r.restored_from ? `${name} from revision ${r.restored_from}` : name;
}

function shown(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (v === MASK) return 'secret (hidden)';
  return outputText(v);
}

/**
 * The service's configuration revisions: every change of its inputs and every successful
 * apply. Two of them can be compared field by field; restoring one sets its inputs again
 * and opens the plan of the change (nothing is applied until the user applies).
 */
export function RevisionsPanel({ svc }: { svc: Service }) {
  const [revs, setRevs] = useState<Revision[] | null>(null);
  const [error, setError] = useState('');
  const [from, setFrom] = useState(0);
  const [to, setTo] = useState(0);
  const [cmp, setCmp] = useState<RevisionComparison | null>(null);
  const [restoring, setRestoring] = useState<Revision | null>(null);
  const [busy, setBusy] = useState(false);
  const latest = useRef(0);

  // A new ETag (inputs changed) or a job's end can add a revision: reload then.
  const key = `${svc.etag}|${svc.status.last_job?.id ?? ''}|${svc.status.last_job?.state ?? ''}`;
  useEffect(() => {
    const n = ++latest.current;
    api.revisions(svc.id).then(
      (list) => {
        if (n !== latest.current) return;
        setRevs(list);
        setError('');
        if (list.length >= 2) {
          setFrom((f) => f || list[1].number);
          setTo((t) => t || list[0].number);
        }
      },
      (err) => {
        if (n === latest.current) setError(describe(err));
      },
    );
  }, [svc.id, key]);

  const compare = async () => {
    setCmp(null);
    setError('');
    try {
      setCmp(await api.compareRevisions(svc.id, from, to));
    } catch (err) {
      setError(describe(err));
    }
  };

  const restore = async () => {
    if (!restoring) return;
    setBusy(true);
    try {
      const res = await api.restoreRevision(svc.id, restoring.number, svc.etag);
      setFlash({
        tone: 'info',
        text: `The inputs of revision ${restoring.number} are restored (revision ${res.revision.number}). This plan shows what applying them would change; nothing is applied until you apply.`,
      });
      navigate(paths.job(svc.id, res.job.id));
      return;
    } catch (err) {
      setError(describe(err));
    }
    setBusy(false);
    setRestoring(null);
  };

  return (
    <section class="panel" aria-labelledby="revisions-title" data-testid="revisions">
      <h2 id="revisions-title">Configuration history</h2>
      {error ? <Notice tone="error">{error}</Notice> : null}
      {revs === null ? (
        error ? null : <Loading what="the configuration history" />
      ) : revs.length === 0 ? (
        <p class="muted">No revisions yet.</p>
      ) : (
        <>
          <div class="table-wrap" role="region" aria-label="Configuration revisions" tabIndex={0}>
            <table class="table">
              <caption class="visually-hidden">Configuration revisions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Revision</th>
                  <th scope="col">What</th>
                  <th scope="col">Version</th>
                  <th scope="col">By</th>
                  <th scope="col">When</th>
                  <th scope="col">
                    <span class="visually-hidden">Restore</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {revs.map((r) => (
                  <tr key={r.number}>
                    <th scope="row">{r.number}</th>
                    <td>
                      {what(r)}
                      {r.state_serial ? <span class="muted"> (state serial {r.state_serial})</span> : null}
                    </td>
                    <td>{r.template_version}</td>
                    <td>{r.by}</td>
                    <td>{formatTime(r.at)}</td>
                    <td>
                      <button type="button" class="button button--small" disabled={svc.status.busy} onClick={() => setRestoring(r)}>
                        Restore<span class="visually-hidden"> revision {r.number}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {revs.length >= 2 ? (
            <form
              class="actions actions--form"
              onSubmit={(e) => {
                e.preventDefault();
                void compare();
              }}
            >
              <label for="rev-from">Compare revision</label>
              <select id="rev-from" style={{ width: 'auto' }} value={from} onChange={(e) => setFrom(Number(e.currentTarget.value))}>
                {revs.map((r) => (
                  <option key={r.number} value={r.number}>
                    {r.number}
                  </option>
                ))}
              </select>
              <label for="rev-to">with</label>
              <select id="rev-to" style={{ width: 'auto' }} value={to} onChange={(e) => setTo(Number(e.currentTarget.value))}>
                {revs.map((r) => (
                  <option key={r.number} value={r.number}>
                    {r.number}
                  </option>
                ))}
              </select>
              <button type="submit" class="button">
                Compare
              </button>
            </form>
          ) : null}
          {cmp ? (
            cmp.changes.length === 0 ? (
              <p data-testid="revision-compare">
                Revisions {cmp.from} and {cmp.to} have the same configuration.
              </p>
            ) : (
              <div class="table-wrap" role="region" aria-label="Differences" tabIndex={0}>
                <table class="table" data-testid="revision-compare">
                  <caption class="visually-hidden">
                    What differs from revision {cmp.from} to revision {cmp.to}
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Field</th>
                      <th scope="col">Revision {cmp.from}</th>
                      <th scope="col">Revision {cmp.to}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {cmp.changes.map((c) => (
                      <tr key={c.field}>
                        <th scope="row">{c.field === 'template_version' ? 'Template version' : c.field.replace(/^inputs\./, '')}</th>
                        <td>
                          <code class="value">{shown(c.from)}</code>
                        </td>
                        <td>
                          <code class="value">{shown(c.to)}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          ) : null}
        </>
      )}
      <ConfirmDialog
        open={restoring !== null}
        title={`Restore revision ${restoring?.number ?? ''}?`}
        confirmLabel={busy ? 'Restoring…' : 'Restore and plan'}
        busy={busy}
        onCancel={() => setRestoring(null)}
        onConfirm={() => void restore()}
      >
        <p>The service’s inputs become those of revision {restoring?.number}; secrets keep their current values. A plan then shows what would change. Nothing is applied until you apply.</p>
        {restoring && restoring.template_version !== svc.template_version ? (
          <p>
            Revision {restoring.number} ran version {restoring.template_version} of the template: the service moves back to that version too
            (it runs {svc.template_version} now).
          </p>
        ) : null}
      </ConfirmDialog>
    </section>
  );
}
