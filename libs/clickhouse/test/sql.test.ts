import { identifier, literal, quoteString, sql } from '../src';
import { loadMigrations } from '../src/migrations';

describe('quoteString', () => {
  it.each([
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\\\''"],
    ['line\nbreak\ttab\0nul', "'line\\x0abreak\\x09tab\\x00nul'"],
    ['ünïcødé 🙂', "'ünïcødé 🙂'"],
  ])('quotes %j', (input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });
});

describe('literal', () => {
  it('inlines numbers, booleans, null and arrays', () => {
    expect(literal(42)).toBe('42');
    expect(literal(10n ** 20n)).toBe('100000000000000000000');
    expect(literal(true)).toBe('1');
    expect(literal(null)).toBe('NULL');
    expect(literal(['a', "b'"])).toBe("['a', 'b\\'']");
  });

  it('refuses non-finite numbers', () => {
    expect(() => literal(Number.NaN)).toThrow(RangeError);
    expect(() => literal(Infinity)).toThrow(RangeError);
  });

  it('builds statements through the sql tag', () => {
    expect(sql`SELECT 1 WHERE t = ${"x' OR 1=1 --"} AND n = ${3}`).toBe(
      "SELECT 1 WHERE t = 'x\\' OR 1=1 --' AND n = 3",
    );
  });
});

describe('identifier', () => {
  it.each(['aispm', 'rebuild_2026', '_x'])('accepts %s', (name) => expect(identifier(name)).toBe(name));
  it.each(['', '1abc', 'a-b', 'a.b', 'a;DROP', 'a b', '`x`', 'x'.repeat(129)])('refuses %j', (name) => {
    expect(() => identifier(name)).toThrow(/not a valid ClickHouse identifier/);
  });
});

describe('migrations', () => {
  it('load in order, each with a down, with the database filled in', () => {
    const migrations = loadMigrations('rebuild_x');
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations.map((m) => m.version)).toEqual(
      [...migrations.map((m) => m.version)].sort((a, b) => a - b),
    );
    for (const migration of migrations) {
      expect(migration.up.length).toBeGreaterThan(0);
      expect(migration.down.length).toBeGreaterThan(0);
      for (const statement of [...migration.up, ...migration.down]) {
        expect(statement).not.toContain('{database}');
        expect(statement).toContain('rebuild_x.');
      }
    }
  });

  it('refuse an unsafe database name', () => {
    expect(() => loadMigrations('x; DROP')).toThrow(/identifier/);
  });
});
