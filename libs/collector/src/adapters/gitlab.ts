/**
 * Owns the mapping of a GitLab CI job's own facts to a `ci_runner_event` draft (DESIGN §16): its
 * predefined variables (`CI_*`, `GITLAB_USER_LOGIN`) and the kind of runner, which GitLab states
 * only in the job's ID token (`runner_environment`). Pure; the command reads the environment.
 */
import type { Draft } from '../envelope';

/** The predefined variables of a GitLab CI job this collector reads, as GitLab documents them. */
export interface GitLabEnvironment {
  readonly CI_PROJECT_PATH?: string;
  readonly CI_PIPELINE_ID?: string;
  readonly CI_PIPELINE_NAME?: string;
  readonly CI_PIPELINE_SOURCE?: string;
  readonly CI_JOB_ID?: string;
  readonly CI_JOB_NAME?: string;
  readonly CI_JOB_STAGE?: string;
  readonly CI_COMMIT_REF_NAME?: string;
  readonly CI_COMMIT_SHA?: string;
  readonly CI_ENVIRONMENT_NAME?: string;
  readonly CI_RUNNER_ID?: string;
  readonly CI_RUNNER_EXECUTABLE_ARCH?: string;
  readonly GITLAB_USER_LOGIN?: string;
}

/**
 * The job's own event: it is running on this runner. `runnerEnvironment` is the ID token's
 * `runner_environment` (`gitlab-hosted` or `self-hosted`); a self-hosted runner raises the
 * severity, as it does for GitHub Actions.
 */
export function gitlabJobDrafts(env: GitLabEnvironment, now: string, runnerEnvironment?: string): Draft[] {
  const pipeline = env.CI_PIPELINE_ID ?? 'unknown';
  return [
    {
      connectorType: 'gitlab_ci',
      identity: {
        pipeline,
        job: env.CI_JOB_ID ?? null,
        step: 'aispm-collect',
        sha: env.CI_COMMIT_SHA ?? null,
      },
      event: {
        event_type: 'ci_runner_event',
        occurred_at: now,
        session_id: `gitlab-pipeline-${pipeline}`,
        agent_id: 'gitlab-ci',
        ...(env.CI_PROJECT_PATH ? { repository: env.CI_PROJECT_PATH.toLowerCase() } : {}),
        ...(env.GITLAB_USER_LOGIN ? { actor_ref: `gitlab:${env.GITLAB_USER_LOGIN}` } : {}),
        tool_name: env.CI_PIPELINE_NAME || 'pipeline',
        action_type: `job_running:${env.CI_PIPELINE_SOURCE ?? 'unknown'}`,
        target_summary:
          `job=${env.CI_JOB_NAME ?? ''} stage=${env.CI_JOB_STAGE ?? ''} ref=${env.CI_COMMIT_REF_NAME ?? ''} environment=${env.CI_ENVIRONMENT_NAME ?? ''} runner=${runnerEnvironment ?? ''}/${env.CI_RUNNER_EXECUTABLE_ARCH ?? ''}`.slice(
            0,
            400,
          ),
        severity: runnerEnvironment === 'self-hosted' ? 'medium' : 'low',
      },
    },
  ];
}
