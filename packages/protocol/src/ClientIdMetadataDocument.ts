/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document-00 and -01; MCP 2025-11-25 "Client ID
 * Metadata Documents"): which `client_id`s are document URLs, and what a fetched document must hold.
 */
import { Either } from "effect"
import * as ClientMetadata from "./ClientMetadata.js"
import * as RedirectUri from "./RedirectUri.js"
import * as Syntax from "./Syntax.js"

/** Longer `client_id`s are refused: every client id Tessera stores or compares fits in 255 characters (ADR 0019). */
export const maxUrlLength = 255

/** The largest document read (draft -01 "Client Information Discovery": 5 KB recommended). */
export const maxDocumentBytes = 5 * 1024

export interface UrlOptions {
  /** CONTRACT §1 `TESSERA_DEV_INSECURE_CIMD=1`: `http://127.0.0.1:<port>/...` and `http://localhost:<port>/...` too. */
  readonly allowLoopbackHttp: boolean
}

/**
 * Whether a `client_id` is meant as a document URL: it starts with `https://` or `http://`. Tessera's own client ids
 * never do (draft -01 "Supporting Both Pre-Registered and Unregistered Clients"), so such an id is never looked up
 * among the registered clients.
 */
export const isDocumentUrl = (clientId: string) => /^https?:\/\//i.test(clientId)

const loopbackHosts = new Set(["127.0.0.1", "localhost"])

/** Why a `client_id` URL cannot name a document (draft -00 "Client Identifier"), or undefined when it can. */
export const urlProblem = (clientId: string, options: UrlOptions): string | undefined => {
  if (clientId.length > maxUrlLength) return `must be at most ${maxUrlLength} characters`
  // RFC 3986 §3: the syntax, checked on the string itself (the WHATWG parser would repair it silently)
  if (!RedirectUri.isUriSyntax(clientId)) return "must be a URL"
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    return "must be a URL"
  }
  const loopbackHttp = url.protocol === "http:" && loopbackHosts.has(url.hostname) && clientId.startsWith("http://")
  // draft -00 "Client Identifier": MUST use the https scheme
  if (!(clientId.startsWith("https://") && url.protocol === "https:") && !(options.allowLoopbackHttp && loopbackHttp)) {
    return "must be an https URL"
  }
  // draft -00: MUST NOT contain a fragment or a username or password
  if (clientId.includes("#")) return "must not have a fragment"
  if (/^https?:\/\/[^/]*@/i.test(clientId)) return "must not have a username or password"
  // draft -00: MUST contain a path component; MUST NOT contain single-dot or double-dot path segments
  const path = /^https?:\/\/[^/?]*([^?]*)/i.exec(clientId)?.[1] ?? ""
  if (path === "" || path === "/") return "must have a path"
  if (path.split("/").some((segment) => segment === "." || segment === ".." || /^(%2e|\.){1,2}$/i.test(segment))) {
    return "must not have . or .. path segments"
  }
  // draft -00: SHOULD NOT include a query string component; Tessera refuses one (ADR 0019)
  if (clientId.includes("?")) return "must not have a query"
  return undefined
}

/** Auth methods a document may declare: no shared secret can be in a public document (draft -00 "Client Metadata"). */
const documentMethods: ReadonlyArray<string> = ["none", "private_key_jwt"]

/** Grant types a document may declare: the code flow and its refresh tokens. */
const documentGrants: ReadonlyArray<string> = ["authorization_code", "refresh_token"]

/**
 * Tessera's own client metadata, which only the owner sets: a document cannot make itself an agent, pick resources, or
 * name the authorization servers it gets ID-JAGs for (CONTRACT §5 "ID-JAG", ADR 0048).
 */
const ownerOnly = ["principal_type", "resources", "id_jag_targets"]

/**
 * Validates a fetched document for `clientId` (draft -00 "Client Metadata", MCP "Client ID Metadata Documents"):
 * a JSON object whose `client_id` is `clientId` by simple string comparison (RFC 3986 §6.2.1), with `client_name`
 * and `redirect_uris`, no `client_secret` or `client_secret_expires_at`, `token_endpoint_auth_method` `none` (the
 * default here) or `private_key_jwt` with `jwks`/`jwks_uri`, grant types within `authorization_code` and
 * `refresh_token`; then the RFC 7591 rules of `ClientMetadata.validate`. Tessera-only members are ignored. The
 * failure is a fixed description naming the member, never the document's own values.
 */
export const validate = (clientId: string, body: unknown): Either.Either<ClientMetadata.ClientMetadata, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return Either.left("the document must be a JSON object")
  // CONTRACT §2: a document anyone may publish; nesting no metadata field has is refused before it is walked
  if (!Syntax.isShallowJson(body)) return Either.left(`the document nests deeper than ${Syntax.maxJsonDepth} levels`)
  // CONTRACT §2: a document anyone may publish; a NUL or lone surrogate in any of its strings fits no store
  if (!Syntax.isStorableJson(body)) return Either.left("the document must not contain NUL characters or unpaired surrogates")
  const doc = body as Record<string, unknown>
  // draft -00: the client_id property MUST match the URL of the document, by simple string comparison
  if (doc["client_id"] !== clientId) return Either.left("the document's 'client_id' must be its own URL")
  // MCP 2025-11-25: client_name and redirect_uris are required
  if (typeof doc["client_name"] !== "string" || doc["client_name"].trim() === "") return Either.left("the document must have a 'client_name'")
  if (!Array.isArray(doc["redirect_uris"]) || doc["redirect_uris"].length === 0) return Either.left("the document must have 'redirect_uris'")
  // draft -00: client_secret and client_secret_expires_at MUST NOT be used; nor a method based on a shared secret
  if ("client_secret" in doc || "client_secret_expires_at" in doc) return Either.left("the document must not hold a 'client_secret'")
  const method = doc["token_endpoint_auth_method"] ?? "none"
  if (typeof method !== "string" || !documentMethods.includes(method)) {
    return Either.left("the document's 'token_endpoint_auth_method' must be 'none' or 'private_key_jwt'")
  }
  const grants = doc["grant_types"] ?? ["authorization_code"]
  if (Array.isArray(grants) && !grants.every((g) => typeof g === "string" && documentGrants.includes(g))) {
    return Either.left("the document's 'grant_types' may hold only 'authorization_code' and 'refresh_token'")
  }
  const cleaned = Object.fromEntries(Object.entries(doc).filter(([name]) => name !== "client_id" && !ownerOnly.includes(name)))
  return Either.mapLeft(
    ClientMetadata.validate({ ...cleaned, token_endpoint_auth_method: method }),
    (e) => `the document's metadata is not valid: ${e.error_description ?? e.error}`
  )
}
