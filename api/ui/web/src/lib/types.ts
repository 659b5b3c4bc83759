// Wire shapes of SpawnIt's HTTP API v1 (docs/api.md, pkg/apiv1, engine and catalog).
// Only what the UI reads is declared; every optional field the server may omit is
// optional here too.

export interface ApiErrorBody {
  error: {
    code: string;
    message: string;
    fields?: ApiFieldError[];
  };
}

export interface ApiFieldError {
  field: string;
  code?: string;
  reason: string;
}

export interface Me {
  subject: string;
  tenant: string;
  name?: string;
  email?: string;
  single_user: boolean;
  csrf_token?: string;
}

export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'port' | 'secret';

export interface Field {
  name: string;
  label: string;
  help?: string;
  type: FieldType;
  required?: boolean;
  default?: unknown;
  pattern?: string;
  min?: number;
  max?: number;
  enum?: string[];
  sensitive?: boolean;
  generate?: { length?: number };
}

export interface Template {
  id: string;
  name: string;
  description: string;
  category: string;
  icon?: string;
  version: string;
  inputs: Field[];
  providers: string[];
  /** false: drift cannot be accepted (POST .../accept answers 409 accept_disabled). */
  accept_drift?: boolean;
}

export type IntentKind = '' | 'applied' | 'destroyed';
export type DriftStatus =
  | 'in_sync'
  | 'drifted'
  | 'missing'
  | 'orphaned'
  | 'pending'
  | 'unknown'
  | 'not_checked';
export type JobState =
  | 'queued'
  | 'running'
  | 'cancelling'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'interrupted';
export type Operation = 'plan' | 'apply' | 'destroy' | 'drift' | 'accept' | 'outputs';

export interface JobRef {
  id: string;
  operation: Operation;
  state: JobState;
}

export interface ServiceStatus {
  intent: IntentKind;
  drift: DriftStatus;
  drift_checked_at?: string;
  /** healthy, not_ready, unhealthy or unknown; absent without readiness checks or when not deployed. */
  health?: HealthStatus | string;
  health_message?: string;
  health_checked_at?: string;
  busy: boolean;
  last_job?: JobRef;
  needs_recovery?: boolean;
  recovery_note?: string;
  /** The expiry passed: SpawnIt destroyed (or is destroying) the service. */
  expired?: boolean;
}

export type HealthStatus = 'healthy' | 'not_ready' | 'unhealthy' | 'unknown';

export interface Service {
  id: string;
  name: string;
  template: string;
  template_version?: string;
  provider: string;
  labels?: Record<string, string>;
  created_at: string;
  updated_at: string;
  expires_at?: string;
  auto_remediate?: boolean;
  inputs: Record<string, unknown>;
  etag: string;
  status: ServiceStatus;
}

export interface ChangeSummary {
  add: number;
  change: number;
  remove: number;
  import?: number;
  operation?: string;
}

export interface PlannedResource {
  address: string;
  type: string;
  action: string;
}

export interface PlanSummary {
  has_changes: boolean;
  add: number;
  change: number;
  destroy: number;
  resources: PlannedResource[] | null;
  drift?: PlannedResource[] | null;
}

export interface Output {
  sensitive: boolean;
  type?: unknown;
  value?: unknown;
}

export interface ResourceDrift {
  address: string;
  type: string;
  status: 'in_sync' | 'modified' | 'deleted' | 'unexpected' | string;
  paths?: string[];
  planned?: string;
}

export interface DriftReport {
  status: DriftStatus;
  intent: IntentKind;
  resources: ResourceDrift[] | null;
  checked_at: string;
  duration_ns?: number;
  error?: string;
}

export interface Job {
  id: string;
  operation: Operation;
  service: { client: string; service: string };
  state: JobState;
  created_at: string;
  started_at?: string;
  ended_at?: string;
  cancel_requested_at?: string;
  error?: string;
  host?: string;
  pid?: number;
  changes?: ChangeSummary;
  plan?: PlanSummary;
  outputs?: Record<string, Output>;
  drift?: DriftReport;
  last_seq: number;
}

export interface ResourceEvent {
  address: string;
  type?: string;
  name?: string;
  action?: string;
  reason?: string;
  id_key?: string;
  id_value?: string;
  elapsed_seconds?: number;
}

export interface Diagnostic {
  severity: string;
  summary: string;
  detail?: string;
  address?: string;
}

export type EventType =
  | 'job_state'
  | 'log'
  | 'diagnostic'
  | 'planned_change'
  | 'resource_drift'
  | 'change_summary'
  | 'apply_start'
  | 'apply_progress'
  | 'apply_complete'
  | 'apply_errored'
  | 'refresh_start'
  | 'refresh_complete'
  | 'outputs'
  | 'other'
  | 'truncated';

export const EVENT_TYPES: readonly EventType[] = [
  'job_state',
  'log',
  'diagnostic',
  'planned_change',
  'resource_drift',
  'change_summary',
  'apply_start',
  'apply_progress',
  'apply_complete',
  'apply_errored',
  'refresh_start',
  'refresh_complete',
  'outputs',
  'other',
  'truncated',
];

export interface JobEvent {
  seq: number;
  time: string;
  type: EventType | string;
  level?: string;
  message?: string;
  state?: JobState;
  resource?: ResourceEvent;
  summary?: ChangeSummary;
  diagnostic?: Diagnostic;
  outputs?: Record<string, Output>;
  raw_type?: string;
}

export interface StatusEvent {
  kind: 'job' | 'drift' | 'health' | 'service' | string;
  service: string;
  job?: JobRef;
  drift?: DriftStatus;
  health?: string;
  message?: string;
  time: string;
}

export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

export function isFinal(state: JobState | undefined): boolean {
  return state !== undefined && FINAL_STATES.includes(state);
}
