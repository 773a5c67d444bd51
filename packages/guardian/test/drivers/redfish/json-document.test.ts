import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RedfishError } from '../../../src/drivers/redfish/errors.ts';
import { MAX_JSON_DEPTH, parseResource, resolvePointer } from '../../../src/drivers/redfish/json-document.ts';

describe('resolvePointer (RFC 6901)', () => {
  // RFC 6901 §5's example document and pointers.
  const doc = { foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'c%d': 2, 'e^f': 3, 'g|h': 4, 'i\\j': 5, 'k"l': 6, ' ': 7, 'm~n': 8 };
  it.each([
    ['', doc], ['/foo', ['bar', 'baz']], ['/foo/0', 'bar'], ['/', 0], ['/a~1b', 1], ['/c%d', 2], ['/e^f', 3],
    ['/g|h', 4], ['/i\\j', 5], ['/k"l', 6], ['/ ', 7], ['/m~0n', 8],
  ])('resolves %j as in RFC 6901 §5', (pointer, value) => {
    expect(resolvePointer(doc, pointer)).toEqual({ found: true, value });
  });

  it('finds nothing through the prototype chain, past an array, or at a leading-zero index', () => {
    expect(resolvePointer({}, '/__proto__').found).toBe(false);
    expect(resolvePointer({}, '/constructor').found).toBe(false);
    expect(resolvePointer({ a: [1] }, '/a/1')).toEqual({ found: false, at: '/a/1' });
    expect(resolvePointer({ a: [1] }, '/a/00').found).toBe(false);
    expect(resolvePointer({ a: [1] }, '/a/-').found).toBe(false);
    expect(resolvePointer({ a: 5 }, '/a/b')).toEqual({ found: false, at: '/a/b' });
  });

  it('finds every value of any JSON document at the pointer built from its path, and never throws on others', () => {
    const key = fc.string({ maxLength: 6 });
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), fc.array(fc.oneof(key, fc.nat(4)), { maxLength: 6 }), (value, path) => {
      // Wrap the value at `path` and find it again.
      let wrapped: unknown = value;
      for (const step of [...path].reverse()) {
        if (typeof step === 'number') { const arr: unknown[] = Array.from({ length: step + 1 }, () => null); arr[step] = wrapped; wrapped = arr; }
        else wrapped = { [step]: wrapped };
      }
      const pointer = path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
      const got = resolvePointer(wrapped, pointer);
      expect(got.found).toBe(true);
      expect(got.found && got.value).toEqual(value);
      // Any other pointer into any document: a result, never an exception.
      expect(() => resolvePointer(value, `${pointer}/x`)).not.toThrow();
    }));
  });
});

describe('parseResource', () => {
  it('returns JSON objects, and refuses anything else with redfish_response_invalid', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      try {
        const doc = parseResource(text, '/redfish/v1/x');
        expect(typeof doc === 'object' && doc !== null && !Array.isArray(doc)).toBe(true);
      } catch (err) {
        expect(err).toBeInstanceOf(RedfishError);
        expect((err as RedfishError).code).toBe('redfish_response_invalid');
        expect((err as RedfishError).message).toMatch(/^\/redfish\/v1\/x: /);
      }
    }), { numRuns: 500 });
  });

  it('refuses deep nesting before parsing it, without a stack overflow', () => {
    const deep = `{"a":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
    expect(() => parseResource(deep, '/p')).toThrow(expect.objectContaining({ code: 'redfish_response_invalid', message: expect.stringMatching(/nests deeper than/) }));
    const ok = `${'{"a":'.repeat(MAX_JSON_DEPTH - 1)}{}${'}'.repeat(MAX_JSON_DEPTH - 1)}`;
    expect(parseResource(ok, '/p')).toBeTypeOf('object');
    // Brackets inside strings are text, not nesting.
    expect(parseResource(`{"s":"${'['.repeat(100)}\\"${'{'.repeat(100)}"}`, '/p')).toHaveProperty('s');
  });
});
