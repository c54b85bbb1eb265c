/**
 * Applies tenant retention, legal holds and deletions to ClickHouse: on a timer, and at once
 * when a tenant is deleted or its hold changes. Runs are serialized, so a slow run is never
 * overlapped by the next.
 */
import {
  applyRetention,
  isEmptyPlan,
  planRetention,
  tenantEvents,
  tenantEvidence,
  type ClickHouse,
} from '@aispm/clickhouse';
import type { ControlPlane } from '@aispm/control';
import type { Logger, Metrics } from '@aispm/observability';

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly clickhouse: ClickHouse,
    private readonly database: string,
    private readonly control: ControlPlane,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  start(intervalMs: number): void {
    this.control.onChange((data) => {
      if ((data.type === 'tenant' && data.deleted) || data.type === 'legal_hold') this.trigger();
    });
    this.timer = setInterval(() => this.trigger(), intervalMs);
    this.trigger();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Queues one run after whatever run is in flight. */
  trigger(): void {
    this.running = this.running.then(() =>
      this.runOnce().then(
        () => this.metrics.retentionRuns.inc({ outcome: 'ok' }),
        (error: unknown) => {
          this.metrics.retentionRuns.inc({ outcome: 'failed' });
          this.logger.warn({ err: error }, 'retention run failed; will run again');
        },
      ),
    );
  }

  private async runOnce(): Promise<void> {
    // A legal hold set a moment ago may not have reached this instance yet; deleting under it
    // could not be undone, so a run first reads the control topic up to its current end.
    await this.control.catchUp();
    const state = this.control.state;
    const tenants = [...state.tenants.values()].map((tenant) => ({
      slug: tenant.slug,
      retentionDays: tenant.retention_days,
      deleted: tenant.deleted,
      onLegalHold: state.onLegalHold(tenant.slug),
    }));
    const database = this.database;
    const plan = planRetention(
      await tenantEvents(this.clickhouse, database),
      await tenantEvidence(this.clickhouse, database),
      tenants,
      Date.now(),
    );
    if (isEmptyPlan(plan)) return;
    await applyRetention(this.clickhouse, database, plan);
    this.logger.info(
      {
        database,
        eventsTrimmed: plan.events.map((trim) => trim.tenant),
        evidenceTrimmed: plan.evidence.map((trim) => trim.tenant),
      },
      'retention applied',
    );
  }
}
