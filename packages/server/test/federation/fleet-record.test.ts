/**
 * What a site sends its centre (fleet-record.ts): the record survives the wire, its id is the
 * content (so the bus drops a copy of the same state), and anything else is refused with a clear
 * Error before it can reach the central store.
 */
import { describe, expect, it } from 'vitest';
import {
  FLEET_KINDS, decodeFleetRecord, encodeFleetRecord, fleetFlowSubject, fleetRecordId, fleetSubject, isFleetKind, type FleetRecord,
} from '../../src/federation/fleet-record.ts';

const T0 = 1_750_000_000_000;

const asset: FleetRecord = {
  site: 'site-a', kind: 'assets', key: 'dc1/AHU-1', version: T0,
  body: { site: 'dc1', id: 'AHU-1', name: 'Air handler 1', profile: 'ahu', area: null, nested: { points: ['sat', 'rat'] } },
};
const removal: FleetRecord = { site: 'site-a', kind: 'assets', key: 'dc1/AHU-1', version: T0 + 5_000, removed: true };

const bytes = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));
const wire = (record: FleetRecord): Record<string, unknown> => JSON.parse(new TextDecoder().decode(encodeFleetRecord(record))) as Record<string, unknown>;

describe('encodeFleetRecord / decodeFleetRecord', () => {
  it('round-trips a record with its body', () => {
    expect(decodeFleetRecord(encodeFleetRecord(asset))).toEqual(asset);
  });

  it('round-trips a removal, which carries no body', () => {
    const decoded = decodeFleetRecord(encodeFleetRecord(removal));
    expect(decoded).toEqual(removal);
    expect(decoded).not.toHaveProperty('body');
  });

  it('round-trips every kind', () => {
    for (const kind of FLEET_KINDS) {
      const record: FleetRecord = { site: 'b', kind, key: `k-${kind}`, version: T0, body: { n: 1 } };
      expect(decodeFleetRecord(encodeFleetRecord(record))).toEqual(record);
    }
  });

  it('marks the wire format as version 1', () => {
    expect(wire(asset).v).toBe(1);
  });

  it('drops a body sent along with a removal', () => {
    const doc = { ...wire(removal), body: { stale: true } };
    expect(decodeFleetRecord(bytes(doc))).toEqual(removal);
  });
});

describe('decodeFleetRecord refuses anything but a record', () => {
  const good = wire(asset);
  const without = (field: string): Record<string, unknown> => {
    const { [field]: _dropped, ...rest } = good;
    return rest;
  };

  it.each([
    ['not JSON', new TextEncoder().encode('{"v":1,'), /not JSON/],
    ['bytes that are not text', new Uint8Array([0xff, 0xfe, 0x00, 0x7b]), /not JSON/],
    ['JSON null', bytes(null), /version undefined/],
    ['a JSON number', bytes(42), /version undefined/],
    ['a JSON array', bytes([good]), /version undefined/],
    ['a wrong version', bytes({ ...good, v: 2 }), /version 2; this server reads version 1/],
    ['a version as a string', bytes({ ...good, v: '1' }), /version 1; this server reads version 1/],
    ['no wire version', bytes(without('v')), /version undefined/],
    ['no site', bytes(without('site')), /valid site id/],
    ['an upper-case site id', bytes({ ...good, site: 'Site-A' }), /valid site id/],
    ['a site id with a subject wildcard', bytes({ ...good, site: 'a.>' }), /valid site id/],
    ['a site id of 32 characters', bytes({ ...good, site: 'a'.repeat(32) }), /valid site id/],
    ['a site id starting with "-"', bytes({ ...good, site: '-a' }), /valid site id/],
    ['an unknown kind', bytes({ ...good, kind: 'secrets' }), /unknown kind secrets/],
    ['no kind', bytes(without('kind')), /unknown kind undefined/],
    ['an empty key', bytes({ ...good, key: '' }), /key of 1 to 1000 characters/],
    ['a key over 1000 characters', bytes({ ...good, key: 'k'.repeat(1001) }), /key of 1 to 1000 characters/],
    ['a key that is not a string', bytes({ ...good, key: 7 }), /key of 1 to 1000 characters/],
    ['no version', bytes(without('version')), /without a version/],
    ['a version as a string', bytes({ ...good, version: String(T0) }), /without a version/],
    ['no body', bytes(without('body')), /without a body/],
    ['a null body', bytes({ ...good, body: null }), /without a body/],
    ['a body that is a list', bytes({ ...good, body: [1, 2] }), /without a body/],
    ['a body that is a string', bytes({ ...good, body: 'x' }), /without a body/],
    ['removed: false without a body', bytes({ ...without('body'), removed: false }), /without a body/],
  ])('%s', (_case, payload, message) => {
    let thrown: unknown;
    try {
      decodeFleetRecord(payload);
    } catch (err) {
      thrown = err;
    }
    // A plain Error with a message, never a TypeError from reading into what is not there.
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).not.toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(/^a fleet record /);
    expect((thrown as Error).message).toMatch(message);
  });

  it('accepts keys of exactly 1 and 1000 characters and site ids of 1 and 31', () => {
    for (const key of ['k', 'k'.repeat(1000)]) expect(decodeFleetRecord(bytes({ ...good, key })).key).toBe(key);
    for (const site of ['a', `a${'-'.repeat(29)}z`]) expect(decodeFleetRecord(bytes({ ...good, site })).site).toBe(site);
  });
});

describe('fleetRecordId', () => {
  it('is the same for the same content', () => {
    expect(fleetRecordId(asset)).toBe(fleetRecordId({ ...asset, body: structuredClone(asset.body) }));
    expect(fleetRecordId(removal)).toBe(fleetRecordId({ ...removal }));
  });

  it('changes with the version: a state that comes back (A, B, A; removed, then back) is never taken for a copy', () => {
    expect(fleetRecordId({ ...asset, version: T0 + 60_000 })).not.toBe(fleetRecordId(asset));
    expect(fleetRecordId({ ...removal, version: T0 + 60_000 })).not.toBe(fleetRecordId(removal));
  });

  it('changes with the body, the key, the kind, and between a record and its removal', () => {
    const ids = new Set([
      fleetRecordId(asset),
      fleetRecordId({ ...asset, body: { ...asset.body, name: 'Air handler one' } }),
      fleetRecordId({ ...asset, body: {} }),
      fleetRecordId({ ...asset, key: 'dc1/AHU-2' }),
      fleetRecordId({ ...asset, kind: 'devices' }),
      fleetRecordId(removal),
      fleetRecordId({ ...removal, key: 'dc1/AHU-2' }),
    ]);
    expect(ids.size).toBe(7);
  });

  it('names the kind, and is short enough for a bus message id', () => {
    expect(fleetRecordId(asset)).toMatch(/^assets:[0-9a-f]{32}$/);
    expect(fleetRecordId({ ...removal, kind: 'alarms' })).toMatch(/^alarms:[0-9a-f]{32}$/);
  });
});

describe('fleet subjects', () => {
  it('puts the site and kind in the subject, and a site\'s flow under fleet.<site>.>', () => {
    expect(fleetSubject('site-a', 'alarms')).toBe('fleet.site-a.alarms');
    expect(fleetFlowSubject('site-a')).toBe('fleet.site-a.>');
  });

  it('knows exactly the five kinds', () => {
    expect([...FLEET_KINDS]).toEqual(['assets', 'alarms', 'devices', 'incidents', 'points']);
    expect(FLEET_KINDS.every((k) => isFleetKind(k))).toBe(true);
    for (const v of ['asset', 'ASSETS', '', null, undefined, 3, {}]) expect(isFleetKind(v)).toBe(false);
  });
});
