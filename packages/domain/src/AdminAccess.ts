import { Data, Effect, Option } from "effect"
import { Resources } from "./Resources.js"
import { Users } from "./Users.js"

/**
 * Tenant admins reach the admin API with their own realm's tokens (CONTRACT §3, DESIGN "Tenancy"): every realm has a
 * built-in resource, `$TESSERA_PUBLIC_URL/admin/realms/R` with scope `tessera:admin`, and a built-in public client
 * `tessera-cli` (device grant, that resource only). The names live here, once.
 */

/** CONTRACT §3: the scope a tenant admin's token carries. */
export const scope = "tessera:admin"

/** CONTRACT §3: the built-in public client of every realm, for the CLI's device-flow login. */
export const cliClientId = "tessera-cli"

/** CONTRACT §3: the built-in resource of realm `realmName` under the public origin (scheme, host, port, no path). */
export const resourceUri = (origin: string, realmName: string) => `${origin}/admin/realms/${realmName}`

/** The same resource, from the realm's issuer (`{origin}/realms/R`, CONTRACT §2). */
export const resourceOfIssuer = (issuer: string) => {
  const at = issuer.lastIndexOf("/realms/")
  return `${issuer.slice(0, at)}/admin${issuer.slice(at)}`
}

/** Whether `uri` is the built-in admin resource of the realm whose issuer is `issuer`. */
export const isAdminResource = (issuer: string, uri: string) => uri === resourceOfIssuer(issuer)

/** What the consent page calls the built-in resource of realm `realmName`. */
export const displayName = (realmName: string) => `Tessera admin API of realm ${realmName}`

/** What the consent page says `tessera:admin` allows in realm `realmName`. */
export const scopeDescription = (realmName: string) =>
  `Administer realm ${realmName}: its users, clients, resources, invitations, keys and audit trail`

/**
 * CONTRACT §3: the built-in resource of realm `realmName` as first stored (ADR 0035): `tessera:admin` and no step-up
 * scope; the realm may later rename it, describe it, and add scopes and step-up scopes, never drop `tessera:admin`.
 */
export const resourceSettings = (origin: string, realmName: string) => ({
  uri: resourceUri(origin, realmName),
  scopes: [scope],
  stepUpScopes: [] as ReadonlyArray<string>,
  displayName: displayName(realmName),
  scopeDescriptions: { [scope]: scopeDescription(realmName) }
})

/**
 * CONTRACT §3: `tessera-cli`'s metadata: a public client (no secret a CLI could keep), the device grant (RFC 8628)
 * and refresh, no redirect URIs, and the realm's admin resource only.
 */
export const cliMetadata = (adminResourceUri: string) => ({
  redirectUris: [] as ReadonlyArray<string>,
  postLogoutRedirectUris: [] as ReadonlyArray<string>,
  grantTypes: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"] as const,
  responseTypes: [] as ReadonlyArray<"code">,
  tokenEndpointAuthMethod: "none" as const,
  clientName: "Tessera CLI",
  frontchannelLogoutSessionRequired: false,
  dpopBoundAccessTokens: false,
  principalType: "app" as const,
  resources: [adminResourceUri]
})

/**
 * Whether `resource` is a realm's admin resource: the only resource that may carry `tessera:admin` (ADR 0035:
 * registering or changing another resource to carry it is refused), so the scope marks it wherever it is stored.
 */
export const isAdmin = (resource: { readonly scopes: ReadonlyArray<string> }) => resource.scopes.includes(scope)

/**
 * Whether `uri` lies under the admin API of `origin` (`{origin}/admin` or below, scheme and host in any case): such a
 * resource indicator names a realm's built-in admin resource, which no one registers by hand (ADR 0035).
 */
export const underAdminApi = (origin: string, uri: string) => {
  const lower = uri.toLowerCase()
  const base = `${origin.toLowerCase()}/admin`
  return lower === base || lower.startsWith(`${base}/`) || lower.startsWith(`${base}?`) || lower.startsWith(`${base}#`)
}

/** CONTRACT §3: a token for a realm's admin resource is a person's only while their roles hold `admin`. */
export class AdminRoleRequired extends Data.TaggedError("AdminRoleRequired")<{}> {}

/** CONTRACT §3: the role a person needs for a token whose audience is the admin resource. */
export const role = "admin"

/**
 * Whether person `sub` may be given the resources `uris` (CONTRACT §3): a realm's admin resource only while their
 * roles hold `admin`; any other resource, anyone. Checked when the grant is made and whenever a token is issued from
 * it (code, device code, refresh), so a person who lost the role gets no further admin token (ADR 0035).
 */
export const personMay = (realmId: string, sub: string, uris: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const resources = yield* Resources
    let admin = false
    for (const uri of uris) {
      const found = yield* resources.find(realmId, uri)
      if (Option.isSome(found) && isAdmin(found.value)) admin = true
    }
    if (!admin) return true
    const user = yield* Effect.flatMap(Users, (users) => users.find(realmId, sub))
    return Option.isSome(user) && user.value.roles.includes(role)
  })

/** `personMay`, failing `AdminRoleRequired` when not. */
export const requirePerson = (realmId: string, sub: string, uris: ReadonlyArray<string>) =>
  Effect.filterOrFail(personMay(realmId, sub, uris), (may) => may, () => new AdminRoleRequired())
