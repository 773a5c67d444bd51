import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ProtocolError, decodeBatchAck, encodeBatchAck, deviceMayPublish, deviceMaySubscribe, parseControlTopic,
  parseSparkplugTopic, sparkplugTopic, controlTopic,
} from '../src/index.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('batch ack decoding', () => {
  it('round-trips', () => {
    const ack = { stored: [1, 2, 3], rejected: [{ seq: 4, reason: 'metric_value' }] };
    expect(decodeBatchAck(encodeBatchAck(ack))).toEqual({ v: 1, ...ack });
  });

  it.each([
    ['not json', Buffer.from('{')],
    ['wrong version', Buffer.from('{"v":2,"stored":[],"rejected":[]}')],
    ['negative seq', Buffer.from('{"v":1,"stored":[-1],"rejected":[]}')],
    ['fractional seq', Buffer.from('{"v":1,"stored":[1.5],"rejected":[]}')],
    ['reason not a string', Buffer.from('{"v":1,"stored":[],"rejected":[{"seq":1,"reason":5}]}')],
    ['array root', Buffer.from('[]')],
  ])('refuses %s', (_name, bytes) => {
    expect(() => decodeBatchAck(bytes)).toThrow(ProtocolError);
  });

  it('never throws anything but ProtocolError on arbitrary input', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.json().map((j) => Buffer.from(j))), (bytes) => {
      try { decodeBatchAck(bytes); } catch (err) { expect(err).toBeInstanceOf(ProtocolError); }
    }), { numRuns: 3000 });
  });
});

describe('topics', () => {
  it('round-trips Sparkplug and control topics', () => {
    const t = { group: 'site-1', type: 'DDATA' as const, edge: A, device: 'AHU-01' };
    expect(parseSparkplugTopic(sparkplugTopic(t))).toEqual(t);
    expect(parseControlTopic(controlTopic(A, 'down', 'ack'))).toEqual({ deviceId: A, direction: 'down', kind: 'ack' });
  });

  it('parsers return undefined, never throw, on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
      parseSparkplugTopic(s);
      parseControlTopic(s);
      deviceMayPublish(A, s);
      deviceMaySubscribe(A, s);
    }), { numRuns: 3000 });
  });

  describe('device ACL', () => {
    it('lets a device publish its own Sparkplug data and up-control only', () => {
      expect(deviceMayPublish(A, `spBv1.0/site-1/DDATA/${A}/AHU-01`)).toBe(true);
      expect(deviceMayPublish(A, `spBv1.0/site-1/NBIRTH/${A}`)).toBe(true);
      expect(deviceMayPublish(A, `shellguard/v1/device/${A}/up/status`)).toBe(true);
    });

    it.each([
      [`spBv1.0/site-1/DDATA/${B}/AHU-01`, 'another device\'s data'],
      [`spBv1.0/site-1/NCMD/${A}`, 'a command (server to device only)'],
      [`shellguard/v1/device/${A}/down/ack`, 'its own down subtree (server only)'],
      [`shellguard/v1/device/${B}/up/status`, 'another device\'s control'],
      ['spBv1.0/site-1/DDATA/+/AHU-01', 'a wildcard'],
      ['random/topic', 'an unknown namespace'],
    ])('refuses a device publishing to %s (%s)', (topic) => {
      expect(deviceMayPublish(A, topic)).toBe(false);
    });

    it.each([
      '#', `shellguard/v1/device/${B}/down/#`, 'shellguard/v1/device/+/down/ack', `spBv1.0/site-1/DDATA/${B}/#`,
      `spBv1.0/site-1/NCMD/+`, `shellguard/v1/device/${A}/#`, `shellguard/v1/device/${A}/down/ack/#/x`,
    ])('refuses subscribing to %s', (filter) => {
      expect(deviceMaySubscribe(A, filter)).toBe(false);
    });

    it('allows subscribing to its own down subtree and commands', () => {
      expect(deviceMaySubscribe(A, `shellguard/v1/device/${A}/down/ack`)).toBe(true);
      expect(deviceMaySubscribe(A, `shellguard/v1/device/${A}/down/#`)).toBe(true);
      expect(deviceMaySubscribe(A, `spBv1.0/site-1/NCMD/${A}`)).toBe(true);
      expect(deviceMaySubscribe(A, `spBv1.0/+/DCMD/${A}/+`)).toBe(true);
    });
  });
});
