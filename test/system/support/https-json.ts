/** GET a JSON document from the server's HTTPS API, trusting only the site CA. */
import https from 'node:https';

export interface JsonResponse {
  status: number;
  body: unknown;
}

export function getJson(url: string, options: { caPem: string; token?: string }): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, {
      ca: options.caPem,
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
        } catch (err) {
          reject(new Error(`GET ${url}: answer is not JSON (${(err as Error).message}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
    req.on('error', reject);
  });
}
