/**
 * Owns the mapping of an Azure Pipelines job's own facts to a `ci_runner_event` draft (DESIGN
 * §16), from its predefined variables as the agent exports them (`Build.BuildId` is
 * `BUILD_BUILDID`, …). Pure; the command reads the environment.
 */
import { repositoryFromRemote, type Draft } from '../envelope';

/** The predefined variables of an Azure Pipelines job this collector reads. */
export interface AzureEnvironment {
  readonly SYSTEM_TEAMPROJECT?: string;
  readonly SYSTEM_JOBID?: string;
  readonly SYSTEM_JOBATTEMPT?: string;
  readonly SYSTEM_STAGENAME?: string;
  readonly AGENT_JOBNAME?: string;
  readonly AGENT_OS?: string;
  readonly AGENT_ISSELFHOSTED?: string;
  readonly BUILD_BUILDID?: string;
  readonly BUILD_DEFINITIONNAME?: string;
  readonly BUILD_REASON?: string;
  readonly BUILD_SOURCEBRANCH?: string;
  readonly BUILD_SOURCEVERSION?: string;
  readonly BUILD_REQUESTEDFORID?: string;
  readonly BUILD_REPOSITORY_PROVIDER?: string;
  readonly BUILD_REPOSITORY_NAME?: string;
  readonly BUILD_REPOSITORY_URI?: string;
  readonly ENVIRONMENT_NAME?: string;
}

/**
 * The repository as `owner/name`. An Azure Repos repository (`TfsGit`) is `<project>/<name>`, the
 * project being its owner as a GitHub organisation is, and as the gateway binds an Azure token
 * (`sc://org/project/…`) to `<project>/*`. GitHub and Bitbucket already name it `owner/name`.
 */
export function azureRepository(env: AzureEnvironment): string | undefined {
  const name = env.BUILD_REPOSITORY_NAME;
  if (env.BUILD_REPOSITORY_PROVIDER === 'TfsGit' && env.SYSTEM_TEAMPROJECT && name)
    return `${env.SYSTEM_TEAMPROJECT}/${name}`.toLowerCase();
  if (name?.includes('/')) return name.toLowerCase();
  return env.BUILD_REPOSITORY_URI ? repositoryFromRemote(env.BUILD_REPOSITORY_URI) : undefined;
}

/** The job's own event: it is running on this agent; a self-hosted agent raises the severity. */
export function azureJobDrafts(env: AzureEnvironment, now: string): Draft[] {
  const build = env.BUILD_BUILDID ?? 'unknown';
  const repository = azureRepository(env);
  const selfHosted = env.AGENT_ISSELFHOSTED === '1';
  const runner = selfHosted ? 'self-hosted' : env.AGENT_ISSELFHOSTED === '0' ? 'microsoft-hosted' : '';
  return [
    {
      connectorType: 'azure_pipelines',
      identity: {
        build,
        job: env.SYSTEM_JOBID ?? env.AGENT_JOBNAME ?? null,
        attempt: env.SYSTEM_JOBATTEMPT ?? '1',
        step: 'aispm-collect',
        sha: env.BUILD_SOURCEVERSION ?? null,
      },
      event: {
        event_type: 'ci_runner_event',
        occurred_at: now,
        session_id: `azp-build-${build}`,
        agent_id: 'azure-pipelines',
        ...(repository ? { repository } : {}),
        // The requester's id, not the display name or e-mail Azure also exports.
        ...(env.BUILD_REQUESTEDFORID ? { actor_ref: `azure-devops:${env.BUILD_REQUESTEDFORID}` } : {}),
        tool_name: env.BUILD_DEFINITIONNAME || 'pipeline',
        action_type: `job_running:${env.BUILD_REASON ?? 'unknown'}`,
        target_summary:
          `job=${env.AGENT_JOBNAME ?? ''} stage=${env.SYSTEM_STAGENAME ?? ''} ref=${env.BUILD_SOURCEBRANCH ?? ''} environment=${env.ENVIRONMENT_NAME ?? ''} runner=${runner}/${env.AGENT_OS ?? ''}`.slice(
            0,
            400,
          ),
        severity: selfHosted ? 'medium' : 'low',
      },
    },
  ];
}
