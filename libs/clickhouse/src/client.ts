/**
 * Owns the connection to ClickHouse: one client per process, with typed query, command and
 * insert helpers whose failures carry CH_* codes.
 */
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { AppError } from '@aispm/errors';
import type { Sql } from './sql';

/** Connection settings. */
export interface ClickHouseSettings {
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

/** The connection keys every ClickHouse user of the platform reads (libs/config). */
export interface ClickHouseConfig {
  readonly CLICKHOUSE_URL: string;
  readonly CLICKHOUSE_USER: string;
  readonly CLICKHOUSE_PASSWORD: string;
}

/** A connection configured from CLICKHOUSE_URL, CLICKHOUSE_USER and CLICKHOUSE_PASSWORD. */
export function clickHouseFromConfig(config: ClickHouseConfig): ClickHouse {
  return new ClickHouse({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
  });
}

function rendered(statement: Sql | string): { query: string; params: Record<string, unknown> } {
  return typeof statement === 'string' ? { query: statement, params: {} } : statement.render();
}

/** A ClickHouse connection with the few operations the platform uses. */
export class ClickHouse {
  private readonly client: ClickHouseClient;

  constructor(settings: ClickHouseSettings) {
    this.client = createClient({
      url: settings.url,
      username: settings.username,
      password: settings.password,
      request_timeout: 30_000,
      compression: { request: false, response: false },
    });
  }

  /** Runs a statement that returns no rows (DDL, ALTER). A string is a statement with no value. */
  async command(statement: Sql | string): Promise<void> {
    const { query, params } = rendered(statement);
    await this.wrap(() => this.client.command({ query, query_params: params }));
  }

  /** Runs a SELECT and returns its rows. A string is a statement with no value. */
  async query<T>(statement: Sql | string): Promise<T[]> {
    const { query, params } = rendered(statement);
    return this.wrap(async () => {
      const result = await this.client.query({ query, query_params: params, format: 'JSONEachRow' });
      return result.json<T>();
    });
  }

  /** Inserts rows as JSONEachRow into `table` (a trusted, already-checked name). */
  async insert(table: string, rows: readonly object[]): Promise<void> {
    if (rows.length === 0) return;
    await this.wrap(() => this.client.insert({ table, values: [...rows], format: 'JSONEachRow' }));
  }

  /** True when the server answers. */
  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async wrap<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (cause) {
      if (cause instanceof AppError) throw cause;
      throw new AppError('CH_QUERY_FAILED', `ClickHouse: ${(cause as Error).message}`, { cause });
    }
  }
}
