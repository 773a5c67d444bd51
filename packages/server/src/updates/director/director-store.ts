/**
 * What the director remembers per device: the sequence of its last instruction (a device refuses
 * anything not newer) and the signed bytes of that instruction, re-sent when the device
 * reconnects (the broker keeps no retained messages).
 */
export interface DirectorStore {
  /** Reserves and returns the next sequence number for a device (1, 2, ...), durably. */
  nextSequence(deviceId: string): Promise<number>;
  saveLatest(deviceId: string, sequence: number, envelope: Buffer): Promise<void>;
  latest(deviceId: string): Promise<{ sequence: number; envelope: Buffer } | undefined>;
}
