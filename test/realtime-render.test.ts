// The Realtime stand-in renders common changes in JS (render.ts) and the rest in PostgreSQL as apply_rls does
// (decode.ts): both must give the same text, byte for byte, for real wal2json documents of many value shapes. And
// render.ts's one plain parse (reusing peekChange's) must give what a parse keeping every number's source text gives.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { Catalog } from '../src/devstack/realtime/catalog.js';
import { peekChange, WalDecoder, type WalChange } from '../src/devstack/realtime/decode.js';
import type { TableInfo } from '../src/devstack/realtime/catalog.js';
import { filterFast, renderFast, type FastChange, type RawValue } from '../src/devstack/realtime/render.js';
import { WAL2JSON_OPTIONS } from '../src/devstack/realtime/wal-stream.js';

describe('Realtime stand-in rendering: JS fast path against PostgreSQL', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const docs: WalChange[] = [];
  before(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2, options: '-c TimeZone=UTC' });
    pool.on('error', () => undefined);
    await db.pool.query(`create table notify.shapes (id int8 primary key, i int4, n numeric, b bool, t text,
        v varchar(10), u uuid, d date, ts timestamp, tz timestamptz, j jsonb, tags text[], big text);
      alter table notify.shapes replica identity full`);
    const slot = `render_${randomBytes(4).toString('hex')}`;
    const s = new pg.Client({ connectionString: db.url, options: '-c TimeZone=UTC -c DateStyle=ISO' });
    await s.connect();
    try {
      const { rows } = await s.query<{ p: string | null }>(
        `select setting as p from pg_settings where name = 'output_plugin_libraries'`,
      );
      if (rows[0]?.p !== undefined && rows[0].p !== null && !rows[0].p.includes('wal2json')) {
        await s.query(`set output_plugin_libraries = ${rows[0].p}, wal2json`);
      }
      await s.query(`select pg_create_logical_replication_slot($1, 'wal2json', true)`, [slot]);
      await db.pool.query(
        `insert into notify.shapes values
        (9007199254740993, -7, 12.50, true, E'quote" back\\\\ nl\\n tab\\t ctl\\x01 ünï ☃', 'short',
         'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2026-01-02', '2026-01-02 03:04:05', '2026-01-02 03:04:05.678901+02',
         '{"b": [1, 2.50, {"c": null}], "a": "x", "longer": true}', '{a,"b c",NULL,"","{q}","\\"x\\""}', $1),
        (2, null, null, null, null, null, null, null, null, null, null, '{}', null)`,
        [randomBytes(50_000).toString('hex')],
      );
      await db.pool.query(`update notify.shapes set i = 8, tz = '2026-06-01 00:00:00+00' where id = 9007199254740993`);
      await db.pool.query(`update notify.shapes set t = 'again'`);
      const opts = WAL2JSON_OPTIONS.flatMap(([k, v]) => [k, v]);
      const { rows: changes } = await s.query<{ lsn: string; data: string }>(
        `select lsn::text, data from pg_logical_slot_get_changes($1, null, null, ${opts
          .map((_, i) => `$${i + 2}`)
          .join(', ')}, 'actions', 'insert,update,delete')`,
        [slot, ...opts],
      );
      for (const c of changes) {
        const w = peekChange(c.data, 1n);
        if (w !== undefined && w.table === 'shapes') docs.push(w);
      }
    } finally {
      await s.end();
    }
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('gives the same record, old_record, commit_timestamp and filter row as PostgreSQL for every shape', async () => {
    const catalog = new Catalog(pool, 'supabase_realtime');
    const info = (await catalog.tableInfos([{ schema: 'notify', table: 'shapes' }])).get('notify.shapes');
    const decoder = new WalDecoder(pool, 1_048_576);
    assert.equal(docs.length, 5);
    let fast = 0;
    for (const c of docs) {
      const [inPostgres] = await decoder.decode([c]);
      const inJs = renderFast(c, info, 1_048_576);
      if (inJs === undefined) continue;
      fast += 1;
      for (const k of ['record', 'oldRecord', 'commitTimestamp', 'filterRow', 'tooLarge'] as const) {
        assert.equal(inJs[k], inPostgres![k], `${c.op} ${k}`);
      }
    }
    assert.equal(fast, docs.length, 'every one of these shapes has a JS rendering');
  });

  it('decides typed filters in JS as PostgreSQL does, or leaves them to it', async () => {
    const catalog = new Catalog(pool, 'supabase_realtime');
    const table = { schema: 'notify', table: 'shapes' };
    const info = (await catalog.tableInfos([table])).get('notify.shapes')!;
    const columns = new Map(info.columns.map((c) => [c.name, c]));
    const filters = [
      { column: 't', op: 'eq', value: 'again' },
      { column: 't', op: 'neq', value: 'again' },
      { column: 'id', op: 'gt', value: '9007199254740992' },
      { column: 'id', op: 'in', value: '{2,9007199254740993}' },
      { column: 'i', op: 'lte', value: '7' },
      { column: 'v', op: 'in', value: '{short,long}' },
      { column: 'nope', op: 'eq', value: 'x' },
    ] as const;
    for (const c of docs) {
      const inJs = renderFast(c, info, 1_048_576);
      if (inJs === undefined) continue;
      const [expected] = await catalog.evaluate(table, info, [inJs.filterRow ?? inJs.record], [...filters]);
      filters.forEach((f, j) => {
        const got = filterFast(inJs, columns.get(f.column), f);
        if (got !== undefined) assert.equal(got, expected![j], `${f.column} ${f.op} ${f.value}`);
      });
    }
  });
});

describe('Realtime stand-in rendering: one plain parse against the source-keeping parse', () => {
  const columns: Array<[string, string, number]> = [
    ['id', 'int8', 20],
    ['n', 'numeric', 1700],
    ['t', 'text', 25],
    ['j', 'jsonb', 3802],
    ['nul', 'text', 25],
    ['b', 'bool', 16],
    ['é', 'int4', 23],
    ['ab', 'text', 25],
    ['z', 'int2', 21],
    ['日', 'text', 25],
    ['tags', '_text', 1009],
    ['tz', 'timestamptz', 1184],
  ];
  const info: TableInfo = {
    columns: columns.map(([name, typname, typeoid]) => ({ name, typname, castType: typname, typeoid })),
    columnsJson: '[]',
    hasPrimaryKey: true,
    rlsEnabled: false,
  };
  const values = (id: number | string, n: number | string | null, t = 'héllo "q"', omit = ''): string =>
    [
      ['id', 20, id],
      ['n', 1700, n],
      ['t', 25, JSON.stringify(t)],
      ['j', 3802, JSON.stringify('{"a": 1, "bb": [1.50, null]}')],
      ['nul', 25, 'null'],
      ['b', 16, 'true'],
      ['é', 23, '7'],
      ['ab', 25, '"x"'],
      ['z', 21, '-3'],
      ['日', 25, '"y"'],
      ['tags', 1009, JSON.stringify('{a,"b c",NULL}')],
      ['tz', 1184, '"2026-01-02 03:04:05.678901+00"'],
    ]
      .filter(([name]) => name !== omit)
      .map(([name, typeoid, v]) => `{"name":${JSON.stringify(name)},"type":"x","typeoid":${typeoid},"value":${v}}`)
      .join(',');
  const doc = (action: 'I' | 'U', cols: string, identity?: string): string =>
    `{"action":"${action}","timestamp":"2026-01-02 03:04:05.1+00","schema":"notify","table":"mixed",` +
    `"columns":[${cols}]${identity === undefined ? '' : `,"identity":[${identity}]`},"pk":[{"name":"id"}]}`;
  const change = (text: string) => peekChange(text, 7n)!;
  const rendered = (c: FastChange | undefined) => {
    assert.ok(c !== undefined, 'rendered in JS');
    const { record, oldRecord, filterRow, commitTimestamp, tooLarge, op } = c;
    return { record, oldRecord, filterRow, commitTimestamp, tooLarge, op };
  };
  const docs = {
    numericAndBigInt8: doc('I', values('9007199254740993', '1.50')),
    safeIntegersOnly: doc('I', values(42, 'null')),
    updateRefilledFromIdentity: doc('U', values(42, 'null', 'new', 'j'), values(42, 'null')),
    updateWithNumericInIdentity: doc('U', values(42, 'null', 'new', 'j'), values(42, '12.50')),
  };

  it('keeps numeric 1.50 and int8 9007199254740993 digits, and orders non-ASCII keys by UTF-8 bytes', () => {
    assert.equal(
      renderFast(change(docs.numericAndBigInt8), info, 1_048_576)?.record,
      '{"b": true, "j": {"a": 1, "bb": [1.50, null]}, "n": 1.50, "t": "héllo \\"q\\"", "z": -3, "ab": "x", ' +
        '"id": 9007199254740993, "tz": "2026-01-02T03:04:05.678901+00:00", "é": 7, "nul": null, "日": "y", ' +
        '"tags": ["a", "b c", null]}',
    );
  });

  it("renders every value shape the same from peekChange's parse as from the source-keeping parse", () => {
    for (const [name, text] of Object.entries(docs)) {
      const c = change(text);
      assert.ok(c.parsed !== undefined, 'peekChange keeps its parse');
      const reviver = rendered(renderFast(c, info, 1_048_576, true));
      assert.deepEqual(rendered(renderFast(c, info, 1_048_576)), reviver, name);
      assert.deepEqual(rendered(renderFast({ ...c, parsed: undefined }, info, 1_048_576)), reviver, `${name} unparsed`);
    }
    const update = rendered(renderFast(change(docs.updateRefilledFromIdentity), info, 1_048_576));
    assert.match(update.record!, /"j": \{"a": 1, "bb": \[1\.50, null\]\}.*"t": "new"/);
    assert.match(update.filterRow!, /^\{"b": true, "n": null, "t": "new", /);
    assert.match(update.oldRecord!, /"t": "héllo/);
    assert.match(
      rendered(renderFast(change(docs.updateWithNumericInIdentity), info, 1_048_576)).oldRecord!,
      /"n": 12\.50/,
    );
  });

  it('compares integer filters on the source digits and leaves non-number integer values to PostgreSQL', () => {
    const c = renderFast(change(docs.numericAndBigInt8), info, 1_048_576)!;
    const column = (name: string) => info.columns.find((x) => x.name === name);
    assert.equal(filterFast(c, column('id'), { column: 'id', op: 'eq', value: '9007199254740993' }), true);
    assert.equal(filterFast(c, column('id'), { column: 'id', op: 'eq', value: '9007199254740992' }), false);
    assert.equal(filterFast(c, column('é'), { column: 'é', op: 'in', value: '{6,7}' }), true);
    assert.equal(filterFast(c, column('nul'), { column: 'nul', op: 'eq', value: 'x' }), false);
    const asText: RawValue = { name: 'é', typeoid: 23, value: '7' };
    const odd: FastChange = { ...c, filterValues: new Map([['é', asText]]) };
    assert.equal(filterFast(odd, column('é'), { column: 'é', op: 'eq', value: '7' }), undefined);
  });
});
