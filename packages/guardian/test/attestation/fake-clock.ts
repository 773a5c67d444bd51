/** Fake time for timer-driven code: timers run only when the test moves the clock. */
export class FakeClock {
  private t: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start: number) {
    this.t = start;
  }

  now = (): number => this.t;

  setTimer = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };

  clearTimer = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Due times of pending timers, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Moves to `time`, firing due timers in order and letting the promises they start settle. */
  async advanceTo(time: number): Promise<void> {
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= time).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
      await settle();
    }
    this.t = Math.max(this.t, time);
  }

  /** Fires the next timer, whenever it is due. */
  async fireNext(): Promise<number> {
    const next = this.pending()[0];
    if (next === undefined) throw new Error('no timer pending');
    await this.advanceTo(next);
    return next;
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
