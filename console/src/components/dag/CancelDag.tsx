/** Cancelling a DAG, with a confirmation step: running tasks are aborted, the rest cancelled. */
import { useEffect, useRef, useState } from "react";
import { describeError } from "../states";

export function CancelDag({ dagName, cancel, onCancelled }: { dagName: string; cancel(): Promise<unknown>; onCancelled(): void }) {
  const [step, setStep] = useState<"idle" | "confirm" | "cancelling">("idle");
  const [error, setError] = useState<unknown>();
  const startRef = useRef<HTMLButtonElement>(null);
  const [backFromConfirm, setBackFromConfirm] = useState(false);

  // "Keep it running" puts the Cancel button back; focus goes back to it, not to the page's top.
  useEffect(() => {
    if (step === "idle" && backFromConfirm) startRef.current?.focus();
  }, [step, backFromConfirm]);

  const confirm = async () => {
    setStep("cancelling");
    setError(undefined);
    try {
      await cancel();
      setStep("idle");
      onCancelled();
    } catch (e) {
      setError(e);
      setStep("confirm");
    }
  };

  if (step === "idle") {
    return (
      <button ref={startRef} type="button" className="danger" onClick={() => setStep("confirm")}>
        Cancel DAG
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-labelledby="cancel-dag-question">
      <p id="cancel-dag-question">
        Cancel <strong>{dagName}</strong>? Running tasks are aborted and the others will not run. This cannot be undone.
      </p>
      {error ? (
        <p className="field-error" role="alert">
          Could not cancel: {describeError(error)}
        </p>
      ) : null}
      {/* The confirmation replaces the button that had focus, so focus moves into it. */}
      <button type="button" className="danger" autoFocus onClick={() => void confirm()} disabled={step === "cancelling"}>
        {step === "cancelling" ? "Cancelling…" : "Yes, cancel DAG"}
      </button>{" "}
      <button
        type="button"
        onClick={() => {
          setBackFromConfirm(true);
          setStep("idle");
        }}
        disabled={step === "cancelling"}
      >
        Keep it running
      </button>
    </div>
  );
}
