/**
 * Encoding an export as JSON or CSV bytes, in pieces of bounded size, from columns. A day of one
 * point is 86,400 samples (3.5 MB of JSON), so this writes ASCII straight into byte buffers:
 * timestamps and qualities digit by digit, values through a small cache of their shortest form
 * (register-resolution plant values repeat a lot). It runs in a read worker, so the bytes leave
 * without touching ingest.
 */
import type { SampleColumns } from './codec/chunk-codec.ts';
import type { BucketColumns } from './series-reader.ts';
import type { PointRef, SeriesExport } from './telemetry-store.ts';

/** About this many bytes per piece handed to the HTTP edge. */
const PIECE_BYTES = 1024 * 1024;
/** Room past the piece size for one more row before the piece is cut. */
const SLACK = 4096;
const VALUE_CACHE_LIMIT = 8192;
const utf8 = new TextEncoder();

export type PointAnswer = { kind: 'raw'; columns: SampleColumns } | { kind: 'buckets'; columns: BucketColumns };

/** Bytes written into pieces; `take` hands over a full piece (each piece has its own ArrayBuffer, so a worker can transfer it). */
class ByteSink {
  private buf = new Uint8Array(PIECE_BYTES + SLACK);
  pos = 0;
  private readonly cache = new Map<number, string>();
  private readonly digits = new Uint8Array(24);

  full(): boolean {
    return this.pos >= PIECE_BYTES;
  }

  take(): Uint8Array {
    const piece = this.buf.slice(0, this.pos);
    this.pos = 0;
    return piece;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** ASCII text (every string written here is ASCII or already escaped). */
  ascii(s: string): void {
    this.room(s.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Any text, as UTF-8 (names may hold any character). */
  text(s: string): void {
    if (/^[\x00-\x7f]*$/.test(s)) {
      this.ascii(s);
      return;
    }
    const bytes = utf8.encode(s);
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Fixed bytes (the tokens of the formats). */
  bytes(t: Uint8Array): void {
    this.room(t.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < t.length; i++) b[p++] = t[i]!;
    this.pos = p;
  }

  /** A safe integer, digit by digit (the small ones, qualities and counts, from a table). */
  int(n: number): void {
    if (n >= 0 && n < SMALL_INTS.length && Number.isInteger(n)) {
      this.bytes(SMALL_INTS[n]!);
      return;
    }
    this.room(22);
    const b = this.buf;
    if (n < 0) {
      b[this.pos++] = 45; // '-'
      n = -n;
    }
    if (n < 10) {
      b[this.pos++] = 48 + n;
      return;
    }
    const d = this.digits;
    let k = 0;
    while (n > 0) {
      const q = Math.floor(n / 10);
      d[k++] = 48 + (n - q * 10);
      n = q;
    }
    let p = this.pos;
    while (k > 0) b[p++] = d[--k]!;
    this.pos = p;
  }

  private lastHigh = -1;
  private highDigits: Uint8Array = new Uint8Array(0);

  /**
   * A timestamp: epoch milliseconds share their leading digits for long stretches, so the part
   * above the sixth digit is formatted once and reused; the rest is six digits of 32-bit arithmetic.
   */
  time(n: number): void {
    if (!(n >= 1_000_000 && n < 9e15)) {
      this.int(n);
      return;
    }
    const high = Math.floor(n / 1_000_000);
    let low = n - high * 1_000_000;
    if (high !== this.lastHigh) {
      this.lastHigh = high;
      this.highDigits = utf8.encode(String(high));
    }
    this.bytes(this.highDigits);
    this.room(6);
    const b = this.buf;
    const p = this.pos;
    for (let k = 5; k >= 0; k--) {
      const q = (low / 10) | 0;
      b[p + k] = 48 + (low - q * 10);
      low = q;
    }
    this.pos = p + 6;
  }

  /** A finite double in its shortest form (JSON has no -0: it prints 0). */
  number(v: number): void {
    if (Number.isSafeInteger(v)) {
      this.int(v === 0 ? 0 : v);
      return;
    }
    let s = this.cache.get(v);
    if (s === undefined) {
      s = String(v);
      if (this.cache.size >= VALUE_CACHE_LIMIT) this.cache.clear();
      this.cache.set(v, s);
    }
    this.ascii(s);
  }
}

function jsonString(s: string): string {
  return JSON.stringify(s);
}

function pointJson(p: PointRef): string {
  return `{"id":${p.id},"site":${jsonString(p.site)},"asset":${jsonString(p.asset)},"name":${jsonString(p.point)}}`;
}

/** RFC 4180: quote a field that holds a comma, quote or line break. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function iso(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

const token = (s: string): Uint8Array => utf8.encode(s);
const SMALL_INTS: Uint8Array[] = Array.from({ length: 1024 }, (_, i) => token(String(i)));
const FIRST_TS = token('{"ts":');
const NEXT_TS = token(',{"ts":');
const VALUE = token(',"value":');
const QUALITY = token(',"quality":');
const NULL = token('null');
const CLOSE = token('}');
const COMMA = token(',');
const CRLF = token('\r\n');
const MIN = token(',"min":');
const AVG = token(',"avg":');
const MAX = token(',"max":');
const COUNT = token(',"count":');

/** One answer as JSON arrays: `"ts":[...],"value":[...],...` (no pieces are cut inside: a point's arrays are written whole). */
function writeColumns(out: ByteSink, a: PointAnswer): void {
  const c = a.columns;
  const n = c.count;
  const array = (name: string, write: (i: number) => void) => {
    out.ascii(`"${name}":[`);
    for (let i = 0; i < n; i++) {
      if (i > 0) out.bytes(COMMA);
      write(i);
    }
    out.ascii(']');
  };
  array('ts', (i) => out.time(c.ts[i]!));
  out.bytes(COMMA);
  if (a.kind === 'raw') {
    array('value', (i) => {
      const v = a.columns.value[i]!;
      if (Number.isNaN(v)) out.bytes(NULL);
      else out.number(v);
    });
    out.bytes(COMMA);
    array('quality', (i) => out.int(a.columns.quality[i]!));
  } else {
    const b = a.columns;
    array('min', (i) => out.number(b.min[i]!));
    out.bytes(COMMA);
    array('avg', (i) => out.number(b.sum[i]! / b.n[i]!));
    out.bytes(COMMA);
    array('max', (i) => out.number(b.max[i]!));
    out.bytes(COMMA);
    array('count', (i) => out.int(b.n[i]!));
  }
}

export const RAW_CSV_HEADER = 'point_id,site,asset,point,time,ts,value,quality\r\n';
export const BUCKET_CSV_HEADER = 'point_id,site,asset,point,time,ts,min,avg,max,count\r\n';

/** What the encoder yields when it reaches a point: the driver reads it and passes the answer back. */
interface PointWanted {
  wanted: PointRef;
}

/**
 * The pieces of an export. `answer(point)` reads one point (called once per point, in order),
 * so a long multi-point export holds only one point's answer at a time.
 */
export function* encodeExport(request: SeriesExport, answer: (point: PointRef) => PointAnswer): Generator<Uint8Array> {
  const steps = exportSteps(request);
  let step = steps.next();
  while (!step.done) {
    if (step.value instanceof Uint8Array) {
      yield step.value;
      step = steps.next();
    } else {
      step = steps.next(answer(step.value.wanted));
    }
  }
}

/** {@link encodeExport} for stores whose reads are asynchronous (PostgreSQL). */
export async function* encodeExportAsync(request: SeriesExport, answer: (point: PointRef) => Promise<PointAnswer>): AsyncGenerator<Uint8Array> {
  const steps = exportSteps(request);
  let step = steps.next();
  while (!step.done) {
    if (step.value instanceof Uint8Array) {
      yield step.value;
      step = steps.next();
    } else {
      step = steps.next(await answer(step.value.wanted));
    }
  }
}

/** The encoder: yields pieces, and a PointWanted where it needs a point's answer (sent back by `next`). */
function* exportSteps(request: SeriesExport): Generator<Uint8Array | PointWanted, void, PointAnswer | undefined> {
  const answer = function* (point: PointRef): Generator<PointWanted, PointAnswer, PointAnswer | undefined> {
    return (yield { wanted: point })!;
  };
  const out = new ByteSink();
  const buckets = request.bucketMs !== undefined;
  if (request.format === 'csv') {
    out.ascii(buckets ? BUCKET_CSV_HEADER : RAW_CSV_HEADER);
    for (const point of request.points) {
      const prefix = `${point.id},${csvField(point.site)},${csvField(point.asset)},${csvField(point.point)},`;
      const a = yield* answer(point);
      const c = a.columns;
      for (let i = 0; i < c.count; i++) {
        const ts = c.ts[i]!;
        out.text(prefix);
        out.ascii(iso(ts));
        out.bytes(COMMA);
        out.time(ts);
        out.bytes(COMMA);
        if (a.kind === 'raw') {
          const v = a.columns.value[i]!;
          if (!Number.isNaN(v)) out.number(v);
          out.bytes(COMMA);
          out.int(a.columns.quality[i]!);
        } else {
          const b = a.columns;
          out.number(b.min[i]!);
          out.bytes(COMMA);
          out.number(b.sum[i]! / b.n[i]!);
          out.bytes(COMMA);
          out.number(b.max[i]!);
          out.bytes(COMMA);
          out.int(b.n[i]!);
        }
        out.bytes(CRLF);
        if (out.full()) yield out.take();
      }
    }
    if (out.pos > 0) yield out.take();
    return;
  }

  const single = request.shape === 'single';
  const range = `"from":${request.from},"to":${request.to}${buckets ? `,"bucketMs":${request.bucketMs}` : ''}`;
  if (!single) out.ascii(`{${range},"series":[`);
  let first = true;
  for (const point of request.points) {
    if (!single && !first) out.ascii(',');
    first = false;
    out.text(single ? `{"point":${pointJson(point)},${range},` : `{"point":${pointJson(point)},`);
    const a = yield* answer(point);
    if (request.layout === 'columns') {
      writeColumns(out, a);
    } else if (a.kind === 'raw') {
      out.ascii('"samples":[');
      const c = a.columns;
      for (let i = 0; i < c.count; i++) {
        out.bytes(i === 0 ? FIRST_TS : NEXT_TS);
        out.time(c.ts[i]!);
        out.bytes(VALUE);
        const v = c.value[i]!;
        if (Number.isNaN(v)) out.bytes(NULL);
        else out.number(v);
        out.bytes(QUALITY);
        out.int(c.quality[i]!);
        out.bytes(CLOSE);
        if (out.full()) yield out.take();
      }
    } else {
      out.ascii('"buckets":[');
      const c = a.columns;
      for (let i = 0; i < c.count; i++) {
        out.bytes(i === 0 ? FIRST_TS : NEXT_TS);
        out.time(c.ts[i]!);
        out.bytes(MIN);
        out.number(c.min[i]!);
        out.bytes(AVG);
        out.number(c.sum[i]! / c.n[i]!);
        out.bytes(MAX);
        out.number(c.max[i]!);
        out.bytes(COUNT);
        out.int(c.n[i]!);
        out.bytes(CLOSE);
        if (out.full()) yield out.take();
      }
    }
    out.ascii(request.layout === 'columns' ? '}' : ']}');
    if (single) break;
  }
  if (!single) out.ascii(']}');
  if (out.pos > 0) yield out.take();
}
