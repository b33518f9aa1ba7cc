/**
 * A throwaway self-signed CA (CN apex-test-cluster-ca, key discarded) standing in for a cluster's
 * API server CA in prod test runs: apex:vault.kubernetesCaCert must parse as X.509.
 */
export const TEST_CLUSTER_CA = `-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUXaFkyn+DFKMaEtgRQdhNpLDawCgwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUYXBleC10ZXN0LWNsdXN0ZXItY2EwIBcNMjYxMjA4MDAzNTA1
WhgPMjEyNjExMTQwMDM1MDVaMB8xHTAbBgNVBAMMFGFwZXgtdGVzdC1jbHVzdGVy
LWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGeahbUPMgf/kjKIR/lVyMHJ8
8O7PIrtKByk2bRbcToGB+RDAV3Uwqv5+Ru3PLmBL/HPNYxj9y/nP0H9cZowlmaNT
MFEwHQYDVR0OBBYEFBvRye91YhfjYdRzeLaEbol6IwruMB8GA1UdIwQYMBaAFBvR
ye91YhfjYdRzeLaEbol6IwruMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SQAwRgIhAIWgwiJK7eQVeP/MsEVGigqfr3cjsWdB9RBYomTFJ9KgAiEA0rh0g0+1
f+0ApJk01k/q7I3XVnImgZybm1R4YGhBOwo=
-----END CERTIFICATE-----
`;

/** apex:vault.kubernetesHost of the prod test runs. */
export const TEST_KUBERNETES_HOST = "https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com";
