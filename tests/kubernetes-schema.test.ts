import { beforeAll, describe, expect, it } from "vitest";
import { runStack, type RecordedResource, type StackRun } from "./harness";
import { isValidatable, modelModuleFor, validateKubernetesObject } from "./harness/kubernetes-schema";

let prod: StackRun;
let objects: RecordedResource[];

beforeAll(async () => {
  prod = await runStack({ stack: "prod" });
  objects = prod.resources.filter((r) => r.type.startsWith("kubernetes:") && isValidatable(r.type));
});

describe("Kubernetes objects of the prod stack against the OpenAPI schema", () => {
  it("records the foundation's kinds", () => {
    const kinds = new Set(objects.map((r) => r.type.split(":").pop()));
    for (const kind of ["Namespace", "Secret", "ServiceAccount", "Deployment", "StatefulSet", "Service",
      "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Ingress"]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it("every object is valid for its apiVersion/kind", () => {
    const failures: string[] = [];
    for (const r of objects) {
      try {
        validateKubernetesObject(r);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    expect(failures).toEqual([]);
  });

  it("the validator rejects an invalid object (so the check above can fail)", () => {
    const deployment = prod.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === "apex-api");
    const broken = JSON.parse(JSON.stringify(deployment)) as RecordedResource;
    broken.inputs.spec.template.spec.containers[0].ports[0].containerPort = "eighty";
    expect(() => validateKubernetesObject(broken)).toThrow(/containerPort must be integer/);
    const noSelector = JSON.parse(JSON.stringify(deployment)) as RecordedResource;
    delete noSelector.inputs.spec.selector;
    expect(() => validateKubernetesObject(noSelector)).toThrow(/selector/);
  });

  it("maps type tokens to the model modules", () => {
    expect(modelModuleFor("kubernetes:core/v1:Service")).toBe("kubernetes-models/v1/Service");
    expect(modelModuleFor("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")).toBe("kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler");
    expect(modelModuleFor("kubernetes:networking.k8s.io/v1:NetworkPolicy")).toBe("kubernetes-models/networking.k8s.io/v1/NetworkPolicy");
    expect(modelModuleFor("pulumi:providers:kubernetes")).toBeUndefined();
  });
});
