/**
 * Which server replicas are alive (issue 12): each writes a heartbeat; a replica not seen for a
 * few seconds is gone. Async, so PostgreSQL can hold it; implemented by sql-replica-directory.ts.
 */
export interface ReplicaDirectory {
  /** Records that replica `id` is alive at `at` (ms since the epoch). */
  heartbeat(id: string, at: number): Promise<void>;
  /** Replicas seen at or after `since`, sorted by id. */
  liveSince(since: number): Promise<string[]>;
  /** Removes replica `id` (it stops cleanly, so others need not wait for it to age out). */
  leave(id: string): Promise<void>;
}
