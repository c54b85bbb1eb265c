/**
 * Owns direct dashboard access (DESIGN §9): a tenant's dashboard users (Grafana and the like)
 * log in to ClickHouse as read-only users granted SELECT on the shared tables in DASHBOARD_TABLES,
 * each with a row policy that keeps them to their tenant's rows. Nothing else is granted, so the
 * system tables (every user's queries, other databases) stay closed to them on a server with
 * `select_from_system_db_requires_grant`, current ClickHouse's default. Users are files in
 * `users.d/`, which a ClickHouse server re-reads by itself and the local server (chdb-core) reads
 * when its supervisor restarts it. Each user is one file, written atomically and holding only the
 * SHA-256 of the password.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isTenantSlug } from '@aispm/contracts';
import { identifier, quoteString } from './sql';

const USER = /^[a-z][a-z0-9_]{1,62}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FILE_PREFIX = 'aispm-dashboard-';

/** The tables a dashboard user reads; every one has a `tenant` column its row policy filters on. */
export const DASHBOARD_TABLES = ['events', 'event_lookup', 'health_evidence'] as const;

/** The users.d document of one read-only dashboard user of `tenant`'s rows in `database`. */
export function dashboardUserXml(
  user: string,
  passwordSha256: string,
  database: string,
  tenant: string,
): string {
  if (!USER.test(user)) throw new RangeError(`"${user}" is not a dashboard user name`);
  if (!SHA256_HEX.test(passwordSha256)) throw new RangeError('The password hash must be 64 hex digits');
  if (!isTenantSlug(tenant)) throw new RangeError(`"${tenant}" is not a tenant slug`);
  identifier(database);
  const grants = DASHBOARD_TABLES.map(
    (table) => `                <query>GRANT SELECT ON ${database}.${table}</query>`,
  ).join('\n');
  const policies = DASHBOARD_TABLES.map(
    (table) => `                <${table}><filter>tenant = ${quoteString(tenant)}</filter></${table}>`,
  ).join('\n');
  // TRICKY: the readonly profile (readonly=1) also forbids table functions such as remote() and
  // url(), which would otherwise reach other data as another user.
  return `<?xml version="1.0"?>
<!-- Written by the projector for a tenant's dashboard reader; removed when the reader is revoked. -->
<clickhouse>
    <users>
        <${user}>
            <password_sha256_hex>${passwordSha256}</password_sha256_hex>
            <networks><ip>::/0</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
            <grants>
${grants}
            </grants>
            <databases>
                <${database}>
${policies}
                </${database}>
            </databases>
        </${user}>
    </users>
</clickhouse>
`;
}

/** The users.d folder ClickHouse merges into its users: one file per dashboard user. */
export class DashboardUsersDir {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(user: string): string {
    if (!USER.test(user)) throw new RangeError(`"${user}" is not a dashboard user name`);
    return path.join(this.dir, `${FILE_PREFIX}${user}.xml`);
  }

  /** Writes a user's file unless it already holds `xml`; true when it changed. */
  write(user: string, xml: string): boolean {
    const file = this.file(user);
    try {
      if (readFileSync(file, 'utf8') === xml) return false;
    } catch {
      // No file yet.
    }
    // Rename is atomic: ClickHouse never reads half a file.
    // World-readable on purpose: the server may run as another user, and the file holds only the hash
    // of a 256-bit random password, which cannot be reversed.
    writeFileSync(`${file}.tmp`, xml, { mode: 0o644 });
    renameSync(`${file}.tmp`, file);
    return true;
  }

  remove(user: string): void {
    rmSync(this.file(user), { force: true });
  }
}
