/**
 * SQLite has one writer, and the server keeps one connection to its file (ARCHITECTURE.md §5). Every
 * write on that connection — a kysely query or transaction, a telemetry batch — runs while holding
 * this lock, so an open transaction never has another domain's write slip into it between two of its
 * awaits (better-sqlite3 would turn that write into a savepoint of the open transaction, and a
 * rollback would take it along).
 */
export class SqliteWriteLock {
  private tail: Promise<void> = Promise.resolve();
  private held = false;

  /** True while someone holds the lock (for assertions and diagnostics only). */
  get isHeld(): boolean {
    return this.held;
  }

  /** Waits for the lock, FIFO; the returned function releases it (exactly once). */
  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => { release = resolve; });
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    this.held = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held = false;
      release();
    };
  }

  /** Runs `work` (synchronous or not) holding the lock. */
  async run<T>(work: () => T | Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }
}
