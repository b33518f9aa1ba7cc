/**
 * The API's error model, shared by both transports: one code list, and the one place where codes
 * (including the service's ServiceError codes) map to HTTP statuses and gRPC status codes.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { ZodError } from "zod";
import { ServiceError } from "../service/types";
import { isDatabaseUnavailable } from "../store/db-errors";

export const apiErrorCodes = [
  "invalid_argument",
  "unauthenticated",
  "permission_denied",
  "not_found",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  /** A rate limit or the cap on open watches (api/rate-limit.ts): 429 with Retry-After. */
  "resource_exhausted",
  "unavailable",
  "internal",
] as const;

export type ApiErrorCode = (typeof apiErrorCodes)[number];

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** The request field at fault, e.g. `tasks[2].depends_on`. */
    readonly field?: string,
    /** When to try again (HTTP `Retry-After`, gRPC `retry-after` metadata), in whole seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const httpStatusOf: Readonly<Record<ApiErrorCode, number>> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  resource_exhausted: 429,
  unavailable: 503,
  internal: 500,
};

export const grpcStatusOf: Readonly<Record<ApiErrorCode, GrpcStatus>> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  not_found: GrpcStatus.NOT_FOUND,
  // Our conflicts are state conflicts (already decided, last admin key), not duplicates.
  conflict: GrpcStatus.FAILED_PRECONDITION,
  payload_too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  unsupported_media_type: GrpcStatus.INVALID_ARGUMENT,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
  internal: GrpcStatus.INTERNAL,
};

/** `tasks.2.depends_on` as `tasks[2].depends_on`. */
export function fieldPath(path: readonly PropertyKey[]): string | undefined {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? undefined : out;
}

/** Turns a ZodError into an invalid_argument naming the first offending field. */
export function fromZodError(error: ZodError, prefix?: string): ApiError {
  const issue = error.issues[0];
  // An unknown key is reported on its parent object; name the key itself.
  const unknownKey = issue?.code === "unrecognized_keys" ? issue.keys[0] : undefined;
  const path = [...(prefix ? [prefix] : []), ...(issue?.path ?? []), ...(unknownKey === undefined ? [] : [unknownKey])];
  const field = fieldPath(path);
  const message = issue ? (field ? `${field}: ${issue.message}` : issue.message) : "invalid request";
  return new ApiError("invalid_argument", message, field);
}

/** `Retry-After` of a 503 for an unreachable database: about when a restart or failover is over. */
export const databaseRetryAfterSeconds = 2;

/** The answer to any request that needed the database while it was unreachable (store/db-errors.ts). */
export function databaseUnavailable(): ApiError {
  return new ApiError("unavailable", "the database is unavailable; retry later", undefined, databaseRetryAfterSeconds);
}

/** Seconds for `Retry-After`: the error's own, else the database's for any `unavailable`. */
export function retryAfterOf(error: ApiError): number | undefined {
  return error.retryAfterSeconds ?? (error.code === "unavailable" ? databaseRetryAfterSeconds : undefined);
}

/**
 * Any thrown value as an ApiError. Errors that are not ours become `internal` with a generic
 * message: their text may carry SQL, hostnames or secrets and is for the logs only.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ServiceError) {
    return new ApiError(error.code, error.message, error.field);
  }
  if (error instanceof ZodError) return fromZodError(error);
  if (isDatabaseUnavailable(error)) return databaseUnavailable();
  return new ApiError("internal", "internal error");
}

/** The JSON error body of both transports' documentation: `{"error": {code, message, field?}}`. */
export function errorBody(error: ApiError): { error: { code: ApiErrorCode; message: string; field?: string } } {
  return { error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } };
}
