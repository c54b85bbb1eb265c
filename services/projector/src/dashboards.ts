/**
 * Provisions direct dashboard access (DESIGN §9) from reader records on the control topic. For
 * every live reader of a served tenant that has a ClickHouse user, the tenant gets a mirror
 * database (the same migrations as the live one, holding only its rows) and the user a users.d
 * file that allows that database alone. The projector writes each batch to the mirrors of the
 * tenants in it, so a mirror is as fresh as the live tables.
 *
 * Order for a new mirror: create it, start writing to it, then copy what the live tables already
 * hold. A row written both ways collapses like any redelivery (ReplacingMergeTree, FINAL), so
 * nothing falls between the copy and the live writes. Reconciliations run one at a time.
 */
import {
  dashboardUserXml,
  identifier,
  migrate,
  sql,
  tenantDatabase,
  TENANT_MONTH_TABLES,
  type ClickHouse,
  type DashboardUsersDir,
} from '@aispm/clickhouse';
import type { ControlReader } from '@aispm/contracts';
import type { ControlPlane } from '@aispm/control';
import type { Logger } from '@aispm/observability';

/** Wait before retrying a failed reconciliation (ClickHouse busy or briefly down). */
const RETRY_MS = 5_000;

export class DashboardAccess {
  private readonly mirrors = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly clickhouse: ClickHouse,
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

  /** The mirror database of a tenant, while it has one. */
  mirrorOf(tenant: string): string | undefined {
    return this.mirrors.has(tenant) ? tenantDatabase(this.database, tenant) : undefined;
  }

  /** Every mirror database, for retention. */
  mirrorDatabases(): string[] {
    // A deleted tenant's mirror is about to be dropped whole; trimming it meanwhile would race
    // the drop (18.16 then leaves part directories behind).
    return [...this.mirrors]
      .filter((tenant) => this.control.state.tenant(tenant) !== undefined)
      .map((tenant) => tenantDatabase(this.database, tenant));
  }

  private trigger(): void {
    this.running = this.running.then(() =>
      this.reconcile().catch((error: unknown) => {
        this.logger.error({ err: error }, 'dashboard access reconciliation failed; retrying');
        if (!this.stopped) this.retry = setTimeout(() => this.trigger(), RETRY_MS);
      }),
    );
  }

  private dashboardReaders(): { reader: ControlReader; live: boolean }[] {
    const state = this.control.state;
    return [...state.readers.values()]
      .filter((reader) => reader.clickhouse_user && this.serves(reader.tenant))
      .map((reader) => ({ reader, live: !reader.revoked && state.tenantOf(reader) !== undefined }));
  }

  private async reconcile(): Promise<void> {
    const readers = this.dashboardReaders();
    const wanted = new Set(readers.filter((r) => r.live).map((r) => r.reader.tenant));
    for (const tenant of wanted) {
      if (!this.mirrors.has(tenant)) await this.openMirror(tenant);
    }
    for (const { reader, live } of readers) {
      const user = reader.clickhouse_user!;
      if (live && reader.clickhouse_password_sha256) {
        const xml = dashboardUserXml(
          user,
          reader.clickhouse_password_sha256,
          tenantDatabase(this.database, reader.tenant),
        );
        if (this.users.write(user, xml))
          this.logger.info({ tenant: reader.tenant, user }, 'dashboard user written');
      } else {
        this.users.remove(user);
      }
    }
    for (const tenant of [...this.mirrors]) {
      if (wanted.has(tenant)) continue;
      // Stop writing before dropping, so no insert targets a database that is going away.
      this.mirrors.delete(tenant);
      await this.clickhouse.command(`DROP DATABASE IF EXISTS ${tenantDatabase(this.database, tenant)}`);
      this.logger.info({ tenant }, 'dashboard mirror dropped: no live dashboard reader left');
    }
  }

  private async openMirror(tenant: string): Promise<void> {
    const mirror = tenantDatabase(this.database, tenant);
    await migrate(this.clickhouse, mirror);
    this.mirrors.add(tenant);
    const live = identifier(this.database);
    for (const table of TENANT_MONTH_TABLES) {
      await this.clickhouse.command(
        `INSERT INTO ${mirror}.${table} SELECT * FROM ${live}.${table} WHERE ` + sql`tenant = ${tenant}`,
      );
    }
    this.logger.info({ tenant, mirror }, 'dashboard mirror opened');
  }
}
