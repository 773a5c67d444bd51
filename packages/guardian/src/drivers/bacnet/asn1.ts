/**
 * BACnet's tagged encoding (ASHRAE 135 clause 20.2): application and context tags and the
 * primitive values a read-only client sends and reads. Decoding is bounded: every malformed input
 * becomes a `bacnet_response_invalid` error, never another exception or a read past the end.
 */
import { BacnetError } from './errors.ts';

/** Application tag numbers (clause 20.2.1.4). */
export const AppTag = {
  null: 0, boolean: 1, unsigned: 2, signed: 3, real: 4, double: 5, octetString: 6, characterString: 7,
  bitString: 8, enumerated: 9, date: 10, time: 11, objectId: 12,
} as const;

export interface ObjectId { type: number; instance: number }

/** A decoded application-tagged value. */
export type AppValue =
  | { tag: typeof AppTag.null }
  | { tag: typeof AppTag.boolean; value: boolean }
  | { tag: typeof AppTag.unsigned | typeof AppTag.signed | typeof AppTag.real | typeof AppTag.double | typeof AppTag.enumerated; value: number }
  | { tag: typeof AppTag.bitString; bits: boolean[] }
  | { tag: typeof AppTag.objectId; value: ObjectId }
  | { tag: typeof AppTag.date | typeof AppTag.time | typeof AppTag.octetString | typeof AppTag.characterString; raw: Buffer };

export function malformed(message: string): BacnetError {
  return new BacnetError('bacnet_response_invalid', `malformed BACnet data: ${message}; the device sent an answer this driver cannot read (check its firmware, or report the capture)`);
}

// ------------------------------------------------------------------ encoding (requests only)

/** Builds the service data of a request, tag by tag. */
export class TagWriter {
  readonly #bytes: number[] = [];

  #header(tag: number, context: boolean, lvt: number): void {
    const cls = context ? 0x08 : 0;
    // Clause 20.2.1.1-3: tag numbers above 14 and lengths above 4 use extension octets.
    const first = (tag <= 14 ? tag << 4 : 0xf0) | cls | (lvt <= 4 ? lvt : 5);
    this.#bytes.push(first);
    if (tag > 14) this.#bytes.push(tag);
    if (lvt > 4) this.#bytes.push(lvt);
  }

  #unsignedBytes(n: number): number[] {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new BacnetError('bacnet_request_invalid', `${n} is not an unsigned 32-bit value`);
    if (n <= 0xff) return [n];
    if (n <= 0xffff) return [n >> 8, n & 0xff];
    if (n <= 0xffffff) return [n >> 16, (n >> 8) & 0xff, n & 0xff];
    return [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  }

  contextUnsigned(tag: number, n: number): this {
    const b = this.#unsignedBytes(n);
    this.#header(tag, true, b.length);
    this.#bytes.push(...b);
    return this;
  }

  /** Enumerated values encode like unsigned ones (clause 20.2.11). */
  contextEnumerated(tag: number, n: number): this { return this.contextUnsigned(tag, n); }

  contextBoolean(tag: number, v: boolean): this {
    this.#header(tag, true, 1);
    this.#bytes.push(v ? 1 : 0);
    return this;
  }

  /** Clause 20.2.14: object type in the top 10 bits, instance in the low 22. */
  contextObjectId(tag: number, id: ObjectId): this {
    // Checked as if untyped (a request reaches encodeRequest from anywhere): a missing object is invalid, not a TypeError.
    if (typeof id !== 'object' || id === null) throw new BacnetError('bacnet_request_invalid', 'a request needs an object identifier { type, instance }');
    if (!Number.isInteger(id.type) || id.type < 0 || id.type > 1023 || !Number.isInteger(id.instance) || id.instance < 0 || id.instance > 0x3fffff) {
      throw new BacnetError('bacnet_request_invalid', `object ${id.type}:${id.instance} is outside BACnet's ranges (type 0-1023, instance 0-4194303)`);
    }
    const v = ((id.type << 22) | id.instance) >>> 0;
    this.#header(tag, true, 4);
    this.#bytes.push((v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
    return this;
  }

  appUnsigned(n: number): this {
    const b = this.#unsignedBytes(n);
    this.#header(AppTag.unsigned, false, b.length);
    this.#bytes.push(...b);
    return this;
  }

  appSigned(n: number): this {
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new BacnetError('bacnet_request_invalid', `${n} is not a signed 32-bit value`);
    const len = n >= -0x80 && n <= 0x7f ? 1 : n >= -0x8000 && n <= 0x7fff ? 2 : n >= -0x800000 && n <= 0x7fffff ? 3 : 4;
    this.#header(AppTag.signed, false, len);
    for (let i = len - 1; i >= 0; i--) this.#bytes.push((n >> (8 * i)) & 0xff);
    return this;
  }

  opening(tag: number): this { this.#bytes.push(((tag & 0x0f) << 4) | 0x0e); return this; }
  closing(tag: number): this { this.#bytes.push(((tag & 0x0f) << 4) | 0x0f); return this; }

  toBuffer(): Buffer { return Buffer.from(this.#bytes); }
}

// ------------------------------------------------------------------ decoding

export interface Tag {
  number: number;
  context: boolean;
  opening: boolean;
  closing: boolean;
  /** Length of the content (for application booleans: the value). */
  lvt: number;
}

/** Reads tags and values from one buffer, bounds-checked. */
export class TagReader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = Math.min(end, buf.length);
  }

  get position(): number { return this.#pos; }
  get done(): boolean { return this.#pos >= this.#end; }

  #byte(): number {
    if (this.#pos >= this.#end) throw malformed('the data ends inside a tag');
    return this.#buf[this.#pos++]!;
  }

  #take(n: number): Buffer {
    if (n < 0 || this.#pos + n > this.#end) throw malformed(`a value of ${n} bytes runs past the end of the data`);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** The next tag, without consuming it. */
  peek(): Tag | undefined {
    if (this.done) return undefined;
    const save = this.#pos;
    try {
      return this.tag();
    } finally {
      this.#pos = save;
    }
  }

  tag(): Tag {
    const first = this.#byte();
    let number = first >> 4;
    const context = (first & 0x08) !== 0;
    if (number === 15) number = this.#byte();
    let lvt = first & 0x07;
    if (context && lvt === 6) return { number, context, opening: true, closing: false, lvt: 0 };
    if (context && lvt === 7) return { number, context, opening: false, closing: true, lvt: 0 };
    if (lvt === 5) {
      lvt = this.#byte();
      if (lvt === 254) lvt = this.#take(2).readUInt16BE(0);
      else if (lvt === 255) lvt = this.#take(4).readUInt32BE(0);
    }
    return { number, context, opening: false, closing: false, lvt };
  }

  /** True and consumed when the next tag is context `n`'s opening (or closing) tag. */
  isOpening(n: number): boolean { const t = this.peek(); return t !== undefined && t.opening && t.number === n; }
  isClosing(n: number): boolean { const t = this.peek(); return t !== undefined && t.closing && t.number === n; }
  isContext(n: number): boolean { const t = this.peek(); return t !== undefined && t.context && !t.opening && !t.closing && t.number === n; }

  expectOpening(n: number): void {
    const t = this.tag();
    if (!t.opening || t.number !== n) throw malformed(`expected opening tag [${n}]`);
  }

  expectClosing(n: number): void {
    const t = this.tag();
    if (!t.closing || t.number !== n) throw malformed(`expected closing tag [${n}]`);
  }

  #unsignedOf(len: number): number {
    if (len < 1 || len > 4) throw malformed(`an unsigned value of ${len} bytes (1-4 expected)`);
    return this.#take(len).readUIntBE(0, len);
  }

  contextUnsigned(n: number): number {
    const t = this.tag();
    if (!t.context || t.opening || t.closing || t.number !== n) throw malformed(`expected context tag [${n}]`);
    return this.#unsignedOf(t.lvt);
  }

  contextObjectId(n: number): ObjectId {
    const t = this.tag();
    if (!t.context || t.opening || t.closing || t.number !== n || t.lvt !== 4) throw malformed(`expected an object identifier in context tag [${n}]`);
    return objectIdOf(this.#take(4).readUInt32BE(0));
  }

  /** `n` content bytes, bounds-checked. */
  rawBytes(n: number): Buffer { return this.#take(n); }

  /** After an opening tag [n]: skips everything up to and including its closing tag. */
  skipUntilClosing(n: number): void {
    while (!this.isClosing(n)) {
      if (this.done) throw malformed(`missing closing tag [${n}]`);
      this.skip();
    }
    this.expectClosing(n);
  }

  /** Skips one element: a primitive tag and its content, or a constructed one to its closing tag. */
  skip(): void {
    const t = this.tag();
    if (t.closing) throw malformed(`an unexpected closing tag [${t.number}]`);
    if (t.opening) {
      let depth = 1;
      while (depth > 0) {
        const inner = this.tag();
        if (inner.opening) depth++;
        else if (inner.closing) depth--;
        else this.#take(contentLength(inner));
      }
      return;
    }
    this.#take(contentLength(t));
  }

  /** One application-tagged value (clause 20.2.2-20.2.14). */
  appValue(): AppValue {
    const t = this.tag();
    if (t.context || t.opening || t.closing) throw malformed(`expected an application-tagged value, got context tag [${t.number}]`);
    switch (t.number) {
      case AppTag.null: return { tag: AppTag.null };
      case AppTag.boolean:
        if (t.lvt > 1) throw malformed(`a boolean of value ${t.lvt}`);
        return { tag: AppTag.boolean, value: t.lvt === 1 };
      case AppTag.unsigned:
      case AppTag.enumerated:
        return { tag: t.number, value: this.#unsignedOf(t.lvt) };
      case AppTag.signed: {
        if (t.lvt < 1 || t.lvt > 4) throw malformed(`a signed value of ${t.lvt} bytes (1-4 expected)`);
        return { tag: AppTag.signed, value: this.#take(t.lvt).readIntBE(0, t.lvt) };
      }
      case AppTag.real:
        if (t.lvt !== 4) throw malformed(`a REAL of ${t.lvt} bytes (4 expected)`);
        return { tag: AppTag.real, value: this.#take(4).readFloatBE(0) };
      case AppTag.double:
        if (t.lvt !== 8) throw malformed(`a Double of ${t.lvt} bytes (8 expected)`);
        return { tag: AppTag.double, value: this.#take(8).readDoubleBE(0) };
      case AppTag.bitString: {
        if (t.lvt < 1) throw malformed('an empty bit string');
        const b = this.#take(t.lvt);
        const unused = b[0]!;
        if (unused > 7 || (t.lvt === 1 && unused !== 0)) throw malformed(`a bit string with ${unused} unused bits`);
        const bits: boolean[] = [];
        const count = (t.lvt - 1) * 8 - unused;
        // Clause 20.2.10: bit 0 is the most significant bit of the first octet after the count.
        for (let i = 0; i < count; i++) bits.push(((b[1 + (i >> 3)]! >> (7 - (i & 7))) & 1) === 1);
        return { tag: AppTag.bitString, bits };
      }
      case AppTag.objectId:
        if (t.lvt !== 4) throw malformed(`an object identifier of ${t.lvt} bytes (4 expected)`);
        return { tag: AppTag.objectId, value: objectIdOf(this.#take(4).readUInt32BE(0)) };
      case AppTag.date:
      case AppTag.time:
      case AppTag.octetString:
      case AppTag.characterString:
        return { tag: t.number, raw: this.#take(t.lvt) };
      default:
        throw malformed(`reserved application tag ${t.number}`);
    }
  }

  /** Application values up to (not including) the closing tag `n`. */
  valuesUntilClosing(n: number): AppValue[] {
    const out: AppValue[] = [];
    while (!this.isClosing(n)) {
      if (this.done) throw malformed(`missing closing tag [${n}]`);
      const t = this.peek()!;
      if (t.context) {
        this.skip(); // constructed property values (not read by this driver) are passed over
        continue;
      }
      out.push(this.appValue());
    }
    this.expectClosing(n);
    return out;
  }
}

function contentLength(t: Tag): number {
  // An application boolean carries its value in the tag itself (clause 20.2.3).
  return !t.context && t.number === AppTag.boolean ? 0 : t.lvt;
}

export function objectIdOf(v: number): ObjectId {
  return { type: v >>> 22, instance: v & 0x3fffff };
}
