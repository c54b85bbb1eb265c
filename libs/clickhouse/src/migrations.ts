/**
 * Owns the ClickHouse schema: versioned migrations in `migrations/NNNN_name.{up,down}.sql`, the
 * only place DDL lives. `{database}` in a file is replaced by a checked identifier, so the same
 * files build the live database and any replay rebuild.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '@aispm/errors';
import type { ClickHouse } from './client';
import { identifier, name, sql, trusted } from './sql';

/** The folder of migration files, shipped inside this package. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../migrations');

/** One migration: its version, name and statements. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: readonly string[];
  readonly down: readonly string[];
}

function statements(file: string, database: string): string[] {
  return readFileSync(file, 'utf8')
    .replaceAll('{database}', identifier(database))
    .split(/;\s*$/m)
    .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}

/** All migrations, in version order, with `{database}` filled in. */
export function loadMigrations(database: string): Migration[] {
  const files = readdirSync(MIGRATIONS_DIR);
  return files
    .filter((file) => file.endsWith('.up.sql'))
    .sort()
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.up\.sql$/.exec(file);
      if (!match) throw new Error(`Migration file ${file} is not named NNNN_name.up.sql`);
      const downFile = file.replace('.up.sql', '.down.sql');
      if (!files.includes(downFile)) throw new Error(`Migration ${file} has no ${downFile}`);
      return {
        version: Number(match[1]),
        name: match[2]!,
        up: statements(path.join(MIGRATIONS_DIR, file), database),
        down: statements(path.join(MIGRATIONS_DIR, downFile), database),
      };
    });
}

/** Applies every pending migration to `database`; returns the versions it applied. */
export async function migrate(clickhouse: ClickHouse, database: string): Promise<number[]> {
  const db = name(database);
  await clickhouse.command(sql`CREATE DATABASE IF NOT EXISTS ${db}`);
  await clickhouse.command(
    sql`CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version`,
  );
  const applied = new Set(
    (await clickhouse.query<{ version: number }>(sql`SELECT version FROM ${db}.schema_migrations`)).map(
      (row) => Number(row.version),
    ),
  );
  const done: number[] = [];
  for (const migration of loadMigrations(database)) {
    if (applied.has(migration.version)) continue;
    try {
      for (const statement of migration.up) await clickhouse.command(trusted(statement));
    } catch (cause) {
      throw new AppError('CH_MIGRATION_FAILED', `Migration ${migration.version}_${migration.name} failed`, {
        cause,
      });
    }
    await clickhouse.command(
      sql`INSERT INTO ${db}.schema_migrations (version, name) SELECT ${migration.version}, ${migration.name}`,
    );
    done.push(migration.version);
  }
  return done;
}
