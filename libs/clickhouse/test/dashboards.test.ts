import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dashboardUserXml, DashboardUsersDir, tenantDatabase } from '../src';

const HASH = 'a'.repeat(64);

describe('tenantDatabase', () => {
  it('maps distinct slugs to distinct identifiers', () => {
    expect(tenantDatabase('aispm', 'acme-eu')).toBe('aispm__t_acme_eu');
    expect(tenantDatabase('aispm', 'acme-eu')).not.toBe(tenantDatabase('aispm', 'acmeeu'));
  });
});

describe('dashboardUserXml', () => {
  it('limits the user to one database, read-only, by password hash', () => {
    const xml = dashboardUserXml('aispm_dash_01', HASH, 'aispm__t_acme');
    expect(xml).toContain(`<password_sha256_hex>${HASH}</password_sha256_hex>`);
    expect(xml).toContain('<profile>readonly</profile>');
    expect(xml).toContain('<allow_databases><database>aispm__t_acme</database></allow_databases>');
  });

  it.each([
    ['a user name that could break the XML', () => dashboardUserXml('x><admin', HASH, 'db')],
    ['a hash that is not hex', () => dashboardUserXml('aispm_dash_01', 'z'.repeat(64), 'db')],
    ['a database that is not an identifier', () => dashboardUserXml('aispm_dash_01', HASH, 'db</database>')],
  ])('refuses %s', (_what, build) => {
    expect(build).toThrow();
  });
});

describe('DashboardUsersDir', () => {
  it('writes a file once per content and removes it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'users-d-'));
    const users = new DashboardUsersDir(dir);
    const xml = dashboardUserXml('aispm_dash_01', HASH, 'db');
    expect(users.write('aispm_dash_01', xml)).toBe(true);
    expect(users.write('aispm_dash_01', xml)).toBe(false);
    expect(readdirSync(dir)).toEqual(['aispm-dashboard-aispm_dash_01.xml']);
    expect(readFileSync(path.join(dir, 'aispm-dashboard-aispm_dash_01.xml'), 'utf8')).toBe(xml);
    users.remove('aispm_dash_01');
    expect(readdirSync(dir)).toEqual([]);
  });
});
