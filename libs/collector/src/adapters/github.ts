/**
 * Owns the mapping of GitHub Actions facts to `ci_runner_event` drafts (DESIGN §16): a workflow
 * step's own environment (`GITHUB_*`, `RUNNER_*`), and a `workflow_job` webhook delivery.
 */
import { isoTime, type Draft } from '../envelope';

/** The variables a workflow step sees, as documented for GitHub Actions. */
export interface ActionsEnvironment {
  readonly GITHUB_REPOSITORY?: string;
  readonly GITHUB_RUN_ID?: string;
  readonly GITHUB_RUN_ATTEMPT?: string;
  readonly GITHUB_JOB?: string;
  readonly GITHUB_WORKFLOW?: string;
  readonly GITHUB_EVENT_NAME?: string;
  readonly GITHUB_REF?: string;
  readonly GITHUB_SHA?: string;
  readonly GITHUB_ACTOR?: string;
  readonly RUNNER_ENVIRONMENT?: string;
  readonly RUNNER_OS?: string;
}

/** The step's own event: the job is running on this runner. */
export function actionsStepDrafts(env: ActionsEnvironment, now: string): Draft[] {
  const run = `${env.GITHUB_RUN_ID ?? 'unknown'}-${env.GITHUB_RUN_ATTEMPT ?? '1'}`;
  const selfHosted = env.RUNNER_ENVIRONMENT === 'self-hosted';
  return [
    {
      connectorType: 'github_actions',
      identity: { run, job: env.GITHUB_JOB ?? null, step: 'aispm-collect', sha: env.GITHUB_SHA ?? null },
      event: {
        event_type: 'ci_runner_event',
        occurred_at: now,
        session_id: `gha-run-${run}`,
        agent_id: 'github-actions',
        ...(env.GITHUB_REPOSITORY ? { repository: env.GITHUB_REPOSITORY.toLowerCase() } : {}),
        ...(env.GITHUB_ACTOR ? { actor_ref: `github:${env.GITHUB_ACTOR}` } : {}),
        tool_name: env.GITHUB_WORKFLOW ?? 'workflow',
        action_type: `job_running:${env.GITHUB_EVENT_NAME ?? 'unknown'}`,
        target_summary:
          `job=${env.GITHUB_JOB ?? ''} ref=${env.GITHUB_REF ?? ''} runner=${env.RUNNER_ENVIRONMENT ?? ''}/${env.RUNNER_OS ?? ''}`.slice(
            0,
            400,
          ),
        severity: selfHosted ? 'medium' : 'low',
      },
    },
  ];
}

interface WorkflowJobPayload {
  action?: unknown;
  workflow_job?: Record<string, unknown>;
  repository?: { full_name?: unknown };
  sender?: { login?: unknown };
}

/** A `workflow_job` delivery's event; none when the payload is not one. */
export function workflowJobDrafts(payload: unknown, now: string): Draft[] {
  const p = (payload && typeof payload === 'object' ? payload : {}) as WorkflowJobPayload;
  const job = p.workflow_job;
  if (!job || typeof p.action !== 'string') return [];
  const labels = Array.isArray(job.labels) ? job.labels.map(String) : [];
  const selfHosted = labels.includes('self-hosted');
  const conclusion = typeof job.conclusion === 'string' ? job.conclusion : '';
  const repository =
    typeof p.repository?.full_name === 'string' ? p.repository.full_name.toLowerCase() : undefined;
  const at = isoTime(job.completed_at) ?? isoTime(job.started_at) ?? isoTime(job.created_at) ?? now;
  return [
    {
      connectorType: 'github_actions',
      identity: { job: job.id ?? null, action: p.action, attempt: job.run_attempt ?? null },
      event: {
        event_type: 'ci_runner_event',
        occurred_at: at,
        session_id: `gha-run-${String(job.run_id ?? 'unknown')}-${String(job.run_attempt ?? 1)}`,
        agent_id: 'github-actions',
        ...(repository ? { repository } : {}),
        ...(typeof p.sender?.login === 'string' ? { actor_ref: `github:${p.sender.login}` } : {}),
        tool_name: typeof job.workflow_name === 'string' ? job.workflow_name : 'workflow',
        action_type: `workflow_job.${p.action}`,
        target_summary:
          `job=${String(job.name ?? '')} conclusion=${conclusion} runner=${String(job.runner_name ?? '')} labels=${labels.join(',')}`.slice(
            0,
            400,
          ),
        severity: conclusion === 'failure' || selfHosted ? 'medium' : 'low',
      },
    },
  ];
}
