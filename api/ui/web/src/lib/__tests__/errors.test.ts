import { describe, expect, it } from 'vitest';
import { ApiError, describe as describeErr, describeCode, errorFromResponse, NetworkError, presentable } from '../errors';

const CODES = [
  'validation_failed', 'bad_request', 'unauthenticated', 'csrf_failed', 'not_found', 'locked', 'conflict', 'busy',
  'resources_exist', 'needs_recovery', 'cool_off', 'job_finished', 'precondition_failed', 'too_large',
  'unsupported_media_type', 'precondition_required', 'unavailable', 'shutting_down', 'internal',
  'accept_disabled', 'not_deployed',
];

describe('error messages', () => {
  it('words every code of the API as a sentence', () => {
    const seen = new Set<string>();
    for (const code of CODES) {
      const m = describeCode(code, 400);
      expect(m, code).toMatch(/^[A-Z].*[.!?]$/);
      expect(m, code).not.toMatch(/[{}]|HTTP/);
      seen.add(m);
    }
    // conflict and precondition_failed share a sentence; every other code has its own.
    expect(seen.size).toBe(CODES.length - 1);
  });

  it('reads the error body', () => {
    const e = errorFromResponse(400, {
      error: { code: 'validation_failed', message: '2 inputs are invalid', fields: [{ field: 'inputs.port', code: 'range', reason: 'must be between 1024 and 65535' }] },
    });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('validation_failed');
    expect(e.fields).toEqual([{ field: 'inputs.port', code: 'range', reason: 'must be between 1024 and 65535' }]);
    expect(e.message).toBe('Some values need your attention: see the messages next to the fields.');
  });

  it('never shows a body that is not the API error shape', () => {
    const e = errorFromResponse(502, undefined);
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe('SpawnIt’s storage cannot be reached right now. Try again in a moment.');
    expect(errorFromResponse(418, { oops: true }).message).toBe('The server refused the request (HTTP status 418).');
    expect(errorFromResponse(500, '<html>').code).toBe('internal');
  });

  it('uses the server message only for detail, and only when it is a sentence', () => {
    expect(describeCode('bad_request', 400, 'unknown field "x"')).toBe('The server could not accept the request: unknown field "x".');
    expect(describeCode('bad_request', 400, '{"a":1}')).toBe('The server could not accept the request.');
    expect(presentable('<b>hi</b>')).toBe('');
    expect(presentable('job is gone')).toBe('Job is gone.');
    expect(describeCode('new_code', 409, 'a new thing happened')).toBe('A new thing happened.');
  });

  it('words the drift codes of accept and remediate', () => {
    const disabled = errorFromResponse(409, { error: { code: 'accept_disabled', message: 'template "x" does not allow accepting drift' } });
    expect(disabled.message).toBe(
      'This service’s template does not allow keeping changes made outside SpawnIt. Repair it instead, to apply the configuration again.',
    );
    const notDeployed = errorFromResponse(409, { error: { code: 'not_deployed', message: 'service is not applied' } });
    expect(notDeployed.message).toBe('This service is not deployed, so there are no changes to keep. Deploy it first.');
    expect(describeErr(notDeployed)).toBe(notDeployed.message);
  });

  it('words the recovery codes: refused while it needs recovery, and busy while a job runs', () => {
    const needs = errorFromResponse(409, {
      error: { code: 'needs_recovery', message: 'the service needs recovery: tofu could not save its state' },
    });
    expect(needs.code).toBe('needs_recovery');
    expect(needs.message).toBe(
      'This service needs recovery: SpawnIt could not save or verify its OpenTofu state, so it refuses applies and destroys until an operator has repaired the state and marked the service as recovered.',
    );
    expect(needs.message).not.toMatch(/tofu could not/);
    const busy = errorFromResponse(409, { error: { code: 'busy', message: 'a job is running for this service' } });
    expect(describeErr(busy)).toBe('This service is busy with a job. Wait until it has finished, then try again.');
    // Without the API's error body a 409 is still a sentence, never a status line.
    expect(errorFromResponse(409, undefined).message).not.toMatch(/HTTP|409/);
  });

  it('describes anything thrown', () => {
    expect(describeErr(new NetworkError())).toMatch(/Cannot reach the SpawnIt server/);
    expect(describeErr(new TypeError('x is undefined'))).toBe('Something unexpected went wrong in the page. Reload it, then try again.');
    expect(describeErr(new ApiError(409, 'cool_off', 'forced cancel is allowed only after the cool-off'))).toMatch(/Force stop becomes possible/);
  });
});
