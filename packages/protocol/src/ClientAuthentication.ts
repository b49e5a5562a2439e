/** Client credentials on a request: RFC 6749 §2.3 and §2.3.1, RFC 7521 §4.2, RFC 7523 §2.2 and §3, OIDC Core §9. */
import { Data, Either, Redacted } from "effect"
import * as ErrorResponse from "./ErrorResponse.js"
import * as Form from "./Form.js"
import * as Syntax from "./Syntax.js"

/** RFC 7523 §2.2: the only `client_assertion_type` Tessera accepts. */
export const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/**
 * The credentials a client presented, not yet checked against its registration. Secrets are `Redacted` so they
 * never reach a log.
 */
export type ClientAuthentication = Data.TaggedEnum<{
  /** RFC 6749 §2.3.1: HTTP Basic (`client_secret_basic`). */
  Basic: { readonly clientId: string; readonly clientSecret: Redacted.Redacted<string> }
  /** RFC 6749 §2.3.1: `client_id` and `client_secret` in the form (`client_secret_post`). */
  Post: { readonly clientId: string; readonly clientSecret: Redacted.Redacted<string> }
  /**
   * RFC 7523 §2.2 (`private_key_jwt`): `clientId` is the form's `client_id` or, without one, the assertion's
   * unverified `sub` (RFC 7523 §3: for client authentication the subject MUST be the client_id). It only says
   * which client's keys to verify the assertion with.
   */
  Assertion: { readonly clientId: string; readonly assertion: string }
  /** RFC 6749 §2.1 and §3.2.1: a public client names itself with `client_id` only (`none`). */
  None: { readonly clientId: string }
}>
/** Constructors, `$is` and `$match` for `ClientAuthentication`. */
export const ClientAuthentication = Data.taggedEnum<ClientAuthentication>()

/** What `extract` reads: the `Authorization` header (if any) and the parsed form body. */
export interface Request {
  readonly authorization?: string | undefined
  readonly params: Form.Params
}

/** RFC 7617 §2: the `WWW-Authenticate` challenge naming the Basic scheme; `realm` is a quoted-string (RFC 9110 §5.6.4). */
export const challenge = (realm: string) => `Basic realm="${realm.replace(/[\\"]/g, "\\$&")}"`

/**
 * RFC 6749 §5.2: `invalid_client` with 401 and a Basic challenge. The status is a MUST when the client tried the
 * Authorization header and a MAY otherwise; Tessera always answers 401 so every refusal names the scheme it accepts.
 * Use it too when the domain rejects the credentials. `description` says what was wrong, for a log: an authorization
 * server that answers it on the wire tells a prober which client ids exist and how they authenticate, so Tessera
 * answers every client authentication failure with one description (server-node `ClientCredentials.invalidClient`).
 */
export const invalidClient = (realm: string, description?: string) =>
  new ErrorResponse.ErrorResponse({
    error: "invalid_client",
    ...(description !== undefined ? { error_description: description } : {}),
    status: 401,
    wwwAuthenticate: challenge(realm)
  })

type Result<A> = Either.Either<A, ErrorResponse.ErrorResponse>

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Node's Buffer, when the platform has it: it decodes base64 without a string of bytes in between. */
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer

/** Standard base64 (RFC 4648 §4; padding optional) to UTF-8 text, or undefined; the caller checked the alphabet. */
const fromBase64 = (b64: string): string | undefined => {
  try {
    // as atob: a length of 1 modulo 4 (padding aside) is not base64
    if (NodeBuffer !== undefined) return b64.replace(/=+$/, "").length % 4 === 1 ? undefined : utf8.decode(NodeBuffer.from(b64, "base64"))
    return utf8.decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)))
  } catch {
    return undefined
  }
}

/** RFC 6749 Appendix B: form-url-decoding, strict like `Form`. */
const formDecode = (s: string): string | undefined => {
  if (!s.includes("%") && !s.includes("+")) return s
  try {
    return decodeURIComponent(s.replaceAll("+", " "))
  } catch {
    return undefined
  }
}

// RFC 9110 §11.1 and §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
const credentials = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/s
// RFC 7617 §2: the Basic credentials are base64 (RFC 4648 §4), padding optional
const base64 = /^[A-Za-z0-9+/]+={0,2}$/

const basic = (header: string, realm: string): Result<{ readonly clientId: string; readonly clientSecret: string }> => {
  const malformed = () => Either.left(invalidClient(realm, "the Basic credentials are malformed"))
  const match = credentials.exec(header)
  // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6749 §2.3.1: Tessera's header scheme is Basic
  if (match === null || match[1]!.toLowerCase() !== "basic") {
    return Either.left(invalidClient(realm, "the Authorization header must use the Basic scheme"))
  }
  const token = match[2]
  if (token === undefined || !base64.test(token)) return malformed()
  const decoded = fromBase64(token)
  // RFC 7617 §2: user-pass = user-id ":" password
  const colon = decoded?.indexOf(":") ?? -1
  if (decoded === undefined || colon === -1) return malformed()
  // RFC 6749 §2.3.1: the client identifier and password are each form-url-encoded before Basic encoding
  const clientId = formDecode(decoded.slice(0, colon))
  const clientSecret = formDecode(decoded.slice(colon + 1))
  // RFC 6749 Appendix A.1 and A.2: client-id and client-secret are VSCHAR; an empty one names nobody
  if (clientId === undefined || clientSecret === undefined || !Syntax.isVsChars(clientId) || !Syntax.isVsChars(clientSecret)) {
    return malformed()
  }
  return Either.right({ clientId, clientSecret })
}

/** The `sub` of a compact JWS's payload, unverified, or undefined. */
const subjectOf = (jws: string): string | undefined => {
  const payload = jws.split(".")[1]!
  // RFC 7515 §2: base64url without padding; anything else in the alphabet is not a JWS payload
  if (!/^[A-Za-z0-9_-]*$/.test(payload)) return undefined
  const text = fromBase64(payload.replaceAll("-", "+").replaceAll("_", "/"))
  if (text === undefined) return undefined
  try {
    const claims: unknown = JSON.parse(text)
    const sub = typeof claims === "object" && claims !== null ? (claims as Record<string, unknown>)["sub"] : undefined
    return typeof sub === "string" && Syntax.isVsChars(sub) ? sub : undefined
  } catch {
    return undefined
  }
}

const vsChars = (name: string) => (value: string | undefined): Result<string | undefined> =>
  // RFC 6749 Appendix A.1 and A.2: client-id = *VSCHAR, client-secret = *VSCHAR
  value === undefined || Syntax.isVsChars(value)
    ? Either.right(value)
    : Either.left(ErrorResponse.invalidRequest(`'${name}' must contain only printable ASCII characters`))

/**
 * Finds the one way the client authenticated. `realm` goes into the Basic challenge of `invalid_client` errors
 * (e.g. the realm's issuer). No credentials at all is `invalid_client` (RFC 6749 §5.2: "no client authentication
 * included"); more than one method is `invalid_request` (RFC 6749 §2.3).
 */
export const extract = (request: Request, realm: string): Result<ClientAuthentication> =>
  Either.gen(function*() {
    const { params } = request
    const clientId = yield* Either.flatMap(Form.single(params, "client_id"), vsChars("client_id"))
    const clientSecret = yield* Either.flatMap(Form.single(params, "client_secret"), vsChars("client_secret"))
    const assertion = yield* Form.single(params, "client_assertion")
    const assertionType = yield* Form.single(params, "client_assertion_type")

    const usesHeader = request.authorization !== undefined
    const usesPost = clientSecret !== undefined
    const usesAssertion = assertion !== undefined || assertionType !== undefined
    // RFC 6749 §2.3: the client MUST NOT use more than one authentication method in each request
    if ([usesHeader, usesPost, usesAssertion].filter(Boolean).length > 1) {
      return yield* Either.left(ErrorResponse.invalidRequest("the client must use only one authentication method"))
    }

    if (request.authorization !== undefined) {
      const credentials = yield* basic(request.authorization, realm)
      // RFC 6749 §3.2.1: a client MAY also send client_id; it must name the same client
      if (clientId !== undefined && clientId !== credentials.clientId) {
        return yield* Either.left(ErrorResponse.invalidRequest("'client_id' does not match the Authorization header"))
      }
      return ClientAuthentication.Basic({ clientId: credentials.clientId, clientSecret: Redacted.make(credentials.clientSecret) })
    }

    if (clientSecret !== undefined) {
      // RFC 6749 §2.3.1: client_id REQUIRED with client_secret
      if (clientId === undefined) return yield* Either.left(ErrorResponse.invalidRequest("'client_id' is required"))
      return ClientAuthentication.Post({ clientId, clientSecret: Redacted.make(clientSecret) })
    }

    if (usesAssertion) {
      // RFC 7521 §4.2: client_assertion_type and client_assertion REQUIRED
      if (assertionType === undefined) return yield* Either.left(ErrorResponse.invalidRequest("'client_assertion_type' is required"))
      // RFC 7523 §2.2: the value MUST be urn:ietf:params:oauth:client-assertion-type:jwt-bearer
      if (assertionType !== jwtBearer) return yield* Either.left(invalidClient(realm, "'client_assertion_type' is not supported"))
      if (assertion === undefined) return yield* Either.left(ErrorResponse.invalidRequest("'client_assertion' is required"))
      // RFC 7523 §2.2: the assertion MUST contain a single JWT; Tessera verifies signed ones (RFC 7515 §7.1)
      if (!Syntax.isCompactJws(assertion)) return yield* Either.left(invalidClient(realm, "'client_assertion' must be a compact JWT"))
      const subject = subjectOf(assertion)
      // RFC 7523 §3: for client authentication the subject MUST be the client_id of the OAuth client
      if (subject === undefined) return yield* Either.left(invalidClient(realm, "'client_assertion' must name the client in its sub claim"))
      // RFC 7521 §4.2: client_id is OPTIONAL; when present it must name the same client
      if (clientId !== undefined && clientId !== subject) {
        return yield* Either.left(invalidClient(realm, "'client_assertion' must name the client in its sub claim"))
      }
      return ClientAuthentication.Assertion({ clientId: subject, assertion })
    }

    // RFC 6749 §5.2: invalid_client covers "no client authentication included"
    if (clientId === undefined) return yield* Either.left(invalidClient(realm, "client authentication is required"))
    // RFC 6749 §3.2.1: a public client identifies itself with client_id
    return ClientAuthentication.None({ clientId })
  })
