/**
 * Keeps a long-lived reader of a shared topic (the control topic, health evidence, the audit
 * trail) alive for the life of the process. KafkaJS restarts a consumer after most failures, but
 * gives up on it for good after some (a crash with `restart: false`, e.g. "Failed to find group
 * coordinator" when Kafka is away longer than its retries) and disconnects it; a process whose
 * reader died that way would go on serving stale state, or stop storing evidence, silently.
 */
import type { Consumer } from 'kafkajs';
import type { Logger } from '@aispm/observability';

/** How long a failed restart waits before the next attempt. */
const RESTART_RETRY_MS = 2000;

export interface FollowedReaderOptions {
  /** Names the reader in logs, e.g. `control topic reader`. */
  readonly name: string;
  readonly logger: Logger;
  /**
   * Subscribes and runs the connected consumer; called at start and again after each crash
   * KafkaJS does not recover from. A reader that commits offsets resumes where it committed; one
   * that does not must seek to where it stands.
   */
  readonly follow: () => Promise<void>;
  /** Called when the reader is lost, before any restart: e.g. to report the process unready. */
  readonly onLost?: () => void;
  readonly retryMs?: number;
}

/** A consumer that is connected and followed again whenever KafkaJS gives up on it. */
export class FollowedReader {
  private alive = false;
  private stopping = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: FollowedReaderOptions,
  ) {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const { logger, name } = options;
      if (this.stopping) return;
      if (payload.restart) {
        logger.warn({ err: payload.error }, `${name} failed; the client restarts it`);
        return;
      }
      logger.error({ err: payload.error }, `${name} crashed; following again`);
      this.alive = false;
      options.onLost?.();
      void this.restart();
    });
  }

  /** True from a successful start until a crash, and again once a restart has worked. */
  get following(): boolean {
    return this.alive;
  }

  /** Connects and follows; fails if the first attempt does (start-up reports that). */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.options.follow();
    this.alive = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
  }

  private async restart(): Promise<void> {
    const { logger, name, follow, retryMs = RESTART_RETRY_MS } = this.options;
    while (!this.stopping) {
      try {
        await this.consumer.connect();
        await follow();
        // A stop that came while this attempt ran disconnected a consumer this attempt then
        // connected again; leaving it would keep the process from exiting.
        if (this.stopping) {
          await this.consumer.disconnect();
          return;
        }
        this.alive = true;
        logger.info(`${name} restarted`);
        return;
      } catch (error) {
        logger.warn({ err: error }, `${name} could not restart; retrying`);
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
  }
}
