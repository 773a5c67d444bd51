/** `shellguard token create|list|revoke`: API tokens, managed by an admin over the API. */
import type { ApiClient } from '../api-client.ts';
import { formatTable, isoTime, type Output } from './fleet.ts';

interface TokenInfo {
  tokenId: string; name: string; role: string; createdAt: number; lastUsedAt: number | null; revokedAt: number | null;
}

export async function createToken(client: ApiClient, out: Output, opts: { name: string; role: string }): Promise<void> {
  const created = await client.post<TokenInfo & { token: string }>('/tokens', { name: opts.name, role: opts.role });
  // The only time the value is ever shown: the server keeps its hash only.
  out.write(`token ${created.tokenId} (${created.role}, "${created.name}"), shown once, store it now:\n${created.token}\n`);
}

export async function listTokens(client: ApiClient, out: Output): Promise<void> {
  const { tokens } = await client.get<{ tokens: TokenInfo[] }>('/tokens');
  out.write(formatTable(['ID', 'ROLE', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'], tokens.map((t) => [
    t.tokenId, t.role, t.name, isoTime(t.createdAt), isoTime(t.lastUsedAt ?? undefined), isoTime(t.revokedAt ?? undefined),
  ])));
}

export async function revokeToken(client: ApiClient, out: Output, tokenId: string): Promise<void> {
  await client.post(`/tokens/${encodeURIComponent(tokenId)}/revoke`, {});
  out.write(`token ${tokenId} revoked: it no longer works\n`);
}
