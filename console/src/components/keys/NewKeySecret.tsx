/**
 * A just-created key's secret, shown once: the API keeps only its hash. Copy puts it on the
 * clipboard; "Done" drops it from the page's state (as does leaving the page). Never logged.
 */
import { useEffect, useRef, useState } from "react";
import type { CreatedApiKey } from "../../api/types";

export function NewKeySecret({ created, onDismiss }: { created: CreatedApiKey; onDismiss(): void }) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [copyStatus, setCopyStatus] = useState("");

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  async function copy() {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(created.secret);
      setCopyStatus("Copied to the clipboard.");
    } catch {
      setCopyStatus("This browser did not allow copying: select the key in the box and copy it yourself.");
    }
  }

  return (
    <section className="secret" aria-labelledby="new-key-heading">
      <h2 id="new-key-heading" ref={headingRef} tabIndex={-1}>
        New key “{created.name}” ({created.role})
      </h2>
      <p>
        <strong>Copy this key now. You will not see it again:</strong> Apex stores only its hash. Give it to whoever will use it
        over a safe channel.
      </p>
      <label htmlFor="new-key-secret">Secret</label>
      <input
        id="new-key-secret"
        className="secret-value"
        readOnly
        value={created.secret}
        spellCheck={false}
        autoComplete="off"
        onFocus={(e) => e.currentTarget.select()}
      />
      <p className="secret-actions">
        <button type="button" onClick={copy}>
          Copy
        </button>{" "}
        <button type="button" className="primary" onClick={onDismiss}>
          Done, I have stored it
        </button>
      </p>
      <p role="status" aria-live="polite">
        {copyStatus}
      </p>
    </section>
  );
}
