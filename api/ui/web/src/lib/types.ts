// Wire shapes of SpawnIt's HTTP API v1, by the names the UI uses. The shapes themselves
// are generated from the API's OpenAPI document (api/openapi.json) into api.gen.ts by
// `npm run gen:types`; `npm run check:types` fails when that file is not current. Edit
// the document, never the generated file.

import type { components } from './api.gen';

type Schemas = components['schemas'];

export type ApiErrorBody = Schemas['Error'];
export type ApiFieldError = Schemas['FieldError'];
export type ErrorCode = Schemas['ErrorCode'];

export type Me = Schemas['Me'];
export type Role = NonNullable<Me['role']>;
export type Quota = Schemas['Quota'];
export type QuotaUsage = Schemas['QuotaUsage'];

export type Field = Schemas['Field'];
export type FieldType = Field['type'];
export type Template = Schemas['Template'];
export type ReadinessCheck = Schemas['ReadinessCheck'];

export type IntentKind = Schemas['IntentKind'];
export type DriftStatus = Schemas['DriftStatus'];
export type HealthStatus = Schemas['HealthStatus'];
export type JobState = Schemas['JobState'];
export type Operation = Schemas['Operation'];

export type JobRef = Schemas['JobRef'];
export type ServiceStatus = Schemas['ServiceStatus'];
export type Service = Schemas['Service'];
export type ServiceList = Schemas['ServiceList'];

export type ChangeSummary = Schemas['ChangeSummary'];
export type PlannedResource = Schemas['PlannedResource'];
export type PlanSummary = Schemas['PlanSummary'];
export type Output = Schemas['Output'];
export type ResourceDrift = Schemas['ResourceDrift'];
export type DriftReport = Schemas['DriftReport'];
export type Job = Schemas['Job'];
export type JobList = Schemas['JobList'];
export type UpgradeOffer = Schemas['UpgradeOffer'];
export type TemplateVersion = Schemas['TemplateVersion'];
export type Upgrade = Schemas['Upgrade'];

export type Revision = Schemas['Revision'];
export type RevisionChange = Schemas['RevisionChange'];
export type RevisionComparison = Schemas['RevisionComparison'];
export type Restore = Schemas['Restore'];

export type ResourceEvent = Schemas['ResourceEvent'];
export type Diagnostic = Schemas['Diagnostic'];
export type EventType = Schemas['EventType'];
/** One job event: the data of an SSE event named by its type. */
export type JobEvent = Schemas['Event'];
/** The data of an `event: status` on the tenant stream. */
export type StatusEvent = Schemas['StatusEvent'];
export type LogLine = Schemas['LogLine'];
export type LogEnd = Schemas['LogEnd'];

// Every event type, each once: the record makes the compiler reject a list that misses
// one the document adds.
const eventTypes: Record<EventType, true> = {
  job_state: true,
  log: true,
  diagnostic: true,
  planned_change: true,
  resource_drift: true,
  change_summary: true,
  apply_start: true,
  apply_progress: true,
  apply_complete: true,
  apply_errored: true,
  refresh_start: true,
  refresh_complete: true,
  outputs: true,
  other: true,
  truncated: true,
  leftovers: true,
};

export const EVENT_TYPES: readonly EventType[] = Object.keys(eventTypes) as EventType[];

export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

export function isFinal(state: JobState | undefined): boolean {
  return state !== undefined && FINAL_STATES.includes(state);
}
