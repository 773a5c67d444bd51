/** One server: it leads from the start (see leadership.ts). */
import type { Leadership, LeadershipHandlers } from './leadership.ts';

export class SoleLeadership implements Leadership {
  private handlers: LeadershipHandlers | undefined;
  private leading = false;
  private campaigning: Promise<void> | undefined;

  constructor(readonly replicaId: string) {}

  get isLeader(): boolean {
    return this.leading;
  }

  campaign(handlers: LeadershipHandlers): void {
    if (this.handlers) throw new Error('campaign() was called already');
    this.handlers = handlers;
    this.campaigning = handlers.onElected().then(() => {
      this.leading = true;
    }, (err: unknown) => handlers.onError?.(err));
  }

  async close(): Promise<void> {
    await this.campaigning;
    if (!this.leading) return;
    this.leading = false;
    await this.handlers?.onDeposed('closed');
  }
}
