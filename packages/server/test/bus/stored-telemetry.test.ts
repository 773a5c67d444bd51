/**
 * What ingest hands to the bus in scale-out mode and the leader reads back (bus/stored-telemetry.ts):
 * the messages survive the trip, their ids are the store's identity of what they carry, one asset's
 * messages share a partition, and anything else is refused with an error saying what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { Quality, type AssetBirth } from '@shellguard/protocol';
import {
  batchMessageId, birthMessageId, decodeStoredTelemetry, encodeStoredTelemetry, evaluateSubjects, storedTelemetryLayout, subjectOf,
  type StoredTelemetryMessage,
} from '../../src/bus/stored-telemetry.ts';
import type { IncomingBatch } from '../../src/telemetry/telemetry-store.ts';

const T = 1_750_000_000_000;
const DEVICE = 'a'.repeat(64);

const batch: IncomingBatch = {
  deviceId: DEVICE, site: 'dc1', asset: 'AHU-1', epoch: 'Qm9vdHN0cmFwLWVwb2NoMQ', seq: 42,
  samples: [
    { point: 'supply_air_temp', ts: T, value: 18.25, quality: Quality.good },
    { point: 'fan_running', ts: T + 1, value: true, quality: Quality.good },
    { point: 'filter_dp', ts: T + 2, value: null, quality: Quality.bad },
    { point: 'setpoint', ts: T + 3, value: -0.5, quality: Quality.uncertain },
  ],
};

const birth: AssetBirth = {
  asset: 'AHU-1', name: 'AHU 1', type: 'ahu', area: 'hall-a', profile: 'ahu-standard',
  points: [{ name: 'supply_air_temp', unit: '°C', kind: 'analog', description: 'Supply air' }],
};

const text = (s: string) => new TextEncoder().encode(s);
const json = (doc: unknown) => text(JSON.stringify(doc));
/** A batch message's document with `change` applied to its batch. */
const batchDoc = (change: Record<string, unknown>) => ({ v: 1, kind: 'batch', batch: { ...batch, ...change } });

describe('stored-telemetry messages', () => {
  it('carry a batch there and back unchanged', () => {
    const message: StoredTelemetryMessage = { kind: 'batch', batch };
    expect(decodeStoredTelemetry(encodeStoredTelemetry(message))).toEqual(message);
  });

  it('carry a batch of no samples, and one of an epoch from before epochs', () => {
    for (const b of [{ ...batch, samples: [] }, { ...batch, epoch: '' }]) {
      expect(decodeStoredTelemetry(encodeStoredTelemetry({ kind: 'batch', batch: b }))).toEqual({ kind: 'batch', batch: b });
    }
  });

  it('carry an asset birth there and back unchanged', () => {
    const message: StoredTelemetryMessage = { kind: 'birth', deviceId: DEVICE, site: 'dc1', birth, at: T };
    expect(decodeStoredTelemetry(encodeStoredTelemetry(message))).toEqual(message);
  });

  it('are versioned JSON', () => {
    const doc = JSON.parse(new TextDecoder().decode(encodeStoredTelemetry({ kind: 'batch', batch }))) as Record<string, unknown>;
    expect(doc).toMatchObject({ v: 1, kind: 'batch' });
  });
});

describe('stored-telemetry message ids', () => {
  it('name a batch by the store\'s identity of it: device, queue epoch and sequence', () => {
    expect(batchMessageId(batch)).toBe(`batch:${DEVICE}:Qm9vdHN0cmFwLWVwb2NoMQ:42`);
    // A redelivery (other samples objects, same identity) is the same message.
    const redelivered: IncomingBatch = { ...batch, samples: [] };
    expect(batchMessageId(redelivered)).toBe(batchMessageId(batch));
    const others = [{ ...batch, seq: 43 }, { ...batch, epoch: 'other-epoch' }, { ...batch, deviceId: 'b'.repeat(64) }];
    expect(new Set([batch, ...others].map(batchMessageId)).size).toBe(4);
  });

  it('name a birth by device, site, asset and time', () => {
    expect(birthMessageId(DEVICE, 'dc1', 'AHU-1', T)).toBe(`birth:${DEVICE}:dc1:AHU-1:${T}`);
    expect(birthMessageId(DEVICE, 'dc1', 'AHU-1', T + 1)).not.toBe(birthMessageId(DEVICE, 'dc1', 'AHU-1', T));
    expect(birthMessageId(DEVICE, 'dc1', 'AHU-1', T)).not.toBe(batchMessageId({ deviceId: DEVICE, epoch: 'dc1', seq: 1 }));
  });
});

describe('stored-telemetry layout', () => {
  const layout = storedTelemetryLayout('SG', 8);

  it('names the stream, its partitions, its dead letters and the evaluating group from the prefix', () => {
    expect(layout).toMatchObject({
      partitions: 8, base: 'sg.stored', stream: { name: 'SG_STORED_TELEMETRY', subjects: ['sg.stored.>'] },
      deadLetters: { stream: 'SG_DEAD_LETTERS', subjectPrefix: 'sg-dead-letter' }, evaluateGroup: 'SG-evaluate',
    });
    expect(evaluateSubjects(layout)).toEqual(Array.from({ length: 8 }, (_, n) => `sg.stored.p${n}`));
  });

  it('puts every message of one asset on one of the evaluated partitions, always the same', () => {
    const subject = subjectOf(layout, 'dc1', 'AHU-1');
    expect(evaluateSubjects(layout)).toContain(subject);
    expect(subjectOf(storedTelemetryLayout('SG', 8), 'dc1', 'AHU-1')).toBe(subject);
    // Assets spread over the partitions.
    const used = new Set(Array.from({ length: 200 }, (_, i) => subjectOf(layout, 'dc1', `AHU-${i}`)));
    expect(used.size).toBe(8);
    for (const s of used) expect(evaluateSubjects(layout)).toContain(s);
  });

  it('keeps one partition for a single-partition bus', () => {
    const one = storedTelemetryLayout('SG', 1);
    expect(subjectOf(one, 'dc1', 'AHU-1')).toBe('sg.stored.p0');
    expect(subjectOf(one, 'dc2', 'GEN-9')).toBe('sg.stored.p0');
  });
});

describe('decodeStoredTelemetry refuses', () => {
  /** The decode error's message (decoding must throw an Error, never crash on the payload). */
  function refusal(payload: Uint8Array): string {
    try {
      decodeStoredTelemetry(payload);
    } catch (err) {
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(TypeError);
      return (err as Error).message;
    }
    throw new Error('decoded a message it should have refused');
  }

  it('a payload that is not JSON', () => {
    expect(refusal(text('not json'))).toBe('a stored-telemetry bus message that is not JSON');
    expect(refusal(new Uint8Array([0xff, 0xfe, 0x00]))).toMatch(/not JSON/);
    expect(refusal(new Uint8Array())).toMatch(/not JSON/);
    // Truncated on the way: every prefix of a real message is refused, never half-read.
    const whole = encodeStoredTelemetry({ kind: 'batch', batch });
    for (let n = 0; n < whole.length; n++) expect(refusal(whole.subarray(0, n))).toMatch(/not JSON/);
  });

  it('a message of another version, or of none', () => {
    expect(refusal(json({ ...batchDoc({}), v: 2 }))).toBe('a stored-telemetry bus message of version 2; this server reads version 1');
    expect(refusal(json({ ...batchDoc({}), v: '1' }))).toBe('a stored-telemetry bus message of version "1"; this server reads version 1');
    expect(refusal(json({ kind: 'batch', batch }))).toBe('a stored-telemetry bus message of version none; this server reads version 1');
    for (const doc of [null, 42, 'batch', [batchDoc({})]]) expect(refusal(json(doc))).toMatch(/of version none/);
  });

  it('a message of an unknown kind', () => {
    expect(refusal(json({ v: 1, kind: 'death', deviceId: DEVICE }))).toBe('a stored-telemetry bus message of unknown kind death');
    expect(refusal(json({ v: 1 }))).toMatch(/unknown kind undefined/);
  });

  it('a batch without a whole sequence number', () => {
    const { seq: _seq, ...withoutSeq } = batch;
    expect(refusal(json({ v: 1, kind: 'batch', batch: withoutSeq }))).toBe('a stored-telemetry batch message without device, site, asset, epoch, seq and valid samples');
    for (const seq of ['42', 1.5, null, -0.1, 2 ** 53]) expect(refusal(json(batchDoc({ seq })))).toMatch(/without device, site, asset, epoch, seq/);
  });

  it('a batch missing its device, site, asset, epoch or samples, or without a batch at all', () => {
    for (const field of ['deviceId', 'site', 'asset', 'epoch', 'samples']) {
      expect(refusal(json(batchDoc({ [field]: undefined })))).toMatch(/batch message without/);
      expect(refusal(json(batchDoc({ [field]: 7 })))).toMatch(/batch message without/);
    }
    expect(refusal(json({ v: 1, kind: 'batch' }))).toMatch(/batch message without/);
    expect(refusal(json({ v: 1, kind: 'batch', batch: null }))).toMatch(/batch message without/);
    expect(refusal(json({ v: 1, kind: 'batch', batch: 'AHU-1' }))).toMatch(/batch message without/);
  });

  it('a batch with a sample whose value or time is not a finite number', () => {
    // JSON has no Infinity or NaN, but a number too large for a double reads as Infinity.
    const encoded = new TextDecoder().decode(encodeStoredTelemetry({ kind: 'batch', batch }));
    expect(refusal(text(encoded.replace('"value":18.25', '"value":1e999')))).toMatch(/valid samples/);
    expect(refusal(text(encoded.replace('"value":-0.5', '"value":-1e999')))).toMatch(/valid samples/);
    expect(refusal(text(encoded.replace(`"ts":${T}`, '"ts":1e999')))).toMatch(/valid samples/);
  });

  it('a batch with a sample that is not one', () => {
    const good = batch.samples[0]!;
    for (const s of [null, 'x', { ...good, point: 3 }, { ...good, ts: '2025-01-01' }, { ...good, value: '18' }, { ...good, value: { n: 1 } }, { ...good, quality: 'good' }]) {
      expect(refusal(json(batchDoc({ samples: [good, s] })))).toMatch(/valid samples/);
    }
  });

  it('a birth without its device, site, time, or asset and profile', () => {
    const whole = { v: 1, kind: 'birth', deviceId: DEVICE, site: 'dc1', birth, at: T };
    expect(decodeStoredTelemetry(json(whole))).toMatchObject({ kind: 'birth', birth: { asset: 'AHU-1' } });
    const broken = [
      { ...whole, deviceId: undefined }, { ...whole, site: 1 }, { ...whole, at: String(T) }, { ...whole, birth: undefined },
      { ...whole, birth: null }, { ...whole, birth: 'AHU-1' }, { ...whole, birth: { ...birth, asset: undefined } }, { ...whole, birth: { ...birth, profile: 5 } },
    ];
    for (const doc of broken) expect(refusal(json(doc))).toBe('a stored-telemetry birth message without device, site, time and asset birth');
  });
});
