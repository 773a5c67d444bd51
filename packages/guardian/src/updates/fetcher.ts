/**
 * The TUF client's one way to the network (STYLE.md §1, §6): a port with one implementation per
 * file (https-fetcher.ts), so tests can serve a tampered repository and the client never sees a
 * transport's types.
 *
 * Both methods are bounded by `maxLength`: an implementation must stop reading and throw
 * `TufError('too_large')` as soon as more than `maxLength` bytes have arrived, whatever the
 * server claims in its headers (endless-data attack, TUF §5.3.3, §5.4.1, §5.5.1, §5.6.1).
 */
import { TufError } from './tuf-error.ts';

export interface MetadataFetcher {
  /**
   * The whole body of `url`, at most `maxLength` bytes.
   * @throws TufError `not_found` (404/403), `too_large`, `fetch_failed`
   */
  fetch(url: string, maxLength: number): Promise<Uint8Array>;
  /**
   * The body of `url` as it arrives, for targets streamed to disk. Ending the iteration early
   * (break, throw) must abort the transfer.
   * @throws TufError `not_found` (404/403), `too_large`, `fetch_failed`
   */
  fetchChunks(url: string, maxLength: number): AsyncIterable<Uint8Array>;
}

export function tooLarge(url: string, maxLength: number): TufError {
  return new TufError(
    'too_large',
    `${url} sent more than the ${maxLength} bytes allowed for it; the transfer was aborted (endless-data attack or a wrong length in the repository metadata)`,
    { url, maxLength },
  );
}

/** Collects chunks into one buffer, enforcing `maxLength` again on the way. */
export async function collectChunks(chunks: AsyncIterable<Uint8Array>, url: string, maxLength: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let received = 0;
  for await (const chunk of chunks) {
    received += chunk.length;
    if (received > maxLength) throw tooLarge(url, maxLength);
    parts.push(chunk);
  }
  return Buffer.concat(parts, received);
}
