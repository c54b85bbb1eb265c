/**
 * Owns ClickHouse access: the client, SQL value escaping, and versioned migrations.
 */
export * from './client';
export * from './sql';
export * from './migrations';
export * from './retention';
export * from './dashboards';
