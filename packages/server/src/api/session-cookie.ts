/**
 * The web session cookie, `sg_session` (RFC 6265 §4.1; OWASP Session Management Cheat Sheet):
 * HttpOnly (no script reads it), Secure (HTTPS only), SameSite=Strict (never sent on a request
 * another site starts), Path=/ and no Domain (this host only). Written by hand rather than by
 * @fastify/cookie: the value is always base64url, and reading it has to happen in the first
 * hook, before any plugin's own hooks run.
 */

export const SESSION_COOKIE = 'sg_session';
/** The header a cookie-authenticated state-changing request must carry (the session's CSRF token). */
export const CSRF_HEADER = 'x-csrf-token';

const ATTRIBUTES = 'Path=/; HttpOnly; Secure; SameSite=Strict';
const VALUE = /^[A-Za-z0-9_-]+$/;

/** `Set-Cookie` for a new session that lives at most `maxAgeMs`. */
export function sessionCookie(token: string, maxAgeMs: number): string {
  if (!VALUE.test(token)) throw new Error('a session cookie value is base64url');
  return `${SESSION_COOKIE}=${token}; Max-Age=${Math.max(0, Math.ceil(maxAgeMs / 1000))}; ${ATTRIBUTES}`;
}

/** `Set-Cookie` that makes the browser forget the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; ${ATTRIBUTES}`;
}

/**
 * Every `sg_session` value in a `Cookie` header, in order. More than one means a cookie planted
 * for a parent domain or another path beside ours (no browser sends two of its own): callers
 * refuse that rather than guess which one is meant.
 */
export function sessionCookiesOf(header: string | undefined): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) values.push(part.slice(eq + 1).trim());
  }
  return values;
}
