/**
 * Most-significant-bit-first bit input, the mirror of `BitWriter`.
 *
 * The reader works on its own copy of the bytes as big-endian 32-bit words followed by zero
 * padding, so `peek32` is two word loads and two shifts, without a bounds check per call. Reading
 * past the end therefore yields zero bits instead of throwing; callers compare `pos` with
 * `bitLimit` once per sample (each sample reads less than the padding), which is how a damaged
 * chunk is caught without slowing the loop.
 */

const TWO_32 = 2 ** 32;

/**
 * Zero words after the data: more than the most a decoder reads between two checks (a sample's
 * 77 bits, or a section header). Past them, typed-array reads are `undefined`, which the bitwise
 * operators also turn into zeros: safe, just slower.
 */
const PADDING_WORDS = 16;

export class BitReader {
  private words = new Int32Array(1024);
  /** Position of the next bit. */
  pos = 0;
  /** Bits of real data; positions at or beyond it read zeros. */
  bitLimit = 0;

  /** Starts reading `data[0..byteLength)` from bit 0 (copies it, reusing the buffer). */
  reset(data: Uint8Array, byteLength = data.length): void {
    const whole = byteLength >>> 2;
    const needed = whole + 1 + PADDING_WORDS;
    if (this.words.length < needed) this.words = new Int32Array(needed * 2);
    const words = this.words;
    for (let i = 0, b = 0; i < whole; i++, b += 4) words[i] = (data[b]! << 24) | (data[b + 1]! << 16) | (data[b + 2]! << 8) | data[b + 3]!;
    let tail = 0;
    for (let b = whole * 4, shift = 24; b < byteLength; b++, shift -= 8) tail |= data[b]! << shift;
    words[whole] = tail;
    words.fill(0, whole + 1, needed);
    this.pos = 0;
    this.bitLimit = byteLength * 8;
  }

  /** True once more bits have been consumed than the data holds. */
  get overrun(): boolean {
    return this.pos > this.bitLimit;
  }

  /** Bits left before `bitLimit` (negative after an overrun). */
  get remaining(): number {
    return this.bitLimit - this.pos;
  }

  /** The next 32 bits as an unsigned integer, without consuming them. */
  peek32(): number {
    const i = this.pos >>> 5;
    const o = this.pos & 31;
    const w = this.words[i]!;
    // A shift by 32 would be a no-op in JavaScript, hence the aligned case apart.
    return o === 0 ? w >>> 0 : ((w << o) | (this.words[i + 1]! >>> (32 - o))) >>> 0;
  }

  skip(n: number): void {
    this.pos += n;
  }

  /** Reads `n` bits (0 ≤ n ≤ 32) as an unsigned integer. */
  readBits(n: number): number {
    if (n === 0) return 0;
    const v = this.peek32() >>> (32 - n);
    this.pos += n;
    return v;
  }

  /** Reads `n` bits (0 ≤ n ≤ 53) as a non-negative integer. */
  readWide(n: number): number {
    if (n <= 32) return this.readBits(n);
    const hi = this.readBits(n - 32);
    return hi * TWO_32 + this.readBits(32);
  }
}
