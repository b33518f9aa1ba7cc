/** Placeholder until this screen is built. */
export function KeysPage() {
  return <h1>API keys</h1>;
}
