/**
 * Servers of a suite's own: Kafka or ClickHouse started through `deploy/local/infra.sh` with a
 * data dir and ports of their own, so a suite can stop, kill or restart them without touching the
 * shared servers other suites use. The schema registry is always the shared one: no suite stops it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, portIsFree, REPO } from './platform';
import { onSuiteEnd } from './reaper';

const run = promisify(execFile);

type Component = 'kafka' | 'clickhouse';

/** Two ports apart, like infra.sh numbers Kafka nodes: broker and controller of node n. */
async function kafkaPortBase(nodes: number): Promise<number> {
  // A random base between freePort's ports and the ephemeral range; checked free below.
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 5_000);
    const free = await Promise.all(Array.from({ length: 2 * nodes }, (_, i) => portIsFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range for a private Kafka');
}

/** A private set of servers; every call runs infra.sh with this instance's environment. */
export class PrivateInfra {
  private unregister: () => void = () => undefined;

  private constructor(
    readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly kafkaNodes: readonly number[],
    private readonly components: readonly Component[],
  ) {}

  /** Starts `components` in a fresh data dir; Kafka with `kafkaNodes` nodes (1 or 3). */
  static async start(components: readonly Component[], kafkaNodes = 1): Promise<PrivateInfra> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'aispm-faults-'));
    const base = await kafkaPortBase(kafkaNodes);
    const nodes = Array.from({ length: kafkaNodes }, (_, i) => i + 1);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AISPM_DATA_DIR: dataDir,
      KAFKA_NODE_IDS: nodes.join(' '),
      KAFKA_PORT: String(base),
      KAFKA_CONTROLLER_PORT: String(base + 1),
      // Several JVMs share a small machine with the shared servers.
      KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
      AISPM_STOP_TIMEOUT: '10',
      CLICKHOUSE_HTTP_PORT: String(await freePort()),
      CLICKHOUSE_TCP_PORT: String(await freePort()),
    };
    // env.sh derives these from the ports unless they are set; the shared ones may be.
    delete env.KAFKA_BROKERS;
    delete env.CLICKHOUSE_URL;
    const infra = new PrivateInfra(dataDir, env, nodes, components);
    // Registered before starting: a start that fails halfway may have left a server running.
    infra.unregister = onSuiteEnd(() => infra.destroy());
    await infra.infra('start', ...components);
    return infra;
  }

  get kafkaBrokers(): string {
    const base = Number(this.env.KAFKA_PORT);
    return this.kafkaNodes.map((n) => `127.0.0.1:${base + 2 * (n - 1)}`).join(',');
  }

  get clickhouseUrl(): string {
    return `http://127.0.0.1:${this.env.CLICKHOUSE_HTTP_PORT}`;
  }

  /**
   * A pipeline's settings for this instance's ClickHouse and its users folder. A suite that makes
   * dashboard users brings its own ClickHouse: the local server restarts on every change of users,
   * which other suites sharing it would see as outages.
   */
  get clickhouseEnv(): { CLICKHOUSE_URL: string; CLICKHOUSE_USERS_DIR: string } {
    return {
      CLICKHOUSE_URL: this.clickhouseUrl,
      CLICKHOUSE_USERS_DIR: path.join(this.dataDir, 'clickhouse', 'users.d'),
    };
  }

  /** Runs `deploy/local/infra.sh` against this instance; resolves when it has finished. */
  async infra(...args: string[]): Promise<void> {
    await run('bash', [path.join(REPO, 'deploy/local/infra.sh'), ...args], {
      env: this.env,
      maxBuffer: 16 * 1024 * 1024,
    });
  }

  /** SIGKILLs one Kafka node (kafka-<node>), as a crashed machine would stop. */
  killKafkaNode(node: number): void {
    const pid = Number(readFileSync(path.join(this.dataDir, 'run', `kafka-${node}.pid`), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
  }

  /** Stops everything it started and removes the data dir. */
  async destroy(): Promise<void> {
    this.unregister();
    try {
      await this.infra('stop', ...this.components);
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}
