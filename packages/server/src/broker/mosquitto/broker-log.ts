/**
 * What Mosquitto 2.0 says about its sessions, read from its own log published to $SYS/broker/log/#
 * (`log_dest topic`). Mosquitto 2.0 has no API that lists connected clients or reports refusals;
 * these lines (src/handle_connect.c, src/loop.c do_disconnect, src/handle_subscribe.c, src/net.c)
 * are the only account of them. The formats are those of 2.0.x; a line that matches none is ignored.
 */

export type BrokerLogEvent =
  | { kind: 'connected'; clientId: string; username: string | undefined }
  | { kind: 'disconnected'; clientId: string; reason: string }
  /** A subscription was GRANTED (refused ones are not logged at these levels). */
  | { kind: 'subscribed'; clientId: string; filter: string }
  /** A TLS handshake failed certificate verification: unknown CA, expired, revoked, wrong purpose, none sent. */
  | { kind: 'tls_refused'; reason: string }
  | { kind: 'oversized'; clientId: string };

/** log_timestamp prefixes "1700000000: ". */
const TIMESTAMP = /^\d+: /;
const CONNECTED = /^New client connected from \S+ as (.+?) \(p\d+, c\d+, k\d+(?:, u'(.*)')?\)\.$/;
const DISCONNECTED = /^Client (.+?) (closed its connection|disconnected(?: due to [^.]*|, not authorised)?|been disconnected by administrative action|has exceeded timeout, disconnecting)\.$/;
const DISCONNECTED_ERRNO = /^Client (.+?) disconnected: (.*)\.$/;
const BAD_SOCKET = /^Bad socket read\/write on client (.+?): (.*)$/;
const TLS_REFUSAL = /certificate verify failed|peer did not return a certificate|certificate revoked|certificate expired|unsupported certificate purpose/;

/** One log message (the payload of a $SYS/broker/log/<level> publish) as an event, if it is one. */
export function parseBrokerLogLine(topic: string, line: string): BrokerLogEvent | undefined {
  const text = line.replace(TIMESTAMP, '').trim();
  if (topic === '$SYS/broker/log/M/subscribe') {
    // "<client id> <qos> <filter>"; client ids here are usernames (use_username_as_clientid) without spaces.
    const match = /^(\S+) \d+ (.+)$/.exec(text);
    return match ? { kind: 'subscribed', clientId: match[1]!, filter: match[2]! } : undefined;
  }
  let match = CONNECTED.exec(text);
  if (match) return { kind: 'connected', clientId: match[1]!, username: match[2] };
  if (TLS_REFUSAL.test(text)) return { kind: 'tls_refused', reason: text };
  match = /^Client (.+?) disconnected due to oversize packet\.$/.exec(text);
  if (match) return { kind: 'oversized', clientId: match[1]! };
  match = DISCONNECTED.exec(text) ?? DISCONNECTED_ERRNO.exec(text) ?? BAD_SOCKET.exec(text);
  if (match && match[1] !== '<unknown>') return { kind: 'disconnected', clientId: match[1]!, reason: match[2]! };
  return undefined;
}
