/** The authorization request: OAuth 2.1 §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3, RFC 8707 §2, RFC 9449 §10. */
import { Data, Either } from "effect"
import * as ErrorResponse from "./ErrorResponse.js"
import * as Form from "./Form.js"
import * as RedirectUri from "./RedirectUri.js"
import * as ScopeToken from "./ScopeToken.js"
import * as Syntax from "./Syntax.js"

/** OIDC Core §3.1.2.1: the `prompt` values Tessera knows. */
export const prompts = ["none", "login", "consent", "select_account"] as const
/** One `prompt` value. */
export type Prompt = (typeof prompts)[number]

/** OAuth 2.0 Multiple Response Types §2.1 and Form Post Response Mode §2: how the response reaches the client. */
export const responseModes = ["query", "form_post"] as const
export type ResponseMode = (typeof responseModes)[number]

/** A syntactically valid authorization request; whether the client, redirect URI, scopes and resources are allowed is the domain's call. */
export interface AuthorizationRequest {
  readonly clientId: string
  /** Absent when the client left it out (OAuth 2.1 §4.1.1); the domain matches it against the registration. */
  readonly redirectUri?: string
  readonly responseType: "code"
  /** `query` when absent (OAuth 2.0 Multiple Response Types §5: the default for `code`). */
  readonly responseMode: ResponseMode
  /** Space-separated tokens split and de-duplicated in request order; absent means the client asked for none (RFC 6749 §3.3). */
  readonly scope?: ReadonlyArray<string>
  readonly state?: string
  readonly nonce?: string
  readonly codeChallenge: string
  readonly codeChallengeMethod: "S256"
  /** RFC 8707 §2: every requested resource, de-duplicated in request order; empty when none. */
  readonly resource: ReadonlyArray<string>
  /** OIDC Core §3.1.2.1: de-duplicated; empty when absent. */
  readonly prompt: ReadonlyArray<Prompt>
  /** OIDC Core §3.1.2.1: seconds. */
  readonly maxAge?: number
  readonly loginHint?: string
  readonly acrValues: ReadonlyArray<string>
  readonly uiLocales: ReadonlyArray<string>
  readonly idTokenHint?: string
  /** RFC 9449 §10: the JWK SHA-256 thumbprint of the DPoP key the code will be bound to. */
  readonly dpopJkt?: string
}

/** Why a request was refused, and whether the refusal may go back to the client. */
export type Failure = Data.TaggedEnum<{
  /**
   * OAuth 2.1 §4.1.2.1: the client identifier or redirect URI is missing or invalid, so the user agent MUST NOT be
   * redirected: show `error` on Tessera's error page.
   */
  Page: { readonly error: ErrorResponse.ErrorResponse }
  /**
   * OAuth 2.1 §4.1.2.1: send `error`, `state` (when the request had a valid one) and `iss` (RFC 9207) to the
   * redirect URI by `responseMode`, but only after the domain has matched `clientId` and `redirectUri` to the
   * registration; when they do not match, show the error page instead.
   */
  Redirect: {
    readonly error: ErrorResponse.ErrorResponse
    readonly clientId: string
    readonly redirectUri?: string
    readonly state?: string
    readonly responseMode: ResponseMode
  }
}>
/** Constructors, `$is` and `$match` for `Failure`. */
export const Failure = Data.taggedEnum<Failure>()

const invalid = ErrorResponse.invalidRequest

const check = (ok: boolean, error: () => ErrorResponse.ErrorResponse): Either.Either<void, ErrorResponse.ErrorResponse> =>
  ok ? Either.void : Either.left(error())

/** Reads an optional single parameter and checks its syntax. */
const optional = <A>(
  params: Form.Params,
  name: string,
  read: (value: string) => Either.Either<A, ErrorResponse.ErrorResponse>
): Either.Either<A | undefined, ErrorResponse.ErrorResponse> =>
  Either.flatMap(Form.single(params, name), (value) => value === undefined ? Either.right(undefined) : read(value))

/** Splits a space-separated list; `isItem` refuses empty items, so a doubled space fails too. */
const list = <A extends string = string>(
  value: string,
  isItem: (item: string) => boolean,
  error: () => ErrorResponse.ErrorResponse
): Either.Either<ReadonlyArray<A>, ErrorResponse.ErrorResponse> => {
  const items = value.split(" ")
  return items.every(isItem) ? Either.right([...new Set(items)] as Array<A>) : Either.left(error())
}

const noControl = (name: string) => (value: string) =>
  Syntax.hasControl(value) ? Either.left(invalid(`'${name}' must not contain control characters`)) : Either.right(value)

const vsChars = (name: string) => (value: string) =>
  // RFC 6749 Appendix A: client-id = *VSCHAR, state = 1*VSCHAR
  Syntax.isVsChars(value) ? Either.right(value) : Either.left(invalid(`'${name}' must contain only printable ASCII characters`))

// BCP 47 §2.1, loosely: a primary subtag of letters, then hyphenated alphanumeric subtags
const languageTag = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/

// OIDC Core §3.1.2.1: max_age is a number of seconds; ten digits (over 300 years) is plenty
const seconds = /^[0-9]{1,10}$/

const isPrompt = (s: string): s is Prompt => (prompts as ReadonlyArray<string>).includes(s)
const isResponseMode = (s: string): s is ResponseMode => (responseModes as ReadonlyArray<string>).includes(s)

/** `{ [key]: value }`, or `{}` when the value is undefined (optional fields stay absent, not undefined). */
const present = <K extends string, V>(key: K, value: V | undefined): { readonly [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: V }

/**
 * Checks an authorization request's parameters (from the query of a GET or the form body of a POST, OIDC Core
 * §3.1.2.1). Unrecognized parameters are ignored (RFC 6749 §3.1). Checks run in a fixed order, and the first
 * failure is the answer: client and redirect URI first (`Page`), then response mode and state (so a later
 * `Redirect` can use them), then every other parameter.
 */
export const decode = (params: Form.Params): Either.Either<AuthorizationRequest, Failure> =>
  Either.gen(function*() {
    const page = <A>(e: Either.Either<A, ErrorResponse.ErrorResponse>) => Either.mapLeft(e, (error) => Failure.Page({ error }))

    // OAuth 2.1 §4.1.1: client_id REQUIRED; §4.1.2.1: a missing or invalid one MUST NOT redirect
    const clientId = yield* page(Either.flatMap(Form.required(params, "client_id"), vsChars("client_id")))
    const redirectUri = yield* page(optional(params, "redirect_uri", (uri) =>
      // RFC 6749 §3.1.2: the redirection endpoint URI MUST be an absolute URI and MUST NOT include a fragment
      RedirectUri.isAbsoluteWithoutFragment(uri)
        ? Either.right(uri)
        : Either.left(invalid("'redirect_uri' must be an absolute URI without a fragment"))))
    // OIDC Core §3.1.2.1: redirect_uri REQUIRED in an OpenID Connect request (scope holds openid)
    const openid = Either.getOrUndefined(Form.single(params, "scope"))?.split(" ").includes("openid") ?? false
    if (openid && redirectUri === undefined) {
      return yield* Either.left(Failure.Page({ error: invalid("'redirect_uri' is required for OpenID Connect requests") }))
    }

    const responseMode = optional(params, "response_mode", (mode) =>
      // Form Post Response Mode §2, OAuth 2.0 Multiple Response Types §2.1: Tessera answers by query or form post
      isResponseMode(mode) ? Either.right(mode) : Either.left(invalid("'response_mode' must be query or form_post")))
    // RFC 6749 Appendix A.5: state = 1*VSCHAR
    const state = optional(params, "state", vsChars("state"))
    const context = {
      clientId,
      responseMode: Either.getOrUndefined(responseMode) ?? "query",
      ...present("redirectUri", redirectUri),
      ...present("state", Either.getOrUndefined(state))
    } as const
    const redirect = <A>(e: Either.Either<A, ErrorResponse.ErrorResponse>) =>
      Either.mapLeft(e, (error) => Failure.Redirect({ error, ...context }))
    yield* redirect(responseMode)
    yield* redirect(state)

    // OIDC Core §6: request objects are not supported (metadata says request_parameter_supported: false)
    yield* redirect(Either.flatMap(Form.single(params, "request"), (v) =>
      check(v === undefined, () => ErrorResponse.make("request_not_supported", "'request' is not supported"))))
    yield* redirect(Either.flatMap(Form.single(params, "request_uri"), (v) =>
      check(v === undefined, () => ErrorResponse.make("request_uri_not_supported", "'request_uri' is not supported"))))

    // OAuth 2.1 §4.1.1: response_type REQUIRED, "code"; §4.1.2.1: anything else is unsupported_response_type
    yield* redirect(Either.flatMap(Form.required(params, "response_type"), (type) =>
      check(type === "code", () => ErrorResponse.make("unsupported_response_type", "only the 'code' response type is supported"))))

    const scope = yield* redirect(optional(params, "scope", (value) =>
      // RFC 6749 §3.3: scope = scope-token *( SP scope-token ); §4.1.2.1: malformed scope is invalid_scope
      list(value, ScopeToken.isToken, () => ErrorResponse.make("invalid_scope", "'scope' must be scope tokens separated by single spaces"))))

    // OAuth 2.1 §4.1.1 and RFC 7636 §4.3: code_challenge REQUIRED; RFC 7636 §4.2: S256 is BASE64URL(SHA256(verifier))
    const codeChallenge = yield* redirect(Either.flatMap(Form.required(params, "code_challenge"), (challenge) =>
      Syntax.isBase64UrlSha256(challenge)
        ? Either.right(challenge)
        : Either.left(invalid("'code_challenge' must be a base64url SHA-256 of the code verifier (43 characters)"))))
    // OAuth 2.1 §4.1.1: an absent method defaults to plain, which Tessera refuses; RFC 7636 §4.4.1: unsupported
    // transformation is invalid_request
    yield* redirect(Either.flatMap(Form.single(params, "code_challenge_method"), (method) =>
      method === undefined
        ? Either.left(invalid("'code_challenge_method' is required: only S256 is supported"))
        : check(method === "S256", () => invalid("'code_challenge_method' is not supported: only S256 is"))))

    const resources = yield* redirect(Form.all(params, "resource"))
    // RFC 8707 §2: each resource MUST be an absolute URI without a fragment, else invalid_target
    yield* redirect(check(resources.every(RedirectUri.isAbsoluteWithoutFragment), () =>
      ErrorResponse.make("invalid_target", "'resource' must be an absolute URI without a fragment")))

    // OIDC Core §3.1.2.1: nonce is a string value; control characters have no place in it
    const nonce = yield* redirect(optional(params, "nonce", noControl("nonce")))

    const prompt = yield* redirect(optional(params, "prompt", (value) =>
      Either.flatMap(
        // OIDC Core §3.1.2.1: space-delimited list of none, login, consent, select_account
        list<Prompt>(value, isPrompt, () => invalid("'prompt' must be none, login, consent or select_account")),
        // OIDC Core §3.1.2.1: if none is present with any other value, an error is returned
        (values) => values.includes("none") && values.length > 1
          ? Either.left(invalid("'prompt' must not combine none with other values"))
          : Either.right(values))))

    // OIDC Core §3.1.2.1: max_age, maximum authentication age in seconds
    const maxAge = yield* redirect(optional(params, "max_age", (value) =>
      seconds.test(value) ? Either.right(Number(value)) : Either.left(invalid("'max_age' must be a non-negative integer of at most 10 digits"))))

    // OIDC Core §3.1.2.1: login_hint, a hint about the login identifier
    const loginHint = yield* redirect(optional(params, "login_hint", noControl("login_hint")))
    // OIDC Core §3.1.2.1: acr_values, space-separated string
    const acrValues = yield* redirect(optional(params, "acr_values", (value) =>
      list(value, ScopeToken.isToken, () => invalid("'acr_values' must be values separated by single spaces"))))
    // OIDC Core §3.1.2.1: ui_locales, space-separated BCP 47 language tags
    const uiLocales = yield* redirect(optional(params, "ui_locales", (value) =>
      list(value, (tag) => languageTag.test(tag), () => invalid("'ui_locales' must be language tags separated by single spaces"))))
    // OIDC Core §3.1.2.1: id_token_hint, an ID Token Tessera issued (a signed JWT)
    const idTokenHint = yield* redirect(optional(params, "id_token_hint", (value) =>
      Syntax.isCompactJws(value) ? Either.right(value) : Either.left(invalid("'id_token_hint' must be a compact JWT"))))
    // RFC 9449 §10: dpop_jkt, the base64url JWK SHA-256 thumbprint (RFC 7638) of the DPoP key
    const dpopJkt = yield* redirect(optional(params, "dpop_jkt", (value) =>
      Syntax.isBase64UrlSha256(value) ? Either.right(value) : Either.left(invalid("'dpop_jkt' must be a base64url SHA-256 JWK thumbprint"))))

    const request: AuthorizationRequest = {
      clientId,
      ...present("redirectUri", redirectUri),
      responseType: "code",
      responseMode: context.responseMode,
      ...present("scope", scope),
      ...present("state", context.state),
      ...present("nonce", nonce),
      codeChallenge,
      codeChallengeMethod: "S256",
      resource: [...new Set(resources)],
      prompt: prompt ?? [],
      ...present("maxAge", maxAge),
      ...present("loginHint", loginHint),
      acrValues: acrValues ?? [],
      uiLocales: uiLocales ?? [],
      ...present("idTokenHint", idTokenHint),
      ...present("dpopJkt", dpopJkt)
    }
    return request
  })

/**
 * Parses and checks a query string (`url.search`) or form body. Bad form encoding or too many parameters is a
 * `Page` failure: nothing in such a request can be trusted enough to redirect to.
 */
export const parse = (input: string, limits: Partial<Form.Limits> = {}): Either.Either<AuthorizationRequest, Failure> =>
  Either.flatMap(
    Either.mapLeft(Form.parseQuery(input, limits), (error) => Failure.Page({ error })),
    decode
  )
