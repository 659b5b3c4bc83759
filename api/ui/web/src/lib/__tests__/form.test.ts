import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  controlFor,
  FORM_EXPIRES_KEY,
  FORM_NAME_KEY,
  FORM_TARGET_KEY,
  initialState,
  mapFieldErrors,
  patternRegExp,
  serverSentence,
  toInputs,
  validateAll,
  validateField,
  validateName,
  type FormState,
} from '../form';
import type { ApiFieldError, Field } from '../types';

const builtin = resolve(import.meta.dirname, '../../../../../../catalog/builtin');
const template = (id: string) => JSON.parse(readFileSync(resolve(builtin, id, 'template.json'), 'utf8'));
const httpecho: Field[] = template('httpecho').inputs;
const minecraft: Field[] = template('minecraft').inputs;

const withValues = (fields: Field[], values: Record<string, string | boolean>): FormState => {
  const s = initialState(fields);
  return { ...s, values: { ...s.values, ...values } };
};

describe('controlFor', () => {
  it('gives each field type its control', () => {
    const f = (type: Field['type'], extra: Partial<Field> = {}): Field => ({ name: 'x', label: 'X', type, ...extra });
    expect(controlFor(f('string', { min: 1, max: 5 }))).toMatchObject({ kind: 'text', minLength: 1, maxLength: 5 });
    expect(controlFor(f('number', { min: 0.5 }))).toMatchObject({ kind: 'number', min: 0.5, step: 'any' });
    expect(controlFor(f('integer', { min: 1, max: 100 }))).toMatchObject({ kind: 'number', min: 1, max: 100, step: '1' });
    expect(controlFor(f('boolean'))).toMatchObject({ kind: 'checkbox' });
    expect(controlFor(f('enum', { enum: ['a', 'b'] }))).toMatchObject({ kind: 'select', options: ['a', 'b'] });
    expect(controlFor(f('port'))).toMatchObject({ kind: 'number', min: 1, max: 65535, step: '1' });
    expect(controlFor(f('port', { min: 1024 }))).toMatchObject({ min: 1024, max: 65535 });
    expect(controlFor(f('secret', { generate: {} }))).toMatchObject({ kind: 'secret', generate: true, generateLength: 24 });
    expect(controlFor(f('secret', { generate: { length: 64 } }))).toMatchObject({ generateLength: 64 });
    expect(controlFor(f('secret'))).toMatchObject({ kind: 'secret', generate: false });
  });

  it('falls back to the name when a label is missing', () => {
    expect(controlFor({ name: 'max_players', label: '', type: 'integer' }).label).toBe('max_players');
  });

  it('handles every field of every built-in template', () => {
    for (const id of readdirSync(builtin)) {
      for (const f of template(id).inputs as Field[]) {
        const c = controlFor(f);
        expect(c.name).toBe(f.name);
        expect(['text', 'number', 'checkbox', 'select', 'secret']).toContain(c.kind);
      }
      // Defaults prefilled pass the client-side checks (required fields aside).
      const fields: Field[] = template(id).inputs;
      const errs = validateAll(fields, initialState(fields), 'svc');
      for (const k of Object.keys(errs)) expect(fields.find((f) => f.name === k)?.required).toBe(true);
    }
  });
});

describe('initialState', () => {
  it('prefills defaults as text and booleans as checked state', () => {
    const s = initialState(minecraft);
    expect(s.values.port).toBe(''); // no default: the server chooses a free port
    expect(s.values.server_type).toBe('VANILLA');
    expect(s.values.eula).toBe(false);
    expect(s.values.motd).toBe('A Minecraft server made with SpawnIt');
    expect(initialState(httpecho).values.token).toBe('');
  });
});

describe('validateField', () => {
  const port = httpecho.find((f) => f.name === 'port')!;
  const greeting = httpecho.find((f) => f.name === 'greeting')!;
  const token = httpecho.find((f) => f.name === 'token')!;

  it('checks port ranges with the template bounds', () => {
    expect(validateField(port, withValues(httpecho, { port: '80' }))).toBe('Enter a port number between 1024 and 65535.');
    expect(validateField(port, withValues(httpecho, { port: '70000' }))).toBe('Enter a port number between 1024 and 65535.');
    expect(validateField(port, withValues(httpecho, { port: '1024.5' }))).toBe('Enter a port number without decimals.');
    expect(validateField(port, withValues(httpecho, { port: '18080' }))).toBeUndefined();
    // Empty optional: the server applies the default.
    expect(validateField(port, withValues(httpecho, { port: '' }))).toBeUndefined();
  });

  it('counts string lengths in characters', () => {
    expect(validateField(greeting, withValues(httpecho, { greeting: 'x'.repeat(1025) }))).toBe('Use between 1 and 1024 characters.');
    expect(validateField(greeting, withValues(httpecho, { greeting: '🙂' }))).toBeUndefined();
  });

  it('skips generated secrets and checks typed ones', () => {
    expect(validateField(token, withValues(httpecho, {}))).toBeUndefined();
    const own: FormState = { ...withValues(httpecho, { token: 'short' }), ownSecret: new Set(['token']) };
    expect(validateField(token, own)).toBe('Use between 12 and 128 characters.');
    const empty: FormState = { ...withValues(httpecho, { token: '' }), ownSecret: new Set(['token']) };
    expect(validateField(token, empty)).toBeUndefined();
  });

  it('requires a required checkbox to be ticked', () => {
    const eula = minecraft.find((f) => f.name === 'eula')!;
    expect(validateField(eula, withValues(minecraft, { eula: false }))).toBe('Tick this box to continue.');
    expect(validateField(eula, withValues(minecraft, { eula: true }))).toBeUndefined();
  });

  it('checks enums and patterns', () => {
    const mem = minecraft.find((f) => f.name === 'memory')!;
    expect(validateField(mem, withValues(minecraft, { memory: '3G' }))).toBe('Choose one of the options.');
    const ver = minecraft.find((f) => f.name === 'minecraft_version')!;
    expect(validateField(ver, withValues(minecraft, { minecraft_version: '1.21.4' }))).toBeUndefined();
    expect(validateField(ver, withValues(minecraft, { minecraft_version: 'LATEST' }))).toBeUndefined();
    // The pattern must match the whole value, as Go's does.
    expect(validateField(ver, withValues(minecraft, { minecraft_version: 'x1.21' }))).toMatch(/expected format/);
  });

  it('names a required field with no value', () => {
    const f: Field = { name: 'db', label: 'Database', type: 'string', required: true };
    expect(validateField(f, withValues([f], { db: '' }))).toBe('This field is required.');
    const e: Field = { name: 'size', label: 'Size', type: 'enum', enum: ['s', 'm'], required: true };
    expect(validateField(e, withValues([e], { size: '' }))).toBe('Choose one of the options.');
  });

  it('leaves patterns JavaScript cannot compile to the server', () => {
    expect(patternRegExp('(?P<x>a)')).toBeNull();
    const f: Field = { name: 'x', label: 'X', type: 'string', pattern: '(?P<x>a)' };
    expect(validateField(f, withValues([f], { x: 'zzz' }))).toBeUndefined();
  });
});

describe('validateName', () => {
  it('wants one line of 1 to 64 characters', () => {
    expect(validateName('')).toBe('Give the service a name.');
    expect(validateName('   ')).toBe('Give the service a name.');
    expect(validateName('a'.repeat(65))).toBe('Use at most 64 characters.');
    expect(validateName('a\nb')).toBe('Use a single line.');
    expect(validateName('My echo')).toBeUndefined();
  });
});

describe('toInputs', () => {
  it('sends typed JSON and leaves out what the server fills in', () => {
    const s = withValues(minecraft, { eula: true, port: '25570', max_players: '' });
    const inputs = toInputs(minecraft, s);
    expect(inputs.eula).toBe(true);
    expect(inputs.port).toBe(25570);
    expect(inputs.server_type).toBe('VANILLA');
    expect('max_players' in inputs).toBe(false);
  });

  it('omits a generated secret and sends a typed one', () => {
    expect('token' in toInputs(httpecho, initialState(httpecho))).toBe(false);
    const own: FormState = { ...withValues(httpecho, { token: 'a-secret-of-mine' }), ownSecret: new Set(['token']) };
    expect(toInputs(httpecho, own).token).toBe('a-secret-of-mine');
    // A value typed, then "generate" switched back on: not sent.
    expect('token' in toInputs(httpecho, withValues(httpecho, { token: 'typed' }))).toBe(false);
  });

  it('sends a value the browser could not parse as typed, for the server to name', () => {
    expect(toInputs(httpecho, withValues(httpecho, { port: 'abc' })).port).toBe('abc');
  });
});

describe('mapFieldErrors', () => {
  it('puts server field errors next to their fields', () => {
    const m = mapFieldErrors(httpecho, [
      { field: 'inputs.port', code: 'range', reason: 'must be between 1024 and 65535' },
      { field: 'name', code: 'length', reason: 'must be 1 to 64 characters' },
      { field: 'provider', code: 'invalid', reason: 'no module for provider "aws"' },
      { field: 'expires_at', code: 'invalid', reason: 'must be in the future' },
    ]);
    expect(m.fields.port).toBe('Enter a port number between 1024 and 65535.');
    expect(m.fields[FORM_NAME_KEY]).toBe('Must be 1 to 64 characters.');
    expect(m.fields[FORM_TARGET_KEY]).toBe('No module for provider "aws".');
    expect(m.fields[FORM_EXPIRES_KEY]).toBe('Must be in the future.');
    expect(m.general).toEqual([]);
  });

  it('accepts bare input names (PUT .../inputs)', () => {
    expect(mapFieldErrors(httpecho, [{ field: 'greeting', code: 'length', reason: 'x' }]).fields.greeting).toBe(
      'Use between 1 and 1024 characters.',
    );
  });

  it('keeps the first message per field', () => {
    const m = mapFieldErrors(httpecho, [
      { field: 'inputs.port', code: 'type', reason: 'must be a number' },
      { field: 'inputs.port', code: 'range', reason: 'r' },
    ]);
    expect(m.fields.port).toBe('Enter a port number.');
  });

  it('turns errors about nothing on the form into general sentences', () => {
    const m = mapFieldErrors(httpecho, [
      { field: 'inputs.gone', code: 'unknown', reason: 'not in the schema' },
      { field: '', code: 'limit', reason: 'too many fields' },
      { field: 'labels.team', code: 'invalid', reason: 'bad label' },
    ]);
    expect(m.fields).toEqual({});
    expect(m.general).toEqual([
      'The template has no input called “gone”; reload the page to get its current form.',
      'Too many fields.',
      'labels.team: bad label.',
    ]);
  });
});

describe('serverSentence', () => {
  it('words each stable code', () => {
    const eula = minecraft.find((f) => f.name === 'eula')!;
    expect(serverSentence(eula, { field: 'inputs.eula', code: 'required', reason: 'required' })).toBe('Tick this box to continue.');
    expect(serverSentence(undefined, { field: 'x', code: 'pattern', reason: 'p' })).toBe('This value does not have the expected format.');
    expect(serverSentence(undefined, { field: 'x', code: 'reserved', reason: 'r' })).toBe('This name is reserved for SpawnIt itself.');
    const port = httpecho.find((f) => f.name === 'port')!;
    expect(serverSentence(port, { field: 'inputs.port', code: 'taken', reason: 'port 5432 is used by another service' })).toBe(
      'This port is already used by another service or program. Choose another, or leave it empty for a free one.',
    );
    // A code this UI does not know yet (from a newer server) reads as the generic sentence.
    expect(serverSentence(undefined, { field: 'x', code: 'weird' as string as ApiFieldError['code'], reason: '' })).toBe('This value is not valid.');
  });
});
