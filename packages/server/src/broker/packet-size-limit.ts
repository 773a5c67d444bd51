/**
 * A maximum MQTT packet size for aedes. MQTT 3.1.1 (§2.2.3) lets a packet announce up to 256 MB
 * in its fixed header and has no way to negotiate less; aedes' parser (mqtt-packet) buffers a
 * packet's whole body before handing it over, so without a cap one device could make the broker
 * hold hundreds of megabytes per connection before any check ran. The cap is applied where the
 * length is known, right after the fixed header is parsed and before the body is read.
 *
 * mqtt-packet offers no option for this, so the parser instance of each connection is wrapped.
 * The parts relied on are named in {@link PacketParser}; if a new aedes or mqtt-packet changes
 * them, every connection is refused (fail closed) and the broker tests fail.
 */
import type { Client } from 'aedes';

/** What this relies on inside mqtt-packet's Parser (v9). */
interface PacketParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

interface ClientInternals {
  _parser?: Partial<PacketParser>;
  close(): void;
}

function isPacketParser(p: Partial<PacketParser> | undefined): p is PacketParser {
  return p !== undefined && typeof p._parseLength === 'function' && typeof p._emitError === 'function'
    && typeof p.packet === 'object' && p.packet !== null;
}

/**
 * Ends the connection as soon as a packet announces more than `maxBytes` (remaining length).
 * `onOversized` is told the announced length.
 */
export function limitPacketSize(client: Client, maxBytes: number, onOversized: (length: number) => void): void {
  const internals = client as unknown as ClientInternals;
  const parser = internals._parser;
  if (!isPacketParser(parser)) {
    onOversized(-1);
    internals.close();
    throw new Error('aedes/mqtt-packet internals changed: cannot enforce the maximum packet size, connection refused');
  }
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = function parseLengthWithinLimit(this: PacketParser): boolean {
    const complete = parseLength();
    if (complete && parser.packet.length > maxBytes) {
      onOversized(parser.packet.length);
      parser._emitError(new Error(`packet of ${parser.packet.length} bytes exceeds the maximum of ${maxBytes}`));
      return false;
    }
    return complete;
  };
}
