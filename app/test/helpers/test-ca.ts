/**
 * Throwaway X.509 material for TLS tests, made with the openssl CLI in a directory of the caller's:
 * self-signed CAs and server certificates for DNS name `localhost` signed by one of them.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A self-signed CA: `<dir>/<name>.key` and `<dir>/<name>.pem`; returns the certificate's path. */
export async function makeCa(dir: string, name: string, cn: string): Promise<string> {
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${cn}`, "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)]);
  return join(dir, `${name}.pem`);
}

/** A server certificate for DNS name `localhost` only (no IP), signed by the CA `caName` of makeCa. */
export async function makeServerCert(dir: string, caName: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const cert = join(dir, "server.crt");
  const ext = join(dir, "server.ext");
  writeFileSync(ext, "subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n");
  await run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", key, "-out", csr]);
  await run("openssl", ["x509", "-req", "-in", csr, "-CA", join(dir, `${caName}.pem`), "-CAkey", join(dir, `${caName}.key`), "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert]);
  return { cert, key };
}
