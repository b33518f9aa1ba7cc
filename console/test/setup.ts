// Testing Library's DOM matchers (toBeInTheDocument, toHaveAccessibleName, ...) and cleanup after each test.
import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});
