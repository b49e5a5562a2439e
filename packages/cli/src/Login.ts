/**
 * `tessera login --realm R` and `tessera logout --realm R` (CONTRACT §8): a tenant admin signs the CLI in with the
 * device flow (RFC 8628) of the realm's built-in `tessera-cli` client, and out again (RFC 7009). ADR 0044.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Clock, Config, Console, Effect, Option, Schema } from "effect"
import * as AuthServer from "./AuthServer.js"
import * as DeviceFlow from "./DeviceFlow.js"
import { Refused } from "./Failure.js"
import * as Session from "./Session.js"
import * as TokenFile from "./TokenFile.js"

/** CONTRACT §8: the server, `TESSERA_URL` (default `http://localhost:8080`). */
const serverUrl = () => TokenFile.serverKey(process.env["TESSERA_URL"] ?? "http://localhost:8080")

/** CONTRACT §2: a realm's name; anything else is bad usage (exit 2), and never reaches a path or a file name. */
const RealmName = Schema.String.pipe(Schema.pattern(AuthServer.realmPattern, { message: () => "a realm name is [a-z0-9][a-z0-9-]{0,62}" }))

const realm = Options.text("realm").pipe(
  Options.withFallbackConfig(Config.string("TESSERA_REALM")),
  Options.withSchema(RealmName),
  Options.withDescription("the realm (or TESSERA_REALM)")
)

/** CONTRACT §8: a refusal is exit 1 with the error's code and description on stderr, as main.ts reports `Refused`. */
const reported = <R>(effect: Effect.Effect<void, AuthServer.SessionRefused, R>) =>
  Effect.mapError(effect, (refusal) => new Refused({ error: refusal.error, description: refusal.description }))

const login = Command.make("login", { realm }, ({ realm }) =>
  reported(Effect.gen(function*() {
    const server = serverUrl()
    const metadata = yield* AuthServer.discover(server, realm)
    const resource = AuthServer.adminResource(metadata, realm)
    const started = yield* DeviceFlow.start(metadata, AuthServer.adminScope, resource)
    yield* Console.log(DeviceFlow.instructions(started))
    const tokens = yield* DeviceFlow.poll(metadata, started)
    const path = Session.fileOf(server, realm)
    const previous = yield* Session.storedAt(path)
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    yield* Session.save(path, Session.storedOf(server, realm, metadata, resource, tokens, now))
    // a session it replaces is revoked, not left valid on the server (best effort: the new one is stored either way)
    if (Option.isSome(previous)) yield* Session.revoke(previous.value)
    yield* Console.log(`Logged in to realm ${realm} at ${server} as a tenant admin; the session is in ${path}`)
  }))).pipe(Command.withDescription("sign in as a tenant admin of a realm (device flow in a browser)"))

/**
 * Deletes the stored session, after revoking its refresh token (RFC 7009 §2.1: with it, Tessera revokes the grant and
 * its access tokens). The local session goes whatever the server says; a failed revocation is still exit 1, as the
 * tokens may stay valid on the server.
 */
const logout = Command.make("logout", { realm }, ({ realm }) =>
  reported(Effect.gen(function*() {
    const server = serverUrl()
    const path = Session.fileOf(server, realm)
    const stored = yield* Session.storedAt(path)
    const revoked = Option.isSome(stored) ? yield* Session.revoke(stored.value) : Option.none<AuthServer.SessionRefused>()
    const removed = yield* TokenFile.remove(path).pipe(
      Effect.mapError((e) => new AuthServer.SessionRefused({ error: "invalid_session", description: e.message }))
    )
    yield* Console.log(removed ? `Logged out of realm ${realm} at ${server}` : `Not logged in to realm ${realm} at ${server}`)
    if (Option.isSome(revoked)) {
      return yield* new AuthServer.SessionRefused({
        error: revoked.value.error,
        description: `the session was deleted here, but the server did not revoke it: ${revoked.value.description}`
      })
    }
  }))).pipe(Command.withDescription("revoke and delete the stored session of a realm"))

/** The login and logout commands, added to `tessera` by main.ts. */
export const commands = [login, logout] as const
