import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { logIn as logInRequest, logOut as logOutRequest, restoreSession } from '../api/auth';
import { onForbidden, onUnauthorized } from '../api/client';
import type { User } from '../api/types';
import { usePollingWhileVisible } from '../ui/use-polling';

/**
 * How often an open page re-reads who is logged in while it is visible (and at once when it is shown
 * again), so that a role given or taken by an admin reaches it. Served from the replicas' session cache.
 */
const SESSION_REFRESH_MS = 60_000;

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
  const refresh = useSessionRefresh(setUser);
  // A 403 may mean the role changed (an admin demoted while on an admin page): read the session again.
  useEffect(() => onForbidden(refresh), [refresh]);
  usePollingWhileVisible(() => {
    if (user) refresh();
  }, SESSION_REFRESH_MS);
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

/**
 * Re-reads the session and keeps the user object unless something in it changed (a new object would
 * re-render every page). One read at a time: a burst of 403s asks once. A failed read changes nothing;
 * a 401 logs out.
 */
function useSessionRefresh(
  setUser: (update: (current: User | null | undefined) => User | null | undefined) => void,
) {
  const inFlight = useRef(false);
  return useCallback(() => {
    if (inFlight.current) return;
    inFlight.current = true;
    restoreSession()
      .then(
        (session) =>
          setUser((current) => {
            // Only a logged-in user is refreshed: a read that started before a logout must not undo it.
            if (!current) return current;
            const next = session?.user ?? null;
            return next && JSON.stringify(current) === JSON.stringify(next) ? current : next;
          }),
        () => undefined,
      )
      .finally(() => {
        inFlight.current = false;
      });
  }, [setUser]);
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
