import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { logIn as logInRequest, logOut as logOutRequest, restoreSession } from '../api/auth';
import { onUnauthorized } from '../api/client';
import type { User } from '../api/types';

/** Who is logged in, and how to log in and out. */
export interface SessionValue {
  /** `undefined` while the session is being restored; `null` when nobody is logged in. */
  user: User | null | undefined;
  restoreError: unknown;
  logIn: (username: string, password: string) => Promise<void>;
  logOut: () => Promise<void>;
  /** Forgets the user locally (the server answered 401: the session ended elsewhere). */
  expire: () => void;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

/** Restores the session on load (`GET /auth/session`) and provides it to the app. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [restoreError, setRestoreError] = useState<unknown>();
  useEffect(() => {
    restoreSession().then(
      (session) => setUser(session?.user ?? null),
      (error: unknown) => {
        setRestoreError(error);
        setUser(null);
      },
    );
  }, []);
  // A 401 anywhere means the session ended (logged out elsewhere, expired, user disabled).
  useEffect(() => onUnauthorized(() => setUser(null)), []);
  const logIn = useCallback(async (username: string, password: string) => {
    const session = await logInRequest(username, password);
    setRestoreError(undefined);
    setUser(session.user);
  }, []);
  const logOut = useCallback(async () => {
    try {
      await logOutRequest();
    } finally {
      setUser(null);
    }
  }, []);
  const expire = useCallback(() => setUser(null), []);
  const value = useMemo(
    () => ({ user, restoreError, logIn, logOut, expire }),
    [user, restoreError, logIn, logOut, expire],
  );
  return <SessionContext value={value}>{children}</SessionContext>;
}

/** The session; only inside {@link SessionProvider}. */
export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The logged-in user; only on pages shown after login. */
export function useUser(): User {
  const { user } = useSession();
  if (!user) throw new Error('useUser without a logged-in user');
  return user;
}
