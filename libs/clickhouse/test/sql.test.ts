import { identifier, inList, joinSql, name, quoteString, sql, trusted } from '../src';
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

describe('sql', () => {
  it('sends every value as a typed parameter, never in the text', () => {
    const hostile = "x' OR 1=1 --";
    expect(sql`SELECT 1 WHERE t = ${hostile} AND n = ${3} AND f = ${0.5} AND b = ${true}`.render()).toEqual({
      query: 'SELECT 1 WHERE t = {p0:String} AND n = {p1:Int64} AND f = {p2:Float64} AND b = {p3:Bool}',
      params: { p0: hostile, p1: 3, p2: 0.5, p3: true },
    });
    expect(sql`${10n ** 18n} ${['a']} ${[1, 2]}`.render()).toEqual({
      query: '{p0:Int64} {p1:Array(String)} {p2:Array(Int64)}',
      params: { p0: '1000000000000000000', p1: ['a'], p2: [1, 2] },
    });
  });

  it('numbers the parameters of nested statements in order', () => {
    const where = joinSql([sql`a = ${'x'}`, sql`b IN ${inList(['y', 'z'])}`], ' AND ');
    expect(sql`SELECT * FROM ${name('db')}.t WHERE ${where} LIMIT ${5}`.render()).toEqual({
      query: 'SELECT * FROM db.t WHERE a = {p0:String} AND b IN {p1:Array(String)} LIMIT {p2:Int64}',
      params: { p0: 'x', p1: ['y', 'z'], p2: 5 },
    });
    expect(sql`${trusted('SELECT 1')}`.render()).toEqual({ query: 'SELECT 1', params: {} });
  });

  it('refuses what cannot be sent', () => {
    expect(() => sql`${Number.NaN}`.render()).toThrow(RangeError);
    expect(() => inList([])).toThrow(RangeError);
    expect(() => name('a;DROP')).toThrow(/not a valid ClickHouse identifier/);
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
