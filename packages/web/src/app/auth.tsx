/**
 * The signed-in user. The session lives in an HttpOnly cookie the page never sees; what the page
 * keeps is who signed in, their role and the CSRF token for requests that change something.
 * Any 401 from the API clears the user, and the app shows the sign-in page with the place to come
 * back to.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, onUnauthorized, setCsrfToken, setSessionRefresher } from './api-client.ts';
import type { Role, Session, SessionUser } from './api-types.ts';

export type AuthState =
  | { status: 'checking' }
  | { status: 'signed-out'; reason?: 'expired' | 'signed-out' }
  | { status: 'signed-in'; user: SessionUser; expiresAt: number | string }
  | { status: 'unreachable'; message: string };

interface AuthContextValue {
  state: AuthState;
  user: SessionUser | null;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** Re-reads the session (after a network failure at start). */
  recheck(): void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

async function readSession(): Promise<Session | null> {
  try {
    return await api.get<Session>('/session', { quietUnauthorized: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: 'checking' });

  const adopt = useCallback((session: Session | null, reason?: 'expired' | 'signed-out') => {
    setCsrfToken(session?.csrfToken ?? null);
    setState(session
      ? { status: 'signed-in', user: session.user, expiresAt: session.expiresAt }
      : { status: 'signed-out', ...(reason ? { reason } : {}) });
  }, []);

  const check = useCallback(() => {
    setState({ status: 'checking' });
    readSession().then((s) => adopt(s), (err: unknown) => {
      setState({ status: 'unreachable', message: err instanceof Error ? err.message : String(err) });
    });
  }, [adopt]);

  useEffect(() => {
    check();
    setSessionRefresher(async () => {
      const session = await readSession().catch(() => null);
      adopt(session, session ? undefined : 'expired');
      return session?.csrfToken ?? null;
    });
    const off = onUnauthorized(() => {
      setCsrfToken(null);
      setState((s) => (s.status === 'signed-in' ? { status: 'signed-out', reason: 'expired' } : s));
    });
    return () => {
      off();
      setSessionRefresher(null);
    };
  }, [check, adopt]);

  const signIn = useCallback(async (username: string, password: string) => {
    const session = await api.post<Session>('/session', { username, password }, { quietUnauthorized: true });
    adopt(session);
  }, [adopt]);

  const signOut = useCallback(async () => {
    try {
      await api.delete('/session', { quietUnauthorized: true });
    } finally {
      adopt(null, 'signed-out');
    }
  }, [adopt]);

  const value = useMemo<AuthContextValue>(() => ({
    state,
    user: state.status === 'signed-in' ? state.user : null,
    signIn,
    signOut,
    recheck: check,
  }), [state, signIn, signOut, check]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside <AuthProvider>');
  return value;
}

/** The signed-in user's role (views render only when signed in, so this is always known there). */
export function useRole(): Role | null {
  return useAuth().user?.role ?? null;
}
