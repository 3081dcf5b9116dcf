// Turns an authenticated key into the Principal every Action carries. Groups come from the
// key and from the identity declared in config; config cannot turn an agent into a human.
import type { IdentityConfig } from '../config/schema.js';
import type { Principal } from '../gate/types.js';
import type { ApiKeyRecord } from '../store/store.js';

export class IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

export function principalFromKey(record: ApiKeyRecord, identities: Record<string, IdentityConfig>): Principal {
  const declared = identities[record.principal];
  if (declared && declared.kind !== record.kind) {
    throw new IdentityError(
      `key ${record.id} is for ${record.kind} "${record.principal}", but the config declares "${record.principal}" as a ${declared.kind}`,
    );
  }
  // The config is the authority on whom an agent acts for: a key cannot claim another human.
  if (declared?.on_behalf_of !== undefined && record.onBehalfOf !== undefined && record.onBehalfOf !== declared.on_behalf_of) {
    throw new IdentityError(
      `key ${record.id} says agent "${record.principal}" acts for "${record.onBehalfOf}", but the config says "${declared.on_behalf_of}"`,
    );
  }
  const groups = [...new Set([...(declared?.groups ?? []), ...record.groups])].sort();
  const onBehalfOf = record.kind === 'agent' ? (declared?.on_behalf_of ?? record.onBehalfOf) : undefined;
  return {
    kind: record.kind,
    name: record.principal,
    groups,
    credentialId: record.id,
    ...(onBehalfOf !== undefined ? { onBehalfOf } : {}),
  };
}
