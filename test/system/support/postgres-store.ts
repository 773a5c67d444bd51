/**
 * Looking into the server's PostgreSQL database from outside the replicas: the batches stored,
 * every stored sample (raw rows and sealed chunks, read in one snapshot so compaction moving rows
 * into chunks meanwhile cannot hide or double any), and the alarms with their history.
 * Table names: telemetry/layout.ts (POSTGRES_LAYOUT) and alarms/alarm-schema.ts.
 */
import pg from 'pg';
import { decodeChunk } from '@shellguard/server/testing';

export interface StoredBatchRow {
  deviceId: string;
  epoch: string;
  seq: number;
  samples: number;
  storedAt: number;
}

export interface StoredSample {
  site: string;
  asset: string;
  point: string;
  ts: number;
  value: number | null;
  quality: number;
}

export interface StoredAlarm {
  id: number;
  key: string;
  /** The rule's kind, or `flood` for a site's flood summary alarm. */
  kind: string;
  site: string;
  asset: string;
  point: string;
  ruleId: string;
  level: string | null;
  active: boolean;
}

export interface StoredAlarmEvent {
  seq: number;
  alarmId: number;
  at: number;
  kind: string;
  value: unknown;
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export async function readBatchRows(url: string): Promise<StoredBatchRow[]> {
  return withClient(url, async (client) => {
    const r = await client.query<{ device_id: string; epoch: string; seq: string; samples: number; stored_at: string }>(
      'SELECT device_id, epoch, seq, samples, stored_at FROM batch_rows ORDER BY device_id, seq');
    return r.rows.map((row) => ({ deviceId: row.device_id, epoch: row.epoch, seq: Number(row.seq), samples: row.samples, storedAt: Number(row.stored_at) }));
  });
}

/** Batches stored per device id (cheap enough to poll). */
export async function countBatchesByDevice(url: string): Promise<Map<string, number>> {
  return withClient(url, async (client) => {
    const r = await client.query<{ device_id: string; n: string }>('SELECT device_id, count(*) AS n FROM batch_rows GROUP BY device_id');
    return new Map(r.rows.map((row) => [row.device_id, Number(row.n)]));
  });
}

/** Every stored sample, raw rows and chunks, in one REPEATABLE READ snapshot. */
export async function readStoredSamples(url: string): Promise<StoredSample[]> {
  return withClient(url, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const series = new Map<number, { site: string; asset: string; point: string }>();
      for (const s of (await client.query<{ id: string; site: string; asset: string; point: string }>('SELECT id, site, asset, point FROM series')).rows) {
        series.set(Number(s.id), { site: s.site, asset: s.asset, point: s.point });
      }
      const out: StoredSample[] = [];
      const named = (pointId: number) => {
        const s = series.get(pointId);
        if (!s) throw new Error(`a sample of point ${pointId}, which is in no series`);
        return s;
      };
      const raw = await client.query<{ point_id: string; ts: string; value: number | null; quality: number }>('SELECT point_id, ts, value, quality FROM samples');
      for (const r of raw.rows) out.push({ ...named(Number(r.point_id)), ts: Number(r.ts), value: r.value, quality: r.quality });
      const chunks = await client.query<{ point_id: string; count: number; data: Buffer }>('SELECT point_id, count, data FROM chunks');
      for (const c of chunks.rows) {
        const s = named(Number(c.point_id));
        const cols = decodeChunk(c.data);
        if (cols.count !== c.count) throw new Error(`a chunk of point ${c.point_id} says ${c.count} samples and holds ${cols.count}`);
        for (let i = 0; i < cols.count; i++) {
          const v = cols.value[i]!;
          out.push({ ...s, ts: cols.ts[i]!, value: Number.isNaN(v) ? null : v, quality: cols.quality[i]! });
        }
      }
      return out;
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

export async function readAlarms(url: string): Promise<{ alarms: StoredAlarm[]; events: StoredAlarmEvent[] }> {
  return withClient(url, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const alarms = (await client.query<{ id: string; key: string; record: string }>('SELECT id, key, record FROM alarms ORDER BY id')).rows.map((r) => {
        const a = JSON.parse(r.record) as Omit<StoredAlarm, 'id' | 'key'>;
        return { id: Number(r.id), key: r.key, kind: a.kind, site: a.site, asset: a.asset, point: a.point, ruleId: a.ruleId, level: a.level, active: a.active };
      });
      const events = (await client.query<{ seq: string; alarm_id: string; at: string; kind: string; value: string }>(
        'SELECT seq, alarm_id, at, kind, value FROM alarm_events ORDER BY seq')).rows.map((r) => ({
        seq: Number(r.seq), alarmId: Number(r.alarm_id), at: Number(r.at), kind: r.kind, value: JSON.parse(r.value) as unknown,
      }));
      return { alarms, events };
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/**
 * The stored batches whose alarm evaluation has committed, as `device/epoch/seq`: the active
 * replica records each bus message's id with its alarm effects (alarm_handled_messages), so a
 * redelivered batch is evaluated once.
 */
export async function readEvaluatedBatches(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const r = await client.query<{ id: string }>("SELECT id FROM alarm_handled_messages WHERE id LIKE 'batch:%'");
    return r.rows.map((row) => {
      const m = /^batch:([^:]+):([^:]+):(\d+)$/.exec(row.id);
      if (!m) throw new Error(`a handled message id of unknown form: ${row.id}`);
      return `${m[1]}/${m[2]}/${m[3]}`;
    });
  });
}
