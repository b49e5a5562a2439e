/**
 * The realm's endpoints, each under its issuer (CONTRACT §2: `$TESSERA_PUBLIC_URL/realms/<name>/...`): the one place
 * each URL is built, for the metadata (RFC 8414 §2, OIDC Discovery §3), the audiences a JWT may name (RFC 7523 §3
 * item 3) and the `htu` a DPoP proof must carry (RFC 9449 §4.3).
 */

/** RFC 6749 §3.1. */
export const authorization = (issuer: string) => `${issuer}/authorize`

/** RFC 6749 §3.2. */
export const token = (issuer: string) => `${issuer}/token`

/** RFC 7662 §2. */
export const introspection = (issuer: string) => `${issuer}/introspect`

/** RFC 7009 §2. */
export const revocation = (issuer: string) => `${issuer}/revoke`

/** RFC 7517 §5, RFC 8414 §2 `jwks_uri`. */
export const jwks = (issuer: string) => `${issuer}/jwks`

/** OIDC Core §5.3. */
export const userinfo = (issuer: string) => `${issuer}/userinfo`

/** OIDC RP-Initiated Logout §2. */
export const endSession = (issuer: string) => `${issuer}/logout`

/** RFC 8628 §3.1. */
export const deviceAuthorization = (issuer: string) => `${issuer}/device_authorization`

/** RFC 8628 §3.2 `verification_uri`: where the person enters the user code. */
export const deviceVerification = (issuer: string) => `${issuer}/device`

/** RFC 7591 §3. */
export const registration = (issuer: string) => `${issuer}/register`
