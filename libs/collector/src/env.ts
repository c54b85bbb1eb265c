/**
 * A collector's configuration, from the environment (DESIGN §16): AISPM_URL, AISPM_COLLECTOR_KEY,
 * AISPM_SIGNING_SECRET, AISPM_TENANT_REF and AISPM_ENVIRONMENT, plus the spool's place and bound;
 * and the variables a CI system gives the job a collector runs in, with its identity token.
 */
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@aispm/config';
import { Collector } from './client';
import { COLLECTOR_VERSION } from './envelope';
import { stderrLog, type Log } from './log';
import { Spool } from './spool';
import type { AzureEnvironment } from './adapters/azure';
import type { ActionsEnvironment } from './adapters/github';
import type { GitLabEnvironment } from './adapters/gitlab';

const COLLECTOR_KEYS = [
  'AISPM_URL',
  'AISPM_COLLECTOR_KEY',
  'AISPM_SIGNING_SECRET',
  'AISPM_TENANT_REF',
  'AISPM_ENVIRONMENT',
  'AISPM_CONNECTOR_ID',
  'AISPM_SPOOL_DIR',
  'AISPM_SPOOL_MAX_EVENTS',
  'AISPM_COLLECTOR_TIMEOUT_MS',
] as const;

export const loadCollectorConfig = (
  env: NodeJS.ProcessEnv = process.env,
  defaults: Partial<Record<(typeof COLLECTOR_KEYS)[number], string>> = {},
) => loadConfig(COLLECTOR_KEYS, env, defaults);
export type CollectorConfig = ReturnType<typeof loadCollectorConfig>;

/**
 * The configuration of a sender of complete envelopes (`aispm send`): a collector's, except that
 * no tenant ref is needed, since the envelopes already carry theirs.
 */
export const loadSenderConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadCollectorConfig(env, { AISPM_TENANT_REF: '' });

/**
 * A collector built from `config`. `credential` replaces the API key (a workload-identity token);
 * without either, events are spooled and held until a key is configured.
 */
export function collectorFromConfig(
  config: CollectorConfig,
  log: Log = stderrLog(),
  credential?: string,
): Collector {
  return new Collector({
    target: {
      url: config.AISPM_URL,
      credential: credential ?? config.AISPM_COLLECTOR_KEY,
      ...(config.AISPM_SIGNING_SECRET ? { signingSecret: config.AISPM_SIGNING_SECRET } : {}),
    },
    settings: {
      tenantRef: config.AISPM_TENANT_REF,
      environment: config.AISPM_ENVIRONMENT,
      connectorId: config.AISPM_CONNECTOR_ID,
      hostName: os.hostname(),
      collectorVersion: COLLECTOR_VERSION,
      signed: config.AISPM_SIGNING_SECRET !== '',
    },
    spool: new Spool(
      config.AISPM_SPOOL_DIR || path.join(os.homedir(), '.cache', 'aispm', 'spool'),
      config.AISPM_SPOOL_MAX_EVENTS,
      log,
    ),
    log,
  });
}

/** The variables of `names` that are set (and not empty) in `env`. */
function present(names: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
}

/** The GitHub Actions variables of the step this collector runs in. */
export function actionsEnvironment(env: NodeJS.ProcessEnv = process.env): ActionsEnvironment & {
  readonly ACTIONS_ID_TOKEN_REQUEST_URL?: string;
  readonly ACTIONS_ID_TOKEN_REQUEST_TOKEN?: string;
} {
  const names = [
    'GITHUB_REPOSITORY',
    'GITHUB_RUN_ID',
    'GITHUB_RUN_ATTEMPT',
    'GITHUB_JOB',
    'GITHUB_WORKFLOW',
    'GITHUB_EVENT_NAME',
    'GITHUB_REF',
    'GITHUB_SHA',
    'GITHUB_ACTOR',
    'RUNNER_ENVIRONMENT',
    'RUNNER_OS',
    'ACTIONS_ID_TOKEN_REQUEST_URL',
    'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  ];
  return present(names, env);
}

/** The GitLab CI variables of the job this collector runs in. */
export function gitlabEnvironment(env: NodeJS.ProcessEnv = process.env): GitLabEnvironment {
  return present(
    [
      'CI_PROJECT_PATH',
      'CI_PIPELINE_ID',
      'CI_PIPELINE_NAME',
      'CI_PIPELINE_SOURCE',
      'CI_JOB_ID',
      'CI_JOB_NAME',
      'CI_JOB_STAGE',
      'CI_COMMIT_REF_NAME',
      'CI_COMMIT_SHA',
      'CI_ENVIRONMENT_NAME',
      'CI_RUNNER_ID',
      'CI_RUNNER_EXECUTABLE_ARCH',
      'GITLAB_USER_LOGIN',
    ],
    env,
  );
}

/**
 * The Azure Pipelines variables of the job this collector runs in, with what requests its OIDC
 * token: `SYSTEM_OIDCREQUESTURI`, and `SYSTEM_ACCESSTOKEN`, which a step gets only when its YAML
 * maps `$(System.AccessToken)` into its environment.
 */
export function azureEnvironment(env: NodeJS.ProcessEnv = process.env): AzureEnvironment & {
  readonly SYSTEM_OIDCREQUESTURI?: string;
  readonly SYSTEM_ACCESSTOKEN?: string;
} {
  return present(
    [
      'SYSTEM_TEAMPROJECT',
      'SYSTEM_JOBID',
      'SYSTEM_JOBATTEMPT',
      'SYSTEM_STAGENAME',
      'AGENT_JOBNAME',
      'AGENT_OS',
      'AGENT_ISSELFHOSTED',
      'BUILD_BUILDID',
      'BUILD_DEFINITIONNAME',
      'BUILD_REASON',
      'BUILD_SOURCEBRANCH',
      'BUILD_SOURCEVERSION',
      'BUILD_REQUESTEDFORID',
      'BUILD_REPOSITORY_PROVIDER',
      'BUILD_REPOSITORY_NAME',
      'BUILD_REPOSITORY_URI',
      'ENVIRONMENT_NAME',
      'SYSTEM_OIDCREQUESTURI',
      'SYSTEM_ACCESSTOKEN',
    ],
    env,
  );
}

/** The identity token a CI job was given in the variable `name` (GitLab's `id_tokens`, …), if any. */
export function tokenFromEnvironment(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[name] || undefined;
}
