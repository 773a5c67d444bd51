import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Quality, decodeDeviceData, decodeNodeState, encodeDeviceData, encodeDeviceBirth, encodeNodeBirth, decodeDeviceBirth, ProtocolError,
  type Sample,
} from '../src/index.ts';

const opts = { sparkplugSeq: 3, now: 1_700_000_000_000 };

describe('Sparkplug DDATA batches', () => {
  it('round-trips samples, nulls and quality', () => {
    const samples: Sample[] = [
      { point: 'supply_air_temp', ts: 1_700_000_000_001, value: 18.25, quality: Quality.good },
      { point: 'door_open', ts: 1_700_000_000_002, value: true, quality: Quality.good },
      { point: 'fan_speed', ts: 1_700_000_000_003, value: null, quality: Quality.bad },
    ];
    const decoded = decodeDeviceData(encodeDeviceData({ epoch: 'q1', seq: 42 }, samples, opts));
    expect(decoded.seq).toBe(42);
    expect(decoded.epoch).toBe('q1');
    expect(decoded.sentAt).toBe(opts.now);
    expect(decoded.samples).toEqual(samples);
  });

  it('refuses a reading that is not a finite number, naming the batch', () => {
    for (const value of [NaN, Infinity, -Infinity]) {
      expect(() => decodeDeviceData(encodeDeviceData({ epoch: 'q', seq: 9 }, [{ point: 'sat', ts: 5, value, quality: Quality.good }], opts)))
        .toThrow(expect.objectContaining({ code: 'metric_value', details: expect.objectContaining({ seq: 9 }) }));
    }
  });

  it('reads a batch without a queue epoch (a guardian from before epochs) as the legacy epoch', () => {
    const d = decodeDeviceData(encodeDeviceData({ epoch: '', seq: 7 }, [{ point: 'sat', ts: 5, value: 1, quality: Quality.good }], opts));
    expect(d).toMatchObject({ epoch: '', seq: 7, samples: [{ point: 'sat' }] });
  });

  it('refuses an epoch that is not a queue epoch, naming the batch', () => {
    expect(() => encodeDeviceData({ epoch: 'a/b', seq: 1 }, [], opts)).toThrow(/queue epoch/);
  });

  it('announces the queue epoch in the node birth', () => {
    const state = decodeNodeState(encodeNodeBirth(3, '1.2.3', { ...opts, queueEpoch: 'abcDEF_-12' }));
    expect(state).toEqual({ bdSeq: 3, version: '1.2.3', queueEpoch: 'abcDEF_-12', sentAt: opts.now });
  });

  it('refuses a payload without the batch sequence metric', () => {
    const bytes = encodeDeviceBirth({ name: 'a', type: 'ahu', area: 'h1', profile: 'p', points: [] }, opts);
    expect(() => decodeDeviceData(bytes)).toThrow(ProtocolError);
  });

  it('decodes births with units and kinds', () => {
    const bytes = encodeDeviceBirth({
      name: 'AHU-1', type: 'ahu', area: 'hall-1', profile: 'ahu-generic',
      points: [{ name: 'sat', unit: 'degC', kind: 'analog', description: 'supply air' }],
    }, opts);
    const birth = decodeDeviceBirth(bytes, 'AHU-1');
    expect(birth).toMatchObject({ name: 'AHU-1', type: 'ahu', area: 'hall-1', points: [{ name: 'sat', unit: 'degC', kind: 'analog' }] });
  });

  it('never throws anything but ProtocolError on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        decodeDeviceData(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
      }
    }), { numRuns: 5000 });
  });

  it('round-trips any valid batch', () => {
    const sample = fc.record({
      point: fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/),
      ts: fc.integer({ min: 1, max: 2 ** 50 }),
      value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
      quality: fc.constantFrom(Quality.good, Quality.bad, Quality.uncertain),
    });
    const epoch = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
    fc.assert(fc.property(epoch, fc.nat({ max: 2 ** 40 }), fc.array(sample, { maxLength: 50 }), (e, seq, samples) => {
      const d = decodeDeviceData(encodeDeviceData({ epoch: e, seq }, samples, opts));
      expect(d.seq).toBe(seq);
      expect(d.epoch).toBe(e);
      expect(d.samples).toEqual(samples);
    }), { numRuns: 500 });
  });
});
