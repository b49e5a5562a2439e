/**
 * CONTRACT §8: every admin API operation (CONTRACT §3) as `tessera <noun> <verb>`. One row per endpoint of
 * `AdminApi.Api`, keyed by the endpoint's name: a new endpoint without a row is a type error here (and a failing
 * test); its options, arguments and body come from the endpoint's own schemas (Commands.ts).
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type { Api } from "@tessera/protocol/AdminApi"

type Groups = typeof Api extends HttpApi.HttpApi<string, infer G, infer _E, infer _R> ? G : never

/** The name of every endpoint of the admin API. */
export type EndpointName = HttpApiEndpoint.HttpApiEndpoint.Name<HttpApiGroup.HttpApiGroup.Endpoints<Groups>>

export interface Operation {
  readonly noun: Noun
  readonly verb: string
  /** One line for `--help`. */
  readonly summary: string
}

/** CONTRACT §8's nouns, in the order `tessera --help` lists them. */
export const nouns = [
  "realms",
  "users",
  "clients",
  "resources",
  "trusted-issuers",
  "agents",
  "invitations",
  "keys",
  "audit",
  "sessions",
  "grants"
] as const

export type Noun = (typeof nouns)[number]

export const nounSummaries: Record<Noun, string> = {
  realms: "Realms (tenants): create, list, show, change, delete",
  users: "The people of a realm",
  clients: "OAuth clients of a realm (RFC 7591 metadata)",
  resources: "Protected resources of a realm (RFC 8707), their scopes and step-up scopes",
  "trusted-issuers": "Issuers whose assertions a realm accepts (RFC 7523, ID-JAG)",
  agents: "Agents and the people who let them act for them",
  invitations: "Invitations to join a realm as an admin or a member",
  keys: "A realm's signing keys",
  audit: "The audit trail: list, tail (--follow), verify; without a realm, the owner trail",
  sessions: "A user's sign-in sessions",
  grants: "A user's grants to clients"
}

export const operations: Record<EndpointName, Operation> = {
  createRealm: { noun: "realms", verb: "create", summary: "Create a realm (owner)" },
  listRealms: { noun: "realms", verb: "list", summary: "List the realms (owner)" },
  getRealm: { noun: "realms", verb: "get", summary: "Show a realm's settings" },
  patchRealm: { noun: "realms", verb: "update", summary: "Change a realm's display name or dynamic registration" },
  deleteRealm: { noun: "realms", verb: "delete", summary: "Delete a realm and every row of it (owner; --confirm <realm>)" },

  createUser: { noun: "users", verb: "create", summary: "Create a user" },
  listUsers: { noun: "users", verb: "list", summary: "List users (-q: a username or email prefix)" },
  getUser: { noun: "users", verb: "get", summary: "Show a user" },
  patchUser: { noun: "users", verb: "update", summary: "Change a user's email, name, roles or disabled flag" },
  deleteUser: { noun: "users", verb: "delete", summary: "Delete a user (ends their sessions, revokes their grants)" },
  setUserPassword: { noun: "users", verb: "set-password", summary: "Set a user's password (ends their sessions)" },

  listUserSessions: { noun: "sessions", verb: "list", summary: "List a user's sessions" },
  endUserSession: { noun: "sessions", verb: "end", summary: "End one of a user's sessions (front-channel logout)" },

  listUserGrants: { noun: "grants", verb: "list", summary: "List a user's grants" },
  revokeUserGrant: { noun: "grants", verb: "revoke", summary: "Revoke a grant and every token it produced" },

  createClient: { noun: "clients", verb: "create", summary: "Register a client (prints its secret once)" },
  listClients: { noun: "clients", verb: "list", summary: "List clients" },
  getClient: { noun: "clients", verb: "get", summary: "Show a client's metadata" },
  patchClient: { noun: "clients", verb: "update", summary: "Change a client's metadata" },
  deleteClient: { noun: "clients", verb: "delete", summary: "Delete a client (revokes its grants and tokens)" },
  rotateClientSecret: { noun: "clients", verb: "rotate-secret", summary: "Give a client a new secret (prints it once)" },

  createResource: { noun: "resources", verb: "create", summary: "Register a resource with its scopes" },
  listResources: { noun: "resources", verb: "list", summary: "List resources" },
  getResource: { noun: "resources", verb: "get", summary: "Show a resource" },
  patchResource: { noun: "resources", verb: "update", summary: "Change a resource's scopes, names or descriptions" },
  deleteResource: { noun: "resources", verb: "delete", summary: "Delete a resource" },

  createTrustedIssuer: { noun: "trusted-issuers", verb: "create", summary: "Trust an issuer's assertions (jwks or jwks_uri)" },
  listTrustedIssuers: { noun: "trusted-issuers", verb: "list", summary: "List trusted issuers" },
  getTrustedIssuer: { noun: "trusted-issuers", verb: "get", summary: "Show a trusted issuer" },
  patchTrustedIssuer: { noun: "trusted-issuers", verb: "update", summary: "Change a trusted issuer's keys or flags" },
  deleteTrustedIssuer: { noun: "trusted-issuers", verb: "delete", summary: "Stop trusting an issuer" },

  listAgents: { noun: "agents", verb: "list", summary: "List agents and who delegated to them" },
  revokeDelegation: { noun: "agents", verb: "revoke", summary: "Revoke what a person let an agent do" },

  createInvitation: { noun: "invitations", verb: "create", summary: "Invite someone (prints the invitation URL once)" },
  listInvitations: { noun: "invitations", verb: "list", summary: "List invitations and their status" },
  revokeInvitation: { noun: "invitations", verb: "revoke", summary: "Revoke a pending invitation" },

  keys: { noun: "keys", verb: "list", summary: "List signing keys (next, active, retired)" },
  rotateKeys: { noun: "keys", verb: "rotate", summary: "Rotate now: next becomes active, a new next is made" },

  audit: { noun: "audit", verb: "list", summary: "List audit events, newest first" },
  ownerAudit: { noun: "audit", verb: "list", summary: "List audit events, newest first" },
  verifyAudit: { noun: "audit", verb: "verify", summary: "Check the trail's hash chain" },
  verifyOwnerAudit: { noun: "audit", verb: "verify", summary: "Check the trail's hash chain" }
}
