/** What bench/ingest's two modes share: flags, the HTTPS API client, /proc readings, quantiles. */
import { readFileSync } from 'node:fs';
import https from 'node:https';

const args = process.argv.slice(2);

/** `--name N`, or `fallback`. */
export function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

/** `--name text`, or `fallback`. */
export function textFlag(name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
}

export function hasFlag(name: string): boolean {
  return args.includes(`--${name}`);
}

export type ApiResponse = { status: number; text: string };

/** One keep-alive HTTPS client of the server's API, trusting `ca`. */
export function apiClient(maxSockets: number): {
  request(method: 'GET' | 'POST', url: string, token: string, ca: string, body?: unknown): Promise<ApiResponse>;
  close(): void;
} {
  const agent = new https.Agent({ keepAlive: true, maxSockets });
  return {
    request: (method, url, token, ca, body) => new Promise((resolve, reject) => {
      const req = https.request(url, {
        method, ca, agent,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    }),
    close: () => agent.destroy(),
  };
}

/** Peak resident memory of `pid` (VmHWM), MiB; 0 once it is gone. */
export function peakRssMiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
