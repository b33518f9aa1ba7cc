/** Placeholder until this screen is built. */
export function ApprovalsPage() {
  return <h1>Approvals</h1>;
}
