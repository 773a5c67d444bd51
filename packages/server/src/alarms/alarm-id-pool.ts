/**
 * Alarm ids reserved from the store in blocks (issue 12). The engine creates an alarm while it
 * evaluates a sample and must name it at once; the ids come from the database all the same, so
 * engines on one PostgreSQL never hand out the same id. A block is asked for before the last one
 * runs out; when ids run out anyway, `take` returns undefined and the engine creates the alarm
 * once the next block has arrived.
 */
export interface AlarmIdPoolOptions {
  reserve: (count: number) => Promise<number>;
  /** Ids per reservation (default 256). */
  blockSize?: number;
  /** A block arrived (alarms that waited for an id can be created now). */
  onReserved: () => void;
  /** A background reservation failed, for the `attempt`-th time in a row; the next need asks again. */
  onError: (err: unknown, attempt: number) => void;
}

export class AlarmIdPool {
  private readonly reserve: (count: number) => Promise<number>;
  private readonly blockSize: number;
  private readonly onReserved: () => void;
  private readonly onError: (err: unknown, attempt: number) => void;
  /** Reserved ranges not handed out yet: [next, end). */
  private readonly ranges: { next: number; end: number }[] = [];
  private left = 0;
  private inFlight: Promise<void> | undefined;
  private failures = 0;

  constructor(options: AlarmIdPoolOptions) {
    this.reserve = options.reserve;
    this.blockSize = Math.max(1, Math.trunc(options.blockSize ?? 256));
    this.onReserved = options.onReserved;
    this.onError = options.onError;
  }

  get available(): number {
    return this.left;
  }

  /** The next reserved id, or undefined when none is left (a reservation is then under way). */
  take(): number | undefined {
    const range = this.ranges[0];
    if (this.left <= this.blockSize / 4) this.refill();
    if (!range) return undefined;
    const id = range.next++;
    if (range.next >= range.end) this.ranges.shift();
    this.left--;
    return id;
  }

  /** Starts a reservation in the background unless one is under way. */
  refill(): void {
    if (this.inFlight) return;
    this.fill().catch((err: unknown) => this.onError(err, this.failures));
  }

  /** Reserves a block (or waits for the reservation under way); rejects when the store fails. */
  fill(): Promise<void> {
    this.inFlight ??= this.reserve(this.blockSize).then((first) => {
      this.inFlight = undefined;
      this.failures = 0;
      this.ranges.push({ next: first, end: first + this.blockSize });
      this.left += this.blockSize;
      try {
        this.onReserved();
      } catch {
        // The engine's own concern; the block is reserved either way.
      }
    }, (err: unknown) => {
      this.inFlight = undefined;
      this.failures++;
      throw err;
    });
    return this.inFlight;
  }

  /** Resolves once no reservation is under way. */
  async idle(): Promise<void> {
    await this.inFlight?.catch(() => {});
  }
}
