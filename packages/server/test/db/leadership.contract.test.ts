/**
 * The Leadership port (db/leadership.ts), run on both implementations where the contract applies —
 * one server that always leads, and the PostgreSQL advisory lock several replicas compete for —
 * then what only the lock does: one leader at a time, handing over when the leader closes, fails,
 * or loses its connection.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import type { DeposedReason, Leadership } from '../../src/db/leadership.ts';
import { PostgresLeadership, leadershipLockKey } from '../../src/db/postgres-leadership.ts';
import { SoleLeadership } from '../../src/db/sole-leadership.ts';
import { createTestDatabase, testPostgresUrl, type TestDatabase } from '../../src/testing/index.ts';

/** Generous: the machine is shared; these are upper bounds to wait, never durations asserted. */
const WAIT = { timeout: 20_000, interval: 20 };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One replica's campaign: what its handlers were told, in order. */
class Campaign {
  /** `elected`, `deposed:<reason>`, `error` in the order they happened. */
  readonly events: string[] = [];
  readonly errors: unknown[] = [];
  /** isLeader as each handler saw it when called. */
  readonly leaderWhenCalled: boolean[] = [];
  /** onElected rejects this many times before it succeeds. */
  private failures: number;

  constructor(readonly leadership: Leadership, options: { failElected?: number } = {}) {
    this.failures = options.failElected ?? 0;
  }

  start(): this {
    this.leadership.campaign({
      onElected: async () => {
        this.leaderWhenCalled.push(this.leadership.isLeader);
        await Promise.resolve();
        if (this.failures > 0) {
          this.failures--;
          this.events.push('elected-failed');
          throw new Error(`take-over of ${this.leadership.replicaId} failed`);
        }
        this.events.push('elected');
      },
      onDeposed: async (reason: DeposedReason) => {
        this.leaderWhenCalled.push(this.leadership.isLeader);
        this.events.push(`deposed:${reason}`);
        await Promise.resolve();
      },
      onError: (err) => {
        this.events.push('error');
        this.errors.push(err);
      },
    });
    return this;
  }

  count(event: string): number {
    return this.events.filter((e) => e === event).length;
  }
}

interface Implementation {
  name: string;
  /** Whether another replica can lead (SoleLeadership always leads alone). */
  competes: boolean;
  setUp(): Promise<void>;
  make(replicaId: string, name?: string): Leadership;
  tearDown(): Promise<void>;
}

let database: TestDatabase | undefined;
/** Every leadership made in a test, closed after it (before its database is dropped). */
let made: Leadership[] = [];

function remember<T extends Leadership>(l: T): T {
  made.push(l);
  return l;
}

function postgresLeadership(replicaId: string, name = 'shellguard-test'): PostgresLeadership {
  return remember(new PostgresLeadership({
    url: database!.location, name, replicaId, retryMs: 100, heartbeatMs: 100, heartbeatTimeoutMs: 5_000, takeoverDelayMs: 400,
  }));
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'SoleLeadership', competes: false,
    setUp: async () => {},
    make: (replicaId) => remember(new SoleLeadership(replicaId)),
    tearDown: async () => {},
  },
  {
    name: 'PostgresLeadership', competes: true,
    setUp: async () => { database = await createTestDatabase('postgres', 'leadership'); },
    make: (replicaId, name) => postgresLeadership(replicaId, name),
    tearDown: async () => {
      await database?.destroy();
      database = undefined;
    },
  },
];

async function closeAll(): Promise<void> {
  const all = made;
  made = [];
  for (const l of all) await l.close();
}

describe.each(IMPLEMENTATIONS)('Leadership contract ($name)', (impl) => {
  beforeEach(async () => { await impl.setUp(); });
  afterEach(async () => {
    await closeAll();
    await impl.tearDown();
  });

  it('names its replica and does not lead before it campaigns', async () => {
    const l = impl.make('replica-a');
    expect(l.replicaId).toBe('replica-a');
    expect(l.isLeader).toBe(false);
    await sleep(200);
    expect(l.isLeader).toBe(false);
  });

  it('elects a lone replica, and leads only once onElected has resolved', async () => {
    const c = new Campaign(impl.make('replica-a')).start();
    await vi.waitFor(() => expect(c.leadership.isLeader).toBe(true), WAIT);
    expect(c.events).toEqual(['elected']);
    // While it was taking over it did not lead yet.
    expect(c.leaderWhenCalled).toEqual([false]);
  });

  it('refuses a second campaign', async () => {
    const c = new Campaign(impl.make('replica-a')).start();
    expect(() => c.start()).toThrow(/campaign\(\) was called already/);
  });

  it('is deposed with reason closed when it closes while leading, once, and no longer leads', async () => {
    const c = new Campaign(impl.make('replica-a')).start();
    await vi.waitFor(() => expect(c.leadership.isLeader).toBe(true), WAIT);
    await c.leadership.close();
    expect(c.leadership.isLeader).toBe(false);
    expect(c.events).toEqual(['elected', 'deposed:closed']);
    // onDeposed saw a replica that had stopped leading.
    expect(c.leaderWhenCalled).toEqual([false, false]);
    await c.leadership.close();
    expect(c.events).toEqual(['elected', 'deposed:closed']);
  });

  it('closes without a campaign, telling nobody', async () => {
    const l = impl.make('replica-a');
    await l.close();
    expect(l.isLeader).toBe(false);
  });

  it('reports a failing onElected through onError, does not lead on it, and is not deposed of a lead it never had', async () => {
    const c = new Campaign(impl.make('replica-a'), { failElected: Number.POSITIVE_INFINITY }).start();
    await vi.waitFor(() => expect(c.errors.length).toBeGreaterThanOrEqual(1), WAIT);
    expect((c.errors[0] as Error).message).toBe('take-over of replica-a failed');
    expect(c.leadership.isLeader).toBe(false);
    await c.leadership.close();
    expect(c.events.filter((e) => e.startsWith('deposed'))).toEqual([]);
  });
});

describe('PostgresLeadership', () => {
  const impl = IMPLEMENTATIONS[1]!;
  beforeEach(async () => { await impl.setUp(); });
  afterEach(async () => {
    await closeAll();
    await impl.tearDown();
  });

  /** Waits until exactly one of `campaigns` leads; returns it and the others. */
  async function oneLeader(...campaigns: Campaign[]): Promise<{ leader: Campaign; others: Campaign[] }> {
    await vi.waitFor(() => expect(campaigns.filter((c) => c.leadership.isLeader)).toHaveLength(1), WAIT);
    const leader = campaigns.find((c) => c.leadership.isLeader)!;
    return { leader, others: campaigns.filter((c) => c !== leader) };
  }

  /** Ends the backend of `replicaId`'s lock connection from a third connection, as a DBA or a database failover would. */
  async function terminateBackendOf(replicaId: string): Promise<void> {
    await vi.waitFor(async () => {
      const r = await sql<{ terminated: boolean }>`SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
        WHERE application_name LIKE ${`shellguard-leadership%${replicaId}%`}`.execute(database!.database.db);
      expect(r.rows.some((row) => row.terminated)).toBe(true);
    }, WAIT);
  }

  it('derives one lock key per name: a signed 64-bit integer', () => {
    const key = leadershipLockKey('shellguard-server:SG');
    expect(key).toBe(leadershipLockKey('shellguard-server:SG'));
    expect(key).not.toBe(leadershipLockKey('shellguard-server:OTHER'));
    const n = BigInt(key);
    expect(n >= -(2n ** 63n) && n < 2n ** 63n).toBe(true);
  });

  it('lets one of two replicas of the same name lead at a time, never both', async () => {
    const a = new Campaign(postgresLeadership('replica-a')).start();
    const b = new Campaign(postgresLeadership('replica-b')).start();
    const { leader, others: [follower] } = await oneLeader(a, b);
    // Sampled for a while (many of the follower's retries and the leader's heartbeats).
    for (let i = 0; i < 100; i++) {
      expect([a.leadership.isLeader, b.leadership.isLeader].filter(Boolean)).toHaveLength(1);
      await sleep(25);
    }
    expect(leader.events).toEqual(['elected']);
    expect(follower!.events).toEqual([]);
  });

  it('lets replicas of different names lead at once', async () => {
    const a = new Campaign(postgresLeadership('replica-a', 'site-1')).start();
    const b = new Campaign(postgresLeadership('replica-b', 'site-2')).start();
    await vi.waitFor(() => {
      expect(a.leadership.isLeader).toBe(true);
      expect(b.leadership.isLeader).toBe(true);
    }, WAIT);
  });

  it('elects the other replica once the leader closes', async () => {
    const a = new Campaign(postgresLeadership('replica-a')).start();
    const b = new Campaign(postgresLeadership('replica-b')).start();
    const { leader, others: [follower] } = await oneLeader(a, b);
    await leader.leadership.close();
    expect(leader.events).toEqual(['elected', 'deposed:closed']);
    await vi.waitFor(() => expect(follower!.leadership.isLeader).toBe(true), WAIT);
    expect(follower!.events).toEqual(['elected']);
    expect(leader.leadership.isLeader).toBe(false);
  });

  it('deposes a leader whose connection is ended, elects the other, and elects the first again when that one closes', async () => {
    const a = new Campaign(postgresLeadership('replica-a')).start();
    await vi.waitFor(() => expect(a.leadership.isLeader).toBe(true), WAIT);
    const b = new Campaign(postgresLeadership('replica-b')).start();
    await sleep(300); // b tries (and fails) a few times
    expect(b.leadership.isLeader).toBe(false);

    // The database frees the lock at once; a notices on its next heartbeat and campaigns again
    // straight away, so now and then it wins the lock back before b's next try: then its
    // connection is ended again, until b leads.
    for (let attempt = 1; !b.leadership.isLeader; attempt++) {
      expect(attempt).toBeLessThanOrEqual(10);
      const lost = a.count('deposed:connection_lost');
      await terminateBackendOf('replica-a');
      await vi.waitFor(() => expect(a.count('deposed:connection_lost')).toBe(lost + 1), WAIT);
      await vi.waitFor(() => expect(a.leadership.isLeader || b.leadership.isLeader).toBe(true), WAIT);
    }
    expect(b.events).toEqual(['elected']);
    // Each lead of a ended with its connection, and nothing else.
    const aLeads = a.count('elected');
    expect(a.events).toEqual(Array.from({ length: aLeads }, () => ['elected', 'deposed:connection_lost']).flat());
    // a came back as a follower (a new connection), and the lock stays b's.
    await sleep(300);
    expect(a.leadership.isLeader).toBe(false);
    expect(a.count('elected')).toBe(aLeads);

    await b.leadership.close();
    await vi.waitFor(() => expect(a.leadership.isLeader).toBe(true), WAIT);
    expect(a.events.slice(-2)).toEqual(['deposed:connection_lost', 'elected']);
    expect(a.errors).toEqual([]);
  });

  it('gives the lock up when onElected fails, so another replica leads', async () => {
    const failing = new Campaign(postgresLeadership('replica-a'), { failElected: Number.POSITIVE_INFINITY }).start();
    await vi.waitFor(() => expect(failing.count('elected-failed')).toBeGreaterThanOrEqual(1), WAIT);
    const healthy = new Campaign(postgresLeadership('replica-b')).start();
    await vi.waitFor(() => expect(healthy.leadership.isLeader).toBe(true), WAIT);
    expect(failing.leadership.isLeader).toBe(false);
    expect(failing.errors.every((e) => (e as Error).message === 'take-over of replica-a failed')).toBe(true);
    expect(failing.count('error')).toBe(failing.count('elected-failed'));
    // Once the other leads, the failing replica is not offered the lead any more.
    const tries = failing.count('elected-failed');
    await sleep(400);
    expect(failing.count('elected-failed')).toBe(tries);
  });

  it('tries again after a failed take-over, and leads once it succeeds', async () => {
    const c = new Campaign(postgresLeadership('replica-a'), { failElected: 2 }).start();
    await vi.waitFor(() => expect(c.leadership.isLeader).toBe(true), WAIT);
    expect(c.events).toEqual(['elected-failed', 'error', 'elected-failed', 'error', 'elected']);
  });

  it('reports a database it cannot reach through onError and keeps trying, leading nothing', async () => {
    const url = testPostgresUrl('sg_no_such_database_for_leadership');
    const c = new Campaign(remember(new PostgresLeadership({ url, replicaId: 'replica-a', retryMs: 100 }))).start();
    await vi.waitFor(() => expect(c.errors.length).toBeGreaterThanOrEqual(2), WAIT);
    expect((c.errors[0] as Error).message).toMatch(/^leadership: /);
    expect(c.leadership.isLeader).toBe(false);
    expect(c.events.every((e) => e === 'error')).toBe(true);
  });
});
