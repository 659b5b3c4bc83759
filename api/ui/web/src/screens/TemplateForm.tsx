import { useEffect, useRef, useState } from 'preact/hooks';
import { TemplateIcon } from '../components/Icon';
import { Link } from '../components/Link';
import { Loading, Notice } from '../components/Notice';
import { announce } from '../components/Announcer';
import { api, type JobAction } from '../lib/api';
import { categoryLabel } from '../lib/catalog';
import { targetLabel } from '../lib/format';
import { ApiError, describe } from '../lib/errors';
import { setFlash } from '../lib/flash';
import {
  controlFor,
  FORM_EXPIRES_KEY,
  FORM_NAME_KEY,
  FORM_TARGET_KEY,
  generates,
  initialState,
  mapFieldErrors,
  toInputs,
  validateAll,
  validateField,
  validateName,
  type FormState,
} from '../lib/form';
import { navigate, paths } from '../lib/router';
import { useTitle } from '../lib/title';
import { canChange } from '../lib/roles';
import type { Field, Me, Template } from '../lib/types';

type Submit = 'plan' | 'apply' | 'save';

const fieldId = (name: string) => `in-${name}`;
const NAME_ID = 'svc-name';
const TARGET_ID = 'svc-target';
const EXPIRES_ID = 'svc-expires';

function idForKey(key: string): string {
  if (key === FORM_NAME_KEY) return NAME_ID;
  if (key === FORM_TARGET_KEY) return TARGET_ID;
  if (key === FORM_EXPIRES_KEY) return EXPIRES_ID;
  return fieldId(key);
}

export function TemplateScreen({ id, me }: { id: string; me?: Me }) {
  const [tpl, setTpl] = useState<Template | null>(null);
  const [loadError, setLoadError] = useState('');
  useTitle(tpl ? `Deploy ${tpl.name}` : 'Deploy');

  const load = async () => {
    setLoadError('');
    try {
      setTpl(await api.template(id));
    } catch (err) {
      setLoadError(describe(err));
    }
  };
  useEffect(() => {
    void load();
  }, [id]);

  if (loadError)
    return (
      <section class="stack">
        <h1 tabIndex={-1}>Deploy</h1>
        <Notice tone="error">{loadError}</Notice>
        <p>
          <Link href={paths.catalog()}>Back to the catalog</Link>
        </p>
      </section>
    );
  if (!tpl)
    return (
      <section class="stack">
        <h1 tabIndex={-1}>Deploy</h1>
        <Loading what="the form" />
      </section>
    );
  return <TemplateForm tpl={tpl} me={me} />;
}

function TemplateForm({ tpl, me }: { tpl: Template; me?: Me }) {
  const fields = tpl.inputs ?? [];
  const [state, setState] = useState<FormState>(() => initialState(fields));
  const [name, setName] = useState(tpl.name);
  const [target, setTarget] = useState(() => (tpl.targets?.includes('docker') ? 'docker' : (tpl.targets?.[0] ?? '')));
  const [expires, setExpires] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState<Submit | null>(null);
  const [shown, setShown] = useState<Set<string>>(new Set());
  const summaryRef = useRef<HTMLDivElement>(null);

  const setValue = (f: Field, v: string | boolean) => {
    setState((s) => ({ ...s, values: { ...s.values, [f.name]: v } }));
    // Clear a field's message once the user fixes it; new messages wait for blur or submit.
    if (errors[f.name]) {
      const next = { ...state, values: { ...state.values, [f.name]: v } };
      if (!validateField(f, next)) setErrors(({ [f.name]: _gone, ...rest }) => rest);
    }
  };

  const blur = (f: Field) => {
    const e = validateField(f, state);
    setErrors((cur) => {
      const { [f.name]: _old, ...rest } = cur;
      return e ? { ...rest, [f.name]: e } : rest;
    });
  };

  const toggleGenerate = (f: Field, generate: boolean) => {
    setState((s) => {
      const own = new Set(s.ownSecret);
      if (generate) own.delete(f.name);
      else own.add(f.name);
      return { ...s, ownSecret: own };
    });
    setErrors(({ [f.name]: _gone, ...rest }) => rest);
    if (!generate) setTimeout(() => document.getElementById(fieldId(f.name))?.focus(), 0);
  };

  const showErrors = (errs: Record<string, string>, gen: string[]) => {
    setErrors(errs);
    setGeneral(gen);
    const count = Object.keys(errs).length + gen.length;
    announce(count === 1 ? 'One value needs your attention.' : `${count} values need your attention.`);
    // Focus the error summary: it lists every problem with a link to its field.
    setTimeout(() => summaryRef.current?.focus(), 0);
  };

  const submit = async (action: Submit) => {
    if (busy) return;
    const errs = validateAll(fields, state, name);
    if (expires && Number.isNaN(new Date(expires).getTime())) errs[FORM_EXPIRES_KEY] = 'Enter a valid date and time.';
    else if (expires && new Date(expires).getTime() <= Date.now()) errs[FORM_EXPIRES_KEY] = 'Choose a time in the future.';
    if (Object.keys(errs).length > 0) {
      showErrors(errs, []);
      return;
    }
    setBusy(action);
    setGeneral([]);
    let created;
    try {
      created = await api.createService({
        template: tpl.id,
        target: target || undefined,
        name: name.trim(),
        inputs: toInputs(fields, state),
        expires_at: expires ? new Date(expires).toISOString() : undefined,
      });
    } catch (err) {
      setBusy(null);
      if (err instanceof ApiError && err.code === 'validation_failed' && err.fields.length > 0) {
        const m = mapFieldErrors(fields, err.fields);
        showErrors(m.fields, m.general);
      } else {
        showErrors({}, [describe(err)]);
      }
      return;
    }
    if (action === 'save') {
      setFlash({ tone: 'success', text: `“${created.name}” was created. Nothing is deployed yet: apply it when you are ready.` });
      navigate(paths.service(created.id));
      return;
    }
    try {
      const job = await api.startJob(created.id, action as JobAction);
      navigate(paths.job(created.id, job.id));
    } catch (err) {
      setFlash({
        tone: 'error',
        text: `“${created.name}” was created, but the ${action === 'plan' ? 'plan' : 'deployment'} could not start: ${describe(err)}`,
      });
      navigate(paths.service(created.id));
    }
  };

  const errorList = [
    ...general.map((g, i) => ({ key: 'g' + i, text: g, target: '' })),
    ...orderedErrorKeys(errors, fields).map((k) => ({
      key: k,
      text: `${labelForKey(k, fields)}: ${errors[k]}`,
      target: idForKey(k),
    })),
  ];

  return (
    <section class="stack" aria-labelledby="form-title">
      <p class="crumbs">
        <Link href={paths.catalog()}>Catalog</Link> <span aria-hidden="true">›</span> {tpl.name}
      </p>
      <div class="page-head page-head--icon">
        <TemplateIcon icon={tpl.icon} size="lg" />
        <div>
          <h1 id="form-title" tabIndex={-1}>
            Deploy {tpl.name}
          </h1>
          <p class="lead">{tpl.description}</p>
          <p class="muted">
            {categoryLabel(tpl.category)} · version {tpl.version}
          </p>
        </div>
      </div>

      <form
        class="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const sub = (e as SubmitEvent).submitter as HTMLButtonElement | null;
          const v = (sub?.value || 'plan') as Submit;
          void submit(v);
        }}
        data-testid="create-form"
      >
        {errorList.length > 0 ? (
          <div class="error-summary" role="alert" tabIndex={-1} ref={summaryRef} data-testid="error-summary">
            <h2 class="error-summary__title">
              {errorList.length === 1 ? 'One thing needs your attention' : `${errorList.length} things need your attention`}
            </h2>
            <ul>
              {errorList.map((e) => (
                <li key={e.key}>
                  {e.target ? (
                    <a
                      href={'#' + e.target}
                      onClick={(ev) => {
                        ev.preventDefault();
                        document.getElementById(e.target)?.focus();
                      }}
                    >
                      {e.text}
                    </a>
                  ) : (
                    e.text
                  )}
                </li>
              ))}
            </ul>
          </div>
        ) : null}

        <fieldset class="fieldset">
          <legend>Your service</legend>
          <div class="field">
            <label for={NAME_ID}>
              Service name <Req />
            </label>
            <p class="help" id={NAME_ID + '-help'}>
              How the service appears in your list.
            </p>
            <input
              id={NAME_ID}
              name="name"
              type="text"
              required
              maxLength={64}
              value={name}
              autocomplete="off"
              aria-invalid={errors[FORM_NAME_KEY] ? 'true' : undefined}
              aria-describedby={describedBy(NAME_ID, true, !!errors[FORM_NAME_KEY])}
              onInput={(e) => {
                setName(e.currentTarget.value);
                if (errors[FORM_NAME_KEY] && !validateName(e.currentTarget.value)) setErrors(({ [FORM_NAME_KEY]: _g, ...r }) => r);
              }}
            />
            <FieldError id={NAME_ID} text={errors[FORM_NAME_KEY]} />
          </div>
          {tpl.targets && tpl.targets.length > 1 ? (
            <div class="field">
              <label for={TARGET_ID}>Where to deploy</label>
              <select
                id={TARGET_ID}
                value={target}
                aria-invalid={errors[FORM_TARGET_KEY] ? 'true' : undefined}
                aria-describedby={describedBy(TARGET_ID, false, !!errors[FORM_TARGET_KEY])}
                onChange={(e) => setTarget(e.currentTarget.value)}
              >
                {tpl.targets.map((p) => (
                  <option key={p} value={p}>
                    {targetLabel(p)}
                  </option>
                ))}
              </select>
              <FieldError id={TARGET_ID} text={errors[FORM_TARGET_KEY]} />
            </div>
          ) : null}
          <div class="field">
            <label for={EXPIRES_ID}>Expires (optional)</label>
            <p class="help" id={EXPIRES_ID + '-help'}>
              When you expect to no longer need this service. Leave empty to keep it.
            </p>
            <input
              id={EXPIRES_ID}
              type="datetime-local"
              value={expires}
              aria-invalid={errors[FORM_EXPIRES_KEY] ? 'true' : undefined}
              aria-describedby={describedBy(EXPIRES_ID, true, !!errors[FORM_EXPIRES_KEY])}
              onInput={(e) => setExpires(e.currentTarget.value)}
            />
            <FieldError id={EXPIRES_ID} text={errors[FORM_EXPIRES_KEY]} />
          </div>
        </fieldset>

        {fields.length > 0 ? (
          <fieldset class="fieldset">
            <legend>Settings</legend>
            {fields.map((f) => (
              <FieldControl
                key={f.name}
                field={f}
                state={state}
                error={errors[f.name]}
                shown={shown.has(f.name)}
                onShow={(v) =>
                  setShown((s) => {
                    const n = new Set(s);
                    if (v) n.add(f.name);
                    else n.delete(f.name);
                    return n;
                  })
                }
                onValue={(v) => setValue(f, v)}
                onBlur={() => blur(f)}
                onGenerate={(g) => toggleGenerate(f, g)}
              />
            ))}
          </fieldset>
        ) : null}

        {me && !canChange(me) ? (
          <Notice tone="info" testid="viewer-notice">
            Deploying needs the deployer role: you can look at this template, not create services from it.
          </Notice>
        ) : null}
        <div class="actions actions--form" hidden={!!me && !canChange(me)}>
          <button type="submit" value="plan" class="button button--primary" disabled={!!busy} data-testid="submit-plan">
            {busy === 'plan' ? 'Creating…' : 'Review plan'}
          </button>
          <button type="submit" value="apply" class="button" disabled={!!busy} data-testid="submit-apply">
            {busy === 'apply' ? 'Creating…' : 'Create and apply'}
          </button>
          <button type="submit" value="save" class="button button--quiet" disabled={!!busy} data-testid="submit-save">
            {busy === 'save' ? 'Saving…' : 'Save without deploying'}
          </button>
        </div>
        <p class="help">
          <strong>Review plan</strong> shows what will be created before anything happens. <strong>Create and apply</strong>{' '}
          deploys right away.
        </p>
      </form>
    </section>
  );
}

function orderedErrorKeys(errors: Record<string, string>, fields: Field[]): string[] {
  const order = [FORM_NAME_KEY, FORM_TARGET_KEY, FORM_EXPIRES_KEY, ...fields.map((f) => f.name)];
  return order.filter((k) => errors[k]);
}

function labelForKey(key: string, fields: Field[]): string {
  if (key === FORM_NAME_KEY) return 'Service name';
  if (key === FORM_TARGET_KEY) return 'Where to deploy';
  if (key === FORM_EXPIRES_KEY) return 'Expires';
  return fields.find((f) => f.name === key)?.label || key;
}

function describedBy(id: string, help: boolean, error: boolean): string | undefined {
  const ids = [help ? id + '-help' : '', error ? id + '-error' : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

function Req() {
  return (
    <>
      <span class="req" aria-hidden="true">
        *
      </span>
      <span class="visually-hidden">(required)</span>
    </>
  );
}

function FieldError({ id, text }: { id: string; text?: string }) {
  if (!text) return null;
  return (
    <p class="field-error" id={id + '-error'} data-testid={`error-${id}`}>
      <span aria-hidden="true">⚠ </span>
      {text}
    </p>
  );
}

interface FieldProps {
  field: Field;
  state: FormState;
  error?: string;
  shown: boolean;
  onShow: (v: boolean) => void;
  onValue: (v: string | boolean) => void;
  onBlur: () => void;
  onGenerate: (g: boolean) => void;
}

function FieldControl(p: FieldProps) {
  const c = controlFor(p.field);
  const id = fieldId(c.name);
  const value = p.state.values[c.name];
  const invalid = p.error ? 'true' : undefined;
  const help = c.help ? (
    <p class="help" id={id + '-help'}>
      {c.help}
    </p>
  ) : null;
  const desc = describedBy(id, !!c.help, !!p.error);

  if (c.kind === 'checkbox') {
    return (
      <div class={`field field--check${p.error ? ' field--invalid' : ''}`}>
        <div class="check">
          <input
            id={id}
            name={c.name}
            type="checkbox"
            checked={value === true}
            required={c.required}
            aria-invalid={invalid}
            aria-describedby={desc}
            onChange={(e) => p.onValue(e.currentTarget.checked)}
            onBlur={p.onBlur}
          />
          <label for={id}>
            {c.label} {c.required ? <Req /> : null}
          </label>
        </div>
        {help}
        <FieldError id={id} text={p.error} />
      </div>
    );
  }

  if (c.kind === 'secret') {
    const generating = generates(p.field, p.state);
    const common = {
      id,
      name: c.name,
      value: typeof value === 'string' ? value : '',
      required: c.required && !c.generate,
      minLength: c.minLength,
      maxLength: c.maxLength,
      autocomplete: 'new-password',
      spellcheck: false,
      'aria-invalid': invalid,
      'aria-describedby': desc,
      onInput: (e: Event) => p.onValue((e.currentTarget as HTMLInputElement).value),
      onBlur: p.onBlur,
    } as const;
    const input = (
      <div class="secret">
        {p.shown ? <input type="text" {...common} /> : <input type="password" {...common} />}
        <button
          type="button"
          class="button button--small"
          aria-controls={id}
          aria-pressed={p.shown}
          onClick={() => p.onShow(!p.shown)}
        >
          {p.shown ? 'Hide' : 'Show'}
          <span class="visually-hidden"> {c.label}</span>
        </button>
      </div>
    );
    if (!c.generate) {
      return (
        <div class={`field${p.error ? ' field--invalid' : ''}`}>
          <label for={id}>
            {c.label} {c.required ? <Req /> : null}
          </label>
          {help}
          {input}
          <FieldError id={id} text={p.error} />
        </div>
      );
    }
    const genId = id + '-generate';
    return (
      <fieldset class={`field field--group${p.error ? ' field--invalid' : ''}`}>
        <legend>{c.label}</legend>
        {help}
        <div class="check">
          <input id={genId} type="checkbox" checked={generating} onChange={(e) => p.onGenerate(e.currentTarget.checked)} />
          <label for={genId}>Generate a random value for me ({c.generateLength} characters)</label>
        </div>
        {generating ? null : (
          <div class="field field--nested">
            <label for={id}>Your own value</label>
            {input}
          </div>
        )}
        <FieldError id={id} text={p.error} />
      </fieldset>
    );
  }

  const label = (
    <label for={id}>
      {c.label} {c.required ? <Req /> : null}
    </label>
  );

  if (c.kind === 'select') {
    const hasValue = typeof value === 'string' && value !== '';
    return (
      <div class={`field${p.error ? ' field--invalid' : ''}`}>
        {label}
        {help}
        <select
          id={id}
          name={c.name}
          value={typeof value === 'string' ? value : ''}
          required={c.required}
          aria-invalid={invalid}
          aria-describedby={desc}
          onChange={(e) => p.onValue(e.currentTarget.value)}
          onBlur={p.onBlur}
        >
          {!hasValue || !c.required ? <option value="">{c.required ? 'Choose…' : 'Not set (use the default)'}</option> : null}
          {(c.options ?? []).map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <FieldError id={id} text={p.error} />
      </div>
    );
  }

  const rangeHint =
    c.kind === 'number' && (c.min !== undefined || c.max !== undefined) ? (
      <span class="hint" id={id + '-range'}>
        {c.min !== undefined && c.max !== undefined
          ? `${c.min} to ${c.max}`
          : c.min !== undefined
            ? `at least ${c.min}`
            : `at most ${c.max}`}
      </span>
    ) : null;

  return (
    <div class={`field${p.error ? ' field--invalid' : ''}`}>
      {label}
      {help}
      <div class="input-row">
        {c.kind === 'number' ? (
          <input
            id={id}
            name={c.name}
            type="number"
            inputMode={c.step === '1' ? 'numeric' : 'decimal'}
            value={typeof value === 'string' ? value : ''}
            required={c.required}
            min={c.min}
            max={c.max}
            step={c.step}
            autocomplete="off"
            aria-invalid={invalid}
            aria-describedby={[desc, rangeHint ? id + '-range' : ''].filter(Boolean).join(' ') || undefined}
            onInput={(e) => p.onValue(e.currentTarget.value)}
            onBlur={p.onBlur}
          />
        ) : (
          <input
            id={id}
            name={c.name}
            type="text"
            value={typeof value === 'string' ? value : ''}
            required={c.required}
            minLength={c.minLength}
            maxLength={c.maxLength}
            autocomplete="off"
            aria-invalid={invalid}
            aria-describedby={desc}
            onInput={(e) => p.onValue(e.currentTarget.value)}
            onBlur={p.onBlur}
          />
        )}
        {rangeHint}
      </div>
      <FieldError id={id} text={p.error} />
    </div>
  );
}
