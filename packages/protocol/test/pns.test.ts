import { describe, expect, it } from 'vitest';
import {
  ANDON_STATES, PNS_ACK, PNS_FRAME_LENGTH, PNS_NAK, PnsError, ProtocolError, andonCommand, decodePnsCommand, encodeAndon,
  encodePnsCommand, type AndonState, type PnsCommand,
} from '../src/index.ts';

const HEADER = [0x58, 0x58, 0x53, 0x00, 0x00, 0x06];

function frame(...data: number[]): Buffer {
  return Buffer.from([...HEADER, ...data]);
}

function pnsError(fn: () => unknown): PnsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PnsError) return err;
    throw new Error(`expected a PnsError, got ${String(err)}`);
  }
  throw new Error('expected a PnsError, nothing was thrown');
}

/** mulberry32: a small seeded PRNG, so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('PNS operation control', () => {
  it('answers ACK 0x06 and NAK 0x15', () => {
    expect([PNS_ACK, PNS_NAK]).toEqual([0x06, 0x15]);
  });

  it('encodes every lamp pattern and buzzer value at its byte', () => {
    const cmd: PnsCommand = { red: 'off', amber: 'on', green: 'flash-1', blue: 'flash-2', white: 'no-change', buzzer: 'pattern-4' };
    expect([...encodePnsCommand(cmd)]).toEqual([...HEADER, 0x00, 0x01, 0x02, 0x03, 0x09, 0x04]);
    const buzzers = ['stop', 'pattern-1', 'pattern-2', 'pattern-3', 'pattern-4', 'no-change'] as const;
    expect(buzzers.map((buzzer) => encodePnsCommand({ ...cmd, buzzer })[11])).toEqual([0x00, 0x01, 0x02, 0x03, 0x04, 0x09]);
  });

  it('round-trips every command', () => {
    const lamps = ['off', 'on', 'flash-1', 'flash-2', 'no-change'] as const;
    const buzzers = ['stop', 'pattern-1', 'pattern-2', 'pattern-3', 'pattern-4', 'no-change'] as const;
    let n = 0;
    for (const red of lamps) for (const amber of lamps) for (const green of lamps) for (const blue of lamps) for (const white of lamps) {
      for (const buzzer of buzzers) {
        const cmd: PnsCommand = { red, amber, green, blue, white, buzzer };
        const bytes = encodePnsCommand(cmd);
        expect(bytes.length).toBe(PNS_FRAME_LENGTH);
        expect(decodePnsCommand(bytes)).toEqual(cmd);
        n++;
      }
    }
    expect(n).toBe(5 ** 5 * 6);
  });

  it('decodes a Uint8Array as well as a Buffer', () => {
    expect(decodePnsCommand(new Uint8Array(frame(1, 0, 0, 0, 0, 0)))).toEqual({
      red: 'on', amber: 'off', green: 'off', blue: 'off', white: 'off', buzzer: 'stop',
    });
  });

  describe('refuses malformed frames, naming the byte offset', () => {
    it.each([
      ['an empty buffer', [], 'pns_frame_length', 0],
      ['a truncated header', [0x58, 0x58, 0x53], 'pns_frame_length', 3],
      ['a truncated data area', [...HEADER, 0, 0, 0], 'pns_frame_length', 9],
      ['trailing bytes', [...HEADER, 0, 0, 0, 0, 0, 0, 0x58], 'pns_frame_length', 12],
      ['product category AB', [0x41, 0x42, 0x53, 0, 0, 6, 0, 0, 0, 0, 0, 0], 'pns_header_invalid', 0],
      ['a wrong second category byte', [0x58, 0x59, 0x53, 0, 0, 6, 0, 0, 0, 0, 0, 0], 'pns_header_invalid', 1],
      ['the clear command (C)', [0x58, 0x58, 0x43, 0, 0, 0], 'pns_header_invalid', 2],
      ['a non-zero empty byte', [0x58, 0x58, 0x53, 1, 0, 6, 0, 0, 0, 0, 0, 0], 'pns_header_invalid', 3],
      ['data size 0', [0x58, 0x58, 0x53, 0, 0, 0], 'pns_data_size', 4],
      ['data size 0x0106', [0x58, 0x58, 0x53, 0, 1, 6, 0, 0, 0, 0, 0, 0], 'pns_data_size', 4],
      ['red 0x04', frame(4, 0, 0, 0, 0, 0), 'pns_value_invalid', 6],
      ['amber 0x08', frame(0, 8, 0, 0, 0, 0), 'pns_value_invalid', 7],
      ['green 0xff', frame(0, 0, 0xff, 0, 0, 0), 'pns_value_invalid', 8],
      ['blue 0x0a', frame(0, 0, 0, 0x0a, 0, 0), 'pns_value_invalid', 9],
      ['white 0x05', frame(0, 0, 0, 0, 5, 0), 'pns_value_invalid', 10],
      ['buzzer 0x05', frame(0, 0, 0, 0, 0, 5), 'pns_value_invalid', 11],
      ['buzzer 0x08', frame(0, 0, 0, 0, 0, 8), 'pns_value_invalid', 11],
    ])('%s', (_name, bytes, code, offset) => {
      const err = pnsError(() => decodePnsCommand(Buffer.from(bytes as number[])));
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err.code).toBe(code);
      expect(err.details.offset).toBe(offset);
      expect(err.message).toContain(`byte offset ${offset}`);
    });
  });

  it.each([
    ['an unknown lamp pattern', { ...andonCommand('idle'), red: 'blink' }, 6],
    ['a buzzer value used for a lamp', { ...andonCommand('idle'), white: 'pattern-1' }, 10],
    ['a prototype member as a name', { ...andonCommand('idle'), buzzer: 'constructor' }, 11],
    ['a missing field', { red: 'on', amber: 'on', green: 'on', blue: 'on', white: 'on' }, 11],
  ])('refuses to encode %s', (_name, cmd, offset) => {
    const err = pnsError(() => encodePnsCommand(cmd as unknown as PnsCommand));
    expect(err.code).toBe('pns_value_invalid');
    expect(err.details.offset).toBe(offset);
  });

  it('refuses to encode something that is not a command', () => {
    expect(pnsError(() => encodePnsCommand(null as unknown as PnsCommand)).code).toBe('pns_value_invalid');
  });

  it('throws nothing but PnsError on random buffers and mutated frames, and what it accepts re-encodes byte for byte', () => {
    const random = prng(0x5eed);
    const byte = (): number => Math.floor(random() * 256);
    const valid = ANDON_STATES.map((s) => encodeAndon(s));
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      let input: Buffer;
      if (i % 2 === 0) {
        input = Buffer.from(Array.from({ length: Math.floor(random() * 24) }, byte));
      } else {
        const base = Buffer.from(valid[Math.floor(random() * valid.length)]!);
        const mutation = Math.floor(random() * 4);
        if (mutation === 0) {
          base[Math.floor(random() * base.length)] = byte();
          input = base;
        } else if (mutation === 1) {
          // A small value in a data byte: the boundary between accepted and refused.
          base[6 + Math.floor(random() * 6)] = Math.floor(random() * 12);
          input = base;
        } else if (mutation === 2) {
          input = base.subarray(0, Math.floor(random() * base.length));
        } else {
          input = Buffer.concat([base, Buffer.from(Array.from({ length: 1 + Math.floor(random() * 4) }, byte))]);
        }
      }
      try {
        const cmd = decodePnsCommand(input);
        expect(encodePnsCommand(cmd).equals(input)).toBe(true);
        accepted++;
      } catch (err) {
        if (!(err instanceof PnsError)) throw new Error(`case ${i} threw ${String(err)} for ${input.toString('hex')}`);
        expect(err.message).toMatch(/byte offset \d+/);
        refused++;
      }
    }
    // Both sides of the boundary were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});

describe('andonCommand', () => {
  const expected: Record<AndonState, number[]> = {
    //           red   amber green blue  white buzzer
    idle: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    released: [0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
    'in-progress': [0x00, 0x02, 0x00, 0x01, 0x00, 0x00],
    'step-done': [0x00, 0x00, 0x01, 0x01, 0x00, 0x00],
    deviation: [0x02, 0x00, 0x00, 0x00, 0x00, 0x01],
    stop: [0x01, 0x00, 0x00, 0x00, 0x01, 0x00],
    complete: [0x00, 0x00, 0x03, 0x00, 0x00, 0x00],
    intrusion: [0x03, 0x00, 0x00, 0x00, 0x00, 0x02],
  };

  it.each(ANDON_STATES)('encodes %s byte for byte', (state) => {
    expect([...encodeAndon(state)]).toEqual([...HEADER, ...expected[state]]);
    expect([...encodePnsCommand(andonCommand(state))]).toEqual([...HEADER, ...expected[state]]);
  });

  it('sets every lamp and the buzzer explicitly in every state, so a tower that missed a frame converges', () => {
    for (const state of ANDON_STATES) {
      expect([...encodeAndon(state).subarray(6)]).not.toContain(0x09);
    }
  });

  it('gives each state a distinct tower', () => {
    expect(new Set(ANDON_STATES.map((s) => encodeAndon(s).toString('hex'))).size).toBe(ANDON_STATES.length);
  });

  it('returns a copy the caller may change', () => {
    const cmd = andonCommand('released');
    cmd.red = 'on';
    expect(andonCommand('released').red).toBe('off');
  });

  it('refuses a name that is not an Andon state', () => {
    const err = pnsError(() => andonCommand('party' as AndonState));
    expect(err.code).toBe('andon_state_unknown');
  });
});
