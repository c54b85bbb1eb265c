/**
 * Owns which topics a stage consumes: its input stage's topic of every live tenant it serves,
 * followed as the control topic's tenants come and go, and the consumer's reconnection after
 * KafkaJS gives up on it. KafkaJS resolves a subscription only when subscribing, so a changed
 * tenant set is a stop and a re-subscribe (one rebalance for every change gathered); committed
 * offsets carry over.
 */
import type { Consumer } from 'kafkajs';
import { tenantTopic, type TenantStage } from '@aispm/contracts';
import type { Logger } from '@aispm/observability';
import { subscribeWhenReady } from './client';

/** The tenants a stage works for: the live tenants of the control topic. */
export interface TenantSource {
  live(): readonly string[];
  isLive(tenant: string): boolean;
  /** Calls `listener` after any tenant is created or deleted. */
  onChange(listener: (change: 'created' | 'deleted') => void): void;
}

/** What decides a stage's topics. */
export interface SubscriptionSettings {
  readonly inputStage: TenantStage;
  readonly tenants: TenantSource;
  /** Tenants this instance serves (AISPM_TENANT_PATTERN). */
  readonly tenantPattern: RegExp;
  /** How long tenant changes are gathered before one re-subscription (AISPM_TOPIC_REFRESH_MS). */
  readonly topicRefreshMs: number;
}

/** How long tenant deletions are gathered before the stage leaves their topics. */
const DELETION_GATHER_MS = 100;

/** The subscription of a stage's consumer to its live tenants' topics. */
export class TenantSubscription {
  private subscribed = new Set<string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshQueued: NodeJS.Timeout | undefined;
  private refreshDue = 0;
  private refreshing: Promise<void> = Promise.resolve();
  private running = false;
  private subscribedOnce = false;
  private stopping = false;
  /**
   * KafkaJS gave up on the consumer (a non-retriable crash, e.g. no group coordinator while a
   * broker restarts) and disconnected it; the refresh loop reconnects and re-subscribes it.
   */
  private crashed = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly settings: SubscriptionSettings,
    private readonly logger: Logger,
    /** Runs the subscribed consumer: the stage's consume loop. */
    private readonly run: () => Promise<void>,
    /** Called after every re-subscription that went through, changed or not. */
    private readonly refreshed: () => void,
  ) {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopping) return;
      this.crashed = true;
      this.running = false;
      this.subscribed = new Set();
      this.logger.error({ err: payload.error }, 'stage consumer crashed; reconnecting at the next refresh');
    });
    // A deleted tenant's topics are deleted right after its record is written: leaving them
    // before they go spares the stage fetches and writes that fail on them.
    settings.tenants.onChange((change) =>
      this.queueRefresh(change === 'deleted' ? DELETION_GATHER_MS : settings.topicRefreshMs),
    );
  }

  /** Subscribes to the live tenants' topics and follows tenant changes. */
  async start(): Promise<void> {
    await this.refresh();
    // Also the safety net: a crashed consumer is reconnected here.
    this.refreshTimer = setInterval(() => this.queueRefresh(0), Math.max(this.settings.topicRefreshMs, 5000));
  }

  /** Stops following tenant changes; a re-subscription in flight gets a moment to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.refreshQueued) clearTimeout(this.refreshQueued);
    // A re-subscription in flight may be waiting on a group rebalance that other stopping
    // members slow down; disconnecting ends it, so give it only a moment to finish.
    await Promise.race([this.refreshing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  /** The input topics subscribed to now. */
  topics(): string[] {
    return [...this.subscribed];
  }

  /** Subscribed to the live tenants' topics (none is fine), with a consumer KafkaJS has not given up on. */
  ready(): boolean {
    return this.subscribedOnce && !this.crashed;
  }

  /** Subscribed to nothing because there is nothing to consume: no loop runs, none needs to. */
  idle(): boolean {
    return this.ready() && this.subscribed.size === 0;
  }

  /** Re-subscribes once the burst of tenant changes that called it is over (at most `delayMs` from now). */
  private queueRefresh(delayMs = this.settings.topicRefreshMs): void {
    if (this.stopping) return;
    const due = Date.now() + delayMs;
    if (this.refreshQueued && this.refreshDue <= due) return;
    if (this.refreshQueued) clearTimeout(this.refreshQueued);
    this.refreshDue = due;
    this.refreshQueued = setTimeout(() => {
      this.refreshQueued = undefined;
      this.refreshing = this.refreshing
        .then(() => this.refresh())
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 're-subscribing failed; will try again');
          this.queueRefresh();
        });
    }, delayMs);
  }

  private wantedTopics(): string[] {
    return this.settings.tenants
      .live()
      .filter((tenant) => this.settings.tenantPattern.test(tenant))
      .map((tenant) => tenantTopic(tenant, this.settings.inputStage))
      .sort();
  }

  private async refresh(): Promise<void> {
    if (this.stopping) return;
    if (this.crashed) {
      await this.consumer.connect();
      this.crashed = false;
      this.logger.info('stage consumer reconnected');
    }
    await this.resubscribe();
    this.subscribedOnce = true;
    this.refreshed();
  }

  private async resubscribe(): Promise<void> {
    const topics = this.wantedTopics();
    const unchanged = topics.length === this.subscribed.size && topics.every((t) => this.subscribed.has(t));
    if (unchanged && (this.running || topics.length === 0)) return;
    if (this.running) await this.consumer.stop();
    this.running = false;
    this.subscribed = new Set();
    if (topics.length === 0) return;
    await subscribeWhenReady(this.consumer, { topics, fromBeginning: true });
    this.subscribed = new Set(topics);
    this.logger.info({ topics: topics.length }, 'subscribed to stage topics');
    await this.run();
    this.running = true;
  }
}
