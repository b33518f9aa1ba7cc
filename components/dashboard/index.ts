/** apex-dashboard, the operator console: its component, its config wiring and the API's links to Jaeger and Grafana. */
export { apiUpstream, Dashboard, DASHBOARD_DOCKERFILE, DASHBOARD_HEALTH_PATH, DASHBOARD_USER, dashboardEnv, dashboardSpec, type DashboardArgs } from "./dashboard";
export { dashboardFromConfig } from "./from-config";
export { browserUiUrls, consoleLinkEnv, consoleLinkTemplates, dagLogQuery, LOGS_LINK_RANGE, type BrowserUiUrls, type ConsoleLinkTemplates } from "./links";
