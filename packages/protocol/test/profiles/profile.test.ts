import { describe, expect, it } from 'vitest';
import { ProtocolError, parseProfile } from '../../src/index.ts';

const POINT = '{ name: supply_air_temp, description: Supply air temperature, unit: degC, table: input, address: 0, type: int16, scale: 0.1 }';

function profile(points: string[], root = ''): string {
  return `id: test-ahu\nname: Test AHU\ntype: ahu\n${root}points:\n${points.map((p) => `  - ${p}\n`).join('')}`;
}

/** The ProtocolError `text` raises (fails the test if it raises none). */
function refusal(text: string): ProtocolError {
  try {
    parseProfile(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('profile_invalid');
    return err as ProtocolError;
  }
  throw new Error('the profile was accepted');
}

describe('parseProfile', () => {
  it('reads a point with every key, and fills the defaults of the others', () => {
    const p = parseProfile(profile([
      POINT,
      "{ name: mode, description: Mode, kind: enum, table: holding, address: 0, states: { 0: 'off', 1: auto } }",
      '{ name: energy, description: Energy, unit: kWh, table: input, address: 1, type: uint32, scale: 0.1, offset: 5, wordOrder: little, fast: false, condition: true }',
      '{ name: door_open, table: discrete, address: 0, fast: true }',
    ]));
    expect(p).toMatchObject({ id: 'test-ahu', name: 'Test AHU', type: 'ahu' });
    expect(p.points.map((x) => x.name)).toEqual(['supply_air_temp', 'mode', 'energy', 'door_open']);
    expect(p.points[1]).toMatchObject({ kind: 'enum', type: 'uint16', states: { 0: 'off', 1: 'auto' } });
    expect(p.points[2]).toMatchObject({ scale: 0.1, offset: 5, wordOrder: 'little', fast: false, condition: true });
    expect(p.points[3]).toMatchObject({ kind: 'binary', type: 'bool', description: '', unit: '', fast: true, condition: false });
  });

  it('refuses an unknown key at the root, listing the known ones', () => {
    expect(refusal(profile([POINT], 'vendor: ACME\n')).message)
      .toBe("test.yaml: vendor: unknown key (known: id, name, type, protocol, source, points); quote a value that holds a comma, e.g. description: 'a, b'");
  });

  it('refuses an unknown key in a point, listing the known ones', () => {
    expect(refusal(profile([POINT, '{ name: fan_speed, table: input, address: 1, units: "%" }'])).message).toBe(
      'test.yaml: points[1].units: unknown key (known: name, description, unit, kind, table, address, type, scale, offset, wordOrder, states, fast, condition);'
      + " quote a value that holds a comma, e.g. description: 'a, b'",
    );
  });

  it('refuses the key an unquoted comma makes of the end of a description, and reads the quoted one whole', () => {
    const cut = '{ name: fan_vibration, description: Bearing vibration (RMS, ISO 10816), unit: mm/s, table: input, address: 1 }';
    expect(refusal(profile([cut])).message).toMatch(/^test\.yaml: points\[0\]\.ISO 10816\): unknown key/);
    const quoted = "{ name: fan_vibration, description: 'Bearing vibration (RMS, ISO 10816)', unit: mm/s, table: input, address: 1 }";
    expect(parseProfile(profile([quoted])).points[0]!.description).toBe('Bearing vibration (RMS, ISO 10816)');
  });

  it.each([
    ['states on a point that is not enum', '{ name: mode, table: holding, address: 0, states: { 0: a } }', 'points[0].states: only an enum point has states'],
    ['states that are not a mapping', '{ name: mode, kind: enum, table: holding, address: 0, states: [off, on] }', 'points[0].states: must map raw values to names'],
    ['no states at all', '{ name: mode, kind: enum, table: holding, address: 0, states: {} }', 'points[0].states: must name at least one state'],
    ['a raw value that is not a whole number', '{ name: mode, kind: enum, table: holding, address: 0, states: { auto: 1 } }',
      'points[0].states.auto: the raw value must be a whole number from 0 to 65535 (the range of uint16)'],
    ['a raw value the register cannot hold', '{ name: mode, kind: enum, table: holding, address: 0, type: int16, states: { 40000: high } }',
      'points[0].states.40000: the raw value must be a whole number from -32768 to 32767 (the range of int16)'],
    ['a name YAML reads as a boolean', '{ name: mode, kind: enum, table: holding, address: 0, states: { 0: true } }',
      'points[0].states.0: must be a state name (got true)'],
    ['an empty name', "{ name: mode, kind: enum, table: holding, address: 0, states: { 0: '' } }", 'points[0].states.0: must be a state name'],
    ['a name used twice', '{ name: mode, kind: enum, table: holding, address: 0, states: { 0: auto, 1: auto } }', 'points[0].states.1: state name auto is used twice'],
    ['a fast flag that is not a boolean', '{ name: door, table: discrete, address: 0, fast: "yes" }', 'points[0].fast: must be true or false'],
    ['a condition flag that is not a boolean', '{ name: amps, table: input, address: 0, condition: 1 }', 'points[0].condition: must be true or false'],
    ['a unit that is not a string', '{ name: amps, table: input, address: 0, unit: 5 }', 'points[0].unit: must be a string'],
    ['a point that is a list', '[name, amps]', 'points[0]: must be a mapping'],
  ])('refuses %s', (_what, point, message) => {
    expect(refusal(profile([point])).message).toContain(`test.yaml: ${message}`);
  });

  it('refuses a document that is not a mapping', () => {
    expect(refusal('- id: x\n').message).toBe('test.yaml: (root): must be a mapping');
  });
});
