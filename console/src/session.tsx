/**
 * Who is signed in: the API key (session storage only, so it ends with the tab), the client built
 * on it and the key's identity and permissions from GET /v1/me. A 401 on any request signs out.
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { ApiRequestError, createApiClient, type ApiClient } from "./api/client";
import type { Me } from "./api/types";

const storageKey = "apex.console.apiKey";

export interface Session {
  readonly client: ApiClient;
  readonly me: Me;
  /** Whether the key's role grants a permission of the API's table (e.g. "approvals:decide"). */
  can(permission: string): boolean;
  signOut(reason?: string): void;
}

interface SessionState {
  readonly session?: Session;
  /** Why the last session ended (a revoked key, ...), for the sign-in screen. */
  readonly endedBecause?: string;
  /** Checks the key with GET /v1/me and keeps it; rejects with the API's error. */
  signIn(key: string): Promise<void>;
  /** A key kept from earlier in this tab, checked again (undefined when there is none). */
  resume(): Promise<void>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

export function SessionProvider({ children, baseUrl }: { children: ReactNode; baseUrl?: string }) {
  const [session, setSession] = useState<Session | undefined>();
  const [endedBecause, setEndedBecause] = useState<string | undefined>();

  const signOut = useCallback((reason?: string) => {
    sessionStorage.removeItem(storageKey);
    setSession(undefined);
    setEndedBecause(reason);
  }, []);

  const open = useCallback(
    async (key: string) => {
      // Only a session that was open ends on a 401; a wrong key at sign-in is the form's error.
      let established = false;
      const client = createApiClient(key, {
        baseUrl,
        onUnauthenticated: () => {
          if (established) signOut("Your API key was not accepted any more (revoked or unknown). Sign in again.");
        },
      });
      const me = await client.me();
      established = true;
      const permissions = new Set(me.permissions);
      sessionStorage.setItem(storageKey, key);
      setEndedBecause(undefined);
      setSession({ client, me, can: (p) => permissions.has(p), signOut });
    },
    [baseUrl, signOut],
  );

  const resume = useCallback(async () => {
    const key = sessionStorage.getItem(storageKey);
    if (!key) return;
    try {
      await open(key);
    } catch (error) {
      if (!(error instanceof ApiRequestError && error.status === 401)) throw error;
      signOut("The key this tab kept is not accepted any more (revoked or unknown). Sign in again.");
    }
  }, [open, signOut]);

  const value = useMemo<SessionState>(() => ({ session, endedBecause, signIn: open, resume }), [session, endedBecause, open, resume]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSessionState(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSessionState outside <SessionProvider>");
  return state;
}

/** The signed-in session; only inside the routes that require one (App.tsx). */
export function useSession(): Session {
  const { session } = useSessionState();
  if (!session) throw new Error("useSession without a signed-in session");
  return session;
}

/** A fixed session for component tests (console/test/render.tsx). */
export function SessionContextForTests({ session, children }: { session: Session; children: ReactNode }) {
  const value: SessionState = { session, signIn: async () => undefined, resume: async () => undefined };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
