/**
 * Owns the mapping of a Terraform plan (`terraform show -json`) to drafts (DESIGN §16): each
 * resource change that does something becomes a `cloud_iac_event`. Severity is raised for
 * delete, replace and forget, and again for IAM, network and secret resource types.
 */
import { createHash } from 'node:crypto';
import type { Draft, EventFields } from '../envelope';

type Severity = NonNullable<EventFields['severity']>;
const LEVELS: Severity[] = ['none', 'low', 'medium', 'high', 'critical'];

const SENSITIVE: readonly [string, RegExp][] = [
  ['iam', /(^|_)(iam|role|policy|permission|service_account|access_key|user|group_membership|binding)(_|$)/],
  [
    'network',
    /(^|_)(security_group|firewall|network|vpc|subnet|route|nat|gateway|lb|ingress|egress|peering|dns)(_|$)/,
  ],
  ['secret', /(^|_)(secret|kms|key_vault|ssm_parameter|password|certificate|key)(_|$)/],
];

/** The action of a change: create, update, delete, replace, forget, read or no-op. */
export function actionOf(actions: readonly string[]): string {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  return actions[0] ?? 'no-op';
}

/** The sensitive class of a resource type, if any. */
export function sensitiveClass(type: string): string | undefined {
  return SENSITIVE.find(([, pattern]) => pattern.test(type.toLowerCase()))?.[0];
}

/** How severe a change is: its action sets the level, a sensitive type raises it one step. */
export function changeSeverity(action: string, type: string): Severity {
  const base = ['delete', 'replace', 'forget'].includes(action) ? 3 : action === 'update' ? 2 : 1;
  return LEVELS[Math.min(4, base + (sensitiveClass(type) ? 1 : 0))]!;
}

export interface TerraformContext {
  readonly now: string;
  readonly repository?: string;
  /** The plan file's bytes, digested into the session id (one plan, one session). */
  readonly planBytes: string;
}

interface ResourceChange {
  address?: unknown;
  type?: unknown;
  mode?: unknown;
  change?: { actions?: unknown };
}

export function terraformDrafts(plan: unknown, context: TerraformContext): Draft[] {
  const p = (plan && typeof plan === 'object' ? plan : {}) as {
    resource_changes?: unknown;
    terraform_version?: unknown;
    timestamp?: unknown;
  };
  const session = `terraform-plan-${createHash('sha256').update(context.planBytes).digest('hex').slice(0, 24)}`;
  const changes = Array.isArray(p.resource_changes) ? (p.resource_changes as ResourceChange[]) : [];
  const occurredAt =
    typeof p.timestamp === 'string' && Number.isFinite(Date.parse(p.timestamp))
      ? new Date(p.timestamp).toISOString()
      : context.now;
  return changes.flatMap((change): Draft[] => {
    const actions = Array.isArray(change.change?.actions)
      ? (change.change.actions as unknown[]).map(String)
      : [];
    const action = actionOf(actions);
    if (action === 'no-op' || action === 'read') return [];
    const address = String(change.address ?? 'unknown');
    const type = String(change.type ?? 'unknown');
    const sensitive = sensitiveClass(type);
    return [
      {
        connectorType: 'cloud_provider',
        identity: { session, address, actions },
        ...(typeof p.terraform_version === 'string'
          ? { runtimeVersion: `terraform ${p.terraform_version}` }
          : {}),
        event: {
          event_type: 'cloud_iac_event',
          occurred_at: occurredAt,
          session_id: session,
          agent_id: 'terraform',
          ...(context.repository ? { repository: context.repository } : {}),
          tool_name: 'terraform',
          action_type: action,
          target_summary: address.slice(0, 400),
          severity: changeSeverity(action, type),
          ...(sensitive ? { risk_classification: `${sensitive}_change` } : {}),
        },
      },
    ];
  });
}
