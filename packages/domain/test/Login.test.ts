import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import {
  AccessTokens, Audit, AuditEvent, Codes, Consents, Entropy, Grants, IdentityLink, Login, LoginThrottle, MemoryDb, PasswordHasher, RefreshTokens, Sessions, Users
} from "@tessera/domain"

const realm = { id: "realm-login-test", name: "login-test", dynamicRegistration: false, createdAt: DateTime.unsafeMake(0), version: 1 }

/** A hasher that records which hash each verification ran against, and accepts the password "right". */
const seen: Array<string> = []
const Hasher = Layer.succeed(PasswordHasher.PasswordHasher, PasswordHasher.PasswordHasher.of({
  hash: Effect.succeed,
  verify: (hash, password) => Effect.sync(() => (seen.push(hash), password === "right"))
}))

const World = Layer.mergeAll(
  Users.layerMemory, Audit.layerMemory, Codes.layerMemory, Grants.layerMemory, Sessions.layerMemory, Consents.layerMemory,
  RefreshTokens.layerMemory, LoginThrottle.layerMemory, Entropy.layer, Hasher
)
  .pipe(Layer.provideMerge(AccessTokens.layerMemory), Layer.provideMerge(MemoryDb.layer))

const attempt = (username: string, password: string) =>
  Login.authenticate({ realm, username, password, clientId: "c1", stepUp: false, context: {} }).pipe(
    Effect.map(() => "signed in"),
    Effect.catchTag("LoginRejected", (e) => Effect.succeed(e.reason))
  )

describe("issue 12 item 5 / ADR 0047: one argon2id verification per attempt, whatever the account", () => {
  it.effect("a person with no password (provisioned by an ID-JAG) is verified against the dummy hash and never signs in", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const person = IdentityLink.provisionedUser({
        realmId: realm.id, sub: "sub-provisioned", username: "idjag-person", email: undefined, name: undefined, createdAt: DateTime.unsafeMake(0)
      })
      const event = yield* Audit.make(realm, { type: "user.created", actor: AuditEvent.scheduler, subject: person.sub, result: "success" })
      yield* users.insert(person, event)
      seen.length = 0
      expect(yield* attempt("idjag-person", "right")).toBe("wrong_password")
      expect(yield* attempt("idjag-person", "!")).toBe("wrong_password")
      expect(yield* attempt("nobody-here", "right")).toBe("unknown_user")
      // the same work for each: one verification, against the dummy hash
      expect(seen).toEqual([Login.dummyHash, Login.dummyHash, Login.dummyHash])
    }).pipe(Effect.provide(World)))
})
