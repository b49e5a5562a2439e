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
