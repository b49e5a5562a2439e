/**
 * Password sign-in (issue 4 items 2-3): throttled per user and per address (a progressive delay, ADR 0027), argon2id verified in constant time for
 * unknown users too, audited either way, and a new session on success (OIDC Core §2 auth_time, acr, amr).
 */
import { Data, DateTime, Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import * as Entropy from "./Entropy.js"
import { audited, type RequestContext } from "./RequestContext.js"
import * as Hash from "./Hash.js"
import { LoginThrottle } from "./LoginThrottle.js"
import { PasswordHasher } from "./PasswordHasher.js"
import type { Realm } from "./Realm.js"
import * as Session from "./Session.js"
import { Sessions } from "./Sessions.js"
import * as User from "./User.js"
import { Users } from "./Users.js"
import * as Tracing from "./Tracing.js"

/**
 * An argon2id hash of a random password nobody knows, with the parameters every user's hash has (m=19456, t=2,
 * p=1): an unknown username is verified against it, so the answer takes as long as for a known one.
 */
export const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$UvBk8yTxVinuX91XSMcuQA$82KZND4/PegqR3rrrgPjNUE0n2cFglPywyoNHz+AJPY"

/** `reason` is for the audit trail and the page's choice of message; the page never says which one it was. */
export class LoginRejected extends Data.TaggedError("LoginRejected")<{
  readonly reason: "unknown_user" | "wrong_password" | "throttled" | "disabled"
  /** Set when `throttled`. */
  readonly retryAfterSeconds?: number
}> {}

export interface Command {
  readonly realm: Realm
  readonly username: string
  readonly password: string
  /** The client the person is signing in to, for the audit trail. */
  readonly clientId: string
  /** A step-up sign-in (CONTRACT §5): also audited as `stepup.succeeded`. */
  readonly stepUp: boolean
  readonly context: RequestContext
}

export interface Success {
  readonly user: User.User
  readonly session: Session.Active
  /** The cookie's secret value (32 random bytes, base64url): only its SHA-256 is stored. */
  readonly cookie: string
}

export const authenticate = Effect.fnUntraced(function*(cmd: Command) {
  const throttle = yield* LoginThrottle
  const audit = yield* Audit.Audit
  const now = yield* DateTime.now
  const attempt = { realmId: cmd.realm.id, username: cmd.username, ip: cmd.context.ip }
  const failed = (reason: LoginRejected["reason"], sub: string | undefined, retryAfterSeconds?: number) =>
    Effect.gen(function*() {
      yield* audit.append(yield* Audit.make(cmd.realm, {
        type: "login.failed",
        actor: { type: "user", id: sub ?? "anonymous" },
        ...(sub !== undefined ? { subject: sub } : {}),
        clientId: cmd.clientId,
        result: "failure",
        reason,
        ...audited(cmd.context)
      }))
      return yield* new LoginRejected({ reason, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) })
    })

  // issue 12 item 5: the attempt is reserved (counted as a failure) atomically before the password is verified, so
  // concurrent guesses cannot all pass one check; a throttled attempt never reaches argon2 (ADR 0027)
  const verdict = yield* throttle.reserve(attempt, now)
  if (verdict._tag === "Throttled") return yield* failed("throttled", undefined, verdict.retryAfterSeconds)

  const user = yield* Effect.flatMap(Users, (users) => users.findByUsername(cmd.realm.id, cmd.username))
  // one argon2id verification whether or not the user exists: the time does not tell which usernames are taken
  // (and for a person with no password yet, such as one provisioned by an ID-JAG, ADR 0047)
  const usable = Option.filter(user, User.hasPassword)
  const hash = Option.match(usable, { onNone: () => dummyHash, onSome: (u) => u.passwordHash })
  const matches = yield* Effect.flatMap(PasswordHasher, (hasher) => hasher.verify(hash, cmd.password))
  if (Option.isNone(user) || Option.isNone(usable) || !matches) {
    return yield* failed(Option.isNone(user) ? "unknown_user" : "wrong_password", Option.getOrUndefined(user)?.sub)
  }
  // CONTRACT §3: a disabled person cannot sign in; the attempt stays counted (the throttle's reservation is kept), and
  // only the right password learns it, in the trail: the page says what it says for a wrong password
  if (!User.canSignIn(user.value)) return yield* failed("disabled", user.value.sub)
  yield* throttle.succeeded(attempt, now)

  const cookie = yield* Entropy.token(32)
  const event = yield* Audit.make(cmd.realm, {
    type: "login.succeeded",
    actor: { type: "user", id: user.value.sub },
    subject: user.value.sub,
    clientId: cmd.clientId,
    result: "success",
    ...audited(cmd.context)
  })
  const session = Session.begin({
    realmId: cmd.realm.id,
    sid: yield* Entropy.token(16),
    cookieHash: yield* Hash.sha256(cookie),
    sub: user.value.sub,
    acr: Session.passwordAcr,
    amr: Session.passwordAmr
  }, now)
  yield* Effect.flatMap(Sessions, (sessions) => sessions.create(session, event))
  if (cmd.stepUp) {
    yield* audit.append(yield* Audit.make(cmd.realm, {
      type: "stepup.succeeded",
      actor: { type: "user", id: user.value.sub },
      subject: user.value.sub,
      clientId: cmd.clientId,
      result: "success",
      ...audited(cmd.context)
    }))
  }
  return { user: user.value, session, cookie } satisfies Success
}, Tracing.span("Login.authenticate"))
