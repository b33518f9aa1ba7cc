import { describe, expect, it } from "vitest";
import { DockerSandboxDriver, KubernetesSandboxDriver, LocalSandboxDriver, createSandboxDriver } from "../src/sandbox";

describe("createSandboxDriver", () => {
  it("builds each driver by name", () => {
    expect(createSandboxDriver("local", { hardened: "off" })).toBeInstanceOf(LocalSandboxDriver);
    expect(createSandboxDriver("docker", { socketPath: "/nonexistent.sock" })).toBeInstanceOf(DockerSandboxDriver);
    const k = createSandboxDriver("kubernetes", { image: "apex-sandbox:1", connection: { server: "http://127.0.0.1:1" } });
    expect(k).toBeInstanceOf(KubernetesSandboxDriver);
    expect(k.name).toBe("kubernetes");
    k.close();
  });

  it("names what is missing or unknown", () => {
    expect(() => createSandboxDriver("kubernetes", { image: "" })).toThrow(/options\.image/);
    expect(() => createSandboxDriver("firecracker" as "local")).toThrow(/unknown sandbox driver "firecracker"/);
  });
});
