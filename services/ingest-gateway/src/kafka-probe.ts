/**
 * Owns the gateway's view of whether Kafka answers, for its readiness: while no broker answers a
 * metadata request, every event would get a 503, so a load balancer should send collectors to
 * another instance. Probes every `intervalMs`; a probe that takes longer counts as a failure.
 */
import type { Admin } from 'kafkajs';
import type { Logger } from '@aispm/observability';

export class KafkaProbe {
  private up = true;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly admin: Admin,
    private readonly logger: Logger,
    private readonly intervalMs = 2000,
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
    // A probe still waiting on a silent broker is a failure already; do not stack another.
    if (this.pending) {
      this.set(false);
      return;
    }
    this.pending = true;
    try {
      await Promise.race([
        this.admin.describeCluster(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in time')), this.intervalMs)),
      ]);
      this.set(true);
    } catch (error) {
      this.set(false, error);
    } finally {
      this.pending = false;
    }
  }

  private set(up: boolean, error?: unknown): void {
    if (up === this.up) return;
    this.up = up;
    if (up) this.logger.info('Kafka answers again; ready');
    else this.logger.warn({ err: error }, 'Kafka does not answer; not ready');
  }
}
