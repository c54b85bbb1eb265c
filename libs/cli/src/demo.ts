/**
 * Owns `aispm demo` (issue 21, "a trial run"): the CAVRA design's trial in one command, against a
 * platform that is already running (`npm run up`). It creates a tenant, a collector that requires
 * signed requests, and a viewer and an auditor reader through the admin API, the way the other
 * admin commands do; sends the scenario of `demo-scenario.ts` through the collector SDK (one SDK
 * collector per simulated machine: envelopes, on-disk spool, signed batches, retries, receipts),
 * paced over a few seconds so the console's live feed shows it arrive; waits until the pipeline
 * has projected the decisions it sent; and fetches an auditor's replay packet of one session.
 *
 * It never writes into an existing tenant: when the slug is taken it says so and uses the next
 * free `<slug>-N`. Keys are printed once, as `reader create` prints them.
 */
import { randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildEnvelope,
  Collector,
  COLLECTOR_VERSION,
  Spool,
  type EnvelopeSettings,
  type Log,
  type ReceiptsByFile,
} from '@aispm/collector';
import { isTenantSlug } from '@aispm/contracts';
import { AdminApiError, callAdmin, unreachable } from './admin-client';
import { UsageError, type Command, type Options } from './command';
import { buildDemoScenario, DEMO_SOURCES, type DemoScenario, type DemoSource } from './demo-scenario';
import type { CliConfig } from './env';

/** How many `<slug>-N` the demo tries before it gives up. */
const MAX_SUFFIX = 50;
/** How long the demo waits for the pipeline to project what it sent. */
const PROJECTION_TIMEOUT_MS = 45_000;
/** A projection that has not grown for this long has finished, short of what was sent or not. */
const PROJECTION_STALL_MS = 10_000;
/** How long the demo keeps sending what is still spooled after the last event was due. */
const DRAIN_TIMEOUT_MS = 20_000;

/** `n thing` or `n things`. */
const plural = (n: number, thing: string) => `${n} ${thing}${n === 1 ? '' : 's'}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A whole-number option within bounds, or its default. */
function integerOption(options: Options, name: string, fallback: number, low: number, high: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < low || Number(value) > high)
    throw new UsageError(`--${name} must be a whole number from ${low} to ${high}`);
  return Number(value);
}

/** A string option; repeated, the last one wins (so `npm run demo -- --out DIR` overrides the script's). */
function lastString(options: Options, name: string): string | undefined {
  const value = options[name];
  if (Array.isArray(value)) return value[value.length - 1];
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return typeof value === 'string' ? value : undefined;
}

/** The services the demo talks to: the ingest gateway it sends through, the API it administers and reads through. */
interface Platform {
  /** --url, else AISPM_URL. */
  readonly gateway: string;
  /** --api-url, else AISPM_API_URL. */
  readonly api: string;
}

function platformOf(options: Options, config: CliConfig): Platform {
  const trim = (url: string) => url.replace(/\/+$/, '');
  return {
    gateway: trim(lastString(options, 'url') ?? config.AISPM_URL),
    api: trim(lastString(options, 'api-url') ?? config.AISPM_API_URL),
  };
}

/** Fails with what to do when nothing answers at `base`, or it does not become ready. */
async function checkService(base: string, service: string, setting: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    let status: number;
    try {
      status = (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3_000) })).status;
    } catch (error) {
      throw new Error(
        `the platform is not reachable at ${base} (${unreachable(error)}). Start it with \`npm run up\`, or point ${setting} at a running ${service}.`,
      );
    }
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(
        `the ${service} at ${base} answers but is not ready (/readyz ${status}). See \`npm run status\`; \`npm run up\` starts what is missing.`,
      );
    await sleep(500);
  }
}

/** Calls the admin API, retrying while the API is briefly unable (503: control plane loading, Kafka busy). */
async function admin(
  config: CliConfig,
  options: Options,
  method: string,
  route: string,
  body?: object,
): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await callAdmin(config, options, method, route, body);
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 503 && attempt < 20) {
        await sleep(500);
        continue;
      }
      if (error instanceof AdminApiError && (error.status === 401 || error.status === 403))
        throw new Error(
          `the API refused the admin key (${error.message}). On the platform's machine the CLI reads ${config.AISPM_OPERATOR_KEY_FILE} (written by \`npm run up\`); elsewhere set AISPM_ADMIN_KEY to an operator key.`,
        );
      throw error;
    }
  }
}

interface CreatedTenant {
  readonly slug: string;
  readonly tenantRef: string;
  /** Why each slug before it was passed over. */
  readonly skipped: readonly string[];
}

/** Creates `wanted`, or the first free `<wanted>-N` when it is taken. */
async function createTenant(config: CliConfig, options: Options, wanted: string): Promise<CreatedTenant> {
  const skipped: string[] = [];
  for (let n = 1; n <= MAX_SUFFIX; n += 1) {
    const slug = n === 1 ? wanted : `${wanted}-${n}`;
    if (!isTenantSlug(slug)) break;
    const tenantRef = `tenant:aispm-demo-${slug}`;
    try {
      await admin(config, options, 'POST', '/tenants', { slug, tenant_ref: tenantRef });
      return { slug, tenantRef, skipped };
    } catch (error) {
      if (!(error instanceof AdminApiError) || error.status !== 409) throw error;
      skipped.push(slug);
    }
  }
  throw new Error(
    `tenant ${wanted} and ${wanted}-2 … ${wanted}-${MAX_SUFFIX} are all taken; pass --tenant with another name (or delete old ones with \`aispm tenant delete\`)`,
  );
}

/** One simulated machine's collector: an SDK collector with its own spool, and what it was told. */
interface Sender {
  readonly source: DemoSource;
  readonly settings: EnvelopeSettings;
  readonly collector: Collector;
  readonly spool: Spool;
  readonly receipts: ReceiptsByFile;
  readonly decisionFiles: Set<string>;
  enqueued: number;
  heldBecause?: string;
}

/** What the gateway made of everything sent. */
interface Tally {
  readonly events: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly refused: number;
  readonly pending: number;
  /** Decisions the gateway took in (accepted or already there): what the dashboard should count. */
  readonly decisions: number;
}

function tally(senders: readonly Sender[]): Tally {
  let accepted = 0;
  let duplicate = 0;
  let refused = 0;
  let decisions = 0;
  let events = 0;
  for (const sender of senders) {
    events += sender.enqueued;
    for (const [file, receipt] of sender.receipts) {
      if (receipt.outcome === 'accepted') accepted += 1;
      else if (receipt.outcome === 'duplicate') duplicate += 1;
      else refused += 1;
      if (receipt.outcome !== 'rejected' && sender.decisionFiles.has(file)) decisions += 1;
    }
  }
  return {
    events,
    accepted,
    duplicate,
    refused,
    pending: events - accepted - duplicate - refused,
    decisions,
  };
}

/** Refused events are worth a line on stderr; a gateway that holds events back is reported at the end. */
const errorsOnly: Log = (level, message, fields = {}) => {
  if (level === 'error') process.stderr.write(`aispm demo: ${message} ${JSON.stringify(fields)}\n`);
};

/**
 * Sends the scenario's events when they fall due, each source through its own collector, and then
 * what is still spooled, until the spools are empty or the drain time is up.
 */
async function sendScenario(
  scenario: DemoScenario,
  senders: ReadonlyMap<string, Sender>,
  progress: (t: Tally) => void,
): Promise<Tally> {
  const all = [...senders.values()];
  const flush = async () => {
    await Promise.all(
      all
        .filter((sender) => sender.spool.size() > 0)
        .map(async (sender) => {
          const report = await sender.collector.send(10_000, sender.receipts);
          sender.heldBecause = report.heldBecause;
        }),
    );
  };
  let next = 0;
  const { items } = scenario;
  while (next < items.length) {
    const now = Date.now();
    const due = new Map<Sender, typeof items>();
    while (next < items.length && items[next]!.at <= now) {
      const item = items[next++]!;
      const sender = senders.get(item.source)!;
      due.set(sender, [...(due.get(sender) ?? []), item]);
    }
    for (const [sender, batch] of due) {
      const files = sender.collector.enqueue(batch.map((item) => buildEnvelope(item.draft, sender.settings)));
      sender.enqueued += files.length;
      batch.forEach((item, i) => {
        if ((item.draft.event.decision ?? 'not_applicable') !== 'not_applicable')
          sender.decisionFiles.add(files[i]!);
      });
    }
    if (due.size > 0) {
      await flush();
      progress(tally(all));
    }
    if (next < items.length) await sleep(Math.min(250, Math.max(0, items[next]!.at - Date.now())));
  }
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (all.some((sender) => sender.spool.size() > 0) && Date.now() < deadline) {
    await flush();
    if (all.some((sender) => sender.spool.size() > 0)) await sleep(500);
  }
  return tally(all);
}

/** The part of the dashboard document the demo reads. */
interface Dashboard {
  overview: {
    posture_score: number;
    risk_level: string;
    total_sessions: number;
    total_decisions: number;
    blocked_actions: number;
    approval_required_actions: number;
    risk_findings: number;
  };
  agents: { agent_id: string; decision_count: number; drift_status: string }[];
  near_misses: unknown[];
  findings: unknown[];
  control_coverage: { surface_id: string; coverage_status: string; decision_count: number }[];
  behavior_fingerprints: { agent_id: string; repositories: string[] }[];
}

async function readAs<T>(base: string, key: string, route: string): Promise<{ status: number; body?: T }> {
  try {
    const response = await fetch(`${base}/enterprise/aispm${route}`, {
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: response.ok ? ((await response.json()) as T) : undefined };
  } catch {
    return { status: 0 };
  }
}

/**
 * Polls the dashboard as the viewer until it counts every decision sent, or stops growing, or the
 * time is up; returns the last document read.
 */
async function waitForProjection(
  base: string,
  viewerKey: string,
  expected: number,
): Promise<{ dashboard?: Dashboard; complete: boolean; waitedMs: number }> {
  const started = Date.now();
  let dashboard: Dashboard | undefined;
  let seen = -1;
  let changedAt = started;
  while (Date.now() - started < PROJECTION_TIMEOUT_MS) {
    const read = await readAs<Dashboard>(base, viewerKey, '/dashboard');
    if (read.body) {
      dashboard = read.body;
      const total = dashboard.overview.total_decisions;
      if (total >= expected) return { dashboard, complete: true, waitedMs: Date.now() - started };
      if (total !== seen) {
        seen = total;
        changedAt = Date.now();
      } else if (total > 0 && Date.now() - changedAt > PROJECTION_STALL_MS) break;
    }
    await sleep(500);
  }
  return { ...(dashboard ? { dashboard } : {}), complete: false, waitedMs: Date.now() - started };
}

interface Replay {
  session_id: string;
  steps: unknown[];
  summary: { steps: number; blocks: number; approvals: number; warnings: number; critical_or_high: number };
}

/** The auditor's replay packet of `session`, once it holds the session's decisions (or what there is after a wait). */
async function fetchReplay(base: string, auditorKey: string, session: string, expected: number) {
  const deadline = Date.now() + 15_000;
  let last: { status: number; body?: Replay } = { status: 0 };
  while (Date.now() < deadline) {
    last = await readAs<Replay>(base, auditorKey, `/replay/${encodeURIComponent(session)}`);
    if (last.body && last.body.summary.steps >= expected) break;
    await sleep(500);
  }
  if (!last.body)
    throw new Error(
      `the replay of session ${session} answered ${last.status || 'nothing'} (GET /replay/${session})`,
    );
  return last.body;
}

/** What the stored event of the redaction probe shows. */
async function redactionOf(base: string, viewerKey: string, eventId: string) {
  if (!eventId) return undefined;
  const read = await readAs<{ target_summary?: string; redaction_counts?: Record<string, number> }>(
    base,
    viewerKey,
    `/events/${encodeURIComponent(eventId)}`,
  );
  return read.body ? { event_id: eventId, stored: read.body.target_summary ?? '' } : undefined;
}

/** An AWS-access-key-shaped id that belongs to nothing: `AKIA` and 16 characters of [A-Z2-7]. */
function fakeAccessKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let id = 'AKIA';
  for (let i = 0; i < 16; i += 1) id += alphabet[randomInt(alphabet.length)];
  return id;
}

/** `AKIA` and the last four characters, for the terminal. */
const shortKey = (id: string) => `${id.slice(0, 4)}…${id.slice(-4)}`;

export const demoCommand: Command = {
  usage:
    'aispm demo [--tenant SLUG] [--events N] [--duration SECONDS] [--out DIR] [--url GATEWAY_URL] [--api-url API_URL] [--json]',
  summary:
    'A trial in one command: a tenant, a signing collector and two readers, a realistic stream of agent, MCP, CI and IaC events through the collectors, the console URL, and an auditor replay packet.',
  quiet: true,
  async run(_positionals, options, config) {
    const wanted = lastString(options, 'tenant') ?? 'demo';
    if (!isTenantSlug(wanted))
      throw new UsageError(
        '--tenant must be 2 to 63 lower-case letters, digits and dashes, starting with a letter or digit',
      );
    const events = integerOption(options, 'events', 300, 1, 100_000);
    const durationS = integerOption(options, 'duration', 20, 0, 600);
    const out = path.resolve(lastString(options, 'out') ?? 'aispm-demo');
    const json = options.json === true;
    const say = (text = '') => {
      if (!json) process.stdout.write(`${text}\n`);
    };
    const { gateway, api } = platformOf(options, config);
    const adminOptions = { 'api-url': api };

    await checkService(gateway, 'gateway', 'AISPM_URL (or --url)');
    await checkService(api, 'API', 'AISPM_API_URL (or --api-url)');
    mkdirSync(out, { recursive: true });
    const tenant = await createTenant(config, adminOptions, wanted);
    const collector = await admin(config, adminOptions, 'POST', '/collectors', {
      tenant: tenant.slug,
      require_signature: true,
    });
    const viewer = await admin(config, adminOptions, 'POST', '/readers', {
      tenant: tenant.slug,
      role: 'viewer',
    });
    const auditor = await admin(config, adminOptions, 'POST', '/readers', {
      tenant: tenant.slug,
      role: 'auditor',
    });
    const collectorKey = String(collector.api_key);
    const signingSecret = String(collector.signing_secret);
    const viewerKey = String(viewer.api_key);
    const auditorKey = String(auditor.api_key);
    const consoleUrl = `${api}/console/`;

    const collectorEnv = path.join(out, 'collector.env');
    writeFileSync(
      collectorEnv,
      [
        `# The collector of the demo tenant ${tenant.slug}, made by \`aispm demo\`. To send your own tools' events:`,
        `#   set -a; . ${collectorEnv}; set +a; npx aispm collect install --agent claude-code`,
        `AISPM_URL=${gateway}`,
        `AISPM_COLLECTOR_KEY=${collectorKey}`,
        `AISPM_SIGNING_SECRET=${signingSecret}`,
        `AISPM_TENANT_REF=${tenant.tenantRef}`,
        'AISPM_ENVIRONMENT=dev',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    chmodSync(collectorEnv, 0o600);

    const fakeKeyId = fakeAccessKeyId();
    const scenario = buildDemoScenario({
      events,
      startMs: Date.now() + 500,
      durationMs: durationS * 1000,
      seed: randomInt(2 ** 31),
      fakeKeyId,
    });
    const spoolRoot = mkdtempSync(path.join(os.tmpdir(), 'aispm-demo-spool-'));
    const senders = new Map<string, Sender>(
      DEMO_SOURCES.map((source) => {
        const spool = new Spool(path.join(spoolRoot, source.id), 100_000, errorsOnly);
        const settings: EnvelopeSettings = {
          tenantRef: tenant.tenantRef,
          environment: source.environment,
          connectorId: '',
          hostName: source.hostName,
          collectorVersion: COLLECTOR_VERSION,
          signed: true,
        };
        const sdk = new Collector({
          target: { url: gateway, credential: collectorKey, signingSecret },
          settings,
          spool,
          log: errorsOnly,
        });
        return [
          source.id,
          {
            source,
            settings,
            collector: sdk,
            spool,
            receipts: new Map(),
            decisionFiles: new Set(),
            enqueued: 0,
          },
        ];
      }),
    );

    say(`aispm demo: a trial of the platform at ${gateway} (collectors) and ${api} (API)`);
    say();
    if (tenant.skipped.length > 0)
      say(
        `  ${tenant.skipped.join(', ')} ${tenant.skipped.length === 1 ? 'exists' : 'exist'} already, and the demo never writes into an existing tenant: it made ${tenant.slug}.`,
      );
    say(`  tenant     ${tenant.slug} (${tenant.tenantRef})`);
    say(`  collector  ${String(collector.collector_id)}, requires signed requests`);
    say(`             key and signing secret in ${collectorEnv} (mode 0600), to connect your own tools`);
    say(`  readers    viewer ${String(viewer.reader_id)}, auditor ${String(auditor.reader_id)}`);
    say();
    say(`Open the console: ${consoleUrl}`);
    say('and sign in with a reader key. They are shown once; the platform keeps only their hashes.');
    say(`  viewer   ${viewerKey}`);
    say(`  auditor  ${auditorKey}   (also session replays and chain verification)`);
    say();
    say(
      `Sending ${scenario.items.length} events (${scenario.decisions} decisions, ${scenario.sessions} sessions) through ${DEMO_SOURCES.length} collectors over ${durationS} s:`,
    );
    for (const source of DEMO_SOURCES) say(`  ${source.hostName.padEnd(20)} ${source.label}`);

    let shown = 0;
    const total = scenario.items.length;
    const sent = await sendScenario(scenario, senders, (t) => {
      const settled = t.accepted + t.duplicate + t.refused;
      const quarter = Math.floor((4 * settled) / total);
      if (quarter <= shown || settled === total) return;
      shown = quarter;
      say(`  ${String(quarter * 25).padStart(3)}%  ${settled} of ${total} settled, ${t.accepted} accepted`);
    });
    const held = [...senders.values()].find((s) => s.heldBecause)?.heldBecause;
    say(
      `Sent ${sent.events} events: ${sent.accepted} accepted, ${sent.duplicate} duplicate, ${sent.refused} refused, ${sent.pending} still spooled${held && sent.pending > 0 ? ` (${held})` : ''}.`,
    );
    if (sent.pending === 0) rmSync(spoolRoot, { recursive: true, force: true });
    else say(`  what is still spooled stays in ${spoolRoot}`);
    if (sent.accepted + sent.duplicate === 0)
      throw new Error(
        `the gateway took none of the events${held ? ` (${held})` : ''}; is ${gateway} the gateway of the platform at ${api}?`,
      );

    say(`Waiting for the pipeline to project ${sent.decisions} decisions …`);
    const projection = await waitForProjection(api, viewerKey, sent.decisions);
    const dashboard = projection.dashboard;
    const projected = dashboard?.overview.total_decisions ?? 0;
    if (projected === 0)
      throw new Error(
        `no decision was projected within ${Math.round(projection.waitedMs / 1000)} s: are the redactor, normalizer and projector running? (\`npm run status\`)`,
      );
    say(
      projection.complete
        ? `  all ${projected} projected in ${(projection.waitedMs / 1000).toFixed(1)} s`
        : `  ${projected} of ${sent.decisions} projected after ${(projection.waitedMs / 1000).toFixed(1)} s; the rest may still come`,
    );

    const replay = await fetchReplay(
      api,
      auditorKey,
      scenario.replaySession.id,
      scenario.replaySession.decisions,
    );
    const replayFile = path.join(out, `replay-${scenario.replaySession.id}.json`);
    writeFileSync(replayFile, `${JSON.stringify(replay, null, 2)}\n`);
    const redaction = await redactionOf(api, viewerKey, scenario.redactionProbe.eventId);

    const overview = dashboard!.overview;
    const agents = dashboard!.agents.map((a) => a.agent_id).sort();
    const repositories = [...new Set(dashboard!.behavior_fingerprints.flatMap((f) => f.repositories))].sort();
    const enforced = dashboard!.control_coverage.filter((s) => s.coverage_status !== 'not_observed_locally');
    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          tenant: tenant.slug,
          requested_tenant: wanted,
          taken_tenants: tenant.skipped,
          tenant_ref: tenant.tenantRef,
          collector_id: collector.collector_id,
          collector_env_file: collectorEnv,
          readers: {
            viewer: { reader_id: viewer.reader_id, api_key: viewerKey },
            auditor: { reader_id: auditor.reader_id, api_key: auditorKey },
          },
          console_url: consoleUrl,
          sent: { ...sent, sessions: scenario.sessions, collectors: DEMO_SOURCES.length },
          projected: {
            total_decisions: projected,
            complete: projection.complete,
            waited_ms: projection.waitedMs,
          },
          dashboard: {
            posture_score: overview.posture_score,
            risk_level: overview.risk_level,
            total_sessions: overview.total_sessions,
            total_decisions: overview.total_decisions,
            blocked_actions: overview.blocked_actions,
            approval_required_actions: overview.approval_required_actions,
            risk_findings: overview.risk_findings,
            near_misses: dashboard!.near_misses.length,
            agents,
            repositories,
          },
          replay: { session_id: replay.session_id, file: replayFile, summary: replay.summary },
          ...(redaction ? { redaction: { ...redaction, original: shortKey(fakeKeyId) } } : {}),
        })}\n`,
      );
      return {};
    }
    say();
    say(
      `Posture    score ${overview.posture_score} (${overview.risk_level} risk); ${overview.total_decisions} decisions in ${overview.total_sessions} sessions`,
    );
    say(
      `           ${overview.blocked_actions} blocked, ${overview.approval_required_actions} awaiting approval, ${overview.risk_findings} findings, ${dashboard!.near_misses.length} recent near misses`,
    );
    say(`Coverage   ${enforced.map((s) => `${s.surface_id} ${s.coverage_status}`).join(', ')}`);
    say(`Agents     ${agents.join(', ')}`);
    say(`Repos      ${repositories.join(', ')}`);
    if (redaction)
      say(
        `Redaction  the Terraform plan named access key id ${shortKey(fakeKeyId)} (made up for this run); stored as ${redaction.stored}`,
      );
    say();
    say(`Auditor replay packet of session ${replay.session_id} (${scenario.replaySession.label}):`);
    say(
      `  ${plural(replay.summary.steps, 'step')}, ${plural(replay.summary.blocks, 'block')}, ${plural(replay.summary.approvals, 'approval')}, ${plural(replay.summary.warnings, 'warning')}, ${replay.summary.critical_or_high} critical or high`,
    );
    say(`  written to ${replayFile}`);
    say();
    say(`Now open ${consoleUrl} and sign in with the viewer or auditor key above.`);
    return {};
  },
};
