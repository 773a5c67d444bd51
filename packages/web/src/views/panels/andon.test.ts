import { describe, expect, it } from 'vitest';
import { ANDON_STATES } from '../../app/api-types.ts';
import { ANDON_LOOK, andonLook, andonMeaning, sounding } from './andon.ts';

interface ProtocolAndon {
  ANDON_STATES: readonly string[];
  ANDON_COMMANDS: Record<string, Record<string, string>>;
}

describe('the Andon tower drawn on the dashboard', () => {
  it('lights exactly what protocol ANDON_COMMANDS tells a real tower, for every state', async () => {
    // Loaded by name at run time: the web package never compiles against protocol code.
    const name = '@shellguard/protocol';
    const protocol = (await import(/* @vite-ignore */ name)) as ProtocolAndon;
    expect([...ANDON_STATES]).toEqual([...protocol.ANDON_STATES]);
    for (const state of ANDON_STATES) expect(ANDON_LOOK[state], state).toEqual(protocol.ANDON_COMMANDS[state]);
  });

  it('names every state in words, and an unknown one as unknown with every lamp off', () => {
    for (const state of ANDON_STATES) expect(andonMeaning(state).label).not.toMatch(/unknown/i);
    expect(andonMeaning('disco').label).toBe('Unknown (disco)');
    expect(Object.values(andonLook('disco')).filter((v) => v !== 'off' && v !== 'stop')).toEqual([]);
  });

  it('sounds the klaxon for a deviation and an intrusion only', () => {
    expect(ANDON_STATES.filter((s) => sounding(ANDON_LOOK[s]))).toEqual(['deviation', 'intrusion']);
  });
});
