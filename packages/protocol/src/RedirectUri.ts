/** Redirect URI rules: RFC 6749 §3.1.2, OAuth 2.1 §2.3.1, RFC 8252 §7 (native apps). */

const loopbackHosts = new Set(["127.0.0.1", "[::1]", "localhost"])

/**
 * RFC 3986 §3.1 and §2: a scheme, then only unreserved, reserved and percent-encoded characters. WHATWG `URL`
 * alone is too lenient: it strips surrounding whitespace and percent-encodes spaces and non-ASCII characters.
 */
const uriSyntax = /^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/

/** Whether the string is a URI in RFC 3986 syntax (characters and scheme only; `URL` checks the rest). */
export const isUriSyntax = (s: string) => uriSyntax.test(s)

/** RFC 3986 §4.3 and RFC 8707 §2: an absolute URI without a fragment. */
export const isAbsoluteWithoutFragment = (s: string) => {
  if (!uriSyntax.test(s) || s.includes("#")) return false
  try {
    return new URL(s) !== undefined
  } catch {
    return false
  }
}

/**
 * RFC 8414 §2: an authorization server's issuer identifier, an https URL without query or fragment (http only on a
 * loopback host, for development, as for redirect URIs).
 */
export const isIssuerUrl = (s: string) => {
  if (!uriSyntax.test(s) || s.includes("#")) return false
  try {
    const url = new URL(s)
    const loopback = url.protocol === "http:" && loopbackHosts.has(url.hostname)
    return /^https?:\/\//i.test(s) && url.host !== "" && (url.protocol === "https:" || loopback) && url.search === "" &&
      url.username === "" && url.password === ""
  } catch {
    return false
  }
}

/** Why a redirect URI is refused, or undefined when it is acceptable. */
export const problem = (uri: string): string | undefined => {
  // RFC 6749 §3.1.2: MUST NOT include a fragment component
  if (uri.includes("#")) return "must not contain a fragment"
  // RFC 6749 §3.1.2: MUST be an absolute URI (RFC 3986 §4.3): no spaces, controls or raw non-ASCII
  if (!uriSyntax.test(uri)) return "must be an absolute URI"
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return "must be an absolute URI" // RFC 6749 §3.1.2: MUST be an absolute URI
  }
  const scheme = url.protocol.slice(0, -1)
  // RFC 9110 §4.2: http(s) URIs have an authority; `URL` would read "https:host/cb" as "https://host/cb"
  if ((scheme === "https" || scheme === "http") && !/^https?:\/\//i.test(uri)) return "must name a host"
  if (scheme === "https") return url.host === "" ? "must name a host" : undefined
  // RFC 8252 §7.3 and OAuth 2.1 §8.4.2: plain http only for the loopback interface
  if (scheme === "http") return loopbackHosts.has(url.hostname) ? undefined : "may use http only for a loopback host"
  // RFC 8252 §7.1: private-use schemes are reverse domain names, so they hold a period
  if (scheme.includes(".")) return undefined
  return "must use https, http on a loopback host, or a private-use scheme (reverse domain name)"
}

/** Whether the URI is a loopback redirect, where any port matches (RFC 8252 §7.3). */
export const isLoopback = (uri: string) => {
  try {
    const url = new URL(uri)
    return url.protocol === "http:" && loopbackHosts.has(url.hostname)
  } catch {
    return false
  }
}
