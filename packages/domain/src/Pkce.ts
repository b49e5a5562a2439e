/** PKCE (RFC 7636), S256 only: OAuth 2.1 §4.1.1 requires it of every client; `plain` is refused. */
import { Effect } from "effect"
import * as Base64Url from "./Base64Url.js"
import * as Hash from "./Hash.js"

/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
export const verifierPattern = /^[A-Za-z0-9\-._~]{43,128}$/

/** RFC 7636 §4.2: code_challenge = BASE64URL(SHA256(ASCII(code_verifier))). */
export const s256 = (verifier: string) => Effect.map(Hash.sha256Bytes(verifier), Base64Url.encode)

/** RFC 7636 §4.6: the server recomputes the challenge from the verifier and compares. */
export const verify = (verifier: string, challenge: string) =>
  verifierPattern.test(verifier)
    ? Effect.map(s256(verifier), (computed) => Hash.constantTimeEqual(computed, challenge))
    : Effect.succeed(false)
