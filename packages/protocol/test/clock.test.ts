import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY_MS, systemClock, type TimerHandle } from '../src/index.ts';
import { ManualClock } from '../src/testing/index.ts';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

describe('ManualClock', () => {
  it('stands still until moved, and can be read through a detached now', () => {
    const clock = new ManualClock(T0);
    const { now } = clock;
    expect(now()).toBe(T0);
    clock.advance(1_500);
    expect(now()).toBe(T0 + 1_500);
  });

  it('runs due timers soonest first, ties in the order scheduled, each at its own due time', () => {
    const clock = new ManualClock(T0);
    const ran: string[] = [];
    const at = (name: string) => () => ran.push(`${name}@${clock.now() - T0}`);
    clock.setTimeout(at('c'), 300);
    clock.setTimeout(at('a'), 100);
    clock.setTimeout(at('b1'), 200);
    clock.setTimeout(at('b2'), 200);
    clock.setTimeout(at('late'), 1_000);
    clock.advance(300);
    expect(ran).toEqual(['a@100', 'b1@200', 'b2@200', 'c@300']);
    expect(clock.now()).toBe(T0 + 300);
    expect(clock.dueTimes()).toEqual([T0 + 1_000]);
  });

  it('runs timers scheduled by timers when they fall due within the same move', () => {
    const clock = new ManualClock(T0);
    const ran: string[] = [];
    const chain = () => {
      ran.push(`chain@${clock.now() - T0}`);
      clock.setTimeout(chain, 40);
    };
    clock.setTimeout(chain, 40);
    clock.setTimeout(() => clock.setTimeout(() => ran.push(`zero@${clock.now() - T0}`), 0), 50);
    clock.advance(130);
    expect(ran).toEqual(['chain@40', 'zero@50', 'chain@80', 'chain@120']);
    expect(clock.dueTimes()).toEqual([T0 + 160]);
  });

  it('never runs a cleared timer, also when cleared by a timer due before it', () => {
    const clock = new ManualClock(T0);
    const ran: string[] = [];
    const doomed = clock.setTimeout(() => ran.push('doomed'), 200);
    clock.setTimeout(() => { ran.push('first'); clock.clearTimeout(doomed); }, 100);
    const never = clock.setTimeout(() => ran.push('never'), 50);
    clock.clearTimeout(never);
    clock.clearTimeout(undefined);
    clock.advance(1_000);
    expect(ran).toEqual(['first']);
    expect(clock.dueTimes()).toEqual([]);
  });

  it('repeats an interval from when it ran until it is cleared, from inside it too', () => {
    const clock = new ManualClock(T0);
    const ran: number[] = [];
    const handle: TimerHandle = clock.setInterval(() => {
      ran.push(clock.now() - T0);
      if (ran.length === 3) clock.clearInterval(handle);
    }, 250);
    clock.advance(10_000);
    expect(ran).toEqual([250, 500, 750]);
    expect(clock.dueTimes()).toEqual([]);
  });

  it('jumps with setTime without running anything; the next move runs what is overdue at once', () => {
    const clock = new ManualClock(T0);
    const ran: number[] = [];
    clock.setTimeout(() => ran.push(clock.now() - T0), 100);
    clock.setTime(T0 + 5_000);
    expect(ran).toEqual([]);
    clock.advance(0);
    expect(ran).toEqual([5_000]);
  });

  it('keeps track of which pending timers would keep a process alive', () => {
    const clock = new ManualClock(T0);
    const kept = clock.setTimeout(() => undefined, 10);
    const background = clock.setInterval(() => undefined, 10).unref();
    expect(kept.hasRef()).toBe(true);
    expect(background.hasRef()).toBe(false);
    expect(clock.refedTimers()).toBe(1);
    clock.clearTimeout(kept);
    expect(clock.refedTimers()).toBe(0);
  });

  it('with advanceAsync, lets the promises a timer starts settle before the next one is due', async () => {
    const clock = new ManualClock(T0);
    const ran: number[] = [];
    const work = async () => {
      await Promise.resolve();
      await new Promise<void>((resolve) => setImmediate(resolve));
      ran.push(clock.now() - T0);
      clock.setTimeout(() => void work(), 1_000);
    };
    clock.setTimeout(() => void work(), 1_000);
    await clock.advanceAsync(3_500);
    expect(ran).toEqual([1_000, 2_000, 3_000]);
    expect(clock.now()).toBe(T0 + 3_500);
  });

  it('refuses a delay Node would fire at once, and treats a negative or NaN delay as 0', () => {
    const clock = new ManualClock(T0);
    expect(() => clock.setTimeout(() => undefined, MAX_TIMER_DELAY_MS + 1)).toThrow(RangeError);
    const ran: number[] = [];
    clock.setTimeout(() => ran.push(1), -5);
    clock.setTimeout(() => ran.push(2), Number.NaN);
    clock.advance(0);
    expect(ran).toEqual([1, 2]);
  });
});

describe('systemClock', () => {
  it('reads the wall clock', () => {
    const before = Date.now();
    const t = systemClock.now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it('runs a timeout once, and not once cleared', async () => {
    const ran: string[] = [];
    const cleared = systemClock.setTimeout(() => ran.push('cleared'), 0);
    systemClock.clearTimeout(cleared);
    await new Promise<void>((resolve) => systemClock.setTimeout(() => { ran.push('ran'); resolve(); }, 1));
    expect(ran).toEqual(['ran']);
  });

  it('repeats an interval until cleared', async () => {
    let count = 0;
    await new Promise<void>((resolve) => {
      const handle = systemClock.setInterval(() => {
        if (++count === 3) { systemClock.clearInterval(handle); resolve(); }
      }, 1);
    });
    expect(count).toBe(3);
  });

  it('hands out timers that keep the process alive unless unref\'d', () => {
    const handle = systemClock.setTimeout(() => undefined, 60_000);
    try {
      expect(handle.hasRef()).toBe(true);
      expect(handle.unref()).toBe(handle);
      expect(handle.hasRef()).toBe(false);
    } finally {
      systemClock.clearTimeout(handle);
    }
  });

  it('lets a process exit while an unref\'d timer is pending', async () => {
    const clockModule = fileURLToPath(new URL('../src/clock.ts', import.meta.url));
    const script = `import { systemClock } from ${JSON.stringify(clockModule)};
      systemClock.setTimeout(() => { console.log('fired'); }, 600_000).unref();
      systemClock.setInterval(() => { console.log('fired'); }, 600_000).unref();
      console.log('done');`;
    // Rejects if the child fails; a child kept alive by the timers would outlast the test.
    const child = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('done');
  });
});
