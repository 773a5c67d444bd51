/** Reads a stream's state straight from JetStream (what the bus stored, not what consumers saw). */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export async function storedMessages(servers: string, stream: string, domain?: string): Promise<number> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc, domain ? { domain } : {});
    return (await jsm.streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

export interface StoredEntry {
  readonly seq: number;
  readonly subject: string;
  readonly id: string | undefined;
  readonly payload: string;
}

/** Every message of a stream, in stream order (for small test streams). */
export async function readStream(servers: string, stream: string): Promise<StoredEntry[]> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(stream);
    const out: StoredEntry[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (m) out.push({ seq, subject: m.subject, id: m.header.get('Nats-Msg-Id') || undefined, payload: new TextDecoder().decode(m.data) });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** The `sources` of a stream as its server reports them (lag, last activity). */
export async function streamSources(servers: string, stream: string): Promise<{ name: string; lag: number; active: number }[]> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    return ((await jsm.streams.info(stream)).sources ?? []).map((s) => ({ name: s.name, lag: s.lag, active: s.active }));
  } finally {
    await nc.close();
  }
}
