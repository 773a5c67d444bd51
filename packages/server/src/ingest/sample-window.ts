/**
 * Which sample times ingest believes (ARCHITECTURE.md §2: "Ingest refuses samples whose time is
 * implausible"). A sample stamped far in the future would pin a point's latest value and, before
 * this check, blinded its alarms; one stamped before the window cannot be a reading a guardian
 * still holds in its outbox.
 */
import type { Sample } from '@shellguard/protocol';
import type { IngestLimits } from '../config/config.ts';

export type SampleTimeVerdict = 'ok' | 'sample_in_future' | 'sample_too_old';

export interface WindowCheck {
  verdict: SampleTimeVerdict;
  /** Samples outside the window, by reason. */
  future: number;
  tooOld: number;
  /** The first offending sample's time, for the log. */
  firstTs?: number;
}

/** Checks every sample of a batch against [now - maxAge, now + maxFutureSkew]. */
export function checkSampleTimes(samples: readonly Sample[], now: number, limits: IngestLimits): WindowCheck {
  const latest = now + limits.maxFutureSkewMs;
  const earliest = now - limits.maxAgeMs;
  let future = 0;
  let tooOld = 0;
  let firstTs: number | undefined;
  for (const s of samples) {
    if (s.ts > latest) future++;
    else if (s.ts < earliest) tooOld++;
    else continue;
    firstTs ??= s.ts;
  }
  const verdict: SampleTimeVerdict = future > 0 ? 'sample_in_future' : tooOld > 0 ? 'sample_too_old' : 'ok';
  return firstTs === undefined ? { verdict, future, tooOld } : { verdict, future, tooOld, firstTs };
}
