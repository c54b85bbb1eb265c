/**
 * Owns collector scopes (DESIGN §5): which connector types and ids, repositories, environments
 * and event types a collector may send. The check is pure; the gateway turns a failure into a
 * 403 that names the failing field by JSON pointer, per item in a batch.
 */
import type { Envelope } from '@aispm/contracts';
import { canonicalRepository } from '@aispm/normalization';
import { matchesGlob } from './glob';

/**
 * What a collector may send. Each list limits one envelope field; an empty list means "any"
 * (so a collector with every list empty is limited only to its tenant).
 */
export interface CollectorScopes {
  /** `source.connector_type` values, exactly. */
  readonly connectorTypes: readonly string[];
  /** `source.connector_id` values, exactly. */
  readonly connectorIds: readonly string[];
  /** Globs over the canonical `event.repository` (see {@link matchesGlob}). */
  readonly repositories: readonly string[];
  /** `tenant.environment` values, exactly. */
  readonly environments: readonly string[];
  /** `event.event_type` values, exactly. */
  readonly eventTypes: readonly string[];
}

/** The scope an envelope fell outside of. */
export type ScopeName = 'connector_type' | 'connector_id' | 'repository' | 'environment' | 'event_type';

/** The outcome of {@link checkScopes}: in scope, or the first scope that refused and why. */
export type ScopeCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly scope: ScopeName; readonly pointer: string; readonly detail: string };

interface Rule {
  readonly scope: ScopeName;
  readonly pointer: string;
  readonly allowed: readonly string[];
  readonly value: string;
  readonly matches: (allowed: string, value: string) => boolean;
}

const equals = (allowed: string, value: string): boolean => allowed === value;

/**
 * Whether `envelope` lies within `scopes`. Scopes are checked in a fixed order (connector type,
 * connector id, repository, environment, event type) and the first that refuses is reported.
 */
export function checkScopes(scopes: CollectorScopes, envelope: Envelope): ScopeCheck {
  const { event, source, tenant } = envelope;
  const rules: readonly Rule[] = [
    {
      scope: 'connector_type',
      pointer: '/source/connector_type',
      allowed: scopes.connectorTypes,
      value: source.connector_type,
      matches: equals,
    },
    {
      scope: 'connector_id',
      pointer: '/source/connector_id',
      allowed: scopes.connectorIds,
      value: source.connector_id,
      matches: equals,
    },
    {
      // TRICKY: match the canonical repository, the one the normalizer stores, not the raw
      // field. `acme/**` matches the raw `acme/x/evil/target`, which canonicalizes to
      // `evil/target`: checking the raw value would let a collector write outside its scope.
      scope: 'repository',
      pointer: '/event/repository',
      allowed: scopes.repositories,
      value: canonicalRepository(event.repository),
      matches: matchesGlob,
    },
    {
      scope: 'environment',
      pointer: '/tenant/environment',
      allowed: scopes.environments,
      value: tenant.environment,
      matches: equals,
    },
    {
      scope: 'event_type',
      pointer: '/event/event_type',
      allowed: scopes.eventTypes,
      value: event.event_type,
      matches: equals,
    },
  ];
  for (const rule of rules) {
    if (rule.allowed.length === 0) continue;
    // An absent value is refused outright: `*` and `**` would otherwise match the empty string.
    if (rule.value === '')
      return refuse(rule, `${rule.pointer} is absent, and this collector is limited by ${rule.scope}`);
    if (!rule.allowed.some((allowed) => rule.matches(allowed, rule.value)))
      return refuse(rule, `${rule.scope} "${rule.value}" is outside this collector's scopes`);
  }
  return { ok: true };
}

function refuse(rule: Rule, detail: string): ScopeCheck {
  return { ok: false, scope: rule.scope, pointer: rule.pointer, detail };
}
