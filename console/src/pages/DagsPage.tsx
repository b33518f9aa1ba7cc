/** Placeholder until this screen is built. */
export function DagsPage() {
  return <h1>DAGs</h1>;
}
