import { NabError } from './error.ts';

const NAB_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * Parses NAB's naive timestamps (`2014-04-10 07:15:00` in data files, `2014-04-10 07:15:00.000000`
 * in combined_windows.json) to epoch milliseconds. They carry no zone and are read as UTC, so a
 * daylight-saving change on the machine running the benchmark can never merge or split rows.
 */
export function parseNabTimestamp(text: string): number {
  const m = NAB_TIMESTAMP.exec(text.trim());
  if (m !== null) {
    const micros = m[7] === undefined ? 0 : Number(m[7].padEnd(6, '0'));
    return (
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) + micros / 1000
    );
  }
  const parsed = Date.parse(text);
  if (!Number.isFinite(parsed)) {
    throw new NabError('NAB_FORMAT', `not a timestamp: ${JSON.stringify(text)}`, { text });
  }
  return parsed;
}
