/**
 * Provisions direct dashboard access (DESIGN §9) from reader records on the control topic: every
 * live reader of a served tenant that has a ClickHouse user gets a users.d file granting the
 * shared tables under a row policy for its tenant (see `dashboardUserXml`); a revoked reader, or
 * one of a deleted tenant, loses its file. Reconciliations run one at a time.
 */
import { dashboardUserXml, type DashboardUsersDir } from '@aispm/clickhouse';
import type { ControlPlane } from '@aispm/control';
import type { Logger } from '@aispm/observability';

/** Wait before retrying a failed reconciliation (the users folder briefly unwritable). */
const RETRY_MS = 5_000;

export class DashboardAccess {
  private running: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly database: string,
    private readonly users: DashboardUsersDir,
    private readonly control: ControlPlane,
    private readonly serves: (tenant: string) => boolean,
    private readonly logger: Logger,
  ) {}

  /** Reconciles now and on every tenant or reader change. */
  async start(): Promise<void> {
    this.control.onChange((data) => {
      if (data.type === 'reader' || data.type === 'tenant') this.trigger();
    });
    this.trigger();
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.running;
  }

  private trigger(): void {
    this.running = this.running.then(() => {
      try {
        this.reconcile();
      } catch (error) {
        this.logger.error({ err: error }, 'dashboard access reconciliation failed; retrying');
        if (!this.stopped) this.retry = setTimeout(() => this.trigger(), RETRY_MS);
      }
    });
  }

  private reconcile(): void {
    const state = this.control.state;
    for (const reader of state.readers.values()) {
      const user = reader.clickhouse_user;
      if (!user || !this.serves(reader.tenant)) continue;
      const live = !reader.revoked && state.tenantOf(reader) !== undefined;
      if (live && reader.clickhouse_password_sha256) {
        const xml = dashboardUserXml(user, reader.clickhouse_password_sha256, this.database, reader.tenant);
        if (this.users.write(user, xml))
          this.logger.info({ tenant: reader.tenant, user }, 'dashboard user written');
      } else {
        this.users.remove(user);
      }
    }
  }
}
