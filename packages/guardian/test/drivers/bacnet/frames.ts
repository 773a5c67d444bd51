/** Hand-built BACnet/IP datagrams for the tests' fake devices (ASHRAE 135 Annex J, clause 6.2). */

/** Bytes from hex, spaces allowed. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A BVLC frame (Annex J.2) around an NPDU body. */
export function bvlc(func: number, body: Buffer): Buffer {
  const out = Buffer.concat([Buffer.from([0x81, func, 0, 0]), body]);
  out.writeUInt16BE(out.length, 2);
  return out;
}

/** Original-Unicast, NPDU without routing, then the APDU. */
export const unicast = (apdu: Buffer): Buffer => bvlc(0x0a, Buffer.concat([hex('0100'), apdu]));
