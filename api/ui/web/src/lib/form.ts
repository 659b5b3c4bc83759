// The create form, generated from a template's input schema (catalog.Field): which
// control each field gets, its initial value, the checks the browser can make before
// sending, the JSON inputs sent to POST /api/v1/services, and the server's field errors
// (400 validation_failed) mapped back to the fields they are about.

import type { ApiFieldError, Field } from './types';

export type ControlKind = 'text' | 'number' | 'checkbox' | 'select' | 'secret';

export interface Control {
  name: string;
  kind: ControlKind;
  label: string;
  help?: string;
  required: boolean;
  /** Bounds of a number control. */
  min?: number;
  max?: number;
  /** "1" for integers and ports, "any" for other numbers. */
  step?: string;
  /** Length bounds of a text or secret control, in characters. */
  minLength?: number;
  maxLength?: number;
  options?: string[];
  /** A secret the server generates when left empty. */
  generate: boolean;
  generateLength?: number;
}

/** Form values as the controls hold them: text for inputs, booleans for checkboxes. */
export type FormValue = string | boolean;
export type FormValues = Record<string, FormValue>;

/** Secrets with `generate` start with "generate for me" on; the set holds those switched off. */
export interface FormState {
  values: FormValues;
  /** Names of generate-able secrets the user chose to type in. */
  ownSecret: Set<string>;
}

export const PORT_MIN = 1;
export const PORT_MAX = 65535;
export const DEFAULT_SECRET_LENGTH = 24;

export function controlFor(f: Field): Control {
  const base = {
    name: f.name,
    label: f.label || f.name,
    help: f.help || undefined,
    required: !!f.required,
    generate: false,
  };
  switch (f.type) {
    case 'boolean':
      return { ...base, kind: 'checkbox' };
    case 'enum':
      return { ...base, kind: 'select', options: f.enum ?? [] };
    case 'integer':
      return { ...base, kind: 'number', min: f.min, max: f.max, step: '1' };
    case 'number':
      return { ...base, kind: 'number', min: f.min, max: f.max, step: 'any' };
    case 'port':
      return { ...base, kind: 'number', min: f.min ?? PORT_MIN, max: f.max ?? PORT_MAX, step: '1' };
    case 'secret':
      return {
        ...base,
        kind: 'secret',
        minLength: f.min,
        maxLength: f.max,
        generate: !!f.generate,
        generateLength: f.generate ? f.generate.length || DEFAULT_SECRET_LENGTH : undefined,
      };
    case 'string':
    default:
      return { ...base, kind: 'text', minLength: f.min, maxLength: f.max };
  }
}

/** initialState prefills every control with the field's default. */
export function initialState(fields: Field[]): FormState {
  const values: FormValues = {};
  for (const f of fields) {
    const d = f.default;
    if (f.type === 'boolean') {
      values[f.name] = d === true;
    } else if (d === undefined || d === null) {
      values[f.name] = '';
    } else {
      values[f.name] = String(d);
    }
  }
  return { values, ownSecret: new Set() };
}

/** Whether the server generates this secret: it offers to, and the user did not opt out. */
export function generates(f: Field, state: FormState): boolean {
  return f.type === 'secret' && !!f.generate && !state.ownSecret.has(f.name);
}

const chars = (s: string) => Array.from(s).length;

function fmt(n: number): string {
  return String(n);
}

function rangeSentence(min: number | undefined, max: number | undefined, what: string): string {
  if (min !== undefined && max !== undefined) return `Enter ${what} between ${fmt(min)} and ${fmt(max)}.`;
  if (min !== undefined) return `Enter ${what} of at least ${fmt(min)}.`;
  if (max !== undefined) return `Enter ${what} of at most ${fmt(max)}.`;
  return `Enter ${what}.`;
}

function lengthSentence(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) {
    return min === max
      ? `Use exactly ${fmt(min)} characters.`
      : `Use between ${fmt(min)} and ${fmt(max)} characters.`;
  }
  if (min !== undefined) return `Use at least ${fmt(min)} ${min === 1 ? 'character' : 'characters'}.`;
  if (max !== undefined) return `Use at most ${fmt(max)} characters.`;
  return 'This value has the wrong length.';
}

function numberWhat(f: Field): string {
  if (f.type === 'port') return 'a port number';
  if (f.type === 'integer') return 'a whole number';
  return 'a number';
}

/** A field's pattern as a JS RegExp matching the whole value, or null when JS cannot compile it (the server still checks). */
export function patternRegExp(pattern: string): RegExp | null {
  for (const flags of ['u', '']) {
    try {
      return new RegExp(`^(?:${pattern})$`, flags);
    } catch {
      // Go's RE2 syntax differs from JavaScript's in places; try without Unicode mode.
    }
  }
  return null;
}

/**
 * validateField checks one value the way the server will (catalog.Template.Validate),
 * returning a sentence, or undefined when the value is fine or left to the default.
 */
export function validateField(f: Field, state: FormState): string | undefined {
  const v = state.values[f.name];
  if (f.type === 'boolean') {
    if (f.required && v !== true) return 'Tick this box to continue.';
    return undefined;
  }
  const s = typeof v === 'string' ? v : '';
  if (f.type === 'secret' && generates(f, state)) return undefined;
  if (s.trim() === '' && (f.type !== 'string' && f.type !== 'secret' ? true : s === '')) {
    if (f.required) {
      if (f.type === 'enum') return 'Choose one of the options.';
      return f.type === 'secret' && f.generate
        ? 'Enter a value, or let SpawnIt generate one.'
        : 'This field is required.';
    }
    return undefined;
  }
  switch (f.type) {
    case 'number':
    case 'integer':
    case 'port': {
      const n = Number(s.trim());
      if (!Number.isFinite(n)) return `Enter ${numberWhat(f)}.`;
      if ((f.type === 'integer' || f.type === 'port') && !Number.isInteger(n)) return `Enter ${numberWhat(f)} without decimals.`;
      const min = f.type === 'port' ? (f.min ?? PORT_MIN) : f.min;
      const max = f.type === 'port' ? (f.max ?? PORT_MAX) : f.max;
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) return rangeSentence(min, max, numberWhat(f));
      return undefined;
    }
    case 'enum':
      return (f.enum ?? []).includes(s) ? undefined : 'Choose one of the options.';
    case 'string':
    case 'secret': {
      const n = chars(s);
      if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) return lengthSentence(f.min, f.max);
      if (f.pattern) {
        const re = patternRegExp(f.pattern);
        if (re && !re.test(s)) return 'This value does not have the expected format.' + (f.help ? ' See the hint below.' : '');
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** validateName checks the service's display name (catalog.ValidateServiceName). */
export function validateName(name: string): string | undefined {
  const n = chars(name.trim());
  if (n === 0) return 'Give the service a name.';
  if (n > 64) return 'Use at most 64 characters.';
  if (/[\r\n\u0000]/.test(name)) return 'Use a single line.';
  return undefined;
}

/**
 * toInputs converts the form to the JSON inputs: numbers as numbers, booleans as
 * booleans; empty optional values and generated secrets are left out so the server
 * applies the default or generates the value.
 */
export function toInputs(fields: Field[], state: FormState): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const f of fields) {
    const v = state.values[f.name];
    if (f.type === 'boolean') {
      out[f.name] = v === true;
      continue;
    }
    if (typeof v !== 'string') continue;
    if (f.type === 'secret') {
      if (generates(f, state) || v === '') continue;
      out[f.name] = v;
      continue;
    }
    if (f.type === 'string') {
      // Empty: absent, so the server applies the default (or reports a required field).
      if (v !== '') out[f.name] = v;
      continue;
    }
    const t = v.trim();
    if (t === '') continue;
    if (f.type === 'enum') {
      out[f.name] = t;
      continue;
    }
    const n = Number(t);
    // A value the browser could not parse goes as typed: the server names the problem.
    out[f.name] = Number.isFinite(n) ? n : t;
  }
  return out;
}

/** validateAll returns a sentence per invalid field, keyed by field name ("name" for the service name). */
export function validateAll(fields: Field[], state: FormState, name: string): Record<string, string> {
  const errors: Record<string, string> = {};
  const ne = validateName(name);
  if (ne) errors[FORM_NAME_KEY] = ne;
  for (const f of fields) {
    const e = validateField(f, state);
    if (e) errors[f.name] = e;
  }
  return errors;
}

/** Key of the service name in error maps; field names cannot start with "spawnit_"-like reserved words, nor with '@'. */
export const FORM_NAME_KEY = '@name';
export const FORM_TARGET_KEY = '@target';
export const FORM_EXPIRES_KEY = '@expires';

export interface MappedErrors {
  /** Sentences keyed by form field (input name, or FORM_*_KEY). */
  fields: Record<string, string>;
  /** Sentences about nothing the form shows. */
  general: string[];
}

/**
 * mapFieldErrors places a validation_failed error's fields next to the controls:
 * "inputs.<name>" (or a bare input name, as PUT .../inputs reports) goes to that
 * input, "name" to the service name, "target" (or "provider", its older name) and
 * "expires_at" to theirs; the rest become general sentences.
 */
export function mapFieldErrors(fields: Field[], errors: ApiFieldError[]): MappedErrors {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const out: MappedErrors = { fields: {}, general: [] };
  const put = (key: string, msg: string) => {
    // Several problems with one field: show the first, the others add little.
    if (!(key in out.fields)) out.fields[key] = msg;
  };
  for (const e of errors) {
    const name = e.field ?? '';
    if (name === 'name') {
      put(FORM_NAME_KEY, serverSentence(undefined, e));
    } else if (name === 'target' || name === 'provider') {
      put(FORM_TARGET_KEY, serverSentence(undefined, e));
    } else if (name === 'expires_at' || name === 'expires') {
      put(FORM_EXPIRES_KEY, serverSentence(undefined, e));
    } else if (name.startsWith('inputs.') || byName.has(name)) {
      const input = name.startsWith('inputs.') ? name.slice('inputs.'.length) : name;
      const f = byName.get(input);
      if (f) put(f.name, serverSentence(f, e));
      else out.general.push(`The template has no input called “${input}”; reload the page to get its current form.`);
    } else if (name === '' || name === 'inputs') {
      out.general.push(serverSentence(undefined, e));
    } else if (name === 'template') {
      out.general.push('This template cannot be used any more: ' + lowerSentence(serverSentence(undefined, e)));
    } else {
      out.general.push(`${name}: ${lowerSentence(serverSentence(undefined, e))}`);
    }
  }
  return out;
}

function lowerSentence(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** serverSentence words one server field error (catalog field error codes). */
export function serverSentence(f: Field | undefined, e: ApiFieldError): string {
  switch (e.code) {
    case 'required':
      if (f?.type === 'boolean') return 'Tick this box to continue.';
      if (f?.type === 'enum') return 'Choose one of the options.';
      return 'This field is required.';
    case 'range':
      if (f && (f.type === 'number' || f.type === 'integer' || f.type === 'port')) {
        const min = f.type === 'port' ? (f.min ?? PORT_MIN) : f.min;
        const max = f.type === 'port' ? (f.max ?? PORT_MAX) : f.max;
        return rangeSentence(min, max, numberWhat(f));
      }
      break;
    case 'length':
      if (f && (f.type === 'string' || f.type === 'secret')) return lengthSentence(f.min, f.max);
      break;
    case 'pattern':
      return 'This value does not have the expected format.' + (f?.help ? ' See the hint below.' : '');
    case 'enum':
      return 'Choose one of the options.';
    case 'type':
      if (f) {
        if (f.type === 'boolean') return 'This must be yes or no.';
        if (f.type === 'number' || f.type === 'integer' || f.type === 'port') return `Enter ${numberWhat(f)}.`;
        return 'Enter text here.';
      }
      break;
    case 'reserved':
      return 'This name is reserved for SpawnIt itself.';
    case 'unknown':
      return 'The template has no such input; reload the page to get its current form.';
    case 'taken':
      if (f?.type === 'port') return 'This port is already used by another service or program. Choose another, or leave it empty for a free one.';
      break;
  }
  const r = (e.reason ?? '').trim();
  if (r === '') return 'This value is not valid.';
  const s = r.charAt(0).toUpperCase() + r.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}
