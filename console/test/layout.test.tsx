import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Layout } from "../src/components/Layout";
import { renderScreen } from "./render";

describe("Layout", () => {
  it("shows each role only the screens its permissions reach", () => {
    renderScreen(<Layout />, { role: "viewer" });
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(nav).toHaveTextContent("DAGs");
    expect(nav).toHaveTextContent("Approvals");
    expect(nav).toHaveTextContent("Budgets");
    expect(nav).not.toHaveTextContent("API keys");
    expect(nav).not.toHaveTextContent("Submit a DAG");
  });

  it("gives admins the key management screen", () => {
    renderScreen(<Layout />, { role: "admin" });
    expect(screen.getByRole("link", { name: "API keys" })).toBeInTheDocument();
  });
});
