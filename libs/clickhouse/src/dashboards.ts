/**
 * Owns direct dashboard access (DESIGN §9): a tenant's dashboard users (Grafana and the like)
 * log in to ClickHouse as read-only users limited by `allow_databases` to one database that holds
 * only that tenant's rows. ClickHouse 18.16 has neither SQL users nor enforced row policies, but it
 * does enforce a user's database list, and it re-reads `users.d/*.xml` while running; current
 * ClickHouse still reads the same files, so one mechanism serves both. Each user is one file,
 * written atomically and holding only the SHA-256 of the password.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { identifier } from './sql';

const USER = /^[a-z][a-z0-9_]{1,62}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FILE_PREFIX = 'aispm-dashboard-';

/**
 * The database holding one tenant's rows for its dashboard users. Slugs are `[a-z0-9-]`, so
 * mapping `-` to `_` keeps distinct slugs distinct; `__t_` keeps tenant databases apart from the
 * base database's own name space.
 */
export function tenantDatabase(base: string, slug: string): string {
  return identifier(`${base}__t_${slug.replaceAll('-', '_')}`);
}

/** The users.d document of one read-only dashboard user of `database`. */
export function dashboardUserXml(user: string, passwordSha256: string, database: string): string {
  if (!USER.test(user)) throw new RangeError(`"${user}" is not a dashboard user name`);
  if (!SHA256_HEX.test(passwordSha256)) throw new RangeError('The password hash must be 64 hex digits');
  identifier(database);
  // TRICKY: the readonly profile (readonly=1) also forbids table functions such as remote() and
  // url(), which would otherwise reach other databases as another user.
  return `<?xml version="1.0"?>
<!-- Written by the projector for a tenant's dashboard reader; removed when the reader is revoked. -->
<yandex>
    <users>
        <${user}>
            <password_sha256_hex>${passwordSha256}</password_sha256_hex>
            <networks><ip>::/0</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
            <allow_databases><database>${database}</database></allow_databases>
        </${user}>
    </users>
</yandex>
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
