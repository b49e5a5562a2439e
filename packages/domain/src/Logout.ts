/**
 * The decisions of OIDC RP-Initiated Logout 1.0 (§2 which client asks, §3 whether to send the person back, §4 whether
 * the hint is ours) and of Front-Channel Logout 1.0 §2-§3 (which clients are told): pure functions, and Effects over
 * the key ring and the session store, and the confirmation form's CSRF rule. The route decodes the request (protocol
 * `LogoutRequest`), reads the cookie and renders the pages.
 */
import { Data, DateTime, Duration, Effect, Either, Option } from "effect"
import type * as Jose from "jose"
import * as Audit from "./Audit.js"
import type * as Client from "./Client.js"
import * as Hash from "./Hash.js"
import { audited, type RequestContext } from "./RequestContext.js"
import * as Jwt from "./Jwt.js"
import type { Realm } from "./Realm.js"
import * as Session from "./Session.js"
import { Sessions } from "./Sessions.js"
import * as SigningKeys from "./SigningKeys.js"

/** Why a logout request is refused: `reason` is for the page's fixed text and the log, not an OAuth error code. */
export class LogoutRejected extends Data.TaggedError("LogoutRejected")<{
  readonly reason: "bad_hint" | "client_mismatch"
}> {}

/**
 * §4: the OP SHOULD accept an ID token as a hint even when its `exp` has passed. How old a hint may be is bounded in
 * practice by the key ring (a hint whose key has left the JWKS no longer verifies); this tolerance only keeps the
 * expiry check from refusing it.
 */
export const expiredHintTolerance = Duration.days(366)

/** What a verified `id_token_hint` says: its audiences, and the client it was issued to, if one. */
export interface Hint {
  readonly audiences: ReadonlyArray<string>
  readonly clientId: string | undefined
}

/** OIDC Core §2: the client an ID token was issued to is `azp` when it is one of the audiences, else the only audience. */
export const hintOf = (payload: Jose.JWTPayload): Hint => {
  const audiences = typeof payload.aud === "string" ? [payload.aud] : payload.aud ?? []
  const azp = payload["azp"]
  return {
    audiences,
    clientId: typeof azp === "string" && audiences.includes(azp) ? azp : audiences.length === 1 ? audiences[0] : undefined
  }
}

/**
 * §4: the OP MUST validate that it was the issuer of the ID token: signed by one of this realm's keys (RS256, as ID
 * tokens are), `iss` this realm's issuer, `typ` JWT (an access token is `at+jwt`). §2: the OP need not be in `aud`.
 */
export const verifyHint = (realmId: string, issuer: string, token: string) =>
  Effect.gen(function*() {
    const verified = yield* Jwt.verify(token, yield* SigningKeys.verifier(realmId), {
      issuer,
      typ: "JWT",
      algorithms: ["RS256"],
      requiredClaims: ["sub", "aud"],
      clockTolerance: Duration.toSeconds(expiredHintTolerance)
    }).pipe(Effect.catchTag("TokenInvalid", () => Effect.fail(new LogoutRejected({ reason: "bad_hint" }))))
    return hintOf(verified.payload)
  })

/**
 * §2: the client asking is `client_id`, or the hint's; when both are present, the OP MUST verify that the client is
 * one the ID token was issued to. Undefined when neither names one.
 */
export const clientIdOf = (clientId: string | undefined, hint: Hint | undefined): Either.Either<string | undefined, LogoutRejected> =>
  hint !== undefined && clientId !== undefined && !hint.audiences.includes(clientId)
    ? Either.left(new LogoutRejected({ reason: "client_mismatch" }))
    : Either.right(clientId ?? hint?.clientId)

/** Where the person goes once signed out: the client that asked, and exactly one of its registered redirect URIs. */
export interface Target {
  readonly client?: Client.Client | undefined
  /** Exactly one of the client's registered `post_logout_redirect_uris`. */
  readonly redirectUri?: string | undefined
  /** Echoed on the redirect only (§3). */
  readonly state?: string | undefined
}

/**
 * §3: the OP MUST NOT redirect unless `post_logout_redirect_uri` exactly matches one registered by the client. One that
 * does not match, or that no client is named for, is not an error: the person is simply not sent anywhere.
 */
export const targetOf = (client: Client.Client | undefined, redirectUri: string | undefined, state: string | undefined): Target =>
  client === undefined
    ? {}
    : redirectUri !== undefined && client.metadata.postLogoutRedirectUris.includes(redirectUri)
    ? { client, redirectUri, ...(state !== undefined ? { state } : {}) }
    : { client }

/**
 * §2-§4 over a decoded request: the hint verified, the client named and found (`find`: its registration, or the
 * client's refusal), and where the person may go afterwards.
 */
export const check = <E, R>(
  realm: Pick<Realm, "id">,
  issuer: string,
  request: {
    readonly idTokenHint: string | undefined
    readonly clientId: string | undefined
    readonly postLogoutRedirectUri: string | undefined
    readonly state: string | undefined
  },
  find: (clientId: string) => Effect.Effect<Client.Client, E, R>
) =>
  Effect.gen(function*() {
    const hint = request.idTokenHint !== undefined ? yield* verifyHint(realm.id, issuer, request.idTokenHint) : undefined
    const clientId = yield* clientIdOf(request.clientId, hint)
    const client = clientId !== undefined ? yield* find(clientId) : undefined
    return targetOf(client, request.postLogoutRedirectUri, request.state)
  })

/** What the confirmation form carries in its action URL: what the request established (the route encodes it). */
export interface Carried {
  readonly clientId: string | undefined
  readonly postLogoutRedirectUri: string | undefined
  readonly state: string | undefined
}

/**
 * The confirmation form's CSRF token. The form keeps no server-side state: its token is base64url HMAC-SHA-256 keyed by
 * the session cookie's secret over the realm and every carried value, so only the browser holding the session can
 * post it, and nothing in the URL can be changed (or moved to another realm) without breaking it.
 */
export const csrfToken = (cookie: string, realmId: string, carried: Carried) =>
  Hash.hmacSha256(
    cookie,
    JSON.stringify(["tessera/logout", realmId, carried.clientId ?? null, carried.postLogoutRedirectUri ?? null, carried.state ?? null])
  )

/** Whether the posted `csrf` field is the token `csrfToken` gives this cookie, realm and carried values (constant time). */
export const csrfMatches = (posted: string | undefined, cookie: string, realmId: string, carried: Carried) =>
  posted === undefined
    ? Effect.succeed(false)
    : Effect.map(csrfToken(cookie, realmId, carried), (expected) => Hash.constantTimeEqual(posted, expected))

/**
 * §2 "the OP SHOULD ask the End-User whether to log out": only a session the browser can still use is asked about;
 * without one the person is signed out already, and sees so at once.
 */
export const toConfirm = (session: Option.Option<Session.Session>, now: DateTime.Utc) =>
  Option.filter(session, (s): s is Session.Active => Session.isActive(s, now))

/**
 * Which session a confirmed logout ends: the browser's own (the one its cookie names, which the confirmation's CSRF
 * token is bound to), unless it has ended already; the hint names no session to end (§2: it only hints at the person).
 * A replayed confirmation finds it Ended and ends nothing twice.
 */
export const toEnd = (session: Option.Option<Session.Session>) =>
  Option.filter(session, (s): s is Session.Active => s._tag === "Active")

/**
 * §2: the OP MUST log the End-User out: `Session.end` applied by the store as compare-and-set, with the
 * `logout.succeeded` event only when this call ended it; answers whether it did (false: a concurrent confirmation won).
 */
export const end = (realm: Pick<Realm, "id" | "name">, session: Session.Active, clientId: string | undefined, context: RequestContext) =>
  Effect.gen(function*() {
    const event = yield* Audit.make(realm, {
      type: "logout.succeeded",
      actor: { type: "user", id: session.sub },
      subject: session.sub,
      ...(clientId !== undefined ? { clientId } : {}),
      result: "success",
      ...audited(context)
    })
    const sessions = yield* Sessions
    return yield* sessions.end(realm.id, session.sid, yield* DateTime.now, event)
  })

/**
 * Front-Channel Logout §2: the `frontchannel_logout_uri` of each client that got tokens in the session and registered
 * one, once each, in the session's order; never one on Tessera's own origin (a same-origin frame with scripts could
 * lift its sandbox, ADR 0026). `iss` and `sid` are added by the caller for every one (§2 lets the OP add them).
 */
export const frontChannelUris = (issuer: string, clients: ReadonlyArray<Client.Client>): ReadonlyArray<string> => {
  const uris: Array<string> = []
  for (const client of clients) {
    const uri = client.metadata.frontchannelLogoutUri
    if (uri === undefined || sameOrigin(uri, issuer) || uris.includes(uri)) continue
    uris.push(uri)
  }
  return uris
}

const sameOrigin = (uri: string, issuer: string) => {
  try {
    return new URL(uri).origin === new URL(issuer).origin
  } catch {
    return false
  }
}
