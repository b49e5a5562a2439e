/** Redirect URI rules: RFC 6749 §3.1.2, OAuth 2.1 §2.3.1, RFC 8252 §7 (native apps). */

const loopbackHosts = new Set(["127.0.0.1", "[::1]", "localhost"])

/** Why a redirect URI is refused, or undefined when it is acceptable. */
export const problem = (uri: string): string | undefined => {
  // RFC 6749 §3.1.2: MUST NOT include a fragment component
  if (uri.includes("#")) return "must not contain a fragment"
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return "must be an absolute URI" // RFC 6749 §3.1.2: MUST be an absolute URI
  }
  const scheme = url.protocol.slice(0, -1)
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
