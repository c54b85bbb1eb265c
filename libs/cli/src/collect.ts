/**
 * Owns the `aispm collect …` commands (DESIGN §16): thin shells that read a tool's own output,
 * map it with an adapter of @aispm/collector, spool it and send it. They fail open: whatever goes
 * wrong is logged to stderr and the command still exits 0 (the MCP proxy exits with its server's
 * code), so a collector can never block or break the tool it observes. The CI commands
 * authenticate with the job's OIDC token instead of a key. `collect install` is the file I/O
 * around the pure hook-configuration edit that plugs a collector into an agent.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  actionsEnvironment,
  actionsStepDrafts,
  azureEnvironment,
  azureJobDrafts,
  CLAUDE_CODE_HOOK_PATH,
  collectorFromConfig,
  copilotDrafts,
  cursorAnswer,
  cursorDrafts,
  cursorWorkspaceRoot,
  DEFAULT_LAUNCHER,
  gitlabEnvironment,
  gitlabJobDrafts,
  hookConfigFile,
  hookDrafts,
  HTTP_HOOK_AGENTS,
  INSTALL_AGENTS,
  installHooks,
  LineDecoder,
  loadCollectorConfig,
  McpTracker,
  repositoryFromRemote,
  stderrLog,
  terraformDrafts,
  tokenFromEnvironment,
  unifiedDiff,
  uninstallHooks,
  type Collector,
  type Draft,
  type Environment,
  type HookAgent,
  type HookRunner,
  type InstallAgent,
  type InstallScope,
} from '@aispm/collector';
import { CONFIG_KEYS } from '@aispm/config';
import { UsageError, type Command } from './command';
import { runCommands } from './runner';

const log = stderrLog();
const HOOK_AGENTS = new Set<HookAgent>(['claude_code', 'gemini_cli', 'codex']);

/** `owner/name` of the `origin` remote of `cwd`, if it is a git checkout with one. */
function gitRepository(cwd: unknown): string | undefined {
  if (typeof cwd !== 'string' || cwd === '') return undefined;
  try {
    const remote = execFileSync('git', ['-C', cwd, 'remote', 'get-url', 'origin'], {
      encoding: 'utf8',
      timeout: 1_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return repositoryFromRemote(remote);
  } catch {
    return undefined;
  }
}

/** The top of the git checkout `cwd` is in, or `cwd` itself outside one. */
function projectRoot(cwd: string): string {
  try {
    return execFileSync('git', ['-C', cwd, 'rev-parse', '--show-toplevel'], {
      encoding: 'utf8',
      timeout: 1_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return cwd;
  }
}

/** All of stdin, or '' when it is a terminal or does not end within `timeoutMs`. */
async function readStdin(timeoutMs: number): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.stdin.pause();
      resolve(Buffer.concat(chunks).toString('utf8'));
    }, timeoutMs);
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    process.stdin.on('error', () => {
      clearTimeout(timer);
      resolve('');
    });
  });
}

/** Runs `work`, logging instead of throwing: the fail-open rule of every collector. */
async function failOpen<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    log('error', `${what} failed; the tool goes on unaffected`, { err: (error as Error).message });
    return undefined;
  }
}

/** How long to wait for stdin when the configuration cannot be loaded: the collector timeout's default. */
const STDIN_FALLBACK_MS = Number(CONFIG_KEYS.AISPM_COLLECTOR_TIMEOUT_MS.fallback);

async function recordAndFlush(
  collector: Collector,
  drafts: Parameters<Collector['record']>[0],
  timeoutMs: number,
) {
  const recorded = collector.record(drafts);
  const report = await collector.flush(timeoutMs);
  return { events: recorded, ...report };
}

const ENVIRONMENTS: readonly string[] = ['dev', 'test', 'staging', 'production', 'sandbox'];

/** The claims of a CI job's token, unverified: the gateway verifies it; this only reads them. */
function claimsOf(token: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    throw new Error('the identity token is not a JWT');
  }
}

/**
 * Sends what `drafts` makes of the token's claims, authenticated by a CI job's OIDC token instead
 * of a key and unsigned (the token is the credential). The gateway binds the events to the
 * token's environment claim, so the envelopes carry the same one when it is an environment of
 * ours, and the collector's otherwise.
 */
async function sendAsWorkload(token: string, drafts: (claims: Record<string, unknown>) => Draft[]) {
  const claims = claimsOf(token);
  const config = loadCollectorConfig();
  const environment = ENVIRONMENTS.includes(String(claims.environment))
    ? (claims.environment as Environment)
    : config.AISPM_ENVIRONMENT;
  const collector = collectorFromConfig(
    { ...config, AISPM_ENVIRONMENT: environment, AISPM_SIGNING_SECRET: '' },
    log,
    token,
  );
  return recordAndFlush(collector, drafts(claims), config.AISPM_COLLECTOR_TIMEOUT_MS);
}

/** How long a CI command waits for its OIDC token. */
const TOKEN_REQUEST_MS = 5_000;

/**
 * The Azure Pipelines job's OIDC token: the one in `$tokenEnv` (the AzureCLI task's `idToken`
 * with `addSpnToEnvironment`), else one requested from `SYSTEM_OIDCREQUESTURI` with the job's
 * access token, for the pipeline itself (`p://org/project/pipeline`) or, with
 * `serviceConnection`, for that service connection (`sc://org/project/connection`).
 */
async function azureToken(
  tokenEnv: string | undefined,
  serviceConnection: string | undefined,
): Promise<string> {
  if (tokenEnv !== undefined) {
    const token = tokenFromEnvironment(tokenEnv);
    if (!token) throw new Error(`no identity token in $${tokenEnv}`);
    return token;
  }
  const env = azureEnvironment();
  if (!env.SYSTEM_OIDCREQUESTURI || !env.SYSTEM_ACCESSTOKEN)
    throw new Error(
      'no OIDC token available: map $(System.AccessToken) into the step as SYSTEM_ACCESSTOKEN, or pass --token-env',
    );
  const url = new URL(env.SYSTEM_OIDCREQUESTURI);
  url.searchParams.set('api-version', '7.1');
  if (serviceConnection) url.searchParams.set('serviceConnectionId', serviceConnection);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${env.SYSTEM_ACCESSTOKEN}`,
      'content-type': 'application/json',
      // Azure DevOps otherwise answers an unauthenticated call with a redirect to its sign-in page.
      'x-tfs-fedauthredirect': 'Suppress',
    },
    signal: AbortSignal.timeout(TOKEN_REQUEST_MS),
  });
  if (!response.ok) throw new Error(`the OIDC token request answered ${response.status}`);
  const token = ((await response.json()) as { oidcToken?: unknown }).oidcToken;
  if (typeof token !== 'string') throw new Error('the OIDC token response has no oidcToken');
  return token;
}

/** The URL of the gateway's Claude Code hook route, with the repository its events are about. */
function claudeHookUrl(base: string, repository: string | undefined): string {
  let url: URL;
  try {
    url = new URL(`${base.replace(/\/+$/, '')}${CLAUDE_CODE_HOOK_PATH}`);
  } catch {
    throw new UsageError(`--url is not a URL: ${base}`);
  }
  if (repository) url.searchParams.set('repository', repository);
  return url.toString();
}

export const COLLECT_COMMANDS: Readonly<Record<string, Command>> = {
  'collect claude-code': {
    usage: 'aispm collect claude-code [--agent claude_code|gemini_cli|codex] [payload-json]',
    summary: 'Hook command: map the hook JSON on stdin (or Codex notify JSON as an argument) to events.',
    quiet: true,
    async run(positionals, options) {
      const agent =
        typeof options.agent === 'string' ? (options.agent.replace('-', '_') as HookAgent) : undefined;
      await failOpen('collect claude-code', async () => {
        // Inside the fail-open wrapper: an agent reads a hook's exit code 2 as "block the tool", so
        // even a wrong --agent must only mean no events.
        if (agent && !HOOK_AGENTS.has(agent))
          throw new UsageError('--agent must be claude_code, gemini_cli or codex');
        const config = loadCollectorConfig();
        const text = positionals[0] ?? (await readStdin(config.AISPM_COLLECTOR_TIMEOUT_MS));
        const payload = JSON.parse(text) as { cwd?: unknown };
        const repository = gitRepository(payload.cwd);
        const drafts = hookDrafts(payload, {
          now: new Date().toISOString(),
          ...(repository ? { repository } : {}),
          ...(agent ? { agent } : {}),
        });
        await recordAndFlush(collectorFromConfig(config, log), drafts, config.AISPM_COLLECTOR_TIMEOUT_MS);
      });
      // Gemini CLI parses a hook's stdout as JSON; an empty object changes nothing.
      if (agent === 'gemini_cli') process.stdout.write('{}\n');
      return {};
    },
  },
  'collect cursor': {
    usage: 'aispm collect cursor',
    summary:
      'Cursor hook (.cursor/hooks.json): map the hook JSON on stdin to events; answer before* hooks with an allow.',
    quiet: true,
    async run() {
      const config = await failOpen('collect cursor', async () => loadCollectorConfig());
      const text = await readStdin(config?.AISPM_COLLECTOR_TIMEOUT_MS ?? STDIN_FALLBACK_MS);
      const payload = await failOpen('collect cursor', async () => JSON.parse(text) as unknown);
      // The answer goes out before any sending, so nothing that goes wrong there can cost it.
      const answer = cursorAnswer(payload);
      if (answer) process.stdout.write(`${answer}\n`);
      if (config && payload !== undefined)
        await failOpen('collect cursor', async () => {
          const repository = gitRepository(cursorWorkspaceRoot(payload));
          const drafts = cursorDrafts(payload, {
            now: new Date().toISOString(),
            ...(repository ? { repository } : {}),
          });
          await recordAndFlush(collectorFromConfig(config, log), drafts, config.AISPM_COLLECTOR_TIMEOUT_MS);
        });
      return {};
    },
  },
  'collect copilot': {
    usage:
      'aispm collect copilot [--event sessionStart|sessionEnd|userPromptSubmitted|preToolUse|postToolUse|errorOccurred]',
    summary:
      'GitHub Copilot hook (.github/hooks/*.json): map the hook JSON on stdin to events; prints nothing.',
    quiet: true,
    async run(_positionals, options) {
      // No UsageError here: Copilot denies the tool when a preToolUse command fails, so even a
      // wrong --event only means no events (the payload's own name or shape is used without one).
      const event = typeof options.event === 'string' ? options.event : undefined;
      await failOpen('collect copilot', async () => {
        const config = loadCollectorConfig();
        const payload = JSON.parse(await readStdin(config.AISPM_COLLECTOR_TIMEOUT_MS)) as { cwd?: unknown };
        const repository = gitRepository(payload.cwd);
        const drafts = copilotDrafts(payload, {
          now: new Date().toISOString(),
          ...(repository ? { repository } : {}),
          ...(event ? { event } : {}),
        });
        await recordAndFlush(collectorFromConfig(config, log), drafts, config.AISPM_COLLECTOR_TIMEOUT_MS);
      });
      return {};
    },
  },
  'collect install': {
    usage:
      'aispm collect install --agent claude-code|cursor|copilot|gemini-cli|codex [--scope project|user] [--uninstall] [--dry-run] [--command "npx aispm" | --http [--url GATEWAY_URL]]',
    summary:
      "Add the collector's hooks to the agent's own hook configuration (--uninstall: take them out), showing the diff; --http: Claude Code http hooks posting to the gateway.",
    async run(_positionals, options, config) {
      const agent = options.agent;
      if (typeof agent !== 'string' || !(INSTALL_AGENTS as readonly string[]).includes(agent))
        throw new UsageError(`--agent must be one of ${INSTALL_AGENTS.join(', ')}`);
      const scope = options.scope ?? 'project';
      if (scope !== 'project' && scope !== 'user') throw new UsageError('--scope must be project or user');
      const http = options.http === true;
      if (http && !HTTP_HOOK_AGENTS.includes(agent as InstallAgent))
        throw new UsageError(`--http: only ${HTTP_HOOK_AGENTS.join(', ')} has http hooks`);
      if (http && options.command !== undefined)
        throw new UsageError('--http posts to the gateway and runs no command; drop --command');
      const root = scope === 'user' ? os.homedir() : projectRoot(process.cwd());
      // What the hooks run: uninstall must be given the same launcher, or the same URL, to
      // recognize its entries. An http hook of a project names the checkout's repository, since
      // the gateway cannot see it; one of a user serves every checkout, so it names none.
      const runner: HookRunner = http
        ? {
            httpUrl: claudeHookUrl(
              typeof options.url === 'string' ? options.url : config.AISPM_URL,
              scope === 'project' ? gitRepository(root) : undefined,
            ),
          }
        : typeof options.command === 'string' && options.command.trim() !== ''
          ? options.command.trim()
          : DEFAULT_LAUNCHER;
      const relative = hookConfigFile(agent as InstallAgent, scope as InstallScope);
      const file = path.join(root, relative);
      const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      const edit = (options.uninstall ? uninstallHooks : installHooks)(agent as InstallAgent, before, runner);
      if (!edit.ok) throw new Error(`cannot edit ${file}: ${edit.reason}; change it by hand`);
      const after = edit.text;
      const diff = unifiedDiff(
        before ?? '',
        after ?? '',
        before === undefined ? '/dev/null' : `a/${relative}`,
        after === undefined ? '/dev/null' : `b/${relative}`,
      );
      const action =
        before === after
          ? 'unchanged'
          : after === undefined
            ? 'removed'
            : before === undefined
              ? 'created'
              : 'updated';
      if (!options['dry-run'] && before !== after) {
        if (after === undefined) {
          unlinkSync(file);
          removeEmptyDirectories(path.dirname(file), root);
        } else {
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, after);
        }
      }
      if (!options.json) process.stdout.write(diff);
      return {
        agent,
        scope,
        file,
        action: options['dry-run'] ? `${action} (dry run: nothing written)` : action,
        ...(options.json ? { diff } : {}),
      };
    },
  },
  'collect terraform-plan': {
    usage: 'aispm collect terraform-plan <plan.json>',
    summary: 'Send each resource change of `terraform show -json` output as a cloud_iac_event.',
    async run(positionals) {
      const file = positionals[0];
      if (!file) throw new UsageError('<plan.json> is required');
      const result = await failOpen('collect terraform-plan', async () => {
        const config = loadCollectorConfig();
        const bytes = readFileSync(file, 'utf8');
        const repository =
          actionsEnvironment().GITHUB_REPOSITORY?.toLowerCase() ?? gitRepository(process.cwd());
        const drafts = terraformDrafts(JSON.parse(bytes), {
          now: new Date().toISOString(),
          planBytes: bytes,
          ...(repository ? { repository } : {}),
        });
        return recordAndFlush(collectorFromConfig(config, log), drafts, config.AISPM_COLLECTOR_TIMEOUT_MS);
      });
      return result ?? { events: 0 };
    },
  },
  'collect github-actions': {
    usage: 'aispm collect github-actions [--audience AUD]',
    summary: "Workflow step: send a ci_runner_event authenticated by the job's OIDC token.",
    async run(_positionals, options) {
      const audience = typeof options.audience === 'string' ? options.audience : 'aispm';
      const result = await failOpen('collect github-actions', async () => {
        const env = actionsEnvironment();
        if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
          throw new Error('no OIDC token available: give the job `permissions: id-token: write`');
        const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL);
        url.searchParams.set('audience', audience);
        const response = await fetch(url, {
          headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
          signal: AbortSignal.timeout(TOKEN_REQUEST_MS),
        });
        if (!response.ok) throw new Error(`the OIDC token request answered ${response.status}`);
        const token = ((await response.json()) as { value?: unknown }).value;
        if (typeof token !== 'string') throw new Error('the OIDC token response has no value');
        return sendAsWorkload(token, () => actionsStepDrafts(env, new Date().toISOString()));
      });
      return result ?? { events: 0 };
    },
  },
  'collect gitlab-ci': {
    usage: 'aispm collect gitlab-ci [--token-env AISPM_ID_TOKEN]',
    summary:
      "Job script: send a ci_runner_event authenticated by the job's ID token (`id_tokens:` in .gitlab-ci.yml).",
    async run(_positionals, options) {
      const tokenEnv = typeof options['token-env'] === 'string' ? options['token-env'] : 'AISPM_ID_TOKEN';
      const result = await failOpen('collect gitlab-ci', async () => {
        const token = tokenFromEnvironment(tokenEnv);
        if (!token)
          throw new Error(`no ID token in $${tokenEnv}: give the job \`id_tokens: ${tokenEnv}: aud: …\``);
        return sendAsWorkload(token, (claims) =>
          gitlabJobDrafts(
            gitlabEnvironment(),
            new Date().toISOString(),
            typeof claims.runner_environment === 'string' ? claims.runner_environment : undefined,
          ),
        );
      });
      return result ?? { events: 0 };
    },
  },
  'collect azure-pipelines': {
    usage: 'aispm collect azure-pipelines [--service-connection ID | --token-env idToken]',
    summary: "Pipeline step: send a ci_runner_event authenticated by the job's Azure DevOps OIDC token.",
    async run(_positionals, options) {
      const tokenEnv = typeof options['token-env'] === 'string' ? options['token-env'] : undefined;
      const connection =
        typeof options['service-connection'] === 'string' ? options['service-connection'] : undefined;
      if (tokenEnv !== undefined && connection !== undefined)
        throw new UsageError(
          '--token-env reads a token; --service-connection requests one: give one of them',
        );
      const result = await failOpen('collect azure-pipelines', async () => {
        const token = await azureToken(tokenEnv, connection);
        return sendAsWorkload(token, () => azureJobDrafts(azureEnvironment(), new Date().toISOString()));
      });
      return result ?? { events: 0 };
    },
  },
  'collect mcp-proxy': {
    usage: 'aispm collect mcp-proxy --server-name NAME -- <server command…>',
    summary: 'Run a stdio MCP server behind a byte-for-byte proxy that reports every tools/call.',
    quiet: true,
    async run(positionals, options) {
      const serverName = options['server-name'];
      if (typeof serverName !== 'string' || serverName === '')
        throw new UsageError('--server-name is required');
      if (positionals.length === 0) throw new UsageError('the server command follows --');
      const code = await proxy(serverName, positionals);
      process.exit(code);
    },
  },
};

/**
 * Removes `dir` and its parents up to (not including) `root` while they are empty: the directories
 * install made for a file it created (`.cursor/`, `.github/hooks/`, …).
 */
function removeEmptyDirectories(dir: string, root: string): void {
  for (let current = dir; current.startsWith(`${root}${path.sep}`); current = path.dirname(current)) {
    if (readdirSync(current).length > 0) return;
    rmdirSync(current);
  }
}

/** Spawns the server, forwards both streams unchanged, and reports tool calls on the side. */
async function proxy(serverName: string, command: readonly string[]): Promise<number> {
  const configured = await failOpen('mcp-proxy collector', async () => {
    const config = loadCollectorConfig();
    return { collector: collectorFromConfig(config, log), timeoutMs: config.AISPM_COLLECTOR_TIMEOUT_MS };
  });
  const tracker = new McpTracker(serverName, `mcp-${randomUUID()}`, () => new Date().toISOString());
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const fromClient = new LineDecoder();
  const fromServer = new LineDecoder();
  const observe = (work: () => void) => {
    try {
      work();
    } catch (error) {
      log('error', 'mcp-proxy could not interpret a message; forwarding goes on', { err: String(error) });
    }
  };
  // The tracker only listens; the bytes flow through pipe() exactly as they came.
  process.stdin.pipe(child.stdin);
  child.stdout.pipe(process.stdout);
  process.stdin.on('data', (chunk: Buffer) =>
    observe(() => fromClient.push(chunk).forEach((m) => tracker.fromClient(m))),
  );
  child.stdout.on('data', (chunk: Buffer) =>
    observe(() => {
      const drafts = fromServer.push(chunk).flatMap((m) => tracker.fromServer(m));
      if (drafts.length > 0) configured?.collector.record(drafts);
    }),
  );
  child.stdin.on('error', () => undefined);
  let flushing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    flushing = flushing.then(() => configured?.collector.flush(configured.timeoutMs));
  }, 1_000);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  const code = await new Promise<number>((resolve) => {
    child.on('error', (error) => {
      log('error', 'mcp-proxy could not start the server', { err: error.message });
      resolve(127);
    });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  });
  clearInterval(timer);
  await flushing;
  await configured?.collector.flush(configured.timeoutMs);
  return code;
}

/**
 * Runs an `aispm collect …` command. The collectors run inside other tools' hooks, so this entry
 * loads only their module, not every command's Kafka and ClickHouse clients.
 */
export function run(argv: string[]): void {
  runCommands(COLLECT_COMMANDS, argv);
}
