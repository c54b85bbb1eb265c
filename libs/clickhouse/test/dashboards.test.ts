import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dashboardUserXml, DashboardUsersDir } from '../src';

const HASH = 'a'.repeat(64);

describe('dashboardUserXml', () => {
  it('grants the shared tables read-only, by password hash, with a row policy for the tenant', () => {
    const xml = dashboardUserXml('aispm_dash_01', HASH, 'aispm', 'acme-eu');
    expect(xml).toContain(`<password_sha256_hex>${HASH}</password_sha256_hex>`);
    expect(xml).toContain('<profile>readonly</profile>');
    expect(xml).toContain('<query>GRANT SELECT ON aispm.events</query>');
    expect(xml).toContain("<events><filter>tenant = 'acme-eu'</filter></events>");
    expect(xml).toContain("<health_evidence><filter>tenant = 'acme-eu'</filter></health_evidence>");
    expect(xml).not.toContain('system');
  });

  it.each([
    ['a user name that could break the XML', () => dashboardUserXml('x><admin', HASH, 'db', 'acme')],
    ['a hash that is not hex', () => dashboardUserXml('aispm_dash_01', 'z'.repeat(64), 'db', 'acme')],
    ['a database that is not an identifier', () => dashboardUserXml('aispm_dash_01', HASH, 'db</x>', 'acme')],
    ['a tenant that could widen the filter', () => dashboardUserXml('aispm_dash_01', HASH, 'db', "a' OR 1")],
  ])('refuses %s', (_what, build) => {
    expect(build).toThrow();
  });
});

describe('DashboardUsersDir', () => {
  it('writes a file once per content and removes it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'users-d-'));
    const users = new DashboardUsersDir(dir);
    const xml = dashboardUserXml('aispm_dash_01', HASH, 'db', 'acme');
    expect(users.write('aispm_dash_01', xml)).toBe(true);
    expect(users.write('aispm_dash_01', xml)).toBe(false);
    expect(readdirSync(dir)).toEqual(['aispm-dashboard-aispm_dash_01.xml']);
    expect(readFileSync(path.join(dir, 'aispm-dashboard-aispm_dash_01.xml'), 'utf8')).toBe(xml);
    users.remove('aispm_dash_01');
    expect(readdirSync(dir)).toEqual([]);
  });
});
