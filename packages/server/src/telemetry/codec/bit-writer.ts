/**
 * Most-significant-bit-first bit output over a growable byte buffer, for the chunk codec.
 *
 * Bits collect in one 32-bit accumulator and leave as whole big-endian words, so the hot path is a
 * shift, an OR and (every 32 bits) four byte stores — no allocation per call. JavaScript's bitwise
 * operators work on 32 bits, so `writeBits` takes at most 32 bits; `writeWide` takes up to 53 (any
 * non-negative safe integer) and splits it with arithmetic, never with shifts.
 */

const TWO_32 = 2 ** 32;

/** MASK[n] keeps the low n bits (n = 0..32); `(1 << 32) - 1` would be 0 in JavaScript. */
const MASK = new Int32Array(33);
for (let n = 1; n <= 32; n++) MASK[n] = n === 32 ? -1 : (1 << n) - 1;

export class BitWriter {
  private buf: Uint8Array;
  /** Bytes of whole words already in `buf`; always a multiple of 4. */
  private wordBytes = 0;
  /** The `pending` most recent bits, right-aligned. */
  private acc = 0;
  private pending = 0;

  constructor(initialBytes = 4096) {
    this.buf = new Uint8Array(Math.max(8, initialBytes + 3) & ~3);
  }

  /** Bits written so far. */
  get bitLength(): number {
    return this.wordBytes * 8 + this.pending;
  }

  /** Starts over, keeping the buffer. */
  reset(): void {
    this.wordBytes = 0;
    this.acc = 0;
    this.pending = 0;
  }

  /** Writes the low `n` bits of `value` (0 ≤ n ≤ 32), most significant first. */
  writeBits(value: number, n: number): void {
    const v = value & MASK[n]!;
    const free = 32 - this.pending;
    if (n < free) {
      this.acc = (this.acc << n) | v;
      this.pending += n;
      return;
    }
    // Fill the accumulator up to a whole word (free ≥ 1, so `rest` ≤ 31), emit it, keep the rest.
    const rest = n - free;
    // When pending is 0, free is 32 and the shift by 32 is a no-op in JavaScript, but acc is 0.
    this.pushWord((this.acc << free) | (v >>> rest));
    this.acc = v & MASK[rest]!;
    this.pending = rest;
  }

  /** Writes a non-negative integer below 2^n in `n` bits, 0 ≤ n ≤ 53. */
  writeWide(value: number, n: number): void {
    if (n <= 32) {
      this.writeBits(value, n);
      return;
    }
    // value < 2^53, so the division is exact enough for floor() and `>>> 0` is value mod 2^32.
    this.writeBits(Math.floor(value / TWO_32), n - 32);
    this.writeBits(value >>> 0, 32);
  }

  /**
   * Goes back to an earlier `bitLength` (as if nothing after it had been written), so a caller can
   * try one encoding and fall back to another.
   */
  rewind(bitLength: number): void {
    if (bitLength > this.bitLength || bitLength < 0) throw new RangeError('BitWriter.rewind: beyond what was written');
    const wordBytes = (bitLength >>> 5) << 2;
    const pending = bitLength & 31;
    if (wordBytes === this.wordBytes) {
      // Still inside the accumulator: drop its newest bits.
      this.acc = pending === 0 ? 0 : (this.acc >>> (this.pending - pending)) & MASK[pending]!;
    } else {
      // That word has been emitted since: reload its leading bits from the buffer.
      const b = this.buf;
      const word = (b[wordBytes]! << 24) | (b[wordBytes + 1]! << 16) | (b[wordBytes + 2]! << 8) | b[wordBytes + 3]!;
      this.acc = pending === 0 ? 0 : word >>> (32 - pending);
    }
    this.wordBytes = wordBytes;
    this.pending = pending;
  }

  /**
   * Pads with zero bits to a whole byte and returns the bytes written. The view aliases the
   * writer's buffer: copy it before the writer is used again.
   */
  finish(): Uint8Array {
    let p = this.wordBytes;
    this.ensure(4);
    const b = this.buf;
    let bits = this.pending;
    // Left-align the pending bits in a 32-bit word, then store only the bytes they reach.
    const word = bits === 0 ? 0 : this.acc << (32 - bits);
    for (let shift = 24; bits > 0; shift -= 8, bits -= 8) b[p++] = word >>> shift;
    return b.subarray(0, p);
  }

  private pushWord(word: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.wordBytes;
    // Uint8Array stores keep the low 8 bits of each shifted value.
    b[p] = word >>> 24;
    b[p + 1] = word >>> 16;
    b[p + 2] = word >>> 8;
    b[p + 3] = word;
    this.wordBytes = p + 4;
  }

  private ensure(extra: number): void {
    if (this.wordBytes + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.wordBytes + extra));
    next.set(this.buf.subarray(0, this.wordBytes));
    this.buf = next;
  }
}
