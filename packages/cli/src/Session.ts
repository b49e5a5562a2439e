/**
 * A tenant admin's session: the tokens `tessera login --realm R` obtained (device flow with the built-in
 * `tessera-cli` client), kept in a 0600 file under the user's configuration directory (TokenFile) and refreshed when
 * they are about to expire (ADR 0044). The commands ask it for a realm's access token.
 */
import { Clock, Effect, Option } from "effect"
import * as AuthServer from "./AuthServer.js"
import * as TokenFile from "./TokenFile.js"

export { SessionRefused } from "./AuthServer.js"

/** An access token this close to its expiry is refreshed first (clock skew, and the time the command takes). */
export const refreshMargin = 60

/** The session file of `realm` at `baseUrl` for the user running the command (`XDG_CONFIG_HOME`, else `~/.config`). */
export const fileOf = (baseUrl: string, realm: string, env: NodeJS.ProcessEnv = process.env) =>
  TokenFile.pathOf(TokenFile.directory(env), baseUrl, realm)

const unusable = (error: TokenFile.TokenFileError) =>
  new AuthServer.SessionRefused({
    error: "invalid_session",
    description: `the stored session cannot be used (${error.message}); run 'tessera logout' and 'tessera login' again`
  })

const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

/** The stored form of a token response (RFC 6749 §5.1), for `metadata`'s realm and `resource`. */
export const storedOf = (
  baseUrl: string,
  realm: string,
  metadata: AuthServer.Metadata,
  resource: string,
  tokens: AuthServer.TokenResponse,
  now: number
): TokenFile.Stored => ({
  server: TokenFile.serverKey(baseUrl),
  realm,
  issuer: metadata.issuer,
  resource,
  token_endpoint: metadata.token_endpoint,
  ...(metadata.revocation_endpoint !== undefined ? { revocation_endpoint: metadata.revocation_endpoint } : {}),
  access_token: tokens.access_token,
  ...(tokens.refresh_token !== undefined ? { refresh_token: tokens.refresh_token } : {}),
  expires_at: now + tokens.expires_in
})

/** Stores the tokens a login ended with. */
export const save = (path: string, stored: TokenFile.Stored) => Effect.mapError(TokenFile.write(path, stored), unusable)

const loginAgain = (stored: TokenFile.Stored, why: string) =>
  new AuthServer.SessionRefused({
    error: "invalid_grant",
    description: `the session for realm ${stored.realm} at ${stored.server} has ended: ${why}; run 'tessera login --realm ${stored.realm}' again`
  })

/**
 * RFC 6749 §6: trades the stored refresh token for new tokens (same resource, RFC 8707 §2.2), stores them in place of
 * the old (the refresh token rotates, CONTRACT §5) and returns them. `invalid_grant` ends the session: the file is
 * deleted and the caller told to log in again; any other refusal leaves the file as it was.
 */
const refresh = (path: string, stored: TokenFile.Stored) =>
  Effect.gen(function*() {
    if (stored.refresh_token === undefined) {
      yield* Effect.mapError(TokenFile.remove(path), unusable)
      return yield* loginAgain(stored, "the access token expired and there is no refresh token")
    }
    const answer = yield* AuthServer.postForm(stored.token_endpoint, {
      grant_type: "refresh_token",
      refresh_token: stored.refresh_token,
      resource: stored.resource
    })
    if (answer.status !== 200) {
      const refusal = AuthServer.refusalOf(answer, "the refresh")
      if (refusal.error !== "invalid_grant") return yield* refusal
      yield* Effect.mapError(TokenFile.remove(path), unusable)
      return yield* loginAgain(stored, refusal.description)
    }
    const tokens = yield* AuthServer.expect(answer, AuthServer.TokenResponse, "the refresh")
    const renewed: TokenFile.Stored = {
      ...stored,
      access_token: tokens.access_token,
      // RFC 6749 §6: "the client MUST discard the old refresh token" when a new one is issued; else it stays valid
      refresh_token: tokens.refresh_token ?? stored.refresh_token,
      expires_at: (yield* nowSeconds) + tokens.expires_in
    }
    yield* save(path, renewed)
    return renewed
  })

/**
 * RFC 7009 §2.1: revokes the session's refresh token at the metadata's revocation endpoint (Tessera revokes its grant
 * and access tokens with it). None when it is done or there is nothing to revoke; else what went wrong.
 */
export const revoke = (stored: TokenFile.Stored) =>
  stored.revocation_endpoint === undefined || stored.refresh_token === undefined
    ? Effect.succeed(Option.none<AuthServer.SessionRefused>())
    : AuthServer.postForm(stored.revocation_endpoint, { token: stored.refresh_token, token_type_hint: "refresh_token" }).pipe(
      // RFC 7009 §2.2: 200 whether or not the token was still valid
      Effect.map((answer) => answer.status === 200 ? Option.none() : Option.some(AuthServer.refusalOf(answer, "the revocation"))),
      Effect.catchAll((refusal) => Effect.succeed(Option.some(refusal)))
    )

/** The stored session at `path`, or none when there is none or it cannot be read (logout and login replace it). */
export const storedAt = (path: string) => TokenFile.read(path).pipe(Effect.orElseSucceed(() => Option.none<TokenFile.Stored>()))

/** The session stored at `path`: its access token, refreshed first when it expires within `refreshMargin` seconds. */
export const tokenAt = (path: string) =>
  Effect.gen(function*() {
    const found = yield* Effect.mapError(TokenFile.read(path), unusable)
    if (Option.isNone(found)) return Option.none<string>()
    if (found.value.expires_at - (yield* nowSeconds) > refreshMargin) return Option.some(found.value.access_token)
    // under the lock, read again: another command may have refreshed it meanwhile (its token is then ours too)
    return yield* TokenFile.withLock(
      path,
      Effect.gen(function*() {
        const current = yield* Effect.mapError(TokenFile.read(path), unusable)
        if (Option.isNone(current)) return Option.none<string>()
        if (current.value.expires_at - (yield* nowSeconds) > refreshMargin) return Option.some(current.value.access_token)
        return Option.some((yield* refresh(path, current.value)).access_token)
      })
    ).pipe(Effect.catchTag("TokenFileError", (e) => Effect.fail(unusable(e))))
  })

/**
 * The access token of the stored session for `realm` at `baseUrl`, refreshed first when it is about to expire; none
 * when nobody logged in there (or `realm` is no realm name, CONTRACT §2). Fails with `SessionRefused` when the
 * session ended (`invalid_grant`: log in again) or the server cannot refresh it now.
 */
export const tenantToken = (baseUrl: string, realm: string): Effect.Effect<Option.Option<string>, AuthServer.SessionRefused> =>
  AuthServer.realmPattern.test(realm) ? tokenAt(fileOf(baseUrl, realm)) : Effect.succeed(Option.none())
