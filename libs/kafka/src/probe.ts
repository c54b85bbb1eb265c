/**
 * Owns a service's view of whether Kafka answers, for its readiness: while no broker answers a
 * metadata request, every request that needs Kafka would fail, so a load balancer should send
 * traffic to another instance. Every `intervalMs` a short-lived admin client (no retries, so no state left
 * over from the outage) asks for the cluster's brokers; no answer within `timeoutMs` is a failure.
 */
import type { Kafka } from 'kafkajs';
import type { Logger } from '@aispm/observability';

export class KafkaProbe {
  private up = true;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly logger: Logger,
    private readonly intervalMs = 2000,
    private readonly timeoutMs = 5000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** True unless the last probe failed. */
  answers(): boolean {
    return this.up;
  }

  private async probe(): Promise<void> {
    if (this.pending) return;
    this.pending = true;
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        admin.connect().then(() => admin.describeCluster()),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      this.set(true);
    } catch (error) {
      this.set(false, error);
    } finally {
      clearTimeout(timeout);
      this.pending = false;
      void admin.disconnect().catch(() => undefined);
    }
  }

  private set(up: boolean, error?: unknown): void {
    if (up === this.up) return;
    this.up = up;
    if (up) this.logger.info('Kafka answers again; ready');
    else this.logger.warn({ err: error }, 'Kafka does not answer; not ready');
  }
}
