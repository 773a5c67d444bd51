/** GET or POST JSON on the server's HTTPS API, trusting only the site CA. */
import https from 'node:https';

export interface JsonResponse {
  status: number;
  body: unknown;
}

interface RequestOptions {
  caPem: string;
  token?: string;
}

function requestJson(method: 'GET' | 'POST', url: string, options: RequestOptions, body?: unknown): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(url, {
      method,
      ca: options.caPem,
      headers: {
        ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
        } catch (err) {
          reject(new Error(`${method} ${url}: answer is not JSON (${(err as Error).message}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function getJson(url: string, options: RequestOptions): Promise<JsonResponse> {
  return requestJson('GET', url, options);
}

export function postJson(url: string, body: unknown, options: RequestOptions): Promise<JsonResponse> {
  return requestJson('POST', url, options, body);
}
