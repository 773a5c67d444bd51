import { describe, expect, it } from 'vitest';
import { centralFleetStream, siteBusStreams, siteLeafRemote } from '../../src/bus/federation.ts';
import { filterCovers, filtersOverlap, partitionOf, partitionSubject, partitionSubjects, subjectMatches } from '../../src/bus/subjects.ts';

describe('bus subjects (NATS syntax)', () => {
  it('matches subjects against filters', () => {
    expect(subjectMatches('telemetry.>', 'telemetry.site-1.ahu-3')).toBe(true);
    expect(subjectMatches('telemetry.>', 'telemetry')).toBe(false);
    expect(subjectMatches('telemetry.*.ahu-3', 'telemetry.site-1.ahu-3')).toBe(true);
    expect(subjectMatches('telemetry.*', 'telemetry.site-1.ahu-3')).toBe(false);
  });

  it('tells when two filters share subjects, and when one covers the other', () => {
    expect(filtersOverlap('a.>', 'a.b')).toBe(true);
    expect(filtersOverlap('a.*.c', 'a.b.*')).toBe(true);
    expect(filtersOverlap('a.b', 'a.c')).toBe(false);
    expect(filtersOverlap('a.*', 'a.b.c')).toBe(false);
    expect(filterCovers('a.>', 'a.*.c')).toBe(true);
    expect(filterCovers('a.*', 'a.>')).toBe(false);
    expect(filterCovers('a.*.c', 'a.b.c')).toBe(true);
  });

  it('puts a key in the same partition every time, and spreads keys over partitions', () => {
    expect(partitionSubject('alarm.eval', 'AHU-3', 8)).toBe(partitionSubject('alarm.eval', 'AHU-3', 8));
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(`asset-${i}`, 8)));
    expect(used.size).toBe(8);
    expect(partitionSubjects('alarm.eval', 3)).toEqual(['alarm.eval.p0', 'alarm.eval.p1', 'alarm.eval.p2']);
    expect(() => partitionOf('x', 0)).toThrow(expect.objectContaining({ code: 'bus_bad_option' }));
  });
});

describe('federation configuration', () => {
  const layout = { site: 'lon-1', localSubjects: ['local.>'], flowSubjects: ['fleet.lon-1.alarm.>'] };

  it('keeps local and flowing subjects in separate streams', () => {
    expect(siteBusStreams(layout).map((s) => [s.name, s.subjects])).toEqual([['SG_BUS', ['local.>']], ['SG_EXPORT', ['fleet.lon-1.alarm.>']]]);
    expect(siteBusStreams({ site: 'lon-1', localSubjects: ['local.>'] })).toHaveLength(1);
  });

  it('refuses a subject that would both stay and flow', () => {
    expect(() => siteBusStreams({ site: 'x', localSubjects: ['fleet.>'], flowSubjects: ['fleet.x.alarm.>'] })).toThrow(expect.objectContaining({ code: 'bus_bad_federation' }));
  });

  it('denies bus subjects, inboxes and the local stream API on the leaf link', () => {
    const remote = siteLeafRemote(layout, 'nats-leaf://hub:7422');
    for (const s of ['local.>', 'fleet.lon-1.alarm.>', '_INBOX.>']) {
      expect(remote.deny_exports).toContain(s);
      expect(remote.deny_imports).toContain(s);
    }
    expect(remote.deny_imports).toContain('$JS.site-lon-1.API.STREAM.CREATE.>');
    expect(remote.deny_imports).toContain('$JS.site-lon-1.API.CONSUMER.*.SG_BUS');
    expect(remote.deny_imports.some((s) => s.includes('SG_EXPORT'))).toBe(false);
  });

  it('sources every site export stream through its domain', () => {
    const stream = centralFleetStream({ sites: [{ site: 'a', flowSubjects: ['fleet.a.>'] }, { site: 'b', flowSubjects: ['fleet.b.>', 'fleet.b.alarm.>'] }] });
    expect(stream.sources).toEqual([{ stream: 'SG_EXPORT', domain: 'site-a' }, { stream: 'SG_EXPORT', domain: 'site-b' }]);
    expect(stream.subjects).toEqual(['fleet.a.>', 'fleet.b.>']);
    expect(() => centralFleetStream({ sites: [{ site: 'A B', flowSubjects: ['x'] }] })).toThrow(expect.objectContaining({ code: 'bus_bad_federation' }));
  });
});
