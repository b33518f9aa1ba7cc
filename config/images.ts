import { bool, imageReference, imageRepository, imageTag, nonEmptyText, section } from "./fields";
import { plainSection } from "./section";

/** Images: the runtime image Pulumi builds (and pushes in prod), the registry it goes to, the data stores' images. */
export const imageSections = {
  images: plainSection({
    description: "The runtime image (built from app/Dockerfile; pushed when `push`) and the Postgres/Redis images.",
    schema: section({
      runtime: section({ repository: imageRepository(), tag: imageTag(), push: bool(), platform: nonEmptyText().optional() }),
      postgres: imageReference(),
      redis: imageReference(),
    }),
    defaults: {
      dev: { runtime: { repository: "apex/runtime", tag: "dev", push: false }, postgres: "postgres:16-alpine", redis: "redis:7-alpine" },
      prod: { runtime: { push: true, platform: "linux/amd64" }, postgres: "postgres:16-alpine", redis: "redis:7-alpine" },
    },
  }),
  registry: plainSection({
    description: "Registry the runtime image is pushed to (prod). The password is the secret `apex:registryPassword`.",
    schema: section({ server: nonEmptyText('a registry host such as "ghcr.io"'), username: nonEmptyText() }).optional(),
  }),
} as const;
