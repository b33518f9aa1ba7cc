/* eslint-disable @typescript-eslint/no-explicit-any */
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { grafanaOidcEnv, grafanaSpec, type GrafanaOidc } from "../../components/observability/grafana";
import { apexDatasources, datasourceUids } from "../../components/observability/grafana-datasources";
import {
  dashboardProvidersFile,
  datasourcesFile,
  grafanaFolderUid,
  grafanaProvisioningPaths,
  grafanaProvisioningVolumes,
  provisioningFile,
} from "../../components/observability/grafana-provisioning";
import { apexDashboards } from "../../dashboards";
import { datasourceFileProblems, grafanaInterpolate, interpolated, providerFileProblems } from "./provisioning";

const URLS = { prometheus: "http://prometheus:9090", loki: "http://loki:3100", jaeger: "http://jaeger:16686" };

describe("Grafana's interpolation of provisioning files (the check the tests rely on)", () => {
  it("expands $VAR, ${VAR} and $__env{VAR}, and keeps $$ as a literal $", () => {
    const env = { HOST: "h", PORT: "1" };
    expect(grafanaInterpolate("http://$HOST:${PORT}/$__env{PORT}", env)).toBe("http://h:1/1");
    expect(grafanaInterpolate("${__value.raw}")).toBe("");
    expect(grafanaInterpolate("$${__value.raw}")).toBe("${__value.raw}");
  });
});

describe("datasources/apex.yaml", () => {
  const text = datasourcesFile(URLS);
  const file = parse(text);

  it("is a v1 data source file Grafana loads: only fields it reads, one default", () => {
    expect(datasourceFileProblems(text)).toEqual([]);
    expect(file.apiVersion).toBe(1);
  });

  it("holds the three data sources with their stable uids, URLs and trace links, as Grafana sees them after interpolation", () => {
    const seen = interpolated(file.datasources) as any[];
    expect(seen.map((d) => [d.uid, d.type, d.url, d.access, d.isDefault, d.editable])).toEqual([
      [datasourceUids.prometheus, "prometheus", URLS.prometheus, "proxy", true, false],
      [datasourceUids.loki, "loki", URLS.loki, "proxy", false, false],
      [datasourceUids.jaeger, "jaeger", URLS.jaeger, "proxy", false, false],
    ]);
    // Same jsonData as the API path gives an external Grafana: the template variables arrive intact.
    expect(seen.map((d) => d.jsonData)).toEqual(apexDatasources(URLS).map((d) => d.jsonData));
    const loki = seen.find((d) => d.type === "loki");
    expect(loki.jsonData.derivedFields[0]).toMatchObject({ datasourceUid: datasourceUids.jaeger, url: "${__value.raw}" });
    expect(seen.find((d) => d.type === "jaeger").jsonData.tracesToLogsV2.query).toContain('trace_id="${__trace.traceId}"');
    expect(seen.find((d) => d.type === "prometheus").jsonData.exemplarTraceIdDestinations).toEqual([{ name: "trace_id", datasourceUid: datasourceUids.jaeger }]);
  });

  it("would lose the template variables if written unescaped (what the escaping prevents)", () => {
    const naive = interpolated(parse(stringify({ datasources: apexDatasources(URLS) })).datasources) as any[];
    expect(naive.find((d) => d.type === "loki").jsonData.derivedFields[0].url).toBe("");
  });

  it("holds nothing secret: no credentials, no secureJsonData", () => {
    for (const d of file.datasources) {
      expect(d.secureJsonData).toBeUndefined();
      expect(d.basicAuth).toBeUndefined();
      expect(d.user).toBeUndefined();
    }
  });
});

describe("dashboards/apex.yaml", () => {
  it("is one file provider reading the dashboards path into the folder of grafana.folder, read-only in the UI", () => {
    const text = dashboardProvidersFile("Apex");
    expect(providerFileProblems(text)).toEqual([]);
    const [provider] = parse(text).providers;
    expect(provider).toMatchObject({
      type: "file",
      folder: "Apex",
      folderUid: grafanaFolderUid,
      allowUiUpdates: false,
      disableDeletion: true,
      options: { path: grafanaProvisioningPaths.dashboards, foldersFromFilesStructure: false },
    });
  });

  it("keeps a folder title with a $ as written", () => {
    const [provider] = parse(dashboardProvidersFile("Apex $team")).providers;
    expect(grafanaInterpolate(provider.folder)).toBe("Apex $team");
  });
});

describe("the provisioning volumes", () => {
  const dashboards = apexDashboards();
  const volumes = grafanaProvisioningVolumes({ datasources: URLS, folderTitle: "Apex", dashboards });
  const byPath = Object.fromEntries(volumes.map((v) => [v.mountPath, v]));

  it("mount the data sources and the provider into Grafana's provisioning folders, the dashboards where the provider reads", () => {
    expect(volumes.every((v) => v.kind === "config")).toBe(true);
    expect(Object.keys(byPath).sort()).toEqual(Object.values(grafanaProvisioningPaths).sort());
    const files = (path: string) => (byPath[path] as { files: Record<string, string> }).files;
    expect(Object.keys(files(grafanaProvisioningPaths.datasources))).toEqual([provisioningFile]);
    const provider = parse(files(grafanaProvisioningPaths.dashboardProviders)[provisioningFile]!).providers[0];
    expect(byPath[provider.options.path]).toBeDefined();
  });

  it("carry every dashboard as parseable JSON named after its uid", () => {
    const files = (byPath[grafanaProvisioningPaths.dashboards] as { files: Record<string, string> }).files;
    expect(Object.keys(files).sort()).toEqual(dashboards.map((d) => `${d.uid}.json`).sort());
    for (const [file, json] of Object.entries(files)) expect(`${JSON.parse(json).uid}.json`).toBe(file);
    // Each lands as a ConfigMap key `<volume>.<file>` on Kubernetes and a volume name on Docker.
    for (const v of volumes) {
      expect(v.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (v.kind === "config") for (const f of Object.keys(v.files)) expect(`${v.name}.${f}`).toMatch(/^[-._a-zA-Z0-9]+$/);
    }
  });

  it("put the dashboards in a volume named after their file set, so a removed dashboard does not linger in Docker's named volume", () => {
    const name = (ds: typeof dashboards) => grafanaProvisioningVolumes({ datasources: URLS, folderTitle: "Apex", dashboards: ds }).find((v) => v.mountPath === grafanaProvisioningPaths.dashboards)!.name;
    expect(name(dashboards)).toMatch(/^dashboards-[0-9a-f]{8}$/);
    expect(name([...dashboards].reverse())).toBe(name(dashboards));
    expect(name(dashboards.map((d) => ({ ...d, json: d.json.replace('"title"', '"description": "edited", "title"') })))).toBe(name(dashboards));
    expect(name(dashboards.slice(1))).not.toBe(name(dashboards));
  });

  it("refuse two dashboards rendering to one file", () => {
    expect(() => grafanaProvisioningVolumes({ datasources: URLS, folderTitle: "Apex", dashboards: [dashboards[0]!, dashboards[0]!] })).toThrow(/two dashboards render to/);
  });
});

describe("Grafana sign-in through OIDC", () => {
  const oidc: GrafanaOidc = {
    name: "Okta",
    authUrl: "https://login.example.com/oauth2/v1/authorize",
    tokenUrl: "https://login.example.com/oauth2/v1/token",
    apiUrl: "https://login.example.com/oauth2/v1/userinfo",
    clientId: "apex-grafana",
    scopes: ["openid", "profile", "email", "groups"],
    roleAttributePath: "contains(groups[*], 'apex-admins') && 'Admin' || 'Viewer'",
    roleAttributeStrict: true,
    groupsAttributePath: "groups",
    allowedGroups: ["apex-admins", "Apex Viewers"],
    autoLogin: false,
    disableLoginForm: false,
    usePkce: true,
  };

  it("renders Grafana's generic OAuth settings, the local admin form kept", () => {
    expect(grafanaOidcEnv(oidc)).toEqual({
      GF_AUTH_GENERIC_OAUTH_ENABLED: "true",
      GF_AUTH_GENERIC_OAUTH_NAME: "Okta",
      GF_AUTH_GENERIC_OAUTH_CLIENT_ID: "apex-grafana",
      GF_AUTH_GENERIC_OAUTH_SCOPES: "openid profile email groups",
      GF_AUTH_GENERIC_OAUTH_AUTH_URL: oidc.authUrl,
      GF_AUTH_GENERIC_OAUTH_TOKEN_URL: oidc.tokenUrl,
      GF_AUTH_GENERIC_OAUTH_API_URL: oidc.apiUrl,
      GF_AUTH_GENERIC_OAUTH_USE_PKCE: "true",
      GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP: "true",
      GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH: oidc.roleAttributePath,
      GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT: "true",
      GF_AUTH_GENERIC_OAUTH_ALLOW_ASSIGN_GRAFANA_ADMIN: "false",
      GF_AUTH_GENERIC_OAUTH_GROUPS_ATTRIBUTE_PATH: "groups",
      GF_AUTH_GENERIC_OAUTH_ALLOWED_GROUPS: '["apex-admins","Apex Viewers"]',
      GF_AUTH_GENERIC_OAUTH_AUTO_LOGIN: "false",
      GF_AUTH_DISABLE_LOGIN_FORM: "false",
    });
  });

  it("takes the client secret by reference, never as plain env", () => {
    const clientSecret = { secret: "apex-observability", key: "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET" };
    const spec = grafanaSpec({ image: "grafana/grafana:10.2.3", adminPassword: { secret: "apex-observability", key: "GF_SECURITY_ADMIN_PASSWORD" }, rootUrl: "https://grafana.example.com", storageSize: "1Gi", publishPort: false, oidc: { settings: oidc, clientSecret } });
    expect(spec.secretEnv?.GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET).toEqual(clientSecret);
    expect(Object.keys(spec.env ?? {})).not.toContain("GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET");
    expect(spec.env?.GF_SECURITY_ADMIN_USER).toBe("admin");
  });
});
