// Errors as people read them: every failure the UI shows is a sentence, never a status
// line or a JSON body. The API's stable codes (docs/api.md) pick the wording; the
// server's own message is only used where it carries detail the code does not.

import type { ApiErrorBody, ApiFieldError } from './types';

/** ApiError is a failed API call: the error body's code, message and field errors. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly serverMessage: string;
  readonly fields: ApiFieldError[];

  constructor(status: number, code: string, serverMessage: string, fields: ApiFieldError[] = []) {
    super(describeCode(code, status, serverMessage));
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
    this.fields = fields;
  }
}

/** NetworkError: the server could not be reached at all. */
export class NetworkError extends Error {
  constructor() {
    super('Cannot reach the SpawnIt server. Check your connection, then try again.');
    this.name = 'NetworkError';
  }
}

/**
 * errorFromResponse builds an ApiError from a response body. A body that is not the
 * API's error shape (a proxy's HTML page, say) gets a code from its HTTP status.
 */
export function errorFromResponse(status: number, body: unknown): ApiError {
  if (isErrorBody(body)) {
    const e = body.error;
    const fields = Array.isArray(e.fields)
      ? e.fields.filter((f) => f && typeof f.field === 'string').map((f) => ({
          field: f.field,
          code: typeof f.code === 'string' ? f.code : undefined,
          reason: typeof f.reason === 'string' ? f.reason : '',
        }))
      : [];
    return new ApiError(status, e.code, typeof e.message === 'string' ? e.message : '', fields);
  }
  return new ApiError(status, codeForStatus(status), '');
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  if (typeof body !== 'object' || body === null) return false;
  const e = (body as { error?: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string';
}

function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 412:
      return 'precondition_failed';
    case 413:
      return 'too_large';
    case 415:
      return 'unsupported_media_type';
    case 428:
      return 'precondition_required';
    case 502:
    case 503:
    case 504:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'http_' + status;
  }
}

/** A server message is shown only when it reads like a sentence, never when it is markup or JSON. */
export function presentable(message: string): string {
  const m = message.trim();
  if (m === '' || m.length > 300 || /[<>{}]/.test(m)) return '';
  const s = m.charAt(0).toUpperCase() + m.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

/** describeCode turns an API error code into a sentence. */
export function describeCode(code: string, status: number, serverMessage = ''): string {
  const detail = presentable(serverMessage);
  switch (code) {
    case 'validation_failed':
      return 'Some values need your attention: see the messages next to the fields.';
    case 'bad_request':
      return detail
        ? `The server could not accept the request: ${lowerFirst(detail)}`
        : 'The server could not accept the request.';
    case 'unauthenticated':
      return 'You are signed out. Sign in again to continue.';
    case 'csrf_failed':
      return 'Your session’s security token is out of date. Reload the page, then try again.';
    case 'forbidden':
      return 'You are not allowed to do this.';
    case 'not_found':
      return 'This no longer exists, or you do not have access to it.';
    case 'locked':
      return 'Another job is running for this service. Wait until it has finished, then try again.';
    case 'busy':
      return 'This service is busy with a job. Wait until it has finished, then try again.';
    case 'conflict':
    case 'precondition_failed':
      return 'Someone else changed this service in the meantime. Reload the page to see the current values, then try again.';
    case 'precondition_required':
      return 'The page is out of date. Reload it, then try again.';
    case 'resources_exist':
      return 'This service is still deployed. Destroy it first, or delete it with “also destroy its infrastructure” ticked.';
    case 'needs_recovery':
      return 'This service needs recovery: SpawnIt could not save or verify its OpenTofu state, so it refuses applies and destroys until an operator has repaired the state and marked the service as recovered.';
    case 'accept_disabled':
      return 'This service’s template does not allow keeping changes made outside SpawnIt. Repair it instead, to apply the configuration again.';
    case 'not_deployed':
      return 'This service is not deployed, so there are no changes to keep. Deploy it first.';
    case 'cool_off':
      return 'The job is still stopping on its own. Force stop becomes possible a few seconds after the first cancel; try again shortly.';
    case 'job_finished':
      return 'This job has already finished.';
    case 'too_large':
      return 'What you sent is too large. Shorten the longest values, then try again.';
    case 'unsupported_media_type':
      return 'The server could not read the request. Reload the page, then try again.';
    case 'unavailable':
      return 'SpawnIt’s storage cannot be reached right now. Try again in a moment.';
    case 'shutting_down':
      return 'SpawnIt is restarting. Try again in a moment.';
    case 'internal':
      return 'Something went wrong on the server. Try again; if it keeps happening, tell your administrator.';
    default:
      return detail || `The server refused the request (HTTP status ${status}).`;
  }
}

function lowerFirst(s: string): string {
  // Keep acronyms and names ("OpenTofu", "ID") as they are.
  if (s.length > 1 && s.charAt(1) === s.charAt(1).toUpperCase() && /[A-Z]/.test(s.charAt(1))) return s;
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** describe returns the sentence for any thrown value. */
export function describe(err: unknown): string {
  if (err instanceof ApiError || err instanceof NetworkError) return err.message;
  if (err instanceof DOMException && err.name === 'AbortError') return 'The request was cancelled.';
  return 'Something unexpected went wrong in the page. Reload it, then try again.';
}
