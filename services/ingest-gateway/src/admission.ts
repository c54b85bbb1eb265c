/**
 * Owns whether one envelope may enter the pipeline (DESIGN §5–§6), as a pure function of the
 * item, the collector and the clock: the public contract, the semantic rules on top of it, the
 * tenant binding and the collector's scopes. A refusal names its code, status and fields, so a
 * batch can answer per item and a single request can answer with a problem document.
 */
import { checkScopes, type WorkloadBinding } from '@aispm/auth';
import {
  toFieldErrors,
  TOPIC_SCHEMAS,
  validatorFor,
  type ControlCollector,
  type ControlTenant,
  type Envelope,
} from '@aispm/contracts';
import { AppError, type FieldError } from '@aispm/errors';

/** Limits of the semantic rules. */
export interface AdmissionLimits {
  /** How far in the future `occurred_at` may be, in ms (clock skew allowance). */
  readonly maxFutureSkewMs: number;
}

/** Longest free-text field and largest array accepted, beyond what the contract says. */
export const MAX_STRING_LENGTH = 4096;
export const MAX_ARRAY_ITEMS = 100;

function semanticProblems(envelope: Envelope, nowMs: number, limits: AdmissionLimits): FieldError[] {
  const problems: FieldError[] = [];
  // The path is kept as a stack and turned into a pointer only for a problem: every node of every
  // event is walked, and building (and escaping) each node's pointer cost more than the checks.
  const path: string[] = [];
  const pointer = () => path.map((step) => `/${step.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  const walk = (value: unknown) => {
    if (typeof value === 'string') {
      if (value.length > MAX_STRING_LENGTH)
        problems.push({ pointer: pointer(), detail: `longer than ${MAX_STRING_LENGTH} characters` });
    } else if (Array.isArray(value)) {
      if (value.length > MAX_ARRAY_ITEMS)
        problems.push({ pointer: pointer(), detail: `more than ${MAX_ARRAY_ITEMS} items` });
      for (let index = 0; index < value.length; index += 1) {
        path.push(String(index));
        walk(value[index]);
        path.pop();
      }
    } else if (value && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        path.push(key);
        walk((value as Record<string, unknown>)[key]);
        path.pop();
      }
    }
  };
  walk(envelope);
  const occurred = Date.parse(envelope.event.occurred_at);
  if (occurred > nowMs + limits.maxFutureSkewMs) {
    problems.push({ pointer: '/event/occurred_at', detail: 'is too far in the future' });
  }
  if (envelope.event.event_type === 'policy_decision' && envelope.event.decision === undefined) {
    problems.push({ pointer: '/event/decision', detail: 'is required on a policy_decision' });
  }
  if (envelope.redaction.payload_handling === 'private_payload_ref' && !envelope.event.payload_ref) {
    problems.push({
      pointer: '/event/payload_ref',
      detail: 'is required when payload_handling is private_payload_ref',
    });
  }
  return problems;
}

/**
 * Admits one parsed item of `collector`, or throws the AppError that refuses it. `binding` is
 * what the collector's workload-identity token pins the item to, when it sent one.
 */
export function admit(
  item: unknown,
  collector: ControlCollector,
  tenant: ControlTenant,
  nowMs: number,
  limits: AdmissionLimits,
  binding?: WorkloadBinding,
): Envelope {
  const validate = validatorFor<Envelope>(TOPIC_SCHEMAS.raw);
  if (!validate(item)) {
    throw new AppError('GW_SCHEMA_INVALID', 'Envelope does not match the public contract', {
      fields: toFieldErrors(validate.errors),
    });
  }
  const problems = semanticProblems(item, nowMs, limits);
  if (problems.length > 0) {
    throw new AppError('GW_SEMANTIC_INVALID', 'Envelope breaks a semantic rule', { fields: problems });
  }
  if (item.tenant.tenant_ref !== tenant.tenant_ref) {
    throw new AppError('GW_TENANT_MISMATCH', "Envelope's tenant is not the collector's tenant", {
      fields: [
        { pointer: '/tenant/tenant_ref', detail: 'must be the tenant_ref of the authenticated collector' },
      ],
    });
  }
  const scopes = collector.scopes;
  const check = checkScopes(
    {
      connectorTypes: scopes.connector_types,
      connectorIds: scopes.connector_ids,
      repositories: scopes.repositories,
      environments: scopes.environments,
      eventTypes: scopes.event_types,
    },
    item,
  );
  if (!check.ok) {
    throw new AppError('GW_SCOPE_DENIED', `Out of the collector's ${check.scope} scope: ${check.detail}`, {
      fields: [{ pointer: check.pointer, detail: `outside scope ${check.scope}` }],
    });
  }
  if (!binding) return item;
  const { repositories, environments } = binding;
  const bound = checkScopes(
    { connectorTypes: [], connectorIds: [], repositories, environments, eventTypes: [] },
    item,
  );
  if (!bound.ok) {
    const allowed = bound.scope === 'repository' ? repositories : environments;
    throw new AppError(
      'GW_SCOPE_DENIED',
      `Out of what the collector's token binds: its claims allow ${bound.scope} ${allowed.join(', ')} only`,
      { fields: [{ pointer: bound.pointer, detail: `outside the token's ${bound.scope}` }] },
    );
  }
  return item;
}
