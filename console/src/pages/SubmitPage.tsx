/** Placeholder until this screen is built. */
export function SubmitPage() {
  return <h1>Submit a DAG</h1>;
}
