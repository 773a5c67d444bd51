/**
 * Decoders of the service data a read-only client receives (ASHRAE 135 clauses 13, 15, 16):
 * ReadProperty-ACK, ReadPropertyMultiple-ACK, ReadRange-ACK, COV notifications and I-Am. Each
 * reads exactly its production and rejects trailing bytes; every failure is `bacnet_response_invalid`.
 */
import { AppTag, TagReader, malformed, type AppValue, type ObjectId } from './asn1.ts';

export interface PropertyResult {
  object: ObjectId;
  property: number;
  arrayIndex?: number;
  /** The value(s), or the device's per-property error. */
  values?: AppValue[];
  error?: { errorClass: number; errorCode: number };
}

function done(r: TagReader, what: string): void {
  if (!r.done) throw malformed(`trailing bytes after the ${what}`);
}

/** Clause 15.5.1.3: [0] object, [1] property, [2] index?, [3] value. */
export function decodeReadPropertyAck(data: Buffer): PropertyResult {
  const r = new TagReader(data);
  const object = r.contextObjectId(0);
  const property = r.contextUnsigned(1);
  const arrayIndex = r.isContext(2) ? r.contextUnsigned(2) : undefined;
  r.expectOpening(3);
  const values = r.valuesUntilClosing(3);
  done(r, 'ReadProperty-ACK');
  return { object, property, ...(arrayIndex === undefined ? {} : { arrayIndex }), values };
}

/** Clause 15.7.1.3: a list of ReadAccessResult, each a value [4] or an error [5] per property. */
export function decodeReadPropertyMultipleAck(data: Buffer): PropertyResult[] {
  const r = new TagReader(data);
  const out: PropertyResult[] = [];
  while (!r.done) {
    const object = r.contextObjectId(0);
    r.expectOpening(1);
    while (!r.isClosing(1)) {
      if (r.done) throw malformed('a ReadAccessResult without its closing tag [1]');
      const property = r.contextUnsigned(2);
      const arrayIndex = r.isContext(3) ? r.contextUnsigned(3) : undefined;
      const idx = arrayIndex === undefined ? {} : { arrayIndex };
      if (r.isOpening(4)) {
        r.expectOpening(4);
        out.push({ object, property, ...idx, values: r.valuesUntilClosing(4) });
      } else if (r.isOpening(5)) {
        r.expectOpening(5);
        const errorClass = enumOf(r.appValue());
        const errorCode = enumOf(r.appValue());
        r.expectClosing(5);
        out.push({ object, property, ...idx, error: { errorClass, errorCode } });
      } else {
        throw malformed('a property result that is neither a value [4] nor an error [5]');
      }
    }
    r.expectClosing(1);
  }
  if (out.length === 0) throw malformed('an empty ReadPropertyMultiple-ACK');
  return out;
}

function enumOf(v: AppValue): number {
  if (v.tag !== AppTag.enumerated) throw malformed('an error class or code that is not an enumeration');
  return v.value;
}

export interface LogRecord {
  /** Epoch ms of the record's timestamp, read as UTC; undefined when the date has wildcards. */
  ts?: number;
  /** REAL/unsigned/signed/enumerated/boolean datum; null for log-status, null and failure records. */
  value: number | boolean | null;
}

export interface ReadRangeAck {
  object: ObjectId;
  property: number;
  firstItem: boolean;
  lastItem: boolean;
  moreItems: boolean;
  records: LogRecord[];
}

/** Clause 15.8.1.3 with BACnetLogRecord (clause 21): timestamp [0], logDatum [1], statusFlags [2]?. */
export function decodeReadRangeAck(data: Buffer): ReadRangeAck {
  const r = new TagReader(data);
  const object = r.contextObjectId(0);
  const property = r.contextUnsigned(1);
  if (r.isContext(2)) r.contextUnsigned(2);
  // [3] resultFlags: a context-tagged bit string; read it as raw bits.
  const flagsTag = r.tag();
  if (!flagsTag.context || flagsTag.number !== 3 || flagsTag.lvt < 1 || flagsTag.lvt > 2) throw malformed('ReadRange resultFlags [3] missing');
  const raw: number[] = [];
  for (const byte of r.rawBytes(flagsTag.lvt)) raw.push(byte);
  const bits = raw[1] ?? 0;
  const itemCount = r.contextUnsigned(4);
  r.expectOpening(5);
  const records: LogRecord[] = [];
  while (!r.isClosing(5)) {
    if (r.done) throw malformed('ReadRange itemData without its closing tag [5]');
    records.push(logRecord(r));
  }
  r.expectClosing(5);
  if (r.isContext(6)) r.contextUnsigned(6);
  done(r, 'ReadRange-ACK');
  if (records.length !== itemCount) throw malformed(`ReadRange says ${itemCount} items but holds ${records.length}`);
  return { object, property, firstItem: (bits & 0x80) !== 0, lastItem: (bits & 0x40) !== 0, moreItems: (bits & 0x20) !== 0, records };
}

function logRecord(r: TagReader): LogRecord {
  r.expectOpening(0);
  const date = r.appValue();
  const time = r.appValue();
  r.expectClosing(0);
  if (date.tag !== AppTag.date || time.tag !== AppTag.time) throw malformed('a log record timestamp that is not a date and a time');
  r.expectOpening(1);
  const t = r.tag();
  let value: number | boolean | null = null;
  if (!t.context) throw malformed('a log datum that is not context-tagged');
  const content = t.opening ? Buffer.alloc(0) : r.rawBytes(t.lvt);
  switch (t.number) {
    case 1: value = content[0] === 1; break;
    case 2: if (content.length !== 4) throw malformed('a REAL log datum of the wrong length'); value = content.readFloatBE(0); break;
    case 3: case 4: if (content.length < 1 || content.length > 4) throw malformed('an integer log datum of a bad length'); value = content.readUIntBE(0, content.length); break;
    case 5: if (content.length < 1 || content.length > 4) throw malformed('a signed log datum of a bad length'); value = content.readIntBE(0, content.length); break;
    default:
      if (t.opening) { r.skipUntilClosing(t.number); }
      value = null;
  }
  r.expectClosing(1);
  if (r.isContext(2)) r.skip();
  return { ts: timestampOf(date.raw, time.raw), value };
}

function timestampOf(date: Buffer, time: Buffer): number | undefined {
  if (date.length !== 4 || time.length !== 4) return undefined;
  const [y, m, d] = [date[0]!, date[1]!, date[2]!];
  const [hh, mm, ss, cc] = [time[0]!, time[1]!, time[2]!, time[3]!];
  if (y === 255 || m > 12 || m === 0 || d === 0 || d > 31 || hh > 23 || mm > 59 || ss > 59) return undefined;
  return Date.UTC(1900 + y, m - 1, d, hh, mm, ss, cc === 255 ? 0 : cc * 10);
}

export interface CovNotification {
  processId: number;
  device: ObjectId;
  object: ObjectId;
  timeRemaining: number;
  values: { property: number; values: AppValue[] }[];
}

/** Clause 13.6/13.7: [0] process, [1] device, [2] object, [3] time remaining, [4] list of values. */
export function decodeCovNotification(data: Buffer): CovNotification {
  const r = new TagReader(data);
  const processId = r.contextUnsigned(0);
  const device = r.contextObjectId(1);
  const object = r.contextObjectId(2);
  const timeRemaining = r.contextUnsigned(3);
  r.expectOpening(4);
  const values: CovNotification['values'] = [];
  while (!r.isClosing(4)) {
    if (r.done) throw malformed('a COV list of values without its closing tag [4]');
    const property = r.contextUnsigned(0);
    if (r.isContext(1)) r.contextUnsigned(1);
    r.expectOpening(2);
    values.push({ property, values: r.valuesUntilClosing(2) });
    if (r.isContext(3)) r.contextUnsigned(3);
  }
  r.expectClosing(4);
  done(r, 'COV notification');
  return { processId, device, object, timeRemaining, values };
}

export interface IAm { deviceInstance: number; maxApdu: number; segmentation: 'both' | 'transmit' | 'receive' | 'none'; vendorId: number }
const SEGMENTATION = ['both', 'transmit', 'receive', 'none'] as const;

/** Clause 16.10.3: device object id, max APDU, segmentation supported, vendor id (application tags). */
export function decodeIAm(data: Buffer): IAm {
  const r = new TagReader(data);
  const id = r.appValue();
  const max = r.appValue();
  const seg = r.appValue();
  const vendor = r.appValue();
  done(r, 'I-Am');
  if (id.tag !== AppTag.objectId || id.value.type !== 8) throw malformed('an I-Am whose first value is not a device object id');
  if (max.tag !== AppTag.unsigned || seg.tag !== AppTag.enumerated || seg.value > 3 || vendor.tag !== AppTag.unsigned) throw malformed('an I-Am with bad max-APDU, segmentation or vendor fields');
  return { deviceInstance: id.value.instance, maxApdu: max.value, segmentation: SEGMENTATION[seg.value]!, vendorId: vendor.value };
}
