import { describe, expect, it } from "@effect/vitest"
import { DateTime, Either } from "effect"
import { Audience, Delegation } from "@tessera/domain"
import type { Resource } from "@tessera/domain"

const issuer = "https://tessera.test/realms/r"
const api = "https://api.example/"
const vault = "https://vault.example/"
const now = 1_000_000

const resource = (uri: string, scopes: ReadonlyArray<string>, stepUpScopes: ReadonlyArray<string> = []): Resource.Resource =>
  ({ realmId: "r", id: uri, version: 1, uri, scopes, stepUpScopes, createdAt: DateTime.unsafeMake(0) })
const resources = [resource(api, ["read", "write"]), resource(vault, ["list", "unseal"], ["unseal"])]

const agent: Delegation.Agent = { clientId: "agent", principalType: "agent", resources: [api, vault] }
/** A person's token issued to the agent by the code grant a minute ago. */
const person: Delegation.Subject = { sub: "ada", client_id: "agent", scope: ["read", "write", "list", "unseal"], auth_time: now - 60 }

/** A trusted issuer's JWT as the grant passes it: no client_id nor auth_time of ours. */
function trusted(claims: Partial<Delegation.Subject>): Partial<Delegation.Subject> {
  return { client_id: undefined, auth_time: undefined, trustedIssuer: "https://idp.example", ...claims }
}

type Row = readonly [
  name: string,
  input: {
    readonly agent?: Partial<Delegation.Agent>
    readonly subject?: Partial<Delegation.Subject>
    readonly resource?: string
    readonly scope?: ReadonlyArray<string>
  },
  expected: Either.Either<Delegation.Decision, Delegation.Refusal>
]

const granted = (decision: Partial<Delegation.Decision>) =>
  Either.right({ act: { sub: "agent" }, audience: api, scope: ["read", "write"], stepUp: false, ...decision })

const table: ReadonlyArray<Row> = [
  ["a person's token issued to the agent: its scope, cut to the resource", { resource: api }, granted({})],
  ["without resource, the agent's only resource", { agent: { resources: [api] } }, granted({})],
  ["a narrower scope", { resource: api, scope: ["read"] }, granted({ scope: ["read"] })],
  ["a scope the resource does not know is cut", { resource: api, scope: ["read", "list"] }, granted({ scope: ["read"] })],
  ["nested act: the earlier chain under the agent",
    { resource: api, subject: { act: { sub: "first", act: { sub: "zeroth" } } } },
    granted({ act: { sub: "agent", act: { sub: "first", act: { sub: "zeroth" } } } })],
  ["may_act naming the agent: another client's token", { resource: api, subject: { client_id: "app", may_act: { sub: "agent" } } }, granted({})],
  ["may_act naming the agent with this issuer", { resource: api, subject: { client_id: "app", may_act: { sub: "agent", iss: issuer } } }, granted({})],
  ["may_act naming the agent lets even a token without a person through",
    { resource: api, subject: { client_id: "app", auth_time: undefined, may_act: { sub: "agent" } } }, granted({})],
  ["not an agent", { agent: { principalType: "app" }, resource: api }, Either.left(new Delegation.AgentRejected({ reason: "not_agent" }))],
  ["another client's token", { resource: api, subject: { client_id: "app" } }, Either.left(new Delegation.SubjectRejected({ reason: "other_client" }))],
  ["may_act naming someone else", { resource: api, subject: { client_id: "app", may_act: { sub: "other" } } },
    Either.left(new Delegation.SubjectRejected({ reason: "other_client" }))],
  ["may_act with another issuer", { resource: api, subject: { client_id: "app", may_act: { sub: "agent", iss: "https://elsewhere" } } },
    Either.left(new Delegation.SubjectRejected({ reason: "other_client" }))],
  ["may_act that is no object", { resource: api, subject: { client_id: "app", may_act: "agent" } },
    Either.left(new Delegation.SubjectRejected({ reason: "other_client" }))],
  ["the agent's own client credentials token (no person)", { resource: api, subject: { sub: "agent", auth_time: undefined } },
    Either.left(new Delegation.SubjectRejected({ reason: "no_person" }))],
  ["an unknown resource", { resource: "https://unknown.example/" }, Either.left(new Audience.TargetRejected({ reason: "unknown_resource" }))],
  ["a resource not allowed to the agent", { agent: { resources: [vault] }, resource: api },
    Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))],
  // CONTRACT §5 / ADR 0025: what the person granted, or what the realm's admin registered for the agent
  ["none registered: the resource of the person's grant to the agent",
    { agent: { resources: undefined }, subject: { grant: { clientId: "agent", resources: [api] } }, resource: api }, granted({})],
  ["none registered: a resource the person's grant does not hold", { agent: { resources: undefined }, subject: { grant: { clientId: "agent", resources: [api] } }, resource: vault },
    Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))],
  ["none registered and no grant: nothing (the every-resource default does not count)", { agent: { resources: undefined }, resource: api },
    Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))],
  ["none registered: the subject token's own aud", { agent: { resources: undefined }, subject: { aud: [api] }, resource: api }, granted({})],
  ["registered: a resource the person never granted", { agent: { resources: [vault] }, subject: { grant: { clientId: "agent", resources: [api] } }, resource: vault },
    granted({ audience: vault, scope: ["list", "unseal"], stepUp: true })],
  ["a grant to another client does not count, even with may_act",
    { agent: { resources: undefined }, subject: { client_id: "app", may_act: { sub: "agent" }, aud: [api], grant: { clientId: "app", resources: [api, vault] } }, resource: vault },
    Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))],
  ["may_act: the subject token's own aud", { agent: { resources: undefined }, subject: { client_id: "app", may_act: { sub: "agent" }, aud: [api] }, resource: api },
    granted({})],
  ["a trusted issuer's JWT: its aud (the realm) and nothing else", { agent: { resources: undefined }, subject: trusted({ may_act: { sub: "agent" }, aud: [api] }), resource: api },
    Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))],
  ["the registered spelling: scheme and host in capitals", { resource: "HTTPS://API.EXAMPLE/" }, granted({})],
  ["without resource and not exactly one", {}, Either.left(new Audience.TargetRejected({ reason: "ambiguous" }))],
  ["a scope wider than the subject's", { resource: api, subject: { scope: ["read"] }, scope: ["read", "write"] },
    Either.left(new Audience.ScopeRejected({ reason: "not_granted" }))],
  ["nothing of the subject's scope for the resource", { resource: api, subject: { scope: ["list"] } },
    Either.left(new Audience.ScopeRejected({ reason: "none_left" }))],
  ["a step-up scope on a fresh authentication", { resource: vault, scope: ["unseal"] },
    granted({ audience: vault, scope: ["unseal"], stepUp: true })],
  ["a step-up scope exactly 5 minutes after authentication", { resource: vault, subject: { auth_time: now - 300 }, scope: ["unseal"] },
    granted({ audience: vault, scope: ["unseal"], stepUp: true })],
  ["a step-up scope asked on an old authentication", { resource: vault, subject: { auth_time: now - 301 }, scope: ["list", "unseal"] },
    Either.left(new Delegation.FreshAuthenticationRequired({ reason: "stale" }))],
  ["a step-up scope asked with no authentication at all",
    { resource: vault, subject: { auth_time: undefined, client_id: "app", may_act: { sub: "agent" } }, scope: ["unseal"] },
    Either.left(new Delegation.FreshAuthenticationRequired({ reason: "no_authentication" }))],
  ["the default scope on an old authentication leaves the step-up scope out", { resource: vault, subject: { auth_time: now - 600 } },
    granted({ audience: vault, scope: ["list"] })],
  ["the default scope on a fresh authentication keeps it", { resource: vault }, granted({ audience: vault, scope: ["list", "unseal"], stepUp: true })],
  ["a default of step-up scopes only, on an old authentication", { resource: vault, subject: { auth_time: now - 600, scope: ["unseal"] } },
    Either.left(new Delegation.FreshAuthenticationRequired({ reason: "stale" }))],
  // ADR 0013: a trusted issuer's JWT is delegable by its may_act only
  ["a trusted issuer's JWT whose may_act names the agent", { resource: api, subject: trusted({ may_act: { sub: "agent" } }) }, granted({})],
  ["a trusted issuer's JWT whose may_act names the agent under this realm's issuer",
    { resource: api, subject: trusted({ may_act: { sub: "agent", iss: issuer } }) }, granted({})],
  ["a trusted issuer's JWT without may_act", { resource: api, subject: trusted({}) },
    Either.left(new Delegation.SubjectRejected({ reason: "no_may_act" }))],
  ["a trusted issuer's JWT naming the agent as client_id (another server's client), with auth_time: still no",
    { resource: api, subject: trusted({ client_id: "agent", auth_time: now }) }, Either.left(new Delegation.SubjectRejected({ reason: "no_may_act" }))],
  ["a trusted issuer's JWT whose may_act names the agent under the trusted issuer", { resource: api, subject: trusted({ may_act: { sub: "agent", iss: "https://idp.example" } }) },
    Either.left(new Delegation.SubjectRejected({ reason: "no_may_act" }))],
  ["a trusted issuer's JWT never carries a step-up scope (no authentication at Tessera)",
    { resource: vault, subject: trusted({ may_act: { sub: "agent" } }), scope: ["unseal"] },
    Either.left(new Delegation.FreshAuthenticationRequired({ reason: "no_authentication" }))]
]

describe("Delegation.decide (CONTRACT §5 \"Token exchange\")", () => {
  for (const [name, input, expected] of table) {
    it(name, () => {
      const decision = Delegation.decide({
        agent: { ...agent, ...input.agent },
        subject: { ...person, ...input.subject },
        issuer,
        now,
        requestedResource: input.resource,
        requestedScopes: input.scope,
        resources
      })
      expect(decision).toStrictEqual(expected)
    })
  }

  it("RFC 8693 §4.1: the act chain nests the earlier one", () => {
    expect(Delegation.actChain("b", undefined)).toStrictEqual({ sub: "b" })
    expect(Delegation.actChain("c", { sub: "b" })).toStrictEqual({ sub: "c", act: { sub: "b" } })
  })

  /** `actors` actors, the most recent first. */
  const chain = (actors: number): unknown => (actors === 0 ? undefined : { sub: `a${actors}`, act: chain(actors - 1) })
  const refused = Either.left(new Delegation.SubjectRejected({ reason: "act_chain" }))

  for (
    const [name, act, expected] of [
      ["no act", undefined, Either.void],
      ["one actor with identity claims", { sub: "a", iss: "https://idp.example", n: 1, ok: true, none: null }, Either.void],
      [`${Delegation.maxActors - 1} actors: the agent's makes ${Delegation.maxActors}`, chain(Delegation.maxActors - 1), Either.void],
      [`${Delegation.maxActors} actors`, chain(Delegation.maxActors), refused],
      ["an actor that is a string", "a", refused],
      ["an actor that is an array", [{ sub: "a" }], refused],
      ["a nested actor that is null", { sub: "a", act: null }, refused],
      ["a claim that is an object", { sub: "a", x: { y: 1 } }, refused],
      ["a claim that is an array, deep in the chain", { sub: "a", act: { sub: "b", x: [[["deep"]]] } }, refused]
    ] as const
  ) {
    it(`RFC 8693 §4.1: priorChain, ${name}`, () => {
      expect(Delegation.priorChain(act)).toStrictEqual(expected)
    })
  }
})
