/** Placeholder until this screen is built. */
export function DagPage() {
  return <h1>DAG</h1>;
}
