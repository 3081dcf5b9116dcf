// Audit records as OCSF events (Open Cybersecurity Schema Framework, schema 1.3.0), so a SIEM
// reads Sluice without a custom parser. Actions on PostgreSQL and MySQL connections become
// Datastore Activity (class 6005, OCSF's database class); everything else (MCP, HTTP and shell
// actions, reviews, keys, checkpoints, lifecycle) becomes API Activity (class 6003). Facts OCSF
// has no attribute for stay under `unmapped`, so nothing in the record is lost; the record's
// hash and seq travel in `metadata`, so an event can be matched to the ledger and verified.
import type { AuditRow } from '../store/store.js';
import type { AuditBody } from './record.js';

export const OCSF_VERSION = '1.3.0';
const CATEGORY = { uid: 6, name: 'Application Activity' };
export const OCSF_API_ACTIVITY = 6003;
export const OCSF_DATASTORE_ACTIVITY = 6005;

/** Connection kinds whose actions are Datastore Activity. */
const DATASTORE_KINDS = new Set(['postgres', 'mysql']);

const API_ACTIVITIES: Record<number, string> = { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' };
const DATASTORE_ACTIVITIES: Record<number, string> = {
  0: 'Unknown',
  1: 'Read',
  2: 'Update',
  3: 'Connect',
  4: 'Query',
  5: 'Write',
  6: 'Create',
  7: 'Delete',
  8: 'List',
  99: 'Other',
};
const SEVERITIES: Record<number, string> = { 1: 'Informational', 2: 'Low', 3: 'Medium' };
const STATUSES: Record<number, string> = { 0: 'Unknown', 1: 'Success', 2: 'Failure' };
const ACTIONS: Record<number, string> = { 0: 'Unknown', 1: 'Allowed', 2: 'Denied' };
const DISPOSITIONS: Record<number, string> = { 1: 'Allowed', 2: 'Blocked', 8: 'Approved', 14: 'Delayed' };
const USER_TYPES: Record<string, { id: number; name: string }> = {
  human: { id: 1, name: 'User' },
  agent: { id: 99, name: 'Agent' },
  service: { id: 99, name: 'Service' },
};

export interface OcsfOptions {
  /** The kind of a configured connection (`postgres`, `mysql`, `shell`, `mcp`...), if known. */
  connectionKind?: (name: string) => string | undefined;
  /**
   * The decision body of an action, for outcome and review records: their activity and
   * command come from it. Without it (or when it returns nothing) the activity is Unknown.
   */
  decision?: AuditBody;
  /** Sluice's version, for metadata.product.version. */
  productVersion?: string;
}

export type OcsfEvent = Record<string, unknown>;

/** Body fields that a mapping below consumes; everything else goes to `unmapped`. */
const MAPPED = new Set([
  'v',
  'seq',
  'time',
  'kind',
  'actionId',
  'session',
  'principal',
  'connection',
  'door',
  'command',
  'rule',
  'effect',
  'reason',
  'durationMs',
]);

/** Whether an action on this connection/door is Datastore Activity. */
function isDatastore(body: AuditBody, options: OcsfOptions, decision: AuditBody | undefined): boolean {
  if (!body.connection) return false;
  const kind = options.connectionKind?.(body.connection);
  if (kind !== undefined) return DATASTORE_KINDS.has(kind);
  // The connection is no longer configured: the door, or the tables the analyser found, tell.
  const source = decision ?? body;
  if (source.door && DATASTORE_KINDS.has(source.door)) return true;
  const tables = (source.intent?.objects as { tables?: unknown[] } | undefined)?.tables;
  return Array.isArray(tables) && tables.length > 0;
}

function apiActivity(intentClass: string | undefined): number {
  if (intentClass === 'read') return 2;
  if (intentClass === 'write') return 3;
  return intentClass === undefined ? 0 : 99;
}

function datastoreActivity(intentClass: string | undefined): number {
  if (intentClass === 'read') return 4;
  if (intentClass === 'write') return 5;
  return intentClass === undefined ? 0 : 99;
}

/** The event for one stored record. Pure: the same row and options give the same event. */
export function auditRowToOcsf(row: AuditRow, options: OcsfOptions = {}): OcsfEvent {
  const body = JSON.parse(row.body) as AuditBody;
  const detail = (body.detail ?? {}) as Record<string, unknown>;
  const decision = body.kind === 'decision' ? body : options.decision;
  const action = body.actionId !== undefined && (body.kind === 'decision' || body.kind === 'outcome' || body.kind === 'review');
  const datastore = action && isDatastore(body, options, decision);
  const classUid = datastore ? OCSF_DATASTORE_ACTIVITY : OCSF_API_ACTIVITY;
  const intentClass = action ? decision?.intent?.class : undefined;
  let activityId: number;
  if (datastore) activityId = datastoreActivity(intentClass);
  else if (action) activityId = apiActivity(intentClass);
  else activityId = nonActionActivity(body, detail);
  const activityName = (datastore ? DATASTORE_ACTIVITIES : API_ACTIVITIES)[activityId]!;
  const className = datastore ? 'Datastore Activity' : 'API Activity';

  const event: OcsfEvent = {
    activity_id: activityId,
    activity_name: activityName,
    category_uid: CATEGORY.uid,
    category_name: CATEGORY.name,
    class_uid: classUid,
    class_name: className,
    type_uid: classUid * 100 + activityId,
    type_name: `${className}: ${activityName}`,
    time: Date.parse(row.time),
    message: message(body, decision),
  };
  const severityId = auditSeverity(body);
  event.severity_id = severityId;
  event.severity = SEVERITIES[severityId];

  const status = statusOf(body);
  if (status) Object.assign(event, status);
  if (body.durationMs !== undefined) event.duration = Math.round(body.durationMs);
  const control = securityControl(body);
  if (control) Object.assign(event, control);

  event.metadata = {
    version: OCSF_VERSION,
    product: { name: 'Sluice', vendor_name: 'Sluice', ...(options.productVersion ? { version: options.productVersion } : {}) },
    uid: row.hash,
    sequence: row.seq,
    ...(body.actionId ? { correlation_uid: body.actionId } : {}),
    event_code: body.kind,
    log_name: 'audit',
    log_provider: 'sluice',
    original_time: row.time,
    ...(control ? { profiles: ['security_control'] } : {}),
  };
  event.actor = actorOf(body, detail);
  event.src_endpoint = { svc_name: (decision ?? body).door ?? 'sluice' };
  if (body.connection) {
    const kind = options.connectionKind?.(body.connection);
    event.dst_endpoint = { name: body.connection, ...(kind ? { svc_name: kind } : {}) };
  }
  const command = body.command ?? decision?.command;
  if (datastore) {
    const kind = options.connectionKind?.(body.connection!) ?? (decision ?? body).door;
    event.type_id = 1;
    event.type = 'Database';
    event.database = {
      name: body.connection,
      type_id: 1,
      type: 'Relational',
      ...(kind && DATASTORE_KINDS.has(kind) ? { desc: kind === 'postgres' ? 'PostgreSQL' : 'MySQL' } : {}),
    };
    const tables = tableNames(decision);
    if (tables.length > 0) event.table = { name: tables[0] };
    if (command !== undefined) event.query_info = { query_string: command, ...(body.actionId ? { uid: body.actionId } : {}) };
  } else {
    event.api = apiOf(body, detail, decision, command);
  }
  const resources = resourcesOf(body, detail, decision, datastore);
  if (resources.length > 0) event.resources = resources;

  const unmapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (MAPPED.has(key) || value === undefined) continue;
    unmapped[camelToSnake(key)] = value;
  }
  unmapped.prev_hash = row.prevHash;
  event.unmapped = unmapped;
  return event;
}

function nonActionActivity(body: AuditBody, detail: Record<string, unknown>): number {
  const event = typeof detail.event === 'string' ? detail.event : '';
  if (body.kind === 'key') return /revoked/.test(event) ? 4 : /rotated/.test(event) ? 3 : 1;
  if (body.kind === 'checkpoint') return 1;
  if (body.kind === 'config') return 3;
  if (body.kind === 'reveal') return 2;
  return 99;
}

/** OCSF severity_id of a record: 1 Informational, 2 Low (held, failed, revealed), 3 Medium (denied). */
export function auditSeverity(body: AuditBody): number {
  if (body.kind === 'decision') return body.effect === 'deny' ? 3 : body.effect === 'review' ? 2 : 1;
  if (body.kind === 'outcome') return body.outcome === 'succeeded' ? 1 : 2;
  if (body.kind === 'reveal') return 2;
  return 1;
}

function statusOf(body: AuditBody): Record<string, unknown> | undefined {
  if (body.kind === 'decision') {
    if (body.effect !== 'deny') return undefined; // nothing has run yet
    return { status_id: 2, status: STATUSES[2], status_detail: 'denied by policy', status_code: 'denied' };
  }
  if (body.kind !== 'outcome' || body.outcome === undefined) return undefined;
  const id = body.outcome === 'succeeded' ? 1 : 2;
  const error = (body.detail as { error?: unknown } | undefined)?.error;
  return {
    status_id: id,
    status: STATUSES[id],
    status_code: body.outcome,
    ...(typeof error === 'string' ? { status_detail: error } : id === 2 ? { status_detail: body.outcome } : {}),
  };
}

/** The security_control profile: what the gate did (decisions, and the outcome of reviews). */
function securityControl(body: AuditBody): Record<string, unknown> | undefined {
  let actionId: number | undefined;
  let dispositionId: number | undefined;
  if (body.kind === 'decision') {
    if (body.effect === 'allow') [actionId, dispositionId] = [1, 1];
    else if (body.effect === 'deny') [actionId, dispositionId] = [2, 2];
    else if (body.effect === 'review') [actionId, dispositionId] = [0, 14];
  } else if (body.kind === 'outcome' && body.effect === 'review') {
    if (body.approver && (body.outcome === 'succeeded' || body.outcome === 'failed')) [actionId, dispositionId] = [1, 8];
    else if (body.outcome === 'rejected' || body.outcome === 'expired' || body.outcome === 'cancelled') [actionId, dispositionId] = [2, 2];
  }
  if (actionId === undefined || dispositionId === undefined) return undefined;
  return {
    action_id: actionId,
    action: ACTIONS[actionId],
    disposition_id: dispositionId,
    disposition: DISPOSITIONS[dispositionId],
    ...(body.rule ? { policy: { name: body.rule, uid: body.rule, ...(body.reason ? { desc: body.reason } : {}) } } : {}),
  };
}

function actorOf(body: AuditBody, detail: Record<string, unknown>): Record<string, unknown> {
  const actor: Record<string, unknown> = {};
  // A key record names the key's owner, not who acted: the owner goes in `resources`.
  if (body.principal && body.kind !== 'key') {
    const type = USER_TYPES[typeof detail.principalKind === 'string' ? detail.principalKind : body.agent ? 'agent' : ''];
    const groups = Array.isArray(detail.groups) ? detail.groups.filter((g): g is string => typeof g === 'string') : [];
    actor.user = {
      name: body.principal,
      uid: body.principal,
      ...(type ? { type_id: type.id, type: type.name } : {}),
      ...(groups.length > 0 ? { groups: groups.map((name) => ({ name })) } : {}),
    };
  }
  if (body.session) actor.session = { uid: body.session };
  if (!actor.user && !actor.session) actor.app_name = 'sluice';
  return actor;
}

function apiOf(body: AuditBody, detail: Record<string, unknown>, decision: AuditBody | undefined, command: string | undefined): Record<string, unknown> {
  const source = decision ?? body;
  const sourceDetail = (source.detail ?? {}) as Record<string, unknown>;
  let operation: string;
  if (typeof sourceDetail.tool === 'string') operation = sourceDetail.tool;
  else if (source.door === 'http' && command) operation = command.split(/\s/, 1)[0]!;
  else if (body.actionId !== undefined) operation = source.door ? `${source.door}.command` : 'command';
  else operation = `${body.kind}${typeof detail.event === 'string' ? `.${detail.event}` : typeof detail.status === 'string' ? `.${detail.status}` : ''}`;
  const api: Record<string, unknown> = {
    operation,
    request: { uid: body.actionId ?? `seq-${body.seq}`, ...(command !== undefined && body.kind === 'decision' ? { data: { command } } : {}) },
  };
  if (body.connection) api.service = { name: body.connection };
  if (body.kind === 'outcome') {
    const error = typeof detail.error === 'string' ? detail.error : undefined;
    api.response = {
      ...(error ? { error, error_message: error } : {}),
      ...(typeof detail.exitCode === 'number' ? { code: detail.exitCode } : {}),
      ...(body.rows !== undefined ? { data: { rows: body.rows } } : {}),
      message: body.outcome ?? 'unknown',
    };
  }
  return api;
}

function tableNames(decision: AuditBody | undefined): string[] {
  const tables = (decision?.intent?.objects as { tables?: unknown[] } | undefined)?.tables;
  if (!Array.isArray(tables)) return [];
  return tables.map((t) => (typeof t === 'string' ? t : typeof (t as { name?: unknown })?.name === 'string' ? qualified(t as { schema?: string; name: string }) : '')).filter(Boolean);
}

function qualified(t: { schema?: string; name: string }): string {
  return t.schema ? `${t.schema}.${t.name}` : t.name;
}

function resourcesOf(body: AuditBody, detail: Record<string, unknown>, decision: AuditBody | undefined, datastore: boolean): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (body.kind === 'key') {
    const keyId = typeof detail.keyId === 'string' ? detail.keyId : (detail.signingKey as { keyId?: string } | undefined)?.keyId;
    out.push({ type: detail.signingKey ? 'signing_key' : 'api_key', ...(keyId ? { uid: keyId, name: keyId } : { name: 'key' }), ...(body.principal ? { owner: { name: body.principal, uid: body.principal } } : {}) });
    return out;
  }
  if (body.kind !== 'decision' || !decision?.intent?.objects) return out;
  const objects = decision.intent.objects as Record<string, unknown>;
  const add = (type: string, names: unknown) => {
    if (!Array.isArray(names)) return;
    for (const n of names) {
      const name = typeof n === 'string' ? n : typeof (n as { name?: unknown })?.name === 'string' ? qualified(n as { schema?: string; name: string }) : typeof (n as { path?: unknown })?.path === 'string' ? (n as { path: string }).path : undefined;
      if (name) out.push({ type, name });
    }
  };
  if (!datastore) add('table', objects.tables);
  add('program', objects.programs);
  add('path', objects.paths);
  add('host', objects.hosts);
  add('function', objects.functions);
  return out;
}

function message(body: AuditBody, decision: AuditBody | undefined): string {
  const who = body.principal ? `${body.principal}${body.onBehalfOf ? ` (for ${body.onBehalfOf})` : ''}` : 'sluice';
  const on = body.connection ? ` on ${body.connection}` : '';
  if (body.kind === 'decision') return `${who}: ${body.effect ?? 'decision'}${body.rule ? ` by rule ${body.rule}` : ''}${on}`;
  if (body.kind === 'outcome') return `${who}: ${body.outcome ?? 'outcome'}${on}${body.approver ? `, approved by ${body.approver}` : ''}`;
  if (body.kind === 'review') {
    const status = (body.detail as { status?: unknown } | undefined)?.status;
    return `review ${typeof status === 'string' ? status : ''}${body.approver ? ` by ${body.approver}` : ''}${decision ? ` for ${who}` : ''}${on}`.replace(/\s+/g, ' ').trim();
  }
  const event = (body.detail as { event?: unknown } | undefined)?.event;
  return `${body.kind}${typeof event === 'string' ? ` ${event}` : ''}`;
}

function camelToSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

// --- Validation against the schema's requirements -------------------------------------------

type Rule = { required?: string[]; atLeastOne?: string[] };
/** Required attributes and at-least-one constraints of OCSF 1.3.0, for the parts Sluice emits. */
export const OCSF_REQUIREMENTS: { classes: Record<number, Rule>; objects: Record<string, Rule> } = {
  classes: {
    0: { required: ['activity_id', 'category_uid', 'class_uid', 'metadata', 'severity_id', 'time', 'type_uid'] },
    [OCSF_API_ACTIVITY]: { required: ['actor', 'api', 'src_endpoint'] },
    [OCSF_DATASTORE_ACTIVITY]: { required: ['actor', 'src_endpoint'], atLeastOne: ['database', 'databucket', 'table'] },
  },
  objects: {
    metadata: { required: ['product', 'version'] },
    'metadata.product': { required: ['vendor_name'], atLeastOne: ['name', 'uid'] },
    actor: { atLeastOne: ['process', 'user', 'invoked_by', 'session', 'app_name', 'app_uid'] },
    'actor.user': { atLeastOne: ['account', 'name', 'uid'] },
    api: { required: ['operation'] },
    'api.request': { required: ['uid'] },
    src_endpoint: { atLeastOne: ['ip', 'uid', 'name', 'hostname', 'svc_name', 'instance_uid', 'interface_uid', 'interface_name'] },
    dst_endpoint: { atLeastOne: ['ip', 'uid', 'name', 'hostname', 'svc_name', 'instance_uid', 'interface_uid', 'interface_name'] },
    database: { required: ['type_id'] },
    query_info: { required: ['query_string'] },
    policy: { atLeastOne: ['name', 'uid'] },
  },
};

/** What an event lacks against OCSF_REQUIREMENTS (empty when it is complete). */
export function ocsfProblems(event: OcsfEvent): string[] {
  const problems: string[] = [];
  const check = (where: string, value: unknown, rule: Rule) => {
    if (typeof value !== 'object' || value === null) {
      problems.push(`${where} is not an object`);
      return;
    }
    const o = value as Record<string, unknown>;
    for (const k of rule.required ?? []) if (o[k] === undefined || o[k] === null) problems.push(`${where ? `${where}.` : ''}${k} is required`);
    if (rule.atLeastOne && !rule.atLeastOne.some((k) => o[k] !== undefined && o[k] !== null)) {
      problems.push(`${where || 'event'} needs at least one of ${rule.atLeastOne.join(', ')}`);
    }
  };
  check('', event, OCSF_REQUIREMENTS.classes[0]!);
  const classRule = OCSF_REQUIREMENTS.classes[event.class_uid as number];
  if (!classRule) problems.push(`class_uid ${String(event.class_uid)} is not one Sluice emits`);
  else check('', event, classRule);
  if (event.type_uid !== (event.class_uid as number) * 100 + (event.activity_id as number)) problems.push('type_uid must be class_uid * 100 + activity_id');
  if (event.category_uid !== Math.floor((event.class_uid as number) / 1000)) problems.push('category_uid does not match class_uid');
  if (!Number.isSafeInteger(event.time)) problems.push('time must be milliseconds since the epoch');
  for (const [path, rule] of Object.entries(OCSF_REQUIREMENTS.objects)) {
    let value: unknown = event;
    for (const part of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
    if (value !== undefined) check(path, value, rule);
  }
  return problems;
}
