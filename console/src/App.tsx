/** The console's screens and who may reach them; everything but sign-in needs a session. */
import { useEffect, useState } from "react";
import { Navigate, Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { ErrorState, Loading } from "./components/states";
import { ApprovalsPage } from "./pages/ApprovalsPage";
import { BudgetsPage } from "./pages/BudgetsPage";
import { CostPage } from "./pages/CostPage";
import { DagPage } from "./pages/DagPage";
import { DagsPage } from "./pages/DagsPage";
import { KeysPage } from "./pages/KeysPage";
import { SignInPage } from "./pages/SignInPage";
import { SubmitPage } from "./pages/SubmitPage";
import { useSessionState } from "./session";

export function App() {
  const { session, resume } = useSessionState();
  const [resuming, setResuming] = useState<"yes" | "no" | { error: unknown }>("yes");

  useEffect(() => {
    resume().then(
      () => setResuming("no"),
      (error: unknown) => setResuming({ error }),
    );
  }, [resume]);

  if (!session) {
    if (resuming === "yes") return <Loading label="Checking your session" />;
    if (typeof resuming === "object") {
      return (
        <main id="main">
          <ErrorState title="Could not restore your session" error={resuming.error} onRetry={() => setResuming("no")} />
        </main>
      );
    }
    return <SignInPage />;
  }

  const home = session.can("dags:read") ? "/dags" : "/approvals";
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to={home} replace />} />
        <Route path="dags" element={<DagsPage />} />
        <Route path="dags/:id" element={<DagPage />} />
        <Route path="submit" element={<SubmitPage />} />
        <Route path="approvals" element={<ApprovalsPage />} />
        <Route path="cost" element={<CostPage />} />
        <Route path="budgets" element={<BudgetsPage />} />
        <Route path="keys" element={<KeysPage />} />
        <Route path="*" element={<Navigate to={home} replace />} />
      </Route>
    </Routes>
  );
}
