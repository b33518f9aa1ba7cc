/** Sign in with an API key: checked against GET /v1/me, kept in session storage for this tab only. */
import { useState, type FormEvent } from "react";
import { describeError } from "../components/states";
import { useSessionState } from "../session";

export function SignInPage() {
  const { signIn, endedBecause } = useSessionState();
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(key.trim());
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  return (
    <main id="main" className="sign-in">
      <h1>Apex console</h1>
      <p>Sign in with an Apex API key. What you can see and do follows the key's role.</p>
      {endedBecause ? (
        <p className="notice" role="status">
          {endedBecause}
        </p>
      ) : null}
      <form onSubmit={submit} aria-label="Sign in">
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby={error ? "sign-in-error" : "api-key-hint"}
          aria-invalid={error ? true : undefined}
        />
        <p id="api-key-hint" className="hint">
          Kept in this browser tab's session storage only; it is never put in a URL.
        </p>
        {error ? (
          <p id="sign-in-error" className="field-error" role="alert">
            {describeError(error)}
          </p>
        ) : null}
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
