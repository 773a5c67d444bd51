/**
 * Who acknowledged an alarm last. The alarm itself does not say (only its history does), so the
 * console reads the history of acknowledged alarms near the top of the list, a few requests at a
 * time, and again after its own actions. A reading holds until the alarm changes again: an alarm's
 * `changedAt` moves with every history event, so it tells when a reading is out of date.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, isAbort } from '../../app/api-client.ts';
import type { Alarm, AlarmEvent } from '../../app/api-types.ts';
import { latestAcknowledgement } from './alarm-console.ts';

export interface AckReading {
  /** The alarm's `changedAt` when its history was read. */
  asOf: number;
  ack: AlarmEvent | null;
}

/** At most this many history requests at once, so a flood does not become a request storm. */
const CONCURRENT_READS = 4;

export interface Acknowledgements {
  byAlarm: ReadonlyMap<number, AckReading>;
  /** A history read elsewhere (the history panel), as of the alarm's `changedAt` then. */
  record(alarmId: number, asOf: number, events: readonly AlarmEvent[]): void;
  /** Reads the alarm's history now (after an action on it). */
  refresh(alarm: Alarm): void;
}

const historyPath = (alarmId: number) => `/alarms/${alarmId}/history`;

/** `candidates`: the acknowledged alarms worth naming an acknowledger for (the first rows on screen). */
export function useAcknowledgements(candidates: readonly Alarm[]): Acknowledgements {
  const [byAlarm, setByAlarm] = useState<ReadonlyMap<number, AckReading>>(() => new Map());
  const inFlight = useRef(new Set<string>());
  // Bumped when a read ends, so the next waiting alarm is read even if nothing else changed.
  const [finished, setFinished] = useState(0);
  const signal = useRef<AbortSignal | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    signal.current = controller.signal;
    const pending = inFlight.current;
    return () => {
      controller.abort();
      pending.clear();
    };
  }, []);

  const record = useCallback((alarmId: number, asOf: number, events: readonly AlarmEvent[]) => {
    setByAlarm((current) => {
      const known = current.get(alarmId);
      if (known && known.asOf > asOf) return current;
      const next = new Map(current);
      next.set(alarmId, { asOf, ack: latestAcknowledgement(events) ?? known?.ack ?? null });
      return next;
    });
  }, []);

  const read = useCallback((alarm: Alarm) => {
    const key = `${alarm.id}:${alarm.changedAt}`;
    if (inFlight.current.has(key) || !signal.current || signal.current.aborted) return;
    inFlight.current.add(key);
    api.get<{ events: AlarmEvent[] }>(historyPath(alarm.id), { signal: signal.current })
      .then(({ events }) => record(alarm.id, alarm.changedAt, events), (err: unknown) => {
        // Not retried until the alarm changes again: the row just does not name the acknowledger.
        if (!isAbort(err)) record(alarm.id, alarm.changedAt, []);
      })
      .finally(() => {
        inFlight.current.delete(key);
        setFinished((n) => n + 1);
      });
  }, [record]);

  const stale = useMemo(
    () => candidates.filter((a) => (byAlarm.get(a.id)?.asOf ?? -1) < a.changedAt),
    [candidates, byAlarm],
  );

  useEffect(() => {
    for (const alarm of stale) {
      if (inFlight.current.size >= CONCURRENT_READS) break;
      read(alarm);
    }
  }, [stale, read, finished]);

  return useMemo(() => ({ byAlarm, record, refresh: read }), [byAlarm, record, read]);
}
