/** Placeholder until this screen is built. */
export function CostPage() {
  return <h1>Cost</h1>;
}
